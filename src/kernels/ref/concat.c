/* concat.c - CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V: block copies
 * (uint8 CONCATENATION parts with their own quantization requantized;
 * int16 parts copied as stored, whatever their scales, as LiteRT does). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/movement.h"

/* Elements of a tensor from dimension `axis` on. */
static int64_t numel_from(const kiln_tensor *t, int axis) {
  int64_t n = 1;
  for (int k = axis; k < t->rank; k++) n *= t->dims[k];
  return n;
}

/* All five ops move whole blocks: for each index over the dimensions before
 * `axis`, part i holds prod(part_i.dims[axis:]) contiguous elements of the
 * whole. PACK and UNPACK fit too, since the new axis sits at `axis`. */
static void move_blocks(kiln_tensor *whole, kiln_tensor *const *parts,
                        int count, int axis, bool into_whole) {
  size_t elem = kiln_dtype_size(whole->dtype);
  int64_t outer = 1;
  for (int k = 0; k < axis; k++) outer *= whole->dims[k];
  char *cursor = whole->data;
  for (int64_t o = 0; o < outer; o++) {
    for (int i = 0; i < count; i++) {
      size_t block = (size_t)numel_from(parts[i], axis) * elem;
      char *part = (char *)parts[i]->data + (size_t)o * block;
      if (into_whole)
        memcpy(cursor, part, block);
      else
        memcpy(part, cursor, block);
      cursor += block;
    }
  }
}

/* Quantized parts are copied as bytes, which is right only when they share
 * the output's scale and zero point; TFLite would requantize. */
static bool same_quant(const kiln_quant_info *a, const kiln_quant_info *b) {
  if (!a || !b || a->count == 0 || b->count == 0) return true;
  if (a->count != b->count || (a->count > 1 && a->axis != b->axis))
    return false;
  for (int i = 0; i < a->count; i++)
    if (a->scale[i] != b->scale[i] || a->zero_point[i] != b->zero_point[i])
      return false;
  return true;
}

/* One scale and zero point each (TFLite's uint8 CONCATENATION requantizes
 * only per-tensor parameters). */
static bool per_tensor(const kiln_quant_info *q) { return q && q->count == 1; }

/* Checks input i may be joined into `out`: present, same dtype and
 * quantization (uint8 may differ: it is requantized as TFLite does). */
static kiln_status *check_part(const kiln_op_ctx *ctx, int i,
                               const kiln_tensor *out, bool requantizes) {
  KILN_TRY(kiln_require_input(ctx, i, "value"));
  const kiln_tensor *in = ctx->inputs[i];
  if (in->dtype != out->dtype || kiln_dtype_size(in->dtype) == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d has type %s; the output has type %s", i,
                      kiln_dtype_name(in->dtype), kiln_dtype_name(out->dtype));
  bool requantizable = requantizes && out->dtype == KILN_UINT8 &&
                       per_tensor(in->quant) && per_tensor(out->quant);
  /* LiteRT's int16 CONCATENATION requires zero points 0 and copies the
   * stored values whatever the scales (measured: a part of scale 0.0003
   * lands unchanged in an output of 0.0005), so kiln copies them too. */
  const bool int16_copy = requantizes && out->dtype == KILN_INT16 &&
                          per_tensor(in->quant) && per_tensor(out->quant);
  if (int16_copy &&
      (in->quant->zero_point[0] != 0 || out->quant->zero_point[0] != 0))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d has zero point %lld and the output %lld; "
                      "int16 CONCATENATION needs 0 for both",
                      i, (long long)in->quant->zero_point[0],
                      (long long)out->quant->zero_point[0]);
  if (!same_quant(in->quant, out->quant) && !requantizable && !int16_copy)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d has quantization parameters different from "
                      "the output's; requantizing is not supported (only "
                      "uint8 CONCATENATION requantizes; int16 copies)",
                      i);
  /* The importer checks every tensor's parameters; a part built in memory
   * is checked here too, since requantizing reads them as uint8 facts. */
  if (requantizable && !same_quant(in->quant, out->quant)) {
    int64_t zero = in->quant->zero_point[0];
    float scale = in->quant->scale[0];
    if (zero < 0 || zero > 255)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d has zero point %lld, outside uint8's 0..255",
                        i, (long long)zero);
    if (!(scale > 0.0f) || scale > 3.4e38f)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d has scale %g; it must be positive and "
                        "finite",
                        i, (double)scale);
  }
  return NULL;
}

