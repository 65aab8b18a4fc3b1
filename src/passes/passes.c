/* passes.c - the load-time pass pipeline: which rewrites run, in what order.
 * Each pass lives in its own file and keeps the graph's outputs unchanged. */
#include "passes/passes.h"

#include <string.h>

/* A round that changes anything removes a node, so the rounds end anyway;
 * the cap keeps a pathological chain from costing many sweeps at load. */
enum { MAX_ROUNDS = 8 };

kiln_status *kiln_run_passes(kiln_graph *g, const char *source,
                             kiln_pass_report *out_report) {
  memset(out_report, 0, sizeof *out_report);
  out_report->nodes_before = g->num_nodes;
  /* Constants first: batch-norm scales often arrive as small constant
   * subgraphs (gamma * rsqrt(var + eps)) that must be values to fold. */
  KILN_TRY(kiln_pass_fold_constants(g, source, &out_report->folded));
  /* Batch norms before activations, since conv -> MUL -> ADD -> RELU only
   * exposes the RELU to the conv once MUL and ADD are gone; removing a
   * no-op can in turn expose a new pair, hence the rounds. */
  for (int round = 0; round < MAX_ROUNDS; round++) {
    int bn = 0, fused = 0, noops = 0, dead = 0, released = 0;
    KILN_TRY(kiln_pass_fold_batchnorm(g, &bn));
    KILN_TRY(kiln_pass_fuse_activations(g, &fused));
    KILN_TRY(kiln_pass_remove_noops(g, &noops));
    KILN_TRY(kiln_pass_remove_dead(g, &dead, &released));
    out_report->folded_batchnorms += bn;
    out_report->fused_activations += fused;
    out_report->removed_noops += noops;
    out_report->removed_dead += dead;
    out_report->released_constants += released;
    if (bn + fused + noops + dead == 0) break;
  }
  /* int8 swish pairs: no other pass looks at int8 LOGISTIC or MUL nodes,
   * so the order does not matter; the rounds have folded what they can. */
  KILN_TRY(kiln_pass_fuse_swish8(g, &out_report->fused_swish8));
  /* Last, on the graph the rounds left: batch norms and activations are
   * in the convolutions by now, so the chains show as three nodes. */
  KILN_TRY(kiln_pass_fuse_bottlenecks(g, &out_report->fused_bottlenecks));
  int qfused = 0;
  KILN_TRY(kiln_pass_fuse_qbottlenecks(g, &qfused));
  out_report->fused_bottlenecks += qfused;
  /* After the bottlenecks: their project convolution is often followed by
   * a residual ADD too (MobileNetV2), and fusing the whole chain saves more
   * than fusing the ADD, which would leave the chain unfusable. */
  KILN_TRY(kiln_pass_fuse_residuals(g, &out_report->fused_residuals));
  out_report->nodes_after = g->num_nodes;
  return NULL;
}
