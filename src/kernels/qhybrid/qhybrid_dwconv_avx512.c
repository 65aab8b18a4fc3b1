/* qhybrid_dwconv_avx512.c - the hybrid DEPTHWISE_CONV_2D compiled for
 * AVX-512 (qhybrid_dwconv.inc): the compiler vectorizes the channel loops
 * 16 wide; no multiply-add is fused, as the file's float steps are each
 * their own statement. */
#include "core/alloc.h"
#define QH_DW_SUFFIX avx512
#define QH_DW_AVX512 1
#include "kernels/qhybrid/qhybrid_dwconv.inc"
