/* qgemm.h - int8 GEMM with weights packed once at load: FULLY_CONNECTED,
 * 1x1 and KxK CONV_2D on int8 activations and int8 weights (per-channel or
 * per-tensor, zero point 0) with an int32 bias, as TFLite's converter
 * writes them. Results equal the reference kernels (kernels/ref/
 * quant_conv.c, quant_matmul.c) bit for bit.
 *
 * Arithmetic: the activations are flipped to uint8 (x ^ 0x80 = x + 128)
 * as rows of A are copied for a block of rows, so that AVX-512 VNNI's
 * vpdpbusd (unsigned by signed bytes, four products per int32 lane) takes
 * them as they are; the extra 128 * sum(w) each output gets is taken off
 * its bias at load: packed bias = bias32 - 128 * sum_k w[c][k], bias32
 * holding TFLite's bias - input_zp * sum_k w[c][k] (quant_params.h). The
 * int32 sums wrap as TFLite's do; the epilogue then requantizes them with
 * the node's per-channel multiplier (double rounding for convolutions,
 * single for FULLY_CONNECTED when the node asks), adds the output zero
 * point, clamps and stores int8.
 *
 * Packed block (one allocation): kiln_qgemm_header, then at `offset`
 * (64-byte aligned) ceil(N / NR) panels of NR output channels, each
 * `panel_bytes` long (a multiple of 64):
 *   int32 bias[NR], mult[NR], shift[NR], left[NR], right[NR],
 *         rmask[NR], rhalf[NR],
 *   float fscale[NR]             - requantization per channel
 *   int8  w[KP / 4][NR][4]       - weights, 4 entries of k per channel
 * KP is K rounded up to 4; entries past K and channels past N are zero,
 * so kernels always read whole panels and store only nc columns. left and
 * right split TFLite's shift (left = max(shift, 0), right = max(-shift,
 * 0)); rmask = 2^right - 1 and rhalf = rmask >> 1 are the rounding
 * division's mask and threshold (quant_math.h). */
#ifndef KILN_KERNELS_QGEMM_QGEMM_H
#define KILN_KERNELS_QGEMM_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ops.h"
#include "kernels/kernel.h"

/* The output stage shared by every tile of a node. */
typedef struct kiln_qgemm_out {
  int32_t zero_point, act_min, act_max;
  bool single_rounding; /* FULLY_CONNECTED's one rounding */
  /* KILN_INT8_ROUNDING_FP32: the sum times the channel's float scale
   * (KILN_QGEMM_FSCALE), rounded half to even, instead of either integer
   * rounding. */
  bool fp32;
} kiln_qgemm_out;

/* An mr x nc tile (mr <= MR, nc <= NR) of C = requantize(A * W^T + bias):
 * mr rows of flipped activations (row r at a + r * a_stride, kp bytes, kp a
 * multiple of 4), one packed panel, row r of the int8 result stored at
 * c + r * c_stride. */
typedef void (*kiln_qgemm_ukernel_fn)(size_t mr, size_t nc, size_t kp,
                                      const uint8_t *a, size_t a_stride,
                                      const void *panel, int8_t *c,
                                      size_t c_stride,
                                      const kiln_qgemm_out *out);

/* Flips n int8 values to uint8 (x ^ 0x80): how rows of A are built. */
typedef void (*kiln_qgemm_flip_fn)(uint8_t *dst, const int8_t *src, int64_t n);

typedef struct kiln_qgemm_kernel {
  int mr, nr;
  kiln_qgemm_ukernel_fn fn;
  kiln_qgemm_flip_fn flip; /* in the kernel's instruction set */
} kiln_qgemm_kernel;

typedef struct kiln_qgemm_header {
  int64_t k, n;
  int32_t nr, kp;
  uint32_t offset;      /* bytes from the block's start to panel 0 */
  uint32_t panel_bytes; /* bytes from one panel to the next */
  kiln_qgemm_out out;
  int32_t input_zp;                /* what a convolution's padded taps read */
  const kiln_qgemm_kernel *kernel; /* the microkernel the panels suit */
} kiln_qgemm_header;

