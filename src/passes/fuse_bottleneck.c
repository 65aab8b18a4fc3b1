/* fuse_bottleneck.c - [1x1 CONV_2D ->] DEPTHWISE_CONV_2D -> 1x1 CONV_2D
 * chains become one FUSED_BOTTLENECK node (op_attrs.h), whose kernel keeps
 * the wide intermediate tensors in per-thread scratch rows instead of
 * writing them to the arena and reading them back.
 *
 * When it pays: the expanded tensor of a MobileNetV2 block is 6x its input
 * and goes through memory twice unfused (written by the expand, read by
 * the depthwise), the depthwise output once more; fused, the only traffic
 * is the block's input and output. That saving grows with the image, and
 * shrinks to nothing on small maps whose intermediates sit in cache anyway;
 * there the fused kernel still saves two operator launches and their
 * thread wake-ups. What it can cost is repeated expand work where threads'
 * row ranges meet, and GEMM tiles left part empty on narrow rows; the
 * kernel sizes its bands of rows and its chunks against both, and the pass
 * declines the shapes where they would win (see worth_fusing). */
#include "core/alloc.h"
#include "kernels/bottleneck/bottleneck.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* A constant float32 tensor of exactly `dims`. */
static bool constant_shaped(const kiln_graph *g, int v, int rank,
                            const int64_t *dims) {
  if (v < 0) return false;
  const kiln_value *value = &g->values[v];
  if (!value->is_constant || !value->data || !kiln_pass_is_plain_float(value) ||
      value->rank != rank)
    return false;
  for (int d = 0; d < rank; d++)
    if (value->dims[d] != dims[d]) return false;
  return (size_t)kiln_pass_numel(value) * sizeof(float) <= value->nbytes;
}

/* Input `i` of node n: an omitted optional input is -1. */
static int input_of(const kiln_node *n, int i) {
  return i < n->num_inputs ? n->inputs[i] : -1;
}

/* The optional bias at input 2 is omitted or a constant [count]. */
static bool bias_ok(const kiln_graph *g, const kiln_node *n, int64_t count) {
  int b = input_of(n, 2);
  return b < 0 || constant_shaped(g, b, 1, (int64_t[]){count});
}

/* A value the fused node swallows: written by one node, read only by the
 * next stage, not a graph output, plain float32 NHWC. */
static bool private_intermediate(const kiln_graph *g, const kiln_pass_uses *u,
                                 int v) {
  return v >= 0 && v < u->num_values && u->readers[v] == 1 &&
         !u->is_output[v] && !u->is_input[v] && u->producer[v] >= 0 &&
         kiln_pass_is_plain_float(&g->values[v]) && g->values[v].rank == 4;
}

static bool clamp(kiln_activation act) {
  float lo, hi;
  return kiln_bottleneck_clamp(act, &lo, &hi);
}

/* A 1x1 CONV_2D of stride 1 (padding and dilation do nothing to a 1x1
 * window) from `channels` to `out` channels with constant weights and a
 * clamp activation. */
static bool pointwise(const kiln_graph *g, const kiln_node *n, int64_t channels,
                      int64_t out) {
  if (n->op != KILN_OP_CONV_2D || n->num_inputs < 2 || n->num_inputs > 3 ||
      n->num_outputs != 1)
    return false;
  const kiln_conv_attrs *a = n->attrs;
  int64_t dims[4] = {out, 1, 1, channels};
  return a->stride_h == 1 && a->stride_w == 1 && clamp(a->activation) &&
         constant_shaped(g, n->inputs[1], 4, dims) && bias_ok(g, n, out);
}

/* The chain around depthwise node d, when it can fuse. */
typedef struct chain {
  int expand, project; /* node indices; expand -1 when absent */
  int x;               /* the fused node's input value */
} chain;

static bool worth_fusing(const kiln_graph *g, const chain *c, int dw_out) {
  return kiln_bottleneck_worth_fusing(g->values[c->x].dims[2],
                                      g->values[dw_out].dims, c->expand >= 0);
}

