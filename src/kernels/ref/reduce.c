/* reduce.c - reference softmax family, L2 norm, reductions and ARG_MAX. */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/half_math.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

/* ------------------------------------------------- softmax, L2 norm */

kiln_status *kiln_shape_softmax(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(x, KILN_FLOAT32, "input 0 (x)"));
  KILN_TRY(kiln_require_dtype(out, KILN_FLOAT32, "output 0"));
  if (x->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) must have rank >= 1, has shape []");
  kiln_set_shape(out, x->dims, x->rank);
  return NULL;
}

/* float16 SOFTMAX (half_math.c): float32's checks on half tensors. */
static kiln_status *shape_softmax_half(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT16, "output 0"));
  if (x->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) must have rank >= 1, has shape []");
  kiln_set_shape(ctx->outputs[0], x->dims, x->rank);
  return NULL;
}

/* SOFTMAX also has int8 / uint8 / int16 and float16 forms. */
kiln_status *kiln_shape_softmax_q(const kiln_op_ctx *ctx) {
  if (!kiln_q_node(ctx)) {
    KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
    KILN_TRY(kiln_require_input(ctx, 0, "x"));
    if (ctx->inputs[0]->dtype == KILN_FLOAT16) return shape_softmax_half(ctx);
    return kiln_shape_softmax(ctx);
  }
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  const kiln_tensor *x = ctx->inputs[0];
  if (x->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) must have rank >= 1, has shape []");
  KILN_TRY(kiln_qshape_softmax(ctx));
  kiln_set_shape(ctx->outputs[0], x->dims, x->rank);
  return NULL;
}

/* LOG_SOFTMAX: float32, and int8 / uint8 in TFLite's fixed point. */
kiln_status *kiln_shape_log_softmax(const kiln_op_ctx *ctx) {
  if (!kiln_q_node(ctx)) return kiln_shape_softmax(ctx);
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_qshape_log_softmax(ctx));
  kiln_set_shape(ctx->outputs[0], ctx->inputs[0]->dims, ctx->inputs[0]->rank);
  return NULL;
}

static kiln_activation l2_activation(const kiln_op_ctx *ctx) {
  const kiln_activation_attrs *attrs = ctx->attrs;
  return attrs ? attrs->activation : KILN_ACT_NONE;
}

kiln_status *kiln_shape_l2_normalization(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) {
    KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
    const kiln_tensor *x = ctx->inputs[0];
    if (x->rank < 1)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (x) must have rank >= 1, has shape []");
    KILN_TRY(kiln_qshape_l2norm(ctx));
    kiln_set_shape(ctx->outputs[0], x->dims, x->rank);
    return NULL;
  }
  KILN_TRY(kiln_shape_softmax(ctx));
  return kiln_check_activation(l2_activation(ctx));
}

/* Rows are the last axis; the rest is flattened. */
static int64_t row_length(const kiln_tensor *t) { return t->dims[t->rank - 1]; }

/* For beta < 0 the largest beta*x comes from the smallest x, and that is the
 * shift that keeps every exponent <= 0. */
static void softmax_row(const float *x, float *y, int64_t n, double beta) {
  if (n == 0) return;
  float shift = x[0];
  for (int64_t i = 1; i < n; i++)
    if (beta >= 0.0 ? x[i] > shift : x[i] < shift) shift = x[i];
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += exp(((double)x[i] - shift) * beta);
  for (int64_t i = 0; i < n; i++)
    y[i] = (float)(exp(((double)x[i] - shift) * beta) / sum);
}

static void log_softmax_row(const float *x, float *y, int64_t n) {
  if (n == 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; i++)
    if (x[i] > max) max = x[i];
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - max);
  double log_sum = log(sum);
  for (int64_t i = 0; i < n; i++) y[i] = (float)((double)x[i] - max - log_sum);
}

/* TFLite clamps the norm (not its square) at 1e-6: an all-zero row gives
 * zeros rather than NaN. */
static void l2_row(const float *x, float *y, int64_t n, kiln_activation act) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
  double norm = fmax(sqrt(sum), 1e-6);
  for (int64_t i = 0; i < n; i++)
    y[i] = kiln_activate((float)(x[i] / norm), act);
}

kiln_status *kiln_ref_softmax(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_softmax(ctx);
  const kiln_softmax_attrs *attrs = ctx->attrs;
  double beta = attrs ? attrs->beta : 1.0; /* TFLite's default */
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    kiln_half_softmax(ctx, (float)beta);
    return NULL;
  }
  const kiln_tensor *x = ctx->inputs[0];
  int64_t n = row_length(x), total = kiln_tensor_numel(x);
  const float *in = x->data;
  float *out = ctx->outputs[0]->data;
  for (int64_t r = 0; n > 0 && r < total; r += n)
    softmax_row(in + r, out + r, n, beta);
  return NULL;
}

