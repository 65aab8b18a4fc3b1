/* gather_nd.c - GATHER_ND, SCATTER_ND and DYNAMIC_UPDATE_SLICE: copies
 * whose source or destination positions come from an index tensor read at
 * invoke. An index outside the tensor it addresses is a runtime error
 * naming the operator's input and the position of the bad index (TFLite
 * fails the invoke the same way); DYNAMIC_UPDATE_SLICE instead clamps its
 * start, as TFLite and XLA define it. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* The last dimension of an index tensor of rank >= 1: how many leading
 * dimensions of the addressed tensor one index row names. */
static kiln_status *index_depth(const kiln_tensor *indices, int addressed_rank,
                                const char *role, int *depth) {
  char buf[KILN_DIMS_STR_SIZE];
  if (indices->rank < 1 || indices->dims[indices->rank - 1] < 1 ||
      indices->dims[indices->rank - 1] > addressed_rank)
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "%s has shape %s; its last dimension must be in [1, %d]", role,
        kiln_dims_str(indices->dims, indices->rank, buf, sizeof buf),
        addressed_rank);
  *depth = (int)indices->dims[indices->rank - 1];
  return NULL;
}

/* Offset (in elements) of the slice index row `row` names, or -1 with
 * *status set when an entry is out of range. */
static int64_t slice_offset(const kiln_tensor *indices, int64_t row, int depth,
                            const int64_t *dims, int rank, const char *op,
                            kiln_status **status) {
  int64_t offset = 0;
  for (int k = 0; k < depth; k++) {
    int64_t v = kiln_tensor_int(indices, row * depth + k);
    if (v < 0 || v >= dims[k]) {
      *status =
          kiln_error(KILN_ERR_RUNTIME,
                     "%s: index %lld in row %lld, column %d of indices "
                     "is out of range [0, %lld)",
                     op, (long long)v, (long long)row, k, (long long)dims[k]);
      return -1;
    }
    offset = offset * dims[k] + v;
  }
  return offset * kiln_dims_product(dims, depth, rank);
}

/* -------------------------------------------------------------- GATHER_ND */

kiln_status *kiln_shape_gather_nd(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "params"));
  KILN_TRY(kiln_require_input(ctx, 1, "indices"));
  const kiln_tensor *params = ctx->inputs[0], *indices = ctx->inputs[1];
  /* TFLite's GATHER_ND alone also takes int16 indices */
  KILN_TRY(kiln_require_dtype_in(
      indices, KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64),
      "input 1 (indices)"));
  KILN_TRY(
      kiln_require_same_dtype(params, ctx->outputs[0], "input 0 (params)"));
  KILN_TRY(
      kiln_require_same_quant(params, ctx->outputs[0], "input 0 (params)"));
  int depth = 0;
  KILN_TRY(index_depth(indices, params->rank, "input 1 (indices)", &depth));
  int rank = indices->rank - 1 + params->rank - depth;
  if (rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "the result would have rank %d; at most %d supported",
                      rank, KILN_MAX_RANK);
  int64_t dims[KILN_MAX_RANK];
  int n = 0;
  for (int k = 0; k < indices->rank - 1; k++) dims[n++] = indices->dims[k];
  for (int k = depth; k < params->rank; k++) dims[n++] = params->dims[k];
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

kiln_status *kiln_ref_gather_nd(const kiln_op_ctx *ctx) {
  const kiln_tensor *params = ctx->inputs[0], *indices = ctx->inputs[1];
  int depth = (int)indices->dims[indices->rank - 1];
  int64_t rows = kiln_dims_product(indices->dims, 0, indices->rank - 1);
  size_t elem = kiln_dtype_size(params->dtype);
  size_t slice =
      (size_t)kiln_dims_product(params->dims, depth, params->rank) * elem;
  char *dst = ctx->outputs[0]->data;
  for (int64_t r = 0; r < rows; r++, dst += slice) {
    kiln_status *st = NULL;
    int64_t offset = slice_offset(indices, r, depth, params->dims, params->rank,
                                  "GATHER_ND", &st);
    if (st) return st;
    memcpy(dst, (const char *)params->data + (size_t)offset * elem, slice);
  }
  return NULL;
}

/* ------------------------------------------------------------- SCATTER_ND */

static const kiln_dtype_mask kScatterDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_INT8) | KILN_DT(KILN_UINT8) |
    KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64) | KILN_DT(KILN_BOOL);

kiln_status *kiln_shape_scatter_nd(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  KILN_TRY(kiln_require_index_input(ctx, 0, "indices"));
  KILN_TRY(kiln_require_input(ctx, 1, "updates"));
  const kiln_tensor *indices = ctx->inputs[0], *updates = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype_in(updates, kScatterDtypes, "input 1 (updates)"));
  KILN_TRY(
      kiln_require_same_dtype(updates, ctx->outputs[0], "input 1 (updates)"));
  KILN_TRY(
      kiln_require_same_quant(updates, ctx->outputs[0], "input 1 (updates)"));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0, depth = 0;
  KILN_TRY(
      kiln_read_int_vector(ctx, 2, "shape", -1, KILN_MAX_RANK, dims, &rank));
  KILN_TRY(kiln_check_shape(dims, rank, updates->dtype, "shape"));
  KILN_TRY(index_depth(indices, rank, "input 0 (indices)", &depth));
  /* updates must be indices.shape[:-1] + shape[depth:] */
  bool ok = updates->rank == indices->rank - 1 + rank - depth;
  for (int k = 0; ok && k < indices->rank - 1; k++)
    ok = updates->dims[k] == indices->dims[k];
  for (int k = depth; ok && k < rank; k++)
    ok = updates->dims[indices->rank - 1 + k - depth] == dims[k];
  if (!ok) {
    char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE], c[KILN_DIMS_STR_SIZE];
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 1 (updates) has shape %s; indices %s and shape %s need "
        "indices.shape[:-1] + shape[%d:]",
        kiln_dims_str(updates->dims, updates->rank, a, sizeof a),
        kiln_dims_str(indices->dims, indices->rank, b, sizeof b),
        kiln_dims_str(dims, rank, c, sizeof c), depth);
  }
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

