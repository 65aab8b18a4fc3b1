/* quant_log_softmax.c - LOG_SOFTMAX on int8 / uint8 as TFLite's reference
 * kernels compute it, in gemmlowp's fixed point (Qm.n: m integer bits of a
 * signed 32-bit raw value), with SOFTMAX's pieces (quant_softmax.c):
 *   each row's differences from its max are rescaled by s_in to Q5.26
 *   (differences below -radius skipped), their exps (Q0.31) summed in
 *   Q12.19;
 *   log(sum) >= 0 comes out in Q5.26 from gemmlowp's log: the sum,
 *   normalized to [sqrt(1/2), 1) or [1/2, sqrt(1/2)) by its leading zeros,
 *   gives a power of two (times log 2) plus a rational approximation of
 *   the remaining log, whose denominator is inverted by Newton-Raphson;
 *   an element whose difference is not above max(-radius - 1, the Q5.26
 *   minimum plus log(sum) scaled back to input units) gets the type's
 *   minimum; any other gets (diff_q5 - log(sum)) / 2^22 rounded, plus the
 *   zero point TFLite requires (127 for int8, 255 for uint8; output scale
 *   16/256), clamped to the type. */
#include <math.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

enum { INPUT_BITS = 5, ACCUM_BITS = 12, OUTPUT_BITS = 4, LOG_ACCUM_BITS = 6 };

typedef struct log_softmax_plan {
  int32_t multiplier; /* input differences to Q5.26 */
  int left_shift;
  int32_t reverse_multiplier; /* Q5.26 back to input units */
  int reverse_shift;          /* <= 0 */
  int32_t diff_min;
} log_softmax_plan;

static kiln_status *make_plan(const kiln_op_ctx *ctx, log_softmax_plan *p) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  if (x->dtype != KILN_INT8 && x->dtype != KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized LOG_SOFTMAX on %s is not supported (int8 and "
                      "uint8 are, as in TFLite)",
                      kiln_dtype_name(x->dtype));
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; quantized LOG_SOFTMAX needs %s "
                      "like input 0 (x)",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  if (x->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) must have rank >= 1, has shape []");
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", false, &qo));
  if (qo.scale != 16.0f / 256.0f || qo.zero_point != qo.qmax)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has scale %g and zero point %d; TFLite's "
                      "quantized LOG_SOFTMAX requires 16/256 and %d",
                      (double)qo.scale, (int)qo.zero_point, (int)qo.qmax);
  /* TFLite's PreprocessLogSoftmaxScalingExp (beta 1): the softmax input
   * scaling, then its inverse as a multiplier below one. */
  double real = (double)qx.scale * (double)(INT64_C(1) << (31 - INPUT_BITS));
  if (real > 2147483647.0) real = 2147483647.0;
  kiln_quantize_multiplier_greater_than_one(real, &p->multiplier,
                                            &p->left_shift);
  const double reverse =
      (double)(INT64_C(1) << (31 - p->left_shift)) / (double)p->multiplier;
  if (!(reverse > 0.0 && reverse < 1.0))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) scale %g is outside what TFLite's "
                      "quantized LOG_SOFTMAX can rescale",
                      (double)qx.scale);
  kiln_quantize_multiplier_smaller_than_one(reverse, &p->reverse_multiplier,
                                            &p->reverse_shift);
  /* TFLite's CalculateInputRadius */
  const double radius = (double)((1 << INPUT_BITS) - 1) *
                        (double)(INT64_C(1) << (31 - INPUT_BITS)) /
                        (double)(INT64_C(1) << p->left_shift);
  p->diff_min = -(int32_t)floor(radius);
  return NULL;
}

kiln_status *kiln_qshape_log_softmax(const kiln_op_ctx *ctx) {
  log_softmax_plan p;
  return make_plan(ctx, &p);
}

/* ---- gemmlowp's fixed-point pieces, on raw int32 values ---- */

/* x * 2^e: a saturating left shift for e > 0, a rounding right shift for
 * e < 0 (gemmlowp's SaturatingRoundingMultiplyByPOT). */
static int32_t mul_by_pot(int32_t x, int e) {
  if (e < 0) return kiln_rounding_divide_by_pot(x, -e);
  if (e == 0) return x;
  if (e >= 31) return x > 0 ? INT32_MAX : (x < 0 ? INT32_MIN : 0);
  return kiln_sat_shift_left(x, e);
}

static int32_t saturate(int64_t v) {
  return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
}

