/* nms.c - NON_MAX_SUPPRESSION_V4 and V5 (float32): TFLite's single-class
 * (soft-)NMS over boxes [N, 4] (y1, x1, y2, x2 in any corner order) and
 * scores [N].
 *
 * Inputs: boxes, scores, max_output_size (int32 scalar, known at prepare:
 * it fixes the outputs' length), iou_threshold, score_threshold and, for
 * V5, soft_nms_sigma. Outputs: selected_indices [max_output_size] int32,
 * for V5 selected_scores [max_output_size] float32, and the number of
 * valid entries (int32 scalar); entries past it are 0.
 *
 * The selection follows TFLite's loop step for step, including what it
 * does beyond TensorFlow's op: a selected candidate goes back into the
 * queue (and is later dropped by its own overlap, or picked again when
 * iou_threshold is above 1). Its candidates live in a binary max-heap by
 * score; which of equal scores comes out first depends on the heap's
 * exact sift moves, so the heap here makes the same moves as the C++
 * standard library's push_heap / pop_heap (libstdc++, which LiteRT's Linux
 * builds use), and ties resolve as in LiteRT. The heap (12 bytes per box)
 * lives in the session's scratch memory, reserved at prepare (or, for up
 * to 256 boxes folded at load without a session, on the stack). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

typedef struct candidate {
  int32_t index;
  float score;
  int32_t suppress_begin; /* selections before this one already compared */
} candidate;

/* Boxes whose heap fits the kernel's stack when no session pool is there
 * to give scratch memory (3 KiB). */
#define STACK_BOXES 256

static bool is_soft(const kiln_op_ctx *ctx) { return ctx->num_inputs == 6; }

static kiln_status *require_scalar(const kiln_op_ctx *ctx, int index,
                                   kiln_dtype dtype, const char *role) {
  KILN_TRY(kiln_require_input(ctx, index, role));
  const kiln_tensor *t = ctx->inputs[index];
  char what[48], buf[KILN_DIMS_STR_SIZE];
  snprintf(what, sizeof what, "input %d (%s)", index, role);
  KILN_TRY(kiln_require_dtype(t, dtype, what));
  KILN_TRY(kiln_require_unquantized(t, what));
  if (kiln_tensor_numel(t) != 1 || t->rank > 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s must be a scalar, has shape %s", what,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  return NULL;
}

static kiln_status *require_output(const kiln_op_ctx *ctx, int index,
                                   kiln_dtype dtype, const char *role) {
  if (ctx->outputs[index]->dtype == dtype) return NULL;
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "output %d (%s) has type %s; "
                    "expected %s",
                    index, role, kiln_dtype_name(ctx->outputs[index]->dtype),
                    kiln_dtype_name(dtype));
}

