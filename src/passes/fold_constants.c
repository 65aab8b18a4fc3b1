/* fold_constants.c - computes constant subgraphs once, at load time. */
#include <string.h>

#include "core/alloc.h"
#include "kernels/ref/quant_params.h"
#include "passes/passes.h"

static bool all_inputs_constant(const kiln_graph *g, const kiln_node *n) {
  /* A custom operator's callbacks run in sessions only (they may keep
   * scratch there, and need not be pure), as do control flow and
   * variables. */
  if (kiln_op_runs_in_session(n->op)) return false;
  int present = 0;
  for (int i = 0; i < n->num_inputs; i++) {
    if (n->inputs[i] < 0) continue;
    if (!g->values[n->inputs[i]].is_constant) return false;
    present++;
  }
  return present > 0;
}

/* Runs one node on constant inputs and stores its outputs as constants. */
static kiln_status *fold_node(kiln_graph *g, const kiln_node *n) {
  enum { MAX_IO = 64 };
  if (n->num_inputs > MAX_IO || n->num_outputs > MAX_IO)
    return NULL; /* leave unusually wide nodes to the runtime */
  kiln_tensor in[MAX_IO], out[MAX_IO];
  kiln_tensor *in_ptrs[MAX_IO], *out_ptrs[MAX_IO];
  for (int i = 0; i < n->num_inputs; i++) {
    in_ptrs[i] = n->inputs[i] < 0 ? NULL : &in[i];
    if (in_ptrs[i]) kiln_value_as_tensor(&g->values[n->inputs[i]], &in[i]);
  }
  for (int i = 0; i < n->num_outputs; i++) {
    kiln_value_as_tensor(&g->values[n->outputs[i]], &out[i]);
    out[i].data = NULL;
    out[i].quant = g->values[n->outputs[i]].quant.count
                       ? &g->values[n->outputs[i]].quant
                       : NULL;
    out_ptrs[i] = &out[i];
  }
  kiln_op_ctx ctx = {n->attrs,       in_ptrs, n->num_inputs, out_ptrs,
                     n->num_outputs, NULL,    NULL,          NULL};
  const kiln_op_def *def = &kiln_op_table[n->op];
  /* A quantized node folds with the parameters the model would give it. */
  kiln_quant_params *quant = NULL;
  KILN_TRY(kiln_quant_params_build(n->op, &ctx, g->alloc, &quant));
  ctx.quant = quant;
  void *storage[MAX_IO] = {0};
  kiln_status *st = def->shape(&ctx);
  for (int i = 0; i < n->num_outputs && !st; i++) {
    kiln_value probe = g->values[n->outputs[i]];
    probe.rank = out[i].rank;
    memcpy(probe.dims, out[i].dims, sizeof probe.dims);
    size_t nbytes = 0;
    st = kiln_value_nbytes(&probe, &nbytes);
    if (!st) {
      storage[i] = kiln_calloc(g->alloc, 1, nbytes);
      if (!storage[i]) st = KILN_OOM();
      out[i].data = storage[i];
    }
  }
  if (!st) st = def->reference(&ctx);
  kiln_free(g->alloc, quant);
  if (st) {
    for (int i = 0; i < n->num_outputs; i++) kiln_free(g->alloc, storage[i]);
    return st;
  }
  for (int i = 0; i < n->num_outputs; i++) {
    kiln_value *v = &g->values[n->outputs[i]];
    v->rank = out[i].rank;
    memcpy(v->dims, out[i].dims, sizeof v->dims);
    memcpy(v->signature, out[i].dims, sizeof v->signature);
    kiln_free(g->alloc, v->owned_data);
    v->owned_data = storage[i];
    v->data = storage[i];
    v->nbytes = kiln_tensor_nbytes(&out[i]);
    v->is_constant = true;
  }
  return NULL;
}

kiln_status *kiln_pass_fold_node(kiln_graph *g, const kiln_node *n) {
  return all_inputs_constant(g, n) ? fold_node(g, n) : NULL;
}

static void release_node(kiln_graph *g, kiln_node *n) {
  kiln_free(g->alloc, n->inputs);
  kiln_free(g->alloc, n->outputs);
  kiln_free(g->alloc, n->attrs);
}

kiln_status *kiln_pass_fold_constants(kiln_graph *g, const char *source,
                                      int *out_folded) {
  int kept = 0, folded = 0;
  for (int i = 0; i < g->num_nodes; i++) {
    kiln_node *n = &g->nodes[i];
    if (n->num_outputs > 0 && all_inputs_constant(g, n)) {
      kiln_status *st = fold_node(g, n);
      if (st) {
        int source_index = n->source_index;
        const char *op_name = kiln_op_table[n->op].name;
        /* keep the graph consistent for kiln_graph_free */
        memmove(&g->nodes[kept], &g->nodes[i],
                sizeof *n * (size_t)(g->num_nodes - i));
        g->num_nodes = kept + (g->num_nodes - i);
        return kiln_status_wrap(st, "%s: operator %d (%s)", source,
                                source_index, op_name);
      }
      if (g->values[n->outputs[0]].is_constant) {
        release_node(g, n);
        folded++;
        continue;
      }
    }
    g->nodes[kept++] = *n;
  }
  g->num_nodes = kept;
  *out_folded = folded;
  return NULL;
}
