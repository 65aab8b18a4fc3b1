/* tflite_subgraphs.c - importing the subgraphs that control flow runs.
 * TFLite's WHILE, IF, CALL_ONCE, STABLEHLO_CASE and STABLEHLO_COMPOSITE
 * operators name other subgraphs of the file by index. Starting from subgraph
 * 0, each subgraph an imported one names is imported in turn (subgraphs nothing
 * reaches, such as other signatures' entry points, are left out, so their
 * operators cannot make a model fail to load). Then the whole call graph is
 * checked: indices in range, no subgraph calling itself directly or not
 * (TFLite's interpreter would recurse without end), nesting within
 * KILN_MAX_SUBGRAPH_DEPTH, and every operator's inputs and outputs matching its
 * subgraphs' in count and type, so that the session can copy between them
 * without checking. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/ops.h"
#include "formats/tflite/tflite_import.h"

#define INVALID(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

/* Prefix of a message about operator `n` of subgraph `sg`. */
#define AT "%s: subgraph %d: operator %d (%s)"
#define AT_ARGS(source, sg, n) \
  source, sg, (n)->source_index, kiln_op_table[(n)->op].name

static kiln_status *check_range(const char *source, int sg, const kiln_node *n,
                                int count) {
  int refs[KILN_MAX_NODE_SUBGRAPHS];
  const char *names[KILN_MAX_NODE_SUBGRAPHS];
  int k = kiln_node_subgraphs(n, refs, names);
  for (int i = 0; i < k; i++)
    if (refs[i] < 0 || refs[i] >= count)
      return INVALID(AT ": %s %d is out of range (the model has %d subgraphs)",
                     AT_ARGS(source, sg, n), names[i], refs[i], count);
  return NULL;
}

/* Depth-first over the call graph; state 1 marks subgraphs on the current
 * path, 2 those fully checked. sessions[sg] counts the sessions running
 * subgraph sg takes (itself and one per call below it, as a session makes
 * one per subgraph slot of each control-flow node), capped past the
 * limit: without recursion that can still grow exponentially with depth
 * (two loops calling two loops ...). */
static kiln_status *check_calls(kiln_graph **graphs, unsigned char *state,
                                uint64_t *sessions, int sg, int depth,
                                const char *source) {
  if (depth > KILN_MAX_SUBGRAPH_DEPTH)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: subgraph %d is nested %d deep in control flow; "
                      "kiln allows %d",
                      source, sg, depth, KILN_MAX_SUBGRAPH_DEPTH);
  state[sg] = 1;
  sessions[sg] = 1;
  const kiln_graph *g = graphs[sg];
  for (int n = 0; n < g->num_nodes; n++) {
    int refs[KILN_MAX_NODE_SUBGRAPHS];
    const char *names[KILN_MAX_NODE_SUBGRAPHS];
    int k = kiln_node_subgraphs(&g->nodes[n], refs, names);
    for (int i = 0; i < k; i++) {
      if (state[refs[i]] == 1)
        return INVALID(AT
                       ": %s %d calls subgraph %d again while it runs "
                       "(recursion is not supported)",
                       AT_ARGS(source, sg, &g->nodes[n]), names[i], refs[i],
                       refs[i]);
      if (state[refs[i]] == 0)
        KILN_TRY(
            check_calls(graphs, state, sessions, refs[i], depth + 1, source));
      sessions[sg] += sessions[refs[i]];
      if (sessions[sg] > KILN_MAX_SUBGRAPH_SESSIONS)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s: subgraph %d calls subgraphs so many times over "
                          "(nested loops calling loops) that running it would "
                          "need more than %d subgraph sessions",
                          source, sg, KILN_MAX_SUBGRAPH_SESSIONS);
    }
  }
  state[sg] = 2;
  return NULL;
}

/* Value `id` of `g` (a node's or a graph's input or output). */
static kiln_dtype dtype_of(const kiln_graph *g, int id) {
  return id < 0 ? KILN_DTYPE_INVALID : g->values[id].dtype;
}

