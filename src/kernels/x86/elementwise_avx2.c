/* elementwise_avx2.c - elementwise, MEAN and pool kernels on AVX2 + FMA:
 * elementwise.inc over simd_avx2.h. */
#include "kernels/x86/simd_avx2.h"
/* The template, over the vector operations just defined. */
#include "kernels/x86/elementwise.inc"
