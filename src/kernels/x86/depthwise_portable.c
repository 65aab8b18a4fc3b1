/* depthwise_portable.c - DEPTHWISE_CONV_2D float32 in plain C, 4 channels:
 * depthwise.inc over simd_portable.h. */
#include "kernels/x86/simd_portable.h"
/* Sixteen registers of 4 floats: the nine taps, two sums and the columns
 * they read. */
#define DW_OX_FIXED 2
/* The variants variant_list.h names at this level. */
#define DW_VARIANTS(X) X(3x3) X(generic)
/* The template, over the vector operations just defined. */
#include "kernels/x86/depthwise.inc"
