/* lut.c - the "q8-lut" variant of LOGISTIC, TANH, GELU, EXP, LOG, RSQRT and
 * ELU on int8 / uint8 (ELU: int8 only, as TFLite): the node's 256-entry table
 * (the reference kernel's, kiln_q_lut_build) is built once at load from the
 * tensors' scales, which are constant, and shared by every session; invoke is
 * one lookup per element. The packer declines float and int16 nodes, which keep
 * their other kernels. */
#include "core/alloc.h"
#include "kernels/quant/quant_variants.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

typedef struct lut_block {
  int16_t table[256];
  int32_t offset; /* added to a stored value to index the table */
} lut_block;

static kiln_status *pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                         kiln_qunary op, void **out) {
  *out = NULL;
  if (ctx->num_inputs != 1 || ctx->num_outputs != 1 || !ctx->inputs[0])
    return NULL;
  const kiln_tensor *x = ctx->inputs[0];
  if ((x->dtype != KILN_INT8 && x->dtype != KILN_UINT8) || !x->quant ||
      ctx->outputs[0]->dtype != x->dtype)
    return NULL;
  /* A node the shape function will refuse is left to it (its message). */
  kiln_status *st = kiln_qshape_unary(ctx, op);
  if (st) {
    kiln_status_free(st);
    return NULL;
  }
  lut_block *b = kiln_malloc(a, sizeof *b);
  if (!b) return KILN_OOM();
  st = kiln_q_lut_build(ctx, op, b->table);
  if (st) {
    kiln_free(a, b);
    return st;
  }
  b->offset = x->dtype == KILN_INT8 ? 128 : 0;
  *out = b;
  return NULL;
}

kiln_status *kiln_q8_lut_pack_logistic(const kiln_op_ctx *ctx,
                                       const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_LOGISTIC, out);
}

kiln_status *kiln_q8_lut_pack_tanh(const kiln_op_ctx *ctx,
                                   const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_TANH, out);
}

kiln_status *kiln_q8_lut_pack_gelu(const kiln_op_ctx *ctx,
                                   const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_GELU, out);
}

kiln_status *kiln_q8_lut_pack_exp(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_EXP, out);
}

kiln_status *kiln_q8_lut_pack_log(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_LOG, out);
}

kiln_status *kiln_q8_lut_pack_rsqrt(const kiln_op_ctx *ctx,
                                    const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_RSQRT, out);
}

kiln_status *kiln_q8_lut_pack_elu(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out) {
  return pack(ctx, a, KILN_QU_ELU, out);
}

bool kiln_q8_lut_applies(const kiln_op_ctx *ctx) {
  return ctx->packed && ctx->inputs[0]->dtype == ctx->outputs[0]->dtype &&
         kiln_tensor_numel(ctx->inputs[0]) ==
             kiln_tensor_numel(ctx->outputs[0]);
}

kiln_status *kiln_q8_lut_run(const kiln_op_ctx *ctx) {
  const lut_block *b = ctx->packed;
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  const int64_t n = kiln_tensor_numel(out);
  if (x->dtype == KILN_INT8) {
    const int8_t *in = x->data;
    int8_t *y = out->data;
    for (int64_t i = 0; i < n; i++) y[i] = (int8_t)b->table[in[i] + 128];
  } else {
    const uint8_t *in = x->data;
    uint8_t *y = out->data;
    for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)b->table[in[i]];
  }
  return NULL;
}
