/* gemm.h - float32 GEMM with weights packed once at load: the microkernels,
 * the packed layout, the tiled and threaded driver, and the variants built
 * on them (listed in variant_list.h): FULLY_CONNECTED, 1x1 CONV_2D, and
 * BATCH_MATMUL, which copies its operand instead of packing it.
 *
 * Packed weights (one block from the model's allocator):
 *   kiln_gemm_header, then at `offset` (64-byte aligned) ceil(N/NR) panels of
 *   NR output channels; a panel holds NR biases (0 without bias), then for
 *   each k in [0, K) the NR weights W[n0 + j][k]. Channels past N are zero,
 *   so microkernels always load whole panels; they only store nc columns.
 *
 * A microkernel computes an mr x nc tile (mr <= MR, nc <= NR) of
 *   C = clamp(A * W^T + bias, min, max)
 * from mr rows of A (row r at a + r * a_stride, K contiguous floats) and one
 * panel w, storing row r at c + r * c_stride. Strides count floats.
 * A gemminc microkernel adds to the nc columns already in C instead of
 * starting from biases; its w holds only the K rows of NR weights. It lets
 * BATCH_MATMUL copy y panel by panel in blocks of K that fit the stack.
 *
 * A residual (CONV_2D's input 3, passes/fuse_residual.c) is added before
 * the activation: out = act(A * W^T + bias + residual). The driver runs the
 * microkernel without its clamp, then a residual function (vectorized per
 * instruction set) adds the residual to the tile and clamps it, while the
 * tile is in L1. The sum rounds as the unfused ADD after the convolution
 * did, and the microkernel keeps its weight prefetch (the gemminc kernels
 * have none, and 1x1 layers late in a network stream their weights). */
#ifndef KILN_KERNELS_GEMM_GEMM_H
#define KILN_KERNELS_GEMM_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

typedef struct kiln_gemm_minmax {
  float min, max;
} kiln_gemm_minmax;

typedef void (*kiln_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc,
                                     const float *a, size_t a_stride,
                                     const float *w, float *c, size_t c_stride,
                                     const kiln_gemm_minmax *minmax);

/* c[r][j] = clamp(c[r][j] + residual[r][j], min, max) for an mr x nc
 * tile whose rows lie `stride` floats apart in both c and residual; NaN
 * passes the clamp as in the microkernels. */
typedef void (*kiln_gemm_residual_fn)(size_t mr, size_t nc,
                                      const float *residual, float *c,
                                      size_t stride,
                                      const kiln_gemm_minmax *minmax);

/* The microkernels of one tile shape and instruction set. */
typedef struct kiln_gemm_kernel {
  int mr, nr;
  kiln_gemm_ukernel_fn fn;
  kiln_gemm_ukernel_fn inc; /* gemminc */
  kiln_isa isa;             /* also picks the epilogue's row functions */
  kiln_gemm_residual_fn residual;
} kiln_gemm_kernel;

/* Start of every packed block: what was packed, so a variant can tell at
 * prepare whether the packing fits the node's shapes. */
typedef struct kiln_gemm_header {
  int64_t k, n;
  int32_t nr;
  uint32_t offset; /* bytes from the block's start to the first panel */
} kiln_gemm_header;

/* Microkernels, named for their tile and instruction set. */
void kiln_f32_gemm_4x8__portable(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t a_stride,
                                 const float *w, float *c, size_t c_stride,
                                 const kiln_gemm_minmax *minmax);
void kiln_f32_gemminc_4x8__portable(size_t mr, size_t nc, size_t kc,
                                    const float *a, size_t a_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const kiln_gemm_minmax *minmax);
#if defined(__x86_64__)
void kiln_f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t kc, const float *a,
                              size_t a_stride, const float *w, float *c,
                              size_t c_stride, const kiln_gemm_minmax *minmax);
void kiln_f32_gemm_12x32__avx512(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t a_stride,
                                 const float *w, float *c, size_t c_stride,
                                 const kiln_gemm_minmax *minmax);
