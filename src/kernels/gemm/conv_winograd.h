/* conv_winograd.h - 3x3 stride-1 CONV_2D through Winograd F(4x4, 3x3):
 * each 4x4 output tile costs 36 multiplications per input and output
 * channel instead of 144. Filters are transformed at load into 36 GEMM
 * weight matrices (packed as gemm.h describes); at run time a block of
 * tiles is transformed into scratch, multiplied by the packed GEMM
 * microkernels, and transformed back into the output with bias and clamp.
 *
 * Exactness: the transforms add rounding of a few float ulps of the
 * tile's largest term (the matrices hold 1/24 .. 8), well inside the
 * model zoo's 1e-4 relative tolerance; see tests/unit/test_opt_winograd.c
 * for the bound the tests hold it to. */
#ifndef KILN_KERNELS_GEMM_CONV_WINOGRAD_H
#define KILN_KERNELS_GEMM_CONV_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm/gemm.h"

/* One NHWC image. */
typedef struct kiln_winograd_image {
  const float *data;
  int64_t h, w, c;
} kiln_winograd_image;

/* Transforms the 6x6 patch of `im` whose top-left tap is (y0, x0) (taps
 * outside the image read zero) into v: matrix xi (0..35, row-major over
 * the 6x6) at v + xi * xi_stride, channels contiguous and padded with zero
 * to a multiple of 16. */
typedef void (*kiln_winograd_input_fn)(const kiln_winograd_image *im,
                                       int64_t y0, int64_t x0, float *v,
                                       size_t xi_stride);
/* Transforms `channels` channels of the 36 GEMM results of one tile
 * (matrix xi at m + xi * xi_stride, readable up to a multiple of 16) into
 * the top-left rows x cols (at most 4x4) of an output tile at `out`
 * (pixels pixel_stride floats apart, rows row_stride apart), adding bias
 * (readable up to a multiple of 16) and clamping. */
typedef void (*kiln_winograd_output_fn)(const float *m, size_t xi_stride,
                                        const float *bias, int64_t channels,
                                        float *out, int64_t pixel_stride,
                                        int64_t row_stride, int rows, int cols,
                                        const kiln_gemm_minmax *minmax);

#define KILN_WINOGRAD_DECLARE(isa)                                           \
  void kiln_f32_winograd_f43_input__##isa(const kiln_winograd_image *im,     \
                                          int64_t y0, int64_t x0, float *v,  \
                                          size_t xi_stride);                 \
  void kiln_f32_winograd_f43_output__##isa(                                  \
      const float *m, size_t xi_stride, const float *bias, int64_t channels, \
      float *out, int64_t pixel_stride, int64_t row_stride, int rows,        \
      int cols, const kiln_gemm_minmax *minmax);                             \
  kiln_status *kiln_conv_winograd_pack_##isa(                                \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed);   \
  bool kiln_conv_winograd_applies_##isa(const kiln_op_ctx *ctx);             \
  size_t kiln_conv_winograd_workspace_##isa(const kiln_op_ctx *ctx);         \
  kiln_status *kiln_conv_winograd_run_##isa(const kiln_op_ctx *ctx);

KILN_WINOGRAD_DECLARE(portable)
#if defined(__x86_64__)
KILN_WINOGRAD_DECLARE(avx2)
KILN_WINOGRAD_DECLARE(avx512)
#endif

#endif