/* Checks that `count` values of the operator (ids in `g`) and of subgraph
 * `sub` (ids in `sg`) agree in type. */
static kiln_status *match_types(const char *source, int where,
                                const kiln_node *n, const kiln_graph *g,
                                const int *ids, const char *what, int sub,
                                const kiln_graph *sg, const int *sub_ids,
                                const char *sub_what, int count) {
  for (int i = 0; i < count; i++) {
    kiln_dtype a = dtype_of(g, ids[i]), b = dtype_of(sg, sub_ids[i]);
    if (a != b)
      return INVALID(AT ": %s %d is %s but %s %d of subgraph %d is %s",
                     AT_ARGS(source, where, n), what, i, kiln_dtype_name(a),
                     sub_what, i, sub, kiln_dtype_name(b));
  }
  return NULL;
}

static kiln_status *count_mismatch(const char *source, int where,
                                   const kiln_node *n, int sub,
                                   const char *what, int have, int want) {
  return INVALID(AT ": subgraph %d has %d %s; the operator needs %d",
                 AT_ARGS(source, where, n), sub, have, what, want);
}

static kiln_status *check_while(const char *source, int where,
                                const kiln_graph *g, const kiln_node *n,
                                kiln_graph **graphs) {
  const kiln_while_attrs *a = n->attrs;
  const kiln_graph *cond = graphs[a->cond_subgraph];
  const kiln_graph *body = graphs[a->body_subgraph];
  int count = n->num_inputs;
  if (n->num_outputs != count)
    return INVALID(AT ": has %d inputs but %d outputs; a loop's are the same",
                   AT_ARGS(source, where, n), count, n->num_outputs);
  for (int i = 0; i < count; i++)
    if (n->inputs[i] < 0)
      return INVALID(AT ": input %d is omitted", AT_ARGS(source, where, n), i);
  if (cond->num_inputs != count)
    return count_mismatch(source, where, n, a->cond_subgraph, "inputs",
                          cond->num_inputs, count);
  if (cond->num_outputs != 1)
    return count_mismatch(source, where, n, a->cond_subgraph, "outputs",
                          cond->num_outputs, 1);
  if (cond->values[cond->outputs[0]].dtype != KILN_BOOL)
    return INVALID(AT ": the output of cond subgraph %d is %s, not bool",
                   AT_ARGS(source, where, n), a->cond_subgraph,
                   kiln_dtype_name(cond->values[cond->outputs[0]].dtype));
  if (body->num_inputs != count)
    return count_mismatch(source, where, n, a->body_subgraph, "inputs",
                          body->num_inputs, count);
  if (body->num_outputs != count)
    return count_mismatch(source, where, n, a->body_subgraph, "outputs",
                          body->num_outputs, count);
  KILN_TRY(match_types(source, where, n, g, n->inputs, "input",
                       a->cond_subgraph, cond, cond->inputs, "input", count));
  KILN_TRY(match_types(source, where, n, g, n->inputs, "input",
                       a->body_subgraph, body, body->inputs, "input", count));
  KILN_TRY(match_types(source, where, n, g, n->outputs, "output",
                       a->body_subgraph, body, body->outputs, "output", count));
  return match_types(source, where, n, g, n->inputs, "input", a->body_subgraph,
                     body, body->outputs, "output", count);
}

/* Checks that subgraph `sub` takes the operator's inputs from `first` on
 * and gives its outputs, in count and type (an IF's or CASE's branch, a
 * composite's decomposition). */
