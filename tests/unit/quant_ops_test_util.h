/* quant_ops_test_util.h - quantized tensors for the test_ref_quant_* unit
 * tests: random per-tensor scales and zero points, random stored values,
 * element access, and the ideal result an integer kernel approximates
 * (the real value requantized in double with round-half-away and the
 * type's clamp). Header-only: each test includes it once. */
#ifndef KILN_TEST_QUANT_OPS_TEST_UTIL_H
#define KILN_TEST_QUANT_OPS_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "core/ops.h"
#include "harness.h"

/* A quantized test tensor: the tensor and the parameters it points to. */
typedef struct qtensor {
  kiln_tensor *t;
  kiln_quant_info info;
  float scale;
  int64_t zero_point;
} qtensor;

static inline void qt_range(kiln_dtype dtype, int32_t *lo, int32_t *hi) {
  *lo = dtype == KILN_INT8 ? -128 : (dtype == KILN_UINT8 ? 0 : -32768);
  *hi = dtype == KILN_INT8 ? 127 : (dtype == KILN_UINT8 ? 255 : 32767);
}

/* The tensor with scale and zero point set (and heap-owned qtensor so the
 * quant pointer stays valid). Data is zeroed. */
static inline qtensor *qt_make(kiln_dtype dtype, int rank, const int64_t *dims,
                               float scale, int64_t zero_point) {
  qtensor *q = calloc(1, sizeof *q);
  q->t = kiln_test_tensor(dtype, rank, dims);
  q->scale = scale;
  q->zero_point = zero_point;
  q->info.count = 1;
  q->info.scale = &q->scale;
  q->info.zero_point = &q->zero_point;
  q->t->quant = &q->info;
  return q;
}

/* A random scale in [2^-10, 2^-1) (log-uniform) and zero point (0 for
 * int16, whose quantization is symmetric). */
static inline float qt_random_scale(void) {
  return (float)exp2(kiln_test_uniform(-10.0f, -1.0f));
}
static inline int64_t qt_random_zero_point(kiln_dtype dtype) {
  int32_t lo, hi;
  qt_range(dtype, &lo, &hi);
  if (dtype == KILN_INT16) return 0;
  return kiln_test_int(lo + (hi - lo) / 4, hi - (hi - lo) / 4);
}

static inline qtensor *qt_random(kiln_dtype dtype, int rank,
                                 const int64_t *dims) {
  qtensor *q = qt_make(dtype, rank, dims, qt_random_scale(),
                       qt_random_zero_point(dtype));
  int32_t lo, hi;
  qt_range(dtype, &lo, &hi);
  int64_t n = kiln_tensor_numel(q->t);
  for (int64_t i = 0; i < n; i++) {
    int32_t v = kiln_test_int(lo, hi);
    if (dtype == KILN_INT8)
      ((int8_t *)q->t->data)[i] = (int8_t)v;
    else if (dtype == KILN_UINT8)
      ((uint8_t *)q->t->data)[i] = (uint8_t)v;
    else
      ((int16_t *)q->t->data)[i] = (int16_t)v;
  }
  return q;
}

/* An output of `dtype` with the given quantization (shape set by the op). */
static inline qtensor *qt_output(kiln_dtype dtype, float scale,
                                 int64_t zero_point) {
  int64_t one = 1;
  return qt_make(dtype, 1, &one, scale, zero_point);
}

static inline void qt_free(qtensor *q) {
  if (!q) return;
  kiln_test_tensor_free(q->t);
  free(q);
}

static inline int32_t qt_get(const qtensor *q, int64_t i) {
  switch (q->t->dtype) {
    case KILN_INT8:
      return ((const int8_t *)q->t->data)[i];
    case KILN_UINT8:
      return ((const uint8_t *)q->t->data)[i];
    default:
      return ((const int16_t *)q->t->data)[i];
  }
}

static inline double qt_real(const qtensor *q, int64_t i) {
  return (double)q->scale * (double)(qt_get(q, i) - q->zero_point);
}

/* real value -> the ideal stored value of `out`, clamped to [lo, hi]. */
static inline int32_t qt_ideal(const qtensor *out, double real, int32_t lo,
                               int32_t hi) {
  double q = round(real / (double)out->scale) + (double)out->zero_point;
  return q < lo ? lo : (q > hi ? hi : (int32_t)q);
}

static const kiln_dtype qt_types[3] = {KILN_INT8, KILN_UINT8, KILN_INT16};

#endif
