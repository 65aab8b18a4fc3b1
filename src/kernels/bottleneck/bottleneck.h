/* bottleneck.h - the optimized FUSED_BOTTLENECK (op_attrs.h): a 1x1
 * expand, a 3x3 depthwise and a 1x1 project in one sweep down the image,
 * the expanded rows living only in per-thread scratch.
 *
 * Each thread takes a contiguous range of output rows and walks it in
 * bands of `band` rows. A ring of expanded input rows holds what the band's
 * windows read: the expand GEMM (gemm.h microkernels) computes only the
 * rows not already there, so at stride 1 each input row is expanded once
 * except at the edges of a thread's range. The depthwise stage writes the
 * band's rows (out_w x M each) to a buffer and the project GEMM turns that
 * into output rows. Without an expand stage the depthwise reads the input
 * rows directly. The expanded and depthwise tensors, 6x the size of the
 * block's input and output in MobileNetV2, thus stay in L1/L2.
 *
 * Packed weights (one block from the model's allocator): the header below,
 * then at its offsets the expand and project GEMM blocks (gemm.h layout,
 * header included) and the depthwise weights in channel blocks of `lanes`:
 * the block's biases, then its 9 taps row-major, zero past mid_c. */
#ifndef KILN_KERNELS_BOTTLENECK_BOTTLENECK_H
#define KILN_KERNELS_BOTTLENECK_BOTTLENECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* Whether the optimized variants run a depthwise window of kh x kw with
 * these attributes: 3x3, equal strides of 1 or 2, no dilation, SAME or
 * VALID, depth multiplier 1, a clamp activation. The pass fuses nothing
 * else, so a fused node never falls to the (slow) reference kernel for
 * its window. */
bool kiln_bottleneck_window_supported(int64_t kh, int64_t kw,
                                      const kiln_conv_attrs *dw);
/* Whether rows of in_w input and out_w output columns with mid_c
 * expanded channels fit the variants' per-thread scratch; a node whose
 * rows do not runs the reference kernel. */
bool kiln_bottleneck_rows_fit(int64_t in_w, int64_t out_w, int64_t mid_c);
/* The passes' judgement on the file's shapes (float and int8 alike): is
 * one fused node expected to beat three kernels, for an input in_w
 * columns wide, a depthwise output of dims dw_out ([N, H, W, M], N or H
 * -1 when unknown at load) and an expand stage or not? */
bool kiln_bottleneck_worth_fusing(int64_t in_w, const int64_t dw_out[4],
                                  bool has_expand);
/* Whether an activation is one of the clamps the stages apply. */
bool kiln_bottleneck_clamp(kiln_activation act, float *lo, float *hi);

typedef struct kiln_bottleneck_packed {
  int64_t in_c, mid_c, out_c;
  int32_t nr, lanes;
  /* Bytes from the block's start; expand is 0 when there is no expand. */
  uint32_t expand, depthwise, project;
} kiln_bottleneck_packed;

/* Most output rows the sweep computes as one band. */
#define KILN_BOTTLENECK_MAX_BAND 16

/* A band of output rows of the 3x3 depthwise stage, for one instruction
 * set: output row i reads input rows i * stride + [0, 3). */
typedef struct kiln_bottleneck_dw_band {
  /* Input rows of in_w x channels; a row of zeros where padding is. */
  const float *rows[(KILN_BOTTLENECK_MAX_BAND - 1) * 2 + 3];
  float *out;     /* out_rows rows of out_w x channels, one after the other */
  const float *w; /* packed depthwise weights */
  int64_t out_rows, in_w, channels, out_w, pad_left;
  /* Output columns [ox_lo, ox_hi) read no column outside the row. */
  int64_t ox_lo, ox_hi;
  float lo, hi; /* the activation's clamp */
} kiln_bottleneck_dw_band;

typedef void (*kiln_bottleneck_dw_fn)(const kiln_bottleneck_dw_band *b);

/* Band kernels by stride and instruction set, and the channels per
 * vector (the depthwise weights' block) each was built for. */
void kiln_bottleneck_dw3x3s1__portable(const kiln_bottleneck_dw_band *b);
void kiln_bottleneck_dw3x3s2__portable(const kiln_bottleneck_dw_band *b);
extern const int kiln_bottleneck_dw_lanes__portable;
#if defined(__x86_64__)
void kiln_bottleneck_dw3x3s1__avx2(const kiln_bottleneck_dw_band *b);
void kiln_bottleneck_dw3x3s2__avx2(const kiln_bottleneck_dw_band *b);
extern const int kiln_bottleneck_dw_lanes__avx2;
void kiln_bottleneck_dw3x3s1__avx512(const kiln_bottleneck_dw_band *b);
void kiln_bottleneck_dw3x3s2__avx512(const kiln_bottleneck_dw_band *b);
extern const int kiln_bottleneck_dw_lanes__avx512;
#endif

/* The valid taps [k0, k1) of a 3-wide window starting at input column
 * `origin` of a row of n columns. */
static inline void kiln_bottleneck_taps(int64_t origin, int64_t n, int64_t *k0,
                                        int64_t *k1) {
  *k0 = origin < 0 ? -origin : 0;
  *k1 = n - origin < 3 ? n - origin : 3;
}

#define KILN_BOTTLENECK_DECLARE_VARIANTS(isa)                              \
  kiln_status *kiln_bottleneck_pack_##isa(                                 \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  bool kiln_bottleneck_applies_##isa(const kiln_op_ctx *ctx);              \
  kiln_status *kiln_bottleneck_run_##isa(const kiln_op_ctx *ctx);          \
  size_t kiln_bottleneck_workspace_##isa(const kiln_op_ctx *ctx);

KILN_BOTTLENECK_DECLARE_VARIANTS(portable)
#if defined(__x86_64__)
KILN_BOTTLENECK_DECLARE_VARIANTS(avx2)
KILN_BOTTLENECK_DECLARE_VARIANTS(avx512)
#endif

#endif
