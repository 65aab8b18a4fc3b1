/* passes.h - graph-to-graph rewrites run after import. */
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "core/graph.h"

/* Evaluates every node whose inputs are all constants (for example the
 * DEQUANTIZE of float16 weights) with its reference kernel, turns its
 * outputs into constants owned by the graph and removes the node, so no
 * session repeats the work. `source` names the model in messages. Sets
 * *out_folded to the number of nodes removed. */
kiln_status *kiln_pass_fold_constants(kiln_graph *g, const char *source,
                                      int *out_folded);

/* What the load-time pipeline did, for `kiln info`. */
typedef struct kiln_pass_report {
  int nodes_before, nodes_after;
  int folded; /* nodes turned into constants */
} kiln_pass_report;

/* Runs every load-time pass in order (see passes.c). */
kiln_status *kiln_run_passes(kiln_graph *g, const char *source,
                             kiln_pass_report *out_report);

#endif
