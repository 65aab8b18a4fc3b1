/* conv_common.c - what the 1x1 and KxK GEMM convolutions share: which
 * nodes they take, and packing the filter at load. */
#include "kernels/epilogue.h"
#include "kernels/gemm/gemm.h"

static bool window_matches(const kiln_tensor *f, kiln_gemm_conv_window window) {
  if (f->dtype != KILN_FLOAT32 || f->rank != 4) return false;
  for (int d = 0; d < 4; d++)
    if (f->dims[d] < 1) return false;
  bool one_by_one = f->dims[1] == 1 && f->dims[2] == 1;
  return window == KILN_GEMM_CONV_1X1 ? one_by_one : !one_by_one;
}

static int64_t filter_k(const kiln_tensor *f) {
  return f->dims[1] * f->dims[2] * f->dims[3];
}

/* The residual input of a fused ADD (passes/fuse_residual.c), or NULL. */
static const kiln_tensor *residual_input(const kiln_op_ctx *ctx) {
  return ctx->num_inputs > 3 ? ctx->inputs[3] : NULL;
}

/* Only the 1x1 variants add a residual (in the GEMM driver's tiles); the
 * KxK one does not, and the fusion pass never gives it one. */
static bool residual_supported(kiln_gemm_conv_window window,
                               const kiln_op_ctx *ctx) {
  return !residual_input(ctx) || window == KILN_GEMM_CONV_1X1;
}

kiln_status *kiln_gemm_conv_pack(const kiln_gemm_kernel *kernel,
                                 kiln_gemm_conv_window window,
                                 const kiln_op_ctx *ctx,
                                 const kiln_allocator *a, void **out_packed) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  *out_packed = NULL;
  if (!kiln_f32_activation_rows_supports(attrs->activation) ||
      ctx->num_inputs < 2 || !ctx->inputs[0] || !ctx->inputs[1] ||
      !residual_supported(window, ctx))
    return NULL;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const float *bias;
  if (!f->data || !window_matches(f, window) ||
      !kiln_gemm_constant_bias(ctx, 2, f->dims[0], &bias))
    return NULL;
  /* A grouped convolution is not one GEMM; do not spend memory on it. */
  if (in->rank == 4 && in->dims[3] > 0 && in->dims[3] != f->dims[3])
    return NULL;
  return kiln_gemm_pack(f->data, bias, f->dims[0], filter_k(f), kernel->nr, a,
                        out_packed);
}

bool kiln_gemm_conv_applies(const kiln_gemm_kernel *kernel,
                            kiln_gemm_conv_window window,
                            const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0], *residual = residual_input(ctx);
  return in->dtype == KILN_FLOAT32 && out->dtype == KILN_FLOAT32 &&
         window_matches(f, window) && in->dims[3] == f->dims[3] &&
         residual_supported(window, ctx) &&
         (!residual || residual->dtype == KILN_FLOAT32) &&
         kiln_gemm_packed_fits(ctx->packed, f->dims[0], filter_k(f),
                               kernel->nr);
}

bool kiln_gemm_conv_takes_residual(const kiln_tensor *filter,
                                   const kiln_tensor *bias, int64_t in_channels,
                                   kiln_activation act) {
  kiln_gemm_minmax minmax;
  kiln_activation epilogue;
  if (!filter->data || !window_matches(filter, KILN_GEMM_CONV_1X1) ||
      filter->dims[3] != in_channels ||
      !kiln_gemm_activation_split(act, &minmax, &epilogue))
    return false;
  return !bias || (bias->data && bias->dtype == KILN_FLOAT32 &&
                   bias->rank == 1 && bias->dims[0] == filter->dims[0]);
}
