/* qgemm_avx2.c - the int8 GEMM microkernel for AVX2 (4 rows by 8
 * channels). AVX2 has no exact 8-bit dot product: vpmaddubsw saturates its
 * pair sums (255 * 127 * 2 > 32767), so both operands are widened to int16
 * (activations zero-extended, weights sign-extended) and vpmaddwd sums
 * pairs exactly into int32. A panel's 4 entries of k per channel become
 * two int32 partial sums per channel, added pairwise at the end. The
 * output stage stays in the accumulators' registers: the requantization of
 * kernels/quant/q8_vec_avx2.h (equal lane by lane to quant_math.h's) on
 * each row's 8 channels, then the four rows narrowed to int8 together. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm/qgemm.h"
#include "kernels/quant/q8_vec_avx2.h"

enum { MR = 4, NR = 8 };

static inline __m256i param(const void *panel, int which) {
  return _mm256_loadu_si256(
      (const __m256i *)(const void *)kiln_qgemm_param(panel, NR, which));
}

/* A row's 4 activations at p widened to int16 and repeated across the
 * vector: a broadcast from memory (a load, no shuffle) and one extend. */
static inline __m256i bcast4(const uint8_t *p) {
  float bits; /* the bytes as they are; memcpy keeps the access defined */
  memcpy(&bits, p, 4);
  return _mm256_cvtepu8_epi16(_mm_castps_si128(_mm_set1_ps(bits)));
}

void kiln_q8_gemm_4x8__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a,
                            size_t a_stride, const void *panel, int8_t *c,
                            size_t c_stride, const kiln_qgemm_out *out) {
  const uint8_t *rows[MR];
  rows[0] = a;
  for (int r = 1; r < MR; r++)
    rows[r] = (size_t)r < mr ? rows[r - 1] + a_stride : rows[r - 1];
  /* lo: channels 0-3, hi: channels 4-7, two partial sums each. */
  __m256i lo0 = _mm256_setzero_si256(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
  __m256i lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
  const int8_t *w = kiln_qgemm_weights(panel, NR);
  for (size_t g = 0; g < kp; g += 4, w += NR * 4) {
    __m256i wide = _mm256_loadu_si256((const __m256i *)(const void *)w);
    __m256i wlo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(wide));
    __m256i whi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(wide, 1));
    __m256i x0 = bcast4(rows[0] + g);
    lo0 = _mm256_add_epi32(lo0, _mm256_madd_epi16(wlo, x0));
    hi0 = _mm256_add_epi32(hi0, _mm256_madd_epi16(whi, x0));
    __m256i x1 = bcast4(rows[1] + g);
    lo1 = _mm256_add_epi32(lo1, _mm256_madd_epi16(wlo, x1));
    hi1 = _mm256_add_epi32(hi1, _mm256_madd_epi16(whi, x1));
    __m256i x2 = bcast4(rows[2] + g);
    lo2 = _mm256_add_epi32(lo2, _mm256_madd_epi16(wlo, x2));
    hi2 = _mm256_add_epi32(hi2, _mm256_madd_epi16(whi, x2));
    __m256i x3 = bcast4(rows[3] + g);
    lo3 = _mm256_add_epi32(lo3, _mm256_madd_epi16(wlo, x3));
    hi3 = _mm256_add_epi32(hi3, _mm256_madd_epi16(whi, x3));
  }
  const __m256i bias = param(panel, KILN_QGEMM_BIAS);
  __m256i lo[MR] = {lo0, lo1, lo2, lo3}, hi[MR] = {hi0, hi1, hi2, hi3};
  __m256i y[MR];
  for (int r = 0; r < MR; r++) {
    /* hadd gives channels 0 1 4 5 | 2 3 6 7; the permute puts them in
     * order. Rows past mr repeat row mr - 1 and are not stored. */
    __m256i sum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[r], hi[r]),
                                           _MM_SHUFFLE(3, 1, 2, 0));
    y[r] = _mm256_add_epi32(sum, bias);
  }
  const __m256i mult = param(panel, KILN_QGEMM_MULT);
  const __m256i shift = param(panel, KILN_QGEMM_SHIFT);
  /* One branch per tile: the node's rounding. */
  if (out->fp32) {
    /* kiln_fp32_requantize's steps; the zero point follows below. */
    const __m256 scale = _mm256_castsi256_ps(param(panel, KILN_QGEMM_FSCALE));
    const __m256 flo = _mm256_set1_ps((float)(out->act_min - out->zero_point));
    const __m256 fhi = _mm256_set1_ps((float)(out->act_max - out->zero_point));
    for (int r = 0; r < MR; r++) {
      __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(y[r]), scale);
      y[r] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(x, flo), fhi));
    }
  } else if (out->single_rounding) {
    const q8v8_single s = q8v8_single_make(mult, shift);
    for (int r = 0; r < MR; r++) y[r] = q8v8_requant_single(y[r], &s);
  } else {
    const q8v8_double s = q8v8_double_make(mult, shift);
    for (int r = 0; r < MR; r++) y[r] = q8v8_requant_double(y[r], &s);
  }
  /* The output zero point is added in int32, wrapping as TFLite's. */
  const __m256i zp = _mm256_set1_epi32(out->zero_point);
  for (int r = 0; r < MR; r++) y[r] = _mm256_add_epi32(y[r], zp);
  const __m256i bytes =
      q8v8_pack4(y[0], y[1], y[2], y[3], _mm256_set1_epi8((char)out->act_min),
                 _mm256_set1_epi8((char)out->act_max));
  if (nc == NR) {
    /* Rows 0 and 2 are the low 8 bytes of each half, rows 1 and 3 the
     * high ones (moved down; storel is an unaligned 8-byte store). */
    const __m128i b01 = _mm256_castsi256_si128(bytes);
    const __m128i b23 = _mm256_extracti128_si256(bytes, 1);
    _mm_storel_epi64((__m128i *)(void *)c, b01);
    if (mr > 1)
      _mm_storel_epi64((__m128i *)(void *)(c + c_stride),
                       _mm_unpackhi_epi64(b01, b01));
    if (mr > 2) _mm_storel_epi64((__m128i *)(void *)(c + 2 * c_stride), b23);
    if (mr > 3)
      _mm_storel_epi64((__m128i *)(void *)(c + 3 * c_stride),
                       _mm_unpackhi_epi64(b23, b23));
    return;
  }
  int8_t buf[MR * NR];
  _mm256_storeu_si256((__m256i *)(void *)buf, bytes);
  for (size_t r = 0; r < mr; r++) memcpy(c + r * c_stride, buf + r * NR, nc);
}

void kiln_qgemm_flip__avx2(uint8_t *dst, const int8_t *src, int64_t n) {
  const __m256i top = _mm256_set1_epi8((char)0x80);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(
        (__m256i *)(void *)(dst + i),
        _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(const void *)(src + i)), top));
  for (; i < n; i++) dst[i] = (uint8_t)(src[i] ^ 0x80);
}

const kiln_qgemm_kernel kiln_qgemm_4x8_avx2 = {MR, NR, kiln_q8_gemm_4x8__avx2,
                                               kiln_qgemm_flip__avx2};
