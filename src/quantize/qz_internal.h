/* qz_internal.h - the quantizer's steps, shared by its files: graph
 * helpers (qz_graph.c), calibration (qz_calibrate.c), the integer rewrite
 * (qz_rewrite.c), the weight-only modes (qz_weights.c) and the error
 * report (qz_report.c). Value ids are those of kiln_tflite_import on the
 * float model, which every step re-imports, so per-value arrays line up. */
#ifndef KILN_QUANTIZE_QZ_INTERNAL_H
#define KILN_QUANTIZE_QZ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"
#include "kiln_quantize.h"
#include "qz_observer.h"

/* The float model's graph as kiln imports it, without load-time passes. */
kiln_status *qz_import(const void *model, size_t size, const char *source,
                       kiln_graph **out);

/* A constant value with `data` (nbytes, copied into memory the graph
 * owns) and per-tensor (count 1) or per-channel quantization (`scales`
 * NULL: none). */
kiln_status *qz_add_constant(kiln_graph *g, const char *name, kiln_dtype dtype,
                             int rank, const int64_t *dims, const void *data,
                             size_t nbytes, const float *scales,
                             const int64_t *zero_points, int count, int axis,
                             int *out_id);
/* Sets a value's quantization (arrays copied into the graph's memory). */
kiln_status *qz_set_quant(kiln_graph *g, int value, const float *scales,
                          const int64_t *zero_points, int count, int axis);

/* Moves the graph's nodes out (g->nodes empty) so that a rewrite appends
 * them back in a new order; qz_take_node re-adds old node i with its own
 * attributes and new inputs; qz_drop_old frees what is left. */
typedef struct qz_old_nodes {
  kiln_node *nodes;
  int count;
} qz_old_nodes;
void qz_take_nodes(kiln_graph *g, qz_old_nodes *old);
kiln_status *qz_readd_node(kiln_graph *g, qz_old_nodes *old, int index,
                           const int *inputs);
void qz_drop_old(kiln_graph *g, qz_old_nodes *old);

/* Adds `op` (QUANTIZE or DEQUANTIZE) from value `in` to a new value named
 * name+suffix of dtype `dtype`, the shape of `in`. */
kiln_status *qz_add_convert(kiln_graph *g, kiln_op_type op, int in,
                            kiln_dtype dtype, const char *suffix,
                            int source_index, int *out_value);

/* Removes values no node or graph input/output names (replaced weights). */
kiln_status *qz_drop_unused_values(kiln_graph *g);

/* Every float32 activation (graph inputs aside) of `g` made an output, in
 * value order; *ids[i] is output i's value id. The graph is taken by the
 * model (which runs without load-time passes, so every value survives). */
kiln_status *qz_observing_model(kiln_graph *g, const char *source,
                                const int *values, int count, kiln_model **out);
/* The float32 activations produced by nodes, in value order. */
kiln_status *qz_float_activations(const kiln_graph *g, int **out_ids,
                                  int *out_count);

/* Runs the float model on every calibration sample, observing each float
 * tensor (obs has g's num_values entries, inputs included). */
kiln_status *qz_calibrate(const void *model, size_t size, const char *source,
                          const kiln_qz_options *opt, const kiln_qz_source *src,
                          qz_observer *obs, int num_obs);

/* qz_calibrate on a graph already built (which it takes and frees). */
kiln_status *qz_calibrate_graph(kiln_graph *g, const char *source,
                                const kiln_qz_options *opt,
                                const kiln_qz_source *src, qz_observer *obs,
                                int num_obs);

/* Per original value: its integer twin and quantization after the
 * integer rewrite (report uses it); twin -1 where none. */
typedef struct qz_mapping {
  int *int_value;
  int count;
} qz_mapping;

/* The int8 / int16x8 rewrite of `g` in place. `map` (may be NULL) gets,
 * per original value, the id of its integer form. *quantized counts the
 * nodes made integer. */
kiln_status *qz_rewrite_integer(kiln_graph *g, const kiln_qz_options *opt,
                                const qz_observer *obs, int num_obs,
                                qz_mapping *map, int *quantized);

/* Dynamic range (int8 weights of FULLY_CONNECTED, CONV_2D and
 * BATCH_MATMUL) and float16 (every float constant) in place; *count: the
 * constants converted. */
kiln_status *qz_rewrite_dynamic(kiln_graph *g, const kiln_qz_options *opt,
                                int *count);
kiln_status *qz_rewrite_float16(kiln_graph *g, int *count);

/* Symmetric int8 of a float tensor, per channel along `axis` (-1: per
 * tensor): out[] int8, scales[] per channel (count returned), each at
 * least min_scales[c] when given. */
int qz_symmetric_int8(const float *w, int rank, const int64_t *dims, int axis,
                      const float *min_scales, int8_t *out, float *scales);

/* The --report table. */
kiln_status *qz_report(const void *model, size_t size, const char *source,
                       const kiln_qz_options *opt, const kiln_qz_source *src,
                       const qz_observer *obs, int num_obs);

size_t qz_numel(const kiln_value *v);

#endif
