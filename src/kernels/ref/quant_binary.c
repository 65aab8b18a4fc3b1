/* quant_binary.c - quantized ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM,
 * MINIMUM, PRELU and the comparisons, with broadcasting, in TFLite's
 * integer arithmetic:
 *   ADD / SUB: both inputs are rescaled to a common scale (twice the larger
 *     input scale) after a left shift of 20 bits (15 for int16), summed,
 *     and rescaled to the output; SUB is ADD with input 1's multiplier
 *     negated, which rounds differently from negating the product.
 *   MUL: the product of the offset inputs rescaled by s1 * s2 / so.
 *   SQUARED_DIFFERENCE: as ADD with a 7-bit shift (none for int16), the
 *     difference squared, rescaled by (2 max s)^2 / (2^14 so).
 *   MAXIMUM / MINIMUM: the stored values compared (TFLite does not rescale).
 *   PRELU: x >= 0 rescaled by sx / so, else x * alpha by sx sa / so.
 *   comparisons: int8 / uint8 inputs shifted left by 8 and rescaled by
 *     their own scales before comparing; int16 compared as stored.
 * Fused activations become a clamp on the output (quant_math.h). */
#include <string.h>

#include "kernels/ref/elementwise.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

bool kiln_q_node(const kiln_op_ctx *ctx) {
  return ctx->num_inputs > 0 && ctx->inputs[0] &&
         kiln_q_type(ctx->inputs[0]->dtype) && ctx->inputs[0]->quant;
}

static const char *op_name(kiln_qbinary op) {
  switch (op) {
    case KILN_QB_ADD:
      return "ADD";
    case KILN_QB_SUB:
      return "SUB";
    case KILN_QB_MUL:
      return "MUL";
    case KILN_QB_SQUARED_DIFFERENCE:
      return "SQUARED_DIFFERENCE";
    case KILN_QB_MAXIMUM:
      return "MAXIMUM";
    case KILN_QB_MINIMUM:
      return "MINIMUM";
    case KILN_QB_PRELU:
      return "PRELU";
  }
  return "?";
}

static kiln_activation fused(const kiln_op_ctx *ctx, kiln_qbinary op) {
  /* Only ADD, SUB and MUL carry kiln_activation_attrs. */
  if (op != KILN_QB_ADD && op != KILN_QB_SUB && op != KILN_QB_MUL)
    return KILN_ACT_NONE;
  const kiln_activation_attrs *attrs = ctx->attrs;
  return attrs ? attrs->activation : KILN_ACT_NONE;
}

/* Everything a binary kernel needs, derived from the scales. */
typedef struct qbin_plan {
  kiln_qparams a, b, o;
  int left_shift;
  int32_t m1, m2, mo;
  int s1, s2, so;
  int32_t act_min, act_max;
} qbin_plan;

static void plan_add_like(qbin_plan *p, int left_shift, bool squared) {
  const double twice_max =
      2.0 * (double)(p->a.scale > p->b.scale ? p->a.scale : p->b.scale);
  p->left_shift = left_shift;
  kiln_quantize_multiplier_smaller_than_one((double)p->a.scale / twice_max,
                                            &p->m1, &p->s1);
  kiln_quantize_multiplier_smaller_than_one((double)p->b.scale / twice_max,
                                            &p->m2, &p->s2);
  if (squared)
    kiln_quantize_multiplier(
        twice_max * twice_max /
            ((double)(1 << (2 * left_shift)) * (double)p->o.scale),
        &p->mo, &p->so);
  else
    kiln_quantize_multiplier_smaller_than_one(
        twice_max / ((double)(1 << left_shift) * (double)p->o.scale), &p->mo,
        &p->so);
}

static kiln_status *make_plan(const kiln_op_ctx *ctx, kiln_qbinary op,
                              qbin_plan *p) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  memset(p, 0, sizeof *p);
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &p->a));
  KILN_TRY(kiln_q_params(y, "input 1 (y)", false, &p->b));
  KILN_TRY(kiln_q_params(out, "output 0", false, &p->o));
  p->act_min = p->o.qmin;
  p->act_max = p->o.qmax;
  KILN_TRY(kiln_quant_activation_range(fused(ctx, op), out->dtype, p->o.scale,
                                       p->o.zero_point, &p->act_min,
                                       &p->act_max));
  const bool i16 = out->dtype == KILN_INT16;
  switch (op) {
    case KILN_QB_ADD:
    case KILN_QB_SUB:
      plan_add_like(p, i16 ? 15 : 20, false);
      if (op == KILN_QB_SUB) p->m2 = -p->m2;
      break;
    case KILN_QB_SQUARED_DIFFERENCE:
      if (out->dtype == KILN_UINT8)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "quantized SQUARED_DIFFERENCE on uint8 is not "
                          "supported (int8 and int16 are, as in TFLite)");
      plan_add_like(p, i16 ? 0 : 7, true);
      break;
    case KILN_QB_MUL: {
      /* TFLite forms s1 * s2 / so in float, then widens it: in double a
       * product near a rounding tie can land one unit the other way (an
       * int16 MUL off by 1 from LiteRT's reference kernel). */
      const float real = p->a.scale * p->b.scale / p->o.scale;
      kiln_quantize_multiplier((double)real, &p->mo, &p->so);
      break;
    }
    case KILN_QB_PRELU:
      kiln_quantize_multiplier((double)p->a.scale / (double)p->o.scale, &p->m1,
                               &p->s1);
      kiln_quantize_multiplier(
          (double)p->a.scale * (double)p->b.scale / (double)p->o.scale, &p->m2,
          &p->s2);
      break;
    case KILN_QB_MAXIMUM:
    case KILN_QB_MINIMUM:
      break;
  }
  return NULL;
}

