/* quant_hard_swish.c - HARD_SWISH on int8 / uint8 in TFLite's 16-bit fixed
 * point (reference_ops::HardSwish): the input, less its zero point, is
 * shifted left 7 bits onto a "hires" scale; one copy is rescaled to the
 * output scale, another to the "reluish" factor relu6(x + 3) / 6 on a
 * 2^-15 scale (3/32768 per unit before the final halving); their doubling
 * high product, shifted right, is the output. Both multipliers are Q31
 * values from QuantizeMultiplier rounded down to Q15, and the scales are
 * combined in float, as TFLite's Prepare does. */
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

typedef struct hswish_plan {
  kiln_qparams in, out;
  int16_t output_multiplier, reluish_multiplier;
  int output_exponent, reluish_exponent;
} hswish_plan;

/* A Q31 multiplier rounded to Q15 (TFLite's DownScaleInt32ToInt16Multiplier).
 */
static int16_t to_q15(int32_t m) {
  if (m >= INT32_MAX - (1 << 15)) return INT16_MAX;
  return (int16_t)((m + (1 << 15)) >> 16);
}

static kiln_status *make_plan(const kiln_op_ctx *ctx, hswish_plan *p) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  if (x->dtype == KILN_INT16)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized HARD_SWISH on int16 is not supported (int8 "
                      "and uint8 are, as in TFLite)");
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; quantized HARD_SWISH needs %s "
                      "like input 0 (x)",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &p->in));
  KILN_TRY(kiln_q_params(out, "output 0", false, &p->out));
  const float hires_scale = (1.0f / 128.0f) * p->in.scale;
  const float reluish_scale = 3.0f / 32768.0f;
  int32_t m;
  kiln_quantize_multiplier((double)(hires_scale / p->out.scale), &m,
                           &p->output_exponent);
  p->output_multiplier = to_q15(m);
  if (p->output_exponent > 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) scale %g is over 128 times output 0's %g; "
                      "TFLite's HARD_SWISH requires less",
                      (double)p->in.scale, (double)p->out.scale);
  kiln_quantize_multiplier((double)(hires_scale / reluish_scale), &m,
                           &p->reluish_exponent);
  p->reluish_multiplier = to_q15(m);
  return NULL;
}

kiln_status *kiln_qshape_hard_swish(const kiln_op_ctx *ctx) {
  hswish_plan p;
  return make_plan(ctx, &p);
}

static int16_t sat16(int64_t v) {
  return (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
}

/* gemmlowp's SaturatingRoundingDoublingHighMul on int16. */
static int16_t srdhm16(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15)); /* truncating, as C++ */
}

/* The same without rounding (TFLite's SaturatingDoublingHighMul). */
static int16_t sdhm16(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (int16_t)(((int32_t)a * b) / (1 << 15));
}

static int16_t shift_left_sat16(int16_t v, int amount) {
  return sat16((int64_t)v * ((int64_t)1 << amount));
}

static int32_t hard_swish_one(const hswish_plan *p, int32_t q) {
  const int16_t hires = (int16_t)((q - p->in.zero_point) * (1 << 7));
  const int16_t on_output = srdhm16(hires, p->output_multiplier);
  int16_t reluish = hires;
  if (p->reluish_exponent > 0)
    reluish = shift_left_sat16(reluish, p->reluish_exponent - 1);
  reluish = srdhm16(reluish, p->reluish_multiplier);
  if (p->reluish_exponent > 0) reluish = shift_left_sat16(reluish, 1);
  if (p->reluish_exponent < 0)
    reluish =
        (int16_t)kiln_rounding_divide_by_pot(reluish, -p->reluish_exponent);
  /* From [-1, 1] on a 2^-15 scale to [0, 1]: relu6(x + 3) / 6. */
  reluish = (int16_t)((reluish + (1 << 15)) >> 1);
  const int16_t pre = sdhm16(reluish, on_output);
  int32_t r = kiln_rounding_divide_by_pot(pre, -p->output_exponent);
  return kiln_q_clamp(r + p->out.zero_point, p->out.qmin, p->out.qmax);
}

kiln_status *kiln_qref_hard_swish(const kiln_op_ctx *ctx) {
  hswish_plan p;
  KILN_TRY(make_plan(ctx, &p));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  const int64_t n = kiln_tensor_numel(out);
  for (int64_t i = 0; i < n; i++)
    kiln_q_store(out, i, hard_swish_one(&p, kiln_q_load(x, i)));
  return NULL;
}
