/* qhybrid_gemm_vnni.c - the hybrid GEMM's AVX-512 VNNI microkernel: up to 8
 * rows by a 32-channel panel with vpdpbusd, which multiplies unsigned by
 * signed bytes. Activations arrive as q + 128 (uint8); the accumulators
 * start at -128 * sum(weights) per channel (packed at load), which takes
 * the 128s back out exactly. */
#include <immintrin.h>

#include "kernels/qhybrid/qhybrid.h"
#include "kernels/quant/vnni_dpbusd.h"

enum { MR = 8, NR = 32 };

static void ukernel_8x32(int mr, int64_t kgroups, const void *a,
                         size_t a_stride, const int8_t *w, const int32_t *init,
                         int32_t *c) {
  __m512i init0 = _mm512_loadu_si512(init),
          init1 = _mm512_loadu_si512(init + 16);
  __m512i acc0[MR], acc1[MR];
  for (int r = 0; r < MR; r++) {
    acc0[r] = init0;
    acc1[r] = init1;
  }
  const char *a0 = a;
#define QH_ROWS(ROWS)                                        \
  for (int64_t g = 0; g < kgroups; g++) {                    \
    __m512i w0 = _mm512_loadu_si512(w + g * NR * 4);         \
    __m512i w1 = _mm512_loadu_si512(w + g * NR * 4 + 64);    \
    for (int r = 0; r < ROWS; r++) {                         \
      int32_t four;                                          \
      __builtin_memcpy(&four, a0 + r * a_stride + g * 4, 4); \
      __m512i x = _mm512_set1_epi32(four);                   \
      acc0[r] = kiln_dpbusd(acc0[r], x, w0);                 \
      acc1[r] = kiln_dpbusd(acc1[r], x, w1);                 \
    }                                                        \
  }
  switch (mr) {
    case 8:
      QH_ROWS(8) break;
    case 7:
      QH_ROWS(7) break;
    case 6:
      QH_ROWS(6) break;
    case 5:
      QH_ROWS(5) break;
    case 4:
      QH_ROWS(4) break;
    case 3:
      QH_ROWS(3) break;
    case 2:
      QH_ROWS(2) break;
    default:
      QH_ROWS(1) break;
  }
#undef QH_ROWS
  for (int r = 0; r < mr; r++) {
    _mm512_storeu_si512(c + r * NR, acc0[r]);
    _mm512_storeu_si512(c + r * NR + 16, acc1[r]);
  }
}

const qh_kernel kiln_qh_kernel_vnni = {MR,
                                       NR,
                                       QH_A_UINT8_FLIP,
                                       -128,
                                       ukernel_8x32,
                                       kiln_qh_quantize_u8_avx512,
                                       kiln_qh_epilogue_avx512,
                                       kiln_qh_min_max_avx512};
