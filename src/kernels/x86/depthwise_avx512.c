/* depthwise_avx512.c - DEPTHWISE_CONV_2D float32 on AVX-512, 16 channels:
 * depthwise.inc over simd_avx512.h. */
#include "kernels/x86/simd_avx512.h"
/* The variants variant_list.h names at this level. */
#define DW_VARIANTS(X) X(3x3s1) X(3x3s2) X(5x5s1) X(5x5s2) X(generic)
/* The template, over the vector operations just defined. */
#include "kernels/x86/depthwise.inc"
