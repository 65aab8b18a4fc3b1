/* qelem.h - fast int8 kernels for the quantized zoo's non-GEMM operators
 * (ADD, MUL, MEAN over H,W, the 2-D pools, LOGISTIC, TANH, HARD_SWISH,
 * SOFTMAX, QUANTIZE from float), named in variant_list.h. Each one equals
 * kiln's reference int8 kernel (kernels/ref/quant_*.c) bit for bit: the same
 * fixed-point steps, or a table of the reference's own results where the output
 * depends on one input byte. Per-node constants (multipliers, shifts, tables)
 * are built at load by the packers from the tensors' scales, which are
 * constant. */
#ifndef KILN_KERNELS_QELEM_QELEM_H
#define KILN_KERNELS_QELEM_QELEM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* ---------------------------------------------------------- ADD, MUL */

/* An int8 ADD or MUL's requantization, in TFLite's convention (shift > 0
 * is a left shift), as kernels/ref/quant_binary.c derives it. */
typedef struct kiln_q8_binary_params {
  bool mul;
  int32_t zp_a, zp_b, zp_out;
  /* ADD: each input, less its zero point, shifted left 20 bits and scaled
   * by m_a * 2^(s_a - 31) (s_a <= 0), the sum by m_out * 2^(s_out - 31).
   * MUL: the product of the offset inputs by m_out * 2^(s_out - 31). */
  int32_t m_a, m_b, m_out;
  int s_a, s_b, s_out;
  int32_t act_min, act_max;
  /* KILN_INT8_ROUNDING_FP32: the result is computed in float, rounded half
   * to even: MUL (a - zp_a) * (b - zp_b) * f_out, ADD and SUB
   * fma(f_a, a - zp_a, f_b * (b - zp_b)) (f_b negated for SUB), clamped
   * less the output zero point, plus it. */
  bool fp32;
  float f_a, f_b, f_out;
} kiln_q8_binary_params;

/* Computes out[i] = a[i] op b[i * b_step] for i < n (b_step 0 or 1). */
typedef void (*kiln_q8_binary_ukernel)(const kiln_q8_binary_params *p,
                                       const int8_t *a, const int8_t *b,
                                       int8_t *out, size_t n, int b_step);

void kiln_q8_binary_ukernel_portable(const kiln_q8_binary_params *p,
                                     const int8_t *a, const int8_t *b,
                                     int8_t *out, size_t n, int b_step);
void kiln_q8_binary_ukernel_avx512(const kiln_q8_binary_params *p,
                                   const int8_t *a, const int8_t *b,
                                   int8_t *out, size_t n, int b_step);
void kiln_q8_binary_ukernel_avx2(const kiln_q8_binary_params *p,
                                 const int8_t *a, const int8_t *b, int8_t *out,
                                 size_t n, int b_step);

kiln_status *kiln_q8_add_pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out);
kiln_status *kiln_q8_sub_pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out);
kiln_status *kiln_q8_mul_pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out);
bool kiln_q8_binary_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_binary_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_binary_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_binary_run_avx2(const kiln_op_ctx *ctx);

/* ------------------------------------------------------ MEAN over H,W */

/* sums[c] = the sum of x[r * stride + c] over rows r < pixels, for each
 * channel c < channels. */
typedef void (*kiln_q8_sum_rows_ukernel)(const int8_t *x, int64_t pixels,
                                         int64_t stride, int64_t channels,
                                         int32_t *sums);
void kiln_q8_sum_rows_portable(const int8_t *x, int64_t pixels, int64_t stride,
                               int64_t channels, int32_t *sums);
void kiln_q8_sum_rows_avx512(const int8_t *x, int64_t pixels, int64_t stride,
                             int64_t channels, int32_t *sums);
void kiln_q8_sum_rows_avx2(const int8_t *x, int64_t pixels, int64_t stride,
                           int64_t channels, int32_t *sums);

bool kiln_q8_mean_hw_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_mean_hw_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_mean_hw_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_mean_hw_run_avx2(const kiln_op_ctx *ctx);

/* ------------------------------------------- MAX_POOL_2D, AVERAGE_POOL_2D */

/* out[c] = the largest value (or the rounded average) of the window's rows x
 * cols pixels (pixel (r, k) at first + r * row_stride + k * channels) for
 * each channel, clamped to [lo, hi]. */
typedef void (*kiln_q8_pool_ukernel)(const int8_t *first, int64_t row_stride,
                                     int64_t rows, int64_t cols,
                                     int64_t channels, int8_t lo, int8_t hi,
                                     int8_t *out);
void kiln_q8_maxpool_portable(const int8_t *first, int64_t row_stride,
                              int64_t rows, int64_t cols, int64_t channels,
                              int8_t lo, int8_t hi, int8_t *out);
void kiln_q8_maxpool_avx512(const int8_t *first, int64_t row_stride,
                            int64_t rows, int64_t cols, int64_t channels,
                            int8_t lo, int8_t hi, int8_t *out);
void kiln_q8_maxpool_avx2(const int8_t *first, int64_t row_stride, int64_t rows,
                          int64_t cols, int64_t channels, int8_t lo, int8_t hi,
                          int8_t *out);
void kiln_q8_avgpool_portable(const int8_t *first, int64_t row_stride,
                              int64_t rows, int64_t cols, int64_t channels,
                              int8_t lo, int8_t hi, int8_t *out);
void kiln_q8_avgpool_avx512(const int8_t *first, int64_t row_stride,
                            int64_t rows, int64_t cols, int64_t channels,
                            int8_t lo, int8_t hi, int8_t *out);

