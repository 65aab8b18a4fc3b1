/* winograd_avx2.c - the Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms on AVX2
 * + FMA. */
#define WINOGRAD_NAME(base) base##__avx2
#include "kernels/gemm/winograd_transforms.inc"