/* Checks `t` has the shape `dims` except along `axis` (-1: nowhere). */
static kiln_status *check_same_shape(const kiln_tensor *t, const char *what,
                                     const kiln_tensor *ref,
                                     const char *ref_what, int axis) {
  bool same = t->rank == ref->rank;
  for (int k = 0; same && k < t->rank; k++)
    same = k == axis || t->dims[k] == ref->dims[k];
  if (same) return NULL;
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  kiln_dims_str(t->dims, t->rank, a, sizeof a);
  kiln_dims_str(ref->dims, ref->rank, b, sizeof b);
  if (axis < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has shape %s but %s has shape %s; they must match",
                      what, a, ref_what, b);
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s has shape %s but %s has shape %s; they may differ "
                    "only along axis %d",
                    what, a, ref_what, b, axis);
}

/* ---------------------------------------------------------- CONCATENATION */

static kiln_status *check_concat_activation(kiln_activation act,
                                            kiln_dtype dtype) {
  KILN_TRY(kiln_check_activation(act));
  if (act != KILN_ACT_NONE && dtype != KILN_FLOAT32)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "fused activation %d on a %s concatenation is not "
                      "supported (float32 only)",
                      (int)act, kiln_dtype_name(dtype));
  return NULL;
}

kiln_status *kiln_shape_concatenation(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, INT_MAX, 1));
  const kiln_concat_attrs *attrs = ctx->attrs;
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(check_concat_activation(attrs->activation, out->dtype));
  KILN_TRY(kiln_require_input(ctx, 0, "value"));
  const kiln_tensor *first = ctx->inputs[0];
  int axis = 0;
  KILN_TRY(kiln_normalize_axis(attrs->axis, first->rank, "concatenation axis",
                               &axis));
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, first->dims, sizeof dims);
  dims[axis] = 0;
  char what[32];
  for (int i = 0; i < ctx->num_inputs; i++) {
    KILN_TRY(check_part(ctx, i, out, true));
    snprintf(what, sizeof what, "input %d", i);
    KILN_TRY(check_same_shape(ctx->inputs[i], what, first, "input 0", axis));
    dims[axis] += ctx->inputs[i]->dims[axis];
  }
  KILN_TRY(kiln_check_shape(dims, first->rank, out->dtype, "concatenation"));
  kiln_set_shape(out, dims, first->rank);
  return NULL;
}

/* uint8 parts with other parameters than the output's, requantized as
 * TFLite's ConcatenationWithScaling: round(x s + b) in float with s =
 * s_in (1 / s_out), b = -z_in s, plus z_out, clamped; the block copies
 * have already placed every part, so only those parts are rewritten. */
static void requantize_uint8_parts(const kiln_op_ctx *ctx, int axis) {
  kiln_tensor *out = ctx->outputs[0];
  const float inverse = 1.0f / out->quant->scale[0];
  const int32_t zo = (int32_t)out->quant->zero_point[0];
  int64_t outer = 1;
  for (int k = 0; k < axis; k++) outer *= out->dims[k];
  uint8_t *y = out->data;
  for (int64_t o = 0; o < outer; o++)
    for (int i = 0; i < ctx->num_inputs; i++) {
      const kiln_tensor *in = ctx->inputs[i];
      const int64_t block = numel_from(in, axis);
      const uint8_t *x = (const uint8_t *)in->data + o * block;
      if (!same_quant(in->quant, out->quant)) {
        const float scale = in->quant->scale[0] * inverse;
        const float bias = -(float)in->quant->zero_point[0] * scale;
        for (int64_t j = 0; j < block; j++) {
          float v = (float)x[j] * scale; /* no fused multiply-add */
          v = v + bias;
          const int32_t q = (int32_t)roundf(v) + zo;
          y[j] = (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
        }
      }
      y += block;
    }
}

kiln_status *kiln_ref_concatenation(const kiln_op_ctx *ctx) {
  const kiln_concat_attrs *attrs = ctx->attrs;
  kiln_tensor *out = ctx->outputs[0];
  int axis = attrs->axis < 0 ? attrs->axis + out->rank : attrs->axis;
  move_blocks(out, ctx->inputs, ctx->num_inputs, axis, true);
  if (out->dtype == KILN_UINT8) requantize_uint8_parts(ctx, axis);
  if (attrs->activation != KILN_ACT_NONE && out->dtype == KILN_FLOAT32) {
    float *values = out->data;
    int64_t n = kiln_tensor_numel(out);
    for (int64_t i = 0; i < n; i++)
      values[i] = kiln_activate(values[i], attrs->activation);
  }
  return NULL;
}

/* ------------------------------------------------------------ PACK/UNPACK */

/* The dims of a PACK output / UNPACK input: `part` with `count` inserted at
 * `axis`. */
static void insert_dim(const kiln_tensor *part, int axis, int64_t count,
                       int64_t *dims) {
  for (int k = 0, j = 0; k <= part->rank; k++)
    dims[k] = k == axis ? count : part->dims[j++];
}

kiln_status *kiln_shape_pack(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, INT_MAX, 1));
  const kiln_pack_attrs *attrs = ctx->attrs;
  kiln_tensor *out = ctx->outputs[0];
  if (attrs->count != ctx->num_inputs)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "values_count is %d but the operator has %d inputs",
                      attrs->count, ctx->num_inputs);
  KILN_TRY(kiln_require_input(ctx, 0, "value"));
  const kiln_tensor *first = ctx->inputs[0];
  int rank = first->rank;
  if (rank >= KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "inputs have rank %d; the result would exceed rank %d",
                      rank, KILN_MAX_RANK);
  if (attrs->axis < -(rank + 1) || attrs->axis > rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "pack axis %d is out of range [%d, %d] for inputs of "
                      "rank %d",
                      attrs->axis, -(rank + 1), rank, rank);
  char what[32];
  for (int i = 0; i < ctx->num_inputs; i++) {
    KILN_TRY(check_part(ctx, i, out, false));
    snprintf(what, sizeof what, "input %d", i);
    KILN_TRY(check_same_shape(ctx->inputs[i], what, first, "input 0", -1));
  }
  int64_t dims[KILN_MAX_RANK];
  int axis = attrs->axis < 0 ? attrs->axis + rank + 1 : attrs->axis;
  insert_dim(first, axis, ctx->num_inputs, dims);
  KILN_TRY(kiln_check_shape(dims, rank + 1, out->dtype, "pack"));
  kiln_set_shape(out, dims, rank + 1);
  return NULL;
}