kiln_status *kiln_ref_log_softmax(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_log_softmax(ctx);
  const kiln_tensor *x = ctx->inputs[0];
  int64_t n = row_length(x), total = kiln_tensor_numel(x);
  const float *in = x->data;
  float *out = ctx->outputs[0]->data;
  for (int64_t r = 0; n > 0 && r < total; r += n)
    log_softmax_row(in + r, out + r, n);
  return NULL;
}

kiln_status *kiln_ref_l2_normalization(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_l2norm(ctx);
  kiln_activation act = l2_activation(ctx); /* checked at prepare */
  const kiln_tensor *x = ctx->inputs[0];
  int64_t n = row_length(x), total = kiln_tensor_numel(x);
  const float *in = x->data;
  float *out = ctx->outputs[0]->data;
  for (int64_t r = 0; n > 0 && r < total; r += n)
    l2_row(in + r, out + r, n, act);
  return NULL;
}

/* ----------------------------------------------------------- reductions */

static bool is_index_dtype(kiln_dtype t) {
  return t == KILN_INT32 || t == KILN_INT64;
}

kiln_status *kiln_mark_axes(const kiln_op_ctx *ctx, bool *reduced) {
  const kiln_tensor *axes = ctx->inputs[1];
  int rank = ctx->inputs[0]->rank;
  char buf[KILN_DIMS_STR_SIZE];
  if (axes->rank > 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (axes) must be a scalar or 1-D, has shape %s",
                      kiln_dims_str(axes->dims, axes->rank, buf, sizeof buf));
  for (int d = 0; d < KILN_MAX_RANK; d++) reduced[d] = false;
  int64_t n = kiln_tensor_numel(axes);
  for (int64_t i = 0; i < n; i++) {
    int axis = 0;
    KILN_TRY(kiln_status_wrap(
        kiln_normalize_axis(kiln_tensor_int(axes, i), rank, "axis", &axis),
        "input 1 (axes) element %lld for input 0 (x) of shape %s", (long long)i,
        kiln_dims_str(ctx->inputs[0]->dims, rank, buf, sizeof buf)));
    reduced[axis] = true;
  }
  return NULL;
}

void kiln_set_reduced_shape(const kiln_op_ctx *ctx, const bool *reduced) {
  const kiln_reduce_attrs *attrs = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0];
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; d++) {
    if (!reduced[d])
      dims[rank++] = x->dims[d];
    else if (attrs && attrs->keep_dims)
      dims[rank++] = 1;
  }
  kiln_set_shape(ctx->outputs[0], dims, rank);
}

/* Marks the axes listed by input 1 (negative counts from the end; repeats
 * are harmless). */
static kiln_status *read_axes(const kiln_op_ctx *ctx, bool *reduced) {
  const kiln_tensor *axes = ctx->inputs[1];
  if (!is_index_dtype(axes->dtype))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (axes) has type %s; expected int32 or int64",
                      kiln_dtype_name(axes->dtype));
  return kiln_mark_axes(ctx, reduced);
}

kiln_status *kiln_shape_reduce(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_known(ctx, 1, "axes"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  if (kiln_q_node(ctx))
    KILN_TRY(kiln_qshape_reduce(ctx, false));
  else if (x->dtype != KILN_FLOAT32 && !is_index_dtype(x->dtype))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; expected float32, int32 or "
                      "int64",
                      kiln_dtype_name(x->dtype));
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s like input 0 (x)",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  bool reduced[KILN_MAX_RANK];
  KILN_TRY(read_axes(ctx, reduced));
  kiln_set_reduced_shape(ctx, reduced);
  return NULL;
}

/* REDUCE_MAX copies a stored value, so a quantized one needs the output's
 * quantization equal to the input's (TFLite's rule). */
kiln_status *kiln_shape_reduce_max(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_reduce(ctx));
  if (kiln_q_node(ctx)) return kiln_qshape_reduce(ctx, true);
  return NULL;
}

/* An odometer over some of a tensor's axes, tracking the element offset. */
typedef struct walk {
  int n;
  int64_t dims[KILN_MAX_RANK], strides[KILN_MAX_RANK], index[KILN_MAX_RANK];
  int64_t offset;
} walk;

static void walk_next(walk *w) {
  for (int d = w->n - 1; d >= 0; d--) {
    w->offset += w->strides[d];
    if (++w->index[d] < w->dims[d]) return;
    w->offset -= w->strides[d] * w->dims[d];
    w->index[d] = 0;
  }
}

