/* remove_noops.c - drops operators that pass their input through unchanged. */
#include <string.h>

#include "core/alloc.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* Shapes of every value at the default input shapes, inferred the way a
 * session prepares (stored shapes of intermediates are only hints), and
 * which values could take another shape when a dynamic input is resized. */
typedef struct shapes {
  kiln_tensor *t;
  bool *known;   /* t's shape was inferred (or is a constant's or input's) */
  bool *dynamic; /* depends on an input with a dynamic dimension */
  void **storage;
  int count;
} shapes;

static void shapes_free(const kiln_graph *g, shapes *s) {
  if (s->storage)
    for (int v = 0; v < s->count; v++) kiln_free(g->alloc, s->storage[v]);
  kiln_free(g->alloc, s->t);
  kiln_free(g->alloc, s->known);
  kiln_free(g->alloc, s->dynamic);
  kiln_free(g->alloc, s->storage);
  memset(s, 0, sizeof *s);
}

static bool has_dynamic_dim(const kiln_value *v) {
  for (int d = 0; d < v->rank; d++)
    if (v->signature[d] < 0) return true;
  return false;
}

/* Runs one node's shape function, and its kernel when its inputs are known
 * before invoke (shape arithmetic), as kiln_session_prepare would. A node
 * that fails leaves its outputs unknown; the session will say why. */
static kiln_status *infer_node(const kiln_graph *g, shapes *s,
                               const kiln_node *n) {
  enum { MAX_IO = 64, MAX_KNOWN_BYTES = 1 << 20 };
  bool dynamic = false, inputs_known = true, data_known = true;
  for (int i = 0; i < n->num_inputs; i++) {
    int v = n->inputs[i];
    if (v < 0) continue;
    dynamic |= s->dynamic[v];
    inputs_known &= s->known[v];
    data_known &= s->t[v].data != NULL;
  }
  for (int i = 0; i < n->num_outputs; i++) s->dynamic[n->outputs[i]] = dynamic;
  if (!inputs_known || n->num_inputs > MAX_IO || n->num_outputs > MAX_IO)
    return NULL;
  kiln_tensor *in_ptrs[MAX_IO], *out_ptrs[MAX_IO];
  for (int i = 0; i < n->num_inputs; i++)
    in_ptrs[i] = n->inputs[i] < 0 ? NULL : &s->t[n->inputs[i]];
  for (int i = 0; i < n->num_outputs; i++) out_ptrs[i] = &s->t[n->outputs[i]];
  kiln_op_ctx ctx = {n->attrs,       in_ptrs, n->num_inputs, out_ptrs,
                     n->num_outputs, NULL,    NULL,          NULL};
  const kiln_op_def *def = &kiln_op_table[n->op];
  kiln_status *st = def->shape(&ctx);
  if (st) {
    kiln_status_free(st);
    return NULL;
  }
  for (int i = 0; i < n->num_outputs; i++) s->known[n->outputs[i]] = true;
  if (n->op != KILN_OP_SHAPE && !data_known) return NULL;
  size_t sizes[MAX_IO];
  for (int i = 0; i < n->num_outputs; i++) {
    /* Shape arithmetic is small; anything big (or absurd) stays unknown
     * rather than cost memory and time at load. */
    kiln_value probe = g->values[n->outputs[i]];
    probe.rank = s->t[n->outputs[i]].rank;
    memcpy(probe.dims, s->t[n->outputs[i]].dims, sizeof probe.dims);
    st = kiln_value_nbytes(&probe, &sizes[i]);
    if (st || sizes[i] > MAX_KNOWN_BYTES) {
      kiln_status_free(st);
      return NULL;
    }
  }
  for (int i = 0; i < n->num_outputs; i++) {
    int v = n->outputs[i];
    size_t nbytes = sizes[i];
    s->storage[v] = kiln_calloc(g->alloc, 1, nbytes ? nbytes : 1);
    if (!s->storage[v]) return KILN_OOM();
    s->t[v].data = s->storage[v];
  }
  st = def->reference(&ctx);
  if (st) {
    kiln_status_free(st);
    for (int i = 0; i < n->num_outputs; i++) s->t[n->outputs[i]].data = NULL;
  }
  return NULL;
}

static kiln_status *infer_shapes(const kiln_graph *g, shapes *s) {
  memset(s, 0, sizeof *s);
  size_t count = (size_t)g->num_values + 1;
  s->count = g->num_values;
  s->t = kiln_calloc(g->alloc, count, sizeof *s->t);
  s->known = kiln_calloc(g->alloc, count, sizeof *s->known);
  s->dynamic = kiln_calloc(g->alloc, count, sizeof *s->dynamic);
  s->storage = kiln_calloc(g->alloc, count, sizeof *s->storage);
  if (!s->t || !s->known || !s->dynamic || !s->storage) return KILN_OOM();
  for (int v = 0; v < g->num_values; v++) {
    kiln_value_as_tensor(&g->values[v], &s->t[v]);
    s->known[v] = g->values[v].is_constant;
  }
  for (int i = 0; i < g->num_inputs; i++) {
    int v = g->inputs[i];
    s->known[v] = true;
    s->dynamic[v] = has_dynamic_dim(&g->values[v]);
  }
  for (int n = 0; n < g->num_nodes; n++)
    KILN_TRY(infer_node(g, s, &g->nodes[n]));
  return NULL;
}

