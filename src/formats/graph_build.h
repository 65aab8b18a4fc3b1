/* graph_build.h - building kiln's IR from a source format that carries no
 * shapes of its own (a SavedModel's GraphDef; later Keras): constants, and
 * operator nodes whose output shapes are worked out by the operator's own
 * shape function as each node is added, so that the next node can read
 * them. A node whose inputs are all constants is evaluated on the spot
 * and becomes a constant itself (weight reshapes, batch-norm arithmetic,
 * shape computations), so later shape functions see its data. Core
 * library: libc only. */
#ifndef KILN_FORMATS_GRAPH_BUILD_H
#define KILN_FORMATS_GRAPH_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/op_attrs.h"

/* The most inputs one node built here takes (ConcatV2 of many tensors
 * included). */
#define KILN_GB_MAX_INPUTS 64

/* The largest output (bytes) a node on constants is folded into. */
#define KILN_GB_MAX_FOLD_BYTES ((size_t)256 << 20)

typedef struct kiln_graph_builder {
  kiln_graph *g;
  const char *source; /* names the model in errors */
  int source_index;   /* stored in each node added */
} kiln_graph_builder;

/* A constant value named `name`, zeroed, of `dtype` and `rank` dims (dims
 * may be NULL for a scalar); *out_data is valid until the next value is
 * added. */
kiln_status *kiln_gb_const(kiln_graph_builder *b, const char *name,
                           kiln_dtype dtype, int rank, const int64_t *dims,
                           int *out_id, void **out_data);
/* A 1-D int32 constant of `count` values. */
kiln_status *kiln_gb_const_i32(kiln_graph_builder *b, const char *name,
                               const int32_t *values, int count, int *out_id);

/* Adds `op` reading `inputs` (-1: an omitted optional input) with the
 * attribute struct `attrs` (NULL for zeroed) and one output named `name`
 * of `dtype` (KILN_DTYPE_INVALID: input 0's), shaped by the op's shape
 * function now; folded to a constant when every input is one. Errors name
 * `name` and the operator. An unknown leading (batch) dimension of a
 * non-constant input is carried to the output's signature. */
kiln_status *kiln_gb_node(kiln_graph_builder *b, kiln_op_type op,
                          const int *inputs, int num_inputs, const void *attrs,
                          const char *name, kiln_dtype dtype, int *out_id);

#endif
