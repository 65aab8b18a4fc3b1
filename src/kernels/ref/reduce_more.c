/* reduce_more.c - reference kernels of the reductions added for issue 9:
 * REDUCE_PROD, REDUCE_MIN, REDUCE_ANY, REDUCE_ALL (over a known list of
 * axes, with keep_dims), ARG_MIN and CUMSUM. SUM, MEAN, REDUCE_MAX and
 * ARG_MAX are in reduce.c.
 *
 * The reductions follow TFLite's reference: the output starts at the
 * reducer's identity (1, the type's largest value, false, true) and takes
 * the input's elements in row-major order, combining in the tensor's own
 * type; so an empty reduction gives the identity and, as there, float
 * REDUCE_MIN skips NaN. REDUCE_PROD runs on shape values in Keras 3's
 * dynamic-batch reshapes (SHAPE -> GATHER -> REDUCE_PROD), so its int32 form
 * matters as much as its float one. Quantized REDUCE_MIN reduces the
 * stored values (int_max of the type is the identity); quantized
 * REDUCE_PROD is quant_reduce.c's. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

#define F32 KILN_DT(KILN_FLOAT32)
#define BOOL_ONLY KILN_DT(KILN_BOOL)

typedef enum reducer { RED_PROD, RED_MIN, RED_ANY, RED_ALL } reducer;

static kiln_dtype_mask reducer_types(reducer r) {
  switch (r) {
    case RED_PROD:
    case RED_MIN:
      return F32 | KILN_DT_INTS;
    case RED_ANY:
    case RED_ALL:
      break;
  }
  return BOOL_ONLY;
}

/* Marks the axes input 1 lists; negative ones count from the end, and a
 * repeated axis is harmless. */
static kiln_status *read_axes(const kiln_op_ctx *ctx, bool *reduced) {
  KILN_TRY(kiln_require_dtype_in(ctx->inputs[1],
                                 KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64),
                                 "input 1 (axes)"));
  return kiln_mark_axes(ctx, reduced);
}

static kiln_status *shape_reduce(const kiln_op_ctx *ctx, reducer r) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_known(ctx, 1, "axes"));
  const kiln_tensor *x = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype_in(x, reducer_types(r), "input 0 (x)"));
  /* Quantized REDUCE_MIN picks a stored value (so, as TFLite, the output
   * keeps the input's quantization); quantized REDUCE_PROD rescales at
   * every step (quant_reduce.c). */
  if (kiln_q_node(ctx) && r == RED_MIN)
    KILN_TRY(
        kiln_q_require_same(x, "input 0 (x)", ctx->outputs[0], "output 0"));
  else if (kiln_q_node(ctx) && r == RED_PROD)
    KILN_TRY(kiln_qshape_reduce_prod(ctx));
  else
    KILN_TRY(kiln_require_unquantized(x, "input 0 (x)"));
  KILN_TRY(kiln_require_output_dtype(ctx, x->dtype));
  bool reduced[KILN_MAX_RANK];
  KILN_TRY(read_axes(ctx, reduced));
  kiln_set_reduced_shape(ctx, reduced);
  return NULL;
}

kiln_status *kiln_shape_reduce_prod(const kiln_op_ctx *ctx) {
  return shape_reduce(ctx, RED_PROD);
}
kiln_status *kiln_shape_reduce_min(const kiln_op_ctx *ctx) {
  return shape_reduce(ctx, RED_MIN);
}
kiln_status *kiln_shape_reduce_logical(const kiln_op_ctx *ctx) {
  return shape_reduce(ctx, RED_ANY);
}

static int64_t int_max(kiln_dtype t) {
  switch (t) {
    case KILN_INT8:
      return INT8_MAX;
    case KILN_UINT8:
      return UINT8_MAX;
    case KILN_INT16:
      return INT16_MAX;
    case KILN_INT32:
      return INT32_MAX;
    default:
      return INT64_MAX;
  }
}

/* Output offset of each input element: the input walked in row-major order
 * with reduced axes contributing nothing to the output offset. */
static void output_strides(const kiln_op_ctx *ctx, int64_t *strides) {
  const kiln_tensor *x = ctx->inputs[0];
  bool reduced[KILN_MAX_RANK];
  kiln_status_free(read_axes(ctx, reduced)); /* checked by the shape fn */
  int64_t stride = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    strides[d] = reduced[d] ? 0 : stride;
    if (!reduced[d]) stride *= x->dims[d];
  }
}

