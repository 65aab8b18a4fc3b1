/* rank.c - RANK: the number of dimensions of its input as an int32 scalar,
 * as TFLite computes it. It reads only the input's shape, so every dtype
 * (the unsigned ones included) and empty tensors are fine,
 * and the session evaluates it at prepare like SHAPE, which lets the shape
 * arithmetic after tf.rank (RANGE(0, rank) for a reduction's axes) resolve
 * before invoke. */
#include "kernels/kernel.h"

kiln_status *kiln_shape_rank(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(out, KILN_INT32, "output 0"));
  kiln_set_shape(out, NULL, 0);
  return NULL;
}

kiln_status *kiln_ref_rank(const kiln_op_ctx *ctx) {
  *(int32_t *)ctx->outputs[0]->data = (int32_t)ctx->inputs[0]->rank;
  return NULL;
}
