/* pool_avx2.c - the int8 max or rounded average over one pooling window
 * with AVX2, 32 channels per vector; channels past the last multiple of 32
 * one by one. Clamped to the activation's range. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_maxpool_avx2(const int8_t *first, int64_t row_stride, int64_t rows,
                          int64_t cols, int64_t channels, int8_t lo, int8_t hi,
                          int8_t *out) {
  const __m256i vlo = _mm256_set1_epi8(lo), vhi = _mm256_set1_epi8(hi);
  const int64_t full = channels - channels % 32;
  for (int64_t c = 0; c < full; c += 32) {
    __m256i m = _mm256_set1_epi8(INT8_MIN);
    for (int64_t r = 0; r < rows; r++) {
      const int8_t *p = first + r * row_stride + c;
      for (int64_t x = 0; x < cols; x++, p += channels)
        m = _mm256_max_epi8(m, _mm256_loadu_si256((const __m256i *)p));
    }
    m = _mm256_min_epi8(_mm256_max_epi8(m, vlo), vhi);
    _mm256_storeu_si256((__m256i *)(out + c), m);
  }
  for (int64_t c = full; c < channels; c++) {
    int8_t m = INT8_MIN;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t x = 0; x < cols; x++) {
        const int8_t v = first[r * row_stride + x * channels + c];
        if (v > m) m = v;
      }
    out[c] = m < lo ? lo : (m > hi ? hi : m);
  }
}

/* The reference's (acc +- count / 2) / count, truncating, on 8 lanes,
 * through a float division that is exact for counts up to 2^16 (the
 * argument in pool_avx512.c). */
static inline __m256i average8(__m256i acc, __m256i half, __m256 count) {
  const __m256i positive = _mm256_cmpgt_epi32(acc, _mm256_setzero_si256());
  const __m256i num = _mm256_blendv_epi8(_mm256_sub_epi32(acc, half),
                                         _mm256_add_epi32(acc, half), positive);
  return _mm256_cvttps_epi32(_mm256_div_ps(_mm256_cvtepi32_ps(num), count));
}

void kiln_q8_avgpool_avx2(const int8_t *first, int64_t row_stride, int64_t rows,
                          int64_t cols, int64_t channels, int8_t lo, int8_t hi,
                          int8_t *out) {
  const int32_t n = (int32_t)(rows * cols);
  const __m256i half = _mm256_set1_epi32(n / 2);
  const __m256 count = _mm256_set1_ps((float)n);
  const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
  const int64_t full = channels - channels % 32;
  for (int64_t c = 0; c < full; c += 32) {
    __m256i acc[4];
    for (int q = 0; q < 4; q++) acc[q] = _mm256_setzero_si256();
    for (int64_t r = 0; r < rows; r++) {
      const int8_t *p = first + r * row_stride + c;
      for (int64_t x = 0; x < cols; x++, p += channels) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)p);
        const __m128i v0 = _mm256_castsi256_si128(v),
                      v1 = _mm256_extracti128_si256(v, 1);
        acc[0] = _mm256_add_epi32(acc[0], _mm256_cvtepi8_epi32(v0));
        acc[1] = _mm256_add_epi32(
            acc[1], _mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v0, v0)));
        acc[2] = _mm256_add_epi32(acc[2], _mm256_cvtepi8_epi32(v1));
        acc[3] = _mm256_add_epi32(
            acc[3], _mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v1, v1)));
      }
    }
    __m256i q[4];
    for (int i = 0; i < 4; i++)
      q[i] = _mm256_min_epi32(
          _mm256_max_epi32(average8(acc[i], half, count), vlo), vhi);
    /* Packing works within 128-bit lanes: the permute puts the 32 bytes
     * back in channel order. */
    const __m256i w01 = _mm256_packs_epi32(q[0], q[1]),
                  w23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w01, w23),
                                    _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(out + c), bytes);
  }
  for (int64_t c = full; c < channels; c++) {
    int32_t acc = 0;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t x = 0; x < cols; x++)
        acc += first[r * row_stride + x * channels + c];
    const int32_t v = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
    out[c] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
  }
}
