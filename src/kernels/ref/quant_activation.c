/* quant_activation.c - quantized RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU,
 * ABS (int8 / uint8 / int16) and the table-driven LOGISTIC, TANH, GELU,
 * EXP, LOG and RSQRT (int8 / uint8) and ELU (int8), in TFLite's arithmetic:
 *   the RELUs and ABS (of x - zx) rescale x - zx by sx / so, add zo and
 *     clamp to the bounds quantized on the output (round half away from
 *     zero);
 *   LEAKY_RELU rescales by sx / so where x >= zx and by sx alpha / so
 *     (the product taken in float, as TFLite does) below, a negative
 *     alpha as |alpha| with the result negated, as LiteRT rounds it;
 *   LOGISTIC, TANH, GELU, EXP, LOG, RSQRT and ELU look each value up in a
 *     256-entry table whose entry for q is round(f(sx (q - zx)) / so) + zo
 *     computed in float with the float libm function, TFLite's
 *     LUTPopulate. TFLite requires LOGISTIC's output scale to be 1/256; so
 *     does kiln.
 * int16 forms of the RELUs require zero points 0, as TFLite's do; int16
 * LOGISTIC and TANH are quant_sigmoid16.c's, int16 GELU quant_gelu16.c's,
 * int16 EXP, LOG and RSQRT quant_unary_math.c's. */
#include <math.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

static const char *unary_name(kiln_qunary op) {
  switch (op) {
    case KILN_QU_RELU:
      return "RELU";
    case KILN_QU_RELU6:
      return "RELU6";
    case KILN_QU_RELU_N1_TO_1:
      return "RELU_N1_TO_1";
    case KILN_QU_LEAKY_RELU:
      return "LEAKY_RELU";
    case KILN_QU_LOGISTIC:
      return "LOGISTIC";
    case KILN_QU_TANH:
      return "TANH";
    case KILN_QU_GELU:
      return "GELU";
    case KILN_QU_EXP:
      return "EXP";
    case KILN_QU_LOG:
      return "LOG";
    case KILN_QU_RSQRT:
      return "RSQRT";
    case KILN_QU_ABS:
      return "ABS";
    case KILN_QU_ELU:
      return "ELU";
  }
  return "?";
}

static bool is_lut(kiln_qunary op) {
  return op == KILN_QU_LOGISTIC || op == KILN_QU_TANH || op == KILN_QU_GELU ||
         op == KILN_QU_EXP || op == KILN_QU_LOG || op == KILN_QU_RSQRT ||
         op == KILN_QU_ELU;
}

static kiln_activation relu_clamp(kiln_qunary op) {
  switch (op) {
    case KILN_QU_RELU:
      return KILN_ACT_RELU;
    case KILN_QU_RELU6:
      return KILN_ACT_RELU6;
    case KILN_QU_RELU_N1_TO_1:
      return KILN_ACT_RELU_N1_TO_1;
    default:
      return KILN_ACT_NONE;
  }
}

kiln_status *kiln_qshape_unary(const kiln_op_ctx *ctx, kiln_qunary op) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; quantized %s needs %s like "
                      "input 0 (x)",
                      kiln_dtype_name(out->dtype), unary_name(op),
                      kiln_dtype_name(x->dtype));
  if ((op == KILN_QU_LOGISTIC || op == KILN_QU_TANH) && x->dtype == KILN_INT16)
    return kiln_qshape_sigmoid16(ctx, op == KILN_QU_TANH);
  if (op == KILN_QU_GELU && x->dtype == KILN_INT16)
    return kiln_qshape_gelu16(ctx);
  if (op == KILN_QU_ELU && x->dtype != KILN_INT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized ELU on %s is not supported (int8 is, as in "
                      "TFLite)",
                      kiln_dtype_name(x->dtype));
  /* TFLite's elementwise math has int8 (and int16 ABS) forms, no uint8. */
  if ((op == KILN_QU_EXP || op == KILN_QU_LOG || op == KILN_QU_RSQRT ||
       op == KILN_QU_ABS) &&
      x->dtype == KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized %s on uint8 is not supported (int8 is, as in "
                      "TFLite)",
                      unary_name(op));
  if ((op == KILN_QU_EXP || op == KILN_QU_LOG || op == KILN_QU_RSQRT) &&
      x->dtype == KILN_INT16)
    return kiln_qshape_unary_math16(ctx, op);
  if (is_lut(op) && x->dtype == KILN_INT16)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized %s on int16 is not supported (int8 and uint8 "
                      "are)",
                      unary_name(op));
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", true, &qo));
  if (op == KILN_QU_LOGISTIC && qo.scale != 1.0f / 256.0f)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 of quantized LOGISTIC has scale %g; TFLite "
                      "requires 1/256",
                      (double)qo.scale);
  int32_t lo, hi;
  return kiln_quant_activation_range(relu_clamp(op), out->dtype, qo.scale,
                                     qo.zero_point, &lo, &hi);
}

static float logistic_f(float x) { return 1.0f / (1.0f + expf(-x)); }

/* TFLite's GeluTransform: 0.5 x erfc(-x / sqrt 2), which keeps precision
 * for large negative x where 1 + erf(x / sqrt 2) cancels. */
static float gelu_f(float x) {
  return 0.5f * x * erfcf(x * (float)-0.70710678118654752440);
}

