/* gather.c - GATHER, and the replicating copies TILE and BROADCAST_TO. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/movement.h"

/* ----------------------------------------------------------------- GATHER */

static int64_t product(const int64_t *dims, int from, int to) {
  int64_t n = 1;
  for (int k = from; k < to; k++) n *= dims[k];
  return n;
}

/* Normalized axis and batch_dims; batch_dims counts indices dims, so a
 * negative one wraps by the indices' rank, as in TFLite. */
static kiln_status *gather_axes(const kiln_op_ctx *ctx, int *axis,
                                int *batch_dims) {
  const kiln_gather_attrs *attrs = ctx->attrs;
  const kiln_tensor *params = ctx->inputs[0], *indices = ctx->inputs[1];
  KILN_TRY(kiln_normalize_axis(attrs->axis, params->rank, "gather axis", axis));
  int batch = attrs->batch_dims < 0 ? attrs->batch_dims + indices->rank
                                    : attrs->batch_dims;
  if (batch < 0 || batch > indices->rank || batch > *axis)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "batch_dims %d must be in [0, %d] (indices rank %d, "
                      "axis %d)",
                      attrs->batch_dims,
                      indices->rank < *axis ? indices->rank : *axis,
                      indices->rank, *axis);
  *batch_dims = batch;
  return NULL;
}

static kiln_status *check_gather_batch(const kiln_tensor *params,
                                       const kiln_tensor *indices, int batch) {
  for (int k = 0; k < batch; k++) {
    if (params->dims[k] != indices->dims[k]) {
      char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
      return kiln_error(
          KILN_ERR_INVALID_MODEL,
          "params shape %s and indices shape %s differ in batch dimension %d",
          kiln_dims_str(params->dims, params->rank, a, sizeof a),
          kiln_dims_str(indices->dims, indices->rank, b, sizeof b), k);
    }
  }
  return NULL;
}

kiln_status *kiln_shape_gather(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "params"));
  KILN_TRY(kiln_require_input(ctx, 1, "indices"));
  const kiln_tensor *params = ctx->inputs[0], *indices = ctx->inputs[1];
  KILN_TRY(kiln_require_same_dtype(params, ctx->outputs[0], "params"));
  /* TFLite's GATHER takes int16 positions too. */
  if (indices->dtype != KILN_INT16 && indices->dtype != KILN_INT32 &&
      indices->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "indices have type %s; expected int16, int32 or int64",
                      kiln_dtype_name(indices->dtype));
  int axis = 0, batch = 0;
  KILN_TRY(gather_axes(ctx, &axis, &batch));
  KILN_TRY(check_gather_batch(params, indices, batch));
  int rank = params->rank - 1 + indices->rank - batch;
  if (rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "gather result would have rank %d; at most %d supported",
                      rank, KILN_MAX_RANK);
  /* params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:] */
  int64_t dims[KILN_MAX_RANK];
  int n = 0;
  for (int k = 0; k < axis; k++) dims[n++] = params->dims[k];
  for (int k = batch; k < indices->rank; k++) dims[n++] = indices->dims[k];
  for (int k = axis + 1; k < params->rank; k++) dims[n++] = params->dims[k];
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

/* The one data-dependent failure: an index outside the gathered axis. */
static kiln_status *bad_index(const kiln_tensor *indices, int64_t position,
                              int64_t value, int axis, int64_t limit) {
  char buf[KILN_DIMS_STR_SIZE];
  return kiln_error(
      KILN_ERR_RUNTIME,
      "gather index %lld at position %lld of indices %s is out "
      "of range [0, %lld) for params axis %d",
      (long long)value, (long long)position,
      kiln_dims_str(indices->dims, indices->rank, buf, sizeof buf),
      (long long)limit, axis);
}

