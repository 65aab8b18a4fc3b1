/* bottleneck_dw_portable.c - FUSED_BOTTLENECK's depthwise bands in plain C:
 * 8 channels per GNU vector, which the compiler lowers to whatever the
 * target has (two SSE registers on baseline x86-64, NEON on ARM). */
#include <string.h>

#include "kernels/bottleneck/bottleneck.h"

/* The vector helpers are static: no call crosses into a file with another
 * instruction set, so the compilers' warning that vector arguments change
 * the calling convention does not apply (clang takes GCC's pragma too). */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

enum { LANES = 8, OX_BLOCK = 2 };

typedef float vec __attribute__((vector_size(32)));
typedef int32_t ivec __attribute__((vector_size(32)));
typedef int64_t vmask; /* lanes a tail keeps, counted from 0 */

static inline vmask vfirst(int64_t n) { return n; }

static inline vec vload(const float *p, vmask m, bool tail) {
  vec v = {0};
  memcpy(&v, p, sizeof(float) * (size_t)(tail ? m : LANES));
  return v;
}

static inline vec vweight(const float *p) { return vload(p, LANES, false); }

static inline vec vfma(vec x, vec w, vec acc) { return acc + x * w; }

static inline vec vsplat(float x) { return (vec){0} + x; }

/* Lanes of a where `pick` is set, else of b. */
static inline vec vselect(ivec pick, vec a, vec b) {
  return (vec)((pick & (ivec)a) | (~pick & (ivec)b));
}

/* The reference's comparisons, lane by lane, so NaN passes. */
static inline void vstore(float *p, vec v, vec lo, vec hi, vmask m, bool tail) {
  v = vselect(v < lo, lo, v);
  v = vselect(v > hi, hi, v);
  memcpy(p, &v, sizeof(float) * (size_t)(tail ? m : LANES));
}

#define DW_BAND_NAME(stride) kiln_bottleneck_dw3x3s##stride##__portable
#include "kernels/bottleneck/bottleneck_dw.inc"
