/* index_ops.c - operators that build a dense tensor from indices: ONE_HOT,
 * EMBEDDING_LOOKUP (rows of a table, dequantized when the table is int8 or
 * uint8 and the output float32, as TFLite's hybrid kernel), SPARSE_TO_DENSE
 * and BROADCAST_ARGS (the broadcast of two shapes given as values). An
 * index outside its range fails the invoke naming the operator and where
 * the index sits, except in ONE_HOT, whose out-of-range indices give rows
 * of off_value by definition. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* ----------------------------------------------------------------- ONE_HOT */

static const kiln_dtype_mask kOneHotDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT_INTS | KILN_DT(KILN_BOOL);

/* The new axis, in [0, rank of indices]. */
static kiln_status *one_hot_axis(const kiln_op_ctx *ctx, int *axis) {
  const kiln_one_hot_attrs *a = ctx->attrs;
  int rank = ctx->inputs[0]->rank;
  int value = a->axis == -1 ? rank : a->axis;
  if (value < 0 || value > rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "axis %d must be -1 or in [0, %d] (indices rank %d)",
                      a->axis, rank, rank);
  *axis = value;
  return NULL;
}

kiln_status *kiln_shape_one_hot(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 4, 4, 1));
  KILN_TRY(kiln_require_index_input(ctx, 0, "indices"));
  KILN_TRY(kiln_require_input(ctx, 2, "on_value"));
  KILN_TRY(kiln_require_input(ctx, 3, "off_value"));
  const kiln_tensor *indices = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype_in(out, kOneHotDtypes, "output 0"));
  const char *roles[2] = {"input 2 (on_value)", "input 3 (off_value)"};
  for (int i = 0; i < 2; i++) {
    const kiln_tensor *v = ctx->inputs[2 + i];
    KILN_TRY(kiln_require_same_dtype(v, out, roles[i]));
    KILN_TRY(kiln_require_same_quant(v, out, roles[i]));
    if (kiln_tensor_numel(v) != 1)
      return kiln_error(KILN_ERR_INVALID_MODEL, "%s must hold one value",
                        roles[i]);
  }
  int64_t depth = 0;
  KILN_TRY(kiln_read_int_scalar(ctx, 1, "depth", &depth));
  if (depth < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "input 1 (depth) is %lld",
                      (long long)depth);
  int axis = 0;
  KILN_TRY(one_hot_axis(ctx, &axis));
  if (indices->rank + 1 > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (indices) has rank %d; at most %d supported",
                      indices->rank, KILN_MAX_RANK - 1);
  int64_t dims[KILN_MAX_RANK];
  int n = 0;
  for (int k = 0; k < axis; k++) dims[n++] = indices->dims[k];
  dims[n++] = depth;
  for (int k = axis; k < indices->rank; k++) dims[n++] = indices->dims[k];
  KILN_TRY(kiln_check_shape(dims, n, out->dtype, "depth"));
  kiln_set_shape(out, dims, n);
  return NULL;
}

/* Output [outer, depth, inner] (outer: indices dims before the axis):
 * element (o, d, i) is on_value where indices[o, i] == d. */
kiln_status *kiln_ref_one_hot(const kiln_op_ctx *ctx) {
  const kiln_tensor *indices = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int axis = 0;
  KILN_TRY(one_hot_axis(ctx, &axis));
  int64_t depth = out->dims[axis];
  int64_t outer = kiln_dims_product(indices->dims, 0, axis);
  int64_t inner = kiln_dims_product(indices->dims, axis, indices->rank);
  size_t elem = kiln_dtype_size(out->dtype);
  const void *on = ctx->inputs[2]->data, *off = ctx->inputs[3]->data;
  char *dst = out->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < depth; d++)
      for (int64_t i = 0; i < inner; i++, dst += elem)
        memcpy(dst, kiln_tensor_int(indices, o * inner + i) == d ? on : off,
               elem);
  return NULL;
}

/* -------------------------------------------------------- EMBEDDING_LOOKUP */

static const kiln_dtype_mask kLookupDtypes =
    KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) |
    KILN_DT_INTS | KILN_DT(KILN_UINT16) | KILN_DT(KILN_UINT32) |
    KILN_DT(KILN_UINT64) | KILN_DT(KILN_BOOL) | KILN_DT(KILN_COMPLEX64);

/* Whether the table is read as quantized integers into a float output. */
static bool hybrid_lookup(const kiln_tensor *value, const kiln_tensor *out) {
  return (value->dtype == KILN_INT8 || value->dtype == KILN_UINT8) &&
         out->dtype == KILN_FLOAT32;
}