static bool same_quant(const kiln_value *a, const kiln_value *b) {
  if (a->quant.count != b->quant.count) return false;
  if (a->quant.count == 0) return true;
  size_t n = (size_t)a->quant.count;
  return a->quant.axis == b->quant.axis &&
         memcmp(a->quant.scale, b->quant.scale, n * sizeof(float)) == 0 &&
         memcmp(a->quant.zero_point, b->quant.zero_point,
                n * sizeof(int64_t)) == 0;
}

/* x and y have one fixed shape, the same, whatever the inputs' sizes. */
static bool same_static_shape(const kiln_graph *g, const shapes *s, int x,
                              int y) {
  if (!s->known[x] || !s->known[y] || s->dynamic[x] || s->dynamic[y])
    return false;
  if (has_dynamic_dim(&g->values[x]) || has_dynamic_dim(&g->values[y]))
    return false;
  const kiln_tensor *a = &s->t[x], *b = &s->t[y];
  return a->rank == b->rank &&
         memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

/* For x OP k with k a constant of identity elements: does the result keep
 * x's shape? Always when k has only 1s and no more axes than x; otherwise
 * only when x's shape is fixed and k's axes match it or are 1. */
static bool broadcast_keeps_shape(const kiln_graph *g, const shapes *s, int x,
                                  int k) {
  const kiln_value *kv = &g->values[k];
  if (!s->known[x] || kv->rank > s->t[x].rank) return false;
  bool all_ones = true;
  for (int d = 0; d < kv->rank; d++) all_ones &= kv->dims[d] == 1;
  if (all_ones) return true;
  if (s->dynamic[x] || has_dynamic_dim(&g->values[x])) return false;
  int offset = s->t[x].rank - kv->rank;
  for (int d = 0; d < kv->rank; d++)
    if (kv->dims[d] != 1 && kv->dims[d] != s->t[x].dims[offset + d])
      return false;
  return true;
}

/* The input a no-op node passes on, or -1 when the node does real work. */
static int passed_input(const kiln_graph *g, const shapes *s,
                        const kiln_node *n) {
  if (n->num_outputs != 1 || n->num_inputs < 1 || n->inputs[0] < 0) return -1;
  int x = n->inputs[0], y = n->outputs[0];
  const kiln_value *xv = &g->values[x], *yv = &g->values[y];
  if (xv->dtype != yv->dtype || !same_quant(xv, yv)) return -1;
  switch (n->op) {
    case KILN_OP_RESHAPE:
    case KILN_OP_SQUEEZE:
    case KILN_OP_EXPAND_DIMS:
      return same_static_shape(g, s, x, y) ? x : -1;
    case KILN_OP_CAST:
      /* A cast between equal types copies, except through double for
       * int64, where dropping it only removes a rounding. */
      return n->num_inputs == 1 && xv->quant.count == 0 ? x : -1;
    case KILN_OP_PAD:
    case KILN_OP_PADV2:
    case KILN_OP_MIRROR_PAD: {
      if (n->num_inputs < 2 || n->inputs[1] < 0 || !s->known[x]) return -1;
      const kiln_value *pads = &g->values[n->inputs[1]];
      /* Malformed paddings are the kernel's to report, so keep the node. */
      if (pads->rank != 2 || pads->dims[0] != s->t[x].rank ||
          pads->dims[1] != 2)
        return -1;
      return kiln_pass_constant_all(pads, 0.0) ? x : -1;
    }
    case KILN_OP_ADD:
    case KILN_OP_SUB:
    case KILN_OP_MUL:
    case KILN_OP_DIV: {
      const kiln_activation_attrs *a = n->attrs;
      if (n->num_inputs != 2 || a->activation != KILN_ACT_NONE ||
          xv->quant.count)
        return -1;
      double identity =
          n->op == KILN_OP_ADD || n->op == KILN_OP_SUB ? 0.0 : 1.0;
      /* ADD and MUL commute; x - 0 and x / 1 only with the constant
       * second. */
      bool commutes = n->op == KILN_OP_ADD || n->op == KILN_OP_MUL;
      for (int side = 0; side < (commutes ? 2 : 1); side++) {
        int data = n->inputs[side], k = n->inputs[1 - side];
        if (data < 0 || k < 0 || g->values[data].dtype != yv->dtype ||
            g->values[data].quant.count)
          continue;
        if (kiln_pass_constant_all(&g->values[k], identity) &&
            g->values[k].dtype == yv->dtype &&
            broadcast_keeps_shape(g, s, data, k))
          return data;
      }
      return -1;
    }
    default:
      return -1;
  }
}

kiln_status *kiln_pass_remove_noops(kiln_graph *g, int *out_removed) {
  *out_removed = 0;
  kiln_pass_uses u;
  KILN_TRY(kiln_pass_uses_build(g, &u));
  shapes s;
  kiln_status *st = infer_shapes(g, &s);
  bool *remove = st ? NULL : kiln_calloc(g->alloc, (size_t)g->num_nodes + 1, 1);
  if (!st && !remove) st = KILN_OOM();
  for (int n = 0; !st && n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    int x = passed_input(g, &s, node);
    /* A graph output keeps its producer: renaming outputs could clash with
     * a graph input or another output holding the same value. */
    if (x < 0 || u.is_output[node->outputs[0]]) continue;
    kiln_pass_replace_reads(g, node->outputs[0], x);
    remove[n] = true;
  }
  if (remove) *out_removed = kiln_pass_remove_nodes(g, remove);
  kiln_free(g->alloc, remove);
  shapes_free(g, &s);
  kiln_pass_uses_free(g, &u);
  return st;
}
