/* f32_residual_avx2.c - the residual step on simd_avx2.h. */
#include "kernels/x86/simd_avx2.h"
/* The template, over the vector operations just defined. */
#include "kernels/gemm/f32_residual.inc"
