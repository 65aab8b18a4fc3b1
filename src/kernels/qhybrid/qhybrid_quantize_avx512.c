/* qhybrid_quantize_avx512.c - the hybrid kernels' quantization of float
 * activations with AVX-512, 16 lanes at a time: each lane does what the
 * portable code (qhybrid_pack.c) does to one value, with the same IEEE
 * operations in the same order, so the integers are the same. */
#include <immintrin.h>

#include "kernels/qhybrid/qhybrid.h"

/* 16 values: clamp(roundf(offset + x * inverse), lo, hi) (NaN gives 0):
 * clamped first to the integer bounds (rounding is monotonic), then the
 * exact fraction y - trunc(y) compared with 0.5 rounds halves away from
 * zero as roundf does. */
static inline __m512i quantize16(__m512 x, __m512 inverse, __m512 offset,
                                 __m512 lo, __m512 hi) {
  __m512 y = _mm512_mul_ps(x, inverse);
  y = _mm512_add_ps(y, offset);
  __mmask16 nan = _mm512_cmp_ps_mask(y, y, _CMP_UNORD_Q);
  y = _mm512_min_ps(_mm512_max_ps(y, lo), hi);
  __m512i t = _mm512_cvttps_epi32(y);
  __m512 frac = _mm512_sub_ps(y, _mm512_cvtepi32_ps(t));
  __m512i one = _mm512_set1_epi32(1);
  t = _mm512_mask_add_epi32(
      t, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t, one);
  t = _mm512_mask_sub_epi32(
      t, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), t, one);
  return _mm512_mask_mov_epi32(t, nan, _mm512_setzero_si512());
}

/* Quantizes n floats, storing each integer plus `add` through `store`. */
#define QUANTIZE_LOOP(add, store_full, store_tail)                             \
  __m512 inverse = _mm512_set1_ps(q->inverse);                                 \
  __m512 offset = _mm512_set1_ps((float)q->offset);                            \
  __m512 lo = _mm512_set1_ps((float)q->lo), hi = _mm512_set1_ps((float)q->hi); \
  __m512i plus = _mm512_set1_epi32(add);                                       \
  int64_t i = 0;                                                               \
  for (; i + 16 <= n; i += 16) {                                               \
    __m512i t = _mm512_add_epi32(                                              \
        quantize16(_mm512_loadu_ps(x + i), inverse, offset, lo, hi), plus);    \
    store_full;                                                                \
  }                                                                            \
  if (i < n) {                                                                 \
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                            \
    __m512i t = _mm512_add_epi32(                                              \
        quantize16(_mm512_maskz_loadu_ps(m, x + i), inverse, offset, lo, hi),  \
        plus);                                                                 \
    store_tail;                                                                \
  }

void kiln_qh_quantize_u8_avx512(const qh_quant *q, const float *x, int64_t n,
                                void *dst) {
  uint8_t *d = dst;
  QUANTIZE_LOOP(128, _mm_storeu_si128((void *)(d + i), _mm512_cvtepi32_epi8(t)),
                _mm512_mask_cvtepi32_storeu_epi8(d + i, m, t))
}

void kiln_qh_quantize_i16_centered_avx512(const qh_quant *q, const float *x,
                                          int64_t n, int16_t *dst) {
  QUANTIZE_LOOP(
      -q->offset,
      _mm256_storeu_si256((void *)(dst + i), _mm512_cvtepi32_epi16(t)),
      _mm512_mask_cvtepi32_storeu_epi16(dst + i, m, t))
}

/* The smallest and largest of x as the scalar loop finds them: min_ps(v,
 * m) is v < m ? v : m, lane by lane, so NaNs after the first element are
 * passed over and a NaN first element stays (only the sign of a zero may
 * differ, which no quantization rule sees). */
void kiln_qh_min_max_avx512(const float *x, int64_t n, float *lo, float *hi) {
  __m512 l = _mm512_set1_ps(x[0]), h = l;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    l = _mm512_min_ps(v, l);
    h = _mm512_max_ps(v, h);
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(x[0]), m, x + i);
    l = _mm512_min_ps(v, l);
    h = _mm512_max_ps(v, h);
  }
  float ls[16], hs[16];
  _mm512_storeu_ps(ls, l);
  _mm512_storeu_ps(hs, h);
  float a = ls[0], b = hs[0];
  for (int k = 1; k < 16; k++) {
    if (ls[k] < a) a = ls[k];
    if (hs[k] > b) b = hs[k];
  }
  *lo = a;
  *hi = b;
}
