/* winograd_f43_avx2.c - the F(4x4, 3x3) transforms on AVX2 + FMA. */
#define WINOGRAD_NAME(base) base##__avx2
#include "kernels/gemm/winograd_f43.inc"
