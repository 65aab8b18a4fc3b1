/* passes.c - the load-time pass pipeline: which rewrites run, in what order.
 * Each pass lives in its own file and keeps the graph's outputs unchanged. */
#include "passes/passes.h"

#include <string.h>

kiln_status *kiln_run_passes(kiln_graph *g, const char *source,
                             kiln_pass_report *out_report) {
  memset(out_report, 0, sizeof *out_report);
  out_report->nodes_before = g->num_nodes;
  KILN_TRY(kiln_pass_fold_constants(g, source, &out_report->folded));
  out_report->nodes_after = g->num_nodes;
  return NULL;
}
