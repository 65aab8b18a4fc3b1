/* qhybrid.h - dynamically quantized ("hybrid") FULLY_CONNECTED and CONV_2D:
 * float32 activations, int8 weights packed at load. At invoke each row
 * (FULLY_CONNECTED) or image (CONV_2D) of floats is quantized to 8 bits
 * exactly as the reference kernels in kernels/ref/quant_hybrid.c do (same
 * scale, zero point and rounding), an int8 x int8 GEMM sums in int32, and
 * the epilogue scales back to float in the reference's order of float
 * operations, so results are bit-identical to the reference.
 *
 * Packed weights: panels of `nr` output channels; in a panel, for each
 * group of 4 consecutive k, the nr channels' 4 weights side by side (the
 * layout VNNI's vpdpbusd reads; the AVX2 kernel widens it to int16 pairs).
 * k is padded to a multiple of 4 and channels to a multiple of nr with
 * zero weights. Per channel the packed block also holds the weights' sum
 * and the microkernel's initial accumulator (-128 * sum for the VNNI
 * kernel, whose activations are offset to uint8; 0 otherwise). */
#ifndef KILN_KERNELS_QHYBRID_QHYBRID_H
#define KILN_KERNELS_QHYBRID_QHYBRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* How the microkernel wants each quantized activation stored. */
typedef enum qh_a_format {
  QH_A_INT8,       /* int8 as quantized */
  QH_A_INT16,      /* int16, for the int16 multiply-add (AVX2) */
  QH_A_UINT8_FLIP, /* int8 ^ 0x80 = q + 128 as uint8 (VNNI) */
} qh_a_format;

/* C[mr][nr] = init[nr] + sum over k of A[r][k] * W[k][c]: `a` holds mr
 * rows `a_stride` bytes apart, each kgroups * 4 activations; `w` one panel.
 * mr is 1 .. the kernel's mr. */
typedef void (*qh_ukernel_fn)(int mr, int64_t kgroups, const void *a,
                              size_t a_stride, const int8_t *w,
                              const int32_t *init, int32_t *c);

/* q = clamp(round(offset + x * inverse), lo, hi); real = scale * (q -
 * offset). */
typedef struct qh_quant {
  float scale, inverse;
  int32_t offset, lo, hi;
} qh_quant;

/* What turns a tile's int32 sums into the node's float outputs. */
typedef struct qh_epilogue {
  bool conv;        /* CONV_2D's order of float operations, else FC's */
  bool asym;        /* FC: inputs quantized with a zero point */
  bool per_channel; /* per-channel weight scales */
  const float *filter_scale, *bias; /* bias may be NULL */
  const int32_t *filter_sum;        /* per channel sum of the weights */
  kiln_activation act;
} qh_epilogue;

/* Outputs [c0, c0 + cols) of `rows` rows: out[r * out_stride + c] from
 * acc[r * acc_stride + c - c0], row r's int32 sums (with the activations'
 * zero point in them), quantized as qs[r] says. */
typedef void (*qh_epilogue_fn)(const qh_epilogue *e, const qh_quant *qs,
                               int rows, const int32_t *acc, int64_t acc_stride,
                               int64_t c0, int64_t cols, float *out,
                               int64_t out_stride);
/* Quantizes n floats into dst in the kernel's format (kiln_qh_quantize). */
typedef void (*qh_quantize_fn)(const qh_quant *q, const float *x, int64_t n,
                               void *dst);

/* A batch's smallest and largest value, as the reference finds them. */
typedef void (*qh_min_max_fn)(const float *x, int64_t n, float *lo, float *hi);

typedef struct qh_kernel {
  int mr, nr;
  qh_a_format a_format;
  int32_t init_per_sum; /* init = init_per_sum * sum(weights of channel) */
  qh_ukernel_fn ukernel;
  qh_quantize_fn quantize; /* NULL: the portable kiln_qh_quantize */
  qh_epilogue_fn epilogue; /* NULL: the portable kiln_qh_epilogue */
  qh_min_max_fn min_max;   /* NULL: the portable loop */
} qh_kernel;

/* The portable epilogue: the reference kernel's float operations, one
 * output at a time. */
void kiln_qh_epilogue(const qh_epilogue *e, const qh_quant *qs, int rows,
                      const int32_t *acc, int64_t acc_stride, int64_t c0,
                      int64_t cols, float *out, int64_t out_stride);

extern const qh_kernel kiln_qh_kernel_portable;
#if defined(__x86_64__)
extern const qh_kernel kiln_qh_kernel_avx2;
extern const qh_kernel kiln_qh_kernel_vnni;
/* AVX-512 forms of the quantization (qhybrid_quantize_avx512.c): uint8
 * flipped, int16 minus the zero point, and the range of a batch. */
void kiln_qh_quantize_u8_avx512(const qh_quant *q, const float *x, int64_t n,
                                void *dst);
void kiln_qh_quantize_i16_centered_avx512(const qh_quant *q, const float *x,
                                          int64_t n, int16_t *dst);
void kiln_qh_min_max_avx512(const float *x, int64_t n, float *lo, float *hi);
/* AVX2 forms of the quantization (qhybrid_quantize_avx2.c): int16 as
 * quantized, int16 minus the zero point, and the range of a batch. */
