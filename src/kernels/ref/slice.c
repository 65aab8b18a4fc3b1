/* slice.c - SLICE and STRIDED_SLICE (tf.strided_slice with every mask). */
#include "kernels/kernel.h"
#include "kernels/ref/movement.h"

/* Spec entries are bits of 32-bit masks. */
#define MAX_SPEC 32

/* Both ops read a regular window of the input: along input dim k, count[k]
 * elements from start[k] every step[k]. */
typedef struct window {
  int64_t start[KILN_MAX_RANK], step[KILN_MAX_RANK], count[KILN_MAX_RANK];
} window;

static void copy_window(const kiln_tensor *in, kiln_tensor *out,
                        const window *w) {
  int64_t in_strides[KILN_MAX_RANK], offset = 0;
  kiln_dense_strides(in->dims, in->rank, in_strides);
  kiln_copy_plan plan = {.rank = in->rank};
  for (int k = 0; k < in->rank; k++) {
    if (w->count[k] == 0) return; /* empty: start may lie outside */
    plan.counts[k] = w->count[k];
    plan.src_strides[k] = w->step[k] * in_strides[k];
    offset += w->start[k] * in_strides[k];
  }
  kiln_copy_plan_dense_dst(&plan);
  size_t elem = kiln_dtype_size(in->dtype);
  kiln_strided_copy(out->data, (const char *)in->data + (size_t)offset * elem,
                    elem, &plan);
}

/* ------------------------------------------------------------------ SLICE */

static kiln_status *slice_window(const kiln_op_ctx *ctx, window *w) {
  const kiln_tensor *in = ctx->inputs[0];
  int64_t begin[KILN_MAX_RANK], size[KILN_MAX_RANK];
  int n = 0;
  KILN_TRY(kiln_read_int_vector(ctx, 1, "begin", in->rank, KILN_MAX_RANK, begin,
                                &n));
  KILN_TRY(
      kiln_read_int_vector(ctx, 2, "size", in->rank, KILN_MAX_RANK, size, &n));
  for (int k = 0; k < n; k++) {
    int64_t dim = in->dims[k];
    int64_t count = size[k] == -1 ? dim - begin[k] : size[k];
    if (begin[k] < 0 || begin[k] > dim || count < 0 || count > dim - begin[k]) {
      char buf[KILN_DIMS_STR_SIZE];
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "slice begin %lld size %lld on axis %d is out of "
                        "bounds for input shape %s",
                        (long long)begin[k], (long long)size[k], k,
                        kiln_dims_str(in->dims, in->rank, buf, sizeof buf));
    }
    w->start[k] = begin[k];
    w->step[k] = 1;
    w->count[k] = count;
  }
  return NULL;
}

kiln_status *kiln_shape_slice(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 3, 3));
  const kiln_tensor *in = ctx->inputs[0];
  window w;
  KILN_TRY(slice_window(ctx, &w));
  kiln_set_shape(ctx->outputs[0], w.count, in->rank);
  return NULL;
}

kiln_status *kiln_ref_slice(const kiln_op_ctx *ctx) {
  window w;
  KILN_TRY(slice_window(ctx, &w));
  copy_window(ctx->inputs[0], ctx->outputs[0], &w);
  return NULL;
}

/* ---------------------------------------------------------- STRIDED_SLICE */

/* The sparse spec as written in the model: one entry per begin element. */
typedef struct spec {
  int n;
  int64_t begin[MAX_SPEC], end[MAX_SPEC], stride[MAX_SPEC];
  uint32_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask;
  bool offset;
} spec;

/* Dimensions are below 2^48, so pulling huge indices (INT64_MIN/MAX
 * sentinels) into +-2^50 changes no result and keeps sums overflow-free. */
static int64_t tame(int64_t v) {
  const int64_t limit = (int64_t)1 << 50;
  return v < -limit ? -limit : v > limit ? limit : v;
}

static kiln_status *read_spec(const kiln_op_ctx *ctx, spec *s) {
  const kiln_strided_slice_attrs *attrs = ctx->attrs;
  int n_end, n_stride;
  KILN_TRY(
      kiln_read_int_vector(ctx, 1, "begin", -1, MAX_SPEC, s->begin, &s->n));
  KILN_TRY(kiln_read_int_vector(ctx, 2, "end", s->n, MAX_SPEC, s->end, &n_end));
  KILN_TRY(kiln_read_int_vector(ctx, 3, "strides", s->n, MAX_SPEC, s->stride,
                                &n_stride));
  for (int i = 0; i < s->n; i++) {
    s->begin[i] = tame(s->begin[i]);
    s->end[i] = tame(s->end[i]);
    s->stride[i] = tame(s->stride[i]);
  }
  /* Mask bits past the spec's length mean nothing, as in TensorFlow. */
  uint32_t used = s->n < 32 ? (1u << s->n) - 1 : ~0u;
  s->begin_mask = (uint32_t)attrs->begin_mask & used;
  s->end_mask = (uint32_t)attrs->end_mask & used;
  s->ellipsis_mask = (uint32_t)attrs->ellipsis_mask & used;
  s->new_axis_mask = (uint32_t)attrs->new_axis_mask & used;
  s->shrink_mask = (uint32_t)attrs->shrink_axis_mask & used;
  s->offset = attrs->offset;
  if (s->ellipsis_mask & (s->ellipsis_mask - 1))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "ellipsis_mask 0x%x has more than one bit set",
                      (unsigned)s->ellipsis_mask);
  return NULL;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* A shrunk axis takes the single element at begin (begin_mask: the first
 * element, as TFLite does); it must exist. */
