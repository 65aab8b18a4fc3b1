/* diag.c - MATRIX_DIAG and MATRIX_SET_DIAG: the main diagonal of the
 * innermost two dimensions, built from a vector or written over a matrix.
 * Byte copies of any type; quantized tensors need the output's
 * quantization. Off-diagonal elements of MATRIX_DIAG are all-zero bytes,
 * as TFLite writes them. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

kiln_status *kiln_shape_matrix_diag(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 1, 1));
  const kiln_tensor *in = ctx->inputs[0];
  KILN_TRY(kiln_require_same_quant(in, ctx->outputs[0], "input 0 (diagonal)"));
  if (in->rank < 1 || in->rank + 1 > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (diagonal) has rank %d; expected 1..%d",
                      in->rank, KILN_MAX_RANK - 1);
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, in->dims, sizeof(int64_t) * (size_t)in->rank);
  dims[in->rank] = in->dims[in->rank - 1];
  KILN_TRY(kiln_check_shape(dims, in->rank + 1, in->dtype, "diagonal"));
  kiln_set_shape(ctx->outputs[0], dims, in->rank + 1);
  return NULL;
}

kiln_status *kiln_ref_matrix_diag(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  size_t elem = kiln_dtype_size(in->dtype);
  int64_t n = in->dims[in->rank - 1];
  int64_t batches = kiln_dims_product(in->dims, 0, in->rank - 1);
  memset(out->data, 0, kiln_tensor_nbytes(out));
  const char *src = in->data;
  char *dst = out->data;
  for (int64_t b = 0; b < batches; b++)
    for (int64_t i = 0; i < n; i++)
      memcpy(dst + (size_t)((b * n + i) * n + i) * elem,
             src + (size_t)(b * n + i) * elem, elem);
  return NULL;
}

kiln_status *kiln_shape_matrix_set_diag(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 2));
  KILN_TRY(kiln_require_input(ctx, 1, "diagonal"));
  const kiln_tensor *in = ctx->inputs[0], *diag = ctx->inputs[1];
  KILN_TRY(kiln_require_same_quant(in, ctx->outputs[0], "input 0 (input)"));
  KILN_TRY(
      kiln_require_same_dtype(diag, ctx->outputs[0], "input 1 (diagonal)"));
  KILN_TRY(
      kiln_require_same_quant(diag, ctx->outputs[0], "input 1 (diagonal)"));
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  if (in->rank < 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has shape %s; expected rank >= 2",
                      kiln_dims_str(in->dims, in->rank, a, sizeof a));
  int64_t m = in->dims[in->rank - 2], n = in->dims[in->rank - 1];
  bool ok = diag->rank == in->rank - 1 &&
            diag->dims[diag->rank - 1] == (m < n ? m : n);
  for (int k = 0; ok && k < in->rank - 2; k++)
    ok = diag->dims[k] == in->dims[k];
  if (!ok)
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 1 (diagonal) has shape %s; input 0 (input) of shape %s needs "
        "its batch dimensions and min(%lld, %lld)",
        kiln_dims_str(diag->dims, diag->rank, a, sizeof a),
        kiln_dims_str(in->dims, in->rank, b, sizeof b), (long long)m,
        (long long)n);
  kiln_set_shape(ctx->outputs[0], in->dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_matrix_set_diag(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *diag = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  size_t elem = kiln_dtype_size(in->dtype);
  int64_t m = in->dims[in->rank - 2], n = in->dims[in->rank - 1];
  int64_t d = diag->dims[diag->rank - 1];
  int64_t batches = kiln_dims_product(in->dims, 0, in->rank - 2);
  if (out->data != in->data)
    memcpy(out->data, in->data, kiln_tensor_nbytes(out));
  const char *src = diag->data;
  char *dst = out->data;
  for (int64_t b = 0; b < batches; b++)
    for (int64_t i = 0; i < d; i++)
      memcpy(dst + (size_t)((b * m + i) * n + i) * elem,
             src + (size_t)(b * d + i) * elem, elem);
  return NULL;
}