bool kiln_q8_maxpool_applies(const kiln_op_ctx *ctx);
bool kiln_q8_avgpool_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_maxpool_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_maxpool_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_maxpool_run_avx2(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_avgpool_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_avgpool_run_avx512(const kiln_op_ctx *ctx);

/* ------------------------------------------------ unary tables (LUT) */

/* y[i] = table[x[i] + 128] for i < n. */
typedef void (*kiln_q8_lookup_ukernel)(const int8_t table[256], const int8_t *x,
                                       int8_t *y, size_t n);
void kiln_q8_lookup_portable(const int8_t table[256], const int8_t *x,
                             int8_t *y, size_t n);
void kiln_q8_lookup_avx512(const int8_t table[256], const int8_t *x, int8_t *y,
                           size_t n);
void kiln_q8_lookup_avx2(const int8_t table[256], const int8_t *x, int8_t *y,
                         size_t n);

/* LOGISTIC, TANH and HARD_SWISH on int8 through a 256-entry table of the
 * reference kernel's own results, built at load. */
kiln_status *kiln_q8_lut_pack_logistic_ref(const kiln_op_ctx *ctx,
                                           const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_tanh_ref(const kiln_op_ctx *ctx,
                                       const kiln_allocator *a, void **out);
kiln_status *kiln_q8_hardswish_lut_pack(const kiln_op_ctx *ctx,
                                        const kiln_allocator *a, void **out);
bool kiln_q8_table_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_table_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_table_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_table_run_avx2(const kiln_op_ctx *ctx);

/* ------------------------------------------------------------ SOFTMAX */

/* int8 SOFTMAX with the 256 exps of a row's differences from its max
 * tabulated at load. */
kiln_status *kiln_q8_softmax_pack(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out);
bool kiln_q8_softmax_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_softmax_run(const kiln_op_ctx *ctx);

/* ----------------------------------------------- QUANTIZE float -> int8 */

/* y[i] = x[i] quantized with (scale, zp) to int8, as kiln_quantize_f32. */
typedef void (*kiln_q8_quantize_ukernel)(const float *x, float scale,
                                         int32_t zp, int8_t *y, size_t n);
void kiln_q8_quantize_portable(const float *x, float scale, int32_t zp,
                               int8_t *y, size_t n);
void kiln_q8_quantize_avx512(const float *x, float scale, int32_t zp, int8_t *y,
                             size_t n);
void kiln_q8_quantize_avx2(const float *x, float scale, int32_t zp, int8_t *y,
                           size_t n);
bool kiln_q8_quantize_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_quantize_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_quantize_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_quantize_run_avx2(const kiln_op_ctx *ctx);

/* ------------------------------------------------------ CONCATENATION */

/* int8 and uint8 CONCATENATION: copies, and uint8 parts with their own
 * parameters requantized through a table of the reference's results. */
bool kiln_q8_concat_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_concat_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_concat_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_concat_run_avx2(const kiln_op_ctx *ctx);

/* ------------------------------- RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR */

/* One axis of an int8 bilinear resize: 1024 x (input pixels per output
 * pixel), rounded as TFLite rounds it, half_pixel_centers, and the input
 * size along the axis. */
typedef struct kiln_q8_resize_axis {
  int32_t scale;
  bool half_pixel;
  int64_t in;
} kiln_q8_resize_axis;

/* One output row of an int8 bilinear resize: out[x * channels + c] for
 * x < out_w, from input rows row0 (weight wy0) and row1 (weight wy1), the
 * columns' taps from `xs` (resize_taps.h), rounded as the reference. */
typedef void (*kiln_q8_bilinear_row_ukernel)(const int8_t *row0,
                                             const int8_t *row1, int32_t wy0,
                                             int32_t wy1,
                                             const kiln_q8_resize_axis *xs,
                                             int64_t out_w, int64_t channels,
                                             int8_t *out);
void kiln_q8_bilinear_row_portable(const int8_t *row0, const int8_t *row1,
                                   int32_t wy0, int32_t wy1,
                                   const kiln_q8_resize_axis *xs, int64_t out_w,
                                   int64_t channels, int8_t *out);
void kiln_q8_bilinear_row_avx512(const int8_t *row0, const int8_t *row1,
                                 int32_t wy0, int32_t wy1,
                                 const kiln_q8_resize_axis *xs, int64_t out_w,
                                 int64_t channels, int8_t *out);
void kiln_q8_bilinear_row_avx2(const int8_t *row0, const int8_t *row1,
                               int32_t wy0, int32_t wy1,
                               const kiln_q8_resize_axis *xs, int64_t out_w,
                               int64_t channels, int8_t *out);

bool kiln_q8_resize_bilinear_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_resize_bilinear_run_portable(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_resize_bilinear_run_avx512(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_resize_bilinear_run_avx2(const kiln_op_ctx *ctx);

/* RESIZE_NEAREST_NEIGHBOR on 1-byte elements (int8, uint8): pixel copies. */
bool kiln_q8_resize_nearest_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_resize_nearest_run_portable(const kiln_op_ctx *ctx);

/* --------------------------------------------- AVERAGE_POOL_2D (AVX2) */

void kiln_q8_avgpool_avx2(const int8_t *first, int64_t row_stride, int64_t rows,
                          int64_t cols, int64_t channels, int8_t lo, int8_t hi,
                          int8_t *out);
kiln_status *kiln_q8_avgpool_run_avx2(const kiln_op_ctx *ctx);

#endif