void kiln_f32_gemminc_6x16__avx2(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t a_stride,
                                 const float *w, float *c, size_t c_stride,
                                 const kiln_gemm_minmax *minmax);
void kiln_f32_gemminc_12x32__avx512(size_t mr, size_t nc, size_t kc,
                                    const float *a, size_t a_stride,
                                    const float *w, float *c, size_t c_stride,
                                    const kiln_gemm_minmax *minmax);
#endif

void kiln_f32_residual_add__portable(size_t mr, size_t nc,
                                     const float *residual, float *c,
                                     size_t stride,
                                     const kiln_gemm_minmax *minmax);
#if defined(__x86_64__)
void kiln_f32_residual_add__avx2(size_t mr, size_t nc, const float *residual,
                                 float *c, size_t stride,
                                 const kiln_gemm_minmax *minmax);
void kiln_f32_residual_add__avx512(size_t mr, size_t nc, const float *residual,
                                   float *c, size_t stride,
                                   const kiln_gemm_minmax *minmax);
#endif

/* The microkernels with their tiles, for the variants. */
extern const kiln_gemm_kernel kiln_gemm_4x8_portable;
#if defined(__x86_64__)
extern const kiln_gemm_kernel kiln_gemm_6x16_avx2;
extern const kiln_gemm_kernel kiln_gemm_12x32_avx512;
#endif

/* Packs w ([n][k] row-major) and bias (n floats, or NULL) into panels of nr
 * channels, in one block from `a` (NULL: libc). */
kiln_status *kiln_gemm_pack(const float *w, const float *bias, int64_t n,
                            int64_t k, int nr, const kiln_allocator *a,
                            void **out_packed);
/* Whether `packed` holds n x k weights in panels of nr. */
bool kiln_gemm_packed_fits(const void *packed, int64_t n, int64_t k, int nr);

/* The optional bias at input `index` for packing: *out NULL when omitted;
 * false when present but not a constant float32 vector of n. */
bool kiln_gemm_constant_bias(const kiln_op_ctx *ctx, int index, int64_t n,
                             const float **out);

/* Whether a fused activation is a clamp the microkernels apply; if so its
 * bounds. */
bool kiln_gemm_activation_minmax(kiln_activation act, kiln_gemm_minmax *out);

/* How a GEMM kernel applies fused activation `act`: a clamp in the
 * microkernels (*minmax), any other activation kernels/epilogue.h computes
 * on each tile once it is final (*epilogue; NONE for a clamp, and then
 * *minmax is [-inf, inf]). False when neither can (TANH, SIGN_BIT): the
 * packers decline such nodes. */
bool kiln_gemm_activation_split(kiln_activation act, kiln_gemm_minmax *minmax,
                                kiln_activation *epilogue);

/* The rows of A come in `groups` of `rows` rows each: row r of group g
 * starts at a + (g / group_div) * group_hi + (g % group_div) * group_lo +
 * r * row_stride (all in floats). A plain GEMM is one group; a strided 1x1
 * convolution has one group per output row. C is dense: [groups * rows][N],
 * and so is `residual` when there is one (NULL: none). */
typedef struct kiln_gemm_rows {
  const float *a;
  int64_t groups, rows, row_stride;
  int64_t group_div, group_hi, group_lo;
  const float *residual;
} kiln_gemm_rows;

/* C = act(A * W^T + bias [+ residual]) with the packed weights, on `pool`
 * (NULL: the caller's thread), for an activation kiln_gemm_activation_split
 * takes: a clamp as each tile is stored, another right after, while the tile is
 * in L1. Allocates nothing. */
void kiln_gemm_compute(const kiln_gemm_kernel *kernel, const void *packed,
                       const kiln_gemm_rows *rows, float *c,
                       kiln_activation act, struct kiln_threadpool *pool);

/* Multiply-adds a thread's share of a job should at least hold; smaller
 * jobs run on the caller, as waking workers would cost more than they
 * save. */
#define KILN_GEMM_MIN_CHUNK_MACS (128 * 1024)

/* The share of `threads` kept busy when `count` equal items are dealt out
 * in contiguous chunks (how kiln_parallel_for splits). */
