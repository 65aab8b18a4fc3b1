/* mean_avx512.c - the per-channel sum down the pixels for int8 MEAN over
 * H,W: 64 channels at a time in four int32 accumulators, the last block
 * masked. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_sum_rows_avx512(const int8_t *x, int64_t pixels, int64_t stride,
                             int64_t channels, int32_t *sums) {
  for (int64_t c = 0; c < channels; c += 64) {
    const int64_t left = channels - c;
    const __mmask64 k =
        left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0,
            acc3 = acc0;
    for (int64_t r = 0; r < pixels; r++) {
      const __m512i v = _mm512_maskz_loadu_epi8(k, x + r * stride + c);
      acc0 = _mm512_add_epi32(acc0,
                              _mm512_cvtepi8_epi32(_mm512_castsi512_si128(v)));
      acc1 = _mm512_add_epi32(
          acc1, _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 1)));
      acc2 = _mm512_add_epi32(
          acc2, _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 2)));
      acc3 = _mm512_add_epi32(
          acc3, _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, 3)));
    }
    int32_t block[64];
    _mm512_storeu_si512(block, acc0);
    _mm512_storeu_si512(block + 16, acc1);
    _mm512_storeu_si512(block + 32, acc2);
    _mm512_storeu_si512(block + 48, acc3);
    for (int64_t i = 0; i < left && i < 64; i++) sums[c + i] = block[i];
  }
}
