/* fully_connected_gemm.c - FULLY_CONNECTED as a GEMM of the input's rows
 * against weights packed at load, at each instruction-set level. */
#include "kernels/epilogue.h"
#include "kernels/gemm/gemm.h"

static kiln_status *fc_pack(const kiln_gemm_kernel *kernel,
                            const kiln_op_ctx *ctx, const kiln_allocator *a,
                            void **out_packed) {
  const kiln_fully_connected_attrs *attrs = ctx->attrs;
  *out_packed = NULL;
  /* Nodes the kernel will not run are left to the reference, unpacked. */
  if (!kiln_f32_activation_rows_supports(attrs->activation) ||
      ctx->num_inputs < 2 || !ctx->inputs[1])
    return NULL;
  const kiln_tensor *w = ctx->inputs[1];
  const float *bias;
  if (!w->data || w->dtype != KILN_FLOAT32 || w->rank != 2 ||
      !kiln_gemm_constant_bias(ctx, 2, w->dims[0], &bias))
    return NULL;
  return kiln_gemm_pack(w->data, bias, w->dims[0], w->dims[1], kernel->nr, a,
                        out_packed);
}

static bool fc_applies(const kiln_gemm_kernel *kernel, const kiln_op_ctx *ctx) {
  const kiln_fully_connected_attrs *attrs = ctx->attrs;
  if (!kiln_f32_activation_rows_supports(attrs->activation)) return false;
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (in->dtype != KILN_FLOAT32 || out->dtype != KILN_FLOAT32 || w->rank != 2 ||
      !kiln_gemm_packed_fits(ctx->packed, w->dims[0], w->dims[1], kernel->nr))
    return false;
  int64_t n = w->dims[0], k = w->dims[1];
  int64_t rows = kiln_tensor_numel(in) / k;
  return rows * k == kiln_tensor_numel(in) &&
         rows * n == kiln_tensor_numel(out);
}

static kiln_status *fc_run(const kiln_gemm_kernel *kernel,
                           const kiln_op_ctx *ctx) {
  const kiln_fully_connected_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  int64_t k = ctx->inputs[1]->dims[1];
  kiln_gemm_rows rows = {
      .a = in->data,
      .groups = 1,
      .rows = kiln_tensor_numel(in) / k,
      .row_stride = k,
      .group_div = 1,
  };
  kiln_gemm_compute(kernel, ctx->packed, &rows, ctx->outputs[0]->data,
                    attrs->activation, ctx->pool);
  return NULL;
}

#define DEFINE_VARIANTS(isa, kernel)                                        \
  kiln_status *kiln_fc_gemm_pack_##isa(                                     \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return fc_pack(&kernel, ctx, a, out_packed);                            \
  }                                                                         \
  bool kiln_fc_gemm_applies_##isa(const kiln_op_ctx *ctx) {                 \
    return fc_applies(&kernel, ctx);                                        \
  }                                                                         \
  kiln_status *kiln_fc_gemm_run_##isa(const kiln_op_ctx *ctx) {             \
    return fc_run(&kernel, ctx);                                            \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
#endif