double kiln_gemm_balance(int64_t count, int64_t threads);

/* For jobs cut into `blocks` blocks of rows that each run all `panels`
 * panels: how far to also split each block's panels so that `threads`
 * threads stay busy. Sets *splits (shares per block, 1: none) and *per
 * (panels per share, the last share may hold fewer). Splits only while the
 * blocks alone keep under 90% of the threads busy, since each share
 * repeats its block's setup (windows copied, tiles transformed). */
void kiln_gemm_share_panels(int64_t blocks, int64_t panels, int64_t threads,
                            int64_t *splits, int64_t *per);

/* ---- variants (variant_list.h): FULLY_CONNECTED, 1x1 CONV_2D,
 * BATCH_MATMUL and KxK CONV_2D (conv_gemm.c: windows copied per block of
 * output pixels into a stack buffer, k in blocks summed by gemminc) ---- */

/* Which CONV_2D filters a GEMM convolution takes: 1x1 (conv1x1_gemm.c) or
 * any larger window (conv_gemm.c). */
typedef enum kiln_gemm_conv_window {
  KILN_GEMM_CONV_1X1,
  KILN_GEMM_CONV_KXK,
} kiln_gemm_conv_window;

/* Packs a CONV_2D filter [O, KH, KW, I] as a GEMM with k = KH * KW * I,
 * bias first. Leaves *out_packed NULL for nodes the GEMM convolutions do
 * not run: a window of the other kind, grouped convolutions, non-constant
 * weights or bias, activations the epilogue lacks, and a residual input
 * (input 3) anywhere but a 1x1 window. */
kiln_status *kiln_gemm_conv_pack(const kiln_gemm_kernel *kernel,
                                 kiln_gemm_conv_window window,
                                 const kiln_op_ctx *ctx,
                                 const kiln_allocator *a, void **out_packed);

/* At prepare: float32 NHWC data and a packed block that fits the filter.
 * Shapes, strides, dilations and padding were already checked by the
 * shape function (a residual's shape too). */
bool kiln_gemm_conv_applies(const kiln_gemm_kernel *kernel,
                            kiln_gemm_conv_window window,
                            const kiln_op_ctx *ctx);

/* For passes/fuse_residual.c: whether a CONV_2D with this filter, bias
 * (NULL: none), input channels and fused activation is one the 1x1 GEMM
 * variants run with a residual input (constant float32 1x1 filter and
 * bias, not grouped, an activation they apply), so that fusing an ADD into
 * it never leaves the node to the reference kernel. */
bool kiln_gemm_conv_takes_residual(const kiln_tensor *filter,
                                   const kiln_tensor *bias, int64_t in_channels,
                                   kiln_activation act);

#define KILN_GEMM_DECLARE_VARIANTS(isa)                                    \
  kiln_status *kiln_fc_gemm_pack_##isa(                                    \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  bool kiln_fc_gemm_applies_##isa(const kiln_op_ctx *ctx);                 \
  kiln_status *kiln_fc_gemm_run_##isa(const kiln_op_ctx *ctx);             \
  kiln_status *kiln_conv1x1_gemm_pack_##isa(                               \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  bool kiln_conv1x1_gemm_applies_##isa(const kiln_op_ctx *ctx);            \
  kiln_status *kiln_conv1x1_gemm_run_##isa(const kiln_op_ctx *ctx);        \
  bool kiln_bmm_gemm_applies_##isa(const kiln_op_ctx *ctx);                \
  kiln_status *kiln_bmm_gemm_run_##isa(const kiln_op_ctx *ctx);            \
  kiln_status *kiln_conv_gemm_pack_##isa(                                  \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  bool kiln_conv_gemm_applies_##isa(const kiln_op_ctx *ctx);               \
  kiln_status *kiln_conv_gemm_run_##isa(const kiln_op_ctx *ctx);

KILN_GEMM_DECLARE_VARIANTS(portable)
#if defined(__x86_64__)
KILN_GEMM_DECLARE_VARIANTS(avx2)
KILN_GEMM_DECLARE_VARIANTS(avx512)
#endif

#endif
