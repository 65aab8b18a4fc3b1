/* pool_avx2.c - the int8 max over one pooling window with AVX2, 32
 * channels per vector; channels past the last multiple of 32 one by one.
 * Clamped to the activation's range. */
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
