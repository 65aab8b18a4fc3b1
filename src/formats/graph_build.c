/* graph_build.c - constants and self-shaping nodes for importers of formats
 * without per-tensor shapes (graph_build.h). */
#include "formats/graph_build.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "kernels/kernel.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

kiln_status *kiln_gb_const(kiln_graph_builder *b, const char *name,
                           kiln_dtype dtype, int rank, const int64_t *dims,
                           int *out_id, void **out_data) {
  static const int64_t scalar[1] = {1};
  if (!dims) dims = scalar; /* rank 0 */
  KILN_TRY(
      kiln_pass_add_constant(b->g, name, dtype, rank, dims, out_id, out_data));
  kiln_value *v = &b->g->values[*out_id];
  memcpy(v->signature, v->dims, sizeof v->signature);
  return NULL;
}

kiln_status *kiln_gb_const_i32(kiln_graph_builder *b, const char *name,
                               const int32_t *values, int count, int *out_id) {
  int64_t dims[1] = {count};
  void *data;
  KILN_TRY(kiln_gb_const(b, name, KILN_INT32, 1, dims, out_id, &data));
  if (count) memcpy(data, values, (size_t)count * sizeof *values);
  return NULL;
}

/* Runs the op's shape function on the node's inputs at their default
 * shapes and stores the output's shape. */
static kiln_status *shape_node(kiln_graph_builder *b, const kiln_node *n,
                               int out_id, const char *name) {
  kiln_tensor in_t[KILN_GB_MAX_INPUTS], out_t;
  kiln_tensor *ins[KILN_GB_MAX_INPUTS], *outs[1] = {&out_t};
  bool dynamic = false;
  for (int i = 0; i < n->num_inputs; i++) {
    if (n->inputs[i] < 0) {
      ins[i] = NULL;
      continue;
    }
    const kiln_value *v = &b->g->values[n->inputs[i]];
    kiln_value_as_tensor(v, &in_t[i]);
    ins[i] = &in_t[i];
    if (!v->is_constant && v->rank > 0 && v->signature[0] < 0) dynamic = true;
  }
  kiln_value *out = &b->g->values[out_id];
  memset(&out_t, 0, sizeof out_t);
  out_t.dtype = out->dtype;
  kiln_op_ctx c = {.attrs = n->attrs,
                   .inputs = ins,
                   .num_inputs = n->num_inputs,
                   .outputs = outs,
                   .num_outputs = 1};
  kiln_status *st = kiln_op_table[n->op].shape(&c);
  if (st)
    return kiln_status_wrap(st, "%s: node '%s' (%s)", b->source, name,
                            kiln_op_table[n->op].name);
  out = &b->g->values[out_id];
  out->dtype = out_t.dtype;
  out->rank = out_t.rank;
  memcpy(out->dims, out_t.dims, sizeof out->dims);
  memcpy(out->signature, out_t.dims, sizeof out->signature);
  if (dynamic && out->rank > 0) out->signature[0] = -1;
  return NULL;
}

static void drop_last_node(kiln_graph *g) {
  kiln_node *n = &g->nodes[g->num_nodes - 1];
  kiln_free(g->alloc, n->inputs);
  kiln_free(g->alloc, n->outputs);
  kiln_free(g->alloc, n->attrs);
  g->num_nodes--;
}

kiln_status *kiln_gb_node(kiln_graph_builder *b, kiln_op_type op,
                          const int *inputs, int num_inputs, const void *attrs,
                          const char *name, kiln_dtype dtype, int *out_id) {
  if (num_inputs > KILN_GB_MAX_INPUTS)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: node '%s' (%s) has %d inputs; kiln builds at most "
                      "%d",
                      b->source, name, kiln_op_table[op].name, num_inputs,
                      KILN_GB_MAX_INPUTS);
  int out;
  KILN_TRY(kiln_graph_add_value(b->g, name, &out));
  b->g->values[out].dtype =
      dtype != KILN_DTYPE_INVALID ? dtype : b->g->values[inputs[0]].dtype;
  kiln_node *n = NULL;
  KILN_TRY(kiln_graph_add_node(b->g, op, inputs, num_inputs, &out, 1,
                               b->source_index, &n));
  if (attrs) memcpy(n->attrs, attrs, kiln_op_table[op].attrs_size);
  KILN_TRY(shape_node(b, n, out, name));
  /* Folding computes the output now, so only outputs of a bounded size
   * are folded (a Fill or Tile a damaged file sizes at gigabytes stays a
   * node, sized like any other when a session is made). */
  size_t nbytes = 0;
  if (kiln_value_nbytes(&b->g->values[out], &nbytes) ||
      nbytes > KILN_GB_MAX_FOLD_BYTES) {
    *out_id = out;
    return NULL;
  }
  kiln_status *st = kiln_pass_fold_node(b->g, n);
  if (st)
    return kiln_status_wrap(st, "%s: node '%s' (%s)", b->source, name,
                            kiln_op_table[op].name);
  if (b->g->values[out].is_constant) drop_last_node(b->g);
  *out_id = out;
  return NULL;
}