static kiln_status *run_reduce(const kiln_op_ctx *ctx, reducer r) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t n_out = kiln_tensor_numel(out), n_in = kiln_tensor_numel(x);
  bool is_float = x->dtype == KILN_FLOAT32;
  for (int64_t o = 0; o < n_out; o++) {
    if (is_float)
      ((float *)out->data)[o] = r == RED_PROD ? 1.0f : FLT_MAX;
    else
      kiln_store_int(out, o,
                     r == RED_PROD || r == RED_ALL ? 1
                     : r == RED_MIN                ? int_max(x->dtype)
                                                   : 0);
  }
  if (n_in == 0) return NULL;
  int64_t strides[KILN_MAX_RANK], index[KILN_MAX_RANK] = {0}, o = 0;
  output_strides(ctx, strides);
  for (int64_t i = 0; i < n_in; i++) {
    if (is_float) {
      float *acc = (float *)out->data + o, v = ((const float *)x->data)[i];
      if (r == RED_PROD)
        *acc *= v;
      else if (v < *acc)
        *acc = v;
    } else {
      int64_t acc = kiln_tensor_int(out, o), v = kiln_tensor_int(x, i);
      switch (r) {
        case RED_PROD: /* wraps like the type's own multiplication */
          acc = (int64_t)((uint64_t)acc * (uint64_t)v);
          break;
        case RED_MIN:
          acc = v < acc ? v : acc;
          break;
        case RED_ANY:
          acc = acc || v;
          break;
        case RED_ALL:
          acc = acc && v;
          break;
      }
      kiln_store_int(out, o, acc);
    }
    for (int d = x->rank - 1; d >= 0; d--) { /* next input element */
      o += strides[d];
      if (++index[d] < x->dims[d]) break;
      o -= strides[d] * x->dims[d];
      index[d] = 0;
    }
  }
  return NULL;
}

kiln_status *kiln_ref_reduce_prod(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) {
    bool reduced[KILN_MAX_RANK];
    KILN_TRY(read_axes(ctx, reduced));
    return kiln_qref_reduce_prod(ctx, reduced);
  }
  return run_reduce(ctx, RED_PROD);
}
kiln_status *kiln_ref_reduce_min(const kiln_op_ctx *ctx) {
  return run_reduce(ctx, RED_MIN);
}
kiln_status *kiln_ref_reduce_any(const kiln_op_ctx *ctx) {
  return run_reduce(ctx, RED_ANY);
}
kiln_status *kiln_ref_reduce_all(const kiln_op_ctx *ctx) {
  return run_reduce(ctx, RED_ALL);
}

/* --------------------------------------------------------------- ARG_MIN */

/* One known axis value (a scalar or a 1-element vector). */
static kiln_status *read_axis(const kiln_op_ctx *ctx, int *out_axis) {
  KILN_TRY(kiln_require_dtype_in(ctx->inputs[1],
                                 KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64),
                                 "input 1 (axis)"));
  return kiln_read_one_axis(ctx, out_axis);
}

kiln_status *kiln_shape_arg_min(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_known(ctx, 1, "axis"));
  KILN_TRY(kiln_require_dtype_in(ctx->inputs[0], F32 | KILN_DT_INTS | BOOL_ONLY,
                                 "input 0 (x)"));
  KILN_TRY(kiln_require_dtype_in(
      ctx->outputs[0], KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64), "output 0"));
  KILN_TRY(kiln_require_dtype_in(ctx->inputs[1],
                                 KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64),
                                 "input 1 (axis)"));
  return kiln_shape_arg_reduce(ctx);
}

kiln_status *kiln_ref_arg_min(const kiln_op_ctx *ctx) {
  kiln_ref_arg_reduce(ctx, true);
  return NULL;
}

/* ---------------------------------------------------------------- CUMSUM */

kiln_status *kiln_shape_cumsum(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_known(ctx, 1, "axis"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype_in(
      x, F32 | KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64), "input 0 (x)"));
  KILN_TRY(kiln_require_output_dtype(ctx, x->dtype));
  if (x->rank == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) is a scalar; CUMSUM needs rank 1 or more");
  int axis = 0;
  KILN_TRY(read_axis(ctx, &axis));
  kiln_set_shape(out, x->dims, x->rank);
  return NULL;
}

/* Running sums along the axis in the tensor's type, from the front or (when
 * reverse) the back; exclusive sums leave the current element out. */
kiln_status *kiln_ref_cumsum(const kiln_op_ctx *ctx) {
  const kiln_cumsum_attrs *attrs = ctx->attrs;
  bool exclusive = attrs && attrs->exclusive, reverse = attrs && attrs->reverse;
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int axis = 0;
  kiln_status_free(read_axis(ctx, &axis)); /* checked by the shape fn */
  int64_t outer = 1, inner = 1, n = x->dims[axis];
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      float acc_f = 0.0f;
      uint64_t acc_i = 0;
      for (int64_t s = 0; s < n; s++) {
        int64_t k = reverse ? n - 1 - s : s;
        int64_t at = (o * n + k) * inner + i;
        if (x->dtype == KILN_FLOAT32) {
          float v = ((const float *)x->data)[at];
          if (!exclusive) acc_f += v;
          ((float *)out->data)[at] = acc_f;
          if (exclusive) acc_f += v;
        } else {
          uint64_t v = (uint64_t)kiln_tensor_int(x, at);
          if (!exclusive) acc_i += v;
          kiln_store_int(out, at, (int64_t)acc_i);
          if (exclusive) acc_i += v;
        }
      }
    }
  return NULL;
}
