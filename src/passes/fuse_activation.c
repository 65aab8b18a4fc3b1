/* fuse_activation.c - RELU-family nodes become their producer's activation. */
#include "core/alloc.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* TANH stays a node: TFLite's kernels compute fused activations as a clamp
 * range (CalculateActivationRange) and ignore TANH there, so optimized
 * kernels may too; only the clamps are safe to move into an operator. */
static bool standalone_activation(kiln_op_type op, kiln_activation *out) {
  switch (op) {
    case KILN_OP_RELU:
      *out = KILN_ACT_RELU;
      return true;
    case KILN_OP_RELU6:
      *out = KILN_ACT_RELU6;
      return true;
    case KILN_OP_RELU_N1_TO_1:
      *out = KILN_ACT_RELU_N1_TO_1;
      return true;
    default:
      return false;
  }
}

/* outer(inner(x)) as one activation, when one exists: RELU and RELU6 nest
 * into RELU6 (or RELU), a clamp repeated is itself; mixing RELU_N1_TO_1
 * with the others gives [0, 1], which has no fused form. NaN passes through
 * every clamp alike, so the composition is exact. */
static bool compose(kiln_activation inner, kiln_activation outer,
                    kiln_activation *out) {
  if (inner == KILN_ACT_NONE || inner == outer) {
    *out = outer;
    return true;
  }
  bool inner_relu = inner == KILN_ACT_RELU || inner == KILN_ACT_RELU6;
  bool outer_relu = outer == KILN_ACT_RELU || outer == KILN_ACT_RELU6;
  if (inner_relu && outer_relu) {
    *out = KILN_ACT_RELU6;
    return true;
  }
  return false;
}

kiln_status *kiln_pass_fuse_activations(kiln_graph *g, int *out_fused) {
  *out_fused = 0;
  kiln_pass_uses u;
  KILN_TRY(kiln_pass_uses_build(g, &u));
  bool *remove = kiln_calloc(g->alloc, (size_t)g->num_nodes + 1, 1);
  if (!remove) {
    kiln_pass_uses_free(g, &u);
    return KILN_OOM();
  }
  for (int n = 0; n < g->num_nodes; n++) {
    kiln_node *act_node = &g->nodes[n];
    kiln_activation outer;
    if (!standalone_activation(act_node->op, &outer) ||
        act_node->num_inputs != 1 || act_node->num_outputs != 1)
      continue;
    int x = act_node->inputs[0], y = act_node->outputs[0];
    if (x < 0 || u.producer[x] < 0) continue;
    /* The intermediate disappears, so nobody else may look at it. */
    if (u.readers[x] != 1 || u.is_output[x]) continue;
    if (!kiln_pass_is_plain_float(&g->values[x]) ||
        !kiln_pass_is_plain_float(&g->values[y]))
      continue;
    int p = u.producer[x];
    kiln_node *producer = &g->nodes[p];
    kiln_activation *fused = kiln_pass_fused_activation(producer);
    kiln_activation merged;
    if (!fused || producer->num_outputs != 1 ||
        !compose(*fused, outer, &merged))
      continue;
    *fused = merged;
    producer->outputs[0] = y;
    u.producer[y] = p;
    u.producer[x] = -1;
    u.readers[x] = 0;
    remove[n] = true;
  }
  *out_fused = kiln_pass_remove_nodes(g, remove);
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return NULL;
}
