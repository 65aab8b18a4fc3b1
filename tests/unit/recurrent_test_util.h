/* recurrent_test_util.h - what test_ref_lstm.c and test_ref_rnn.c share:
 * weights that are float32 or int8 (the hybrid form), and the oracle's
 * product of a weight row with data, quantizing the data as TFLite's hybrid
 * kernels do. Static functions: each test includes its own copy. */
#ifndef KILN_TEST_RECURRENT_TEST_UTIL_H
#define KILN_TEST_RECURRENT_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "harness.h"

/* Weights of the cases to come: float32, or int8 (hybrid) with the data
 * quantized symmetrically or with zero points (asymmetric). */
enum { FLOAT_WEIGHTS, HYBRID, HYBRID_ASYMMETRIC };
static int weight_kind = FLOAT_WEIGHTS;

/* An int8 matrix with one scale, zero point 0; its quantization block is
 * allocated with it (info first, so the pointer frees it). */
typedef struct qbox {
  kiln_quant_info info;
  float scale;
  int64_t zero;
} qbox;

/* A [rows, cols] matrix (a [rows] vector when cols is 0) of the current
 * weight kind. */
static inline kiln_tensor *weights(int64_t rows, int64_t cols) {
  int64_t d[2] = {rows, cols};
  int rank = cols > 0 ? 2 : 1;
  if (weight_kind == FLOAT_WEIGHTS) return kiln_test_tensor_f32(rank, d, NULL);
  kiln_tensor *t = kiln_test_tensor(KILN_INT8, rank, d);
  int8_t *q = t->data;
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++)
    q[i] = (int8_t)kiln_test_int(-127, 127);
  qbox *box = malloc(sizeof *box);
  box->scale = kiln_test_uniform(0.002f, 0.01f);
  box->zero = 0;
  box->info = (kiln_quant_info){1, &box->scale, &box->zero, 0};
  t->quant = &box->info;
  return t;
}

static inline void free_weights(kiln_tensor *t) {
  if (t && t->quant) free((void *)t->quant);
  kiln_test_tensor_free(t);
}

/* Row j of w times x. For int8 weights, x is first quantized to int8 as
 * TFLite's hybrid kernels do (written here from their description):
 * symmetric, scale max|x| / 127 and values in [-127, 127]; asymmetric,
 * scale (max - min) / 255 over a range widened to hold 0, a zero point
 * from the end that errs less, nudged into [-128, 127]; rounding half away
 * from zero. The int32 sum of w * (q - zero) is scaled back in float. */
static inline double weight_row(const kiln_tensor *w, int j, const float *x,
                                int n) {
  if (w->dtype == KILN_FLOAT32) {
    double sum = 0;
    for (int i = 0; i < n; i++)
      sum += (double)((const float *)w->data)[j * n + i] * x[i];
    return sum;
  }
  float lo = x[0], hi = x[0], sx, inv;
  for (int i = 1; i < n; i++) {
    lo = fminf(lo, x[i]);
    hi = fmaxf(hi, x[i]);
  }
  int zero = 0, lowest = -127;
  if (weight_kind == HYBRID) {
    float range = fmaxf(fabsf(lo), fabsf(hi));
    if (range == 0) return 0.0;
    sx = range / 127.0f;
    inv = 127.0f / range;
  } else {
    double rmin = fmin(0.0, lo), rmax = fmax(0.0, hi);
    if (rmin == rmax) return 0.0;
    double scale = (rmax - rmin) / 255.0;
    double z = fabs(rmin / scale) + 128 < fabs(rmax / scale) + 127
                   ? -128 - rmin / scale
                   : 127 - rmax / scale;
    zero = z <= -128 ? -128 : z >= 127 ? 127 : (int)round(z);
    sx = (float)scale;
    inv = (float)(1.0 / sx);
    lowest = -128;
  }
  const int8_t *q = w->data;
  int32_t dot = 0;
  for (int i = 0; i < n; i++) {
    int v = (int)roundf((float)zero + x[i] * inv);
    v = v < lowest ? lowest : v > 127 ? 127 : v;
    dot += q[j * n + i] * (v - zero);
  }
  return (double)((float)dot * (sx * w->quant->scale[0]));
}

/* Element i of a vector of either kind. */
static inline float weight_element(const kiln_tensor *w, int i) {
  if (w->dtype == KILN_FLOAT32) return ((const float *)w->data)[i];
  return (float)((const int8_t *)w->data)[i] * w->quant->scale[0];
}

#endif
