/* custom_op.h - custom operators inside the library: the registry behind
 * kiln_op_registry, the lookup an importer does (the embedder's registry,
 * then kiln's built-in custom operators), the per-node record a graph owns,
 * and the context the callbacks receive. The CUSTOM operator's shape
 * function and kernel (kernels/ref/custom.c) drive the callbacks. */
#ifndef KILN_CORE_CUSTOM_OP_H
#define KILN_CORE_CUSTOM_OP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/graph.h"
#include "kiln.h"

/* Inputs and outputs a custom operator may have (its kernel builds the
 * callbacks' tensors on the stack, so invoke allocates nothing). */
#define KILN_CUSTOM_MAX_IO 64

/* Where an importer looks up custom codes: the embedder's registry (may be
 * NULL), then `builtins`. */
typedef struct kiln_custom_resolver {
  const kiln_op_registry *user;
  const kiln_custom_op *const *builtins;
  int num_builtins;
} kiln_custom_resolver;

/* The registration named `name`, or NULL. */
const kiln_custom_op *kiln_custom_resolve(const kiln_custom_resolver *r,
                                          const char *name);

/* One CUSTOM node's record, owned by its graph (kiln_graph.custom_nodes)
 * rather than by the node, so that passes may drop the node freely. */
typedef struct kiln_custom_node {
  kiln_custom_op op; /* copy of the registration */
  char *name;        /* copy of op.name */
  uint8_t *options;  /* copy of the custom_options bytes */
  size_t options_size;
  void *state; /* what op.init made */
  bool has_state;
  struct kiln_custom_node *next;
} kiln_custom_node;

/* Makes a record for registration `op` with a copy of `options`, runs
 * op.init, and links the record into g. On failure nothing is left. */
kiln_status *kiln_custom_node_create(kiln_graph *g, const kiln_custom_op *op,
                                     const void *options, size_t options_size,
                                     const kiln_custom_node **out);
/* Releases every record of a graph (kiln_graph_free calls this). */
void kiln_custom_nodes_free(kiln_graph *g);

/* What a callback runs in (kiln.h keeps it opaque). */
struct kiln_custom_context {
  const kiln_custom_node *node;
  const kiln_custom_tensor *inputs; /* num_inputs */
  const bool *present;              /* false: an omitted optional input */
  int num_inputs;
  kiln_custom_tensor *outputs;
  int num_outputs;
  bool preparing;
  size_t scratch_request; /* set by kiln_custom_request_scratch */
  void *scratch;          /* invoke: the session's scratch, or NULL */
};

#endif
