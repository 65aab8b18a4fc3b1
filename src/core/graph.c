/* graph.c - building, validating and freeing the IR. */
#include "core/graph.h"

#include <string.h>

#include "core/alloc.h"
#include "core/custom_op.h"
#include "core/status.h"

kiln_graph *kiln_graph_create(const kiln_allocator *alloc) {
  kiln_graph *g = kiln_calloc(alloc, 1, sizeof *g);
  if (!g) return NULL;
  if (alloc) {
    g->allocator = *alloc;
    g->alloc = &g->allocator;
  }
  return g;
}

static void free_value(kiln_graph *g, kiln_value *v) {
  kiln_free(g->alloc, v->name);
  kiln_free(g->alloc, (void *)v->quant.scale);
  kiln_free(g->alloc, (void *)v->quant.zero_point);
  kiln_free(g->alloc, v->owned_data);
}

static void free_names(kiln_graph *g, char **names, int count) {
  if (!names) return;
  for (int i = 0; i < count; i++) kiln_free(g->alloc, names[i]);
  kiln_free(g->alloc, names);
}

void kiln_graph_free(kiln_graph *g) {
  if (!g) return;
  const kiln_allocator *alloc = g->alloc;
  for (int i = 0; i < g->num_values; i++) free_value(g, &g->values[i]);
  kiln_free(alloc, g->values);
  for (int i = 0; i < g->num_nodes; i++) {
    kiln_free(alloc, g->nodes[i].inputs);
    kiln_free(alloc, g->nodes[i].outputs);
    kiln_free(alloc, g->nodes[i].attrs);
  }
  kiln_free(alloc, g->nodes);
  kiln_free(alloc, g->inputs);
  kiln_free(alloc, g->outputs);
  free_names(g, g->input_names, g->num_inputs);
  free_names(g, g->output_names, g->num_outputs);
  free_names(g, g->source_ops, g->num_source_ops);
  kiln_custom_nodes_free(g);
  /* The graph struct itself came from the same allocator; copy it first
   * since g->allocator lives inside the block being released. */
  kiln_allocator copy = g->allocator;
  kiln_free(alloc ? &copy : NULL, g);
}

/* Grows an array of `elem` bytes so that index `count` fits. */
static kiln_status *grow(const kiln_allocator *alloc, void **array, int *cap,
                         int count, size_t elem) {
  if (count < *cap) return NULL;
  int new_cap = *cap ? *cap * 2 : 16;
  if (new_cap < 0 || (size_t)new_cap > SIZE_MAX / elem) return KILN_OOM();
  void *grown = kiln_realloc(alloc, *array, (size_t)new_cap * elem);
  if (!grown) return KILN_OOM();
  *array = grown;
  *cap = new_cap;
  return NULL;
}

kiln_status *kiln_graph_add_value(kiln_graph *g, const char *name,
                                  int *out_id) {
  KILN_TRY(grow(g->alloc, (void **)&g->values, &g->cap_values, g->num_values,
                sizeof(kiln_value)));
  kiln_value *v = &g->values[g->num_values];
  memset(v, 0, sizeof *v);
  v->name = kiln_strdup(g->alloc, name ? name : "");
  if (!v->name) return KILN_OOM();
  *out_id = g->num_values++;
  return NULL;
}

static int *copy_ids(const kiln_allocator *alloc, const int *ids, int count) {
  int *copy = kiln_malloc(alloc, sizeof(int) * (size_t)(count ? count : 1));
  if (copy && count) memcpy(copy, ids, sizeof(int) * (size_t)count);
  return copy;
}

kiln_status *kiln_graph_add_node(kiln_graph *g, kiln_op_type op,
                                 const int *inputs, int num_inputs,
                                 const int *outputs, int num_outputs,
                                 int source_index, kiln_node **out_node) {
  if (op < 0 || op >= KILN_OP_COUNT)
    return kiln_error(KILN_ERR_INTERNAL, "bad op id %d", (int)op);
  KILN_TRY(grow(g->alloc, (void **)&g->nodes, &g->cap_nodes, g->num_nodes,
                sizeof(kiln_node)));
  kiln_node *n = &g->nodes[g->num_nodes];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->source_index = source_index;
  n->inputs = copy_ids(g->alloc, inputs, num_inputs);
  n->outputs = copy_ids(g->alloc, outputs, num_outputs);
  n->attrs = kiln_calloc(g->alloc, 1, kiln_op_table[op].attrs_size);
  if (!n->inputs || !n->outputs || !n->attrs) {
    kiln_free(g->alloc, n->inputs);
    kiln_free(g->alloc, n->outputs);
    kiln_free(g->alloc, n->attrs);
    return KILN_OOM();
  }
  n->num_inputs = num_inputs;
  n->num_outputs = num_outputs;
  g->num_nodes++;
  if (out_node) *out_node = n;
  return NULL;
}

