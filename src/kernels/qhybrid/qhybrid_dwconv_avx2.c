/* qhybrid_dwconv_avx2.c - the hybrid DEPTHWISE_CONV_2D compiled for AVX2
 * (qhybrid_dwconv.inc): the compiler vectorizes the channel loops 8 wide,
 * where the AVX2 level had only the portable build; no multiply-add is
 * fused, as the file's float steps are each their own statement. The
 * image's quantization stays the portable loop (kiln_qh_quantize). */
#include "core/alloc.h"
#define QH_DW_SUFFIX avx2
#include "kernels/qhybrid/qhybrid_dwconv.inc"
