/* quant_test_util.h - helpers for the quantized kernels' tests: tensors of
 * int8 / uint8 / int16 (and int32 / int64 biases) with quantization
 * parameters, random scales, and an oracle for TFLite's output stage
 * computed in long double from its definition (nearest, ties up, of
 * acc * M / 2^31, then nearest, ties away, of that / 2^-shift), separate
 * from the kernels' fixed-point code. Included by test_ref_quant_*.c. */
#ifndef KILN_TEST_QUANT_TEST_UTIL_H
#define KILN_TEST_QUANT_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "kernels/kernel.h"
#include "kernels/ref/quant_math.h"

/* A quantized tensor and the parameters it points at. */
typedef struct qt {
  kiln_tensor *t;
  kiln_quant_info info;
  float scale[1024]; /* per-channel parameters, up to 1024 channels */
  int64_t zp[1024];
} qt;

static inline int32_t qt_min(kiln_dtype t) {
  return t == KILN_INT8 ? -128 : (t == KILN_UINT8 ? 0 : -32768);
}
static inline int32_t qt_max(kiln_dtype t) {
  return t == KILN_INT8 ? 127 : (t == KILN_UINT8 ? 255 : 32767);
}

/* A new tensor of `dtype` filled uniformly over the type's range (or
 * [lo, hi] for int32 / int64), with `count` scales (1 or per channel on
 * `axis`) and zero points given by the caller afterwards. */
static inline qt *qt_new(kiln_dtype dtype, int rank, const int64_t *dims,
                         int count, int axis) {
  qt *q = calloc(1, sizeof *q);
  CHECK(count <= 1024); /* the parameter arrays' size */
  if (count > 1024) count = 1024;
  q->t = kiln_test_tensor(dtype, rank, dims);
  q->info.count = count;
  q->info.scale = q->scale;
  q->info.zero_point = q->zp;
  q->info.axis = axis;
  q->t->quant = count ? &q->info : NULL;
  for (int i = 0; i < count; i++) q->scale[i] = 1.0f;
  int64_t n = kiln_tensor_numel(q->t);
  for (int64_t i = 0; i < n; i++) {
    switch (dtype) {
      case KILN_INT8:
        ((int8_t *)q->t->data)[i] = (int8_t)kiln_test_int(-128, 127);
        break;
      case KILN_UINT8:
        ((uint8_t *)q->t->data)[i] = (uint8_t)kiln_test_int(0, 255);
        break;
      case KILN_INT16:
        ((int16_t *)q->t->data)[i] = (int16_t)kiln_test_int(-32768, 32767);
        break;
      case KILN_INT32:
        ((int32_t *)q->t->data)[i] = kiln_test_int(-20000, 20000);
        break;
      case KILN_INT64:
        ((int64_t *)q->t->data)[i] = kiln_test_int(-2000000, 2000000);
        break;
      default:
        break;
    }
  }
  return q;
}

static inline void qt_free(qt *q) {
  if (!q) return;
  kiln_test_tensor_free(q->t);
  free(q);
}

/* An output tensor of `dtype` with one scale and zero point. */
static inline qt *qt_output(kiln_dtype dtype, float scale, int64_t zp) {
  int64_t one = 1;
  qt *q = qt_new(dtype, 1, &one, 1, 0);
  q->scale[0] = scale;
  q->zp[0] = zp;
  return q;
}

/* Element i as int64, whatever the integer type. */
static inline int64_t qt_get(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_INT8:
      return ((const int8_t *)t->data)[i];
    case KILN_UINT8:
      return ((const uint8_t *)t->data)[i];
    case KILN_INT16:
      return ((const int16_t *)t->data)[i];
    case KILN_INT32:
      return ((const int32_t *)t->data)[i];
    case KILN_INT64:
      return ((const int64_t *)t->data)[i];
    default:
      return 0;
  }
}

/* A random scale in [2^lo, 2^hi). */
static inline float qt_scale(int lo, int hi) {
  return ldexpf(kiln_test_uniform(1.0f, 2.0f), kiln_test_int(lo, hi - 1));
}

/* TFLite's int32 rescale of acc, from its definition in long double. */
static inline int64_t oracle_rescale32(int64_t acc, double real) {
  int32_t m;
  int shift;
  kiln_quantize_multiplier(real, &m, &shift);
  int32_t x = (int32_t)(uint32_t)(uint64_t)acc; /* int32 wrap */
  int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  x = (int32_t)(uint32_t)((uint32_t)x << left);
  long double high =
      floorl((long double)x * (long double)m / 2147483648.0L + 0.5L);
  if (x == INT32_MIN && m == INT32_MIN) high = INT32_MAX;
  return (int64_t)roundl(high / ldexpl(1.0L, right));
}

/* The single-rounding rescale of dense layers: the exact product of acc
 * and the Q31 multiplier, rounded once (nearest, ties up). */
static inline int64_t oracle_rescale_single(int64_t acc, double real) {
  int32_t m;
  int shift;
  kiln_quantize_multiplier(real, &m, &shift);
  return (int64_t)floorl(
      (long double)acc * (long double)m / ldexpl(1.0L, 31 - shift) + 0.5L);
}

/* The int64 rescale of 16x8 kernels: Q15 multiplier, one rounding. */
static inline int64_t oracle_rescale64(int64_t acc, double real) {
  int32_t m;
  int shift;
  kiln_quantize_multiplier(real, &m, &shift);
  long double reduced =
      m >= 0x7FFF0000 ? 32767.0L : floorl((long double)m / 65536.0L + 0.5L);
  return (int64_t)floorl((long double)acc * reduced / ldexpl(1.0L, 15 - shift) +
                         0.5L);
}

/* The fused activation's clamp on a quantized output, from the real
 * bounds (0, 6, +-1) quantized with round-half-away. */
static inline void oracle_clamp(kiln_activation act, kiln_dtype t, float scale,
                                int64_t zp, int64_t *lo, int64_t *hi) {
  *lo = qt_min(t);
  *hi = qt_max(t);
  float bound_lo = act == KILN_ACT_RELU_N1_TO_1 ? -1.0f : 0.0f;
  float bound_hi = act == KILN_ACT_RELU6 ? 6.0f : 1.0f;
  if (act != KILN_ACT_NONE) {
    int64_t q = zp + (int64_t)roundl((long double)(bound_lo / scale));
    if (q > *lo) *lo = q;
  }
  if (act == KILN_ACT_RELU6 || act == KILN_ACT_RELU_N1_TO_1) {
    int64_t q = zp + (int64_t)roundl((long double)(bound_hi / scale));
    if (q < *hi) *hi = q;
  }
}

static inline kiln_activation qt_random_clamp(void) {
  static const kiln_activation acts[] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                         KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
  return acts[kiln_test_int(0, 3)];
}

#endif
