/* resize_avx2.c - one output row of an int8 bilinear resize with AVX2, 16
 * channels per step and the channels past the last multiple of 16 one by
 * one. The same integer steps as resize_avx512.c: VPMADDWD blends each
 * pixel's two taps horizontally, int32 multiplies blend the two rows, and
 * the sum (below 2^29, see resize.c) is rounded half away from zero at
 * 2^20, equal to the reference. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"
#include "kernels/qelem/resize_taps.h"

/* sum / 2^20 rounded half away from zero, on 8 int32 lanes: a negative
 * sum adds 2^19 - 1 instead of 2^19 before the flooring shift, which
 * rounds its halves down, away from zero. */
static inline __m256i round_2_20(__m256i sum) {
  const __m256i biased =
      _mm256_add_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(1 << 19)),
                       _mm256_srai_epi32(sum, 31));
  return _mm256_srai_epi32(biased, 20);
}

static int8_t round_scalar(int32_t sum) {
  const int32_t m = sum < 0 ? -sum : sum;
  const int32_t r = (m + (1 << 19)) >> 20;
  const int32_t v = sum < 0 ? -r : r;
  return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

void kiln_q8_bilinear_row_avx2(const int8_t *row0, const int8_t *row1,
                               int32_t wy0, int32_t wy1,
                               const kiln_q8_resize_axis *xs, int64_t out_w,
                               int64_t channels, int8_t *out) {
  const __m256i vy0 = _mm256_set1_epi32(wy0), vy1 = _mm256_set1_epi32(wy1);
  const int64_t full = channels - channels % 16;
  for (int64_t ox = 0; ox < out_w; ox++, out += channels) {
    int64_t lo, hi;
    int32_t wx0, wx1;
    kiln_q8_bilinear_tap(xs, ox, &lo, &hi, &wx0, &wx1);
    const __m256i vx =
        _mm256_set1_epi32((int32_t)(((uint32_t)wx1 << 16) | (uint16_t)wx0));
    const int8_t *p00 = row0 + lo * channels, *p01 = row0 + hi * channels;
    const int8_t *p10 = row1 + lo * channels, *p11 = row1 + hi * channels;
    for (int64_t c = 0; c < full; c += 16) {
      const __m256i a00 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p00 + c)));
      const __m256i a01 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p01 + c)));
      const __m256i a10 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p10 + c)));
      const __m256i a11 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p11 + c)));
      /* Lane L holds channels 8L..8L+3 in the low pairs, 8L+4..8L+7 in
       * the high ones; VPACKSSDW puts them back in order. */
      const __m256i top_lo =
          _mm256_madd_epi16(_mm256_unpacklo_epi16(a00, a01), vx);
      const __m256i top_hi =
          _mm256_madd_epi16(_mm256_unpackhi_epi16(a00, a01), vx);
      const __m256i bot_lo =
          _mm256_madd_epi16(_mm256_unpacklo_epi16(a10, a11), vx);
      const __m256i bot_hi =
          _mm256_madd_epi16(_mm256_unpackhi_epi16(a10, a11), vx);
      const __m256i sum_lo = _mm256_add_epi32(_mm256_mullo_epi32(top_lo, vy0),
                                              _mm256_mullo_epi32(bot_lo, vy1));
      const __m256i sum_hi = _mm256_add_epi32(_mm256_mullo_epi32(top_hi, vy0),
                                              _mm256_mullo_epi32(bot_hi, vy1));
      const __m256i packed =
          _mm256_packs_epi32(round_2_20(sum_lo), round_2_20(sum_hi));
      const __m128i bytes = _mm_packs_epi16(
          _mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
      _mm_storeu_si128((__m128i *)(out + c), bytes);
    }
    for (int64_t c = full; c < channels; c++) {
      const int32_t top = p00[c] * wx0 + p01[c] * wx1;
      const int32_t bottom = p10[c] * wx0 + p11[c] * wx1;
      out[c] = round_scalar(top * wy0 + bottom * wy1);
    }
  }
}
