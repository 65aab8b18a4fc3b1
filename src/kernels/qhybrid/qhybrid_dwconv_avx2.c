/* qhybrid_dwconv_avx2.c - the hybrid DEPTHWISE_CONV_2D compiled for AVX2
 * (qhybrid_dwconv.inc): the compiler vectorizes the channel loops 8 wide,
 * where the AVX2 level had only the portable build; no multiply-add is
 * fused, as the file's float steps are each their own statement. The
 * image's range and quantization are qhybrid_quantize_avx2.c's. */
#include "core/alloc.h"
#define QH_DW_SUFFIX avx2
#define QH_DW_AVX2 1
#include "kernels/qhybrid/qhybrid_dwconv.inc"
