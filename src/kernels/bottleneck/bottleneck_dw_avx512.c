/* bottleneck_dw_avx512.c - FUSED_BOTTLENECK's depthwise bands on AVX-512:
 * 16 channels per vector, tails by masked loads and stores. */
#include <immintrin.h>

#include "kernels/bottleneck/bottleneck.h"

enum { LANES = 16, OX_BLOCK = 4 };

typedef __m512 vec;
typedef __mmask16 vmask;

static inline vmask vfirst(int64_t n) { return (vmask)((1u << n) - 1u); }

static inline vec vload(const float *p, vmask m, bool tail) {
  return tail ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
}

static inline vec vweight(const float *p) { return _mm512_load_ps(p); }

static inline vec vfma(vec x, vec w, vec acc) {
  return _mm512_fmadd_ps(x, w, acc);
}

static inline vec vsplat(float x) { return _mm512_set1_ps(x); }

/* max(lo, v) and min(hi, v) return v when it is NaN, as the reference's
 * comparisons do. */
static inline void vstore(float *p, vec v, vec lo, vec hi, vmask m, bool tail) {
  v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
  if (tail)
    _mm512_mask_storeu_ps(p, m, v);
  else
    _mm512_storeu_ps(p, v);
}

#define DW_BAND_NAME(stride) kiln_bottleneck_dw3x3s##stride##__avx512
#include "kernels/bottleneck/bottleneck_dw.inc"
