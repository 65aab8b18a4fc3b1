/* simd.h - what the per-instruction-set vector headers (simd_avx512.h,
 * simd_avx2.h, simd_portable.h) share. The kernel templates
 * (depthwise.inc, elementwise.inc) are written once over the operations
 * such a header defines, and each *_<isa>.c file includes one header and
 * then the template, so every set gets the same algorithm compiled with
 * its own instructions.
 *
 * Each header defines, for vectors of LANES floats:
 *   SIMD_SUFFIX, SIMD_ISA    the set's name suffix and kiln_isa
 *   vec                      LANES floats
 *   vmask                    the lanes a partial load or store touches
 *   vbool                    a lane-wise comparison's result
 *   vfirst(n)                the mask of lanes [0, n), n <= LANES
 *   vload, vstore            unaligned; vload_aligned for packed weights
 *   vload_part, vstore_part  masked: lanes outside the mask read as zero
 *                            and are never touched in memory
 *   vsplat, vzero, vadd, vsub, vmul, vdiv
 *   vfma(a, b, c)            a * b + c (fused where the set has FMA)
 *   vfnma(a, b, c)           c - a * b (likewise)
 *   vmin(a, b), vmax(a, b)   x86's rule: b when either is NaN, so
 *                            vmin(hi, vmax(lo, v)) clamps keeping NaN v
 *   vand, vor, vandnot(a, b) bitwise; vandnot is ~a & b
 *   vround(x)                nearest integer, ties to even (|x| < 2^22)
 *   vscale_pow2(p, n)        p * 2^n for integral n in [-252, 254], in two
 *                            halves so that a subnormal result rounds once
 *   vlt, vle, visnan         comparisons
 *   vselect(m, a, b)         a where m, else b
 *   vsum                     LANES doubles: vsum_zero, vsum_add(s, v)
 *                            (adds v's lanes), vsum_merge(a, b) (a + b)
 *                            and vsum_div(s, d) (s / d rounded to vec) */
#ifndef KILN_KERNELS_X86_SIMD_H
#define KILN_KERNELS_X86_SIMD_H

#define SIMD_INLINE static inline __attribute__((always_inline))

/* The vector helpers are static and inlined: no call crosses into a file
 * with another instruction set, so GCC's note that wide vector arguments
 * and results change the calling convention does not apply. */
#if defined(__GNUC__) /* GCC and clang both */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define SIMD_CAT_(a, b) a##b
#define SIMD_CAT(a, b) SIMD_CAT_(a, b)
/* base__<set>: how kiln names a function per instruction set. */
#define SIMD_NAME(base) SIMD_CAT(base##__, SIMD_SUFFIX)

#endif
