/* quantize.c - the reference QUANTIZE: float32 to int8 / uint8 / int16
 * (TFLite's AffineQuantize: round half away from zero of x / scale, plus
 * the zero point, clamped), and requantization between integer types
 * (int8 <-> uint8, int8 -> int8, int16 -> int16 ...) through TFLite's
 * fixed-point multiplier of input_scale / output_scale. The multiplier is
 * one frexp per invoke, computed on the stack. DEQUANTIZE is in unary.c. */
#include "kernels/kernel.h"
#include "kernels/ref/quant_common.h"

static bool is_quant_type(kiln_dtype t) {
  int32_t lo, hi;
  return t != KILN_INT32 && kiln_quant_type_range(t, &lo, &hi);
}

/* A per-tensor scale and zero point that TFLite's kernels accept. */
static kiln_status *check_params(const kiln_tensor *t, const char *role) {
  const kiln_quant_info *q = t->quant;
  if (!q || q->count == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s of type %s has no quantization parameters", role,
                      kiln_dtype_name(t->dtype));
  if (q->count != 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has %d per-channel quantization parameters; "
                      "QUANTIZE supports per-tensor ones",
                      role, q->count);
  if (!(q->scale[0] > 0.0f) || !isfinite(q->scale[0]))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has quantization scale %g; it must be positive and "
                      "finite",
                      role, (double)q->scale[0]);
  int32_t lo, hi;
  kiln_quant_type_range(t->dtype, &lo, &hi);
  if (q->zero_point[0] < lo || q->zero_point[0] > hi)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has zero point %lld, outside %s's range", role,
                      (long long)q->zero_point[0], kiln_dtype_name(t->dtype));
  return NULL;
}

kiln_status *kiln_shape_quantize(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  if (x->dtype != KILN_FLOAT32 && !is_quant_type(x->dtype))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; expected float32, int8, uint8 "
                      "or int16",
                      kiln_dtype_name(x->dtype));
  if (!is_quant_type(out->dtype))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; expected int8, uint8 or int16",
                      kiln_dtype_name(out->dtype));
  if (x->dtype != KILN_FLOAT32) KILN_TRY(check_params(x, "input 0 (x)"));
  KILN_TRY(check_params(out, "output 0"));
  kiln_set_shape(out, x->dims, x->rank);
  return NULL;
}

kiln_status *kiln_ref_quantize(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(x);
  int32_t lo, hi;
  kiln_quant_type_range(out->dtype, &lo, &hi);
  float out_scale = out->quant->scale[0];
  int32_t out_zp = (int32_t)out->quant->zero_point[0];
  if (x->dtype == KILN_FLOAT32) {
    const float *in = x->data;
    for (int64_t i = 0; i < n; i++)
      kiln_q_store(out->data, out->dtype, i,
                   kiln_quantize_f32(in[i], out_scale, out_zp, lo, hi));
    return NULL;
  }
  int32_t multiplier;
  int shift;
  kiln_quantize_multiplier((double)x->quant->scale[0] / (double)out_scale,
                           &multiplier, &shift);
  int32_t in_zp = (int32_t)x->quant->zero_point[0];
  for (int64_t i = 0; i < n; i++) {
    int32_t v = kiln_q_load(x->data, x->dtype, i) - in_zp;
    v = kiln_mul_by_quantized_multiplier(v, multiplier, shift) + out_zp;
    kiln_q_store(out->data, out->dtype, i, kiln_q_clamp(v, lo, hi));
  }
  return NULL;
}
