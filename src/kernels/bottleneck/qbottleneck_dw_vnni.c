/* qbottleneck_dw_vnni.c - the int8 fused bottleneck's depthwise band on
 * AVX-512 VNNI: qdw.inc over qdw_avx512_ops.h exactly as qdw_vnni.c
 * builds it (the standalone variants it also defines here, under other
 * names, are unused), then the band entry point (qbottleneck_dw.inc). */
#include <stdint.h>

#include "kernels/ref/quant_params.h"

#define QDW_MADD(acc, x, w) _mm512_dpwssd_epi32(acc, x, w)
#include "kernels/qdw/qdw_avx512_ops.h"
#define QDW_OX 4
#define QDW_NAME(kind) kiln_qbottleneck_unused_##kind##__vnni
#include "kernels/qdw/qdw.inc"

#define QBN_DW_NAME kiln_qbottleneck_dw__vnni
#include "kernels/bottleneck/qbottleneck_dw.inc"
