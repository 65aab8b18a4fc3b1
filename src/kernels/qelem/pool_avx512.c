/* pool_avx512.c - the int8 max or rounded average over one pooling window,
 * 64 channels per vector (the last block masked), clamped to the
 * activation's range. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_maxpool_avx512(const int8_t *first, int64_t row_stride,
                            int64_t rows, int64_t cols, int64_t channels,
                            int8_t lo, int8_t hi, int8_t *out) {
  const __m512i vlo = _mm512_set1_epi8(lo), vhi = _mm512_set1_epi8(hi);
  for (int64_t c = 0; c < channels; c += 64) {
    const int64_t left = channels - c;
    const __mmask64 k =
        left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
    __m512i m = _mm512_set1_epi8(INT8_MIN);
    for (int64_t r = 0; r < rows; r++) {
      const int8_t *p = first + r * row_stride + c;
      for (int64_t x = 0; x < cols; x++, p += channels)
        m = _mm512_max_epi8(m, _mm512_maskz_loadu_epi8(k, p));
    }
    m = _mm512_min_epi8(_mm512_max_epi8(m, vlo), vhi);
    _mm512_mask_storeu_epi8(out + c, k, m);
  }
}

/* The reference's (acc +- count / 2) / count, truncating, on 16 lanes. The
 * quotient is below 2^8 in magnitude and the numerator below 2^24, so both
 * convert to float exactly and the correctly rounded float quotient is off
 * by at most 2^-17, less than the 1 / count (count <= 2^16) that separates
 * an inexact quotient from an integer: truncating it gives the exact
 * integer quotient. */
static inline __m512i average16(__m512i acc, __m512i half, __m512 count) {
  const __mmask16 positive =
      _mm512_cmpgt_epi32_mask(acc, _mm512_setzero_si512());
  const __m512i num =
      _mm512_mask_add_epi32(_mm512_sub_epi32(acc, half), positive, acc, half);
  return _mm512_cvttps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(num), count));
}

void kiln_q8_avgpool_avx512(const int8_t *first, int64_t row_stride,
                            int64_t rows, int64_t cols, int64_t channels,
                            int8_t lo, int8_t hi, int8_t *out) {
  const int32_t n = (int32_t)(rows * cols);
  const __m512i half = _mm512_set1_epi32(n / 2);
  const __m512 count = _mm512_set1_ps((float)n);
  const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
  for (int64_t c = 0; c < channels; c += 64) {
    const int64_t left = channels - c;
    const __mmask64 k =
        left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
    __m512i acc[4];
    for (int q = 0; q < 4; q++) acc[q] = _mm512_setzero_si512();
    for (int64_t r = 0; r < rows; r++) {
      const int8_t *p = first + r * row_stride + c;
      for (int64_t x = 0; x < cols; x++, p += channels) {
        const __m512i v = _mm512_maskz_loadu_epi8(k, p);
        acc[0] = _mm512_add_epi32(
            acc[0], _mm512_cvtepi8_epi32(_mm512_castsi512_si128(v)));
        acc[1] = _mm512_add_epi32(
            acc[1], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 1)));
        acc[2] = _mm512_add_epi32(
            acc[2], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 2)));
        acc[3] = _mm512_add_epi32(
            acc[3], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 3)));
      }
    }
    for (int q = 0; q < 4 && 16 * q < left; q++) {
      __m512i v = average16(acc[q], half, count);
      v = _mm512_min_epi32(_mm512_max_epi32(v, vlo), vhi);
      const int64_t rest = left - 16 * q;
      const __mmask16 kq =
          rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1);
      _mm512_mask_cvtepi32_storeu_epi8(out + c + 16 * q, kq, v);
    }
  }
}
