/* quant_math.h - TFLite's fixed-point arithmetic for quantized kernels.
 *
 * Quantized kernels must reproduce LiteRT's integer results bit for bit, so
 * every rescale goes through the same steps TFLite uses: a real multiplier
 * becomes a Q31 integer and a power-of-two shift (kiln_quantize_multiplier),
 * and int32 accumulators are rescaled by a rounding doubling high multiply
 * followed by a rounding right shift ("double rounding", TFLite's default
 * build). The helpers are inline because kernels call them per element.
 * Names are stable: part B of the int8 work (the elementwise ops) builds on
 * them. Shift convention everywhere: positive = left shift, negative =
 * right shift, as TFLite's `shift` outputs. */
#ifndef KILN_KERNELS_REF_QUANT_MATH_H
#define KILN_KERNELS_REF_QUANT_MATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/op_attrs.h"
#include "kiln.h"

/* Splits m >= 0 into a Q31 multiplier in [2^30, 2^31) and a shift with
 * m ~= multiplier * 2^(shift - 31); m == 0 (or m below 2^-32) gives 0, 0. */
void kiln_quantize_multiplier(double m, int32_t *multiplier, int *shift);

/* kiln_quantize_multiplier for 0 < m < 1: *left_shift is <= 0. */
void kiln_quantize_multiplier_smaller_than_one(double m, int32_t *multiplier,
                                               int *left_shift);

/* kiln_quantize_multiplier for m > 1: *left_shift is >= 0. */
void kiln_quantize_multiplier_greater_than_one(double m, int32_t *multiplier,
                                               int *left_shift);

/* a * b / 2^31 rounded to nearest with ties toward +infinity (TFLite's
 * nudge-then-truncate), saturating the one overflow case (INT32_MIN *
 * INT32_MIN) to INT32_MAX. */
