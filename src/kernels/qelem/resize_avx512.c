/* resize_avx512.c - one output row of an int8 bilinear resize with
 * AVX-512, 32 channels per step (the last step masked). Each pixel's two
 * horizontal blends come from VPMADDWD on the int16-widened taps
 * interleaved pairwise with (wx0, wx1); the vertical blend multiplies them
 * by wy0 and wy1 in int32. The integer sum is the reference's (resize.c
 * bounds it below 2^29), rounded half away from zero at 2^20. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"
#include "kernels/qelem/resize_taps.h"

/* sum / 2^20 rounded half away from zero, on 16 int32 lanes. */
static inline __m512i round_2_20(__m512i sum) {
  const __m512i r = _mm512_srai_epi32(
      _mm512_add_epi32(_mm512_abs_epi32(sum), _mm512_set1_epi32(1 << 19)), 20);
  const __mmask16 negative =
      _mm512_cmplt_epi32_mask(sum, _mm512_setzero_si512());
  return _mm512_mask_sub_epi32(r, negative, _mm512_setzero_si512(), r);
}

void kiln_q8_bilinear_row_avx512(const int8_t *row0, const int8_t *row1,
                                 int32_t wy0, int32_t wy1,
                                 const kiln_q8_resize_axis *xs, int64_t out_w,
                                 int64_t channels, int8_t *out) {
  const __m512i vy0 = _mm512_set1_epi32(wy0), vy1 = _mm512_set1_epi32(wy1);
  for (int64_t ox = 0; ox < out_w; ox++, out += channels) {
    int64_t lo, hi;
    int32_t wx0, wx1;
    kiln_q8_bilinear_tap(xs, ox, &lo, &hi, &wx0, &wx1);
    /* (wx0, wx1) in each int32 lane, low half first, as the pairs below. */
    const __m512i vx =
        _mm512_set1_epi32((int32_t)(((uint32_t)wx1 << 16) | (uint16_t)wx0));
    const int8_t *p00 = row0 + lo * channels, *p01 = row0 + hi * channels;
    const int8_t *p10 = row1 + lo * channels, *p11 = row1 + hi * channels;
    for (int64_t c = 0; c < channels; c += 32) {
      const int64_t left = channels - c;
      const __mmask32 k =
          left >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << left) - 1);
      const __m512i a00 =
          _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(k, p00 + c));
      const __m512i a01 =
          _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(k, p01 + c));
      const __m512i a10 =
          _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(k, p10 + c));
      const __m512i a11 =
          _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(k, p11 + c));
      /* Channels 8L..8L+3 of each 128-bit lane L in the low halves,
       * 8L+4..8L+7 in the high ones; the packs below restore the order. */
      const __m512i top_lo =
          _mm512_madd_epi16(_mm512_unpacklo_epi16(a00, a01), vx);
      const __m512i top_hi =
          _mm512_madd_epi16(_mm512_unpackhi_epi16(a00, a01), vx);
      const __m512i bot_lo =
          _mm512_madd_epi16(_mm512_unpacklo_epi16(a10, a11), vx);
      const __m512i bot_hi =
          _mm512_madd_epi16(_mm512_unpackhi_epi16(a10, a11), vx);
      const __m512i sum_lo = _mm512_add_epi32(_mm512_mullo_epi32(top_lo, vy0),
                                              _mm512_mullo_epi32(bot_lo, vy1));
      const __m512i sum_hi = _mm512_add_epi32(_mm512_mullo_epi32(top_hi, vy0),
                                              _mm512_mullo_epi32(bot_hi, vy1));
      const __m512i packed =
          _mm512_packs_epi32(round_2_20(sum_lo), round_2_20(sum_hi));
      _mm256_mask_storeu_epi8(out + c, k, _mm512_cvtsepi16_epi8(packed));
    }
  }
}
