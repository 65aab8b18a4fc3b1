/* shape_ops.c - RESHAPE, SQUEEZE, EXPAND_DIMS (a plain copy) and SHAPE. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/movement.h"

kiln_status *kiln_ref_copy(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  /* The planner may let the output share the input's buffer. */
  if (out->data != in->data)
    memmove(out->data, in->data, kiln_tensor_nbytes(in));
  return NULL;
}

/* ---------------------------------------------------------------- RESHAPE */

/* The requested shape, as TFLite's reshape.cc picks it: the shape tensor when
 * it is a 1-D vector, else the new_shape option. We take the option also when
 * the tensor is not known yet, since then it is the only source. */
static kiln_status *reshape_request(const kiln_op_ctx *ctx, int64_t *dims,
                                    int *rank) {
  const kiln_reshape_attrs *attrs = ctx->attrs;
  const kiln_tensor *shape = ctx->num_inputs > 1 ? ctx->inputs[1] : NULL;
  bool use_tensor = shape && shape->rank == 1 && shape->data;
  if (!use_tensor && attrs && attrs->num_dims >= 0) {
    if (attrs->num_dims > KILN_MAX_RANK)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "new_shape option has %d dimensions; at most %d "
                        "supported",
                        attrs->num_dims, KILN_MAX_RANK);
    /* Legacy converters wrote new_shape [0] to mean a scalar. */
    *rank =
        attrs->num_dims == 1 && attrs->new_shape[0] == 0 ? 0 : attrs->num_dims;
    for (int k = 0; k < *rank; k++) dims[k] = attrs->new_shape[k];
    return NULL;
  }
  if (!shape)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "has neither a shape input nor a new_shape option");
  KILN_TRY(
      kiln_read_int_vector(ctx, 1, "shape", -1, KILN_MAX_RANK, dims, rank));
  /* TFLite Micro's legacy rule: shape [0] for a one-element input is a
   * scalar (a literal [0] could not hold that element anyway). */
  if (*rank == 1 && dims[0] == 0 && kiln_tensor_numel(ctx->inputs[0]) == 1)
    *rank = 0;
  return NULL;
}

/* Resolves one -1 so the element counts match. With zero-sized dimensions
 * the nonzero parts decide, as TFLite does: [0,6] -> [0,-1] gives [0,6]. */
static kiln_status *reshape_infer(const kiln_tensor *in, int64_t *dims,
                                  int rank) {
  char buf[KILN_DIMS_STR_SIZE], inbuf[KILN_DIMS_STR_SIZE];
  int stretch = -1;
  int64_t out_count = 1, out_nonzero = 1, in_nonzero = 1;
  for (int k = 0; k < in->rank; k++)
    if (in->dims[k]) in_nonzero *= in->dims[k];
  for (int k = 0; k < rank; k++) {
    if (dims[k] == -1 && stretch < 0) {
      stretch = k;
      continue;
    }
    if (dims[k] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "shape %s has %s at index %d (only one -1 is "
                        "allowed)",
                        kiln_dims_str(dims, rank, buf, sizeof buf),
                        dims[k] == -1 ? "a second -1" : "a negative size", k);
    if (__builtin_mul_overflow(out_count, dims[k], &out_count) ||
        (dims[k] && __builtin_mul_overflow(out_nonzero, dims[k], &out_nonzero)))
      return kiln_error(KILN_ERR_INVALID_MODEL, "shape %s is too large",
                        kiln_dims_str(dims, rank, buf, sizeof buf));
  }
  int64_t in_count = kiln_tensor_numel(in);
  if (stretch >= 0) {
    dims[stretch] =
        in_count == 0 && out_count != 0 ? 0 : in_nonzero / out_nonzero;
    out_count *= dims[stretch];
  }
  if (out_count != in_count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "cannot reshape input of shape %s (%lld elements) to %s "
                      "(%lld elements)",
                      kiln_dims_str(in->dims, in->rank, inbuf, sizeof inbuf),
                      (long long)in_count,
                      kiln_dims_str(dims, rank, buf, sizeof buf),
                      (long long)out_count);
  return NULL;
}

kiln_status *kiln_shape_reshape(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 1, 2));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(reshape_request(ctx, dims, &rank));
  KILN_TRY(reshape_infer(ctx->inputs[0], dims, rank));
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

/* ---------------------------------------------------------------- SQUEEZE */

kiln_status *kiln_shape_squeeze(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 1, 1));
  const kiln_squeeze_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  char buf[KILN_DIMS_STR_SIZE];
  int num_axes = attrs ? attrs->num_axes : 0;
  if (num_axes < 0 || num_axes > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_INVALID_MODEL, "has %d squeeze axes", num_axes);
  bool drop[KILN_MAX_RANK] = {false};
  for (int k = 0; k < in->rank; k++)
    drop[k] = num_axes == 0 && in->dims[k] == 1;
  for (int i = 0; i < num_axes; i++) {
    int axis = 0;
    KILN_TRY(
        kiln_normalize_axis(attrs->axes[i], in->rank, "squeeze axis", &axis));
    if (in->dims[axis] != 1)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "cannot squeeze axis %d of input shape %s: its size "
                        "is %lld, not 1",
                        attrs->axes[i],
                        kiln_dims_str(in->dims, in->rank, buf, sizeof buf),
                        (long long)in->dims[axis]);
    drop[axis] = true; /* listing an axis twice is harmless, as in TFLite */
  }
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  for (int k = 0; k < in->rank; k++)
    if (!drop[k]) dims[rank++] = in->dims[k];
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

/* ------------------------------------------------------------ EXPAND_DIMS */

kiln_status *kiln_shape_expand_dims(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 2));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t axis = 0;
  KILN_TRY(kiln_read_int_scalar(ctx, 1, "axis", &axis));
  if (in->rank >= KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input has rank %d; the result would exceed rank %d",
                      in->rank, KILN_MAX_RANK);
  if (axis < -in->rank - 1 || axis > in->rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "axis %lld is out of range [%d, %d] for input rank %d",
                      (long long)axis, -in->rank - 1, in->rank, in->rank);
  int at = (int)(axis < 0 ? axis + in->rank + 1 : axis);
  int64_t dims[KILN_MAX_RANK];
  for (int k = 0, j = 0; k <= in->rank; k++)
    dims[k] = k == at ? 1 : in->dims[j++];
  kiln_set_shape(ctx->outputs[0], dims, in->rank + 1);
  return NULL;
}

/* ------------------------------------------------------------------ SHAPE */

kiln_status *kiln_shape_shape(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "data"));
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  if (out->dtype != KILN_INT32 && out->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output has type %s; expected int32 or int64",
                      kiln_dtype_name(out->dtype));
  for (int k = 0; k < in->rank && out->dtype == KILN_INT32; k++)
    if (in->dims[k] > INT32_MAX)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "dimension %d of the input (%lld) does not fit the "
                        "int32 output",
                        k, (long long)in->dims[k]);
  int64_t dims[1] = {in->rank};
  kiln_set_shape(out, dims, 1);
  return NULL;
}

/* Reads only the input's dims, never its data: the runtime runs SHAPE
 * before invoke, when the input's values do not exist yet. */
kiln_status *kiln_ref_shape(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  for (int k = 0; k < in->rank; k++) {
    if (out->dtype == KILN_INT64)
      ((int64_t *)out->data)[k] = in->dims[k];
    else
      ((int32_t *)out->data)[k] = (int32_t)in->dims[k];
  }
  return NULL;
}
