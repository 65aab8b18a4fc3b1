/* conv_gemm_avx512.c - the KxK CONV_2D as a GEMM (conv_gemm.inc) with
 * AVX-512 enabled, so short window runs are copied inline: a stem's run
 * (7 taps x 3 colours = 21 floats, one per filter row and output pixel)
 * is two overlapping 16-float moves instead of a call to memcpy, and
 * building the windows took a fifth of ResNet50's stem. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/gemm/gemm.h"

/* n floats from src, or zeros when src is NULL. Runs of 8 to 32 floats
 * are two full-width moves that overlap in the middle (masked stores
 * measured slower here); longer ones go to memcpy. */
static inline void copy_run(float *dst, const float *src, int64_t n) {
  if (n > 32 || !src) {
    if (src)
      memcpy(dst, src, (size_t)n * sizeof *dst);
    else
      memset(dst, 0, (size_t)n * sizeof *dst);
  } else if (n >= 16) {
    __m512 head = _mm512_loadu_ps(src), tail = _mm512_loadu_ps(src + n - 16);
    _mm512_storeu_ps(dst, head);
    _mm512_storeu_ps(dst + n - 16, tail);
  } else if (n >= 8) {
    __m256 head = _mm256_loadu_ps(src), tail = _mm256_loadu_ps(src + n - 8);
    _mm256_storeu_ps(dst, head);
    _mm256_storeu_ps(dst + n - 8, tail);
  } else {
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
  }
}

#include "kernels/gemm/conv_gemm.inc"

DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