void kiln_qh_quantize_i16_avx2(const qh_quant *q, const float *x, int64_t n,
                               void *dst);
void kiln_qh_quantize_i16_centered_avx2(const qh_quant *q, const float *x,
                                        int64_t n, int16_t *dst);
void kiln_qh_min_max_avx2(const float *x, int64_t n, float *lo, float *hi);
/* The AVX2 epilogue (qhybrid_epilogue_avx2.c). */
void kiln_qh_epilogue_avx2(const qh_epilogue *e, const qh_quant *qs, int rows,
                           const int32_t *acc, int64_t acc_stride, int64_t c0,
                           int64_t cols, float *out, int64_t out_stride);
void kiln_qh_epilogue_avx512(const qh_epilogue *e, const qh_quant *qs, int rows,
                             const int32_t *acc, int64_t acc_stride, int64_t c0,
                             int64_t cols, float *out, int64_t out_stride);
#endif

/* The packed block's header; data follows at the offsets. */
typedef struct qh_packed {
  int64_t n, k, kp, nr; /* channels, depth, depth padded to 4, panel width */
  int64_t window_h, window_w; /* CONV_2D's filter window (1, 1 for FC) */
  size_t sum_offset, init_offset, weights_offset; /* bytes from the header */
} qh_packed;

/* Packs int8 weights w[c * n_stride + i * k_stride] (channel c < n, depth
 * i < k) for `kernel` into one block from `a`. */
kiln_status *kiln_qh_pack(const qh_kernel *kernel, const int8_t *w, int64_t n,
                          int64_t k, int64_t n_stride, int64_t k_stride,
                          int64_t window_h, int64_t window_w,
                          const kiln_allocator *a, void **out_packed);

/* ---- quantizing a batch of floats, as the reference kernel does ---- */

qh_quant kiln_qh_symmetric(const float *x, int64_t n);
qh_quant kiln_qh_asymmetric(const float *x, int64_t n);
/* The same from a batch's smallest and largest value. */
qh_quant kiln_qh_symmetric_range(float lo, float hi);
qh_quant kiln_qh_asymmetric_range(float lo, float hi);

/* Quantizes n floats into dst (in `format`). */
void kiln_qh_quantize(const qh_quant *q, const float *x, int64_t n,
                      qh_a_format format, void *dst);
/* Writes n copies of the quantized zero (the offset) into dst. */
void kiln_qh_fill_zero(const qh_quant *q, int64_t n, qh_a_format format,
                       void *dst);
size_t kiln_qh_format_bytes(qh_a_format format);

/* ---- variants (variant_list.h) ---- */
#define KILN_QH_DECLARE(isa)                                                   \
  kiln_status *kiln_qh_fc_pack_##isa(const kiln_op_ctx *ctx,                   \
                                     const kiln_allocator *a, void **packed);  \
  bool kiln_qh_fc_applies_##isa(const kiln_op_ctx *ctx);                       \
  kiln_status *kiln_qh_fc_run_##isa(const kiln_op_ctx *ctx);                   \
  size_t kiln_qh_fc_workspace_##isa(const kiln_op_ctx *ctx);                   \
  kiln_status *kiln_qh_conv_pack_##isa(                                        \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **packed);         \
  bool kiln_qh_conv_applies_##isa(const kiln_op_ctx *ctx);                     \
  kiln_status *kiln_qh_conv_run_##isa(const kiln_op_ctx *ctx);                 \
  size_t kiln_qh_conv_workspace_##isa(const kiln_op_ctx *ctx);                 \
  kiln_status *kiln_qh_bmm_pack_##isa(const kiln_op_ctx *ctx,                  \
                                      const kiln_allocator *a, void **packed); \
  bool kiln_qh_bmm_applies_##isa(const kiln_op_ctx *ctx);                      \
  kiln_status *kiln_qh_bmm_run_##isa(const kiln_op_ctx *ctx);                  \
  size_t kiln_qh_bmm_workspace_##isa(const kiln_op_ctx *ctx);
KILN_QH_DECLARE(portable)
#if defined(__x86_64__)
KILN_QH_DECLARE(avx2)
KILN_QH_DECLARE(vnni)
#endif
#undef KILN_QH_DECLARE
/* DEPTHWISE_CONV_2D with depth multiplier 1 (qhybrid_dwconv.inc). */
#define KILN_QH_DW_DECLARE(isa)                                               \
  kiln_status *kiln_qh_dw_pack_##isa(const kiln_op_ctx *ctx,                  \
                                     const kiln_allocator *a, void **packed); \
  bool kiln_qh_dw_applies_##isa(const kiln_op_ctx *ctx);                      \
  kiln_status *kiln_qh_dw_run_##isa(const kiln_op_ctx *ctx);                  \
  size_t kiln_qh_dw_workspace_##isa(const kiln_op_ctx *ctx);
KILN_QH_DW_DECLARE(portable)
#if defined(__x86_64__)
KILN_QH_DW_DECLARE(avx2)
KILN_QH_DW_DECLARE(avx512)
#endif
#undef KILN_QH_DW_DECLARE

#endif
