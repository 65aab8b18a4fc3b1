/* qhybrid_quantize_avx2.c - the hybrid kernels' quantization of float
 * activations with AVX2, 8 lanes at a time, for the AVX2 GEMM (int16
 * activations) and depthwise (int16 minus the zero point): each lane does
 * what the portable code (qhybrid_pack.c) does to one value, with the same
 * IEEE operations in the same order, so the integers are the same. It
 * mirrors qhybrid_quantize_avx512.c; AVX2 has no masked loads and stores
 * of these widths, so a last partial block goes through a small buffer. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qhybrid/qhybrid.h"

/* 8 values: clamp(roundf(offset + x * inverse), lo, hi) (NaN gives 0):
 * clamped first to the integer bounds (rounding is monotonic), then the
 * exact fraction y - trunc(y) compared with 0.5 rounds halves away from
 * zero as roundf does. */
static inline __m256i quantize8(__m256 x, __m256 inverse, __m256 offset,
                                __m256 lo, __m256 hi) {
  __m256 y = _mm256_mul_ps(x, inverse);
  y = _mm256_add_ps(y, offset);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(y, y, _CMP_UNORD_Q));
  y = _mm256_min_ps(_mm256_max_ps(y, lo), hi);
  __m256i t = _mm256_cvttps_epi32(y);
  const __m256 frac = _mm256_sub_ps(y, _mm256_cvtepi32_ps(t));
  /* Comparisons give -1 where true: subtracting adds one, adding takes
   * one off. */
  t = _mm256_sub_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(
                              frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
  t = _mm256_add_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(
                              frac, _mm256_set1_ps(-0.5f), _CMP_LE_OQ)));
  return _mm256_andnot_si256(nan, t);
}

/* n floats to int16, each integer plus `add` (which keeps it in int16). */
static void quantize_i16(const qh_quant *q, const float *x, int64_t n,
                         int32_t add, int16_t *dst) {
  const __m256 inverse = _mm256_set1_ps(q->inverse);
  const __m256 offset = _mm256_set1_ps((float)q->offset);
  const __m256 lo = _mm256_set1_ps((float)q->lo);
  const __m256 hi = _mm256_set1_ps((float)q->hi);
  const __m256i plus = _mm256_set1_epi32(add);
  int64_t i = 0;
  for (; i < n; i += 8) {
    const int64_t left = n - i < 8 ? n - i : 8;
    __m256 v;
    if (left == 8) {
      v = _mm256_loadu_ps(x + i);
    } else {
      float buf[8] = {0};
      memcpy(buf, x + i, (size_t)left * sizeof(float));
      v = _mm256_loadu_ps(buf);
    }
    const __m256i t =
        _mm256_add_epi32(quantize8(v, inverse, offset, lo, hi), plus);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(t),
                                      _mm256_extracti128_si256(t, 1));
    if (left == 8) {
      _mm_storeu_si128((__m128i *)(void *)(dst + i), w);
    } else {
      int16_t buf[8];
      _mm_storeu_si128((__m128i *)(void *)buf, w);
      memcpy(dst + i, buf, (size_t)left * sizeof(int16_t));
    }
  }
}

void kiln_qh_quantize_i16_avx2(const qh_quant *q, const float *x, int64_t n,
                               void *dst) {
  quantize_i16(q, x, n, 0, dst);
}

void kiln_qh_quantize_i16_centered_avx2(const qh_quant *q, const float *x,
                                        int64_t n, int16_t *dst) {
  quantize_i16(q, x, n, -q->offset, dst);
}

/* The smallest and largest of x as the scalar loop finds them: min_ps(v,
 * m) is v < m ? v : m, lane by lane, so NaNs after the first element are
 * passed over and a NaN first element stays (only the sign of a zero may
 * differ, which no quantization rule sees). */
void kiln_qh_min_max_avx2(const float *x, int64_t n, float *lo, float *hi) {
  __m256 l = _mm256_set1_ps(x[0]), h = l;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    l = _mm256_min_ps(v, l);
    h = _mm256_max_ps(v, h);
  }
  float ls[8], hs[8];
  _mm256_storeu_ps(ls, l);
  _mm256_storeu_ps(hs, h);
  float a = ls[0], b = hs[0];
  for (int k = 1; k < 8; k++) {
    if (ls[k] < a) a = ls[k];
    if (hs[k] > b) b = hs[k];
  }
  /* The last partial block as the scalar loop would see it. */
  for (; i < n; i++) {
    if (x[i] < a) a = x[i];
    if (x[i] > b) b = x[i];
  }
  *lo = a;
  *hi = b;
}
