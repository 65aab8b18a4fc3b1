/* winograd_f43_avx512.c - the F(4x4, 3x3) transforms on AVX-512. */
#define WINOGRAD_NAME(base) base##__avx512
#include "kernels/gemm/winograd_f43.inc"