/* dst[i] += src[i] for count elements; bool adds as logical or. */
static void accumulate(kiln_dtype dtype, void *dst, const void *src,
                       int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    switch (dtype) {
      case KILN_FLOAT32:
        ((float *)dst)[i] += ((const float *)src)[i];
        break;
      case KILN_INT8:
        ((int8_t *)dst)[i] =
            (int8_t)(((int8_t *)dst)[i] + ((const int8_t *)src)[i]);
        break;
      case KILN_UINT8:
        ((uint8_t *)dst)[i] =
            (uint8_t)(((uint8_t *)dst)[i] + ((const uint8_t *)src)[i]);
        break;
      case KILN_INT32:
        ((int32_t *)dst)[i] = (int32_t)((uint32_t)((int32_t *)dst)[i] +
                                        (uint32_t)((const int32_t *)src)[i]);
        break;
      case KILN_INT64:
        ((int64_t *)dst)[i] = (int64_t)((uint64_t)((int64_t *)dst)[i] +
                                        (uint64_t)((const int64_t *)src)[i]);
        break;
      case KILN_BOOL:
        ((uint8_t *)dst)[i] |= ((const uint8_t *)src)[i];
        break;
      default:
        return;
    }
  }
}

/* Zeros, then each update row added at the slice its index row names
 * (duplicates sum, as in TensorFlow). */
kiln_status *kiln_ref_scatter_nd(const kiln_op_ctx *ctx) {
  const kiln_tensor *indices = ctx->inputs[0], *updates = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int depth = (int)indices->dims[indices->rank - 1];
  int64_t rows = kiln_dims_product(indices->dims, 0, indices->rank - 1);
  int64_t slice = kiln_dims_product(out->dims, depth, out->rank);
  size_t elem = kiln_dtype_size(out->dtype);
  memset(out->data, 0, kiln_tensor_nbytes(out));
  for (int64_t r = 0; r < rows; r++) {
    kiln_status *st = NULL;
    int64_t offset = slice_offset(indices, r, depth, out->dims, out->rank,
                                  "SCATTER_ND", &st);
    if (st) return st;
    accumulate(out->dtype, (char *)out->data + (size_t)offset * elem,
               (const char *)updates->data + (size_t)(r * slice) * elem, slice);
  }
  return NULL;
}

/* --------------------------------------------------- DYNAMIC_UPDATE_SLICE */

kiln_status *kiln_shape_dynamic_update_slice(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 3, 3));
  KILN_TRY(kiln_require_input(ctx, 1, "update"));
  KILN_TRY(kiln_require_index_input(ctx, 2, "start_indices"));
  const kiln_tensor *operand = ctx->inputs[0], *update = ctx->inputs[1];
  const kiln_tensor *start = ctx->inputs[2];
  KILN_TRY(
      kiln_require_same_dtype(update, ctx->outputs[0], "input 1 (update)"));
  KILN_TRY(
      kiln_require_same_quant(operand, ctx->outputs[0], "input 0 (operand)"));
  KILN_TRY(
      kiln_require_same_quant(update, ctx->outputs[0], "input 1 (update)"));
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  bool ok = update->rank == operand->rank;
  for (int k = 0; ok && k < operand->rank; k++)
    ok = update->dims[k] <= operand->dims[k];
  if (!ok)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (update) of shape %s does not fit in input 0 "
                      "(operand) of shape %s",
                      kiln_dims_str(update->dims, update->rank, a, sizeof a),
                      kiln_dims_str(operand->dims, operand->rank, b, sizeof b));
  if (start->rank != 1 || start->dims[0] != operand->rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (start_indices) has shape %s; expected [%d]",
                      kiln_dims_str(start->dims, start->rank, a, sizeof a),
                      operand->rank);
  kiln_set_shape(ctx->outputs[0], operand->dims, operand->rank);
  return NULL;
}

/* The operand copied, then the update copied over it at the start indices,
 * each clamped so the update lies inside the operand. */
kiln_status *kiln_ref_dynamic_update_slice(const kiln_op_ctx *ctx) {
  const kiln_tensor *operand = ctx->inputs[0], *update = ctx->inputs[1];
  const kiln_tensor *start = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  if (out->data != operand->data)
    memcpy(out->data, operand->data, kiln_tensor_nbytes(out));
  int64_t strides[KILN_MAX_RANK];
  kiln_dense_strides(out->dims, out->rank, strides);
  kiln_copy_plan plan = {.rank = out->rank};
  int64_t offset = 0;
  for (int k = 0; k < out->rank; k++) {
    int64_t s = kiln_tensor_int(start, k),
            limit = out->dims[k] - update->dims[k];
    s = s < 0 ? 0 : (s > limit ? limit : s);
    offset += s * strides[k];
    plan.counts[k] = update->dims[k];
    plan.dst_strides[k] = strides[k];
  }
  kiln_dense_strides(update->dims, update->rank, plan.src_strides);
  size_t elem = kiln_dtype_size(out->dtype);
  kiln_strided_copy((char *)out->data + (size_t)offset * elem, update->data,
                    elem, &plan);
  return NULL;
}
