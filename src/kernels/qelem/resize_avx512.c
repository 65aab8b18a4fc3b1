/* resize_avx512.c - one output row of an int8 bilinear resize with
 * AVX-512, 32 channels per step (the last step masked). Each pixel's two
 * horizontal blends come from VPMADDWD on the int16-widened taps
 * interleaved pairwise with (wx0, wx1); the vertical blend multiplies them
 * by wy0 and wy1 in int32. The integer sum is the reference's (resize.c
 * bounds it below 2^29), rounded half away from zero at 2^20. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"
#include "kernels/qelem/resize_taps.h"

/* sum / 2^20 rounded half away from zero, on 16 int32 lanes: a negative
 * sum adds 2^19 - 1 instead of 2^19 before the flooring shift, which
 * rounds its halves down, away from zero. */
static inline __m512i round_2_20(__m512i sum) {
  const __m512i biased =
      _mm512_add_epi32(_mm512_add_epi32(sum, _mm512_set1_epi32(1 << 19)),
                       _mm512_srai_epi32(sum, 31));
  return _mm512_srai_epi32(biased, 20);
}

/* 32 channels of one output pixel from its four taps' bytes. */
static inline __m256i blend32(__m256i b00, __m256i b01, __m256i b10,
                              __m256i b11, __m512i vx, __m512i vy0,
                              __m512i vy1) {
  const __m512i a00 = _mm512_cvtepi8_epi16(b00),
                a01 = _mm512_cvtepi8_epi16(b01);
  const __m512i a10 = _mm512_cvtepi8_epi16(b10),
                a11 = _mm512_cvtepi8_epi16(b11);
  /* Channels 8L..8L+3 of each 128-bit lane L in the low halves,
   * 8L+4..8L+7 in the high ones; the pack below restores the order. */
  const __m512i top_lo = _mm512_madd_epi16(_mm512_unpacklo_epi16(a00, a01), vx);
  const __m512i top_hi = _mm512_madd_epi16(_mm512_unpackhi_epi16(a00, a01), vx);
  const __m512i bot_lo = _mm512_madd_epi16(_mm512_unpacklo_epi16(a10, a11), vx);
  const __m512i bot_hi = _mm512_madd_epi16(_mm512_unpackhi_epi16(a10, a11), vx);
  const __m512i sum_lo = _mm512_add_epi32(_mm512_mullo_epi32(top_lo, vy0),
                                          _mm512_mullo_epi32(bot_lo, vy1));
  const __m512i sum_hi = _mm512_add_epi32(_mm512_mullo_epi32(top_hi, vy0),
                                          _mm512_mullo_epi32(bot_hi, vy1));
  return _mm512_cvtsepi16_epi8(
      _mm512_packs_epi32(round_2_20(sum_lo), round_2_20(sum_hi)));
}

void kiln_q8_bilinear_row_avx512(const int8_t *row0, const int8_t *row1,
                                 int32_t wy0, int32_t wy1,
                                 const kiln_q8_resize_axis *xs, int64_t out_w,
                                 int64_t channels, int8_t *out) {
  const __m512i vy0 = _mm512_set1_epi32(wy0), vy1 = _mm512_set1_epi32(wy1);
  const int64_t full = channels - channels % 32;
  const __mmask32 k = ((__mmask32)1 << (channels % 32)) - 1;
  for (int64_t ox = 0; ox < out_w; ox++, out += channels) {
    int64_t lo, hi;
    int32_t wx0, wx1;
    kiln_q8_bilinear_tap(xs, ox, &lo, &hi, &wx0, &wx1);
    /* (wx0, wx1) in each int32 lane, low half first, as the pairs. */
    const __m512i vx =
        _mm512_set1_epi32((int32_t)(((uint32_t)wx1 << 16) | (uint16_t)wx0));
    const int8_t *p00 = row0 + lo * channels, *p01 = row0 + hi * channels;
    const int8_t *p10 = row1 + lo * channels, *p11 = row1 + hi * channels;
    /* Plain loads and stores for whole blocks (masked ones cost more on
     * some cores), masked ones for the rest. */
    for (int64_t c = 0; c < full; c += 32) {
      const __m256i r =
          blend32(_mm256_loadu_si256((const __m256i *)(p00 + c)),
                  _mm256_loadu_si256((const __m256i *)(p01 + c)),
                  _mm256_loadu_si256((const __m256i *)(p10 + c)),
                  _mm256_loadu_si256((const __m256i *)(p11 + c)), vx, vy0, vy1);
      _mm256_storeu_si256((__m256i *)(out + c), r);
    }
    if (k) {
      const __m256i r =
          blend32(_mm256_maskz_loadu_epi8(k, p00 + full),
                  _mm256_maskz_loadu_epi8(k, p01 + full),
                  _mm256_maskz_loadu_epi8(k, p10 + full),
                  _mm256_maskz_loadu_epi8(k, p11 + full), vx, vy0, vy1);
      _mm256_mask_storeu_epi8(out + full, k, r);
    }
  }
}
