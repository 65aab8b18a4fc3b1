/* peak_avx512.c - the AVX-512 loop of `kiln bench --peak`: 24 independent
 * zmm FMA chains, enough to cover FMA latency times the FMA ports. */
#include "cli.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* The CLI is built without -mavx512f (only library *_avx512.c files get
 * it), so the instruction set is enabled for this function alone. The 24
 * accumulators are named variables, not an array, so they live in
 * registers whatever the optimizer decides about unrolling. */
#define PEAK_CHAINS(X)                                                         \
  X(0)                                                                         \
  X(1)                                                                         \
  X(2)                                                                         \
  X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
      X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define PEAK_INIT(k) __m512 acc##k = _mm512_set1_ps((float)(k));
#define PEAK_FMA(k) acc##k = _mm512_fmadd_ps(acc##k, va, vb);
#define PEAK_SUM(k) sum = _mm512_add_ps(sum, acc##k);

__attribute__((target("avx512f,fma"))) float cli_peak_avx512(long iterations,
                                                             float a, float b) {
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  PEAK_CHAINS(PEAK_INIT)
  for (long i = 0; i < iterations; i++) {
    PEAK_CHAINS(PEAK_FMA)
  }
  __m512 sum = _mm512_setzero_ps();
  PEAK_CHAINS(PEAK_SUM)
  return _mm512_reduce_add_ps(sum);
}
#else
float cli_peak_avx512(long iterations, float a, float b) {
  (void)iterations;
  return a + b; /* never called: no AVX-512 off x86-64 */
}
#endif
