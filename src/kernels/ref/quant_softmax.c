/* quant_softmax.c - SOFTMAX on int8 / uint8 as TFLite's reference kernel
 * computes it, in gemmlowp's fixed point (Qm.n below: m integer bits of a
 * signed 32-bit raw value):
 *   each row's differences from its max are rescaled by beta * s_in to
 *   Q5.26 (differences below -radius are skipped as exp() of them is 0);
 *   exp() of a non-positive Q5.26 value is a Q0.31 value: a Taylor series
 *   around -1/8 on the remainder in [-1/4, 0), times exp(-2^k) for each
 *   set bit k of the rest;
 *   the exps are summed in Q12.19, the sum's reciprocal taken by
 *   Newton-Raphson in Q2.29 on the sum normalized to [1, 2);
 *   each output is exp * reciprocal, shifted to 8 bits, offset by the
 *   type's minimum (output zero point -128 / 0 and scale 1/256, which
 *   TFLite requires). The constants are gemmlowp's. */
#include <math.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

enum { SCALED_DIFF_BITS = 5, ACCUM_BITS = 12 };

typedef struct softmax_plan {
  int32_t multiplier;
  int left_shift;
  int32_t diff_min;
} softmax_plan;

static kiln_status *make_plan(const kiln_op_ctx *ctx, softmax_plan *p) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  const kiln_softmax_attrs *attrs = ctx->attrs;
  const double beta = attrs ? attrs->beta : 1.0;
  if (x->dtype == KILN_INT16) return kiln_qshape_softmax16(ctx);
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; quantized SOFTMAX takes %s to "
                      "%s",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype),
                      kiln_dtype_name(x->dtype));
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", false, &qo));
  if (qo.zero_point != qo.qmin ||
      fabsf(qo.scale - 1.0f / 256.0f) > 0.001f / 256.0f)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has scale %g and zero point %d; TFLite's "
                      "quantized SOFTMAX requires 1/256 and %d",
                      (double)qo.scale, (int)qo.zero_point, (int)qo.qmin);
  if (!(beta > 0.0) || !isfinite(beta))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "beta %g: quantized SOFTMAX takes a positive beta", beta);
  /* TFLite's PreprocessSoftmaxScaling and CalculateInputRadius. */
  double real =
      beta * (double)qx.scale * (double)(INT64_C(1) << (31 - SCALED_DIFF_BITS));
  if (real > 2147483647.0) real = 2147483647.0;
  kiln_quantize_multiplier_greater_than_one(real, &p->multiplier,
                                            &p->left_shift);
  const double radius = (double)((1 << SCALED_DIFF_BITS) - 1) *
                        (double)(INT64_C(1) << (31 - SCALED_DIFF_BITS)) /
                        (double)(INT64_C(1) << p->left_shift);
  p->diff_min = -(int32_t)floor(radius);
  return NULL;
}

kiln_status *kiln_qshape_softmax(const kiln_op_ctx *ctx) {
  softmax_plan p;
  return make_plan(ctx, &p);
}

/* ---- gemmlowp's fixed-point pieces, on raw int32 values ---- */

/* exp(a) for a in [-1/4, 0), a and the result Q0.31. */
static int32_t exp_quarter(int32_t a) {
  const int32_t constant_term = 1895147668; /* exp(-1/8) */
  const int32_t one_third = 715827883;
  const int32_t x = a + (1 << 28); /* a + 1/8 */
  const int32_t x2 = kiln_srdhm(x, x);
  const int32_t x3 = kiln_srdhm(x2, x);
  const int32_t x4 = kiln_srdhm(x2, x2);
  const int32_t x4_over_4 = kiln_rounding_divide_by_pot(x4, 2);
  const int32_t poly = kiln_rounding_divide_by_pot(
      kiln_srdhm(x4_over_4 + x3, one_third) + x2, 1);
  return constant_term + kiln_srdhm(constant_term, x + poly);
}

