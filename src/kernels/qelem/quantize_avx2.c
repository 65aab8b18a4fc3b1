/* quantize_avx2.c - float32 to int8 QUANTIZE on 8 lanes (AVX2), the steps
 * of quantize_avx512.c (which says why they equal kiln_quantize_f32); the
 * last n % 8 values go through the portable code. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_quantize_avx2(const float *x, float scale, int32_t zp, int8_t *y,
                           size_t n) {
  const __m256 vscale = _mm256_set1_ps(scale), vzp = _mm256_set1_ps((float)zp);
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const size_t full = n - n % 8;
  for (size_t i = 0; i < full; i += 8) {
    const __m256 d = _mm256_div_ps(_mm256_loadu_ps(x + i), vscale);
    const __m256 t = _mm256_round_ps(d, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(d, t));
    /* +-1 with d's sign where the fraction reaches one half, else 0. */
    const __m256 step =
        _mm256_and_ps(_mm256_or_ps(_mm256_and_ps(d, sign_bit), one),
                      _mm256_cmp_ps(frac, half, _CMP_GE_OQ));
    __m256 r = _mm256_add_ps(t, step);
    r = _mm256_andnot_ps(_mm256_cmp_ps(d, d, _CMP_UNORD_Q), r); /* NaN: 0 */
    r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, vzp), lo), hi);
    const __m256i v = _mm256_cvtps_epi32(r);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v),
                                      _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(y + i), _mm_packs_epi16(w, w));
  }
  kiln_q8_quantize_portable(x + full, scale, zp, y + full, n - full);
}
