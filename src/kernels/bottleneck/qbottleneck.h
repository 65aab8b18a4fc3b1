/* qbottleneck.h - the int8 FUSED_BOTTLENECK (op_attrs.h, `quantized`): a
 * 1x1 expand, a 3x3 depthwise and a 1x1 project on int8 tensors in one
 * sweep down the image, built from the int8 operators' own pieces so that
 * every stage requantizes to int8 exactly as the unfused operators do and
 * the output equals theirs bit for bit: the int8 GEMM microkernels with
 * their fused requantization (kernels/qgemm/qgemm.h) for the two 1x1
 * stages, the int8 depthwise row code (kernels/qdw/qdw.inc) for the 3x3.
 *
 * Each thread takes a contiguous range of output rows and walks it in
 * bands. The expanded int8 rows a band's windows read are kept contiguous
 * in a per-thread buffer (rows shared with the previous band are moved to
 * its front, the rest expanded), so the depthwise code reads them as it
 * reads an image; the band's depthwise rows go to a second buffer, are
 * flipped to uint8 in place (the GEMM's A operand) and projected into the
 * output rows. The expanded and depthwise tensors thus stay in L1/L2.
 *
 * Packed block (one allocation, kiln_qbottleneck_packed at its start): the
 * expand and project GEMM blocks (qgemm.h layout, header included), the
 * depthwise weights (qdw.h's kiln_qdw_packed then its weight words) and
 * the depthwise stage's per-channel requantization arrays, which the
 * header's `dw_quant` points into. */
#ifndef KILN_KERNELS_BOTTLENECK_QBOTTLENECK_H
#define KILN_KERNELS_BOTTLENECK_QBOTTLENECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"
#include "kernels/qdw/qdw.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_params.h"

typedef struct kiln_qbottleneck_packed {
  int64_t in_c, mid_c, out_c;
  int32_t dw_block; /* the depthwise weights' channel block */
  int stride;
  /* Bytes from the block's start; expand is 0 when there is no expand. */
  uint32_t expand, project, depthwise;
  kiln_quant_params dw_quant; /* arrays inside this block */
  /* A residual ADD taken in (op_attrs.h): its parameters. */
  bool residual;
  kiln_q8_binary_params add;
} kiln_qbottleneck_packed;

/* A band of output rows of the 3x3 depthwise stage: `in` holds in_rows
 * contiguous rows of in_w x channels int8 values; output row r's window
 * starts at buffer row r * stride + top (rows outside [0, in_rows) are
 * padding and read the zero point, as in the operator). */
typedef struct kiln_qbottleneck_dw_band {
  const int8_t *in;
  int8_t *out; /* out_rows rows of out_w x channels */
  const kiln_qdw_packed *w;
  const kiln_quant_params *q;
  int64_t in_rows, top, out_rows, in_w, out_w, channels, pad_left;
  int64_t ox_lo, ox_hi; /* columns whose window lies inside the row */
  int stride;
} kiln_qbottleneck_dw_band;

typedef void (*kiln_qbottleneck_dw_fn)(const kiln_qbottleneck_dw_band *b);

void kiln_qbottleneck_dw__portable(const kiln_qbottleneck_dw_band *b);
#if defined(__x86_64__)
void kiln_qbottleneck_dw__avx2(const kiln_qbottleneck_dw_band *b);
void kiln_qbottleneck_dw__vnni(const kiln_qbottleneck_dw_band *b);
#endif

#define KILN_QBOTTLENECK_DECLARE_VARIANTS(isa)                             \
  kiln_status *kiln_qbottleneck_pack_##isa(                                \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  bool kiln_qbottleneck_applies_##isa(const kiln_op_ctx *ctx);             \
  kiln_status *kiln_qbottleneck_run_##isa(const kiln_op_ctx *ctx);         \
  size_t kiln_qbottleneck_workspace_##isa(const kiln_op_ctx *ctx);

KILN_QBOTTLENECK_DECLARE_VARIANTS(portable)
#if defined(__x86_64__)
KILN_QBOTTLENECK_DECLARE_VARIANTS(avx2)
KILN_QBOTTLENECK_DECLARE_VARIANTS(avx512vnni)
#endif

/* The int8 node's shape function and reference kernel (ref/
 * quant_bottleneck.c), which the float ones hand quantized nodes to. */
kiln_status *kiln_shape_fused_qbottleneck(const kiln_op_ctx *ctx);
kiln_status *kiln_ref_fused_qbottleneck(const kiln_op_ctx *ctx);

#endif
