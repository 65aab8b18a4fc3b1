/* peak_avx2.c - the AVX2 loop of `kiln bench --peak`: 12 independent ymm
 * FMA chains, enough to cover FMA latency times the FMA ports while
 * leaving room in the 16 ymm registers for the two operands. */
#include "cli.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* The CLI is built without -mavx2 (only library *_avx2.c files get it), so
 * the instruction set is enabled for this function alone. Named
 * accumulators keep every chain in a register. */
#define PEAK_CHAINS(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define PEAK_INIT(k) __m256 acc##k = _mm256_set1_ps((float)(k));
#define PEAK_FMA(k) acc##k = _mm256_fmadd_ps(acc##k, va, vb);
#define PEAK_SUM(k) sum = _mm256_add_ps(sum, acc##k);

__attribute__((target("avx2,fma"))) float cli_peak_avx2(long iterations,
                                                        float a, float b) {
  const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  PEAK_CHAINS(PEAK_INIT)
  for (long i = 0; i < iterations; i++) {
    PEAK_CHAINS(PEAK_FMA)
  }
  __m256 sum = _mm256_setzero_ps();
  PEAK_CHAINS(PEAK_SUM)
  /* Horizontal sum of the 8 lanes. */
  __m128 half =
      _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
  return _mm_cvtss_f32(half);
}
#else
float cli_peak_avx2(long iterations, float a, float b) {
  (void)iterations;
  return a + b; /* never called: no AVX2 off x86-64 */
}
#endif