kiln_status *kiln_shape_embedding_lookup(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "ids"));
  KILN_TRY(kiln_require_input(ctx, 1, "value"));
  const kiln_tensor *ids = ctx->inputs[0], *value = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(ids, KILN_INT32, "input 0 (ids)"));
  char buf[KILN_DIMS_STR_SIZE];
  if (ids->rank != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (ids) has shape %s; expected a vector",
                      kiln_dims_str(ids->dims, ids->rank, buf, sizeof buf));
  if (value->rank < 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (value) has shape %s; expected rank >= 2",
                      kiln_dims_str(value->dims, value->rank, buf, sizeof buf));
  if (hybrid_lookup(value, out)) {
    const kiln_quant_info *q = value->quant;
    if (!q || q->count < 1)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 1 (value) of type %s has no quantization "
                        "parameters",
                        kiln_dtype_name(value->dtype));
    if (q->count > 1 && (q->axis != 0 || q->count != value->dims[0]))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input 1 (value) has %d scales on axis %d; only one "
                        "per tensor or one per row is supported",
                        q->count, q->axis);
    /* TFLite's hybrid lookup multiplies by the scale alone. */
    for (int i = 0; i < q->count; i++)
      if (q->zero_point[i] != 0)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "input 1 (value) has zero point %lld; the hybrid "
                          "lookup needs symmetric quantization",
                          (long long)q->zero_point[i]);
  } else {
    /* rows are copied whole: every fixed-size type LiteRT takes */
    KILN_TRY(kiln_require_dtype_in(value, kLookupDtypes, "input 1 (value)"));
    KILN_TRY(kiln_require_same_dtype(value, out, "input 1 (value)"));
    KILN_TRY(kiln_require_same_quant(value, out, "input 1 (value)"));
  }
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, value->dims, sizeof(int64_t) * (size_t)value->rank);
  dims[0] = ids->dims[0];
  kiln_set_shape(out, dims, value->rank);
  return NULL;
}

kiln_status *kiln_ref_embedding_lookup(const kiln_op_ctx *ctx) {
  const kiln_tensor *ids = ctx->inputs[0], *value = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int64_t rows = value->dims[0];
  int64_t width = kiln_dims_product(value->dims, 1, value->rank);
  bool hybrid = hybrid_lookup(value, out);
  size_t elem = kiln_dtype_size(value->dtype);
  for (int64_t i = 0; i < ids->dims[0]; i++) {
    int64_t row = ((const int32_t *)ids->data)[i];
    if (row < 0 || row >= rows)
      return kiln_error(KILN_ERR_RUNTIME,
                        "EMBEDDING_LOOKUP: id %lld at position %lld of "
                        "input 0 (ids) is out of range [0, %lld)",
                        (long long)row, (long long)i, (long long)rows);
    if (!hybrid) {
      memcpy((char *)out->data + (size_t)(i * width) * elem,
             (const char *)value->data + (size_t)(row * width) * elem,
             (size_t)width * elem);
      continue;
    }
    const kiln_quant_info *q = value->quant;
    float scale = q->scale[q->count > 1 ? row : 0];
    float *dst = (float *)out->data + i * width;
    for (int64_t j = 0; j < width; j++)
      dst[j] = scale * (float)kiln_tensor_int(value, row * width + j);
  }
  return NULL;
}

/* --------------------------------------------------------- SPARSE_TO_DENSE */

static const kiln_dtype_mask kSparseDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_INT8) | KILN_DT(KILN_UINT8) |
    KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64);

/* Indices as [count, depth]: a scalar is one coordinate, a vector one
 * coordinate per entry. */
static void sparse_layout(const kiln_tensor *indices, int64_t *count,
                          int64_t *depth) {
  *count = indices->rank == 0 ? 1 : indices->dims[0];
  *depth = indices->rank == 2 ? indices->dims[1] : 1;
}

