/* table.c - int8 elementwise operators whose output byte depends only on
 * the input byte ("q8-hardswish-lut"): at load the packer runs the
 * reference kernel itself once over all 256 input values, with the node's
 * quantization, and keeps the results; invoke is one lookup per element.
 * The table is therefore equal to the reference by construction. Float,
 * uint8 and int16 nodes, and nodes the reference refuses, are declined. */
#include <string.h>

#include "core/alloc.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_ops.h"

typedef struct q8_table {
  int8_t out[256]; /* indexed by the input value + 128 */
} q8_table;

/* Fills t by running `ref` on every int8 value under ctx's quantization
 * and attributes; declines (false) when the node is not int8 to int8 with
 * per-tensor quantization or the reference rejects it. */
static bool table_from_reference(const kiln_op_ctx *ctx, kiln_shape_fn shape,
                                 kiln_kernel_fn ref, q8_table *t) {
  if (ctx->num_inputs != 1 || ctx->num_outputs != 1 || !ctx->inputs[0] ||
      !ctx->outputs[0])
    return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (x->dtype != KILN_INT8 || y->dtype != KILN_INT8 || !x->quant ||
      !y->quant || x->quant->count != 1 || y->quant->count != 1)
    return false;
  int8_t values[256];
  for (int i = 0; i < 256; i++) values[i] = (int8_t)(i - 128);
  kiln_tensor in = {.dtype = KILN_INT8, .rank = 1, .quant = x->quant};
  kiln_tensor res = {.dtype = KILN_INT8, .rank = 1, .quant = y->quant};
  in.dims[0] = res.dims[0] = 256;
  in.data = values;
  res.data = t->out;
  kiln_tensor *ins[1] = {&in}, *outs[1] = {&res};
  kiln_op_ctx c = {.attrs = ctx->attrs,
                   .inputs = ins,
                   .num_inputs = 1,
                   .outputs = outs,
                   .num_outputs = 1};
  kiln_status *st = shape(&c);
  if (!st) st = ref(&c);
  if (st) {
    kiln_status_free(st);
    return false;
  }
  return res.dims[0] == 256 && res.rank == 1;
}

kiln_status *kiln_q8_hardswish_lut_pack(const kiln_op_ctx *ctx,
                                        const kiln_allocator *a, void **out) {
  *out = NULL;
  q8_table t;
  if (!table_from_reference(ctx, kiln_qshape_hard_swish, kiln_qref_hard_swish,
                            &t))
    return NULL;
  q8_table *block = kiln_malloc(a, sizeof *block);
  if (!block) return KILN_OOM();
  memcpy(block, &t, sizeof t);
  *out = block;
  return NULL;
}

bool kiln_q8_table_applies(const kiln_op_ctx *ctx) {
  return ctx->packed && ctx->inputs[0]->dtype == KILN_INT8 &&
         ctx->outputs[0]->dtype == KILN_INT8 &&
         kiln_tensor_numel(ctx->inputs[0]) ==
             kiln_tensor_numel(ctx->outputs[0]);
}

kiln_status *kiln_q8_table_run(const kiln_op_ctx *ctx) {
  const q8_table *t = ctx->packed;
  const int8_t *x = ctx->inputs[0]->data;
  int8_t *y = ctx->outputs[0]->data;
  const int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++) y[i] = t->out[x[i] + 128];
  return NULL;
}