int32_t kiln_q_exp_on_negative(int32_t a) {
  const int32_t quarter = 1 << 24;
  const int32_t mod_quarter = (a & (quarter - 1)) - quarter;
  int32_t result = exp_quarter(kiln_sat_shift_left(mod_quarter, 5));
  const int32_t remainder = mod_quarter - a;
  /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
  static const int32_t factors[7] = {
      1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = -2; k <= 4; k++)
    if (remainder & (1 << (26 + k)))
      result = kiln_srdhm(result, factors[k + 2]);
  return a == 0 ? INT32_MAX : result;
}

static int32_t wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

int32_t kiln_q_one_over_one_plus(int32_t a) {
  const int32_t half_denominator = kiln_rounding_half_sum(a, INT32_MAX);
  /* Newton-Raphson in Q2.29, from 48/17 - 32/17 d */
  /* gemmlowp's fixed-point + and - are int32 arithmetic that wraps; a
   * row sum that wrapped to 0 (a = -2^31) makes them wrap here too. */
  int32_t x = wrap_add(1515870810, kiln_srdhm(half_denominator, -1010580540));
  for (int i = 0; i < 3; i++) {
    const int32_t dx = kiln_srdhm(half_denominator, x);
    const int32_t one_minus = wrap_add(1 << 29, (int32_t)(0u - (uint32_t)dx));
    x = wrap_add(x, kiln_sat_shift_left(kiln_srdhm(x, one_minus), 2));
  }
  return kiln_sat_shift_left(x, 1); /* x / 2 in Q1.30, as Q0.31 */
}

/* Returns 1 / x for a Q12.19 sum x > 0 as Q0.31, with the bits the sum has
 * over 1 in *over (TFLite's GetReciprocal). */
static int32_t reciprocal(int32_t x, int *over) {
  const uint32_t bits = (uint32_t)x;
  int headroom_plus_one;
  const uint32_t shifted = kiln_q_normalize_sum(bits, &headroom_plus_one);
  *over = ACCUM_BITS - headroom_plus_one;
  const int32_t shifted_minus_one = (int32_t)(shifted - (UINT32_C(1) << 31));
  return kiln_q_one_over_one_plus(shifted_minus_one);
}

kiln_status *kiln_qref_softmax(const kiln_op_ctx *ctx) {
  if (ctx->inputs[0]->dtype == KILN_INT16) return kiln_qref_softmax16(ctx);
  softmax_plan p;
  KILN_TRY(make_plan(ctx, &p));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int32_t qmin, qmax;
  kiln_quant_type_range(out->dtype, &qmin, &qmax);
  const int64_t depth = x->dims[x->rank - 1];
  const int64_t total = kiln_tensor_numel(x);
  for (int64_t r = 0; depth > 0 && r < total; r += depth) {
    int32_t max = qmin;
    for (int64_t c = 0; c < depth; c++) {
      int32_t v = kiln_q_load(x, r + c);
      if (v > max) max = v;
    }
    int32_t sum = 0; /* Q12.19 */
    for (int64_t c = 0; c < depth; c++) {
      const int32_t diff = kiln_q_load(x, r + c) - max;
      if (diff < p.diff_min) continue;
      const int32_t scaled = kiln_mul_by_quantized_multiplier_greater_than_one(
          diff, p.multiplier, p.left_shift);
      /* Rows of more than 4096 values can pass int32: the sum wraps, as
       * TFLite's int32 addition does on the machines it runs on (in C a
       * signed overflow would be undefined). */
      sum = (int32_t)((uint32_t)sum +
                      (uint32_t)kiln_rounding_divide_by_pot(
                          kiln_q_exp_on_negative(scaled), ACCUM_BITS));
    }
    int over = 0;
    const int32_t scale = reciprocal(sum, &over);
    const int exponent = over + 31 - 8;
    for (int64_t c = 0; c < depth; c++) {
      const int32_t diff = kiln_q_load(x, r + c) - max;
      int32_t q = qmin;
      if (diff >= p.diff_min) {
        const int32_t scaled =
            kiln_mul_by_quantized_multiplier_greater_than_one(
                diff, p.multiplier, p.left_shift);
        const int32_t unsat = kiln_rounding_divide_by_pot(
            kiln_srdhm(scale, kiln_q_exp_on_negative(scaled)), exponent);
        q = kiln_q_clamp(unsat + qmin, qmin, qmax);
      }
      kiln_q_store(out, r + c, q);
    }
  }
  return NULL;
}
