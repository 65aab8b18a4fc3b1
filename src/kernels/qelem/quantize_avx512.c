/* quantize_avx512.c - float32 to int8 QUANTIZE on 16 lanes, equal to
 * kiln_quantize_f32: the same correctly rounded float division; roundf's
 * half-away-from-zero as the truncation plus one step away from zero where
 * the (exact) fraction is at least one half; NaN to 0; then the zero point
 * added and the int8 range clamped in float, exact since every value in
 * that range is an integer below 2^24 (larger ones clamp the same). */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_quantize_avx512(const float *x, float scale, int32_t zp, int8_t *y,
                             size_t n) {
  const __m512 vscale = _mm512_set1_ps(scale), vzp = _mm512_set1_ps((float)zp);
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  const __m512i sign_bit = _mm512_set1_epi32(INT32_MIN);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k =
        n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    const __m512 d = _mm512_div_ps(_mm512_maskz_loadu_ps(k, x + i), vscale);
    const __m512 t =
        _mm512_roundscale_ps(d, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(d, t));
    /* +-1 with d's sign, added where the fraction reaches one half. */
    const __m512 step = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(d), sign_bit),
                        _mm512_castps_si512(one)));
    __m512 r = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ),
                                  t, step);
    r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q),
                           _mm512_setzero_ps());
    r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, vzp), lo), hi);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, k, _mm512_cvtps_epi32(r));
  }
}
