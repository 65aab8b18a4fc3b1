/* dead_nodes.c - drops operators whose results reach no graph output. */
#include "core/alloc.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

kiln_status *kiln_pass_remove_dead(kiln_graph *g, int *out_removed,
                                   int *out_released) {
  *out_removed = 0;
  *out_released = 0;
  size_t count = (size_t)g->num_values + 1;
  bool *live = kiln_calloc(g->alloc, count, sizeof *live);
  bool *remove = kiln_calloc(g->alloc, (size_t)g->num_nodes + 1, 1);
  if (!live || !remove) {
    kiln_free(g->alloc, live);
    kiln_free(g->alloc, remove);
    return KILN_OOM();
  }
  /* Walking backwards sees every reader of a value before its producer, as
   * the nodes are in topological order. */
  for (int i = 0; i < g->num_outputs; i++) live[g->outputs[i]] = true;
  for (int n = g->num_nodes - 1; n >= 0; n--) {
    const kiln_node *node = &g->nodes[n];
    bool needed = kiln_op_has_side_effects(node->op);
    for (int i = 0; i < node->num_outputs; i++)
      needed |= live[node->outputs[i]];
    if (!needed) {
      remove[n] = true;
      continue;
    }
    for (int i = 0; i < node->num_inputs; i++)
      if (node->inputs[i] >= 0) live[node->inputs[i]] = true;
  }
  *out_removed = kiln_pass_remove_nodes(g, remove);
  /* Folded or rewritten weights left behind (the originals of a folded
   * batch norm, say) would otherwise hold their memory for the model's
   * life. Mapped file data costs nothing resident, so only owned memory is
   * released; the value stays, empty, so ids do not move. */
  for (int i = 0; i < g->num_inputs; i++) live[g->inputs[i]] = true;
  for (int v = 0; v < g->num_values; v++) {
    kiln_value *value = &g->values[v];
    if (live[v] || !value->is_constant || !value->owned_data) continue;
    kiln_free(g->alloc, value->owned_data);
    value->owned_data = NULL;
    value->data = NULL;
    value->nbytes = 0;
    (*out_released)++;
  }
  kiln_free(g->alloc, live);
  kiln_free(g->alloc, remove);
  return NULL;
}
