/* quant_ops.h - the quantized (int8 / uint8 / int16) forms of operators
 * whose float code lives elsewhere in ref/. Each float shape function and
 * reference kernel checks its input's type first and hands a quantized
 * node to the hook here, so the float code stays as it was. The kernels
 * follow TFLite's integer arithmetic step by step (quant_math.h), so their
 * results equal LiteRT's reference kernels bit for bit. Multipliers are
 * derived from the tensors' scales at each call: a few frexp()s per node,
 * computed the same way at prepare (to check them) and at invoke. */
#ifndef KILN_KERNELS_REF_QUANT_OPS_H
#define KILN_KERNELS_REF_QUANT_OPS_H

#include "kernels/kernel.h"

/* True when a node's input 0 is int8, uint8 or int16 with quantization
 * parameters (its quantized form applies); the float shape functions call
 * this first. Integer tensors without them keep their old handling. */
bool kiln_q_node(const kiln_op_ctx *ctx);

/* ---- broadcasting binary operators (quant_binary.c) ---- */
typedef enum kiln_qbinary {
  KILN_QB_ADD,
  KILN_QB_SUB,
  KILN_QB_MUL,
  KILN_QB_SQUARED_DIFFERENCE,
  KILN_QB_MAXIMUM,
  KILN_QB_MINIMUM,
  KILN_QB_PRELU,
} kiln_qbinary;

kiln_status *kiln_qshape_binary(const kiln_op_ctx *ctx, kiln_qbinary op);
kiln_status *kiln_qref_binary(const kiln_op_ctx *ctx, kiln_qbinary op);

/* DIV on uint8, int8 and int16 (quant_div.c): the divisor's fixed-point
 * reciprocal times the dividend, rescaled by s1 / (s2 so). */
