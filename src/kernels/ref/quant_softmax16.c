/* quant_softmax16.c - SOFTMAX on int16 (16x8 models) as TFLite's
 * SoftmaxInt16: differences from the row max are rescaled so that
 * [-65535, 0] spans [-10, 0], looked up in an interpolated 513-entry table
 * of exp over [-10, 0]; the sum's reciprocal comes from a second table of
 * 1 / (1 + x) over [0, 1] after normalizing the sum; each exp times the
 * reciprocal, shifted back, is the output (scale 2^-15, zero point 0, as
 * TFLite requires). Both tables are built as TFLite's LUTPopulate builds
 * int16 tables: 512 samples in double, each nudged by half the error that
 * linear interpolation makes at its interval's midpoint. */
#include <math.h>
#include <pthread.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

enum { LUT_STEPS = 512 };

typedef double (*real_fn)(double);

static double exp_fn(double x) { return exp(x); }
static double one_over_one_plus(double x) { return 1.0 / (1.0 + x); }

/* The table of f over the int16 inputs of (scale, zero point), on outputs
 * of scale 2/65535 and zero point 0. */
static void populate(double in_scale, int32_t in_zp, real_fn f,
                     int16_t lut[LUT_STEPS + 1]) {
  const double out_scale = 2.0 / 65535.0;
  const double in_min = in_scale * (double)(INT16_MIN - in_zp);
  const double in_max = in_scale * (double)(INT16_MAX - in_zp);
  const double out_min = out_scale * (double)INT16_MIN;
  const double out_max = out_scale * (double)INT16_MAX;
  const double step = (in_max - in_min) / LUT_STEPS;
  const double half_step = step / 2;
  const double inv = 65536.0 / (out_max - out_min);
  for (int i = 0; i < LUT_STEPS; i++) {
    const double v = f(in_min + i * step);
    const double mid = f(in_min + i * step + half_step);
    const double next = f(in_min + (i + 1) * step);
    const double sample = round(v * inv);
    const double mid_interp = round((next * inv + round(v * inv)) / 2);
    const double mid_val = round(mid * inv);
    const double bias = round((mid_interp - mid_val) / 2);
    const double e = fmin(fmax(sample - bias, INT16_MIN), INT16_MAX);
    lut[i] = (int16_t)e;
  }
  const double last = fmin(fmax(round(f(in_max) * inv), INT16_MIN), INT16_MAX);
  lut[LUT_STEPS] = (int16_t)last;
}

/* Linear interpolation in a 513-entry table (TFLite's int16 LUTLookup). */
static int16_t lookup(int16_t v, const int16_t *lut) {
  const int index = 256 + (v >= 0 ? v >> 7 : ~(~v >> 7));
  const int32_t offset = v & 0x7f;
  const int32_t base = lut[index];
  const int32_t slope = lut[index + 1] - base;
  const int32_t delta = slope * offset + 64;
  return (int16_t)(base + (delta >= 0 ? delta >> 7 : ~(~delta >> 7)));
}

static kiln_status *check(const kiln_op_ctx *ctx, int32_t *m, int *s) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  const kiln_softmax_attrs *attrs = ctx->attrs;
  const float beta = attrs ? attrs->beta : 1.0f;
  if (out->dtype != KILN_INT16)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; quantized SOFTMAX takes int16 "
                      "to int16",
                      kiln_dtype_name(out->dtype));
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", true, &qo));
  if (fabsf(qo.scale - 1.0f / 32768.0f) > 0.001f / 32768.0f)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has scale %g; TFLite's int16 SOFTMAX "
                      "requires 2^-15",
                      (double)qo.scale);
  if (!(beta > 0.0f) || !isfinite(beta))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "beta %g: quantized SOFTMAX takes a positive beta",
                      (double)beta);
  /* The input step in units of 10/65535 (the float product first, as
   * TFLite computes scale * beta). */
  kiln_quantize_multiplier((double)(qx.scale * beta) / (10.0 / 65535.0), m, s);
  return NULL;
}

kiln_status *kiln_qshape_softmax16(const kiln_op_ctx *ctx) {
  int32_t m;
  int s;
  return check(ctx, &m, &s);
}

/* Both tables have fixed scales, so they depend on nothing in the node:
 * built once per process (about 3,000 exp and division calls), not at
 * every invoke. */
static int16_t exp_lut[LUT_STEPS + 1], recip_lut[LUT_STEPS + 1];
static pthread_once_t luts_once = PTHREAD_ONCE_INIT;

static void build_luts(void) {
  populate(10.0 / 65535.0, INT16_MAX, exp_fn, exp_lut);
  populate(1.0 / 65535.0, INT16_MIN, one_over_one_plus, recip_lut);
}

kiln_status *kiln_qref_softmax16(const kiln_op_ctx *ctx) {
  int32_t m;
  int s;
  KILN_TRY(check(ctx, &m, &s));
  pthread_once(&luts_once, build_luts);
  const int16_t *x = ctx->inputs[0]->data;
  int16_t *y = ctx->outputs[0]->data;
  const int64_t depth = ctx->inputs[0]->dims[ctx->inputs[0]->rank - 1];
  const int64_t total = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t r = 0; depth > 0 && r < total; r += depth) {
    int16_t max = INT16_MIN;
    for (int64_t c = 0; c < depth; c++)
      if (x[r + c] > max) max = x[r + c];
    int32_t sum = 0; /* Q16.15; the exps are cached in the output row */
    for (int64_t c = 0; c < depth; c++) {
      const int32_t diff = x[r + c] - max;
      const int32_t scaled = kiln_mul_by_quantized_multiplier(diff, m, s);
      const int32_t centered = kiln_q_clamp(scaled + 32767, -32768, 32767);
      y[r + c] = lookup((int16_t)centered, exp_lut);
      sum += y[r + c];
    }
    /* 1 / sum: normalize the sum to [1, 2), look up 1 / (1 + x) */
    const int headroom_plus_one = __builtin_clz((uint32_t)sum);
    const int32_t shifted =
        (int32_t)((((int64_t)sum << (headroom_plus_one - 1)) + (1 << 13)) >>
                  14);
    const int32_t centered =
        kiln_q_clamp(shifted - ((1 << 15) + (1 << 16)), -32768, 32767);
    const int32_t reciprocal = lookup((int16_t)centered, recip_lut);
    const int right = 31 - headroom_plus_one;
    const int64_t round = (int64_t)1 << (right - 1);
    for (int64_t c = 0; c < depth; c++) {
      const int64_t v = ((int64_t)y[r + c] * reciprocal + round) >> right;
      y[r + c] = (int16_t)(v < 0 ? 0 : (v > 32767 ? 32767 : v));
    }
  }
  return NULL;
}
