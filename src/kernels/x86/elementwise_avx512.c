/* elementwise_avx512.c - elementwise, MEAN and pool kernels on AVX-512:
 * elementwise.inc over simd_avx512.h. */
#include "kernels/x86/simd_avx512.h"
/* The template, over the vector operations just defined. */
#include "kernels/x86/elementwise.inc"
