/* reduce_window.c - REDUCE_WINDOW (TFLite's builtin form; the StableHLO one
 * with a body subgraph is not implemented): each output element reduces a
 * window of the input, starting from init_value, with ADD, MUL, MINIMUM,
 * MAXIMUM, ALL or ANY (ReduceWindowOptions).
 *
 * Inputs: input (float32/64, int8/16/32/64, uint8, bool), init_value (a
 * scalar of its type), window_shape, window_strides and window_dilations
 * (int64 [rank], known at prepare; each >= 1). Along each dimension the
 * window spans (w - 1) * dilation + 1 elements and takes (in - span) /
 * stride + 1 positions (0 when it does not fit); there is no padding.
 * Values are combined as LiteRT's kernel does: in the window's row-major
 * order into an accumulator of the tensor's type (integers wrap; bool is
 * LiteRT's int8, so a bool ADD counts), MAXIMUM keeps the accumulator when
 * it is >= the value and MINIMUM when <=, ALL and ANY give 0 or 1. */
#include <stdio.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

#define WINDOW_TYPES                                                    \
  (KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) | KILN_DT(KILN_INT8) | \
   KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64) |    \
   KILN_DT(KILN_UINT8) | KILN_DT(KILN_BOOL))

static kiln_status *window_vector(const kiln_op_ctx *ctx, int index,
                                  const char *role, int rank, int64_t *out) {
  KILN_TRY(kiln_require_known(ctx, index, role));
  const kiln_tensor *t = ctx->inputs[index];
  char what[48], buf[KILN_DIMS_STR_SIZE];
  snprintf(what, sizeof what, "input %d (%s)", index, role);
  KILN_TRY(kiln_require_dtype(t, KILN_INT64, what));
  if (t->rank != 1 || t->dims[0] != rank)
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s must have shape [%d], has %s",
                      what, rank,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  for (int d = 0; d < rank; d++) {
    out[d] = ((const int64_t *)t->data)[d];
    if (out[d] < 1 || out[d] > INT32_MAX)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s element %d is %lld; it must be from 1 to %d", what,
                        d, (long long)out[d], INT32_MAX);
  }
  return NULL;
}

