/* f32_gemm_portable.c - the float32 GEMM microkernels in plain C: a 4x8
 * tile whose 32 accumulators the compiler can keep in vector registers. */
#include "kernels/gemm/gemm.h"

#define MR 4
#define NR 8

/* One tile of exactly `mr` rows, inlined per row count so the accumulator
 * array is scalarized into registers rather than kept in memory. Plain or
 * gemminc as in f32_gemm_avx512.c. */
static inline __attribute__((always_inline)) void tile(
    const size_t mr, const bool inc, size_t nc, size_t kc, const float *a,
    size_t a_stride, const float *w, float *c, size_t c_stride,
    const kiln_gemm_minmax *minmax) {
  float acc[MR][NR];
#pragma GCC unroll 4
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < NR; j++)
      acc[r][j] = !inc ? w[j] : j < nc ? c[r * c_stride + j] : 0.0f;
  if (!inc) w += NR;
  for (size_t k = 0; k < kc; k++) {
#pragma GCC unroll 4
    for (size_t r = 0; r < mr; r++) {
      const float x = a[r * a_stride + k];
      for (size_t j = 0; j < NR; j++) acc[r][j] += x * w[j];
    }
    w += NR;
  }
  const float min = minmax->min, max = minmax->max;
#pragma GCC unroll 4
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nc; j++) {
      /* Comparisons that are false for NaN keep it, like kiln_activate. */
      float v = acc[r][j];
      v = v < min ? min : v;
      c[r * c_stride + j] = v > max ? max : v;
    }
}

#define ROW_CASES(inc) \
  switch (mr) {        \
    CASE(1, inc)       \
    CASE(2, inc)       \
    CASE(3, inc)       \
    CASE(4, inc)       \
    default:           \
      break;           \
  }
#define CASE(n, inc)                                           \
  case n:                                                      \
    tile(n, inc, nc, kc, a, a_stride, w, c, c_stride, minmax); \
    break;

void kiln_f32_gemm_4x8__portable(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t a_stride,
                                 const float *w, float *c, size_t c_stride,
                                 const kiln_gemm_minmax *minmax) {
  ROW_CASES(false)
}

void kiln_f32_gemminc_4x8__portable(size_t mr, size_t nc, size_t kc,
                                    const float *a, size_t a_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const kiln_gemm_minmax *minmax) {
  ROW_CASES(true)
}