kiln_status *kiln_shape_sparse_to_dense(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 4, 4, 1));
  KILN_TRY(kiln_require_index_input(ctx, 0, "indices"));
  KILN_TRY(kiln_require_input(ctx, 2, "values"));
  KILN_TRY(kiln_require_input(ctx, 3, "default_value"));
  const kiln_tensor *indices = ctx->inputs[0], *values = ctx->inputs[2];
  const kiln_tensor *fill = ctx->inputs[3];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype_in(values, kSparseDtypes, "input 2 (values)"));
  KILN_TRY(kiln_require_same_dtype(values, out, "input 2 (values)"));
  KILN_TRY(kiln_require_same_quant(values, out, "input 2 (values)"));
  KILN_TRY(kiln_require_same_dtype(fill, out, "input 3 (default_value)"));
  if (kiln_tensor_numel(fill) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 3 (default_value) must hold one value");
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(kiln_read_int_vector(ctx, 1, "output_shape", -1, KILN_MAX_RANK, dims,
                                &rank));
  KILN_TRY(kiln_check_shape(dims, rank, out->dtype, "output_shape"));
  char a[KILN_DIMS_STR_SIZE];
  int64_t count = 0, depth = 0;
  sparse_layout(indices, &count, &depth);
  if (indices->rank > 2 || depth != rank)
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 0 (indices) has shape %s; an output of rank %d needs [n, %d] "
        "(or [n] or a scalar for rank 1)",
        kiln_dims_str(indices->dims, indices->rank, a, sizeof a), rank, rank);
  int64_t nvalues = kiln_tensor_numel(values);
  if (values->rank > 1 || (values->rank == 1 && nvalues != count))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (values) has shape %s; expected a scalar or "
                      "[%lld]",
                      kiln_dims_str(values->dims, values->rank, a, sizeof a),
                      (long long)count);
  kiln_set_shape(out, dims, rank);
  return NULL;
}

/* The default everywhere, then each value at its coordinates (a later
 * duplicate overwrites an earlier one, as TFLite's loop does). */
kiln_status *kiln_ref_sparse_to_dense(const kiln_op_ctx *ctx) {
  const kiln_tensor *indices = ctx->inputs[0], *values = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  size_t elem = kiln_dtype_size(out->dtype);
  kiln_fill_elements(out->data, kiln_tensor_numel(out), ctx->inputs[3]->data,
                     elem);
  int64_t count = 0, depth = 0;
  sparse_layout(indices, &count, &depth);
  bool scalar = values->rank == 0;
  for (int64_t r = 0; r < count; r++) {
    int64_t offset = 0;
    for (int k = 0; k < depth; k++) {
      int64_t v = kiln_tensor_int(indices, r * depth + k);
      if (v < 0 || v >= out->dims[k])
        return kiln_error(KILN_ERR_RUNTIME,
                          "SPARSE_TO_DENSE: index %lld in row %lld, column "
                          "%d of input 0 (indices) is out of range [0, %lld)",
                          (long long)v, (long long)r, k,
                          (long long)out->dims[k]);
      offset = offset * out->dims[k] + v;
    }
    memcpy((char *)out->data + (size_t)offset * elem,
           (const char *)values->data + (size_t)(scalar ? 0 : r) * elem, elem);
  }
  return NULL;
}

/* ---------------------------------------------------------- BROADCAST_ARGS */

kiln_status *kiln_shape_broadcast_args(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_index_input(ctx, 0, "s0"));
  KILN_TRY(kiln_require_index_input(ctx, 1, "s1"));
  const kiln_tensor *s0 = ctx->inputs[0], *s1 = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_same_dtype(s0, out, "input 0 (s0)"));
  KILN_TRY(kiln_require_same_dtype(s1, out, "input 1 (s1)"));
  char a[KILN_DIMS_STR_SIZE];
  for (int i = 0; i < 2; i++) {
    const kiln_tensor *s = ctx->inputs[i];
    if (s->rank != 1)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (s%d) has shape %s; expected a vector", i, i,
                        kiln_dims_str(s->dims, s->rank, a, sizeof a));
  }
  int64_t n = s0->dims[0] > s1->dims[0] ? s0->dims[0] : s1->dims[0];
  kiln_set_shape(out, &n, 1);
  return NULL;
}

/* Right-aligned: equal sizes stay, a 1 takes the other's size, anything
 * else cannot broadcast. */
kiln_status *kiln_ref_broadcast_args(const kiln_op_ctx *ctx) {
  const kiln_tensor *s0 = ctx->inputs[0], *s1 = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int64_t n = out->dims[0], n0 = s0->dims[0], n1 = s1->dims[0];
  for (int64_t j = 0; j < n; j++) {
    int64_t i0 = j - (n - n0), i1 = j - (n - n1);
    int64_t a = i0 >= 0 ? kiln_tensor_int(s0, i0) : 1;
    int64_t b = i1 >= 0 ? kiln_tensor_int(s1, i1) : 1;
    int64_t value = a;
    if (a == 1)
      value = b;
    else if (b != 1 && b != a)
      return kiln_error(KILN_ERR_RUNTIME,
                        "BROADCAST_ARGS: dimension %lld is %lld in input 0 "
                        "(s0) and %lld in input 1 (s1); they do not broadcast",
                        (long long)j, (long long)a, (long long)b);
    if (out->dtype == KILN_INT64)
      ((int64_t *)out->data)[j] = value;
    else
      ((int32_t *)out->data)[j] = (int32_t)value;
  }
  return NULL;
}