static kiln_status *copy_names(kiln_graph *g, const char *const *names,
                               const int *ids, int count, char ***out) {
  char **copy =
      kiln_calloc(g->alloc, (size_t)(count ? count : 1), sizeof(char *));
  if (!copy) return KILN_OOM();
  *out = copy;
  for (int i = 0; i < count; i++) {
    const char *name = names ? names[i] : g->values[ids[i]].name;
    copy[i] = kiln_strdup(g->alloc, name);
    if (!copy[i]) return KILN_OOM();
  }
  return NULL;
}

kiln_status *kiln_graph_set_io(kiln_graph *g, const int *inputs,
                               const char *const *input_names, int num_inputs,
                               const int *outputs,
                               const char *const *output_names,
                               int num_outputs) {
  for (int i = 0; i < num_inputs; i++)
    if (inputs[i] < 0 || inputs[i] >= g->num_values)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "graph input %d is tensor %d, which does not exist "
                        "(the graph has %d tensors)",
                        i, inputs[i], g->num_values);
  for (int i = 0; i < num_outputs; i++)
    if (outputs[i] < 0 || outputs[i] >= g->num_values)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "graph output %d is tensor %d, which does not exist "
                        "(the graph has %d tensors)",
                        i, outputs[i], g->num_values);
  g->inputs = copy_ids(g->alloc, inputs, num_inputs);
  if (!g->inputs) return KILN_OOM();
  g->num_inputs = num_inputs;
  KILN_TRY(copy_names(g, input_names, inputs, num_inputs, &g->input_names));
  g->outputs = copy_ids(g->alloc, outputs, num_outputs);
  if (!g->outputs) return KILN_OOM();
  g->num_outputs = num_outputs;
  KILN_TRY(copy_names(g, output_names, outputs, num_outputs, &g->output_names));
  return NULL;
}

kiln_status *kiln_value_nbytes(const kiln_value *v, size_t *out_nbytes) {
  size_t total = kiln_dtype_size(v->dtype);
  if (total == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "tensor '%s' has an unsupported type", v->name);
  for (int d = 0; d < v->rank; d++) {
    int64_t dim = v->dims[d];
    if (dim < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "tensor '%s' has negative dimension %lld at axis %d",
                        v->name, (long long)dim, d);
    if (dim && total > SIZE_MAX / (uint64_t)dim / 2)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "tensor '%s': the product of its dimensions overflows",
                        v->name);
    total *= (size_t)dim;
  }
  *out_nbytes = total;
  return NULL;
}

void kiln_value_as_tensor(const kiln_value *v, kiln_tensor *t) {
  memset(t, 0, sizeof *t);
  t->dtype = v->dtype;
  t->rank = v->rank;
  memcpy(t->dims, v->dims, sizeof t->dims);
  t->data = v->is_constant ? (void *)v->data : NULL;
  t->quant = v->quant.count ? &v->quant : NULL;
}

