/* fuse_qbottleneck.c - int8 [1x1 CONV_2D ->] DEPTHWISE_CONV_2D -> 1x1
 * CONV_2D chains become one FUSED_BOTTLENECK node marked `quantized`
 * (op_attrs.h), whose int8 kernel (kernels/bottleneck/qbottleneck.h) keeps
 * the expanded and depthwise int8 rows in per-thread scratch. The float
 * chains are fuse_bottleneck.c's; this pass takes the chains whose three
 * operators are int8 throughout (per-tensor activations, constant int8
 * weights per channel or per tensor with zero point 0, constant int32
 * biases) and records the quantization of the two tensors the node
 * swallows, so each stage requantizes to int8 exactly as the unfused
 * operator did: the fused node's output equals theirs bit for bit.
 *
 * The window and shape rules are the float pass's (3x3, stride 1 or 2, no
 * dilation, clamp activations; at least 8 output rows; a chain without an
 * expand only on maps 8 or more wide). A residual ADD of the block's input
 * to the project's output joins the node too (the int8 GEMM has no
 * residual input that fuse_residual.c could give it). KILN_QBOTTLENECK=0 in the
 * environment turns the pass off (for measuring the fused kernel against
 * the three operators, and a way out should it ever be slower). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/bottleneck/bottleneck.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* An int8 tensor quantized per tensor with an int8 zero point. */
static bool int8_per_tensor(const kiln_value *v) {
  return v->dtype == KILN_INT8 && v->quant.count == 1 && v->quant.scale &&
         v->quant.zero_point && v->quant.scale[0] > 0.0f &&
         v->quant.zero_point[0] >= -128 && v->quant.zero_point[0] <= 127;
}

/* A constant int8 filter of exactly `dims`, per tensor or per channel
 * along `axis`, every zero point 0. */
static bool int8_filter(const kiln_graph *g, int v, const int64_t *dims,
                        int axis) {
  if (v < 0) return false;
  const kiln_value *f = &g->values[v];
  if (!f->is_constant || !f->data || f->dtype != KILN_INT8 || f->rank != 4)
    return false;
  int64_t n = 1;
  for (int d = 0; d < 4; d++) {
    if (f->dims[d] != dims[d]) return false;
    n *= dims[d];
  }
  const kiln_quant_info *q = &f->quant;
  if ((size_t)n > f->nbytes || !q->scale || !q->zero_point ||
      (q->count != 1 && (q->count != dims[axis] || q->axis != axis)))
    return false;
  for (int64_t c = 0; c < q->count; c++)
    if (q->zero_point[c] != 0 || !(q->scale[c] > 0.0f)) return false;
  return true;
}

static int input_of(const kiln_node *n, int i) {
  return i < n->num_inputs ? n->inputs[i] : -1;
}

/* The optional bias at input 2: omitted or a constant int32 [count]. */
static bool bias_ok(const kiln_graph *g, const kiln_node *n, int64_t count) {
  int b = input_of(n, 2);
  if (b < 0) return true;
  const kiln_value *v = &g->values[b];
  return v->is_constant && v->data && v->dtype == KILN_INT32 && v->rank == 1 &&
         v->dims[0] == count && (size_t)count * 4 <= v->nbytes;
}

/* A value the fused node swallows: written by one node, read only by the
 * next stage, not a graph input or output, int8 NHWC per tensor. */
static bool private_intermediate(const kiln_graph *g, const kiln_pass_uses *u,
                                 int v) {
  return v >= 0 && v < u->num_values && u->readers[v] == 1 &&
         !u->is_output[v] && !u->is_input[v] && u->producer[v] >= 0 &&
         int8_per_tensor(&g->values[v]) && g->values[v].rank == 4;
}

static bool clamp(kiln_activation act) {
  float lo, hi;
  return kiln_bottleneck_clamp(act, &lo, &hi);
}

/* A 1x1 int8 CONV_2D of stride 1 from `channels` to `out` channels with
 * an int8 per-tensor input and output and a clamp activation. */
static bool pointwise(const kiln_graph *g, const kiln_node *n, int64_t channels,
                      int64_t out) {
  if (n->op != KILN_OP_CONV_2D || n->num_inputs < 2 || n->num_inputs > 3 ||
      n->num_outputs != 1 || n->inputs[0] < 0 || n->outputs[0] < 0)
    return false;
  const kiln_conv_attrs *a = n->attrs;
  return a->stride_h == 1 && a->stride_w == 1 && clamp(a->activation) &&
         int8_per_tensor(&g->values[n->inputs[0]]) &&
         int8_per_tensor(&g->values[n->outputs[0]]) &&
         int8_filter(g, n->inputs[1], (int64_t[]){out, 1, 1, channels}, 0) &&
         bias_ok(g, n, out);
}

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
      !int8_per_tensor(&g->values[e]))
    return false;
  const kiln_value *fv = &g->values[f];
  int64_t m = fv->dims[3];
  if (g->values[e].dims[3] != m || !int8_filter(g, f, fv->dims, 3) ||
      fv->dims[0] != 1 ||
      !kiln_bottleneck_window_supported(fv->dims[1], fv->dims[2], da) ||
      !bias_ok(g, dw, m) || !private_intermediate(g, u, t))
    return false;
  c->project = kiln_pass_next_reader(g, t, d + 1);
  if (c->project < 0) return false;
  const kiln_node *p = &g->nodes[c->project];
  if (p->num_inputs < 2 || p->inputs[0] != t || p->inputs[1] < 0 ||
      g->values[p->inputs[1]].rank != 4 ||
      !pointwise(g, p, m, g->values[p->inputs[1]].dims[0]))
    return false;
  c->expand = -1;
  c->x = e;
  if (private_intermediate(g, u, e)) {
    int q = u->producer[e];
    const kiln_node *ex = &g->nodes[q];
    int xin = ex->num_inputs >= 2 ? ex->inputs[0] : -1;
    if (xin >= 0 && ex->inputs[1] >= 0 && g->values[ex->inputs[1]].rank == 4 &&
        g->values[xin].rank == 4) {
      int64_t ch = g->values[ex->inputs[1]].dims[3];
      if (g->values[xin].dims[3] == ch && pointwise(g, ex, ch, m)) {
        c->expand = q;
        c->x = xin;
      }
    }
  }
  return worth_fusing(g, c, t);
}

