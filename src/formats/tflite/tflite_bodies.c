/* tflite_bodies.c - recognizing the body subgraphs of STABLEHLO_REDUCE_WINDOW
 * and STABLEHLO_SCATTER. Both name a subgraph that combines two scalars
 * (the accumulator or operand value, and the next value or update). LiteRT
 * never runs that subgraph: it looks at its operators and runs a built-in
 * reduction when the body is one known binary operator (or, for SCATTER,
 * no operator: the update replaces the value). kiln does the same at load,
 * storing the reduction in the node's attributes, so the kernels are plain
 * kernels and no session is made for the body. kiln is stricter in one
 * way: the operator must combine the body's two inputs into its output
 * (LiteRT looks only at the operator's code), so a body computing
 * something else is refused by name instead of run as something it is
 * not. */
#include <stdio.h>

#include "core/ops.h"
#include "formats/tflite/tflite_import.h"

#define UNSUPPORTED(...) kiln_error(KILN_ERR_UNSUPPORTED, __VA_ARGS__)

/* Prefix of a message about operator `n` of subgraph `sg`. */
#define AT "%s: subgraph %d: operator %d (%s)"
#define AT_ARGS(source, sg, n) \
  source, sg, (n)->source_index, kiln_op_table[(n)->op].name

/* The reduction REDUCE_WINDOW's body operator `op` computes (TFLite's
 * builtin or StableHLO form, as LiteRT accepts both); 0 when none. */
static kiln_window_function window_function(kiln_op_type op) {
  switch (op) {
    case KILN_OP_ADD:
    case KILN_OP_STABLEHLO_ADD:
      return KILN_WINDOW_ADD;
    case KILN_OP_MUL:
    case KILN_OP_STABLEHLO_MULTIPLY:
      return KILN_WINDOW_MUL;
    case KILN_OP_MAXIMUM:
    case KILN_OP_STABLEHLO_MAXIMUM:
      return KILN_WINDOW_MAXIMUM;
    case KILN_OP_MINIMUM:
    case KILN_OP_STABLEHLO_MINIMUM:
      return KILN_WINDOW_MINIMUM;
    case KILN_OP_LOGICAL_AND:
    case KILN_OP_STABLEHLO_AND:
      return KILN_WINDOW_ALL;
    case KILN_OP_LOGICAL_OR:
      return KILN_WINDOW_ANY;
    default:
      return (kiln_window_function)0;
  }
}

/* SCATTER's update operator: LiteRT takes only the StableHLO forms. */
static kiln_scatter_function scatter_function(kiln_op_type op) {
  switch (op) {
    case KILN_OP_STABLEHLO_ADD:
      return KILN_SCATTER_ADD;
    case KILN_OP_STABLEHLO_MULTIPLY:
      return KILN_SCATTER_MUL;
    case KILN_OP_STABLEHLO_MAXIMUM:
      return KILN_SCATTER_MAXIMUM;
    case KILN_OP_STABLEHLO_MINIMUM:
      return KILN_SCATTER_MINIMUM;
    default:
      return KILN_SCATTER_UNKNOWN;
  }
}

/* Whether body `b`'s one operator combines its two inputs (in either
 * order) into its one output, with no fused activation. */
static bool combines_inputs(const kiln_graph *b) {
  const kiln_node *n = &b->nodes[0];
  if (n->num_inputs != 2 || n->num_outputs != 1 ||
      n->outputs[0] != b->outputs[0])
    return false;
  bool straight = n->inputs[0] == b->inputs[0] && n->inputs[1] == b->inputs[1];
  bool crossed = n->inputs[0] == b->inputs[1] && n->inputs[1] == b->inputs[0];
  if (!straight && !crossed) return false;
  if (n->op == KILN_OP_ADD || n->op == KILN_OP_MUL) {
    const kiln_activation_attrs *a = n->attrs;
    return a->activation == KILN_ACT_NONE;
  }
  return true;
}