kiln_status *kiln_shape_non_max_suppression(const kiln_op_ctx *ctx) {
  char buf[KILN_DIMS_STR_SIZE];
  bool soft = is_soft(ctx);
  if (ctx->num_inputs != 5 && ctx->num_inputs != 6)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "has %d inputs; expected 5 (V4) or 6 (V5)",
                      ctx->num_inputs);
  KILN_TRY(kiln_check_arity(ctx, 5, 6, soft ? 3 : 2));
  KILN_TRY(kiln_require_input(ctx, 0, "boxes"));
  KILN_TRY(kiln_require_input(ctx, 1, "scores"));
  const kiln_tensor *boxes = ctx->inputs[0], *scores = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype(boxes, KILN_FLOAT32, "input 0 (boxes)"));
  KILN_TRY(kiln_require_unquantized(boxes, "input 0 (boxes)"));
  if (boxes->rank != 2 || boxes->dims[1] != 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (boxes) must have shape [N, 4], has %s",
                      kiln_dims_str(boxes->dims, boxes->rank, buf, sizeof buf));
  if (boxes->dims[0] > INT32_MAX / 2)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (boxes) has %lld boxes; at most %d are "
                      "supported",
                      (long long)boxes->dims[0], INT32_MAX / 2);
  KILN_TRY(kiln_require_dtype(scores, KILN_FLOAT32, "input 1 (scores)"));
  KILN_TRY(kiln_require_unquantized(scores, "input 1 (scores)"));
  if (scores->rank != 1 || scores->dims[0] != boxes->dims[0])
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 1 (scores) must have shape [%lld] (one per box), "
        "has %s",
        (long long)boxes->dims[0],
        kiln_dims_str(scores->dims, scores->rank, buf, sizeof buf));
  KILN_TRY(require_scalar(ctx, 2, KILN_INT32, "max_output_size"));
  KILN_TRY(kiln_require_known(ctx, 2, "max_output_size"));
  KILN_TRY(require_scalar(ctx, 3, KILN_FLOAT32, "iou_threshold"));
  KILN_TRY(require_scalar(ctx, 4, KILN_FLOAT32, "score_threshold"));
  if (soft) KILN_TRY(require_scalar(ctx, 5, KILN_FLOAT32, "soft_nms_sigma"));
  int64_t max_out = kiln_tensor_int(ctx->inputs[2], 0);
  if (max_out < 0)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input 2 (max_output_size) is %lld; it must be >= 0",
                      (long long)max_out);

  KILN_TRY(require_output(ctx, 0, KILN_INT32, "selected_indices"));
  kiln_set_shape(ctx->outputs[0], &max_out, 1);
  if (soft) {
    KILN_TRY(require_output(ctx, 1, KILN_FLOAT32, "selected_scores"));
    kiln_set_shape(ctx->outputs[1], &max_out, 1);
  }
  kiln_tensor *valid = ctx->outputs[soft ? 2 : 1];
  KILN_TRY(require_output(ctx, soft ? 2 : 1, KILN_INT32, "valid_outputs"));
  kiln_set_shape(valid, NULL, 0);

  size_t heap_bytes = (size_t)boxes->dims[0] * sizeof(candidate);
  if (heap_bytes == 0) return NULL;
  /* Without a pool (constant folding at load) a small heap lives on the
   * kernel's stack. */
  if (!ctx->pool) {
    if (boxes->dims[0] <= STACK_BOXES) return NULL;
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "needs scratch memory for its %lld candidates, which "
                      "only a session provides (up to %d run without)",
                      (long long)boxes->dims[0], STACK_BOXES);
  }
  return kiln_threadpool_reserve_scratch(ctx->pool, heap_bytes);
}

/* ---- the heap: the standard library's moves, comparing scores only ---- */

/* Moves `value` up from slot `hole` (not above `top`). */
static void sift_up(candidate *heap, int64_t hole, int64_t top,
                    candidate value) {
  int64_t parent = (hole - 1) / 2;
  while (hole > top && heap[parent].score < value.score) {
    heap[hole] = heap[parent];
    hole = parent;
    parent = (hole - 1) / 2;
  }
  heap[hole] = value;
}

static void heap_push(candidate *heap, int64_t *size, candidate value) {
  heap[*size] = value;
  (*size)++;
  sift_up(heap, *size - 1, 0, heap[*size - 1]);
}

/* Removes the top (the caller has copied it): the hole left at the root
 * walks down to a leaf along the larger children, and the old last
 * element is sifted up from there. */
static void heap_pop(candidate *heap, int64_t *size) {
  int64_t len = *size - 1;
  if (len <= 0) {
    *size = len < 0 ? 0 : len;
    return;
  }
  candidate value = heap[len];
  heap[len] = heap[0];
  int64_t hole = 0, child = 0;
  while (child < (len - 1) / 2) {
    child = 2 * (child + 1);
    if (heap[child].score < heap[child - 1].score) child--;
    heap[hole] = heap[child];
    hole = child;
  }
  if ((len & 1) == 0 && child == (len - 2) / 2) {
    child = 2 * (child + 1);
    heap[hole] = heap[child - 1];
    hole = child - 1;
  }
  sift_up(heap, hole, 0, value);
  *size = len;
}

