/* vnni_dpbusd.h - vpdpbusd (AVX-512 VNNI) with its accumulator kept in
 * place. GCC 12 does not tie the intrinsic's accumulator to one register
 * across a k loop: it copied every accumulator to a fresh register on
 * each step (34 moves per 16 multiply-adds in the int8 GEMM tile, 32 in
 * the hybrid one); the asm form ties it. Included only by *_vnni.c files. */
#ifndef KILN_KERNELS_QUANT_VNNI_DPBUSD_H
#define KILN_KERNELS_QUANT_VNNI_DPBUSD_H

#include <immintrin.h>

/* acc + the four-byte dot products of x (unsigned) and w (signed) per
 * 32-bit lane. */
static inline __m512i kiln_dpbusd(__m512i acc, __m512i x, __m512i w) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, x, w);
#endif
}

#endif
