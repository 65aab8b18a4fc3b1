/* pool.c - float32 reference AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D:
 * plain loops, the oracle that optimized kernels are tested against. The L2
 * pool is TFLite's: the square root of the mean of squares over the
 * in-bounds part of each window (padding does not count), then the fused
 * activation, accumulated in float. */
#include <math.h>

#include "kernels/kernel.h"
#include "kernels/ref/quant_ops.h"

static kiln_status *check_attrs(const kiln_pool_attrs *a) {
  KILN_TRY(kiln_check_window_attrs(a->padding, a->stride_h, a->stride_w,
                                   a->activation));
  if (a->filter_h < 1 || a->filter_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "filter size %dx%d must be at least 1x1", a->filter_h,
                      a->filter_w);
  return NULL;
}

kiln_status *kiln_shape_pool_2d(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(check_attrs(a));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  const bool quantized = kiln_q_node(ctx);
  if (quantized)
    KILN_TRY(kiln_qshape_pool_2d(ctx));
  else
    KILN_TRY(kiln_require_float_batch_input(ctx, 0, "input", 4, 4));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t dims[4] = {in->dims[0], 0, 0, in->dims[3]};
  KILN_TRY(kiln_window_out_size(in, 1, a->filter_h, a->stride_h, 1, a->padding,
                                &dims[1]));
  KILN_TRY(kiln_window_out_size(in, 2, a->filter_w, a->stride_w, 1, a->padding,
                                &dims[2]));
  if (!quantized)
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

typedef enum pool_kind { POOL_AVERAGE, POOL_MAX, POOL_L2 } pool_kind;

/* Pools channel c of image `img` ([H, W, C]) over the window rows x cols. */
static float pool_window(pool_kind kind, const float *img, int64_t width,
                         int64_t channels, int64_t c, span rows, span cols) {
  /* Max starts from a window element rather than a sentinel like -FLT_MAX. */
  float acc = kind != POOL_MAX
                  ? 0.0f
                  : img[(rows.begin * width + cols.begin) * channels + c];
  for (int64_t y = rows.begin; y < rows.end; y++)
    for (int64_t x = cols.begin; x < cols.end; x++) {
      float v = img[(y * width + x) * channels + c];
      if (kind == POOL_AVERAGE)
        acc += v;
      else if (kind == POOL_L2)
        acc += v * v;
      else if (v > acc)
        acc = v;
    }
  /* Padding does not count toward the mean (TFLite semantics). */
  float count = (float)((rows.end - rows.begin) * (cols.end - cols.begin));
  if (kind == POOL_AVERAGE) acc /= count;
  if (kind == POOL_L2) acc = sqrtf(acc / count);
  return acc;
}

static kiln_status *pool_2d(const kiln_op_ctx *ctx, pool_kind kind) {
  const kiln_pool_attrs *a = ctx->attrs;
  const kiln_tensor *in_t = ctx->inputs[0], *out_t = ctx->outputs[0];
  int64_t batch = in_t->dims[0], in_h = in_t->dims[1], in_w = in_t->dims[2];
  int64_t channels = in_t->dims[3];
  int64_t out_h = out_t->dims[1], out_w = out_t->dims[2];
  int64_t pad_top = kiln_window_pad_before(in_h, out_h, a->filter_h,
                                           a->stride_h, 1, a->padding);
  int64_t pad_left = kiln_window_pad_before(in_w, out_w, a->filter_w,
                                            a->stride_w, 1, a->padding);
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
  if (kiln_q_node(ctx)) return kiln_qref_pool_2d(ctx, true);
  return pool_2d(ctx, POOL_AVERAGE);
}

kiln_status *kiln_ref_max_pool_2d(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_pool_2d(ctx, false);
  return pool_2d(ctx, POOL_MAX);
}

/* One operation per window element of each output. */
double kiln_flops_pool_2d(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  return (double)a->filter_h * a->filter_w *
         (double)kiln_tensor_numel(ctx->outputs[0]);
}

/* The shape is AVERAGE_POOL_2D's. */
kiln_status *kiln_shape_l2_pool_2d(const kiln_op_ctx *ctx) {
  return kiln_shape_pool_2d(ctx);
}

kiln_status *kiln_ref_l2_pool_2d(const kiln_op_ctx *ctx) {
  return pool_2d(ctx, POOL_L2);
}
