/* data_shaped.c - WHERE and UNIQUE, whose output shapes depend on their
 * input's values. When the input is known at prepare (a constant, or
 * computed from shapes) the shape function sizes the output then and the
 * session evaluates the node at prepare; otherwise the output is sized at
 * invoke: the shape function defers it, and the session runs it again at
 * invoke with the input's data there (ARCHITECTURE.md, "Outputs sized at
 * invoke"), so the counting below runs once there and once in the
 * kernel. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* Element i of t is non-zero (any bit set, except float -0.0). */
static bool is_true(const kiln_tensor *t, int64_t i) {
  if (t->dtype == KILN_FLOAT32) return ((const float *)t->data)[i] != 0.0f;
  size_t elem = kiln_dtype_size(t->dtype);
  const unsigned char *p = (const unsigned char *)t->data + (size_t)i * elem;
  for (size_t b = 0; b < elem; b++)
    if (p[b]) return true;
  return false;
}

/* ------------------------------------------------------------------- WHERE */

static const kiln_dtype_mask kWhereDtypes =
    KILN_DT(KILN_BOOL) | KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_INT8) |
    KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64) |
    KILN_DT(KILN_UINT32);

kiln_status *kiln_shape_where(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "condition"));
  const kiln_tensor *in = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype_in(in, kWhereDtypes, "input 0 (condition)"));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_INT64, "output 0"));
  if (!in->data) { /* [true elements, rank], counted at invoke */
    kiln_defer_output(ctx->outputs[0], 2);
    ctx->outputs[0]->dims[1] = in->rank;
    return NULL;
  }
  int64_t count = 0;
  for (int64_t i = 0; i < kiln_tensor_numel(in); i++) count += is_true(in, i);
  int64_t dims[2] = {count, in->rank};
  kiln_set_shape(ctx->outputs[0], dims, 2);
  return NULL;
}

/* The coordinates of each true element, in row-major order. */
kiln_status *kiln_ref_where(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t *dst = out->data, index[KILN_MAX_RANK] = {0};
  int64_t written = 0, limit = out->dims[0];
  for (int64_t i = 0; i < kiln_tensor_numel(in); i++) {
    if (is_true(in, i)) {
      if (written++ == limit) break; /* the shape was computed from in */
      memcpy(dst, index, sizeof(int64_t) * (size_t)in->rank);
      dst += in->rank;
    }
    kiln_next_index(index, in->dims, in->rank);
  }
  return NULL;
}

/* ------------------------------------------------------------------ UNIQUE */

static const kiln_dtype_mask kUniqueDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT_INTS;

/* Unique runs in O(n * unique) without scratch; this bounds its time. */
#define UNIQUE_MAX_ELEMENTS 16384

static bool same_value(const kiln_tensor *t, int64_t i, int64_t j) {
  if (t->dtype == KILN_FLOAT32)
    return ((const float *)t->data)[i] == ((const float *)t->data)[j];
  return kiln_tensor_int(t, i) == kiln_tensor_int(t, j);
}

/* Position of the first element equal to element i (i itself if none
 * earlier). */
static int64_t first_equal(const kiln_tensor *t, int64_t i) {
  for (int64_t j = 0; j < i; j++)
    if (same_value(t, j, i)) return j;
  return i;
}

kiln_status *kiln_shape_unique(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 2));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0], *idx = ctx->outputs[1];
  KILN_TRY(kiln_require_dtype_in(in, kUniqueDtypes, "input 0 (x)"));
  KILN_TRY(kiln_require_same_dtype(in, y, "input 0 (x)"));
  KILN_TRY(kiln_require_same_quant(in, y, "input 0 (x)"));
  if (idx->dtype != KILN_INT32 && idx->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 1 (idx) has type %s; expected int32 or int64",
                      kiln_dtype_name(idx->dtype));
  char buf[KILN_DIMS_STR_SIZE];
  if (in->rank != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) has shape %s; expected a vector",
                      kiln_dims_str(in->dims, in->rank, buf, sizeof buf));
  int64_t n = in->dims[0], count = 0;
  if (n > UNIQUE_MAX_ELEMENTS)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has %lld elements; at most %d supported",
                      (long long)n, UNIQUE_MAX_ELEMENTS);
  kiln_set_shape(idx, &n, 1);
  if (!in->data) { /* y's length is known at invoke */
    kiln_defer_output(y, 1);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) count += first_equal(in, i) == i;
  kiln_set_shape(y, &count, 1);
  return NULL;
}

/* y lists values in order of first appearance; idx[i] is the position of
 * x[i] in y. The idx output already written serves as the lookup from
 * each earlier element to its y position. */
kiln_status *kiln_ref_unique(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0], *idx = ctx->outputs[1];
  size_t elem = kiln_dtype_size(in->dtype);
  int64_t count = 0;
  for (int64_t i = 0; i < in->dims[0]; i++) {
    int64_t first = first_equal(in, i), slot;
    if (first == i) {
      if (count == y->dims[0]) break; /* the shape was computed from x */
      slot = count++;
      memcpy((char *)y->data + (size_t)slot * elem,
             (const char *)in->data + (size_t)i * elem, elem);
    } else {
      slot = kiln_tensor_int(idx, first);
    }
    if (idx->dtype == KILN_INT64)
      ((int64_t *)idx->data)[i] = slot;
    else
      ((int32_t *)idx->data)[i] = (int32_t)slot;
  }
  return NULL;
}