kiln_status *kiln_ref_pack(const kiln_op_ctx *ctx) {
  const kiln_pack_attrs *attrs = ctx->attrs;
  kiln_tensor *out = ctx->outputs[0];
  int axis = attrs->axis < 0 ? attrs->axis + out->rank : attrs->axis;
  move_blocks(out, ctx->inputs, ctx->num_inputs, axis, true);
  return NULL;
}

/* Every output of a split-like op must have the input's dtype. */
static kiln_status *check_outputs_dtype(const kiln_op_ctx *ctx,
                                        const kiln_tensor *in) {
  for (int i = 0; i < ctx->num_outputs; i++) {
    if (ctx->outputs[i]->dtype != in->dtype || kiln_dtype_size(in->dtype) == 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "output %d has type %s; the input has type %s", i,
                        kiln_dtype_name(ctx->outputs[i]->dtype),
                        kiln_dtype_name(in->dtype));
  }
  return NULL;
}

kiln_status *kiln_shape_unpack(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, -1));
  KILN_TRY(kiln_require_input(ctx, 0, "value"));
  const kiln_pack_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  char buf[KILN_DIMS_STR_SIZE];
  int axis = 0;
  KILN_TRY(kiln_normalize_axis(attrs->axis, in->rank, "unpack axis", &axis));
  if (in->dims[axis] != ctx->num_outputs ||
      (attrs->count && attrs->count != ctx->num_outputs))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input of shape %s has %lld entries along axis %d but "
                      "the operator has %d outputs (num %d)",
                      kiln_dims_str(in->dims, in->rank, buf, sizeof buf),
                      (long long)in->dims[axis], attrs->axis, ctx->num_outputs,
                      attrs->count);
  KILN_TRY(check_outputs_dtype(ctx, in));
  int64_t dims[KILN_MAX_RANK];
  for (int k = 0, j = 0; k < in->rank; k++)
    if (k != axis) dims[j++] = in->dims[k];
  for (int i = 0; i < ctx->num_outputs; i++)
    kiln_set_shape(ctx->outputs[i], dims, in->rank - 1);
  return NULL;
}

kiln_status *kiln_ref_unpack(const kiln_op_ctx *ctx) {
  const kiln_pack_attrs *attrs = ctx->attrs;
  kiln_tensor *in = ctx->inputs[0];
  int axis = attrs->axis < 0 ? attrs->axis + in->rank : attrs->axis;
  move_blocks(in, ctx->outputs, ctx->num_outputs, axis, false);
  return NULL;
}

/* ------------------------------------------------------------ SPLIT(_V) */

