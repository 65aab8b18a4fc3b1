/* qdw_avx512.c - int8 DEPTHWISE_CONV_2D on AVX-512 (F/BW), 16 channels:
 * qdw.inc over qdw_avx512_ops.h, products through vpmaddwd + vpaddd. */
#include <stdint.h>

#include "kernels/ref/quant_params.h"

#define QDW_MADD(acc, x, w) _mm512_add_epi32(acc, _mm512_madd_epi16(x, w))
#include "kernels/qdw/qdw_avx512_ops.h"
#define QDW_OX 4
#define QDW_NAME(kind) kiln_q8_dwconv_##kind##__avx512
#include "kernels/qdw/qdw.inc"
