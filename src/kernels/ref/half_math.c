/* half_math.c - float16 kernels of the elementwise, activation and softmax
 * operators that LiteRT also runs on float16. LiteRT computes these in two
 * ways: most widen each half to float, call the float function and round
 * the result back (kiln_half_map), while LOGISTIC and GELU evaluate an
 * Eigen expression over Eigen::half, where every addition, product and
 * function value is rounded to half before the next step uses it. Which
 * one an operator uses shows in its answers (a result one unit away from
 * the correctly rounded one), so each function here names the rounding
 * steps it reproduces; tests/unit/test_half_math.c checks them against
 * independent step-by-step computations. */
#include "kernels/ref/half_math.h"

#include <math.h>

#include "kernels/ref/elementwise.h"

/* A float rounded to the nearest half and widened again. */
static float round_half(float x) {
  return kiln_half_to_float(kiln_float_to_half(x));
}

/* Whether f lies exactly halfway between two neighbouring halves: then the
 * nearest half v and its mirror 2f - v are both halves (the mirror is
 * computed exactly, being representable). */
static bool is_half_midpoint(float f) {
  float v = round_half(f);
  if (v == f || !isfinite(v)) return false;
  float mirror = 2.0f * f - v;
  return isfinite(mirror) && round_half(mirror) == mirror;
}

uint16_t kiln_double_to_half(double d) {
  float f = (float)d;
  /* A float on a midpoint decides the tie wrongly when d was not on it:
   * the float one step towards d rounds the way d does. */
  if ((double)f != d && !isnan(d) && is_half_midpoint(f))
    f = nextafterf(f, d > (double)f ? INFINITY : -INFINITY);
  return kiln_float_to_half(f);
}

void kiln_half_map(const kiln_op_ctx *ctx, float (*f)(float x)) {
  const uint16_t *x = ctx->inputs[0]->data;
  uint16_t *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++)
    y[i] = kiln_float_to_half(f(kiln_half_to_float(x[i])));
}

/* ---------------------------------------------------------- LOGISTIC */

static float logistic_h(float x) {
  float e = round_half((float)exp(x));
  if (isinf(e) && e > 0.0f) return 1.0f; /* Eigen's overflow guard */
  return e / round_half(1.0f + e);
}

void kiln_half_logistic(const kiln_op_ctx *ctx) {
  kiln_half_map(ctx, logistic_h);
}

/* -------------------------------------------------------------- GELU */

static float gelu_exact_h(float x) {
  const float minus_sqrt_half = round_half((float)-0.70710678118654752440);
  float t = round_half(x * minus_sqrt_half);
  float erfc_t = round_half((float)erfc(t));
  return round_half(0.5f * x) * erfc_t;
}

static float gelu_tanh_h(float x) {
  const float k = round_half(0.7978845608028654f); /* sqrt(2 / pi) */
  const float c = round_half(0.044715f);
  float cube = round_half(round_half(x * x) * x);
  float inner = round_half(k * round_half(x + round_half(c * cube)));
  float t = round_half((float)tanh(inner));
  return round_half(0.5f * x) * round_half(1.0f + t);
}

void kiln_half_gelu(const kiln_op_ctx *ctx, bool approximate) {
  kiln_half_map(ctx, approximate ? gelu_tanh_h : gelu_exact_h);
}

/* ----------------------------------------------------------- SOFTMAX */

static void softmax_row_h(const uint16_t *x, uint16_t *y, int64_t n,
                          float beta) {
  float max = kiln_half_to_float(x[0]);
  for (int64_t i = 1; i < n; i++) {
    float v = kiln_half_to_float(x[i]);
    if (v > max) max = v;
  }
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    float e = (float)exp((kiln_half_to_float(x[i]) - max) * beta);
    y[i] = kiln_float_to_half(e); /* the output holds e until the sum is in */
    sum += e;
  }
  for (int64_t i = 0; i < n; i++)
    y[i] = kiln_float_to_half(kiln_half_to_float(y[i]) / sum);
}

void kiln_half_softmax(const kiln_op_ctx *ctx, float beta) {
  const kiln_tensor *x = ctx->inputs[0];
  int64_t n = x->dims[x->rank - 1], total = kiln_tensor_numel(x);
  const uint16_t *in = x->data;
  uint16_t *out = ctx->outputs[0]->data;
  for (int64_t r = 0; n > 0 && r < total; r += n)
    softmax_row_h(in + r, out + r, n, beta);
}

/* ------------------------------------------------------------- ATAN2 */

void kiln_half_atan2(const kiln_op_ctx *ctx) {
  const kiln_tensor *in[2] = {ctx->inputs[0], ctx->inputs[1]};
  const uint16_t *a = in[0]->data, *b = in[1]->data;
  uint16_t *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk w;
  kiln_bcast_walk_init(&w, in, 2, ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&w))
    out[i] = kiln_double_to_half(atan2(kiln_half_to_float(a[w.offset[0]]),
                                       kiln_half_to_float(b[w.offset[1]])));
}
