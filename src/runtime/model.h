/* model.h - the loaded model: an immutable graph plus the bytes it points
 * into (a private copy of the file or buffer), shared by every session. */
#ifndef KILN_RUNTIME_MODEL_H
#define KILN_RUNTIME_MODEL_H

#include "core/graph.h"
#include "kernels/variants.h"
#include "kiln.h"
#include "passes/passes.h"

struct kiln_model {
  kiln_options options;
  kiln_allocator allocator; /* copy of options.allocator when given */
  const kiln_allocator *alloc;
  kiln_graph *graph;
  /* The model's bytes, owned: read from the file, or copied from the
   * caller's buffer. Constants point into it, so nothing done to the
   * file after load changes or faults what runs. */
  void *buffer;
  char *source; /* file name for messages */
  const char *format;
  kiln_isa isa;            /* instruction set of every session's kernels */
  bool int8_fp32_rounding; /* kiln_options.int8_rounding resolved */
  /* Per node: weights repacked at load by the variant packed_by[n]. */
  void **packed;
  const kiln_kernel_variant **packed_by;
  /* Per node: quantization parameters built at load (NULL for float
   * nodes); kernels read them through kiln_op_ctx.quant. */
  struct kiln_quant_params **quant;
  kiln_pass_report passes; /* what the load-time passes did */
  /* Control flow (runtime/control_flow.c): every subgraph of the file that
   * subgraph 0 reaches, as a model of its own (its graph, packed weights
   * and quantization parameters, the root's source and options), indexed
   * as in the file: entry 0 is the root model itself, unreached entries
   * are NULL. Only the root holds the array and frees the others; each
   * points at the root. */
  struct kiln_model **subgraphs;
  int num_subgraphs;
  const struct kiln_model *root;
  int num_variables; /* distinct resource variables named by VAR_HANDLEs */
};

/* A model over a graph built in memory, which it takes (freed with the
 * model, or at once on failure); no subgraphs, no custom operators. With
 * run_passes false every value of the graph keeps its node, so a caller
 * that made them outputs reads them all (calibration, error reports). */
kiln_status *kiln_model_from_graph(kiln_graph *graph, const char *source,
                                   const kiln_options *options, bool run_passes,
                                   kiln_model **out_model);

/* Sends a message to the embedder's log callback when its level allows. */
void kiln_log(const kiln_options *options, kiln_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
