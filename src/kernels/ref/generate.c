/* generate.c - reference kernels of the generators added for issue 9: FILL
 * (a shape and a scalar value) and RANGE (start, limit, delta). Their output
 * shapes come from input values. FILL's dims must be known at prepare; the
 * runtime then computes the output at prepare too when the value inputs are
 * known, as in Keras 3's shape arithmetic. RANGE's output is sized at
 * invoke when start, limit or delta is known only then (ARCHITECTURE.md,
 * "Outputs sized at invoke"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* Outputs bigger than this many elements are refused at prepare rather than
 * planned: TFLite's dimensions are int, and a crafted FILL or RANGE must not
 * make kiln try to allocate without bound. */
#define MAX_GENERATED_ELEMENTS ((int64_t)INT32_MAX)

/* Every fixed-size type LiteRT's FILL copies (it only repeats the value's
 * bytes, so a quantized value fills an output of the same quantization). */
#define FILL_TYPES                                                         \
  (KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) | \
   KILN_DT(KILN_INT8) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT16) |        \
   KILN_DT(KILN_UINT16) | KILN_DT(KILN_INT32) | KILN_DT(KILN_UINT32) |     \
   KILN_DT(KILN_INT64) | KILN_DT(KILN_UINT64) | KILN_DT(KILN_BOOL) |       \
   KILN_DT(KILN_COMPLEX64))

kiln_status *kiln_shape_fill(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_known(ctx, 0, "dims"));
  KILN_TRY(kiln_require_input(ctx, 1, "value"));
  const kiln_tensor *dims = ctx->inputs[0], *value = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  char buf[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype_in(
      dims, KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64), "input 0 (dims)"));
  if (dims->rank != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (dims) must be 1-D, has shape %s",
                      kiln_dims_str(dims->dims, dims->rank, buf, sizeof buf));
  if (dims->dims[0] > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (dims) has %lld entries; kiln supports up to "
                      "rank %d",
                      (long long)dims->dims[0], KILN_MAX_RANK);
  KILN_TRY(kiln_require_dtype_in(value, FILL_TYPES, "input 1 (value)"));
  KILN_TRY(kiln_require_same_quant(value, out, "input 1 (value)"));
  if (kiln_tensor_numel(value) != 1 || value->rank > 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (value) must be a scalar, has shape %s",
                      kiln_dims_str(value->dims, value->rank, buf, sizeof buf));
  KILN_TRY(kiln_require_output_dtype(ctx, value->dtype));
  int rank = (int)dims->dims[0];
  int64_t shape[KILN_MAX_RANK], total = 1;
  for (int d = 0; d < rank; d++) {
    shape[d] = kiln_tensor_int(dims, d);
    if (shape[d] < 0 || shape[d] > MAX_GENERATED_ELEMENTS)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input 0 (dims) element %d is %lld; it must be in "
                        "[0, %lld]",
                        d, (long long)shape[d],
                        (long long)MAX_GENERATED_ELEMENTS);
    total = shape[d] == 0 ? 0 : total;
    if (total && shape[d] > MAX_GENERATED_ELEMENTS / total)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input 0 (dims) asks for more than %lld elements",
                        (long long)MAX_GENERATED_ELEMENTS);
    total *= shape[d];
  }
  kiln_set_shape(out, shape, rank);
  return NULL;
}

kiln_status *kiln_ref_fill(const kiln_op_ctx *ctx) {
  kiln_tensor *out = ctx->outputs[0];
  kiln_fill_elements(out->data, kiln_tensor_numel(out), ctx->inputs[1]->data,
                     kiln_dtype_size(out->dtype));
  return NULL;
}

/* ----------------------------------------------------------------- RANGE */

#define RANGE_TYPES \
  (KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64))

