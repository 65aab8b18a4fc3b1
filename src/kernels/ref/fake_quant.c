/* fake_quant.c - FAKE_QUANT (float32): each value clamped to the nudged
 * [min, max] range of FakeQuantOptions and rounded to its grid of
 * 2^num_bits - 1 steps, TensorFlow's FakeQuantWithMinMaxArgs as TFLite
 * computes it in float: the range is nudged so that 0.0 is a grid point
 * (the zero point rounded half away from zero and clamped to the integer
 * range), then out = round((clamp(x) - nudged_min) / scale) * scale +
 * nudged_min, dividing by multiplying with 1 / scale. narrow_range, which
 * TFLite refuses at runtime, is refused at load. */
#include <math.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

kiln_status *kiln_shape_fake_quant(const kiln_op_ctx *ctx) {
  const kiln_fake_quant_attrs *a = ctx->attrs;
  if (a->num_bits < 2 || a->num_bits > 16)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "num_bits is %d; it must be from 2 to 16", a->num_bits);
  /* TFLite assumes min < max (TensorFlow's op requires it); otherwise the
   * grid has no steps. */
  if (!isfinite(a->min) || !isfinite(a->max) || !(a->min < a->max))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "min %g and max %g are not a finite range with min < max",
                      (double)a->min, (double)a->max);
  return kiln_shape_map(ctx, KILN_DT(KILN_FLOAT32), KILN_DTYPE_INVALID);
}

kiln_status *kiln_ref_fake_quant(const kiln_op_ctx *ctx) {
  const kiln_fake_quant_attrs *a = ctx->attrs;
  const float *x = ctx->inputs[0]->data;
  float *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  const float qmin = 0.0f, qmax = (float)((1 << a->num_bits) - 1);
  const float scale = (a->max - a->min) / (qmax - qmin);
  const float zero_from_min = qmin - a->min / scale;
  float zero;
  if (zero_from_min < qmin)
    zero = qmin;
  else if (!(zero_from_min <= qmax)) /* above, or NaN from a huge range */
    zero = qmax;
  else
    zero = (float)(uint16_t)roundf(zero_from_min);
  const float nudged_min = (qmin - zero) * scale;
  const float nudged_max = (qmax - zero) * scale;
  const float inv_scale = 1.0f / scale;
  for (int64_t i = 0; i < n; i++) {
    /* std::min(max, std::max(min, x)): NaN input gives nudged_min */
    float v = nudged_min < x[i] ? x[i] : nudged_min;
    v = v < nudged_max ? v : nudged_max;
    float shifted = v - nudged_min;
    float q = roundf(shifted * inv_scale);
    float scaled = q * scale;
    y[i] = scaled + nudged_min;
  }
  return NULL;
}
