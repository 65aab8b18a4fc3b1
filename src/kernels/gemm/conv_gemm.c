/* conv_gemm.c - CONV_2D with a KxK filter (K > 1, one group) as a GEMM of
 * the input's windows against the filter packed at load, at each level.
 *
 * The filter [O, KH, KW, I] is already an [n][k] matrix with n = O and
 * k = KH * KW * I, packed as for FULLY_CONNECTED. Nothing is allocated at
 * run time: a block of output pixels has its rows of A (its windows,
 * "im2col") built a block of k at a time into a buffer on the stack, and the
 * gemminc microkernels carry the sums across the blocks of k, reading the
 * packed panels in place. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/gemm/gemm.h"

/* n floats from src, or zeros when src is NULL. Runs of a filter row's
 * taps (21 floats for a 7x7 window on 3 channels) go to memcpy; the short
 * ones left, a tap or part of one, are copied inline. */
static inline void copy_run(float *dst, const float *src, int64_t n) {
  if (n >= 8) {
    if (src)
      memcpy(dst, src, (size_t)n * sizeof *dst);
    else
      memset(dst, 0, (size_t)n * sizeof *dst);
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = src ? src[i] : 0.0f;
}

#include "kernels/gemm/conv_gemm.inc"

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
#endif
/* The AVX-512 variant is in conv_gemm_avx512.c. */
