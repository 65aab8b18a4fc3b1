/* f32_residual_portable.c - the residual step on simd_portable.h. */
#include "kernels/x86/simd_portable.h"
/* The template, over the vector operations just defined. */
#include "kernels/gemm/f32_residual.inc"
