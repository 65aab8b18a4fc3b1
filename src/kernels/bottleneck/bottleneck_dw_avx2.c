/* bottleneck_dw_avx2.c - FUSED_BOTTLENECK's depthwise bands on AVX2 + FMA:
 * 8 channels per vector, tails by masked loads and stores. */
#include <immintrin.h>

#include "kernels/bottleneck/bottleneck.h"

/* Sixteen registers: the nine taps, the bias, four sums and the columns
 * being read; more sums would spill. */
enum { LANES = 8, OX_BLOCK = 4 };

typedef __m256 vec;
typedef __m256i vmask;

static inline vmask vfirst(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Masked loads do not fault on the lanes they leave out. */
static inline vec vload(const float *p, vmask m, bool tail) {
  return tail ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
}

static inline vec vweight(const float *p) { return _mm256_load_ps(p); }

static inline vec vfma(vec x, vec w, vec acc) {
  return _mm256_fmadd_ps(x, w, acc);
}

static inline vec vsplat(float x) { return _mm256_set1_ps(x); }

/* max(lo, v) and min(hi, v) return v when it is NaN, as the reference's
 * comparisons do. */
static inline void vstore(float *p, vec v, vec lo, vec hi, vmask m, bool tail) {
  v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
  if (tail)
    _mm256_maskstore_ps(p, m, v);
  else
    _mm256_storeu_ps(p, v);
}

#define DW_BAND_NAME(stride) kiln_bottleneck_dw3x3s##stride##__avx2
#include "kernels/bottleneck/bottleneck_dw.inc"