static kiln_status *range_count(kiln_tensor *const *in, int64_t *count) {
  if (in[0]->dtype == KILN_FLOAT32) {
    double start = ((const float *)in[0]->data)[0],
           limit = ((const float *)in[1]->data)[0],
           delta = ((const float *)in[2]->data)[0];
    if (delta == 0.0 || isnan(delta) || !isfinite(start) || !isfinite(limit))
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "start %g, limit %g and delta %g give no range", start,
                        limit, delta);
    if ((start > limit && delta > 0) || (start < limit && delta < 0))
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "delta %g points away from limit %g (start %g)", delta,
                        limit, start);
    /* In float as TFLite does: ceil(|(limit - start) / delta|). */
    double n =
        ceil(fabs((double)(((float)limit - (float)start) / (float)delta)));
    if (!(n <= (double)MAX_GENERATED_ELEMENTS))
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "the range has more than %lld elements",
                        (long long)MAX_GENERATED_ELEMENTS);
    *count = (int64_t)n;
    return NULL;
  }
  int64_t start = kiln_tensor_int(in[0], 0), limit = kiln_tensor_int(in[1], 0),
          delta = kiln_tensor_int(in[2], 0);
  if (delta == 0)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "input 2 (delta) is 0");
  if ((start > limit && delta > 0) || (start < limit && delta < 0))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "delta %lld points away from limit %lld (start %lld)",
                      (long long)delta, (long long)limit, (long long)start);
  /* Spans in unsigned arithmetic: limit - start may not fit int64. */
  uint64_t span = start < limit ? (uint64_t)limit - (uint64_t)start
                                : (uint64_t)start - (uint64_t)limit;
  uint64_t step = delta < 0 ? 0u - (uint64_t)delta : (uint64_t)delta;
  uint64_t n = span / step + (span % step != 0);
  if (n > (uint64_t)MAX_GENERATED_ELEMENTS)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "the range has more than %lld elements",
                      (long long)MAX_GENERATED_ELEMENTS);
  *count = (int64_t)n;
  return NULL;
}

kiln_status *kiln_shape_range(const kiln_op_ctx *ctx) {
  static const char *const names[3] = {"input 0 (start)", "input 1 (limit)",
                                       "input 2 (delta)"};
  static const char *const roles[3] = {"start", "limit", "delta"};
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  char buf[KILN_DIMS_STR_SIZE];
  bool known = true;
  for (int k = 0; k < 3; k++) {
    KILN_TRY(kiln_require_input(ctx, k, roles[k]));
    known = known && ctx->inputs[k]->data;
    const kiln_tensor *t = ctx->inputs[k];
    KILN_TRY(kiln_require_dtype_in(t, RANGE_TYPES, names[k]));
    if (t->dtype != ctx->inputs[0]->dtype)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s has type %s but input 0 (start) has type %s",
                        names[k], kiln_dtype_name(t->dtype),
                        kiln_dtype_name(ctx->inputs[0]->dtype));
    if (kiln_tensor_numel(t) != 1 || t->rank > 1)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s must be a scalar, has shape %s", names[k],
                        kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  }
  KILN_TRY(kiln_require_output_dtype(ctx, ctx->inputs[0]->dtype));
  if (!known) { /* counted at invoke, from the values */
    kiln_defer_output(ctx->outputs[0], 1);
    return NULL;
  }
  int64_t count = 0;
  KILN_TRY(range_count(ctx->inputs, &count));
  kiln_set_shape(ctx->outputs[0], &count, 1);
  return NULL;
}

/* start, start + delta, ... by repeated addition in the type, as TFLite
 * steps (in float the error accumulates the same way). */
kiln_status *kiln_ref_range(const kiln_op_ctx *ctx) {
  kiln_tensor *out = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(out);
  if (out->dtype == KILN_FLOAT32) {
    float v = ((const float *)ctx->inputs[0]->data)[0],
          d = ((const float *)ctx->inputs[2]->data)[0];
    for (int64_t i = 0; i < n; i++, v += d) ((float *)out->data)[i] = v;
    return NULL;
  }
  uint64_t v = (uint64_t)kiln_tensor_int(ctx->inputs[0], 0),
           d = (uint64_t)kiln_tensor_int(ctx->inputs[2], 0);
  for (int64_t i = 0; i < n; i++, v += d) kiln_store_int(out, i, (int64_t)v);
  return NULL;
}
