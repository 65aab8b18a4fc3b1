/* winograd_portable.c - the Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms for
 * any CPU. */
#define WINOGRAD_NAME(base) base##__portable
#include "kernels/gemm/winograd_transforms.inc"
