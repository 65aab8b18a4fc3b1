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

/* Evaluates the one node `n` when all its inputs are constants (as the pass
 * above does), leaving its outputs constants; the caller removes the node.
 * Nothing happens to other nodes (importers fold as they build). */
kiln_status *kiln_pass_fold_node(kiln_graph *g, const kiln_node *n);

/* Merges MUL, ADD or SUB by a per-channel float constant (shape [C], [1] or
 * [1,..,1,C]) into the weights and bias of the CONV_2D, DEPTHWISE_CONV_2D or
 * FULLY_CONNECTED before it, when that layer has constant float weights and
 * no fused activation and its output goes nowhere else. New weights are new
 * constants owned by the graph; shared originals are left as they are. Sets
 * *out_folded to the number of MUL/ADD/SUB nodes removed. */
kiln_status *kiln_pass_fold_batchnorm(kiln_graph *g, int *out_folded);

/* Turns RELU, RELU6, RELU_N1_TO_1, HARD_SWISH and LOGISTIC nodes, and the
 * pair MUL(x, LOGISTIC(x)) (as SWISH), into the fused activation of the
 * operator producing their input (convolutions, FULLY_CONNECTED, ADD, SUB,
 * MUL, DIV, CONCATENATION, the 2-D pools, L2_NORMALIZATION; for the
 * activations that are not clamps, only where kiln_activation_fusable says
 * every kernel of the op computes them) when nothing else reads that
 * intermediate and it is not a graph output; an operator with an
 * activation already takes one more only when the two compose exactly.
 * Sets *out_fused to the number of activations fused (a swish pair, two
 * nodes, counts once). */
kiln_status *kiln_pass_fuse_activations(kiln_graph *g, int *out_fused);

/* Removes nodes that pass their input through unchanged: RESHAPE, SQUEEZE
 * and EXPAND_DIMS that keep a fixed shape, CAST to the same type, ADD/SUB
 * of zeros, MUL/DIV by ones and PAD/PADV2/MIRROR_PAD by zero. Readers are
 * pointed at the input; a node writing a graph output stays. Sets
 * *out_removed. */
kiln_status *kiln_pass_remove_noops(kiln_graph *g, int *out_removed);

/* Removes nodes none of whose outputs reach a graph output, then releases
 * the owned memory of constants nothing reads any more. Sets *out_removed
 * (nodes) and *out_released (constants emptied). */
kiln_status *kiln_pass_remove_dead(kiln_graph *g, int *out_removed,
                                   int *out_released);

/* Turns [1x1 CONV_2D ->] DEPTHWISE_CONV_2D (3x3) -> 1x1 CONV_2D chains
 * into FUSED_BOTTLENECK nodes when the intermediates have no other reader,
 * are not graph outputs, every weight and bias is a float32 constant and
 * the activations are clamps (fuse_bottleneck.c says when it declines on
 * shape). Sets *out_fused to the number of nodes made. */
kiln_status *kiln_pass_fuse_bottlenecks(kiln_graph *g, int *out_fused);
/* The int8 chains (fuse_qbottleneck.c): FUSED_BOTTLENECK nodes marked
 * quantized, equal bit for bit to the three operators; KILN_QBOTTLENECK=0
 * turns it off. */
kiln_status *kiln_pass_fuse_qbottlenecks(kiln_graph *g, int *out_fused);

/* Turns ADD(conv, x), conv a 1x1 CONV_2D without activation read only by
 * the ADD, into that CONV_2D with residual input 3 = x and the ADD's
 * activation, when the shapes are equal (no broadcasting), everything is
 * float32 and the 1x1 GEMM variants run the result (fuse_residual.c). Sets
 * *out_fused to the number of ADDs removed. */
kiln_status *kiln_pass_fuse_residuals(kiln_graph *g, int *out_fused);

/* Turns MUL(x, LOGISTIC(x)) on int8 per-tensor quantized values (either
 * operand order), the logistic read only by the MUL and not a graph
 * output, into one QUANT_LUT8 node whose table the reference LOGISTIC and
 * MUL kernels compute at load for all 256 bytes (fuse_swish8.c). Sets
 * *out_fused to the number of pairs replaced. */
kiln_status *kiln_pass_fuse_swish8(kiln_graph *g, int *out_fused);

/* What the load-time pipeline did, for `kiln info`. */
typedef struct kiln_pass_report {
  int nodes_before, nodes_after;
  int folded;             /* nodes turned into constants */
  int folded_batchnorms;  /* MUL/ADD/SUB merged into layer weights */
  int fused_activations;  /* activations merged into their producer */
  int removed_noops;      /* nodes that passed their input through */
  int removed_dead;       /* nodes whose results nothing used */
  int released_constants; /* unused constants whose memory was freed */
  int fused_bottlenecks;  /* depthwise chains made FUSED_BOTTLENECK nodes */
  int fused_residuals;    /* ADDs merged into 1x1 CONV_2D as residuals */
  int fused_swish8;       /* int8 swish pairs made QUANT_LUT8 nodes */
} kiln_pass_report;

/* Runs every load-time pass in order (see passes.c). */
kiln_status *kiln_run_passes(kiln_graph *g, const char *source,
                             kiln_pass_report *out_report);

#endif