kiln_status *kiln_qshape_div(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_div(const kiln_op_ctx *ctx);

/* Comparisons: both inputs rescaled to a common fixed-point form first
 * (int8 / uint8), or compared as stored (int16), as TFLite does. `kind`
 * is 0..5 for LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, EQUAL, NOT_EQUAL. */
kiln_status *kiln_qshape_compare(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_compare(const kiln_op_ctx *ctx, int kind);

/* ---- pooling (quant_pool.c) ---- */
kiln_status *kiln_qshape_pool_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_pool_2d(const kiln_op_ctx *ctx, bool average);

/* ---- activations (quant_activation.c) ---- */
typedef enum kiln_qunary {
  KILN_QU_RELU,
  KILN_QU_RELU6,
  KILN_QU_RELU_N1_TO_1,
  KILN_QU_LEAKY_RELU,
  KILN_QU_LOGISTIC,
  KILN_QU_TANH,
  KILN_QU_GELU,
  KILN_QU_EXP,
  KILN_QU_LOG,
  KILN_QU_RSQRT,
  KILN_QU_ABS,
  KILN_QU_ELU, /* int8 only, as TFLite */
} kiln_qunary;

/* After kiln_shape_unary's common checks. */
kiln_status *kiln_qshape_unary(const kiln_op_ctx *ctx, kiln_qunary op);
kiln_status *kiln_qref_unary(const kiln_op_ctx *ctx, kiln_qunary op);

/* The 256-entry table of LOGISTIC, TANH, GELU, EXP, LOG, RSQRT or ELU on
 * an int8 / uint8 node,
 * indexed by the stored value minus the type's minimum (TFLite's LUTPopulate).
 */
kiln_status *kiln_q_lut_build(const kiln_op_ctx *ctx, kiln_qunary op,
                              int16_t table[256]);

/* EXP, LOG and RSQRT on int16 by TFLite's interpolated 513-entry table,
 * and SQRT on int8 / int16 (quant_unary_math.c). */
kiln_status *kiln_qshape_unary_math16(const kiln_op_ctx *ctx, kiln_qunary op);
kiln_status *kiln_qref_unary_math16(const kiln_op_ctx *ctx, kiln_qunary op);
kiln_status *kiln_qshape_sqrt(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_sqrt(const kiln_op_ctx *ctx);

/* LOGISTIC (tanh_op false) and TANH on int16 (quant_sigmoid16.c). */
kiln_status *kiln_qshape_sigmoid16(const kiln_op_ctx *ctx, bool tanh_op);
kiln_status *kiln_qref_sigmoid16(const kiln_op_ctx *ctx, bool tanh_op);

/* TFLite's float GELU that its GELU tables sample (GeluTransform, or
 * GeluTransformApproximate when approximate). */
float kiln_q_gelu_transform(float x, bool approximate);

/* GELU on int16 (quant_gelu16.c): TFLite's interpolated 513-entry table,
 * built in float. */
kiln_status *kiln_qshape_gelu16(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_gelu16(const kiln_op_ctx *ctx);

/* HARD_SWISH (quant_hard_swish.c), int8 / uint8. */
kiln_status *kiln_qshape_hard_swish(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_hard_swish(const kiln_op_ctx *ctx);

/* ---- SOFTMAX (quant_softmax.c), int8 / uint8 ---- */
kiln_status *kiln_qshape_softmax(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_softmax(const kiln_op_ctx *ctx);
/* gemmlowp's exp of a Q5.26 value a <= 0, as Q0.31, and 1 / (1 + a) of a
 * Q0.31 a in [0, 1), as Q0.31 (shared with LOG_SOFTMAX). */
int32_t kiln_q_exp_on_negative(int32_t a);
int32_t kiln_q_one_over_one_plus(int32_t a);
/* A softmax row's Q12.19 sum (its bits) shifted left until its top bit is
 * set, and in *headroom_plus_one by how much (TFLite's CountLeadingZeros,
 * which gives 32 for 0). A sum that wrapped to 0 (rows of 8192 equal
 * values) shifts as x86 shifts by 32, by 0: the result is 0. */
static inline uint32_t kiln_q_normalize_sum(uint32_t sum,
                                            int *headroom_plus_one) {
  if (sum == 0) {
    *headroom_plus_one = 32;
    return 0;
  }
  *headroom_plus_one = __builtin_clz(sum);
  return sum << *headroom_plus_one;
}
/* 1 / sqrt(v) as a Q31 multiplier and a left shift (TFLite's
 * GetInvSqrtQuantizedMultiplierExp with its reverse shift of -1;
 * quant_l2norm.c, shared with the integer LSTM's layer norm). */
void kiln_q_inv_sqrt(int32_t v, int32_t *multiplier, int *shift);
/* LOG_SOFTMAX (quant_log_softmax.c), int8 / uint8. */
kiln_status *kiln_qshape_log_softmax(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_log_softmax(const kiln_op_ctx *ctx);
/* int16 (quant_softmax16.c). */
kiln_status *kiln_qshape_softmax16(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_softmax16(const kiln_op_ctx *ctx);

/* ---- L2_NORMALIZATION (quant_l2norm.c), int8 / uint8 ---- */
kiln_status *kiln_qshape_l2norm(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_l2norm(const kiln_op_ctx *ctx);

/* ---- resizing (quant_resize.c); RESIZE_NEAREST_NEIGHBOR copies bytes ---- */
kiln_status *kiln_qshape_resize(const kiln_op_ctx *ctx);
/* Bilinear's integer (int8, int16) coordinates for an output of out_h x
 * out_w: refused where they would leave int32 or their lower source index
 * pass the last input pixel (TFLite reads past its input there). */
kiln_status *kiln_qshape_resize_coordinates(const kiln_op_ctx *ctx,
                                            int64_t out_h, int64_t out_w);
kiln_status *kiln_qref_resize_bilinear(const kiln_op_ctx *ctx);

/* ---- reductions (quant_reduce.c; reduce.c walks the axes) ---- */
kiln_status *kiln_qshape_reduce(const kiln_op_ctx *ctx, bool max);

/* How a MEAN or SUM turns the sum of `count` stored values into one output
 * value. */
typedef struct kiln_q_reduce {
  int32_t in_zero_point, out_zero_point, qmin, qmax;
  int32_t multiplier;
  int shift;
  int64_t count;
} kiln_q_reduce;

/* REDUCE_PROD on int8 / int16 (TFLite has no uint8 form): every step's
 * product is rescaled by s_in / s_out^(1/count) so the int32 accumulator
 * never overflows, and the result once more (the count-th factor).
 * `reduced` marks the reduced axes of input 0 (kiln_mark_axes). */
kiln_status *kiln_qshape_reduce_prod(const kiln_op_ctx *ctx);
kiln_status *kiln_qref_reduce_prod(const kiln_op_ctx *ctx, const bool *reduced);

kiln_status *kiln_q_reduce_plan(const kiln_op_ctx *ctx, bool mean,
                                int64_t count, kiln_q_reduce *plan);
int32_t kiln_q_reduce_value(const kiln_q_reduce *plan, int64_t sum);

#endif