kiln_status *kiln_qshape_binary(const kiln_op_ctx *ctx, kiln_qbinary op) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_input(ctx, 1, op == KILN_QB_PRELU ? "alpha" : "y"));
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  if (y->dtype != x->dtype || out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x), input 1 and output 0 have types %s, %s "
                      "and %s; quantized %s needs one type",
                      kiln_dtype_name(x->dtype), kiln_dtype_name(y->dtype),
                      kiln_dtype_name(out->dtype), op_name(op));
  qbin_plan plan;
  KILN_TRY(make_plan(ctx, op, &plan));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank, y->dims, y->rank, dims, &rank),
      "inputs 0 (x) and 1"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

/* Input value v (zero point removed) shifted and rescaled to the common
 * scale of ADD / SUB / SQUARED_DIFFERENCE. */
static inline int32_t rescale_in(int32_t v, int left_shift, int32_t m, int s) {
  return kiln_mul_by_quantized_multiplier_smaller_than_one(
      kiln_shift_left_wrap(v, left_shift), m, s);
}

static int32_t apply(const qbin_plan *p, kiln_qbinary op, int32_t qa,
                     int32_t qb) {
  const int32_t va = qa - p->a.zero_point, vb = qb - p->b.zero_point;
  int32_t r;
  switch (op) {
    case KILN_QB_ADD:
    case KILN_QB_SUB: {
      const int32_t sum = rescale_in(va, p->left_shift, p->m1, p->s1) +
                          rescale_in(vb, p->left_shift, p->m2, p->s2);
      r = kiln_mul_by_quantized_multiplier_smaller_than_one(sum, p->mo, p->so);
      break;
    }
    case KILN_QB_SQUARED_DIFFERENCE: {
      const int32_t diff = rescale_in(va, p->left_shift, p->m1, p->s1) -
                           rescale_in(vb, p->left_shift, p->m2, p->s2);
      /* TFLite squares in uint32 and rescales the bits as int32. */
      const int32_t sq = (int32_t)((uint32_t)diff * (uint32_t)diff);
      r = kiln_mul_by_quantized_multiplier(sq, p->mo, p->so);
      break;
    }
    case KILN_QB_MUL:
      r = kiln_mul_by_quantized_multiplier(va * vb, p->mo, p->so);
      break;
    case KILN_QB_PRELU:
      r = va >= 0 ? kiln_mul_by_quantized_multiplier(va, p->m1, p->s1)
                  : kiln_mul_by_quantized_multiplier(va * vb, p->m2, p->s2);
      break;
    case KILN_QB_MAXIMUM:
      return qa > qb ? qa : qb;
    case KILN_QB_MINIMUM:
      return qa < qb ? qa : qb;
    default:
      r = 0;
      break;
  }
  return kiln_q_clamp(r + p->o.zero_point, p->act_min, p->act_max);
}

kiln_status *kiln_qref_binary(const kiln_op_ctx *ctx, kiln_qbinary op) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  qbin_plan p;
  KILN_TRY(make_plan(ctx, op, &p));
  const int64_t n = kiln_tensor_numel(out);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it))
    kiln_q_store(out, i,
                 apply(&p, op, kiln_q_load(x, it.offset[0]),
                       kiln_q_load(y, it.offset[1])));
  return NULL;
}

/* ---------------------------------------------------------- comparisons */

kiln_status *kiln_qshape_compare(const kiln_op_ctx *ctx) {
  kiln_qparams a, b;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  if (x->dtype == KILN_INT16 || !x->quant) return NULL; /* compared as stored */
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &a));
  return kiln_q_params(y, "input 1 (y)", false, &b);
}

/* A value of the common fixed-point form both sides are compared in. */
static int32_t compare_form(int32_t q, int32_t zero_point, int32_t m, int s) {
  return kiln_mul_by_quantized_multiplier(
      kiln_shift_left_wrap(q - zero_point, 8), m, s);
}

static bool holds(int kind, int32_t a, int32_t b) {
  switch (kind) {
    case 0:
      return a < b;
    case 1:
      return a <= b;
    case 2:
      return a > b;
    case 3:
      return a >= b;
    case 4:
      return a == b;
    default:
      return a != b;
  }
}

kiln_status *kiln_qref_compare(const kiln_op_ctx *ctx, int kind) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  uint8_t *out = ctx->outputs[0]->data;
  const bool rescale = x->dtype != KILN_INT16 && x->quant;
  kiln_qparams a = {1.0f, 0, 0, 0}, b = {1.0f, 0, 0, 0};
  int32_t ma = 0, mb = 0;
  int sa = 0, sb = 0;
  if (rescale) {
    KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &a));
    KILN_TRY(kiln_q_params(y, "input 1 (y)", false, &b));
    kiln_quantize_multiplier(a.scale, &ma, &sa);
    kiln_quantize_multiplier(b.scale, &mb, &sb);
  }
  const int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it)) {
    int32_t qa = kiln_q_load(x, it.offset[0]),
            qb = kiln_q_load(y, it.offset[1]);
    if (rescale) {
      qa = compare_form(qa, a.zero_point, ma, sa);
      qb = compare_form(qb, b.zero_point, mb, sb);
    }
    out[i] = holds(kind, qa, qb);
  }
  return NULL;
}
