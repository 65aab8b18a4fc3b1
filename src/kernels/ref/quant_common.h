/* quant_common.h - small helpers the quantized reference kernels share:
 * reading int8 / uint8 / int16 elements as int32, requantizing an int32
 * or int64 accumulator into an output element, and the checks their shape
 * functions share. Kept apart from quant_math.h, which is TFLite's
 * arithmetic alone. */
#ifndef KILN_KERNELS_REF_QUANT_COMMON_H
#define KILN_KERNELS_REF_QUANT_COMMON_H

#include <stdint.h>

#include "kernels/kernel.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_params.h"

/* Element i of an int8, uint8 or int16 tensor's data. */
static inline int32_t kiln_q_load(const void *data, kiln_dtype t, int64_t i) {
  switch (t) {
    case KILN_INT8:
      return ((const int8_t *)data)[i];
    case KILN_UINT8:
      return ((const uint8_t *)data)[i];
    case KILN_INT16:
      return ((const int16_t *)data)[i];
    default:
      return 0;
  }
}

/* Stores v (already clamped to the type's range) as element i. */
static inline void kiln_q_store(void *data, kiln_dtype t, int64_t i,
                                int32_t v) {
  switch (t) {
    case KILN_INT8:
      ((int8_t *)data)[i] = (int8_t)v;
      break;
    case KILN_UINT8:
      ((uint8_t *)data)[i] = (uint8_t)v;
      break;
    case KILN_INT16:
      ((int16_t *)data)[i] = (int16_t)v;
      break;
    default:
      break;
  }
}

static inline int32_t kiln_q_clamp(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* TFLite's output stage for channel c of an int32 accumulator: rescale
 * (rounding once or twice as the node's kernel in LiteRT does), add the
 * output zero point, clamp to the activation range. */
static inline int32_t kiln_q_requantize(const kiln_quant_params *p, int64_t c,
                                        int32_t acc) {
  int32_t v = (p->single_rounding ? kiln_mul_by_quantized_multiplier_single(
                                        acc, p->multiplier[c], p->shift[c])
                                  : kiln_mul_by_quantized_multiplier(
                                        acc, p->multiplier[c], p->shift[c])) +
              p->output_zp;
  return kiln_q_clamp(v, p->act_min, p->act_max);
}

/* The same for an int64 accumulator (int16 activations, 16x8): the Q15
 * form for convolutions, one full-precision rounding for dense layers. */
static inline int32_t kiln_q_requantize64(const kiln_quant_params *p, int64_t c,
                                          int64_t acc) {
  int32_t v = (p->single_rounding ? kiln_mul_by_quantized_multiplier_single(
                                        acc, p->multiplier[c], p->shift[c])
                                  : kiln_mul_by_quantized_multiplier_i64(
                                        acc, p->multiplier[c], p->shift[c])) +
              p->output_zp;
  return kiln_q_clamp(v, p->act_min, p->act_max);
}

/* Checks that a quantized node's input `index` (named `name`) is present,
 * int8 / uint8 / int16 (or float32 when `allow_float`: a hybrid node), of
 * rank min_rank..max_rank (-1: any) with no empty dimension. */
kiln_status *kiln_q_require_input(const kiln_op_ctx *ctx, int index,
                                  const char *name, bool allow_float,
                                  int min_rank, int max_rank);
/* As kiln_q_require_input, except that dimension 0 (the batch) may be 0
 * (kernel.h: kiln_require_float_batch_input). */
kiln_status *kiln_q_require_batch_input(const kiln_op_ctx *ctx, int index,
                                        const char *name, bool allow_float,
                                        int min_rank, int max_rank);

/* Checks that input `index` (weights) is int8 or uint8 of rank `rank`. */
kiln_status *kiln_q_require_weights(const kiln_op_ctx *ctx, int index,
                                    int rank);

/* The optional bias at `index`: omitted, or a vector of `count` elements
 * (int32/int64 for integer nodes, float32 for hybrid ones; quant_params
 * checked the type). */
kiln_status *kiln_q_check_bias(const kiln_op_ctx *ctx, int index, int64_t count,
                               bool hybrid);

/* Output 0's type for a node whose activation input is `in`: the same
 * type (float32 for a hybrid node, whose input is float32). */
kiln_status *kiln_q_check_output_type(const kiln_op_ctx *ctx,
                                      const kiln_tensor *in);

#endif
