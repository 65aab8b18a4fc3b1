/* qhybrid_dwconv_portable.c - the hybrid DEPTHWISE_CONV_2D for any CPU
 * (qhybrid_dwconv.inc). */
#include "core/alloc.h"
#define QH_DW_SUFFIX portable
#include "kernels/qhybrid/qhybrid_dwconv.inc"
