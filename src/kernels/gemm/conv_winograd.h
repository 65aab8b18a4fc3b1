/* conv_winograd.h - 3x3 stride-1 CONV_2D through Winograd F(4x4, 3x3) or
 * F(2x2, 3x3): each 4x4 output tile costs 36 multiplications per input and
 * output channel instead of 144 (each 2x2 tile 16 instead of 36). Filters
 * are transformed at load into 36 (16) GEMM weight matrices, packed as
 * gemm.h describes; at run time a block of tiles is transformed into
 * scratch, multiplied by the packed GEMM microkernels, and transformed
 * back into the output with bias and clamp (HARD_SWISH, LOGISTIC and SWISH
 * follow on kernels/epilogue.h's row functions). The tile size is chosen at
 * load: the larger saves more multiplications, the smaller reads fewer
 * transformed weights, which matters for small images of many channels.
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

/* Transforms the alpha x alpha patch of `im` (alpha = 6 for F(4x4, 3x3),
 * 4 for F(2x2, 3x3)) whose top-left tap is (y0, x0) (taps outside the
 * image read zero) into v: matrix xi (row-major over the patch) at
 * v + xi * xi_stride, channels contiguous and padded with zero to a
 * multiple of 16. */
typedef void (*kiln_winograd_input_fn)(const kiln_winograd_image *im,
                                       int64_t y0, int64_t x0, float *v,
                                       size_t xi_stride);
/* Transforms `channels` channels of the alpha^2 GEMM results of one tile
 * (matrix xi at m + xi * xi_stride, readable up to a multiple of 16) into
 * the top-left rows x cols (at most 4x4) of an output tile at `out`
 * (pixels pixel_stride floats apart, rows row_stride apart), adding bias
 * (readable up to a multiple of 16) and clamping. */
typedef void (*kiln_winograd_output_fn)(const float *m, size_t xi_stride,
                                        const float *bias, int64_t channels,
                                        float *out, int64_t pixel_stride,
                                        int64_t row_stride, int rows, int cols,
                                        const kiln_gemm_minmax *minmax);

#define KILN_WINOGRAD_DECLARE_TRANSFORMS(tile, isa)                           \
  void kiln_f32_winograd_##tile##_input__##isa(const kiln_winograd_image *im, \
                                               int64_t y0, int64_t x0,        \
                                               float *v, size_t xi_stride);   \
  void kiln_f32_winograd_##tile##_output__##isa(                              \
      const float *m, size_t xi_stride, const float *bias, int64_t channels,  \
      float *out, int64_t pixel_stride, int64_t row_stride, int rows,         \
      int cols, const kiln_gemm_minmax *minmax);

/* A variant per tile size (f43, f23) and instruction set; each packer
 * declines the layers the other tile size, or direct convolution, runs
 * faster. */
#define KILN_WINOGRAD_DECLARE_VARIANT(tile, isa)                              \
  kiln_status *kiln_conv_winograd_##tile##_pack_##isa(                        \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed);    \
  bool kiln_conv_winograd_##tile##_applies_##isa(const kiln_op_ctx *ctx);     \
  size_t kiln_conv_winograd_##tile##_workspace_##isa(const kiln_op_ctx *ctx); \
  kiln_status *kiln_conv_winograd_##tile##_run_##isa(const kiln_op_ctx *ctx);

#define KILN_WINOGRAD_DECLARE(isa)           \
  KILN_WINOGRAD_DECLARE_TRANSFORMS(f43, isa) \
  KILN_WINOGRAD_DECLARE_TRANSFORMS(f23, isa) \
  KILN_WINOGRAD_DECLARE_VARIANT(f43, isa)    \
  KILN_WINOGRAD_DECLARE_VARIANT(f23, isa)

KILN_WINOGRAD_DECLARE(portable)
#if defined(__x86_64__)
KILN_WINOGRAD_DECLARE(avx2)
KILN_WINOGRAD_DECLARE(avx512)
#endif

#endif
