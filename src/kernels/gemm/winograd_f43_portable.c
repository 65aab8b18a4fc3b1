/* winograd_f43_portable.c - the F(4x4, 3x3) transforms for any CPU. */
#define WINOGRAD_NAME(base) base##__portable
#include "kernels/gemm/winograd_f43.inc"
