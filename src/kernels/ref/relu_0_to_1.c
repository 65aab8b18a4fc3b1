/* relu_0_to_1.c - RELU_0_TO_1: clamps to [0, 1]. float32 as a plain clamp
 * (NaN passes through); int8 and uint8 as TFLite's quantized ReLU family
 * computes them: x - zx rescaled by sx / so (TFLite's Q31 multiplier), plus
 * zo, clamped to the stored values of 0 and 1 on the output's scale
 * (zo + round(0 / so) and zo + round(1 / so), within the type). LiteRT has
 * no int16 form of this operator, so neither has kiln. */
#include "kernels/kernel.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

/* The clamp bounds on the output's stored values. */
static void bounds(const kiln_qparams *qo, int32_t *lo, int32_t *hi) {
  int64_t zero = (int64_t)qo->zero_point + kiln_quant_round_to_i32(0.0f);
  int64_t one =
      (int64_t)qo->zero_point + kiln_quant_round_to_i32(1.0f / qo->scale);
  *lo = zero < qo->qmin ? qo->qmin : (int32_t)zero;
  *hi = one > qo->qmax ? qo->qmax : (int32_t)one;
}

kiln_status *kiln_shape_relu_0_to_1(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  if (x->dtype != KILN_FLOAT32 && x->dtype != KILN_INT8 &&
      x->dtype != KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; expected float32, int8 or "
                      "uint8 (as in TFLite)",
                      kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_require_dtype(out, x->dtype, "output 0"));
  if (x->dtype == KILN_FLOAT32) return NULL;
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, &qx));
  return kiln_q_params(out, "output 0", true, &qo);
}

kiln_status *kiln_ref_relu_0_to_1(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  const int64_t n = kiln_tensor_numel(out);
  if (x->dtype == KILN_FLOAT32) {
    const float *src = x->data;
    float *dst = out->data;
    /* Comparisons written so that NaN falls through unchanged. */
    for (int64_t i = 0; i < n; i++)
      dst[i] = src[i] < 0.0f ? 0.0f : (src[i] > 1.0f ? 1.0f : src[i]);
    return NULL;
  }
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", true, &qo));
  int32_t lo, hi, multiplier;
  int shift;
  bounds(&qo, &lo, &hi);
  kiln_quantize_multiplier((double)qx.scale / (double)qo.scale, &multiplier,
                           &shift);
  for (int64_t i = 0; i < n; i++) {
    int32_t v = kiln_q_load(x, i) - qx.zero_point;
    int32_t r = kiln_mul_by_quantized_multiplier(v, multiplier, shift);
    kiln_q_store(out, i, kiln_q_clamp(r + qo.zero_point, lo, hi));
  }
  return NULL;
}
