/* quant_unary_math.c - the quantized forms of EXP, LOG and RSQRT on int16
 * and of SQRT on int8 and int16, as LiteRT computes them.
 *
 * int16 EXP, LOG and RSQRT look each value up in an interpolated table, as
 * TFLite's LUTPopulate<int16_t> builds it (every step in float): the
 * function is sampled at 513 points spanning the input's real range,
 * each sample is scaled to the output's 65536 steps and lowered by half
 * the error linear interpolation makes at its interval's midpoint; a value
 * v reads entry 256 + (v >> 7) and the slope to the next entry (taken
 * mod 2^16, as TFLite's int16 slope wraps) times the low 7 bits of v.
 * Where the function has no real value (LOG and RSQRT at or below 0) the
 * table holds what LiteRT's does: LOG the output's lowest real value,
 * RSQRT 32767 output steps. RSQRT refuses a negative input at invoke, as
 * LiteRT does.
 *
 * SQRT is no table in LiteRT: each value is dequantized in float, its
 * float square root divided by the output scale and rounded down (not to
 * nearest; measured against LiteRT on every int8 value and 8192 int16
 * ones, for four pairs of scales), and a negative input is refused. */
#include <math.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

enum { LUT16_STEPS = 512 };

static const char *op_name(kiln_qunary op) {
  return op == KILN_QU_EXP ? "EXP" : (op == KILN_QU_LOG ? "LOG" : "RSQRT");
}

static kiln_status *read_params(const kiln_op_ctx *ctx, const char *name,
                                kiln_qparams *in, kiln_qparams *out) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (y->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; quantized %s needs %s like "
                      "input 0 (x)",
                      kiln_dtype_name(y->dtype), name,
                      kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, in));
  return kiln_q_params(y, "output 0", true, out);
}

/* ------------------------------------------------- int16 EXP, LOG, RSQRT */

kiln_status *kiln_qshape_unary_math16(const kiln_op_ctx *ctx, kiln_qunary op) {
  kiln_qparams in, out;
  if (op != KILN_QU_EXP && op != KILN_QU_LOG && op != KILN_QU_RSQRT)
    return kiln_error(KILN_ERR_UNSUPPORTED, "no int16 table for this operator");
  return read_params(ctx, op_name(op), &in, &out);
}

/* The function LiteRT tabulates, in float. */
static float table_function(kiln_qunary op, float v, const kiln_qparams *out) {
  switch (op) {
    case KILN_QU_EXP:
      return expf(v);
    case KILN_QU_LOG:
      return v <= 0.0f ? (float)(out->qmin - out->zero_point) * out->scale
                       : logf(v);
    default:
      return v <= 0.0f ? 32767.0f * out->scale : 1.0f / sqrtf(v);
  }
}

/* v clamped to the int16 range. NaN (where EXP overflows to infinity,
 * the midpoint error is inf - inf) passes TFLite's clamp and converts as
 * x86 converts it (0x80000000, whose low 16 bits are 0): LiteRT's table
 * holds 0 there, and lookups slope down from 32767 toward it. */
static int16_t clamp16(float v) {
  if (v != v) return 0;
  if (v >= 32767.0f) return INT16_MAX;
  if (v < -32768.0f) return INT16_MIN;
  return (int16_t)v;
}

static void build_table(kiln_qunary op, const kiln_qparams *in,
                        const kiln_qparams *out, int16_t lut[LUT16_STEPS + 1]) {
  const float in_min = in->scale * (float)(INT16_MIN - in->zero_point);
  const float in_max = in->scale * (float)(INT16_MAX - in->zero_point);
  const float out_min = out->scale * (float)(INT16_MIN - out->zero_point);
  const float out_max = out->scale * (float)(INT16_MAX - out->zero_point);
  const float step = (in_max - in_min) / (float)LUT16_STEPS;
  const float half_step = step / 2.0f;
  const float inv = 65536.0f / (out_max - out_min);
  for (int i = 0; i < LUT16_STEPS; i++) {
    const float at = in_min + (float)i * step;
    const float v = table_function(op, at, out);
    const float mid = table_function(op, at + half_step, out);
    const float next = table_function(op, in_min + (float)(i + 1) * step, out);
    const float sample = roundf(v * inv);
    const float mid_interp = roundf((next * inv + roundf(v * inv)) / 2.0f);
    const float mid_val = roundf(mid * inv);
    const float bias = roundf((mid_interp - mid_val) / 2.0f);
    lut[i] = clamp16(sample - bias);
  }
  lut[LUT16_STEPS] = clamp16(roundf(table_function(op, in_max, out) * inv));
}

static int16_t lookup16(int32_t v, const int16_t *lut) {
  const int index = 256 + (v >= 0 ? v >> 7 : ~(~v >> 7));
  const int32_t offset = v & 0x7f;
  const int32_t base = lut[index];
  const int32_t slope = (int16_t)(uint16_t)(lut[index + 1] - base);
  const int32_t delta = slope * offset + 64;
  return (int16_t)(uint16_t)(base + (delta >= 0 ? delta >> 7 : ~(~delta >> 7)));
}

kiln_status *kiln_qref_unary_math16(const kiln_op_ctx *ctx, kiln_qunary op) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0];
  kiln_qparams in, out;
  KILN_TRY(read_params(ctx, op_name(op), &in, &out));
  const int64_t n = kiln_tensor_numel(x);
  const int16_t *src = x->data;
  if (op == KILN_QU_RSQRT)
    for (int64_t i = 0; i < n; i++)
      if (src[i] < in.zero_point)
        return kiln_error(KILN_ERR_RUNTIME,
                          "RSQRT input 0 (x) is negative at element %lld "
                          "(stored %d)",
                          (long long)i, (int)src[i]);
  /* 1 KiB on the stack, built per call: the reference is the oracle. */
  int16_t lut[LUT16_STEPS + 1];
  build_table(op, &in, &out, lut);
  int16_t *dst = y->data;
  for (int64_t i = 0; i < n; i++) dst[i] = lookup16(src[i], lut);
  return NULL;
}

/* ------------------------------------------------------------------ SQRT */

kiln_status *kiln_qshape_sqrt(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  if (x->dtype == KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized SQRT on uint8 is not supported (int8 and "
                      "int16 are, as in LiteRT)");
  kiln_qparams in, out;
  return read_params(ctx, "SQRT", &in, &out);
}

kiln_status *kiln_qref_sqrt(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0];
  kiln_qparams in, out;
  KILN_TRY(read_params(ctx, "SQRT", &in, &out));
  const int64_t n = kiln_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) {
    const int32_t q = kiln_q_load(x, i);
    if (q < in.zero_point)
      return kiln_error(KILN_ERR_RUNTIME,
                        "SQRT input 0 (x) is negative at element %lld "
                        "(stored %d, zero point %d)",
                        (long long)i, (int)q, (int)in.zero_point);
  }
  for (int64_t i = 0; i < n; i++) {
    const float real = in.scale * (float)(kiln_q_load(x, i) - in.zero_point);
    const float steps = floorf(sqrtf(real) / out.scale);
    const float shifted = steps + (float)out.zero_point;
    kiln_q_store(y, i,
                 shifted >= (float)out.qmax ? out.qmax : (int32_t)shifted);
  }
  return NULL;
}