/* The residual ADD of the block (MobileNetV2's stride-1 blocks): the one
 * reader of the project's output, adding the block's input x of the same
 * shape, int8 per tensor, with a clamp. Its index, or -1. */
static int residual_add(const kiln_graph *g, const kiln_pass_uses *u,
                        const chain *c) {
  int y = g->nodes[c->project].outputs[0];
  if (!private_intermediate(g, u, y)) return -1;
  int a = kiln_pass_next_reader(g, y, c->project + 1);
  if (a < 0) return -1;
  const kiln_node *add = &g->nodes[a];
  if (add->op != KILN_OP_ADD || add->num_inputs != 2 || add->num_outputs != 1 ||
      add->outputs[0] < 0)
    return -1;
  int other = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
  const kiln_value *xv = &g->values[c->x], *yv = &g->values[y];
  const kiln_value *zv = &g->values[add->outputs[0]];
  if (other != c->x || add->inputs[0] == add->inputs[1] ||
      !int8_per_tensor(zv) || zv->rank != 4 ||
      !clamp(((const kiln_activation_attrs *)add->attrs)->activation))
    return -1;
  for (int i = 0; i < 4; i++)
    if (xv->dims[i] < 1 || xv->dims[i] != yv->dims[i] ||
        zv->dims[i] != yv->dims[i])
      return -1;
  return a;
}

/* Replaces the project node (the chain's last) with the fused node, in
 * place, as fuse_bottleneck.c does; the others are flagged for removal.
 * A residual ADD joins too (`add` >= 0): the fused node then writes the
 * ADD's output, which every reader reads after the project's slot. */
static kiln_status *fuse(kiln_graph *g, int d, const chain *c, int add,
                         bool *remove) {
  const kiln_node *dw = &g->nodes[d], *p = &g->nodes[c->project];
  const kiln_node *ex = c->expand >= 0 ? &g->nodes[c->expand] : NULL;
  int inputs[KILN_BOTTLENECK_INPUTS + 1] = {c->x,
                                            ex ? ex->inputs[1] : -1,
                                            ex ? input_of(ex, 2) : -1,
                                            dw->inputs[1],
                                            input_of(dw, 2),
                                            p->inputs[1],
                                            input_of(p, 2),
                                            c->x};
  const kiln_value *t = &g->values[dw->outputs[0]];
  const kiln_value *e = ex ? &g->values[ex->outputs[0]] : NULL;
  kiln_bottleneck_attrs attrs = {
      .expand_activation =
          ex ? ((const kiln_conv_attrs *)ex->attrs)->activation : KILN_ACT_NONE,
      .depthwise = *(const kiln_conv_attrs *)dw->attrs,
      .project_activation = ((const kiln_conv_attrs *)p->attrs)->activation,
      .quantized = true,
      .expanded_scale = e ? e->quant.scale[0] : 0.0f,
      .expanded_zp = e ? (int32_t)e->quant.zero_point[0] : 0,
      .depthwise_scale = t->quant.scale[0],
      .depthwise_zp = (int32_t)t->quant.zero_point[0],
  };
  int output = p->outputs[0], source = p->source_index;
  if (add >= 0) {
    const kiln_node *an = &g->nodes[add];
    const kiln_value *y = &g->values[p->outputs[0]];
    attrs.residual = true;
    attrs.residual_first = an->inputs[0] == c->x;
    attrs.project_scale = y->quant.scale[0];
    attrs.project_zp = (int32_t)y->quant.zero_point[0];
    attrs.residual_activation =
        ((const kiln_activation_attrs *)an->attrs)->activation;
    output = an->outputs[0];
  }
  kiln_node *added = NULL;
  KILN_TRY(kiln_graph_add_node(g, KILN_OP_FUSED_BOTTLENECK, inputs,
                               KILN_BOTTLENECK_INPUTS + (add >= 0), &output, 1,
                               source, &added));
  *(kiln_bottleneck_attrs *)added->attrs = attrs;
  kiln_node *slot = &g->nodes[c->project];
  kiln_free(g->alloc, slot->inputs);
  kiln_free(g->alloc, slot->outputs);
  kiln_free(g->alloc, slot->attrs);
  *slot = g->nodes[--g->num_nodes];
  remove[d] = true;
  if (c->expand >= 0) remove[c->expand] = true;
  if (add >= 0) remove[add] = true;
  return NULL;
}

kiln_status *kiln_pass_fuse_qbottlenecks(kiln_graph *g, int *out_fused) {
  *out_fused = 0;
  const char *env = getenv("KILN_QBOTTLENECK");
  if (env && strcmp(env, "0") == 0) return NULL;
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
    if (remove[d] || !match(g, &u, d, &c)) continue;
    if (c.expand >= 0 && remove[c.expand]) continue;
    st = fuse(g, d, &c, residual_add(g, &u, &c), remove);
    if (!st) fused++;
  }
  kiln_pass_remove_nodes(g, remove);
  *out_fused = fused;
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return st;
}
