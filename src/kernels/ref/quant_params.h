/* quant_params.h - what a quantized (or hybrid) matrix-product node needs
 * beyond its tensors, computed once at load: TFLite's per-channel
 * requantization multipliers and shifts, the bias with the input zero
 * point folded in, the fused activation as an integer clamp, and for
 * hybrid nodes the weights' scales and row sums.
 *
 * The model builds one block per node (kiln_quant_params_build, from the
 * node's constant scales and weights) and every session shares it through
 * kiln_op_ctx.quant, so kernels never compute a multiplier or allocate at
 * invoke. A future packed int8 variant reads the same block. Nodes
 * covered: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED and
 * BATCH_MATMUL whose input is int8, uint8 or int16 (integer path) or whose
 * input is float32 and weights int8 (hybrid path, all five ops). */
#ifndef KILN_KERNELS_REF_QUANT_PARAMS_H
#define KILN_KERNELS_REF_QUANT_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ops.h"
#include "kernels/kernel.h"

typedef struct kiln_quant_params {
  bool hybrid; /* float activations, int8 weights */
  /* Sums in int64 with TFLite's int64 rescale: int16 inputs with an int64
   * bias, and BATCH_MATMUL and TRANSPOSE_CONV on int16 always. Other int16
   * nodes without bias or with an int32 one stay in int32, as TFLite's
   * kernels do. */
  bool wide_acc;
  /* The int32 rescale rounds once (LiteRT's FULLY_CONNECTED) rather than
   * twice (its convolutions): kiln_q_requantize picks by this. */
  bool single_rounding;
  int channels;             /* output channels (1 for BATCH_MATMUL) */
  int32_t input_zp;         /* the activation input's zero point */
  int32_t filter_zp;        /* per-tensor weights' zero point (uint8 legacy) */
  int32_t output_zp;        /* integer path */
  int32_t act_min, act_max; /* the fused activation as a clamp */
  int32_t *multiplier;      /* per channel: Q31 input*filter/output scale */
  int *shift;               /* per channel, TFLite's convention */
  /* Per channel: bias - input_zp * sum(weights of the channel), when the
   * weights are constant with zero point 0 (int8 / uint8 inputs); NULL
   * otherwise, and kernels then offset every product as TFLite does. */
  int32_t *bias32;
  /* Per channel, wide_acc: the int64 bias (an int16 input's zero point is
   * 0, so no correction); NULL without bias. */
  int64_t *bias64;
  /* Hybrid: per channel the weights' scale, and the sum of the channel's
   * int8 weights (for inputs quantized with a zero point). */
  float *filter_scale;
  int32_t *filter_sum;
  /* Integer LSTM and UNIDIRECTIONAL_SEQUENCE_LSTM (lstm_integer.h): their
   * gates' multipliers and folded biases; NULL for other nodes. */
  const struct kiln_lstm_qparams *lstm;
  /* Set by the model after the build (KILN_INT8_ROUNDING_FP32): variants
   * that have a float requantization pack for it. The reference kernels
   * always round as TFLite's do. */
  bool fp32_rounding;
} kiln_quant_params;

/* Whether a node of `op` with these inputs takes the quantized or hybrid
 * path (its input is an integer type, or float32 with int8 weights). */
bool kiln_quant_node(kiln_op_type op, const kiln_op_ctx *ctx);
bool kiln_quant_node_hybrid(kiln_op_type op, const kiln_op_ctx *ctx);

/* Builds the node's block as one allocation from `a` (free it with
 * kiln_free), or sets *out NULL for nodes that need none. Checks every
 * scale and zero point it reads, naming the tensor: a missing or
 * per-channel parameter count that does not match the output channels,
 * weights' zero points that TFLite requires to be 0, a fused activation
 * with no integer form. */
kiln_status *kiln_quant_params_build(kiln_op_type op, const kiln_op_ctx *ctx,
                                     const kiln_allocator *a,
                                     kiln_quant_params **out);

/* The block a quantized kernel needs, or an error when the runtime did
 * not build it (a caller that skipped kiln_quant_params_build). */
kiln_status *kiln_quant_require_params(const kiln_op_ctx *ctx);

#endif