static bool match(const kiln_graph *g, const kiln_pass_uses *u, int d,
                  chain *c) {
  const kiln_node *dw = &g->nodes[d];
  if (dw->op != KILN_OP_DEPTHWISE_CONV_2D || dw->num_inputs < 2 ||
      dw->num_inputs > 3 || dw->num_outputs != 1)
    return false;
  const kiln_conv_attrs *da = dw->attrs;
  int e = dw->inputs[0], f = dw->inputs[1], t = dw->outputs[0];
  if (e < 0 || f < 0 || g->values[f].rank != 4 || g->values[e].rank != 4 ||
      !kiln_pass_is_plain_float(&g->values[e]))
    return false;
  const kiln_value *fv = &g->values[f];
  int64_t m = fv->dims[3];
  if (g->values[e].dims[3] != m || !constant_shaped(g, f, 4, fv->dims) ||
      fv->dims[0] != 1 ||
      !kiln_bottleneck_window_supported(fv->dims[1], fv->dims[2], da) ||
      !bias_ok(g, dw, m) || !private_intermediate(g, u, t))
    return false;
  /* The one reader of the depthwise output must be the project. */
  c->project = kiln_pass_next_reader(g, t, d + 1);
  if (c->project < 0) return false;
  const kiln_node *p = &g->nodes[c->project];
  if (p->inputs[0] != t || p->num_inputs < 2 || p->inputs[1] < 0 ||
      g->values[p->inputs[1]].rank != 4 ||
      !pointwise(g, p, m, g->values[p->inputs[1]].dims[0]) ||
      !kiln_pass_is_plain_float(&g->values[p->outputs[0]]))
    return false;
  /* An expand stage when the depthwise input is a private 1x1 CONV_2D's
   * output whose own input is not grouped. */
  c->expand = -1;
  c->x = e;
  if (private_intermediate(g, u, e)) {
    int q = u->producer[e];
    const kiln_node *ex = &g->nodes[q];
    int xin = ex->num_inputs >= 2 ? ex->inputs[0] : -1;
    if (xin >= 0 && ex->inputs[1] >= 0 && g->values[ex->inputs[1]].rank == 4 &&
        g->values[xin].rank == 4 && kiln_pass_is_plain_float(&g->values[xin])) {
      int64_t ch = g->values[ex->inputs[1]].dims[3];
      if (g->values[xin].dims[3] == ch && pointwise(g, ex, ch, m)) {
        c->expand = q;
        c->x = xin;
      }
    }
  }
  return worth_fusing(g, c, t);
}

/* Replaces the project node (the chain's last) with the fused node, in
 * place: every input of the chain is ready by then and every reader of its
 * output comes later. The others are flagged for removal. */
static kiln_status *fuse(kiln_graph *g, int d, const chain *c, bool *remove) {
  const kiln_node *dw = &g->nodes[d], *p = &g->nodes[c->project];
  const kiln_node *ex = c->expand >= 0 ? &g->nodes[c->expand] : NULL;
  int inputs[KILN_BOTTLENECK_INPUTS] = {
      c->x,          ex ? ex->inputs[1] : -1, ex ? input_of(ex, 2) : -1,
      dw->inputs[1], input_of(dw, 2),         p->inputs[1],
      input_of(p, 2)};
  kiln_bottleneck_attrs attrs = {
      .expand_activation =
          ex ? ((const kiln_conv_attrs *)ex->attrs)->activation : KILN_ACT_NONE,
      .depthwise = *(const kiln_conv_attrs *)dw->attrs,
      .project_activation = ((const kiln_conv_attrs *)p->attrs)->activation,
  };
  int output = p->outputs[0], source = p->source_index;
  kiln_node *added = NULL;
  KILN_TRY(kiln_graph_add_node(g, KILN_OP_FUSED_BOTTLENECK, inputs,
                               KILN_BOTTLENECK_INPUTS, &output, 1, source,
                               &added));
  *(kiln_bottleneck_attrs *)added->attrs = attrs;
  /* Move the new node (last) into the project's slot. */
  kiln_node *slot = &g->nodes[c->project];
  kiln_free(g->alloc, slot->inputs);
  kiln_free(g->alloc, slot->outputs);
  kiln_free(g->alloc, slot->attrs);
  *slot = g->nodes[--g->num_nodes];
  remove[d] = true;
  if (c->expand >= 0) remove[c->expand] = true;
  return NULL;
}

kiln_status *kiln_pass_fuse_bottlenecks(kiln_graph *g, int *out_fused) {
  *out_fused = 0;
  kiln_pass_uses u;
  KILN_TRY(kiln_pass_uses_build(g, &u));
  bool *remove = kiln_calloc(g->alloc, (size_t)g->num_nodes + 2, 1);
  if (!remove) {
    kiln_pass_uses_free(g, &u);
    return KILN_OOM();
  }
  kiln_status *st = NULL;
  int fused = 0;
  for (int d = 0; d < g->num_nodes && !st; d++) {
    chain c;
    /* A node already flagged belongs to a chain fused before. */
    if (remove[d] || !match(g, &u, d, &c)) continue;
    if (c.expand >= 0 && remove[c.expand]) continue;
    st = fuse(g, d, &c, remove);
    if (!st) fused++;
  }
  kiln_pass_remove_nodes(g, remove);
  *out_fused = fused;
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return st;
}