/* Per-channel arrays inside a panel. */
enum {
  KILN_QGEMM_BIAS,
  KILN_QGEMM_MULT,
  KILN_QGEMM_SHIFT,
  KILN_QGEMM_LEFT,
  KILN_QGEMM_RIGHT,
  KILN_QGEMM_RMASK,
  KILN_QGEMM_RHALF,
  KILN_QGEMM_FSCALE, /* float: multiplier * 2^(shift - 31) */
  KILN_QGEMM_PARAM_ARRAYS
};

static inline const int32_t *kiln_qgemm_param(const void *panel, int nr,
                                              int which) {
  return (const int32_t *)panel + (size_t)which * (size_t)nr;
}
static inline const int8_t *kiln_qgemm_weights(const void *panel, int nr) {
  return (const int8_t *)panel + (size_t)KILN_QGEMM_PARAM_ARRAYS * nr * 4;
}

/* The scalar output stage of one channel of a panel, as the reference
 * kernels compute it: the vector epilogues are tested against it. */
int8_t kiln_qgemm_requantize(int32_t acc, const void *panel, int nr, int col,
                             const kiln_qgemm_out *out);

/* Microkernels and their tiles. */
void kiln_q8_gemm_4x8__portable(size_t mr, size_t nc, size_t kp,
                                const uint8_t *a, size_t a_stride,
                                const void *panel, int8_t *c, size_t c_stride,
                                const kiln_qgemm_out *out);
void kiln_qgemm_flip__portable(uint8_t *dst, const int8_t *src, int64_t n);
extern const kiln_qgemm_kernel kiln_qgemm_4x8_portable;
#if defined(__x86_64__)
void kiln_q8_gemm_4x8__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a,
                            size_t a_stride, const void *panel, int8_t *c,
                            size_t c_stride, const kiln_qgemm_out *out);
void kiln_q8_gemm_8x16__vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a,
                             size_t a_stride, const void *panel, int8_t *c,
                             size_t c_stride, const kiln_qgemm_out *out);
void kiln_q8_gemm_8x32__vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a,
                             size_t a_stride, const void *panel, int8_t *c,
                             size_t c_stride, const kiln_qgemm_out *out);
void kiln_qgemm_flip__avx2(uint8_t *dst, const int8_t *src, int64_t n);
void kiln_qgemm_flip__vnni(uint8_t *dst, const int8_t *src, int64_t n);
extern const kiln_qgemm_kernel kiln_qgemm_4x8_avx2;
extern const kiln_qgemm_kernel kiln_qgemm_8x16_vnni;
extern const kiln_qgemm_kernel kiln_qgemm_8x32_vnni;
#endif

/* The kernels one variant may pack for, best first; the packer picks the
 * one whose panel width wastes least on the node's N. */
typedef struct kiln_qgemm_level {
  const kiln_qgemm_kernel *kernels[2];
  int count;
} kiln_qgemm_level;

extern const kiln_qgemm_level kiln_qgemm_level_portable;
#if defined(__x86_64__)
extern const kiln_qgemm_level kiln_qgemm_level_avx2;
extern const kiln_qgemm_level kiln_qgemm_level_avx512vnni;
#endif

/* Packs int8 weights w ([n][k] row-major) for `kernel` with the node's
 * requantization (a built kiln_quant_params with bias32), in one block from
 * `a`. */
struct kiln_quant_params;
kiln_status *kiln_qgemm_pack(const kiln_qgemm_kernel *kernel, const int8_t *w,
                             int64_t n, int64_t k,
                             const struct kiln_quant_params *q, bool fp32,
                             const kiln_allocator *a, void **out_packed);

/* The node's quantization block built for packing (*out NULL when the node
 * is not one these kernels run: int8 input, weights and output, constant
 * weights with zero point 0, an int32 or no bias, bias32 folded, shifts
 * in [-31, 30]). Free it with kiln_free(a, *out). */
