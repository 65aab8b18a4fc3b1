/* fuse_residual.c - ADD(conv, x) becomes the 1x1 CONV_2D with x as its
 * residual input (input 3) and the ADD's activation:
 * out = act(conv + bias + x), the end of every ResNet block.
 *
 * Unfused, the ADD reads two tensors the size of the block's output and
 * writes a third, a memory-bound pass that also scales worse across
 * threads than the convolutions around it. Fused, the GEMM adds x to each
 * tile while the tile is in L1 (kernels/gemm/gemm.h).
 *
 * Only 1x1 convolutions take a residual: the 1x1 GEMM variants add it, and
 * no other CONV_2D variant (Winograd, which only takes 3x3 windows, or the
 * KxK GEMM) ever sees a 1x1 node, so none of them has to know about it.
 * kiln_gemm_conv_takes_residual says which nodes the 1x1 variants run; the
 * pass fuses nothing they would leave to the reference kernel. */
#include "core/alloc.h"
#include "kernels/gemm/gemm.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* Values a and b have the same shape at every run: equal default shapes,
 * and dynamic dimensions in the same places. A dynamic batch that differed
 * between them at run time would need broadcasting, which the residual
 * never does; the CONV_2D's shape function then fails at prepare with a
 * message rather than computing anything wrong. In the graphs this pass
 * sees both sides come from the same input batch. */
static bool same_shape(const kiln_value *a, const kiln_value *b) {
  if (a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d] || a->signature[d] != b->signature[d])
      return false;
  return true;
}

/* The node writing c, when it is a 1x1 CONV_2D that can take the ADD's
 * other input as its residual and `act` as its activation: no activation
 * of its own, no residual yet, c read only by the ADD and not a graph
 * output, and a node the 1x1 GEMM variants run. */
static int fusable_conv(const kiln_graph *g, const kiln_pass_uses *u, int c,
                        const kiln_value *y, kiln_activation act) {
  if (c < 0 || c >= u->num_values || u->producer[c] < 0) return -1;
  if (u->readers[c] != 1 || u->is_output[c] ||
      !kiln_pass_is_plain_float(&g->values[c]) || !same_shape(&g->values[c], y))
    return -1;
  int p = u->producer[c];
  const kiln_node *conv = &g->nodes[p];
  if (conv->op != KILN_OP_CONV_2D || conv->num_inputs < 2 ||
      conv->num_inputs > 3 || conv->num_outputs != 1 || conv->inputs[0] < 0 ||
      conv->inputs[1] < 0)
    return -1;
  const kiln_conv_attrs *attrs = conv->attrs;
  if (attrs->activation != KILN_ACT_NONE) return -1;
  const kiln_value *in = &g->values[conv->inputs[0]];
  /* Quantized and hybrid convolutions (int8 weights) have no residual
   * form. */
  if (!kiln_pass_is_plain_float(in) ||
      !kiln_pass_is_plain_float(&g->values[conv->inputs[1]]))
    return -1;
  kiln_tensor filter, bias;
  kiln_value_as_tensor(&g->values[conv->inputs[1]], &filter);
  int b = conv->num_inputs > 2 ? conv->inputs[2] : -1;
  if (b >= 0) kiln_value_as_tensor(&g->values[b], &bias);
  if (in->rank != 4 || !kiln_gemm_conv_takes_residual(
                           &filter, b >= 0 ? &bias : NULL, in->dims[3], act))
    return -1;
  return p;
}

/* ADD node `a`, if it fuses: the index of the convolution taking it (the
 * later one when both inputs qualify, so the node moves least) and in *x
 * the value that becomes the residual. */
static int match(const kiln_graph *g, const kiln_pass_uses *u, int a, int *x) {
  const kiln_node *add = &g->nodes[a];
  if (add->op != KILN_OP_ADD || add->num_inputs != 2 || add->num_outputs != 1)
    return -1;
  const kiln_value *y = &g->values[add->outputs[0]];
  kiln_activation act = ((const kiln_activation_attrs *)add->attrs)->activation;
  if (!kiln_pass_is_plain_float(y) || y->rank != 4) return -1;
  int best = -1;
  for (int side = 0; side < 2; side++) {
    int c = add->inputs[side], other = add->inputs[1 - side];
    if (other < 0 || other == c || !same_shape(&g->values[other], y) ||
        !kiln_pass_is_plain_float(&g->values[other]))
      continue;
    int p = fusable_conv(g, u, c, y, act);
    if (p > best) {
      best = p;
      *x = other;
    }
  }
  return best;
}

/* The convolution at p takes residual x and the ADD's activation, writes
 * the ADD's output, and moves into the ADD's slot a: its inputs are all
 * ready by p < a, x by a, and every reader of the output comes after a.
 * The ADD goes to p, flagged for removal. */
static kiln_status *fuse(kiln_graph *g, kiln_pass_uses *u, int a, int p, int x,
                         bool *remove) {
  kiln_node *conv = &g->nodes[p], *add = &g->nodes[a];
  int *inputs = kiln_malloc(g->alloc, 4 * sizeof *inputs);
  if (!inputs) return KILN_OOM();
  inputs[0] = conv->inputs[0];
  inputs[1] = conv->inputs[1];
  inputs[2] = conv->num_inputs > 2 ? conv->inputs[2] : -1;
  inputs[3] = x;
  kiln_free(g->alloc, conv->inputs);
  conv->inputs = inputs;
  conv->num_inputs = 4;
  int c = conv->outputs[0], y = add->outputs[0];
  ((kiln_conv_attrs *)conv->attrs)->activation =
      ((const kiln_activation_attrs *)add->attrs)->activation;
  conv->outputs[0] = y;
  kiln_node moved = *conv;
  *conv = *add;
  *add = moved;
  remove[p] = true;
  u->producer[c] = -1;
  u->readers[c] = 0;
  if (y < u->num_values) u->producer[y] = a;
  return NULL;
}

kiln_status *kiln_pass_fuse_residuals(kiln_graph *g, int *out_fused) {
  *out_fused = 0;
  kiln_pass_uses u;
  KILN_TRY(kiln_pass_uses_build(g, &u));
  bool *remove = kiln_calloc(g->alloc, (size_t)g->num_nodes + 1, 1);
  if (!remove) {
    kiln_pass_uses_free(g, &u);
    return KILN_OOM();
  }
  kiln_status *st = NULL;
  int fused = 0;
  for (int a = 0; a < g->num_nodes && !st; a++) {
    int x = -1, p = match(g, &u, a, &x);
    if (p < 0) continue;
    st = fuse(g, &u, a, p, x, remove);
    if (!st) fused++;
  }
  kiln_pass_remove_nodes(g, remove);
  *out_fused = fused;
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return st;
}
