/* bottleneck_dw_portable.c - FUSED_BOTTLENECK's depthwise bands in plain C, 4
 * channels per GNU vector: bottleneck_dw.inc over simd_portable.h. */
#include "kernels/x86/simd_portable.h"
/* Sixteen SSE registers (or NEON's 32) for 4-float vectors: two sums
 * leave room for the taps and the columns. */
#define OX_BLOCK 2
#include "kernels/bottleneck/bottleneck_dw.inc"
