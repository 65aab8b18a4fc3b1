/* pass_util.h - bookkeeping shared by the rewriting passes. */
#ifndef KILN_PASSES_PASS_UTIL_H
#define KILN_PASSES_PASS_UTIL_H

#include <stdbool.h>

#include "core/graph.h"

/* Who reads and writes each value, taken once per pass and kept current by
 * the pass as it rewires (ids of values added later are out of range). */
typedef struct kiln_pass_uses {
  int num_values; /* values when built */
  int *readers;   /* node input slots reading the value */
  int *producer;  /* index of the node writing it, -1 when none */
  bool *is_output;
  bool *is_input;
} kiln_pass_uses;

kiln_status *kiln_pass_uses_build(const kiln_graph *g, kiln_pass_uses *u);
void kiln_pass_uses_free(const kiln_graph *g, kiln_pass_uses *u);

/* Index of the first node at or after `from` that reads value v, or -1. */
int kiln_pass_next_reader(const kiln_graph *g, int v, int from);

/* Points every node input that reads `from` at `to` instead. */
void kiln_pass_replace_reads(kiln_graph *g, int from, int to);

/* Releases the nodes flagged in remove[] and closes the gaps, keeping the
 * order of the rest. Returns how many went. */
int kiln_pass_remove_nodes(kiln_graph *g, const bool *remove);

/* The fused activation field of a node whose op has one, else NULL. */
kiln_activation *kiln_pass_fused_activation(kiln_node *n);

/* float32 without quantization: the only kind the rewrites reason about. */
bool kiln_pass_is_plain_float(const kiln_value *v);

/* Elements of a value's default shape. */
int64_t kiln_pass_numel(const kiln_value *v);

/* Whether v is a constant whose elements all equal `x` (int or float). */
bool kiln_pass_constant_all(const kiln_value *v, double x);

/* Adds a constant of `dtype` and shape dims/rank with zeroed memory owned by
 * the graph, returned in *out_data (valid until the next value is added).
 * The graph's values may move: re-read any kiln_value pointer after. */
kiln_status *kiln_pass_add_constant(kiln_graph *g, const char *name,
                                    kiln_dtype dtype, int rank,
                                    const int64_t *dims, int *out_id,
                                    void **out_data);

#endif
