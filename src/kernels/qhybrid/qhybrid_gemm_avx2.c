/* qhybrid_gemm_avx2.c - the hybrid GEMM's AVX2 microkernel: up to 4 rows by
 * an 8-channel panel. Activations come as int16 and weights are widened to
 * int16, so vpmaddwd's products and pair sums are exact in int32. */
#include <immintrin.h>

#include "kernels/qhybrid/qhybrid.h"

enum { MR = 4, NR = 8 };

/* One accumulator holds, per channel, the sums of k-pairs (0,1) and (2,3)
 * of each group of 4: two lanes per channel, 4 channels per register. */
static void ukernel_4x8(int mr, int64_t kgroups, const void *a, size_t a_stride,
                        const int8_t *w, const int32_t *init, int32_t *c) {
  __m256i lo[MR], hi[MR];
  for (int r = 0; r < MR; r++) lo[r] = hi[r] = _mm256_setzero_si256();
  const char *a0 = a;
  for (int64_t g = 0; g < kgroups; g++) {
    const int8_t *wg = w + g * NR * 4;
    __m256i w_lo = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)wg));
    __m256i w_hi =
        _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)(wg + 16)));
    for (int r = 0; r < MR; r++) {
      if (r >= mr) break;
      int64_t four;
      __builtin_memcpy(&four, a0 + r * a_stride + g * 8, 8);
      __m256i x = _mm256_set1_epi64x(four);
      lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(x, w_lo));
      hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(x, w_hi));
    }
  }
  __m256i start = _mm256_loadu_si256((const void *)init);
  for (int r = 0; r < mr; r++) {
    /* hadd gives channels 0 1 4 5 | 2 3 6 7; the permute orders them. */
    __m256i sums = _mm256_hadd_epi32(lo[r], hi[r]);
    sums = _mm256_permute4x64_epi64(sums, 0xd8);
    _mm256_storeu_si256((void *)(c + r * NR), _mm256_add_epi32(sums, start));
  }
}

const qh_kernel kiln_qh_kernel_avx2 = {MR,
                                       NR,
                                       QH_A_INT16,
                                       0,
                                       ukernel_4x8,
                                       kiln_qh_quantize_i16_avx2,
                                       kiln_qh_epilogue_avx2,
                                       kiln_qh_min_max_avx2};
