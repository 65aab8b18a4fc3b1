/* pool_avx512.c - the int8 max over one pooling window, 64 channels per
 * vector (the last block masked), clamped to the activation's range. */
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
