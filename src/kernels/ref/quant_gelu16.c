/* quant_gelu16.c - GELU on int16 (16x8 models) as LiteRT computes it: a
 * 513-entry table over the whole int16 input range (512 equal steps of the
 * real input) holds round(gelu(x) / output scale), each sample lowered by
 * half of the error that linear interpolation makes at its interval's
 * midpoint, and every stored value is looked up with 7 bits of linear
 * interpolation between two entries. Unlike int16 SOFTMAX's tables
 * (quant_softmax16.c, built in double), this table is built in float with
 * the float GELU of the int8 tables, as LiteRT's LUTPopulate<int16_t> does
 * for GELU: the double version differs from LiteRT in thousands of inputs.
 * Zero points must be 0, as for TFLite's other int16 activations. */
#include <math.h>

#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

enum { STEPS = 512 };

/* The table for f over int16 inputs of scale in_scale, outputs of scale
 * out_scale (zero points 0), every step in float. */
static void populate_f(float in_scale, float out_scale, bool approximate,
                       int16_t lut[STEPS + 1]) {
  const float in_min = in_scale * (float)INT16_MIN;
  const float in_max = in_scale * (float)INT16_MAX;
  const float out_min = out_scale * (float)INT16_MIN;
  const float out_max = out_scale * (float)INT16_MAX;
  const float step = (in_max - in_min) / (float)STEPS;
  const float half_step = step / 2.0f;
  const float inv = 65536.0f / (out_max - out_min);
  for (int i = 0; i < STEPS; i++) {
    const float at = in_min + (float)i * step;
    const float v = kiln_q_gelu_transform(at, approximate);
    const float mid = kiln_q_gelu_transform(at + half_step, approximate);
    const float next =
        kiln_q_gelu_transform(in_min + (float)(i + 1) * step, approximate);
    const float sample = roundf(v * inv);
    const float mid_interp = roundf((next * inv + roundf(v * inv)) / 2.0f);
    const float mid_val = roundf(mid * inv);
    const float bias = roundf((mid_interp - mid_val) / 2.0f);
    lut[i] = (int16_t)fminf(fmaxf(sample - bias, (float)INT16_MIN),
                            (float)INT16_MAX);
  }
  const float last = roundf(kiln_q_gelu_transform(in_max, approximate) * inv);
  lut[STEPS] = (int16_t)fminf(fmaxf(last, (float)INT16_MIN), (float)INT16_MAX);
}

/* TFLite's LUTLookup: entry v >> 7 (of 512, offset to the middle) plus the
 * slope times the low 7 bits, rounded, in int16 as TFLite keeps them. */
static int16_t lookup(int16_t v, const int16_t *lut) {
  const int index = 256 + (v >= 0 ? v >> 7 : -1 - ((-1 - v) >> 7));
  const int32_t offset = v & 0x7f;
  const int16_t base = lut[index];
  const int16_t slope = (int16_t)(uint16_t)(lut[index + 1] - base);
  const int32_t scaled = slope * offset + 64;
  const int16_t delta =
      (int16_t)(scaled >= 0 ? scaled >> 7 : -1 - ((-1 - scaled) >> 7));
  return (int16_t)(uint16_t)(base + delta);
}

static kiln_status *check(const kiln_op_ctx *ctx, kiln_qparams *qx,
                          kiln_qparams *qo) {
  KILN_TRY(kiln_q_params(ctx->inputs[0], "input 0 (x)", true, qx));
  return kiln_q_params(ctx->outputs[0], "output 0", true, qo);
}

kiln_status *kiln_qshape_gelu16(const kiln_op_ctx *ctx) {
  kiln_qparams qx, qo;
  return check(ctx, &qx, &qo);
}

kiln_status *kiln_qref_gelu16(const kiln_op_ctx *ctx) {
  kiln_qparams qx, qo;
  KILN_TRY(check(ctx, &qx, &qo));
  const kiln_gelu_attrs *attrs = ctx->attrs;
  int16_t lut[STEPS + 1]; /* ~1,500 GELU evaluations per call */
  populate_f(qx.scale, qo.scale, attrs && attrs->approximate, lut);
  const int16_t *x = ctx->inputs[0]->data;
  int16_t *y = ctx->outputs[0]->data;
  const int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++) y[i] = lookup(x[i], lut);
  return NULL;
}