/* Wrapping addition and subtraction, as gemmlowp's raw int32 + and -. */
static int32_t add_wrap(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static int32_t sub_wrap(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* log(x) for x >= 1 given in Q12.19; the result in Q5.26 (gemmlowp's
 * log_x_for_x_greater_than_or_equal_to_1, computed with one extra
 * integer bit of headroom, Q6.25). */
static int32_t log_q12_to_q5(int32_t x) {
  const int32_t log_2 = 1488522236;          /* log(2), Q0.31 */
  const int32_t sqrt_sqrt_half = 1805811301; /* 0.5^(1/4) */
  const int32_t sqrt_half = 1518500250;      /* 0.5^(1/2) */
  const int32_t one_quarter = 536870912;
  const int32_t alpha_n = 117049297;  /* 11/240 * 2^(1/4) */
  const int32_t alpha_d = 127690142;  /* 1/20 * 2^(1/4) */
  const int32_t alpha_i = 1057819769; /* 2 / 2^(1/4) - 2^(1/4) */
  const int32_t alpha_f = 638450708;  /* 1/4 * 2^(1/4) */
  const int32_t shifted_quarter =
      kiln_rounding_divide_by_pot(one_quarter, LOG_ACCUM_BITS);

  /* x read as Q0.31, normalized by its leading zeros two ways: r_a in
   * [1/2, sqrt(1/2)) and r_b in [sqrt(1/2), 1) */
  const int z_a_headroom_plus_1 = __builtin_clz((uint32_t)x);
  const int32_t r_a_tmp = mul_by_pot(x, z_a_headroom_plus_1 - 1);
  const int32_t r_a = mul_by_pot(kiln_srdhm(r_a_tmp, sqrt_half), 1);
  const int32_t z_a_pow_2_adj =
      saturate((int64_t)mul_by_pot(ACCUM_BITS - z_a_headroom_plus_1,
                                   31 - LOG_ACCUM_BITS) +
               shifted_quarter);
  const int32_t z_b = kiln_srdhm(x, sqrt_half);
  const int z_b_headroom = __builtin_clz((uint32_t)z_b) - 1;
  const int32_t r_b = mul_by_pot(x, z_b_headroom);
  const int32_t z_b_pow_2_adj = saturate(
      (int64_t)mul_by_pot(ACCUM_BITS - z_b_headroom, 31 - LOG_ACCUM_BITS) -
      shifted_quarter);
  const int32_t r = r_a < r_b ? r_a : r_b;
  const int32_t z_pow_2_adj =
      z_a_pow_2_adj > z_b_pow_2_adj ? z_a_pow_2_adj : z_b_pow_2_adj;

  /* log(r) by the rational approximation around 2^(-1/4) */
  const int32_t p = kiln_rounding_half_sum(r, sqrt_sqrt_half);
  int32_t q = sub_wrap(r, sqrt_sqrt_half);
  q = add_wrap(q, q);
  const int32_t common_sq = kiln_srdhm(q, q);
  const int32_t num =
      add_wrap(kiln_srdhm(q, r), kiln_srdhm(kiln_srdhm(q, common_sq), alpha_n));
  const int32_t denom_minus_one = add_wrap(
      kiln_srdhm(
          p, add_wrap(add_wrap(alpha_i, q), kiln_srdhm(alpha_d, common_sq))),
      kiln_srdhm(alpha_f, q));
  const int32_t recip_denom = kiln_q_one_over_one_plus(denom_minus_one);
  const int32_t num_scaled = kiln_rounding_divide_by_pot(num, LOG_ACCUM_BITS);
  const int32_t sum = add_wrap(kiln_srdhm(z_pow_2_adj, log_2),
                               kiln_srdhm(num_scaled, recip_denom));
  return mul_by_pot(sum, LOG_ACCUM_BITS - INPUT_BITS);
}

kiln_status *kiln_qref_log_softmax(const kiln_op_ctx *ctx) {
  log_softmax_plan p;
  KILN_TRY(make_plan(ctx, &p));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int32_t qmin, qmax;
  kiln_quant_type_range(out->dtype, &qmin, &qmax);
  const int64_t depth = x->dims[x->rank - 1];
  const int64_t total = kiln_tensor_numel(x);
  for (int64_t row = 0; depth > 0 && row < total; row += depth) {
    int32_t max = qmin;
    for (int64_t c = 0; c < depth; c++) {
      const int32_t v = kiln_q_load(x, row + c);
      if (v > max) max = v;
    }
    int32_t sum = 0; /* Q12.19 */
    for (int64_t c = 0; c < depth; c++) {
      const int32_t diff = kiln_q_load(x, row + c) - max;
      if (diff < p.diff_min) continue;
      const int32_t scaled =
          kiln_mul_by_quantized_multiplier(diff, p.multiplier, p.left_shift);
      sum = add_wrap(sum, kiln_rounding_divide_by_pot(
                              kiln_q_exp_on_negative(scaled), ACCUM_BITS));
    }
    const int32_t log_sum = log_q12_to_q5(sum);
    /* the smallest Q5.26 value plus log(sum), in input units */
    const int32_t floor_in_input = kiln_mul_by_quantized_multiplier(
        add_wrap(log_sum, INT32_MIN), p.reverse_multiplier, p.reverse_shift);
    const int32_t adjusted_min =
        p.diff_min - 1 > floor_in_input ? p.diff_min - 1 : floor_in_input;
    for (int64_t c = 0; c < depth; c++) {
      const int32_t diff = kiln_q_load(x, row + c) - max;
      int32_t q = qmin;
      if (diff > adjusted_min) {
        const int32_t scaled =
            kiln_mul_by_quantized_multiplier(diff, p.multiplier, p.left_shift);
        q = kiln_rounding_divide_by_pot(sub_wrap(scaled, log_sum),
                                        31 - INPUT_BITS - OUTPUT_BITS) +
            qmax;
        q = kiln_q_clamp(q, qmin, qmax);
      }
      kiln_q_store(out, row + c, q);
    }
  }
  return NULL;
}
