/* order.c - REVERSE_V2 and TOPK_V2: operators that reorder elements along
 * axes. REVERSE_V2 is one strided copy with negative strides on the
 * reversed axes; TOPK_V2 keeps the k largest of each innermost row in a
 * heap that lives in its own indices output, so it needs no scratch. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* ------------------------------------------------------------- REVERSE_V2 */

/* A byte copy: float16 (which LiteRT also reverses) needs no arithmetic. */
static const kiln_dtype_mask kReverseDtypes = KILN_DT(KILN_FLOAT32) |
                                              KILN_DT(KILN_FLOAT16) |
                                              KILN_DT_INTS | KILN_DT(KILN_BOOL);

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
  KILN_TRY(kiln_require_dtype_in(in, kReverseDtypes, "input 0 (input)"));
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

static const kiln_dtype_mask kTopkDtypes = KILN_DT(KILN_FLOAT32) | KILN_DT_INTS;

kiln_status *kiln_shape_topk_v2(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 2));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *values = ctx->outputs[0], *indices = ctx->outputs[1];
  KILN_TRY(kiln_require_dtype_in(in, kTopkDtypes, "input 0 (input)"));
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
 * lower index, so that the order is total and ties keep the lower index
 * first, as in TFLite. int64 is compared exactly. */
static bool ranks_above(kiln_dtype dtype, const void *data, int64_t i,
                        int64_t j) {
#define RANK_AS(type)                                              \
  do {                                                             \
    type a = ((const type *)data)[i], b = ((const type *)data)[j]; \
    return a > b || (a == b && i < j);                             \
  } while (0)
  switch (dtype) {
    case KILN_FLOAT32:
      RANK_AS(float);
    case KILN_INT8:
      RANK_AS(int8_t);
    case KILN_UINT8:
      RANK_AS(uint8_t);
    case KILN_INT16:
      RANK_AS(int16_t);
    case KILN_INT32:
      RANK_AS(int32_t);
    case KILN_INT64:
      RANK_AS(int64_t);
    default:
      return false;
  }
#undef RANK_AS
}

static void store_index(kiln_tensor *t, int64_t at, int64_t value) {
  if (t->dtype == KILN_INT64)
    ((int64_t *)t->data)[at] = value;
  else if (t->dtype == KILN_INT16)
    ((int16_t *)t->data)[at] = (int16_t)value;
  else
    ((int32_t *)t->data)[at] = (int32_t)value;
}

/* One row's kept positions, a heap in the indices output whose root is
 * the one ranking lowest; `base` is the row's first element in data. */
typedef struct row_heap {
  const kiln_tensor *in;
  kiln_tensor *slots;
  int64_t base, first; /* first: the row's first slot */
} row_heap;

static int64_t slot(const row_heap *h, int64_t at) {
  return kiln_tensor_int(h->slots, h->first + at);
}

/* Whether the element in slot a ranks above the one in slot b. */
static bool slot_above(const row_heap *h, int64_t a, int64_t b) {
  return ranks_above(h->in->dtype, h->in->data, h->base + slot(h, a),
                     h->base + slot(h, b));
}

static void swap_slots(row_heap *h, int64_t a, int64_t b) {
  int64_t t = slot(h, a);
  store_index(h->slots, h->first + a, slot(h, b));
  store_index(h->slots, h->first + b, t);
}

/* Moves slot `at` down until no child ranks below it (heap of `size`). */
static void sift_down(row_heap *h, int64_t at, int64_t size) {
  for (;;) {
    int64_t low = at, l = 2 * at + 1, r = l + 1;
    if (l < size && slot_above(h, low, l)) low = l;
    if (r < size && slot_above(h, low, r)) low = r;
    if (low == at) return;
    swap_slots(h, at, low);
    at = low;
  }
}

static void sift_up(row_heap *h, int64_t at) {
  while (at > 0 && slot_above(h, (at - 1) / 2, at)) {
    swap_slots(h, at, (at - 1) / 2);
    at = (at - 1) / 2;
  }
}

/* Per row: the best k positions kept in a heap (O(n log k), no scratch:
 * it lives in the indices output), then heap-sorted best first; the
 * values are gathered last. */
kiln_status *kiln_ref_topk_v2(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *values = ctx->outputs[0], *indices = ctx->outputs[1];
  int64_t n = in->dims[in->rank - 1], k = values->dims[values->rank - 1];
  int64_t rows = kiln_dims_product(in->dims, 0, in->rank - 1);
  size_t elem = kiln_dtype_size(in->dtype);
  for (int64_t r = 0; r < rows && k > 0; r++) {
    row_heap h = {in, indices, r * n, r * k};
    int64_t size = 0;
    for (int64_t i = 0; i < n; i++) {
      if (size < k) {
        store_index(indices, h.first + size, i);
        sift_up(&h, size++);
      } else if (ranks_above(in->dtype, in->data, h.base + i,
                             h.base + slot(&h, 0))) {
        store_index(indices, h.first, i);
        sift_down(&h, 0, size);
      }
    }
    /* the lowest-ranking goes to the end, one at a time */
    for (int64_t end = size - 1; end > 0; end--) {
      swap_slots(&h, 0, end);
      sift_down(&h, 0, end);
    }
    for (int64_t m = 0; m < k; m++)
      memcpy((char *)values->data + (size_t)(h.first + m) * elem,
             (const char *)in->data + (size_t)(h.base + slot(&h, m)) * elem,
             elem);
  }
  return NULL;
}