kiln_status *kiln_qgemm_node_params(kiln_op_type op, const kiln_op_ctx *ctx,
                                    const kiln_allocator *a,
                                    struct kiln_quant_params **out);

/* The kernel whose panels waste least on n output channels. */
const kiln_qgemm_kernel *kiln_qgemm_pick(const kiln_qgemm_level *level,
                                         int64_t n);

/* Whether `packed` holds n x k weights. */
bool kiln_qgemm_packed_fits(const void *packed, int64_t n, int64_t k);

/* Builds rows [r0, r0 + rows) of A, flipped, kp bytes each, `stride`
 * apart, into dst. */
typedef void (*kiln_qgemm_fill_fn)(const void *source, int64_t r0, int64_t rows,
                                   uint8_t *dst, int64_t stride);

/* A GEMM of M rows built by `fill` from `source` against the packed
 * weights, into c ([M][N] int8), on `pool` with per-thread scratch of
 * kiln_qgemm_workspace bytes. */
void kiln_qgemm_compute(const void *packed, int64_t m, kiln_qgemm_fill_fn fill,
                        const void *source, int8_t *c,
                        struct kiln_threadpool *pool);

/* Per-thread scratch bytes kiln_qgemm_compute needs for packed K = k. */
size_t kiln_qgemm_workspace(int64_t k);

/* Rows of A read in place (FULLY_CONNECTED, 1x1 CONV_2D): `groups` groups
 * of `rows` rows of k int8 values; row i of group g starts at
 * a + (g / group_div) * group_hi + (g % group_div) * group_lo +
 * i * row_stride. A strided 1x1 convolution has one group per output row. */
typedef struct kiln_qgemm_rows {
  const int8_t *a;
  kiln_qgemm_flip_fn flip;
  int64_t k, rows, row_stride;
  int64_t group_div, group_hi, group_lo;
} kiln_qgemm_rows;

/* A kiln_qgemm_fill_fn over a kiln_qgemm_rows. */
void kiln_qgemm_fill_rows(const void *source, int64_t r0, int64_t rows,
                          uint8_t *dst, int64_t stride);

/* ---- variants (variant_list.h) ---- */
#define KILN_QGEMM_DECLARE_VARIANTS(isa)                                   \
  kiln_status *kiln_q8_fc_pack_##isa(                                      \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  kiln_status *kiln_q8_conv1x1_pack_##isa(                                 \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  kiln_status *kiln_q8_conv_pack_##isa(                                    \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed);

KILN_QGEMM_DECLARE_VARIANTS(portable)
#if defined(__x86_64__)
KILN_QGEMM_DECLARE_VARIANTS(avx2)
KILN_QGEMM_DECLARE_VARIANTS(avx512vnni)
#endif

bool kiln_q8_fc_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_fc_run(const kiln_op_ctx *ctx);
size_t kiln_q8_fc_workspace(const kiln_op_ctx *ctx);
bool kiln_q8_conv1x1_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_conv1x1_run(const kiln_op_ctx *ctx);
bool kiln_q8_conv_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_conv_run(const kiln_op_ctx *ctx);
size_t kiln_q8_conv_workspace(const kiln_op_ctx *ctx);

/* ---- BATCH_MATMUL (qbmm.c): int8 x, y and output, per-tensor; y packed at
 * load when constant, else at invoke into the reserved scratch. ---- */
#define KILN_QBMM_DECLARE_PACK(isa)    \
  kiln_status *kiln_q8_bmm_pack_##isa( \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed);

KILN_QBMM_DECLARE_PACK(portable)
#if defined(__x86_64__)
KILN_QBMM_DECLARE_PACK(avx2)
KILN_QBMM_DECLARE_PACK(avx512vnni)
#endif

bool kiln_q8_bmm_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_bmm_run(const kiln_op_ctx *ctx);
size_t kiln_q8_bmm_workspace(const kiln_op_ctx *ctx);

#endif