kiln_status *kiln_shape_reduce_window(const kiln_op_ctx *ctx) {
  const kiln_reduce_window_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 5, 5, 1));
  if (a->function < KILN_WINDOW_ADD || a->function > KILN_WINDOW_ANY)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "reduce_function %d is not one of ADD (1), MUL, "
                      "MINIMUM, MAXIMUM, ALL, ANY (6)",
                      (int)a->function);
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  KILN_TRY(kiln_require_input(ctx, 1, "init_value"));
  const kiln_tensor *in = ctx->inputs[0], *init = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype_in(in, WINDOW_TYPES, "input 0 (input)"));
  KILN_TRY(kiln_require_unquantized(in, "input 0 (input)"));
  if (in->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) must have rank 1 or more");
  if (init->dtype != in->dtype || kiln_tensor_numel(init) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (init_value) must be one %s",
                      kiln_dtype_name(in->dtype));
  KILN_TRY(kiln_require_output_dtype(ctx, in->dtype));
  int64_t shape[KILN_MAX_RANK], strides[KILN_MAX_RANK],
      dilations[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  KILN_TRY(window_vector(ctx, 2, "window_shape", in->rank, shape));
  KILN_TRY(window_vector(ctx, 3, "window_strides", in->rank, strides));
  KILN_TRY(window_vector(ctx, 4, "window_dilations", in->rank, dilations));
  for (int d = 0; d < in->rank; d++) {
    int64_t span = (shape[d] - 1) * dilations[d] + 1;
    dims[d] = in->dims[d] < span ? 0 : (in->dims[d] - span) / strides[d] + 1;
  }
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

double kiln_flops_reduce_window(const kiln_op_ctx *ctx) {
  const kiln_tensor *w = ctx->inputs[2];
  double taps = 1.0;
  for (int64_t d = 0; w->data && d < w->dims[0]; d++)
    taps *= (double)((const int64_t *)w->data)[d];
  return taps * (double)kiln_tensor_numel(ctx->outputs[0]);
}

static double combine_real(kiln_window_function f, double acc, double v) {
  switch (f) {
    case KILN_WINDOW_ADD:
      return acc + v;
    case KILN_WINDOW_MUL:
      return acc * v;
    case KILN_WINDOW_MINIMUM:
      return acc <= v ? acc : v;
    case KILN_WINDOW_MAXIMUM:
      return acc >= v ? acc : v;
    case KILN_WINDOW_ALL:
      return acc != 0.0 && v != 0.0;
    case KILN_WINDOW_ANY:
      return acc != 0.0 || v != 0.0;
  }
  return acc;
}

static int64_t combine_int(kiln_window_function f, int64_t acc, int64_t v) {
  switch (f) {
    case KILN_WINDOW_ADD:
      return (int64_t)((uint64_t)acc + (uint64_t)v);
    case KILN_WINDOW_MUL:
      return (int64_t)((uint64_t)acc * (uint64_t)v);
    case KILN_WINDOW_MINIMUM:
      return acc <= v ? acc : v;
    case KILN_WINDOW_MAXIMUM:
      return acc >= v ? acc : v;
    case KILN_WINDOW_ALL:
      return acc != 0 && v != 0;
    case KILN_WINDOW_ANY:
      return acc != 0 || v != 0;
  }
  return acc;
}

kiln_status *kiln_ref_reduce_window(const kiln_op_ctx *ctx) {
  const kiln_reduce_window_attrs *a = ctx->attrs;
  const kiln_tensor *in_t = ctx->inputs[0];
  kiln_tensor *out_t = ctx->outputs[0];
  int rank = in_t->rank;
  /* bool runs as int8, as in LiteRT */
  kiln_tensor in = *in_t, init = *ctx->inputs[1], out = *out_t;
  if (in.dtype == KILN_BOOL) in.dtype = init.dtype = out.dtype = KILN_INT8;
  const int64_t *shape = ctx->inputs[2]->data, *strides = ctx->inputs[3]->data,
                *dilations = ctx->inputs[4]->data;
  int64_t in_stride[KILN_MAX_RANK], taps = 1;
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    in_stride[d] = s;
    s *= in.dims[d];
    taps *= shape[d];
  }
  bool real = in.dtype == KILN_FLOAT32 || in.dtype == KILN_FLOAT64;
  int64_t n = kiln_tensor_numel(&out);
  int64_t o_idx[KILN_MAX_RANK] = {0};
  for (int64_t o = 0; o < n; o++) {
    int64_t base = 0;
    for (int d = 0; d < rank; d++) base += o_idx[d] * strides[d] * in_stride[d];
    double acc_r = real ? kiln_tensor_real(&init, 0) : 0.0;
    int64_t acc_i = real ? 0 : kiln_tensor_int(&init, 0);
    int64_t w_idx[KILN_MAX_RANK] = {0};
    for (int64_t t = 0; t < taps; t++) {
      int64_t at = base;
      for (int d = 0; d < rank; d++)
        at += w_idx[d] * dilations[d] * in_stride[d];
      if (real) {
        acc_r = combine_real(a->function, acc_r, kiln_tensor_real(&in, at));
        /* the accumulator has the tensor's type */
        if (in.dtype == KILN_FLOAT32) acc_r = (float)acc_r;
      } else {
        /* sums and products wrap modulo 2^64 here and to the type's
         * width when stored: the same low bits as wrapping every step */
        acc_i = combine_int(a->function, acc_i, kiln_tensor_int(&in, at));
      }
      for (int d = rank - 1; d >= 0; d--) {
        if (++w_idx[d] < shape[d]) break;
        w_idx[d] = 0;
      }
    }
    if (in.dtype == KILN_FLOAT32)
      ((float *)out.data)[o] = (float)acc_r;
    else if (in.dtype == KILN_FLOAT64)
      ((double *)out.data)[o] = acc_r;
    else
      kiln_store_int(&out, o, acc_i);
    for (int d = rank - 1; d >= 0; d--) {
      if (++o_idx[d] < out.dims[d]) break;
      o_idx[d] = 0;
    }
  }
  return NULL;
}
