/* segment.c - SEGMENT_SUM and UNSORTED_SEGMENT_SUM / PROD / MAX / MIN:
 * reductions of data rows into segments named by an id per row, float32
 * and int32 as in TFLite. SEGMENT_SUM's output has max(id) + 1 rows, a
 * size only the ids' values give: when they are known only at invoke, the
 * output is sized then (ARCHITECTURE.md, "Outputs sized at invoke"), and
 * the ids are checked then. The unsorted forms take num_segments, which
 * must be known. Segments no row reaches hold the
 * reduction's identity: 0, 1, the lowest and the highest value. */
#include <float.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

typedef enum reduction { SEG_SUM, SEG_PROD, SEG_MAX, SEG_MIN } reduction;

static const kiln_dtype_mask kSegmentDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_INT32);

static kiln_status *check_segment_data(const kiln_op_ctx *ctx, int inputs) {
  KILN_TRY(kiln_check_arity(ctx, inputs, inputs, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "data"));
  KILN_TRY(kiln_require_input(ctx, 1, "segment_ids"));
  const kiln_tensor *data = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype_in(data, kSegmentDtypes, "input 0 (data)"));
  KILN_TRY(kiln_require_same_dtype(data, ctx->outputs[0], "input 0 (data)"));
  KILN_TRY(
      kiln_require_dtype(ctx->inputs[1], KILN_INT32, "input 1 (segment_ids)"));
  if (data->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (data) is a scalar; expected rank >= 1");
  return NULL;
}

/* Sets out to [rows] + data.shape[ids_rank:]. */
static kiln_status *set_segment_shape(const kiln_op_ctx *ctx, int ids_rank,
                                      int64_t rows) {
  const kiln_tensor *data = ctx->inputs[0];
  int64_t dims[KILN_MAX_RANK];
  int n = 0;
  dims[n++] = rows;
  for (int k = ids_rank; k < data->rank; k++) dims[n++] = data->dims[k];
  KILN_TRY(kiln_check_shape(dims, n, data->dtype, "segment count"));
  kiln_set_shape(ctx->outputs[0], dims, n);
  return NULL;
}

static void fill_identity(kiln_tensor *out, reduction how) {
  int64_t n = kiln_tensor_numel(out);
  if (out->dtype == KILN_FLOAT32) {
    float v = how == SEG_SUM    ? 0.0f
              : how == SEG_PROD ? 1.0f
              : how == SEG_MAX  ? -FLT_MAX
                                : FLT_MAX;
    for (int64_t i = 0; i < n; i++) ((float *)out->data)[i] = v;
  } else {
    int32_t v = how == SEG_SUM    ? 0
                : how == SEG_PROD ? 1
                : how == SEG_MAX  ? INT32_MIN
                                  : INT32_MAX;
    for (int64_t i = 0; i < n; i++) ((int32_t *)out->data)[i] = v;
  }
}

/* out row `segment` (of `width` elements) combined with data row `row`. */
static void combine_row(kiln_tensor *out, int64_t segment,
                        const kiln_tensor *data, int64_t row, int64_t width,
                        reduction how) {
  if (out->dtype == KILN_FLOAT32) {
    float *o = (float *)out->data + segment * width;
    const float *d = (const float *)data->data + row * width;
    for (int64_t j = 0; j < width; j++) {
      switch (how) {
        case SEG_SUM:
          o[j] += d[j];
          break;
        case SEG_PROD:
          o[j] *= d[j];
          break;
        case SEG_MAX:
          o[j] = d[j] > o[j] ? d[j] : o[j];
          break;
        case SEG_MIN:
          o[j] = d[j] < o[j] ? d[j] : o[j];
          break;
      }
    }
    return;
  }
  int32_t *o = (int32_t *)out->data + segment * width;
  const int32_t *d = (const int32_t *)data->data + row * width;
  for (int64_t j = 0; j < width; j++) {
    switch (how) {
      case SEG_SUM: /* wrapping, as TFLite's int32 arithmetic does */
        o[j] = (int32_t)((uint32_t)o[j] + (uint32_t)d[j]);
        break;
      case SEG_PROD:
        o[j] = (int32_t)((uint32_t)o[j] * (uint32_t)d[j]);
        break;
      case SEG_MAX:
        o[j] = d[j] > o[j] ? d[j] : o[j];
        break;
      case SEG_MIN:
        o[j] = d[j] < o[j] ? d[j] : o[j];
        break;
    }
  }
}

/* ------------------------------------------------------------- SEGMENT_SUM */