/* Splits the input's axes into kept ones (walked once per output element,
 * in output order) and reduced ones (walked for each output element). */
static int64_t plan_reduction(const kiln_op_ctx *ctx, walk *kept,
                              walk *reduced) {
  const kiln_tensor *x = ctx->inputs[0];
  bool is_reduced[KILN_MAX_RANK] = {false};
  kiln_status_free(read_axes(ctx, is_reduced)); /* checked by shape */
  memset(kept, 0, sizeof *kept);
  memset(reduced, 0, sizeof *reduced);
  int64_t stride = 1, count = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    walk *w = is_reduced[d] ? reduced : kept;
    if (is_reduced[d]) count *= x->dims[d];
    w->dims[w->n] = x->dims[d];
    w->strides[w->n++] = stride;
    stride *= x->dims[d];
  }
  /* axes were pushed last-first; put them back in order */
  for (int k = 0; k < 2; k++) {
    walk *w = k ? reduced : kept;
    for (int i = 0, j = w->n - 1; i < j; i++, j--) {
      int64_t dim = w->dims[i], str = w->strides[i];
      w->dims[i] = w->dims[j], w->strides[i] = w->strides[j];
      w->dims[j] = dim, w->strides[j] = str;
    }
  }
  return count;
}

typedef enum reduce_kind { REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX } reduce_kind;

/* Sums in double; max propagates NaN; the max of nothing is -inf. */
static float reduce_real(const float *x, walk *r, int64_t count,
                         reduce_kind kind) {
  double acc = kind == REDUCE_MAX ? -INFINITY : 0.0;
  for (int64_t k = 0; k < count; k++, walk_next(r)) {
    double v = x[r->offset];
    if (kind != REDUCE_MAX)
      acc += v;
    else if (v > acc || isnan(v))
      acc = v;
  }
  if (kind == REDUCE_MEAN) return count ? (float)(acc / (double)count) : NAN;
  return (float)acc;
}

/* Sums wrap; the mean truncates toward zero like TF's integer Mean; the max
 * of nothing is the type's lowest value. */
static int64_t reduce_int(const kiln_tensor *t, int64_t base, walk *r,
                          int64_t count, reduce_kind kind) {
  int64_t acc = kind != REDUCE_MAX       ? 0
                : t->dtype == KILN_INT32 ? INT32_MIN
                                         : INT64_MIN;
  for (int64_t k = 0; k < count; k++, walk_next(r)) {
    int64_t v = kiln_tensor_int(t, base + r->offset);
    if (kind != REDUCE_MAX)
      acc = (int64_t)((uint64_t)acc + (uint64_t)v);
    else if (v > acc)
      acc = v;
  }
  return kind == REDUCE_MEAN && count ? acc / count : acc;
}

static void store_index(kiln_tensor *t, int64_t i, int64_t v) {
  if (t->dtype == KILN_INT32)
    ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)v;
  else
    ((int64_t *)t->data)[i] = v;
}

/* The int64 sum, or the max, of the stored values of a quantized input. */
static int64_t reduce_stored(const kiln_tensor *t, int64_t base, walk *r,
                             int64_t count, bool max) {
  int64_t acc = max ? INT64_MIN : 0;
  for (int64_t k = 0; k < count; k++, walk_next(r)) {
    int64_t v = kiln_q_load(t, base + r->offset);
    if (!max)
      acc += v;
    else if (v > acc)
      acc = v;
  }
  return acc;
}

static kiln_status *run_reduce(const kiln_op_ctx *ctx, reduce_kind kind) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  walk kept, reduced;
  int64_t count = plan_reduction(ctx, &kept, &reduced);
  int64_t n = kiln_tensor_numel(out);
  const bool quantized = kiln_q_node(ctx);
  kiln_q_reduce plan = {0};
  if (quantized && kind != REDUCE_MAX)
    KILN_TRY(kiln_q_reduce_plan(ctx, kind == REDUCE_MEAN, count, &plan));
  for (int64_t o = 0; o < n; o++, walk_next(&kept)) {
    memset(reduced.index, 0, sizeof reduced.index);
    reduced.offset = 0;
    if (quantized) {
      const int64_t v =
          reduce_stored(x, kept.offset, &reduced, count, kind == REDUCE_MAX);
      int32_t lowest = 0, highest = 0;
      kiln_quant_type_range(out->dtype, &lowest, &highest);
      /* Nothing reduced: the type's lowest value for max (as for the
       * integer types), the zero point (real 0) for sums and means. */
      if (!count)
        kiln_q_store(out, o, kind == REDUCE_MAX ? lowest : plan.out_zero_point);
      else
        kiln_q_store(
            out, o,
            kind == REDUCE_MAX ? (int32_t)v : kiln_q_reduce_value(&plan, v));
    } else if (x->dtype == KILN_FLOAT32) {
      const float *base = (const float *)x->data + kept.offset;
      ((float *)out->data)[o] = reduce_real(base, &reduced, count, kind);
    } else {
      store_index(out, o, reduce_int(x, kept.offset, &reduced, count, kind));
    }
  }
  return NULL;
}

