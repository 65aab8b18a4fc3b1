/* mean_avx2.c - the per-channel sum down the pixels for int8 MEAN over
 * H,W with AVX2: 32 channels at a time in four int32 accumulators; the
 * channels past the last multiple of 32 are summed by the portable code. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_sum_rows_avx2(const int8_t *x, int64_t pixels, int64_t stride,
                           int64_t channels, int32_t *sums) {
  const int64_t full = channels - channels % 32;
  for (int64_t c = 0; c < full; c += 32) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0,
            acc3 = acc0;
    for (int64_t r = 0; r < pixels; r++) {
      const int8_t *p = x + r * stride + c;
      acc0 = _mm256_add_epi32(
          acc0, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
      acc1 = _mm256_add_epi32(
          acc1,
          _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8))));
      acc2 = _mm256_add_epi32(
          acc2,
          _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 16))));
      acc3 = _mm256_add_epi32(
          acc3,
          _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 24))));
    }
    _mm256_storeu_si256((__m256i *)(sums + c), acc0);
    _mm256_storeu_si256((__m256i *)(sums + c + 8), acc1);
    _mm256_storeu_si256((__m256i *)(sums + c + 16), acc2);
    _mm256_storeu_si256((__m256i *)(sums + c + 24), acc3);
  }
  if (full < channels)
    kiln_q8_sum_rows_portable(x + full, pixels, stride, channels - full,
                              sums + full);
}