static inline float min_f(float a, float b) { return b < a ? b : a; }
static inline float max_f(float a, float b) { return a < b ? b : a; }

/* Intersection over union of boxes i and j, in float as TFLite computes
 * it; 0 when either box has no area. */
static float iou(const float *boxes, int32_t i, int32_t j) {
  const float *a = boxes + 4 * (int64_t)i, *b = boxes + 4 * (int64_t)j;
  float a_ymin = min_f(a[0], a[2]), a_ymax = max_f(a[0], a[2]);
  float a_xmin = min_f(a[1], a[3]), a_xmax = max_f(a[1], a[3]);
  float b_ymin = min_f(b[0], b[2]), b_ymax = max_f(b[0], b[2]);
  float b_xmin = min_f(b[1], b[3]), b_xmax = max_f(b[1], b[3]);
  float area_a = (a_ymax - a_ymin) * (a_xmax - a_xmin);
  float area_b = (b_ymax - b_ymin) * (b_xmax - b_xmin);
  if (area_a <= 0.0f || area_b <= 0.0f) return 0.0f;
  float inter = max_f(min_f(a_ymax, b_ymax) - max_f(a_ymin, b_ymin), 0.0f) *
                max_f(min_f(a_xmax, b_xmax) - max_f(a_xmin, b_xmin), 0.0f);
  float uni = area_a + area_b - inter;
  if (uni == 0.0f) return 0.0f;
  return inter / uni;
}

kiln_status *kiln_ref_non_max_suppression(const kiln_op_ctx *ctx) {
  bool soft = is_soft(ctx);
  const float *boxes = ctx->inputs[0]->data;
  const float *scores = ctx->inputs[1]->data;
  int64_t num_boxes = ctx->inputs[0]->dims[0];
  int64_t max_out = ctx->outputs[0]->dims[0];
  float iou_threshold = *(const float *)ctx->inputs[3]->data;
  float score_threshold = *(const float *)ctx->inputs[4]->data;
  float sigma = soft ? *(const float *)ctx->inputs[5]->data : 0.0f;
  int32_t *selected = ctx->outputs[0]->data;
  float *selected_scores = soft ? ctx->outputs[1]->data : NULL;
  int32_t *valid = ctx->outputs[soft ? 2 : 1]->data;
  candidate stack_heap[STACK_BOXES];
  candidate *heap =
      ctx->pool ? kiln_threadpool_scratch(ctx->pool, 0) : stack_heap;

  int64_t size = 0;
  for (int64_t i = 0; i < num_boxes; i++)
    if (scores[i] > score_threshold)
      heap_push(heap, &size, (candidate){(int32_t)i, scores[i], 0});
  int64_t wanted = size < max_out ? size : max_out;
  int64_t count = 0;
  const float scale = sigma > 0.0f ? -0.5f / sigma : 0.0f;
  while (count < wanted && size > 0) {
    candidate next = heap[0];
    float original = next.score;
    heap_pop(heap, &size);
    bool suppressed = false;
    for (int64_t j = count - 1; j >= next.suppress_begin; j--) {
      float overlap = iou(boxes, next.index, selected[j]);
      if (overlap >= iou_threshold) {
        suppressed = true;
        break;
      }
      if (sigma > 0.0f)
        next.score = next.score * expf(scale * overlap * overlap);
      if (next.score <= score_threshold) break;
    }
    next.suppress_begin = (int32_t)count;
    if (suppressed) continue;
    if (next.score == original) {
      selected[count] = next.index;
      if (selected_scores) selected_scores[count] = next.score;
      count++;
    }
    if (next.score > score_threshold) heap_push(heap, &size, next);
  }
  for (int64_t i = count; i < max_out; i++) {
    selected[i] = 0;
    if (selected_scores) selected_scores[i] = 0.0f;
  }
  *valid = (int32_t)count;
  return NULL;
}