static kiln_status *shrink_entry(const spec *s, int i, int d, int64_t dim,
                                 window *w) {
  bool masked = s->begin_mask & (1u << i);
  int64_t index = masked ? (s->stride[i] > 0 ? 0 : dim - 1)
                         : (s->begin[i] < 0 ? s->begin[i] + dim : s->begin[i]);
  if (index < 0 || index >= dim)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "strided slice index %lld (spec entry %d, shrunk) is "
                      "out of range for axis %d of size %lld",
                      (long long)s->begin[i], i, d, (long long)dim);
  w->start[d] = index;
  w->step[d] = 1;
  w->count[d] = 1;
  return NULL;
}

/* A range entry, with Python's rules: negative indices count from the end,
 * out-of-range ones clamp, masks take the full extent in the stride's
 * direction. With `offset`, end is a length added to the resolved begin. */
static void range_entry(const spec *s, int i, int d, int64_t dim, window *w) {
  int64_t stride = s->stride[i];
  bool forward = stride > 0;
  int64_t lo = forward ? 0 : -1, hi = forward ? dim : dim - 1;
  int64_t begin = s->begin[i] < 0 ? s->begin[i] + dim : s->begin[i];
  int64_t start = s->begin_mask & (1u << i) ? (forward ? 0 : dim - 1)
                                            : clamp(begin, lo, hi);
  int64_t end = s->offset ? start + s->end[i]
                          : (s->end[i] < 0 ? s->end[i] + dim : s->end[i]);
  int64_t stop =
      s->end_mask & (1u << i) ? (forward ? dim : -1) : clamp(end, lo, hi);
  int64_t length = stop - start;
  w->start[d] = start;
  w->step[d] = stride;
  w->count[d] = (length == 0 || (length < 0) != (stride < 0))
                    ? 0
                    : (length + stride - (forward ? 1 : -1)) / stride;
}

/* Appends one output dimension. */
static kiln_status *push_dim(int64_t *dims, int *rank, int64_t size) {
  if (*rank >= KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "strided slice result exceeds rank %d", KILN_MAX_RANK);
  dims[(*rank)++] = size;
  return NULL;
}

/* One spec entry that indexes input dim d. */
static kiln_status *index_entry(const kiln_tensor *in, const spec *s, int i,
                                int d, window *w, int64_t *dims, int *rank) {
  if (s->stride[i] == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "strides[%d] is 0; strides must be non-zero", i);
  if (s->shrink_mask & (1u << i)) return shrink_entry(s, i, d, in->dims[d], w);
  range_entry(s, i, d, in->dims[d], w);
  return push_dim(dims, rank, w->count[d]);
}

/* Input dims an entry indexes: all but new axes (and the ellipsis, which
 * stands for whatever the others leave). An ellipsis bit wins over a new-axis
 * bit on the same entry. */
static bool indexes_input(const spec *s, int i) {
  return !(s->ellipsis_mask & (1u << i)) && !(s->new_axis_mask & (1u << i));
}

/* Counts the entries that index input dims after the ellipsis, checking
 * that all of them together fit the input's rank. */
static kiln_status *count_named(const spec *s, int ellipsis,
                                const kiln_tensor *in, int *named_after) {
  int named = 0;
  *named_after = 0;
  for (int i = 0; i < s->n; i++) {
    named += indexes_input(s, i);
    *named_after += i > ellipsis && indexes_input(s, i);
  }
  if (named <= in->rank) return NULL;
  char buf[KILN_DIMS_STR_SIZE];
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "strided slice spec indexes %d dimensions but the input "
                    "has shape %s",
                    named, kiln_dims_str(in->dims, in->rank, buf, sizeof buf));
}

/* The ellipsis: whole input dims from *d up to `end`. */
static kiln_status *ellipsis_dims(const kiln_tensor *in, int end, int *d,
                                  window *w, int64_t *dims, int *rank) {
  for (; *d < end; (*d)++) {
    w->start[*d] = 0;
    w->step[*d] = 1;
    w->count[*d] = in->dims[*d];
    KILN_TRY(push_dim(dims, rank, in->dims[*d]));
  }
  return NULL;
}

/* Expands the sparse spec against the input, TensorFlow's "dense spec": the
 * ellipsis (implicitly at the end when absent) covers the input dims no entry
 * names, new axes add size-1 output dims, shrunk axes drop theirs. */
static kiln_status *strided_window(const kiln_op_ctx *ctx, window *w,
                                   int64_t *dims, int *rank) {
  const kiln_tensor *in = ctx->inputs[0];
  spec s;
  KILN_TRY(read_spec(ctx, &s));
  int ellipsis = s.ellipsis_mask ? __builtin_ctz(s.ellipsis_mask) : s.n;
  int named_after = 0, d = 0;
  KILN_TRY(count_named(&s, ellipsis, in, &named_after));
  *rank = 0;
  for (int i = 0; i <= s.n; i++) {
    if (i == ellipsis)
      KILN_TRY(ellipsis_dims(in, in->rank - named_after, &d, w, dims, rank));
    else if (i == s.n)
      break;
    else if (s.new_axis_mask & (1u << i))
      KILN_TRY(push_dim(dims, rank, 1));
    else
      KILN_TRY(index_entry(in, &s, i, d++, w, dims, rank));
  }
  return NULL;
}

kiln_status *kiln_shape_strided_slice(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 4, 4));
  window w;
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(strided_window(ctx, &w, dims, &rank));
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

kiln_status *kiln_ref_strided_slice(const kiln_op_ctx *ctx) {
  window w;
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(strided_window(ctx, &w, dims, &rank));
  copy_window(ctx->inputs[0], ctx->outputs[0], &w);
  return NULL;
}