kiln_status *kiln_graph_validate(const kiln_graph *g, const char *source) {
  /* producer[v] = index of the node that writes v, -2 for graph inputs and
   * constants, -1 when nothing does (yet). */
  int *producer =
      kiln_malloc(g->alloc, sizeof(int) * (size_t)(g->num_values + 1));
  if (!producer) return KILN_OOM();
  kiln_status *st = NULL;
  for (int v = 0; v < g->num_values; v++)
    producer[v] =
        g->values[v].is_constant || g->values[v].is_variable ? -2 : -1;
  for (int i = 0; i < g->num_inputs; i++) producer[g->inputs[i]] = -2;
  for (int n = 0; n < g->num_nodes && !st; n++) {
    const kiln_node *node = &g->nodes[n];
    const char *op = kiln_op_table[node->op].name;
    for (int i = 0; i < node->num_inputs && !st; i++) {
      int id = node->inputs[i];
      if (id == -1) continue;
      if (id < 0 || id >= g->num_values)
        st = kiln_error(
            KILN_ERR_INVALID_MODEL,
            "%s: operator %d (%s): input %d is tensor %d, which does "
            "not exist (the graph has %d tensors)",
            source, node->source_index, op, i, id, g->num_values);
      else if (producer[id] == -1)
        st = kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: operator %d (%s): input %d is tensor %d ('%s'), "
                        "which no earlier operator produces and which is "
                        "neither a constant, a variable nor a graph input",
                        source, node->source_index, op, i, id,
                        g->values[id].name);
    }
    for (int i = 0; i < node->num_outputs && !st; i++) {
      int id = node->outputs[i];
      if (id < 0 || id >= g->num_values)
        st = kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: operator %d (%s): output %d is tensor %d, which "
                        "does not exist (the graph has %d tensors)",
                        source, node->source_index, op, i, id, g->num_values);
      else if (producer[id] != -1)
        st = kiln_error(
            KILN_ERR_INVALID_MODEL,
            "%s: operator %d (%s): output %d is tensor %d ('%s'), "
            "which is already %s",
            source, node->source_index, op, i, id, g->values[id].name,
            producer[id] == -2 ? "a constant, a variable or a graph input"
                               : "produced by an earlier operator");
      else
        producer[id] = n;
    }
  }
  for (int i = 0; i < g->num_outputs && !st; i++)
    if (producer[g->outputs[i]] == -1)
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: graph output %d is tensor %d ('%s'), which nothing "
                      "produces",
                      source, i, g->outputs[i], g->values[g->outputs[i]].name);
  /* A graph with nothing to compute would "run" and give nothing back;
   * that is a broken file, not an empty answer. One that assigns variables
   * (a CALL_ONCE initializer) has its effect without outputs. */
  bool effects = false;
  for (int n = 0; n < g->num_nodes; n++)
    effects |= kiln_op_has_side_effects(g->nodes[n].op);
  if (!st && g->num_outputs == 0 && !effects)
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: the model lists no outputs, so running it would "
                    "compute nothing",
                    source);
  kiln_free(g->alloc, producer);
  return st;
}

_Static_assert(KILN_MAX_NODE_SUBGRAPHS >= KILN_MAX_CASE_BRANCHES,
               "a node's subgraph list holds every CASE branch");

int kiln_node_subgraphs(const kiln_node *n, int refs[KILN_MAX_NODE_SUBGRAPHS],
                        const char *names[KILN_MAX_NODE_SUBGRAPHS]) {
  const char *unused[KILN_MAX_NODE_SUBGRAPHS];
  if (!names) names = unused;
  switch (n->op) {
    case KILN_OP_WHILE: {
      const kiln_while_attrs *a = n->attrs;
      refs[0] = a->cond_subgraph;
      refs[1] = a->body_subgraph;
      names[0] = "cond_subgraph_index";
      names[1] = "body_subgraph_index";
      return 2;
    }
    case KILN_OP_IF: {
      const kiln_if_attrs *a = n->attrs;
      refs[0] = a->then_subgraph;
      refs[1] = a->else_subgraph;
      names[0] = "then_subgraph_index";
      names[1] = "else_subgraph_index";
      return 2;
    }
    case KILN_OP_CALL_ONCE: {
      const kiln_call_once_attrs *a = n->attrs;
      refs[0] = a->init_subgraph;
      names[0] = "init_subgraph_index";
      return 1;
    }
    case KILN_OP_STABLEHLO_CASE: {
      const kiln_stablehlo_case_attrs *a = n->attrs;
      for (int i = 0; i < a->num_branches; i++) {
        refs[i] = a->branches[i];
        names[i] = "branch_subgraph_indices entry";
      }
      return a->num_branches;
    }
    case KILN_OP_STABLEHLO_COMPOSITE: {
      const kiln_stablehlo_composite_attrs *a = n->attrs;
      refs[0] = a->decomposition_subgraph;
      names[0] = "decomposition_subgraph_index";
      return 1;
    }
    default:
      return 0;
  }
}