kiln_status *kiln_ref_sum(const kiln_op_ctx *ctx) {
  return run_reduce(ctx, REDUCE_SUM);
}
kiln_status *kiln_ref_mean(const kiln_op_ctx *ctx) {
  return run_reduce(ctx, REDUCE_MEAN);
}
kiln_status *kiln_ref_reduce_max(const kiln_op_ctx *ctx) {
  return run_reduce(ctx, REDUCE_MAX);
}

/* -------------------------------------------------------------- ARG_MAX */

/* ARG_MAX and ARG_MIN (reduce_more.c) share the axis, the output shape
 * and the walk; each checks its own dtypes first. */
kiln_status *kiln_read_one_axis(const kiln_op_ctx *ctx, int *out_axis) {
  const kiln_tensor *axis = ctx->inputs[1];
  char buf[KILN_DIMS_STR_SIZE];
  if (axis->rank > 1 || kiln_tensor_numel(axis) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (axis) must hold one value, has shape %s",
                      kiln_dims_str(axis->dims, axis->rank, buf, sizeof buf));
  return kiln_status_wrap(
      kiln_normalize_axis(kiln_tensor_int(axis, 0), ctx->inputs[0]->rank,
                          "axis", out_axis),
      "input 1 (axis) for input 0 (x) of shape %s",
      kiln_dims_str(ctx->inputs[0]->dims, ctx->inputs[0]->rank, buf,
                    sizeof buf));
}

kiln_status *kiln_shape_arg_reduce(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  char buf[KILN_DIMS_STR_SIZE];
  int axis = 0;
  KILN_TRY(kiln_read_one_axis(ctx, &axis));
  if (x->dims[axis] == 0)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input 0 (x) of shape %s is empty along axis %d",
                      kiln_dims_str(x->dims, x->rank, buf, sizeof buf), axis);
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; d++)
    if (d != axis) dims[rank++] = x->dims[d];
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

/* Whether element a beats b, as TFLite compares: strictly, so the first of
 * equal extremes wins and NaN never beats anything (nor is beaten when it
 * comes first). */
static bool arg_beats(const kiln_tensor *t, int64_t a, int64_t b,
                      bool smallest) {
  if (t->dtype == KILN_FLOAT32) {
    float fa = ((const float *)t->data)[a], fb = ((const float *)t->data)[b];
    return smallest ? fa < fb : fa > fb;
  }
  int64_t ia = kiln_tensor_int(t, a), ib = kiln_tensor_int(t, b);
  return smallest ? ia < ib : ia > ib;
}

void kiln_ref_arg_reduce(const kiln_op_ctx *ctx, bool smallest) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int axis = 0;
  kiln_status_free(kiln_read_one_axis(ctx, &axis)); /* checked by shape */
  int64_t outer = 1, inner = 1, n = x->dims[axis];
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * n * inner + i, best = 0;
      for (int64_t k = 1; k < n; k++)
        if (arg_beats(x, base + k * inner, base + best * inner, smallest))
          best = k;
      store_index(out, o * inner + i, best);
    }
  }
}

static bool arg_max_dtype(kiln_dtype t) {
  return t == KILN_FLOAT32 || t == KILN_INT8 || t == KILN_UINT8 ||
         t == KILN_INT16 || t == KILN_BOOL || is_index_dtype(t);
}

kiln_status *kiln_shape_arg_max(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_known(ctx, 1, "axis"));
  const kiln_tensor *x = ctx->inputs[0], *axis = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  if (!arg_max_dtype(x->dtype))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; expected float32, bool or an "
                      "integer type",
                      kiln_dtype_name(x->dtype));
  if (!is_index_dtype(out->dtype))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; expected int32 or int64",
                      kiln_dtype_name(out->dtype));
  if (!is_index_dtype(axis->dtype))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (axis) has type %s; expected int32 or int64",
                      kiln_dtype_name(axis->dtype));
  return kiln_shape_arg_reduce(ctx);
}

kiln_status *kiln_ref_arg_max(const kiln_op_ctx *ctx) {
  kiln_ref_arg_reduce(ctx, false);
  return NULL;
}
