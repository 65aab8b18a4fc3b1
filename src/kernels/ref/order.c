/* order.c - REVERSE_V2 and TOPK_V2: operators that reorder elements along
 * axes. REVERSE_V2 is one strided copy with negative strides on the
 * reversed axes; TOPK_V2 keeps the k largest of each innermost row by
 * insertion into its own outputs, so it needs no scratch memory. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* ------------------------------------------------------------- REVERSE_V2 */

static const kiln_dtype kReverseDtypes[] = {
    KILN_FLOAT32, KILN_INT8,  KILN_UINT8, KILN_INT16,
    KILN_INT32,   KILN_INT64, KILN_BOOL};

/* The reversed axes as flags; each may appear once, negative from the end.
 * Bad axes are `code`: INVALID_MODEL at prepare, RUNTIME when the axes
 * arrive only at invoke. */
static kiln_status *read_reverse_axes(const kiln_op_ctx *ctx,
                                      kiln_status_code code, bool *flip) {
  const kiln_tensor *in = ctx->inputs[0], *axes = ctx->inputs[1];
  for (int k = 0; k < KILN_MAX_RANK; k++) flip[k] = false;
  for (int64_t i = 0; i < kiln_tensor_numel(axes); i++) {
    int64_t value = kiln_tensor_int(axes, i);
    int64_t axis = value < 0 ? value + in->rank : value;
    if (axis < 0 || axis >= in->rank)
      return kiln_error(code,
                        "REVERSE_V2: input 1 (axis) entry %lld is %lld, out "
                        "of range for rank %d",
                        (long long)i, (long long)value, in->rank);
    if (flip[axis])
      return kiln_error(code, "REVERSE_V2: input 1 (axis) names axis %d twice",
                        (int)axis);
    flip[axis] = true;
  }
  return NULL;
}

kiln_status *kiln_shape_reverse_v2(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 2));
  KILN_TRY(kiln_require_index_input(ctx, 1, "axis"));
  const kiln_tensor *in = ctx->inputs[0], *axes = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype_listed(
      in, "input 0 (input)", kReverseDtypes,
      (int)(sizeof kReverseDtypes / sizeof kReverseDtypes[0]),
      "float32, int8, uint8, int16, int32, int64 or bool"));
  KILN_TRY(kiln_require_same_quant(in, ctx->outputs[0], "input 0 (input)"));
  char buf[KILN_DIMS_STR_SIZE];
  if (axes->rank != 1 || axes->dims[0] > in->rank)
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 1 (axis) has shape %s; expected a vector of at most %d axes",
        kiln_dims_str(axes->dims, axes->rank, buf, sizeof buf), in->rank);
  if (axes->data) {
    bool flip[KILN_MAX_RANK];
    KILN_TRY(read_reverse_axes(ctx, KILN_ERR_INVALID_MODEL, flip));
  }
  kiln_set_shape(ctx->outputs[0], in->dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_reverse_v2(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  bool flip[KILN_MAX_RANK];
  KILN_TRY(read_reverse_axes(ctx, KILN_ERR_RUNTIME, flip));
  kiln_copy_plan plan = {.rank = in->rank};
  int64_t strides[KILN_MAX_RANK], start = 0;
  kiln_dense_strides(in->dims, in->rank, strides);
  for (int k = 0; k < in->rank; k++) {
    plan.counts[k] = in->dims[k];
    plan.src_strides[k] = flip[k] ? -strides[k] : strides[k];
    if (flip[k] && in->dims[k] > 0) start += (in->dims[k] - 1) * strides[k];
  }
  kiln_copy_plan_dense_dst(&plan);
  if (kiln_tensor_numel(in) == 0) return NULL;
  size_t elem = kiln_dtype_size(in->dtype);
  kiln_strided_copy(out->data, (const char *)in->data + (size_t)start * elem,
                    elem, &plan);
  return NULL;
}

/* ----------------------------------------------------------------- TOPK_V2 */

static const kiln_dtype kTopkDtypes[] = {KILN_FLOAT32, KILN_INT8,  KILN_UINT8,
                                         KILN_INT16,   KILN_INT32, KILN_INT64};

kiln_status *kiln_shape_topk_v2(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 2));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *values = ctx->outputs[0], *indices = ctx->outputs[1];
  KILN_TRY(kiln_require_dtype_listed(
      in, "input 0 (input)", kTopkDtypes,
      (int)(sizeof kTopkDtypes / sizeof kTopkDtypes[0]),
      "float32, int8, uint8, int16, int32 or int64"));
  KILN_TRY(kiln_require_same_dtype(in, values, "input 0 (input)"));
  KILN_TRY(kiln_require_same_quant(in, values, "input 0 (input)"));
  if (indices->dtype != KILN_INT32 && indices->dtype != KILN_INT64 &&
      indices->dtype != KILN_INT16)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 1 (indices) has type %s; expected int16, int32 "
                      "or int64",
                      kiln_dtype_name(indices->dtype));
  if (in->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) is a scalar; TOPK_V2 needs rank >= 1");
  int64_t k = 0, n = in->dims[in->rank - 1];
  KILN_TRY(kiln_read_int_scalar(ctx, 1, "k", &k));
  if (k < 0 || k > n)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (k) is %lld; it must be in [0, %lld], the last "
                      "dimension of input 0",
                      (long long)k, (long long)n);
  if (indices->dtype == KILN_INT16 && n > INT16_MAX)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 1 (indices) is int16 but rows have %lld "
                      "elements",
                      (long long)n);
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, in->dims, sizeof(int64_t) * (size_t)in->rank);
  dims[in->rank - 1] = k;
  kiln_set_shape(values, dims, in->rank);
  kiln_set_shape(indices, dims, in->rank);
  return NULL;
}

