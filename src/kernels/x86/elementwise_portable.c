/* elementwise_portable.c - elementwise, MEAN and pool kernels in plain C (GNU
 * vectors): elementwise.inc over simd_portable.h. */
#include "kernels/x86/simd_portable.h"
/* The template, over the vector operations just defined. */
#include "kernels/x86/elementwise.inc"