kiln_status *kiln_shape_segment_sum(const kiln_op_ctx *ctx) {
  KILN_TRY(check_segment_data(ctx, 2));
  const kiln_tensor *data = ctx->inputs[0], *ids = ctx->inputs[1];
  char a[KILN_DIMS_STR_SIZE];
  if (ids->rank != 1 || ids->dims[0] != data->dims[0])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (segment_ids) has shape %s; expected [%lld], "
                      "one id per row of input 0 (data)",
                      kiln_dims_str(ids->dims, ids->rank, a, sizeof a),
                      (long long)data->dims[0]);
  if (!ids->data) { /* [last id + 1] + data.shape[1:], at invoke */
    KILN_TRY(set_segment_shape(ctx, 1, 0));
    ctx->outputs[0]->dims[0] = KILN_DIM_AT_INVOKE;
    return NULL;
  }
  int64_t previous = 0;
  for (int64_t i = 0; i < ids->dims[0]; i++) {
    int64_t id = ((const int32_t *)ids->data)[i];
    if (id < previous)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 1 (segment_ids) entry %lld is %lld; ids must "
                        "be >= 0 and sorted",
                        (long long)i, (long long)id);
    previous = id;
  }
  return set_segment_shape(ctx, 1, ids->dims[0] ? previous + 1 : 0);
}

kiln_status *kiln_ref_segment_sum(const kiln_op_ctx *ctx) {
  const kiln_tensor *data = ctx->inputs[0], *ids = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int64_t width = kiln_dims_product(data->dims, 1, data->rank);
  fill_identity(out, SEG_SUM);
  for (int64_t i = 0; i < data->dims[0]; i++)
    combine_row(out, ((const int32_t *)ids->data)[i], data, i, width, SEG_SUM);
  return NULL;
}

/* ---------------------------------------------------- UNSORTED_SEGMENT_* */

static kiln_status *shape_unsorted(const kiln_op_ctx *ctx) {
  KILN_TRY(check_segment_data(ctx, 3));
  const kiln_tensor *data = ctx->inputs[0], *ids = ctx->inputs[1];
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  bool prefix = ids->rank >= 1 && ids->rank <= data->rank;
  for (int k = 0; prefix && k < ids->rank; k++)
    prefix = ids->dims[k] == data->dims[k];
  if (!prefix)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (segment_ids) has shape %s; it must be a "
                      "leading part of input 0 (data)'s shape %s",
                      kiln_dims_str(ids->dims, ids->rank, a, sizeof a),
                      kiln_dims_str(data->dims, data->rank, b, sizeof b));
  int64_t segments = 0;
  KILN_TRY(kiln_read_int_scalar(ctx, 2, "num_segments", &segments));
  if (segments < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "input 2 (num_segments) is %lld",
                      (long long)segments);
  return set_segment_shape(ctx, ids->rank, segments);
}

/* Rows with a negative id are dropped (TensorFlow's rule); an id at or
 * past num_segments fails the invoke. */
static kiln_status *run_unsorted(const kiln_op_ctx *ctx, reduction how,
                                 const char *op) {
  const kiln_tensor *data = ctx->inputs[0], *ids = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int64_t rows = kiln_tensor_numel(ids), segments = out->dims[0];
  int64_t width = kiln_dims_product(data->dims, ids->rank, data->rank);
  fill_identity(out, how);
  for (int64_t i = 0; i < rows; i++) {
    int64_t id = ((const int32_t *)ids->data)[i];
    if (id < 0) continue;
    if (id >= segments)
      return kiln_error(KILN_ERR_RUNTIME,
                        "%s: segment id %lld at position %lld of input 1 "
                        "(segment_ids) is not below num_segments %lld",
                        op, (long long)id, (long long)i, (long long)segments);
    combine_row(out, id, data, i, width, how);
  }
  return NULL;
}

kiln_status *kiln_shape_unsorted_segment(const kiln_op_ctx *ctx) {
  return shape_unsorted(ctx);
}

kiln_status *kiln_ref_unsorted_segment_sum(const kiln_op_ctx *ctx) {
  return run_unsorted(ctx, SEG_SUM, "UNSORTED_SEGMENT_SUM");
}

kiln_status *kiln_ref_unsorted_segment_prod(const kiln_op_ctx *ctx) {
  return run_unsorted(ctx, SEG_PROD, "UNSORTED_SEGMENT_PROD");
}

kiln_status *kiln_ref_unsorted_segment_max(const kiln_op_ctx *ctx) {
  return run_unsorted(ctx, SEG_MAX, "UNSORTED_SEGMENT_MAX");
}

kiln_status *kiln_ref_unsorted_segment_min(const kiln_op_ctx *ctx) {
  return run_unsorted(ctx, SEG_MIN, "UNSORTED_SEGMENT_MIN");
}
