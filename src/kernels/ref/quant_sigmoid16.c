/* quant_sigmoid16.c - LOGISTIC and TANH on int16 (16x8 models) as TFLite's
 * integer kernels compute them: the input is rescaled to 3 * 2^12 steps
 * per unit (or taken as is when its scale is a power of two that already
 * fits), and sigmoid is read from TFLite's 256-entry table of sigmoid(i /
 * 24) in 0.16 fixed point with linear interpolation between entries, using
 * tanh(x) = 2 sigmoid(2x) - 1 for TANH. Symmetric quantization (zero
 * points 0) and an output scale of 2^-15 are required, as by TFLite. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Entry i of TFLite's table, in 0.16 fixed point. Its entries are not
 * round(65536 sigmoid(i / 24)) (44 differ by one): each knot is raised by
 * half the error of the chord to the next knot at its midpoint, which
 * splits a concave segment's interpolation error between above and below;
 * that rule reproduces every entry but the last, which holds the limit
 * 65535 (only ever the right end of segment 254). */
static uint32_t sigmoid_entry(int i) {
  if (i >= 255) return 65535u;
  const double s0 = sigmoid(i / 24.0), s1 = sigmoid((i + 1) / 24.0);
  const double chord_error = sigmoid((i + 0.5) / 24.0) - (s0 + s1) / 2;
  const double r = floor(65536.0 * (s0 + chord_error / 2) + 0.5);
  return r > 65535.0 ? 65535u : (uint32_t)r;
}

typedef struct sigmoid16_plan {
  int32_t multiplier;
  int left_shift;
} sigmoid16_plan;

/* TFLite's CheckedLog2: log2(x) rounded, and whether x is a power of 2. */
static bool checked_log2(float x, int *out) {
  const float l = logf(x) * (1.0f / logf(2.0f));
  const float r = roundf(l);
  *out = (int)r;
  return fabsf(l - r) < 1e-3f;
}

static kiln_status *make_plan(const kiln_op_ctx *ctx, bool tanh_op,
                              sigmoid16_plan *p) {
  const char *name = tanh_op ? "TANH" : "LOGISTIC";
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(ctx->inputs[0], "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(ctx->outputs[0], "output 0", true, &qo));
  int out_log2 = 0;
  if (!checked_log2(qo.scale, &out_log2) || out_log2 != -15)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has scale %g; TFLite's int16 %s requires "
                      "2^-15",
                      (double)qo.scale, name);
  int in_log2 = 0;
  bool pot = checked_log2(qx.scale, &in_log2);
  p->multiplier = 0;
  p->left_shift = (15 - 3) + in_log2;
  pot = pot && (p->left_shift == 0 || (tanh_op && p->left_shift == 1));
  if (!pot) {
    /* To 3 * 4096 steps per unit: [-8, 8] of the table spans +-10.7. */
    double m = (double)qx.scale * 4096.0 * 3.0;
    p->left_shift = 0;
    while (m <= 32767.0 / 2.0 && p->left_shift <= 30) {
      p->left_shift++;
      m *= 2.0;
    }
    if (m > 2147483647.0)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input 0 (x) scale %g is too large for int16 %s",
                        (double)qx.scale, name);
    p->multiplier = (int32_t)m;
  }
  return NULL;
}

kiln_status *kiln_qshape_sigmoid16(const kiln_op_ctx *ctx, bool tanh_op) {
  sigmoid16_plan p = {0}; /* make_plan sets it; gcc -O3 cannot see that */
  return make_plan(ctx, tanh_op, &p);
}

/* The table depends on nothing but the function: built once per process
 * (768 exp calls), not at every invoke. */
static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (int i = 0; i < 256; i++) table[i] = sigmoid_entry(i);
}

kiln_status *kiln_qref_sigmoid16(const kiln_op_ctx *ctx, bool tanh_op) {
  sigmoid16_plan p = {0}; /* make_plan sets it; gcc -O3 cannot see that */
  KILN_TRY(make_plan(ctx, tanh_op, &p));
  pthread_once(&table_once, build_table);
  int32_t multiplier = p.multiplier, shift = p.left_shift;
  if (multiplier == 0) { /* a power-of-two input scale */
    multiplier = 3 << shift;
    shift = 0;
  }
  const int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
  const int16_t *x = ctx->inputs[0]->data;
  int16_t *y = ctx->outputs[0]->data;
  const int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  /* Fraction bits below the table index: 9 for sigmoid, 8 for tanh's
   * doubled argument. */
  const int frac = tanh_op ? 8 : 9;
  for (int64_t i = 0; i < n; i++) {
    const int32_t v = (int32_t)(((int64_t)x[i] * multiplier + round) >> shift);
    const uint32_t a = (uint32_t)abs(v);
    const uint32_t index = a >> frac;
    uint32_t r;
    if (index >= 255) {
      r = tanh_op ? (UINT32_C(0xFFFF) << 8) : (UINT32_C(0x7FFF) << 10);
    } else {
      const uint32_t lo = table[index], hi = table[index + 1];
      r = (lo << frac) + (a & ((1u << frac) - 1)) * (hi - lo);
    }
    int32_t out;
    if (tanh_op) {
      const int32_t s = (int32_t)r;
      out = v >= 0 ? s - (1 << 23) + (1 << 7) : -s + (1 << 23) + (1 << 7) - 1;
      /* floor(out / 256), spelled out for negatives */
      out = out >= 0 ? out >> 8 : ~(~out >> 8);
    } else {
      const uint32_t u =
          v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1;
      out = (int32_t)(u >> 10);
    }
    y[i] = (int16_t)out;
  }
  return NULL;
}
