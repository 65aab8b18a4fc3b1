/* norm_pool.c - float32 L2_POOL_2D and LOCAL_RESPONSE_NORMALIZATION, in
 * TFLite's forms: the L2 pool is the square root of the mean of squares
 * over the in-bounds part of each window (padding does not count), then
 * the fused activation; LRN divides each value by (bias + alpha * sum of
 * squares over channels c-radius..c+radius)^beta, alpha not divided by
 * the window size. Both accumulate in float as TFLite's kernels do. */
#include <math.h>

#include "kernels/kernel.h"

/* -------------------------------------------------------------- L2_POOL_2D */

/* The shape is AVERAGE_POOL_2D's (kiln_shape_pool_2d in ref/pool.c). */
kiln_status *kiln_shape_l2_pool_2d(const kiln_op_ctx *ctx) {
  return kiln_shape_pool_2d(ctx);
}

kiln_status *kiln_ref_l2_pool_2d(const kiln_op_ctx *ctx) {
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
  for (int64_t b = 0; b < batch; b++)
    for (int64_t oy = 0; oy < out_h; oy++) {
      int64_t y0 = oy * a->stride_h - pad_top, y1 = y0 + a->filter_h;
      y0 = y0 < 0 ? 0 : y0;
      y1 = y1 > in_h ? in_h : y1;
      for (int64_t ox = 0; ox < out_w; ox++) {
        int64_t x0 = ox * a->stride_w - pad_left, x1 = x0 + a->filter_w;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > in_w ? in_w : x1;
        float count = (float)((y1 - y0) * (x1 - x0));
        for (int64_t c = 0; c < channels; c++) {
          float sum = 0.0f;
          for (int64_t y = y0; y < y1; y++)
            for (int64_t x = x0; x < x1; x++) {
              float v = in[((b * in_h + y) * in_w + x) * channels + c];
              sum += v * v;
            }
          *out++ = kiln_activate(sqrtf(sum / count), a->activation);
        }
      }
    }
  return NULL;
}

/* -------------------------------------------- LOCAL_RESPONSE_NORMALIZATION */

kiln_status *kiln_shape_local_response_normalization(const kiln_op_ctx *ctx) {
  const kiln_lrn_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_float_input(ctx, 0, "input", 4, 4));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  if (a->radius < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "radius is %d; it must be >= 0",
                      a->radius);
  const kiln_tensor *in = ctx->inputs[0];
  kiln_set_shape(ctx->outputs[0], in->dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_local_response_normalization(const kiln_op_ctx *ctx) {
  const kiln_lrn_attrs *a = ctx->attrs;
  const kiln_tensor *in_t = ctx->inputs[0];
  int64_t depth = in_t->dims[3];
  int64_t pixels = kiln_tensor_numel(in_t) / (depth ? depth : 1);
  const float *in = in_t->data;
  float *out = ctx->outputs[0]->data;
  for (int64_t p = 0; p < pixels; p++, in += depth, out += depth)
    for (int64_t c = 0; c < depth; c++) {
      int64_t lo = c - a->radius, hi = c + a->radius;
      lo = lo < 0 ? 0 : lo;
      hi = hi > depth - 1 ? depth - 1 : hi;
      float sum = 0.0f;
      for (int64_t j = lo; j <= hi; j++) sum += in[j] * in[j];
      out[c] = in[c] * powf(a->bias + a->alpha * sum, -a->beta);
    }
  return NULL;
}