/* Whether element i of data ranks above element j: larger, or equal at a
 * lower index (the caller only asks with i > j for ties, so equal means
 * "not above"). int64 is compared exactly. */
static bool ranks_above(kiln_dtype dtype, const void *data, int64_t i,
                        int64_t j) {
  switch (dtype) {
    case KILN_FLOAT32:
      return ((const float *)data)[i] > ((const float *)data)[j];
    case KILN_INT8:
      return ((const int8_t *)data)[i] > ((const int8_t *)data)[j];
    case KILN_UINT8:
      return ((const uint8_t *)data)[i] > ((const uint8_t *)data)[j];
    case KILN_INT16:
      return ((const int16_t *)data)[i] > ((const int16_t *)data)[j];
    case KILN_INT32:
      return ((const int32_t *)data)[i] > ((const int32_t *)data)[j];
    case KILN_INT64:
      return ((const int64_t *)data)[i] > ((const int64_t *)data)[j];
    default:
      return false;
  }
}

static void store_index(kiln_tensor *t, int64_t at, int64_t value) {
  if (t->dtype == KILN_INT64)
    ((int64_t *)t->data)[at] = value;
  else if (t->dtype == KILN_INT16)
    ((int16_t *)t->data)[at] = (int16_t)value;
  else
    ((int32_t *)t->data)[at] = (int32_t)value;
}

/* Per row: the positions of the best k so far, kept sorted (best first)
 * in the indices output by insertion; a later equal element goes after
 * the earlier ones, so ties keep the lower index first as in TFLite. The
 * values are gathered once the row is done. */
kiln_status *kiln_ref_topk_v2(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *values = ctx->outputs[0], *indices = ctx->outputs[1];
  int64_t n = in->dims[in->rank - 1], k = values->dims[values->rank - 1];
  int64_t rows = kiln_dims_product(in->dims, 0, in->rank - 1);
  size_t elem = kiln_dtype_size(in->dtype);
  for (int64_t r = 0; r < rows && k > 0; r++) {
    int64_t base = r * n, out = r * k, count = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t at = count;
      while (at > 0 &&
             ranks_above(in->dtype, in->data, base + i,
                         base + kiln_tensor_int(indices, out + at - 1)))
        at--;
      if (at >= k) continue;
      int64_t last = count < k ? count : k - 1;
      for (int64_t m = last; m > at; m--)
        store_index(indices, out + m, kiln_tensor_int(indices, out + m - 1));
      store_index(indices, out + at, i);
      if (count < k) count++;
    }
    for (int64_t m = 0; m < k; m++)
      memcpy((char *)values->data + (size_t)(out + m) * elem,
             (const char *)in->data +
                 (size_t)(base + kiln_tensor_int(indices, out + m)) * elem,
             elem);
  }
  return NULL;
}