/* Reads and normalizes the axis input of SPLIT/SPLIT_V against `data`. */
static kiln_status *split_axis(const kiln_op_ctx *ctx, int index,
                               const kiln_tensor *data, int *axis) {
  int64_t value = 0;
  KILN_TRY(kiln_read_int_scalar(ctx, index, "axis", &value));
  return kiln_normalize_axis(value, data->rank, "split axis", axis);
}

/* Common checks; sets *data and *axis. */
static kiln_status *check_split(const kiln_op_ctx *ctx, int data_index,
                                int axis_index, const kiln_tensor **data,
                                int *axis) {
  const kiln_split_attrs *attrs = ctx->attrs;
  if (attrs->num_splits != ctx->num_outputs || ctx->num_outputs < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "num_splits is %d but the operator has %d outputs",
                      attrs->num_splits, ctx->num_outputs);
  KILN_TRY(kiln_require_input(ctx, data_index, "data"));
  *data = ctx->inputs[data_index];
  KILN_TRY(check_outputs_dtype(ctx, *data));
  return split_axis(ctx, axis_index, *data, axis);
}

/* Gives output i the data's shape with `size` along axis. */
static void set_split_shape(const kiln_op_ctx *ctx, int i,
                            const kiln_tensor *data, int axis, int64_t size) {
  kiln_set_shape(ctx->outputs[i], data->dims, data->rank);
  ctx->outputs[i]->dims[axis] = size;
}

kiln_status *kiln_shape_split(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, -1));
  const kiln_tensor *data = NULL;
  int axis = 0;
  KILN_TRY(check_split(ctx, 1, 0, &data, &axis));
  int64_t dim = data->dims[axis];
  if (dim % ctx->num_outputs != 0) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "cannot split axis %d of shape %s (size %lld) into %d "
                      "equal parts",
                      axis,
                      kiln_dims_str(data->dims, data->rank, buf, sizeof buf),
                      (long long)dim, ctx->num_outputs);
  }
  for (int i = 0; i < ctx->num_outputs; i++)
    set_split_shape(ctx, i, data, axis, dim / ctx->num_outputs);
  return NULL;
}

kiln_status *kiln_ref_split(const kiln_op_ctx *ctx) {
  kiln_tensor *data = ctx->inputs[1];
  int axis = 0;
  KILN_TRY(split_axis(ctx, 0, data, &axis));
  move_blocks(data, ctx->outputs, ctx->num_outputs, axis, false);
  return NULL;
}

/* Sum of size_splits without the -1 entry, whose index goes to *stretch.
 * Each size is at most `dim`, so the sum cannot overflow. */
static kiln_status *sum_splits(const kiln_tensor *sizes, int64_t dim,
                               int64_t *sum, int *stretch) {
  *sum = 0;
  *stretch = -1;
  for (int64_t i = 0; i < sizes->dims[0]; i++) {
    int64_t size = kiln_tensor_int(sizes, i);
    if (size == -1 && *stretch < 0) {
      *stretch = (int)i;
      continue;
    }
    if (size < 0 || size > dim)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "size_splits[%lld] is %lld; sizes must be in [0, %lld] "
                        "with at most one -1",
                        (long long)i, (long long)size, (long long)dim);
    *sum += size;
  }
  return NULL;
}

kiln_status *kiln_shape_split_v(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 3, 3, -1));
  const kiln_tensor *data = NULL;
  int axis = 0, n = 0;
  KILN_TRY(check_split(ctx, 0, 2, &data, &axis));
  KILN_TRY(kiln_read_int_vector(ctx, 1, "size_splits", ctx->num_outputs,
                                INT_MAX, NULL, &n));
  const kiln_tensor *sizes = ctx->inputs[1];
  int64_t sum, dim = data->dims[axis];
  int stretch;
  KILN_TRY(sum_splits(sizes, dim, &sum, &stretch));
  if (stretch < 0 ? sum != dim : sum > dim) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "size_splits add up to %lld%s but axis %d of shape %s "
                      "has size %lld",
                      (long long)sum, stretch < 0 ? "" : " plus a -1", axis,
                      kiln_dims_str(data->dims, data->rank, buf, sizeof buf),
                      (long long)dim);
  }
  for (int i = 0; i < n; i++)
    set_split_shape(ctx, i, data, axis,
                    i == stretch ? dim - sum : kiln_tensor_int(sizes, i));
  return NULL;
}

kiln_status *kiln_ref_split_v(const kiln_op_ctx *ctx) {
  kiln_tensor *data = ctx->inputs[0];
  int axis = 0;
  KILN_TRY(split_axis(ctx, 2, data, &axis));
  move_blocks(data, ctx->outputs, ctx->num_outputs, axis, false);
  return NULL;
}
