/* quant_resize.c - RESIZE_BILINEAR on int8 / uint8 / int16 as TFLite's
 * ResizeBilinearInteger computes it: source coordinates in 10-bit fixed
 * point (the scale rounded to 1/1024), the four taps weighted in int64 and
 * the sum divided by 2^20 rounding half away from zero. uint8 instead
 * takes TFLite's reference float path (its ResizeBilinear template):
 * float source coordinates and weights, the four products summed in
 * float in TFLite's order, plus 0.5, truncated. Both work on the stored
 * values, so the output must share the input's quantization. */
#include <math.h>
#include <stdint.h>

#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

kiln_status *kiln_qshape_resize(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  KILN_TRY(kiln_require_rank(in, 4, "input 0 (input)"));
  for (int d = 0; d < 4; d++)
    if (in->dims[d] <= 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (input) has empty dimension %d", d);
  if (in->dims[1] > (1 << 20) || in->dims[2] > (1 << 20))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (input) is %lldx%lld; quantized resizing takes "
                      "at most 2^20 rows and columns",
                      (long long)in->dims[1], (long long)in->dims[2]);
  return kiln_q_require_same(in, "input 0 (input)", ctx->outputs[0],
                             "output 0");
}

/* 1024 x (input pixels per output pixel), rounded. */
static int32_t scale_10(int64_t in, int64_t out, bool align_corners) {
  if (align_corners && out > 1)
    return (int32_t)((1024 * (in - 1) + (out - 1) / 2) / (out - 1));
  return (int32_t)((1024 * in + out / 2) / out);
}

/* One axis of kiln_qshape_resize_coordinates. The coordinate grows with
 * the output index, so the last one is the largest. */
static kiln_status *check_axis(int64_t in, int64_t out, bool align_corners,
                               bool half_pixel, const char *axis) {
  const int64_t scale = scale_10(in, out, align_corners);
  int64_t last = (out - 1) * scale;
  if (half_pixel) last += scale / 2 - 512;
  if ((out - 1) * scale > INT32_MAX || last + 1023 > INT32_MAX)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output %s %lld: TFLite's 10-bit source coordinates of "
                      "an input %s of %lld leave int32",
                      axis, (long long)out, axis, (long long)in);
  if (last / 1024 > in - 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output %s %lld from an input %s of %lld: TFLite's "
                      "rounded 10-bit scale puts the last output pixel's "
                      "source past the input (it reads out of bounds there)",
                      axis, (long long)out, axis, (long long)in);
  return NULL;
}

kiln_status *kiln_qshape_resize_coordinates(const kiln_op_ctx *ctx,
                                            int64_t out_h, int64_t out_w) {
  const kiln_resize_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  if (in->dtype == KILN_UINT8) return NULL; /* float coordinates */
  KILN_TRY(check_axis(in->dims[1], out_h, a->align_corners,
                      a->half_pixel_centers, "height"));
  return check_axis(in->dims[2], out_w, a->align_corners, a->half_pixel_centers,
                    "width");
}

typedef struct tap {
  int32_t pos; /* source coordinate x 1024 */
  int64_t lo, hi;
} tap;

static tap source(int64_t i, int32_t scale, bool half_pixel, int64_t in) {
  tap t;
  t.pos =
      half_pixel ? (int32_t)i * scale + scale / 2 - 512 : (int32_t)i * scale;
  /* C division truncates toward zero, as TFLite's does. */
  const int32_t lo = t.pos / 1024, hi = (t.pos + 1023) / 1024;
  t.lo = lo > 0 ? lo : 0;
  t.hi = hi < in - 1 ? hi : in - 1;
  return t;
}

/* TFLite's float source coordinate of output index i and its two
 * neighbours, clamped to the input. */
typedef struct ftap {
  float pos;
  int64_t lo, hi;
} ftap;

static ftap float_source(int64_t i, float scale, bool half_pixel, int64_t in) {
  ftap t;
  t.pos = half_pixel ? ((float)i + 0.5f) * scale - 0.5f : (float)i * scale;
  const int64_t lo = (int64_t)floorf(t.pos), hi = (int64_t)ceilf(t.pos);
  t.lo = lo > 0 ? lo : 0;
  t.hi = hi < in - 1 ? hi : in - 1;
  return t;
}