static inline int32_t kiln_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : (1 - (INT64_C(1) << 30));
  /* C division truncates toward zero, as TFLite's does. */
  return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero. TFLite's
 * version asserts exponent <= 31, but its int8 SOFTMAX asks for up to 35
 * (the sum of a 1000-class row's exponentials has 9-12 bits over one, so
 * LiteRT's reference kernels abort there); the quotient is then below
 * one half, and only -2^31 / 2^32 rounds away from 0. */
static inline int32_t kiln_rounding_divide_by_pot(int32_t x, int exponent) {
  if (exponent <= 0) return x;
  if (exponent >= 32) return exponent == 32 && x == INT32_MIN ? -1 : 0;
  const int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  /* Arithmetic shift written without relying on signed >> of negatives. */
  int32_t floor_div = x >= 0 ? (x >> exponent) : ~(~x >> exponent);
  return floor_div + (remainder > threshold ? 1 : 0);
}

/* x * 2^left_shift wrapping as two's complement (TFLite's int32 product). */
static inline int32_t kiln_shift_left_wrap(int32_t x, int left_shift) {
  if (left_shift >= 32) return 0; /* every bit shifted out */
  return (int32_t)(uint32_t)((uint32_t)x << left_shift);
}

/* x * 2^e saturating to int32, for e in [1, 30] (gemmlowp's
 * SaturatingRoundingMultiplyByPOT with a positive exponent). */
static inline int32_t kiln_sat_shift_left(int32_t x, int e) {
  const int32_t limit = (int32_t)((UINT32_C(1) << (31 - e)) - 1);
  if (x > limit) return INT32_MAX;
  if (x < -limit) return INT32_MIN;
  return kiln_shift_left_wrap(x, e);
}

/* (a + b) / 2 rounded half away from zero (gemmlowp's RoundingHalfSum). */
static inline int32_t kiln_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* x * multiplier * 2^(shift - 31), TFLite's MultiplyByQuantizedMultiplier
 * for int32 accumulators (shift in [-31, 30]). */
static inline int32_t kiln_mul_by_quantized_multiplier(int32_t x,
                                                       int32_t multiplier,
                                                       int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return kiln_rounding_divide_by_pot(
      kiln_srdhm(kiln_shift_left_wrap(x, left), multiplier), right);
}

/* x * multiplier * 2^(shift - 31) with one rounding (nearest, ties up)
 * of the full product: the single-rounding MultiplyByQuantizedMultiplier,
 * which LiteRT's FULLY_CONNECTED kernels give for int32 and int64 sums
 * alike (its convolutions round twice, as kiln_mul_by_quantized_multiplier,
 * or use the Q15 form below). The 64-bit product wraps as TFLite's does
 * for sums beyond 2^32; shift in [-31, 30]. */
static inline int32_t kiln_mul_by_quantized_multiplier_single(
    int64_t x, int32_t multiplier, int shift) {
  const int total_shift = 31 - shift;
  uint64_t wrapped = (uint64_t)x * (uint64_t)(int64_t)multiplier +
                     (UINT64_C(1) << (total_shift - 1));
  int64_t y = (int64_t)wrapped;
  /* Arithmetic right shift (floor), spelled out for negatives. */
  return (int32_t)(y >= 0 ? (y >> total_shift) : ~(~y >> total_shift));
}

/* The int64-accumulator form (16x8 convolutions and dense): the multiplier
 * is rounded to Q15 and one rounding shift applied; |x| < 2^47, shift in
 * [-31, 7]. */
static inline int32_t kiln_mul_by_quantized_multiplier_i64(int64_t x,
                                                           int32_t multiplier,
                                                           int shift) {
  const int32_t reduced = multiplier < 0x7FFF0000
                              ? (int32_t)((multiplier + (1 << 15)) >> 16)
                              : 0x7FFF;
  /* Outside its contract (a shift above 14 from absurd scales) the
   * result is meaningless but defined: no shift count below 1. */
  const int total_shift = shift > 14 ? 1 : 15 - shift;
  int64_t y = x * (int64_t)reduced + (INT64_C(1) << (total_shift - 1));
  /* Arithmetic right shift (floor), spelled out for negatives. */
  int64_t q = y >= 0 ? (y >> total_shift) : ~(~y >> total_shift);
  return (int32_t)q;
}

/* KILN_INT8_ROUNDING_FP32 (kiln.h): a channel's Q31 multiplier and shift
 * as one float scale, multiplier * 2^(shift - 31), rounded once. */
static inline float kiln_fp32_requant_scale(int32_t multiplier, int shift) {
  return (float)ldexp((double)multiplier, shift - 31);
}

/* The float requantization: the sum times the scale in float, clamped to
 * [act_min, act_max] less the zero point while still float (so the
 * conversion cannot overflow), rounded half to even, plus the zero point.
 * The vector output stages compute these same IEEE steps. */
static inline int32_t kiln_fp32_requantize(int32_t acc, float scale,
                                           int32_t zero_point, int32_t act_min,
                                           int32_t act_max) {
  float x = (float)acc * scale;
  const float lo = (float)(act_min - zero_point);
  const float hi = (float)(act_max - zero_point);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  return (int32_t)lrintf(x) + zero_point;
}

/* x * multiplier * 2^(left_shift - 31) for left_shift <= 0. */
static inline int32_t kiln_mul_by_quantized_multiplier_smaller_than_one(
    int32_t x, int32_t multiplier, int left_shift) {
  return kiln_rounding_divide_by_pot(kiln_srdhm(x, multiplier), -left_shift);
}

/* x * multiplier * 2^(left_shift - 31) for left_shift >= 0. */
static inline int32_t kiln_mul_by_quantized_multiplier_greater_than_one(
    int32_t x, int32_t multiplier, int left_shift) {
  return kiln_srdhm(kiln_shift_left_wrap(x, left_shift), multiplier);
}

/* The representable range of an integer dtype (int8, uint8, int16, int32);
 * false for other types. */
bool kiln_quant_type_range(kiln_dtype dtype, int32_t *qmin, int32_t *qmax);

/* TFLite's rounding of floats: half away from zero (std::round). */
static inline float kiln_quant_round(float x) { return roundf(x); }

/* A float rounded and converted to int32, saturating out-of-range values
 * and mapping NaN to 0 (TFLite leaves those undefined). */
static inline int32_t kiln_quant_round_to_i32(float x) {
  float r = roundf(x);
  if (!(r == r)) return 0;
  if (r >= 2147483648.0f) return INT32_MAX;
  if (r <= -2147483648.0f) return INT32_MIN;
  return (int32_t)r;
}

/* TFLite's AffineQuantize of one value: round(x / scale) + zero_point,
 * clamped to [qmin, qmax]; the division is in float as TFLite's is. */
static inline int32_t kiln_quantize_f32(float x, float scale,
                                        int32_t zero_point, int32_t qmin,
                                        int32_t qmax) {
  int64_t q = (int64_t)kiln_quant_round_to_i32(x / scale) + zero_point;
  return (int32_t)(q < qmin ? qmin : (q > qmax ? qmax : q));
}

/* TFLite's Dequantize of one value: scale * (q - zero_point) computed in
 * double, then rounded to float. */
static inline float kiln_dequantize_f32(int32_t q, float scale,
                                        int32_t zero_point) {
  return (float)((double)scale * (double)((int64_t)q - zero_point));
}

/* The clamp a fused activation (NONE, RELU, RELU6, RELU_N1_TO_1) becomes on
 * a quantized output of `dtype` with `scale` and `zero_point`, as TFLite's
 * CalculateActivationRangeQuantized: bounds quantized in float with
 * round-half-away, intersected with the type's range. Other activations
 * give KILN_ERR_UNSUPPORTED naming them. */
kiln_status *kiln_quant_activation_range(kiln_activation act, kiln_dtype dtype,
                                         float scale, int32_t zero_point,
                                         int32_t *act_min, int32_t *act_max);

#endif