/* TFLite's GeluTransformApproximate, with sqrt(2/pi) rounded to float. */
static float gelu_tanh_f(float x) {
  const float k = (float)(1.12837916709551257390 * 0.70710678118654752440);
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

float kiln_q_gelu_transform(float x, bool approximate) {
  return approximate ? gelu_tanh_f(x) : gelu_f(x);
}

static float rsqrt_f(float x) { return 1.0f / sqrtf(x); }

/* TFLite's ELU table function: expm1 below zero, identity above. */
static float elu_f(float x) { return x < 0.0f ? expm1f(x) : x; }

static float (*lut_function(const kiln_op_ctx *ctx, kiln_qunary op))(float) {
  if (op == KILN_QU_LOGISTIC) return logistic_f;
  if (op == KILN_QU_TANH) return tanhf;
  if (op == KILN_QU_EXP) return expf;
  if (op == KILN_QU_LOG) return logf;
  if (op == KILN_QU_RSQRT) return rsqrt_f;
  if (op == KILN_QU_ELU) return elu_f;
  const kiln_gelu_attrs *attrs = ctx->attrs;
  return attrs && attrs->approximate ? gelu_tanh_f : gelu_f;
}

/* TFLite's LUTPopulate entry for stored value q. */
static int32_t lut_entry(float (*f)(float), int32_t q, const kiln_qparams *in,
                         const kiln_qparams *out) {
  const float real = in->scale * (float)(q - in->zero_point);
  const float rescaled = roundf(f(real) * (1.0f / out->scale));
  const float shifted = rescaled + (float)out->zero_point;
  if (!(shifted > (float)out->qmin)) return out->qmin; /* also NaN */
  if (shifted > (float)out->qmax) return out->qmax;
  return (int32_t)shifted;
}

kiln_status *kiln_q_lut_build(const kiln_op_ctx *ctx, kiln_qunary op,
                              int16_t table[256]) {
  if (ctx->inputs[0]->dtype != KILN_INT8 && ctx->inputs[0]->dtype != KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "a 256-entry table needs an int8 or uint8 input, not %s",
                      kiln_dtype_name(ctx->inputs[0]->dtype));
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(ctx->inputs[0], "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(ctx->outputs[0], "output 0", true, &qo));
  float (*f)(float) = lut_function(ctx, op);
  for (int32_t q = qx.qmin; q <= qx.qmax; q++)
    table[q - qx.qmin] = (int16_t)lut_entry(f, q, &qx, &qo);
  return NULL;
}

static kiln_status *run_lut(const kiln_op_ctx *ctx, kiln_qunary op) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  /* The reference builds its table per call (a few microseconds); the
   * "q8-lut" variant (kernels/quant/lut.c) builds it once at load. */
  int16_t table[256];
  KILN_TRY(kiln_q_lut_build(ctx, op, table));
  const int32_t offset = x->dtype == KILN_INT8 ? 128 : 0;
  const int64_t n = kiln_tensor_numel(out);
  for (int64_t i = 0; i < n; i++)
    kiln_q_store(out, i, table[kiln_q_load(x, i) + offset]);
  return NULL;
}

kiln_status *kiln_qref_unary(const kiln_op_ctx *ctx, kiln_qunary op) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", true, &qo));
  if ((op == KILN_QU_LOGISTIC || op == KILN_QU_TANH) && x->dtype == KILN_INT16)
    return kiln_qref_sigmoid16(ctx, op == KILN_QU_TANH);
  if (op == KILN_QU_GELU && x->dtype == KILN_INT16)
    return kiln_qref_gelu16(ctx);
  if ((op == KILN_QU_EXP || op == KILN_QU_LOG || op == KILN_QU_RSQRT) &&
      x->dtype == KILN_INT16)
    return kiln_qref_unary_math16(ctx, op);
  if (is_lut(op)) return run_lut(ctx, op);
  int32_t lo, hi;
  KILN_TRY(kiln_quant_activation_range(relu_clamp(op), out->dtype, qo.scale,
                                       qo.zero_point, &lo, &hi));
  int32_t m_pos, m_neg;
  int s_pos, s_neg;
  kiln_quantize_multiplier((double)qx.scale / (double)qo.scale, &m_pos, &s_pos);
  m_neg = m_pos, s_neg = s_pos;
  bool negate = false;
  if (op == KILN_QU_LEAKY_RELU) {
    const kiln_leaky_relu_attrs *attrs = ctx->attrs;
    /* float product and quotient, widened afterwards, as TFLite computes
     * input_scale * alpha / output_scale. */
    const float alpha = qx.scale * attrs->alpha / qo.scale;
    /* A negative alpha: LiteRT's reference kernels scale by |alpha| and
     * negate the result (checked on every stored value: a signed Q31
     * multiplier would round the halves the other way). */
    negate = alpha < 0.0f;
    kiln_quantize_multiplier((double)(negate ? -alpha : alpha), &m_neg, &s_neg);
  }
  const int64_t n = kiln_tensor_numel(out);
  for (int64_t i = 0; i < n; i++) {
    int32_t v = kiln_q_load(x, i) - qx.zero_point;
    if (op == KILN_QU_ABS && v < 0) v = -v;
    int32_t r;
    if (v >= 0) {
      r = kiln_mul_by_quantized_multiplier(v, m_pos, s_pos);
    } else {
      r = kiln_mul_by_quantized_multiplier(v, m_neg, s_neg);
      if (negate) r = -r;
    }
    kiln_q_store(out, i, kiln_q_clamp(r + qo.zero_point, lo, hi));
  }
  return NULL;
}