kiln_status *kiln_ref_gather(const kiln_op_ctx *ctx) {
  const kiln_tensor *params = ctx->inputs[0], *indices = ctx->inputs[1];
  int axis = 0, batch = 0;
  KILN_TRY(gather_axes(ctx, &axis, &batch));
  size_t elem = kiln_dtype_size(params->dtype);
  int64_t batches = product(params->dims, 0, batch);
  int64_t outer = product(params->dims, batch, axis);
  int64_t limit = params->dims[axis];
  int64_t inner = product(params->dims, axis + 1, params->rank);
  int64_t picks = product(indices->dims, batch, indices->rank);
  size_t block = (size_t)inner * elem;
  const char *src = params->data;
  char *dst = ctx->outputs[0]->data;
  for (int64_t b = 0; b < batches; b++) {
    for (int64_t o = 0; o < outer; o++) {
      const char *slab = src + (size_t)((b * outer + o) * limit) * block;
      for (int64_t j = 0; j < picks; j++, dst += block) {
        int64_t position = b * picks + j;
        int64_t index = kiln_tensor_int(indices, position);
        if (index < 0 || index >= limit)
          return bad_index(indices, position, index, axis, limit);
        memcpy(dst, slab + (size_t)index * block, block);
      }
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------- TILE */

static kiln_status *read_multiples(const kiln_op_ctx *ctx, int64_t *mult) {
  const kiln_tensor *in = ctx->inputs[0];
  int n = 0;
  KILN_TRY(kiln_read_int_vector(ctx, 1, "multiples", in->rank, KILN_MAX_RANK,
                                mult, &n));
  for (int k = 0; k < n; k++)
    if (mult[k] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "multiples[%d] is %lld; multiples must be >= 0", k,
                        (long long)mult[k]);
  return NULL;
}

kiln_status *kiln_shape_tile(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 2));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t mult[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  KILN_TRY(read_multiples(ctx, mult));
  for (int k = 0; k < in->rank; k++) {
    if (in->dims[k] && mult[k] > ((int64_t)1 << 48) / in->dims[k])
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "multiples[%d] = %lld is too large", k,
                        (long long)mult[k]);
    dims[k] = in->dims[k] * mult[k];
  }
  KILN_TRY(kiln_check_shape(dims, in->rank, in->dtype, "multiples"));
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

/* The output read as [m0,d0,m1,d1,...]: repeat index k_i has source stride 0,
 * so one strided copy replicates the whole input. */
kiln_status *kiln_ref_tile(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t in_strides[KILN_MAX_RANK];
  kiln_dense_strides(in->dims, in->rank, in_strides);
  kiln_copy_plan plan = {.rank = 2 * in->rank};
  for (int k = 0; k < in->rank; k++) {
    plan.counts[2 * k] = in->dims[k] ? out->dims[k] / in->dims[k] : 0;
    plan.src_strides[2 * k] = 0;
    plan.counts[2 * k + 1] = in->dims[k];
    plan.src_strides[2 * k + 1] = in_strides[k];
  }
  kiln_copy_plan_dense_dst(&plan);
  kiln_strided_copy(out->data, in->data, kiln_dtype_size(in->dtype), &plan);
  return NULL;
}

/* ----------------------------------------------------------- BROADCAST_TO */

kiln_status *kiln_shape_broadcast_to(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 2));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(
      kiln_read_int_vector(ctx, 1, "shape", -1, KILN_MAX_RANK, dims, &rank));
  KILN_TRY(kiln_check_shape(dims, rank, in->dtype, "shape"));
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  bool ok = rank >= in->rank;
  for (int k = 0; ok && k < in->rank; k++) {
    int64_t d = in->dims[k], target = dims[rank - in->rank + k];
    ok = d == target || d == 1;
  }
  if (!ok)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "cannot broadcast input of shape %s to shape %s",
                      kiln_dims_str(in->dims, in->rank, a, sizeof a),
                      kiln_dims_str(dims, rank, b, sizeof b));
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

kiln_status *kiln_ref_broadcast_to(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  kiln_copy_plan plan = {.rank = out->rank};
  kiln_broadcast_strides(in, out->dims, out->rank, plan.src_strides);
  for (int k = 0; k < out->rank; k++) plan.counts[k] = out->dims[k];
  kiln_copy_plan_dense_dst(&plan);
  kiln_strided_copy(out->data, in->data, kiln_dtype_size(in->dtype), &plan);
  return NULL;
}
