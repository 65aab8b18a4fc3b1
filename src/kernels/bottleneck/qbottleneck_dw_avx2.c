/* qbottleneck_dw_avx2.c - the int8 fused bottleneck's depthwise band on
 * AVX2: the qdw variant file itself is compiled in here, its public
 * functions renamed (and unused) so they do not clash with qdw_avx2.c's,
 * for its vector operations and qdw.inc's rows; then the band entry point
 * (qbottleneck_dw.inc). The renames come first so that qdw.h's
 * declarations are renamed too. */
#define kiln_q8_dwconv_3x3s1__avx2 kiln_qbottleneck_unused_3x3s1__avx2
#define kiln_q8_dwconv_3x3s2__avx2 kiln_qbottleneck_unused_3x3s2__avx2
#define kiln_q8_dwconv_5x5s1__avx2 kiln_qbottleneck_unused_5x5s1__avx2
#define kiln_q8_dwconv_5x5s2__avx2 kiln_qbottleneck_unused_5x5s2__avx2
#define kiln_q8_dwconv_generic__avx2 kiln_qbottleneck_unused_generic__avx2
#include "kernels/qdw/qdw_avx2.c"

#define QBN_DW_NAME kiln_qbottleneck_dw__avx2
#include "kernels/bottleneck/qbottleneck_dw.inc"
