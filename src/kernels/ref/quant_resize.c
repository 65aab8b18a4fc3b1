/* quant_resize.c - RESIZE_BILINEAR on int8 / uint8 / int16 as TFLite's
 * ResizeBilinearInteger computes it: source coordinates in 10-bit fixed
 * point (the scale rounded to 1/1024), the four taps weighted in int64 and
 * the sum divided by 2^20 rounding half away from zero. It works on the
 * stored values, so the output must share the input's quantization. */
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

kiln_status *kiln_qref_resize_bilinear(const kiln_op_ctx *ctx) {
  const kiln_resize_attrs *a = ctx->attrs;
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