static kiln_status *check_callee(const char *source, int where,
                                 const kiln_graph *g, const kiln_node *n,
                                 int sub, kiln_graph **graphs, int first) {
  const kiln_graph *sg = graphs[sub];
  for (int i = first; i < n->num_inputs; i++)
    if (n->inputs[i] < 0)
      return INVALID(AT ": input %d is omitted", AT_ARGS(source, where, n), i);
  if (sg->num_inputs != n->num_inputs - first)
    return count_mismatch(source, where, n, sub, "inputs", sg->num_inputs,
                          n->num_inputs - first);
  if (sg->num_outputs != n->num_outputs)
    return count_mismatch(source, where, n, sub, "outputs", sg->num_outputs,
                          n->num_outputs);
  KILN_TRY(match_types(source, where, n, g, n->inputs + first,
                       first ? "branch input" : "input", sub, sg, sg->inputs,
                       "input", sg->num_inputs));
  return match_types(source, where, n, g, n->outputs, "output", sub, sg,
                     sg->outputs, "output", sg->num_outputs);
}

static kiln_status *check_if(const char *source, int where, const kiln_graph *g,
                             const kiln_node *n, kiln_graph **graphs) {
  const kiln_if_attrs *a = n->attrs;
  if (n->num_inputs < 1 || n->inputs[0] < 0)
    return INVALID(AT ": has no condition input", AT_ARGS(source, where, n));
  if (g->values[n->inputs[0]].dtype != KILN_BOOL)
    return INVALID(AT ": the condition (input 0) is %s, not bool",
                   AT_ARGS(source, where, n),
                   kiln_dtype_name(g->values[n->inputs[0]].dtype));
  KILN_TRY(check_callee(source, where, g, n, a->then_subgraph, graphs, 1));
  return check_callee(source, where, g, n, a->else_subgraph, graphs, 1);
}

/* STABLEHLO_CASE: an int32 index (input 0), then the branches' inputs. */
static kiln_status *check_case(const char *source, int where,
                               const kiln_graph *g, const kiln_node *n,
                               kiln_graph **graphs) {
  const kiln_stablehlo_case_attrs *a = n->attrs;
  if (n->num_inputs < 1 || n->inputs[0] < 0)
    return INVALID(AT ": has no index input", AT_ARGS(source, where, n));
  if (g->values[n->inputs[0]].dtype != KILN_INT32)
    return INVALID(AT ": the index (input 0) is %s, not int32",
                   AT_ARGS(source, where, n),
                   kiln_dtype_name(g->values[n->inputs[0]].dtype));
  for (int b = 0; b < a->num_branches; b++)
    KILN_TRY(check_callee(source, where, g, n, a->branches[b], graphs, 1));
  return NULL;
}

static kiln_status *check_call_once(const char *source, int where,
                                    const kiln_node *n, kiln_graph **graphs) {
  const kiln_call_once_attrs *a = n->attrs;
  const kiln_graph *init = graphs[a->init_subgraph];
  if (n->num_inputs != 0 || n->num_outputs != 0)
    return INVALID(AT ": has %d inputs and %d outputs; it takes none",
                   AT_ARGS(source, where, n), n->num_inputs, n->num_outputs);
  if (init->num_inputs != 0 || init->num_outputs != 0)
    return INVALID(AT
                   ": init subgraph %d has %d inputs and %d outputs; it "
                   "must have none",
                   AT_ARGS(source, where, n), a->init_subgraph,
                   init->num_inputs, init->num_outputs);
  return NULL;
}

static kiln_status *check_interfaces(kiln_graph **graphs, int count,
                                     const char *source) {
  for (int sg = 0; sg < count; sg++) {
    const kiln_graph *g = graphs[sg];
    for (int k = 0; g && k < g->num_nodes; k++) {
      const kiln_node *n = &g->nodes[k];
      if (n->op == KILN_OP_WHILE)
        KILN_TRY(check_while(source, sg, g, n, graphs));
      if (n->op == KILN_OP_IF) KILN_TRY(check_if(source, sg, g, n, graphs));
      if (n->op == KILN_OP_CALL_ONCE)
        KILN_TRY(check_call_once(source, sg, n, graphs));
      if (n->op == KILN_OP_STABLEHLO_CASE)
        KILN_TRY(check_case(source, sg, g, n, graphs));
      if (n->op == KILN_OP_STABLEHLO_COMPOSITE) {
        const kiln_stablehlo_composite_attrs *a = n->attrs;
        KILN_TRY(check_callee(source, sg, g, n, a->decomposition_subgraph,
                              graphs, 0));
      }
    }
  }
  return NULL;
}

