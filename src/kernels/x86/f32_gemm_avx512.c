/* f32_gemm_avx512.c - the float32 GEMM microkernels for AVX-512: a 12x32
 * tile in 24 zmm accumulators (of 32), two weight vectors per k. */
#include <immintrin.h>

#include "kernels/gemm/gemm.h"

#define MR 12
#define NR 32
/* How far ahead to prefetch weights: 64 steps of k, about 800 cycles, a
 * memory latency. A tile reads its panel faster than hardware prefetch
 * brings weights from DRAM on the first pass (a batch-1 layer streams all
 * of them); measured best among 2, 4, 8 and 16 KiB. */
#define PREFETCH_BYTES 8192

/* One tile of exactly `mr` rows. Always inlined with a constant mr and the
 * row loops fully unrolled, so each accumulator lives in its own register
 * and each row of A is one fixed offset from the moving k pointer.
 * w is a panel (biases, then NR weights per k, zero-padded); with `inc`
 * (the gemminc kernel) the sums start from the nc columns already in C
 * instead, and w holds only the weights. */
static inline __attribute__((always_inline)) void tile(
    const size_t mr, const bool inc, size_t nc, size_t kc, const float *a,
    size_t a_stride, const float *w, float *c, size_t c_stride,
    const kiln_gemm_minmax *minmax) {
  __m512 acc0[MR], acc1[MR];
  const __mmask16 m0 = nc >= 16 ? 0xffff : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
  const __m512 bias0 = inc ? _mm512_setzero_ps() : _mm512_loadu_ps(w);
  const __m512 bias1 = inc ? _mm512_setzero_ps() : _mm512_loadu_ps(w + 16);
#pragma GCC unroll 12
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = inc ? _mm512_maskz_loadu_ps(m0, c + r * c_stride) : bias0;
    acc1[r] = inc ? _mm512_maskz_loadu_ps(m1, c + r * c_stride + 16) : bias1;
  }
  if (!inc) w += NR;
  /* The loop runs on pointers alone, leaving the other registers to the
   * rows' offsets: no spills in the hot loop. */
  for (const float *const a_end = a + kc; a != a_end; a++) {
    const __m512 b0 = _mm512_loadu_ps(w), b1 = _mm512_loadu_ps(w + 16);
    if (!inc) { /* a gemminc panel is a small copy, already in L1 */
      _mm_prefetch((const char *)w + PREFETCH_BYTES, _MM_HINT_T0);
      _mm_prefetch((const char *)w + PREFETCH_BYTES + 64, _MM_HINT_T0);
    }
    w += NR;
#pragma GCC unroll 12
    for (size_t r = 0; r < mr; r++) {
      const __m512 x = _mm512_set1_ps(a[r * a_stride]);
      acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
    }
  }
  /* max(vmin, x) then min(vmax, x) return x when it is NaN, as the
   * reference's comparisons do. The bounds are only loaded now, so the
   * loop above has every register for accumulators. */
  const __m512 vmin = _mm512_set1_ps(minmax->min),
               vmax = _mm512_set1_ps(minmax->max);
#pragma GCC unroll 12
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc0[r]));
    acc1[r] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc1[r]));
  }
  if (nc == NR) {
#pragma GCC unroll 12
    for (size_t r = 0; r < mr; r++) {
      _mm512_storeu_ps(c + r * c_stride, acc0[r]);
      _mm512_storeu_ps(c + r * c_stride + 16, acc1[r]);
    }
  } else {
    /* The last panel of a layer whose width is not a multiple of 32. */
#pragma GCC unroll 12
    for (size_t r = 0; r < mr; r++) {
      _mm512_mask_storeu_ps(c + r * c_stride, m0, acc0[r]);
      _mm512_mask_storeu_ps(c + r * c_stride + 16, m1, acc1[r]);
    }
  }
}

/* A kernel per row count: short tiles (the last rows of a layer, or a
 * batch of one) do only the work they need. */
#define ROW_CASES(inc) \
  switch (mr) {        \
    CASE(1, inc)       \
    CASE(2, inc)       \
    CASE(3, inc)       \
    CASE(4, inc)       \
    CASE(5, inc)       \
    CASE(6, inc)       \
    CASE(7, inc)       \
    CASE(8, inc)       \
    CASE(9, inc)       \
    CASE(10, inc)      \
    CASE(11, inc)      \
    CASE(12, inc)      \
    default:           \
      break;           \
  }
#define CASE(n, inc)                                           \
  case n:                                                      \
    tile(n, inc, nc, kc, a, a_stride, w, c, c_stride, minmax); \
    break;

void kiln_f32_gemm_12x32__avx512(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t a_stride,
                                 const float *w, float *c, size_t c_stride,
                                 const kiln_gemm_minmax *minmax) {
  ROW_CASES(false)
}

void kiln_f32_gemminc_12x32__avx512(size_t mr, size_t nc, size_t kc,
                                    const float *a, size_t a_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const kiln_gemm_minmax *minmax) {
  ROW_CASES(true)
}
