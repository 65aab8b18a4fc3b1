/* quant_lut8.c - QUANT_LUT8 (op_attrs.h): the shape function and the
 * reference kernel of the int8 table lookup that passes/fuse_swish8.c
 * puts in place of an int8 swish pair. The table already holds the
 * replaced kernels' results for every input byte, so the kernel is one
 * load per element; optimized variants (kernels/qelem/lut8.c) do the same
 * lookup with vector byte shuffles. */
#include "kernels/kernel.h"

kiln_status *kiln_shape_quant_lut8(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "input 0 (x)"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0];
  /* The table maps bytes to bytes: other types would be read or written
   * with the wrong element size. */
  KILN_TRY(kiln_require_dtype(x, KILN_INT8, "input 0 (x)"));
  KILN_TRY(kiln_require_dtype(y, KILN_INT8, "output 0"));
  kiln_set_shape(y, x->dims, x->rank);
  return NULL;
}

kiln_status *kiln_ref_quant_lut8(const kiln_op_ctx *ctx) {
  const kiln_lut8_attrs *a = ctx->attrs;
  const int8_t *x = ctx->inputs[0]->data;
  int8_t *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++) y[i] = a->table[x[i] + 128];
  return NULL;
}
