/* f32_gemm_avx2.c - the float32 GEMM microkernels for AVX2 + FMA: a 6x16
 * tile in 12 ymm accumulators (of 16), two weight vectors per k. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/gemm/gemm.h"

#define MR 6
#define NR 16
/* Weights prefetched 64 steps of k ahead, as in the AVX-512 kernel. */
#define PREFETCH_BYTES 4096

/* Eight -1 then eight 0: loading 8 lanes from mask_table + 8 - n gives a
 * mask of the first n lanes. */
static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                       0,  0,  0,  0,  0,  0,  0,  0};

static inline __m256i first_lanes(size_t n) {
  return _mm256_loadu_si256(
      (const __m256i *)(const void *)(mask_table + 8 - (n > 8 ? 8 : n)));
}

/* One tile of exactly `mr` rows, plain or gemminc; see f32_gemm_avx512.c
 * for what each means and why it is inlined per row count. */
static inline __attribute__((always_inline)) void tile(
    const size_t mr, const bool inc, size_t nc, size_t kc, const float *a,
    size_t a_stride, const float *w, float *c, size_t c_stride,
    const kiln_gemm_minmax *minmax) {
  __m256 acc0[MR], acc1[MR];
  const __m256i m0 = first_lanes(nc), m1 = first_lanes(nc > 8 ? nc - 8 : 0);
  const __m256 bias0 = inc ? _mm256_setzero_ps() : _mm256_loadu_ps(w);
  const __m256 bias1 = inc ? _mm256_setzero_ps() : _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = inc ? _mm256_maskload_ps(c + r * c_stride, m0) : bias0;
    acc1[r] = inc ? _mm256_maskload_ps(c + r * c_stride + 8, m1) : bias1;
  }
  if (!inc) w += NR;
  /* The loop runs on pointers alone, leaving the other registers to the
   * rows' offsets: no spills in the hot loop. */
  for (const float *const a_end = a + kc; a != a_end; a++) {
    const __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
    if (!inc) _mm_prefetch((const char *)w + PREFETCH_BYTES, _MM_HINT_T0);
    w += NR;
#pragma GCC unroll 6
    for (size_t r = 0; r < mr; r++) {
      const __m256 x = _mm256_broadcast_ss(a + r * a_stride);
      acc0[r] = _mm256_fmadd_ps(x, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(x, b1, acc1[r]);
    }
  }
  /* NaN-preserving clamp, as in the AVX-512 kernel. */
  const __m256 vmin = _mm256_set1_ps(minmax->min),
               vmax = _mm256_set1_ps(minmax->max);
#pragma GCC unroll 6
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc0[r]));
    acc1[r] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc1[r]));
  }
  if (nc == NR) {
#pragma GCC unroll 6
    for (size_t r = 0; r < mr; r++) {
      _mm256_storeu_ps(c + r * c_stride, acc0[r]);
      _mm256_storeu_ps(c + r * c_stride + 8, acc1[r]);
    }
  } else {
#pragma GCC unroll 6
    for (size_t r = 0; r < mr; r++) {
      _mm256_maskstore_ps(c + r * c_stride, m0, acc0[r]);
      _mm256_maskstore_ps(c + r * c_stride + 8, m1, acc1[r]);
    }
  }
}

#define ROW_CASES(inc) \
  switch (mr) {        \
    CASE(1, inc)       \
    CASE(2, inc)       \
    CASE(3, inc)       \
    CASE(4, inc)       \
    CASE(5, inc)       \
    CASE(6, inc)       \
    default:           \
      break;           \
  }
#define CASE(n, inc)                                           \
  case n:                                                      \
    tile(n, inc, nc, kc, a, a_stride, w, c, c_stride, minmax); \
    break;

void kiln_f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t kc, const float *a,
                              size_t a_stride, const float *w, float *c,
                              size_t c_stride, const kiln_gemm_minmax *minmax) {
  ROW_CASES(false)
}

void kiln_f32_gemminc_6x16__avx2(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t a_stride,
                                 const float *w, float *c, size_t c_stride,
                                 const kiln_gemm_minmax *minmax) {
  ROW_CASES(true)
}
