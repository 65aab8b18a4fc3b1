/* pool.c - float32 reference AVERAGE_POOL_2D and MAX_POOL_2D: plain loops,
 * the oracle that optimized kernels are tested against. */
#include "kernels/kernel.h"

static kiln_status *check_attrs(const kiln_pool_attrs *a) {
  if (a->padding != KILN_PAD_SAME && a->padding != KILN_PAD_VALID)
    return kiln_error(KILN_ERR_INVALID_MODEL, "padding %d is not SAME or VALID",
                      (int)a->padding);
  if (a->stride_h < 1 || a->stride_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "stride %dx%d must be at least 1x1", a->stride_h,
                      a->stride_w);
  if (a->filter_h < 1 || a->filter_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "filter size %dx%d must be at least 1x1", a->filter_h,
                      a->filter_w);
  return kiln_check_activation(a->activation);
}

static kiln_status *check_input(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  const kiln_tensor *in = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype(in, KILN_FLOAT32, "input 0 (input)"));
  KILN_TRY(kiln_require_rank(in, 4, "input 0 (input)"));
  for (int i = 0; i < 4; i++)
    if (in->dims[i] <= 0) {
      char buf[KILN_DIMS_STR_SIZE];
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (input) has empty shape %s",
                        kiln_dims_str(in->dims, 4, buf, sizeof buf));
    }
  return NULL;
}

/* Output size along one axis (TFLite's ComputeOutSize). */
static kiln_status *window_out(const kiln_tensor *in, int axis, int k,
                               int stride, kiln_padding padding, int64_t *out) {
  int64_t size = in->dims[axis];
  if (padding == KILN_PAD_SAME) {
    *out = (size + stride - 1) / stride;
    return NULL;
  }
  if (size < k) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has shape %s: its %s %lld is smaller "
                      "than the filter's %d with VALID padding",
                      kiln_dims_str(in->dims, 4, buf, sizeof buf),
                      axis == 1 ? "height" : "width", (long long)size, k);
  }
  *out = (size - k) / stride + 1;
  return NULL;
}

/* Padding before the first element; SAME puts the odd extra one after. */
static int64_t window_pad(int64_t in, int64_t out, int k, int stride,
                          kiln_padding padding) {
  if (padding == KILN_PAD_VALID) return 0;
  int64_t total = (out - 1) * stride + k - in;
  return total > 0 ? total / 2 : 0;
}

kiln_status *kiln_shape_pool_2d(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(check_attrs(a));
  KILN_TRY(check_input(ctx));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t dims[4] = {in->dims[0], 0, 0, in->dims[3]};
  KILN_TRY(window_out(in, 1, a->filter_h, a->stride_h, a->padding, &dims[1]));
  KILN_TRY(window_out(in, 2, a->filter_w, a->stride_w, a->padding, &dims[2]));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  kiln_set_shape(ctx->outputs[0], dims, 4);
  return NULL;
}

/* The in-bounds part [begin, end) of one axis of a pooling window. */
typedef struct span {
  int64_t begin, end;
} span;

static span window_span(int64_t out_index, int stride, int64_t pad, int k,
                        int64_t in) {
  int64_t origin = out_index * stride - pad;
  span s = {origin < 0 ? 0 : origin, origin + k > in ? in : origin + k};
  return s;
}

typedef enum pool_kind { POOL_AVERAGE, POOL_MAX } pool_kind;

/* Pools channel c of image `img` ([H, W, C]) over the window rows x cols. */
static float pool_window(pool_kind kind, const float *img, int64_t width,
                         int64_t channels, int64_t c, span rows, span cols) {
  /* Max starts from a window element rather than a sentinel like -FLT_MAX. */
  float acc = kind == POOL_AVERAGE
                  ? 0.0f
                  : img[(rows.begin * width + cols.begin) * channels + c];
  for (int64_t y = rows.begin; y < rows.end; y++)
    for (int64_t x = cols.begin; x < cols.end; x++) {
      float v = img[(y * width + x) * channels + c];
      if (kind == POOL_AVERAGE)
        acc += v;
      else if (v > acc)
        acc = v;
    }
  /* Padding does not count toward the average (TFLite semantics). */
  if (kind == POOL_AVERAGE)
    acc /= (float)((rows.end - rows.begin) * (cols.end - cols.begin));
  return acc;
}

static kiln_status *pool_2d(const kiln_op_ctx *ctx, pool_kind kind) {
  const kiln_pool_attrs *a = ctx->attrs;
  const kiln_tensor *in_t = ctx->inputs[0], *out_t = ctx->outputs[0];
  int64_t batch = in_t->dims[0], in_h = in_t->dims[1], in_w = in_t->dims[2];
  int64_t channels = in_t->dims[3];
  int64_t out_h = out_t->dims[1], out_w = out_t->dims[2];
  int64_t pad_top =
      window_pad(in_h, out_h, a->filter_h, a->stride_h, a->padding);
  int64_t pad_left =
      window_pad(in_w, out_w, a->filter_w, a->stride_w, a->padding);
  const float *in = in_t->data;
  float *out = out_t->data;
  /* SAME and VALID windows always overlap the input, so none is empty. */
  for (int64_t b = 0; b < batch; b++) {
    const float *img = in + b * in_h * in_w * channels;
    for (int64_t oy = 0; oy < out_h; oy++) {
      span rows = window_span(oy, a->stride_h, pad_top, a->filter_h, in_h);
      for (int64_t ox = 0; ox < out_w; ox++) {
        span cols = window_span(ox, a->stride_w, pad_left, a->filter_w, in_w);
        for (int64_t c = 0; c < channels; c++)
          *out++ = kiln_activate(
              pool_window(kind, img, in_w, channels, c, rows, cols),
              a->activation);
      }
    }
  }
  return NULL;
}

kiln_status *kiln_ref_average_pool_2d(const kiln_op_ctx *ctx) {
  return pool_2d(ctx, POOL_AVERAGE);
}

kiln_status *kiln_ref_max_pool_2d(const kiln_op_ctx *ctx) {
  return pool_2d(ctx, POOL_MAX);
}

/* One operation per window element of each output. */
double kiln_flops_pool_2d(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  return (double)a->filter_h * a->filter_w *
         (double)kiln_tensor_numel(ctx->outputs[0]);
}
