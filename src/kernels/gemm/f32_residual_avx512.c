/* f32_residual_avx512.c - the residual step on simd_avx512.h. */
#include "kernels/x86/simd_avx512.h"
/* The template, over the vector operations just defined. */
#include "kernels/gemm/f32_residual.inc"
