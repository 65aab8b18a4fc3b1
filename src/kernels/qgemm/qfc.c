/* qfc.c - int8 FULLY_CONNECTED as a GEMM of the input's rows against
 * weights packed at load (qgemm.h), with the single or double rounding
 * the node's quantization block asks for. */
#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/ref/quant_params.h"

static kiln_status *fc_pack(const kiln_qgemm_level *level,
                            const kiln_op_ctx *ctx, const kiln_allocator *a,
                            void **out_packed) {
  *out_packed = NULL;
  kiln_quant_params *q;
  KILN_TRY(kiln_qgemm_node_params(KILN_OP_FULLY_CONNECTED, ctx, a, &q));
  if (!q) return NULL;
  const kiln_tensor *w = ctx->inputs[1];
  kiln_status *st = NULL;
  if (w->rank == 2 && w->dims[0] >= 1 && w->dims[1] >= 1)
    st = kiln_qgemm_pack(
        kiln_qgemm_pick(level, w->dims[0]), w->data, w->dims[0], w->dims[1], q,
        ctx->quant && ctx->quant->fp32_rounding, a, out_packed);
  kiln_free(a, q);
  return st;
}

bool kiln_q8_fc_applies(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (in->dtype != KILN_INT8 || out->dtype != KILN_INT8 || w->rank != 2 ||
      !kiln_qgemm_packed_fits(ctx->packed, w->dims[0], w->dims[1]))
    return false;
  int64_t n = w->dims[0], k = w->dims[1];
  int64_t rows = kiln_tensor_numel(in) / k;
  return rows * k == kiln_tensor_numel(in) &&
         rows * n == kiln_tensor_numel(out);
}

size_t kiln_q8_fc_workspace(const kiln_op_ctx *ctx) {
  return kiln_qgemm_workspace(ctx->inputs[1]->dims[1]);
}

kiln_status *kiln_q8_fc_run(const kiln_op_ctx *ctx) {
  /* The session reserves the scratch on its pool; without one (a caller
   * running the kernel bare) only the reference can run. */
  if (!kiln_threadpool_scratch(ctx->pool, 0))
    return kiln_ref_fully_connected(ctx);
  const kiln_tensor *in = ctx->inputs[0];
  int64_t k = ctx->inputs[1]->dims[1], m = kiln_tensor_numel(in) / k;
  const kiln_qgemm_header *h = ctx->packed;
  kiln_qgemm_rows rows = {.a = in->data,
                          .flip = h->kernel->flip,
                          .k = k,
                          .rows = m,
                          .row_stride = k,
                          .group_div = 1};
  kiln_qgemm_compute(ctx->packed, m, kiln_qgemm_fill_rows, &rows,
                     ctx->outputs[0]->data, ctx->pool);
  return NULL;
}

#define DEFINE_PACK(isa)                                                    \
  kiln_status *kiln_q8_fc_pack_##isa(                                       \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return fc_pack(&kiln_qgemm_level_##isa, ctx, a, out_packed);            \
  }

DEFINE_PACK(portable)
#if defined(__x86_64__)
DEFINE_PACK(avx2)
DEFINE_PACK(avx512vnni)
#endif
