/* quant_div.c - DIV on quantized uint8, int8 and int16, in TFLite's integer
 * arithmetic (div.cc and reference/div.h), with broadcasting.
 *
 * Per element, with both inputs' zero points removed and the divisor made
 * positive (both signs flipped when it is negative): the divisor's
 * reciprocal comes from gemmlowp's Newton-Raphson 1 / (1 + x) as a Q0.31
 * value and a count of bits over one; the dividend is shifted left by its
 * headroom (its redundant sign bits), multiplied by the reciprocal, and the
 * quotient rescaled by s1 / (s2 so) with the shifts of both folded into the
 * multiplier's exponent. The output zero point is added and the fused
 * activation clamps.
 *
 * The multiplier is TFLite's s1 / (s2 so) evaluated in float (its scales
 * are floats) before it is made a Q31 value: taking it in double puts
 * near-ties one unit off LiteRT. int16 takes this path too, broadcasting
 * or not, in LiteRT 2.3 (newer sources divide dequantized floats for int16
 * inputs of one shape; measured on 4096-element cases, 2.3 does not).
 *
 * A divisor equal to its zero point (a real 0) is refused at invoke, as
 * LiteRT does. */
#include <string.h>

#include "kernels/ref/elementwise.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

typedef struct div_plan {
  kiln_qparams a, b, o;
  int32_t multiplier; /* s1 / (s2 so) in float, as a Q31 value */
  int shift;
  int32_t act_min, act_max;
} div_plan;

static kiln_status *make_plan(const kiln_op_ctx *ctx, div_plan *p) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  memset(p, 0, sizeof *p);
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &p->a));
  KILN_TRY(kiln_q_params(y, "input 1 (y)", false, &p->b));
  KILN_TRY(kiln_q_params(out, "output 0", false, &p->o));
  const kiln_activation_attrs *attrs = ctx->attrs;
  p->act_min = p->o.qmin;
  p->act_max = p->o.qmax;
  KILN_TRY(kiln_quant_activation_range(
      attrs ? attrs->activation : KILN_ACT_NONE, out->dtype, p->o.scale,
      p->o.zero_point, &p->act_min, &p->act_max));
  const float real_multiplier = p->a.scale / (p->b.scale * p->o.scale);
  kiln_quantize_multiplier((double)real_multiplier, &p->multiplier, &p->shift);
  return NULL;
}

kiln_status *kiln_qshape_div(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_input(ctx, 1, "y"));
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  if (y->dtype != x->dtype || out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x), input 1 (y) and output 0 have types %s, "
                      "%s and %s; quantized DIV needs one type",
                      kiln_dtype_name(x->dtype), kiln_dtype_name(y->dtype),
                      kiln_dtype_name(out->dtype));
  div_plan plan;
  KILN_TRY(make_plan(ctx, &plan));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank, y->dims, y->rank, dims, &rank),
      "inputs 0 (x) and 1 (y)"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

/* ---- gemmlowp's fixed-point pieces on raw int32 values (the reciprocal
 * step is quant_softmax.c's kiln_q_one_over_one_plus) ---- */

/* 1 / x for an integer x > 0, as a Q0.31 value r with 1 / x =
 * r * 2^-bits_over (TFLite's GetReciprocal with 31 integer digits). */
static int32_t reciprocal(int32_t x, int *bits_over) {
  const int headroom_plus_one = __builtin_clz((uint32_t)x);
  *bits_over = 31 - headroom_plus_one;
  const int32_t shifted_minus_one =
      (int32_t)(((uint32_t)x << headroom_plus_one) - (UINT32_C(1) << 31));
  return kiln_q_one_over_one_plus(shifted_minus_one);
}

/* The redundant sign bits of x (31 for 0 and -1). */
static int leading_sign_bits(int32_t x) {
  const uint32_t v = x < 0 ? ~(uint32_t)x : (uint32_t)x;
  return v == 0 ? 31 : __builtin_clz(v) - 1;
}

/* x / 2^exponent rounded as gemmlowp's RoundingDivideByPOT computes it in
 * LiteRT's x86 build, also for exponents of 32 and more, which DIV reaches
 * for a dividend of -1 or 0 (31 sign bits of headroom) and which that
 * code leaves undefined: the int32 mask is the low 32 bits of
 * 2^(exponent mod 64) - 1, and the shift instruction takes the count
 * mod 32. So -1 / 77 comes out as a large negative (clamped to the type's
 * minimum) and 0 as 1 rather than 0, as LiteRT's outputs show. */
static int32_t litert_rounding_divide_by_pot(int32_t x, int exponent) {
  if (exponent < 32) return kiln_rounding_divide_by_pot(x, exponent);
  const int32_t mask =
      (int32_t)(uint32_t)((UINT64_C(1) << (exponent & 63)) - 1);
  const int32_t remainder = x & mask;
  /* arithmetic shifts, spelled out for negatives (the mask is -1 here) */
  const int32_t half_mask = mask >= 0 ? (mask >> 1) : ~(~mask >> 1);
  const int32_t threshold = half_mask + (x < 0 ? 1 : 0);
  const int count = exponent & 31;
  const int32_t shifted = x >= 0 ? (x >> count) : ~(~x >> count);
  /* an int32 add that wraps (x stays far below 2^31 - 1 on this path) */
  return (int32_t)((uint32_t)shifted + (remainder > threshold ? 1u : 0u));
}

/* One quotient in the integer path: stored values in, stored value out. */
static int32_t quotient(const div_plan *p, int32_t qa, int32_t qb) {
  int32_t num = qa - p->a.zero_point, den = qb - p->b.zero_point;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  int recip_shift;
  const int32_t inv = reciprocal(den, &recip_shift);
  const int headroom = leading_sign_bits(num);
  const int32_t unscaled =
      kiln_mul_by_quantized_multiplier_greater_than_one(num, inv, headroom);
  const int total_shift = p->shift - recip_shift - headroom;
  const int64_t r = (int64_t)litert_rounding_divide_by_pot(
                        kiln_srdhm(unscaled, p->multiplier), -total_shift) +
                    p->o.zero_point;
  return (int32_t)(r < p->act_min ? p->act_min
                                  : (r > p->act_max ? p->act_max : r));
}

kiln_status *kiln_qref_div(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  div_plan p;
  KILN_TRY(make_plan(ctx, &p));
  const int64_t ny = kiln_tensor_numel(y);
  for (int64_t i = 0; i < ny; i++)
    if (kiln_q_load(y, i) == p.b.zero_point)
      return kiln_error(KILN_ERR_RUNTIME,
                        "input 1 (y) holds its zero point %d (a real 0) at "
                        "element %lld: division by zero",
                        (int)p.b.zero_point, (long long)i);
  const int64_t n = kiln_tensor_numel(out);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it)) {
    const int32_t qa = kiln_q_load(x, it.offset[0]),
                  qb = kiln_q_load(y, it.offset[1]);
    kiln_q_store(out, i, quotient(&p, qa, qb));
  }
  return NULL;
}
