/* qbottleneck_dw_portable.c - the int8 fused bottleneck's depthwise band
 * in plain C: the qdw variant file itself is compiled in here, its public
 * functions renamed (and unused) so they do not clash with
 * qdw_portable.c's, for its vector operations and qdw.inc's rows; then the
 * band entry point (qbottleneck_dw.inc). The renames come first so that
 * qdw.h's declarations are renamed too. */
#define kiln_q8_dwconv_3x3s1__portable kiln_qbottleneck_unused_3x3s1__portable
#define kiln_q8_dwconv_3x3s2__portable kiln_qbottleneck_unused_3x3s2__portable
#define kiln_q8_dwconv_5x5s1__portable kiln_qbottleneck_unused_5x5s1__portable
#define kiln_q8_dwconv_5x5s2__portable kiln_qbottleneck_unused_5x5s2__portable
#define kiln_q8_dwconv_generic__portable \
  kiln_qbottleneck_unused_generic__portable
#include "kernels/qdw/qdw_portable.c"

#define QBN_DW_NAME kiln_qbottleneck_dw__portable
#include "kernels/bottleneck/qbottleneck_dw.inc"