/* Fills node `n`'s reduction from body `b` (subgraph `sub`). */
static kiln_status *recognize(const char *source, int where, kiln_node *n,
                              int sub, const kiln_graph *b) {
  bool scatter = n->op == KILN_OP_STABLEHLO_SCATTER;
  const char *known =
      scatter ? "none (the update replaces the value) or one STABLEHLO_ADD, "
                "STABLEHLO_MULTIPLY, STABLEHLO_MAXIMUM or STABLEHLO_MINIMUM"
              : "one ADD, MUL, MAXIMUM, MINIMUM, LOGICAL_AND or LOGICAL_OR "
                "(or their StableHLO forms)";
  if (b->num_inputs != 2 || b->num_outputs != 1)
    return UNSUPPORTED(AT
                       ": body subgraph %d has %d inputs and %d outputs; "
                       "it must take two values and give one",
                       AT_ARGS(source, where, n), sub, b->num_inputs,
                       b->num_outputs);
  if (b->num_nodes == 0 && scatter && b->outputs[0] == b->inputs[1]) {
    ((kiln_stablehlo_scatter_attrs *)n->attrs)->function = KILN_SCATTER_REPLACE;
    return NULL;
  }
  if (b->num_nodes != 1 || !combines_inputs(b))
    return UNSUPPORTED(AT
                       ": body subgraph %d is not a reduction kiln "
                       "knows: it has %d operators (%s%s), and kiln runs "
                       "%s combining the body's two inputs",
                       AT_ARGS(source, where, n), sub, b->num_nodes,
                       b->num_nodes ? "the first is " : "none",
                       b->num_nodes ? kiln_op_table[b->nodes[0].op].name : "",
                       known);
  kiln_op_type op = b->nodes[0].op;
  if (scatter) {
    kiln_scatter_function f = scatter_function(op);
    if (f == KILN_SCATTER_UNKNOWN)
      return UNSUPPORTED(AT
                         ": update computation subgraph %d is %s; kiln "
                         "(as LiteRT) runs %s",
                         AT_ARGS(source, where, n), sub, kiln_op_table[op].name,
                         known);
    ((kiln_stablehlo_scatter_attrs *)n->attrs)->function = f;
  } else {
    kiln_window_function f = window_function(op);
    if (!f)
      return UNSUPPORTED(AT
                         ": body subgraph %d is %s; kiln (as LiteRT) "
                         "runs %s",
                         AT_ARGS(source, where, n), sub, kiln_op_table[op].name,
                         known);
    ((kiln_stablehlo_reduce_window_attrs *)n->attrs)->function = f;
  }
  return NULL;
}

/* The body subgraph index of node `n`, or -1 when it has none. */
static int body_of(const kiln_node *n) {
  if (n->op == KILN_OP_STABLEHLO_REDUCE_WINDOW)
    return ((const kiln_stablehlo_reduce_window_attrs *)n->attrs)
        ->body_subgraph;
  if (n->op == KILN_OP_STABLEHLO_SCATTER)
    return ((const kiln_stablehlo_scatter_attrs *)n->attrs)->update_subgraph;
  return -1;
}

kiln_status *kiln_tflite_recognize_bodies(
    const void *data, size_t size, const char *source,
    const kiln_allocator *alloc, const struct kiln_custom_resolver *custom,
    kiln_graph **graphs, int count, uint64_t *decoded) {
  for (int sg = 0; sg < count; sg++) {
    kiln_graph *g = graphs[sg];
    for (int k = 0; g && k < g->num_nodes; k++) {
      kiln_node *n = &g->nodes[k];
      int sub = body_of(n);
      if (sub < 0) continue;
      if (sub >= count)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          AT
                          ": body subgraph %d is out of range (the model "
                          "has %d subgraphs)",
                          AT_ARGS(source, sg, n), sub, count);
      /* A body nothing else runs is read only to be looked at. */
      kiln_graph *body = graphs[sub], *read = NULL;
      if (!body) {
        int unused;
        KILN_TRY(kiln_status_wrap(
            kiln_tflite_import_subgraph(data, size, source, alloc, custom, sub,
                                        decoded, &read, &unused),
            "reading the body of %s (subgraph %d operator %d)",
            kiln_op_table[n->op].name, sg, n->source_index));
        body = read;
      }
      kiln_status *st = recognize(source, sg, n, sub, body);
      kiln_graph_free(read);
      if (st) return st;
    }
  }
  return NULL;
}
