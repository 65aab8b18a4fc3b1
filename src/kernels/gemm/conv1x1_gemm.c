/* conv1x1_gemm.c - CONV_2D with a 1x1 filter (one group) as a GEMM of the
 * input's pixels against the filter packed at load, at each level. */
#include "kernels/gemm/gemm.h"

/* Filter [O, 1, 1, I]: a 1x1 window, so neither padding (always 0 for one
 * tap, SAME or VALID) nor dilation changes which pixel is read. */
static bool is_1x1(const kiln_tensor *f) {
  return f->dtype == KILN_FLOAT32 && f->rank == 4 && f->dims[1] == 1 &&
         f->dims[2] == 1;
}

static kiln_status *conv_pack(const kiln_gemm_kernel *kernel,
                              const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out_packed) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  kiln_gemm_minmax minmax;
  *out_packed = NULL;
  /* Nodes the kernel will not run are left to the reference, unpacked. */
  if (!kiln_gemm_activation_minmax(attrs->activation, &minmax) ||
      ctx->num_inputs < 2 || !ctx->inputs[0] || !ctx->inputs[1])
    return NULL;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const float *bias;
  if (!f->data || !is_1x1(f) ||
      !kiln_gemm_constant_bias(ctx, 2, f->dims[0], &bias))
    return NULL;
  /* A grouped convolution is not one GEMM; do not spend memory on it. */
  if (in->rank == 4 && in->dims[3] > 0 && in->dims[3] != f->dims[3])
    return NULL;
  return kiln_gemm_pack(f->data, bias, f->dims[0], f->dims[3], kernel->nr, a,
                        out_packed);
}

static bool conv_applies(const kiln_gemm_kernel *kernel,
                         const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  kiln_gemm_minmax minmax;
  if (!kiln_gemm_activation_minmax(attrs->activation, &minmax) ||
      attrs->stride_h < 1 || attrs->stride_w < 1)
    return false;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (in->dtype != KILN_FLOAT32 || in->rank != 4 ||
      out->dtype != KILN_FLOAT32 || out->rank != 4 || !is_1x1(f) ||
      in->dims[3] != f->dims[3] ||
      !kiln_gemm_packed_fits(ctx->packed, f->dims[0], f->dims[3], kernel->nr))
    return false;
  /* Output pixel (y, x) reads input pixel (y * stride_h, x * stride_w). */
  return out->dims[0] == in->dims[0] &&
         out->dims[1] == (in->dims[1] - 1) / attrs->stride_h + 1 &&
         out->dims[2] == (in->dims[2] - 1) / attrs->stride_w + 1 &&
         out->dims[3] == f->dims[0];
}

static kiln_status *conv_run(const kiln_gemm_kernel *kernel,
                             const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  kiln_gemm_minmax minmax;
  kiln_gemm_activation_minmax(attrs->activation, &minmax);
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  int64_t w = in->dims[2], c = in->dims[3];
  kiln_gemm_rows rows = {.a = in->data, .group_div = 1};
  if (attrs->stride_h == 1 && attrs->stride_w == 1) {
    /* Every pixel in order: one GEMM over batch * height * width rows. */
    rows.groups = 1;
    rows.rows = in->dims[0] * in->dims[1] * w;
    rows.row_stride = c;
  } else {
    /* One group per output row (batch b, row y), reading every
     * stride_w-th pixel of input row y * stride_h. */
    rows.groups = out->dims[0] * out->dims[1];
    rows.rows = out->dims[2];
    rows.row_stride = attrs->stride_w * c;
    rows.group_div = out->dims[1];
    rows.group_hi = in->dims[1] * w * c;
    rows.group_lo = attrs->stride_h * w * c;
  }
  kiln_gemm_compute(kernel, ctx->packed, &rows, out->data, minmax, ctx->pool);
  return NULL;
}

#define DEFINE_VARIANTS(isa, kernel)                                        \
  kiln_status *kiln_conv1x1_gemm_pack_##isa(                                \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return conv_pack(&kernel, ctx, a, out_packed);                          \
  }                                                                         \
  bool kiln_conv1x1_gemm_applies_##isa(const kiln_op_ctx *ctx) {            \
    return conv_applies(&kernel, ctx);                                      \
  }                                                                         \
  kiln_status *kiln_conv1x1_gemm_run_##isa(const kiln_op_ctx *ctx) {        \
    return conv_run(&kernel, ctx);                                          \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
#endif
