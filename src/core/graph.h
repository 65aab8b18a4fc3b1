/* graph.h - kiln's intermediate representation: arrays of values (tensors)
 * and nodes (operator applications) in topological order. Importers build
 * it, passes rewrite it, the runtime plans and runs it. After load it is
 * immutable and shared by every session. */
#ifndef KILN_CORE_GRAPH_H
#define KILN_CORE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ops.h"
#include "kiln.h"

typedef struct kiln_value {
  char *name;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];      /* default shape (dynamic dims as 1) */
  int64_t signature[KILN_MAX_RANK]; /* -1 marks a dynamic dimension */
  kiln_quant_info quant;            /* arrays owned by the graph */
  /* Constants only: the bytes (nbytes of them), aligned for dtype. They
   * point into the mapped file or, when owned_data is set, into memory the
   * graph owns (folded results, realigned copies). */
  bool is_constant;
  const void *data;
  size_t nbytes;
  void *owned_data;
  /* A variable (TFLite's is_variable): state that operators read and
   * update in place (an LSTM's cell state) and that keeps its value from
   * one invoke to the next. Each session owns its copy, which starts from
   * `data` when the file gives bytes (nbytes of them) and from zeros
   * otherwise; is_constant is false. */
  bool is_variable;
} kiln_value;

typedef struct kiln_node {
  kiln_op_type op;
  int num_inputs, num_outputs;
  int *inputs;      /* value ids; -1 marks an omitted optional input */
  int *outputs;     /* value ids */
  void *attrs;      /* the op's attribute struct, owned */
  int source_index; /* the operator's index in the model file */
} kiln_node;

typedef struct kiln_graph {
  kiln_allocator allocator;    /* copy of the embedder's, or zeroed for libc */
  const kiln_allocator *alloc; /* &allocator when set, else NULL */
  kiln_value *values;
  int num_values, cap_values;
  kiln_node *nodes;
  int num_nodes, cap_nodes;
  int *inputs, num_inputs;   /* value ids of graph inputs, in user order */
  int *outputs, num_outputs; /* value ids of graph outputs */
  char **input_names;        /* user-facing names (SignatureDef keys) */
  char **output_names;
  /* op name of every operator in the source file, for `kiln info` */
  char **source_ops;
  int num_source_ops;
  /* records of CUSTOM nodes (core/custom_op.h), released with the graph */
  struct kiln_custom_node *custom_nodes;
} kiln_graph;

/* An empty graph using `alloc` (NULL for libc). NULL when out of memory. */
kiln_graph *kiln_graph_create(const kiln_allocator *alloc);
void kiln_graph_free(kiln_graph *g);

/* Appends a value (zeroed, name copied); its id is returned in *out_id. */
kiln_status *kiln_graph_add_value(kiln_graph *g, const char *name, int *out_id);

/* Appends a node with zeroed attrs of the op's size and the given inputs and
 * outputs (copied). Returns the new node through *out_node; that pointer is
 * valid until the next add_node. */
kiln_status *kiln_graph_add_node(kiln_graph *g, kiln_op_type op,
                                 const int *inputs, int num_inputs,
                                 const int *outputs, int num_outputs,
                                 int source_index, kiln_node **out_node);

/* Sets the graph inputs/outputs (value ids and user names, copied). A NULL
 * names array uses the values' names. */
kiln_status *kiln_graph_set_io(kiln_graph *g, const int *inputs,
                               const char *const *input_names, int num_inputs,
                               const int *outputs,
                               const char *const *output_names,
                               int num_outputs);

/* Byte size of a value's default shape, with overflow checking. */
kiln_status *kiln_value_nbytes(const kiln_value *v, size_t *out_nbytes);

/* A kernel's view of a value at its default shape: constants carry their
 * data, other values NULL. */
void kiln_value_as_tensor(const kiln_value *v, kiln_tensor *out);

/* The most subgraphs one node runs (a STABLEHLO_CASE's branches). */
#define KILN_MAX_NODE_SUBGRAPHS 64

/* The subgraphs a control-flow node runs (WHILE: cond, body; IF: then,
 * else; CALL_ONCE: init; STABLEHLO_CASE: its branches; STABLEHLO_COMPOSITE:
 * its decomposition) with the TFLite option naming each (names may be
 * NULL); returns how many, 0 for other operators. */
int kiln_node_subgraphs(const kiln_node *n, int refs[KILN_MAX_NODE_SUBGRAPHS],
                        const char *names[KILN_MAX_NODE_SUBGRAPHS]);

/* Checks structural sanity: ids in range, every input a constant, a
 * variable, a graph input or produced by an earlier node, no value produced
 * twice and no variable produced at all. Messages
 * name `source` (the file). */
kiln_status *kiln_graph_validate(const kiln_graph *g, const char *source);

#endif