void kiln_tflite_free_graphs(kiln_graph **graphs, int count,
                             const kiln_allocator *alloc) {
  if (!graphs) return;
  for (int i = 0; i < count; i++) kiln_graph_free(graphs[i]);
  kiln_free(alloc, graphs);
}

/* Imports, breadth first from subgraph 0, each subgraph a control-flow
 * operator of an imported one names. */
static kiln_status *import_reachable(const void *data, size_t size,
                                     const char *source,
                                     const kiln_allocator *alloc,
                                     const struct kiln_custom_resolver *custom,
                                     kiln_graph **graphs, int count,
                                     uint64_t *decoded) {
  int *queue = kiln_calloc(alloc, (size_t)count, sizeof(int));
  if (!queue) return KILN_OOM();
  int head = 0, tail = 1;
  kiln_status *st = NULL;
  while (!st && head < tail) {
    int sg = queue[head++];
    const kiln_graph *g = graphs[sg];
    for (int k = 0; !st && k < g->num_nodes; k++) {
      const kiln_node *n = &g->nodes[k];
      int refs[KILN_MAX_NODE_SUBGRAPHS], unused;
      const char *names[KILN_MAX_NODE_SUBGRAPHS];
      int nrefs = kiln_node_subgraphs(n, refs, names);
      st = check_range(source, sg, n, count);
      for (int i = 0; !st && i < nrefs; i++) {
        if (graphs[refs[i]] || refs[i] == 0) continue;
        st = kiln_tflite_import_subgraph(data, size, source, alloc, custom,
                                         refs[i], decoded, &graphs[refs[i]],
                                         &unused);
        if (!st) queue[tail++] = refs[i];
      }
    }
  }
  kiln_free(alloc, queue);
  return st;
}

kiln_status *kiln_tflite_import_all(const void *data, size_t size,
                                    const char *source_name,
                                    const kiln_allocator *alloc,
                                    const struct kiln_custom_resolver *custom,
                                    kiln_graph ***out_graphs, int *out_count) {
  const char *source = source_name ? source_name : "<memory>";
  *out_graphs = NULL;
  *out_count = 0;
  uint64_t decoded = 0;
  int count = 0;
  kiln_graph *main_graph = NULL;
  KILN_TRY(kiln_tflite_import_subgraph(data, size, source, alloc, custom, 0,
                                       &decoded, &main_graph, &count));
  kiln_graph **graphs = kiln_calloc(alloc, (size_t)count, sizeof *graphs);
  unsigned char *state = kiln_calloc(alloc, (size_t)count, 1);
  uint64_t *sessions = kiln_calloc(alloc, (size_t)count, sizeof *sessions);
  kiln_status *st = graphs && state && sessions ? NULL : KILN_OOM();
  if (graphs)
    graphs[0] = main_graph;
  else
    kiln_graph_free(main_graph);
  if (!st)
    st = import_reachable(data, size, source, alloc, custom, graphs, count,
                          &decoded);
  if (!st)
    st = kiln_tflite_recognize_bodies(data, size, source, alloc, custom, graphs,
                                      count, &decoded);
  if (!st) st = check_calls(graphs, state, sessions, 0, 0, source);
  if (!st) st = check_interfaces(graphs, count, source);
  kiln_free(alloc, state);
  kiln_free(alloc, sessions);
  if (st) {
    kiln_tflite_free_graphs(graphs, graphs ? count : 0, alloc);
    return st;
  }
  *out_graphs = graphs;
  *out_count = count;
  return NULL;
}
