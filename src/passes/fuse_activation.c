/* fuse_activation.c - activation nodes become their producer's activation:
 * RELU, RELU6 and RELU_N1_TO_1, HARD_SWISH and LOGISTIC, and the swish pair
 * MUL(x, LOGISTIC(x)) that TF's converter emits for EfficientNet's swish. */
#include "core/alloc.h"
#include "kernels/activation.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* TANH stays a node: TFLite's kernels compute fused activations as a clamp
 * range (CalculateActivationRange) and ignore TANH there, so kiln's
 * optimized kernels decline a fused TANH and a fused node would lose them.
 * HARD_SWISH and LOGISTIC become kiln's internal activations, which every
 * kernel of the producers kiln_activation_fusable names computes. */
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
    case KILN_OP_HARD_SWISH:
      *out = KILN_ACT_HARD_SWISH;
      return true;
    case KILN_OP_LOGISTIC:
      *out = KILN_ACT_LOGISTIC;
      return true;
    default:
      return false;
  }
}

/* outer(inner(x)) as one activation, when one exists: anything over NONE is
 * itself; of two clamps, RELU and RELU6 nest into RELU6 (or RELU), a clamp
 * repeated is itself, and mixing RELU_N1_TO_1 with the others gives [0, 1],
 * which has no fused form. NaN passes through every clamp alike, so the
 * composition is exact. Nothing composes with the other activations. */
static bool compose(kiln_activation inner, kiln_activation outer,
                    kiln_activation *out) {
  if (inner == KILN_ACT_NONE) {
    *out = outer;
    return true;
  }
  if (!kiln_activation_is_clamp(inner) || !kiln_activation_is_clamp(outer))
    return false;
  if (inner == outer) {
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

/* The node producing x, when its fused activation can become act applied
 * after the one it has: x is float32, not a graph output and read `reads`
 * times (by the nodes about to go), and the producer writes only x. Sets
 * *merged to the activation the producer will carry. */
static kiln_node *fusable_producer(kiln_graph *g, const kiln_pass_uses *u,
                                   int x, int reads, kiln_activation act,
                                   kiln_activation *merged) {
  if (x < 0 || x >= u->num_values || u->producer[x] < 0) return NULL;
  if (u->readers[x] != reads || u->is_output[x] ||
      !kiln_pass_is_plain_float(&g->values[x]))
    return NULL;
  kiln_node *p = &g->nodes[u->producer[x]];
  kiln_activation *fused = kiln_pass_fused_activation(p);
  if (!fused || p->num_outputs != 1 || !compose(*fused, act, merged) ||
      !kiln_activation_fusable(p->op, *merged))
    return NULL;
  return p;
}

/* The producer of x takes `merged` and writes y in x's stead. */
static void rewire(kiln_graph *g, kiln_pass_uses *u, kiln_node *producer,
                   kiln_activation merged, int x, int y) {
  int p = (int)(producer - g->nodes);
  *kiln_pass_fused_activation(producer) = merged;
  producer->outputs[0] = y;
  if (y < u->num_values) u->producer[y] = p;
  u->producer[x] = -1;
  u->readers[x] = 0;
}

/* A standalone activation node n: fused into its input's producer. */
static bool fuse_standalone(kiln_graph *g, kiln_pass_uses *u, int n) {
  const kiln_node *act_node = &g->nodes[n];
  kiln_activation act, merged;
  if (!standalone_activation(act_node->op, &act) || act_node->num_inputs != 1 ||
      act_node->num_outputs != 1)
    return false;
  int x = act_node->inputs[0], y = act_node->outputs[0];
  if (!kiln_pass_is_plain_float(&g->values[y])) return false;
  /* The intermediate disappears, so nobody else may look at it. */
  kiln_node *producer = fusable_producer(g, u, x, 1, act, &merged);
  if (!producer) return false;
  rewire(g, u, producer, merged, x, y);
  return true;
}

/* MUL node m computing x * LOGISTIC(x), either operand order, where the
 * logistic feeds only m and x feeds only the two of them: x's producer
 * takes SWISH and writes m's output. Sets *logistic to the LOGISTIC's
 * index, which goes with m. */
static bool fuse_swish(kiln_graph *g, kiln_pass_uses *u, int m, int *logistic) {
  const kiln_node *mul = &g->nodes[m];
  if (mul->op != KILN_OP_MUL || mul->num_inputs != 2 || mul->num_outputs != 1)
    return false;
  const kiln_activation_attrs *attrs = mul->attrs;
  int y = mul->outputs[0];
  if (attrs->activation != KILN_ACT_NONE ||
      !kiln_pass_is_plain_float(&g->values[y]))
    return false;
  for (int side = 0; side < 2; side++) {
    int s = mul->inputs[side], x = mul->inputs[1 - side];
    if (s < 0 || s >= u->num_values || u->producer[s] < 0) continue;
    const kiln_node *l = &g->nodes[u->producer[s]];
    if (l->op != KILN_OP_LOGISTIC || l->num_inputs != 1 || l->inputs[0] != x ||
        u->readers[s] != 1 || u->is_output[s] ||
        !kiln_pass_is_plain_float(&g->values[s]))
      continue;
    kiln_activation merged;
    kiln_node *producer = fusable_producer(g, u, x, 2, KILN_ACT_SWISH, &merged);
    if (!producer) continue;
    *logistic = u->producer[s];
    u->producer[s] = -1;
    u->readers[s] = 0;
    rewire(g, u, producer, merged, x, y);
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
  int fused = 0;
  for (int n = 0; n < g->num_nodes; n++) {
    int logistic = -1;
    if (fuse_standalone(g, &u, n)) {
      remove[n] = true;
      fused++;
    } else if (fuse_swish(g, &u, n, &logistic)) {
      remove[n] = remove[logistic] = true;
      fused++;
    }
  }
  kiln_pass_remove_nodes(g, remove);
  *out_fused = fused;
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return NULL;
}
