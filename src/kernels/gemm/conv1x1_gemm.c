/* conv1x1_gemm.c - CONV_2D with a 1x1 filter (one group) as a GEMM of the
 * input's pixels against the filter packed at load, at each level. */
#include "kernels/gemm/gemm.h"

/* A 1x1 window has one tap, so neither padding (always 0, SAME or VALID)
 * nor dilation changes which pixel is read: only the strides do. */

static kiln_status *conv_run(const kiln_gemm_kernel *kernel,
                             const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  int64_t w = in->dims[2], c = in->dims[3];
  kiln_gemm_rows rows = {.a = in->data, .group_div = 1};
  /* A residual has the output's shape, so it is dense like C. */
  if (ctx->num_inputs > 3 && ctx->inputs[3])
    rows.residual = ctx->inputs[3]->data;
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
  kiln_gemm_compute(kernel, ctx->packed, &rows, out->data, attrs->activation,
                    ctx->pool);
  return NULL;
}

#define DEFINE_VARIANTS(isa, kernel)                                        \
  kiln_status *kiln_conv1x1_gemm_pack_##isa(                                \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return kiln_gemm_conv_pack(&kernel, KILN_GEMM_CONV_1X1, ctx, a,         \
                               out_packed);                                 \
  }                                                                         \
  bool kiln_conv1x1_gemm_applies_##isa(const kiln_op_ctx *ctx) {            \
    return kiln_gemm_conv_applies(&kernel, KILN_GEMM_CONV_1X1, ctx);        \
  }                                                                         \
  kiln_status *kiln_conv1x1_gemm_run_##isa(const kiln_op_ctx *ctx) {        \
    return conv_run(&kernel, ctx);                                          \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
#endif