static float float_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners && out > 1) return (float)(in - 1) / (float)(out - 1);
  return (float)in / (float)out;
}

static void resize_uint8(const kiln_resize_attrs *a, const kiln_tensor *in,
                         kiln_tensor *out) {
  const uint8_t *x = in->data;
  uint8_t *y = out->data;
  const int64_t batch = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
  const int64_t depth = in->dims[3], out_h = out->dims[1], out_w = out->dims[2];
  const float sy = float_scale(in_h, out_h, a->align_corners);
  const float sx = float_scale(in_w, out_w, a->align_corners);
  int64_t o = 0;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t oy = 0; oy < out_h; oy++) {
      const ftap ty = float_source(oy, sy, a->half_pixel_centers, in_h);
      const float dy = ty.pos - (float)ty.lo;
      for (int64_t ox = 0; ox < out_w; ox++) {
        const ftap tx = float_source(ox, sx, a->half_pixel_centers, in_w);
        const float dx = tx.pos - (float)tx.lo;
        const uint8_t *r0 = x + (b * in_h + ty.lo) * in_w * depth;
        const uint8_t *r1 = x + (b * in_h + ty.hi) * in_w * depth;
        for (int64_t c = 0; c < depth; c++, o++) {
          /* One statement per rounding step, so that no compiler fuses
           * them into a multiply-add TFLite does not do. */
          float t00 = (float)r0[tx.lo * depth + c] * (1 - dy);
          t00 = t00 * (1 - dx);
          float t10 = (float)r1[tx.lo * depth + c] * dy;
          t10 = t10 * (1 - dx);
          float t01 = (float)r0[tx.hi * depth + c] * (1 - dy);
          t01 = t01 * dx;
          float t11 = (float)r1[tx.hi * depth + c] * dy;
          t11 = t11 * dx;
          float sum = t00 + t10;
          sum = sum + t01;
          sum = sum + t11;
          sum = sum + 0.5f;
          y[o] = sum <= 0.0f ? 0 : (sum >= 255.0f ? 255 : (uint8_t)sum);
        }
      }
    }
}

kiln_status *kiln_qref_resize_bilinear(const kiln_op_ctx *ctx) {
  const kiln_resize_attrs *a = ctx->attrs;
  if (ctx->inputs[0]->dtype == KILN_UINT8) {
    resize_uint8(a, ctx->inputs[0], ctx->outputs[0]);
    return NULL;
  }
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  const int64_t batch = in->dims[0], in_h = in->dims[1], in_w = in->dims[2];
  const int64_t depth = in->dims[3], out_h = out->dims[1], out_w = out->dims[2];
  const int32_t sy = scale_10(in_h, out_h, a->align_corners);
  const int32_t sx = scale_10(in_w, out_w, a->align_corners);
  int64_t o = 0;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t y = 0; y < out_h; y++) {
      const tap ty = source(y, sy, a->half_pixel_centers, in_h);
      const int64_t wy1 = ty.pos - 1024 * ty.lo, wy0 = 1024 - wy1;
      for (int64_t x = 0; x < out_w; x++) {
        const tap tx = source(x, sx, a->half_pixel_centers, in_w);
        const int64_t wx1 = tx.pos - 1024 * tx.lo, wx0 = 1024 - wx1;
        const int64_t r0 = (b * in_h + ty.lo) * in_w,
                      r1 = (b * in_h + ty.hi) * in_w;
        for (int64_t c = 0; c < depth; c++, o++) {
          const int64_t sum =
              kiln_q_load(in, (r0 + tx.lo) * depth + c) * wy0 * wx0 +
              kiln_q_load(in, (r1 + tx.lo) * depth + c) * wy1 * wx0 +
              kiln_q_load(in, (r0 + tx.hi) * depth + c) * wy0 * wx1 +
              kiln_q_load(in, (r1 + tx.hi) * depth + c) * wy1 * wx1;
          const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
          kiln_q_store(out, o, (int32_t)((sum + round) / (1 << 20)));
        }
      }
    }
  return NULL;
}
