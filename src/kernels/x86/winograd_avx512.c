/* winograd_avx512.c - the Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms on
 * AVX-512. */
#define WINOGRAD_NAME(base) base##__avx512
#include "kernels/gemm/winograd_transforms.inc"
