/* quant_pool.c - quantized AVERAGE_POOL_2D and MAX_POOL_2D as TFLite
 * computes them: on the stored values, since input and output share one
 * scale and zero point (required here, as TFLite's Prepare does). The
 * average sums the window's in-bounds values in int32 and divides by their
 * count rounding half away from zero; both clamp to the fused activation's
 * quantized range. */
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

kiln_status *kiln_qshape_pool_2d(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  const kiln_pool_attrs *a = ctx->attrs;
  KILN_TRY(kiln_require_rank(in, 4, "input 0 (input)"));
  /* An empty batch (dimension 0) leaves nothing to pool, as in TFLite. */
  for (int d = 0; d < 4; d++)
    if (in->dims[d] < 0 || (in->dims[d] == 0 && d > 0))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (input) has empty dimension %d", d);
  kiln_qparams q;
  /* int16 pools are symmetric in TFLite. */
  KILN_TRY(kiln_q_params(in, "input 0 (input)", true, &q));
  KILN_TRY(kiln_q_require_same(in, "input 0 (input)", out, "output 0"));
  int32_t lo, hi;
  return kiln_quant_activation_range(a->activation, out->dtype, q.scale,
                                     q.zero_point, &lo, &hi);
}

/* The in-bounds part [begin, end) of one axis of a window. */
static void window(int64_t out_index, int stride, int64_t pad, int k,
                   int64_t in, int64_t *begin, int64_t *end) {
  const int64_t origin = out_index * stride - pad;
  *begin = origin < 0 ? 0 : origin;
  *end = origin + k > in ? in : origin + k;
}

/* acc / count rounded half away from zero, in TFLite's int32 form. */
static int32_t rounded_average(int32_t acc, int32_t count) {
  return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

kiln_status *kiln_qref_pool_2d(const kiln_op_ctx *ctx, bool average) {
  const kiln_pool_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  kiln_qparams q;
  int32_t lo, hi;
  KILN_TRY(kiln_q_params(out, "output 0", true, &q));
  KILN_TRY(kiln_quant_activation_range(a->activation, out->dtype, q.scale,
                                       q.zero_point, &lo, &hi));
  const int64_t batch = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
  const int64_t channels = in->dims[3];
  const int64_t out_h = out->dims[1], out_w = out->dims[2];
  const int64_t pad_top = kiln_window_pad_before(in_h, out_h, a->filter_h,
                                                 a->stride_h, 1, a->padding);
  const int64_t pad_left = kiln_window_pad_before(in_w, out_w, a->filter_w,
                                                  a->stride_w, 1, a->padding);
  int64_t o = 0;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t oy = 0; oy < out_h; oy++) {
      int64_t y0, y1;
      window(oy, a->stride_h, pad_top, a->filter_h, in_h, &y0, &y1);
      for (int64_t ox = 0; ox < out_w; ox++) {
        int64_t x0, x1;
        window(ox, a->stride_w, pad_left, a->filter_w, in_w, &x0, &x1);
        for (int64_t c = 0; c < channels; c++, o++) {
          int32_t acc = average ? 0 : INT32_MIN;
          for (int64_t y = y0; y < y1; y++)
            for (int64_t x = x0; x < x1; x++) {
              int32_t v =
                  kiln_q_load(in, ((b * in_h + y) * in_w + x) * channels + c);
              if (average)
                acc += v;
              else if (v > acc)
                acc = v;
            }
          /* SAME and VALID windows always overlap the input. */
          if (average)
            acc = rounded_average(acc, (int32_t)((y1 - y0) * (x1 - x0)));
          kiln_q_store(out, o, kiln_q_clamp(acc, lo, hi));
        }
      }
    }
  return NULL;
}
