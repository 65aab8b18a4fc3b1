/* qdw_vnni.c - int8 DEPTHWISE_CONV_2D on AVX-512 VNNI, 16 channels:
 * qdw.inc over qdw_avx512_ops.h, each product accumulated by one vpdpwssd
 * (the int16-pair dot product; the int8 vpdpbusd's four-byte groups do
 * not fit a per-channel sum). */
#include <stdint.h>

#include "kernels/ref/quant_params.h"

#define QDW_MADD(acc, x, w) _mm512_dpwssd_epi32(acc, x, w)
#include "kernels/qdw/qdw_avx512_ops.h"
#define QDW_OX 4
#define QDW_NAME(kind) kiln_q8_dwconv_##kind##__vnni
#include "kernels/qdw/qdw.inc"
