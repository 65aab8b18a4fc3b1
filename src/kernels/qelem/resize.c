/* resize.c - int8 RESIZE_BILINEAR ("q8-resize-bilinear-*") and 1-byte
 * RESIZE_NEAREST_NEIGHBOR ("q8-resize-nearest-portable") on NHWC. Bilinear
 * computes TFLite's integer interpolation exactly as kernels/ref/
 * quant_resize.c does (10-bit source coordinates, the four taps weighted and
 * the sum divided by 2^20 rounding half away from zero), one output row per
 * call of an instruction-set row ukernel; the sum, which the reference keeps
 * in int64, stays below 2^29 in magnitude (|weights| <= 1536, their products'
 * magnitudes summing to at most 2^22, inputs within 2^7), so the ukernels
 * work in int32 and equal it. Nearest copies whole pixels from the source
 * the reference's float coordinates pick, and copies the previous output
 * row whole when two rows read the same input row (every other row of a 2x
 * upscale). Rows are split over the pool's threads. uint8 bilinear (which
 * TFLite computes in float), int16, and sizes whose coordinates would leave
 * int32 or the input (which the reference does not guard) are left to the
 * reference. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"
#include "kernels/qelem/resize_taps.h"

/* The int8/uint8 NHWC node both resizes take: input, size, one output of
 * the input's type and batch and channels, no empty dimension. */
static bool resize_shapes(const kiln_op_ctx *ctx, bool int8_only) {
  const kiln_resize_attrs *a = ctx->attrs;
  if (!a || ctx->num_inputs != 2 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (!x || !y || x->dtype != y->dtype) return false;
  if (x->dtype != KILN_INT8 && (int8_only || x->dtype != KILN_UINT8))
    return false;
  if (x->rank != 4 || y->rank != 4) return false;
  for (int d = 0; d < 4; d++)
    if (x->dims[d] <= 0 || y->dims[d] <= 0) return false;
  return y->dims[0] == x->dims[0] && y->dims[3] == x->dims[3];
}

/* ---------------------------------------------------- RESIZE_BILINEAR */

/* The reference's 1024 x (input pixels per output pixel), rounded. */
static int32_t scale_10(int64_t in, int64_t out, bool align_corners) {
  if (align_corners && out > 1)
    return (int32_t)((1024 * (in - 1) + (out - 1) / 2) / (out - 1));
  return (int32_t)((1024 * in + out / 2) / out);
}

/* Fills `axis` for an input of `in` and output of `out` pixels; false
 * when the last coordinate (the largest) leaves int32 or its lower index
 * passes the last input pixel. */
static bool make_axis(int64_t in, int64_t out, const kiln_resize_attrs *a,
                      kiln_q8_resize_axis *axis) {
  if (in > (1 << 20)) return false;
  axis->scale = scale_10(in, out, a->align_corners);
  axis->half_pixel = a->half_pixel_centers;
  axis->in = in;
  int64_t last = (out - 1) * (int64_t)axis->scale;
  if (last > INT32_MAX) return false;
  if (axis->half_pixel) last += axis->scale / 2 - 512;
  return last + 1023 <= INT32_MAX && last / 1024 <= in - 1;
}

bool kiln_q8_resize_bilinear_applies(const kiln_op_ctx *ctx) {
  if (!resize_shapes(ctx, true)) return false;
  const kiln_resize_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (a->align_corners && a->half_pixel_centers) return false;
  if (!x->quant || !y->quant) return false;
  kiln_q8_resize_axis ay, ax;
  return make_axis(x->dims[1], y->dims[1], a, &ay) &&
         make_axis(x->dims[2], y->dims[2], a, &ax);
}

typedef struct bilinear_job {
  const int8_t *in;
  int8_t *out;
  int64_t in_h, in_w, channels, out_h, out_w;
  kiln_q8_resize_axis ys, xs;
  kiln_q8_bilinear_row_ukernel uk;
} bilinear_job;

static void bilinear_rows(void *context, int64_t begin, int64_t end) {
  const bilinear_job *j = context;
  const int64_t in_row = j->in_w * j->channels,
                out_row = j->out_w * j->channels;
  for (int64_t row = begin; row < end; row++) {
    const int64_t b = row / j->out_h, oy = row % j->out_h;
    int64_t lo, hi;
    int32_t w0, w1;
    kiln_q8_bilinear_tap(&j->ys, oy, &lo, &hi, &w0, &w1);
    const int8_t *image = j->in + b * j->in_h * in_row;
    j->uk(image + lo * in_row, image + hi * in_row, w0, w1, &j->xs, j->out_w,
          j->channels, j->out + row * out_row);
  }
}

static kiln_status *bilinear_run(const kiln_op_ctx *ctx,
                                 kiln_q8_bilinear_row_ukernel uk) {
  const kiln_resize_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  bilinear_job j = {.in = x->data,
                    .out = y->data,
                    .in_h = x->dims[1],
                    .in_w = x->dims[2],
                    .channels = x->dims[3],
                    .out_h = y->dims[1],
                    .out_w = y->dims[2],
                    .uk = uk};
  make_axis(j.in_h, j.out_h, a, &j.ys);
  make_axis(j.in_w, j.out_w, a, &j.xs);
  const int64_t row_bytes = j.out_w * j.channels;
  const int64_t grain = row_bytes >= 8192 ? 1 : 8192 / row_bytes + 1;
  kiln_parallel_for(ctx->pool, x->dims[0] * j.out_h, grain, bilinear_rows, &j);
  return NULL;
}

/* The reference's sum / 2^20, rounding half away from zero: the
 * magnitude rounded and the sign put back without branches (the signs of
 * zero-centred data are a coin toss for a branch predictor). The result is
 * already within int8 (a weighted average of int8 values). */
static int8_t round_2_20(int32_t sum) {
  const int32_t sign = sum < 0 ? -1 : 0;
  const int32_t magnitude = (sum ^ sign) - sign;
  const int32_t r = (magnitude + (1 << 19)) >> 20;
  return (int8_t)((r ^ sign) - sign);
}

void kiln_q8_bilinear_row_portable(const int8_t *row0, const int8_t *row1,
                                   int32_t wy0, int32_t wy1,
                                   const kiln_q8_resize_axis *xs, int64_t out_w,
                                   int64_t channels, int8_t *out) {
  for (int64_t ox = 0; ox < out_w; ox++, out += channels) {
    int64_t lo, hi;
    int32_t wx0, wx1;
    kiln_q8_bilinear_tap(xs, ox, &lo, &hi, &wx0, &wx1);
    const int8_t *p00 = row0 + lo * channels, *p01 = row0 + hi * channels;
    const int8_t *p10 = row1 + lo * channels, *p11 = row1 + hi * channels;
    for (int64_t c = 0; c < channels; c++) {
      const int32_t top = p00[c] * wx0 + p01[c] * wx1;
      const int32_t bottom = p10[c] * wx0 + p11[c] * wx1;
      out[c] = round_2_20(top * wy0 + bottom * wy1);
    }
  }
}

kiln_status *kiln_q8_resize_bilinear_run_portable(const kiln_op_ctx *ctx) {
  return bilinear_run(ctx, kiln_q8_bilinear_row_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_resize_bilinear_run_avx512(const kiln_op_ctx *ctx) {
  return bilinear_run(ctx, kiln_q8_bilinear_row_avx512);
}

kiln_status *kiln_q8_resize_bilinear_run_avx2(const kiln_op_ctx *ctx) {
  return bilinear_run(ctx, kiln_q8_bilinear_row_avx2);
}
#endif

/* -------------------------------------------- RESIZE_NEAREST_NEIGHBOR */

bool kiln_q8_resize_nearest_applies(const kiln_op_ctx *ctx) {
  return resize_shapes(ctx, false);
}

/* Input pixels per output pixel, in float as the reference. */
static float nearest_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners && out > 1) return (float)(in - 1) / (float)(out - 1);
  return (float)in / (float)out;
}

/* The reference's source index of output index i (float coordinate,
 * rounded half away from zero under align_corners, else floored,
 * clamped to the input). */
static int64_t nearest_source(int64_t i, float scale,
                              const kiln_resize_attrs *a, int64_t in) {
  const float src = ((float)i + (a->half_pixel_centers ? 0.5f : 0.0f)) * scale;
  int64_t s = (int64_t)(a->align_corners ? roundf(src) : floorf(src));
  if (s > in - 1) s = in - 1;
  return s < 0 ? 0 : s;
}

typedef struct nearest_job {
  const kiln_resize_attrs *attrs;
  const uint8_t *in;
  uint8_t *out;
  int64_t in_h, in_w, channels, out_h, out_w;
  float scale_y, scale_x;
} nearest_job;

/* Output columns handled per pass: their source offsets are computed once
 * for all the rows of a task. */
#define NEAREST_COLUMNS 256

static void nearest_rows(void *context, int64_t begin, int64_t end) {
  const nearest_job *j = context;
  const int64_t channels = j->channels, out_row = j->out_w * channels;
  int64_t offset[NEAREST_COLUMNS];
  for (int64_t col = 0; col < j->out_w; col += NEAREST_COLUMNS) {
    const int64_t n =
        j->out_w - col < NEAREST_COLUMNS ? j->out_w - col : NEAREST_COLUMNS;
    for (int64_t i = 0; i < n; i++)
      offset[i] =
          nearest_source(col + i, j->scale_x, j->attrs, j->in_w) * channels;
    int64_t previous = -1; /* the input row (over all images) last read */
    for (int64_t row = begin; row < end; row++) {
      const int64_t b = row / j->out_h, oy = row % j->out_h;
      const int64_t source =
          b * j->in_h + nearest_source(oy, j->scale_y, j->attrs, j->in_h);
      uint8_t *out = j->out + row * out_row + col * channels;
      if (source == previous) {
        memcpy(out, out - out_row, (size_t)(n * channels));
        continue;
      }
      previous = source;
      const uint8_t *in = j->in + source * j->in_w * channels;
      if (channels == 1) {
        for (int64_t i = 0; i < n; i++) out[i] = in[offset[i]];
      } else {
        for (int64_t i = 0; i < n; i++, out += channels)
          memcpy(out, in + offset[i], (size_t)channels);
      }
    }
  }
}

kiln_status *kiln_q8_resize_nearest_run_portable(const kiln_op_ctx *ctx) {
  const kiln_resize_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  nearest_job j = {.attrs = a,
                   .in = x->data,
                   .out = y->data,
                   .in_h = x->dims[1],
                   .in_w = x->dims[2],
                   .channels = x->dims[3],
                   .out_h = y->dims[1],
                   .out_w = y->dims[2]};
  j.scale_y = nearest_scale(j.in_h, j.out_h, a->align_corners);
  j.scale_x = nearest_scale(j.in_w, j.out_w, a->align_corners);
  const int64_t row_bytes = j.out_w * j.channels;
  const int64_t grain = row_bytes >= 16384 ? 1 : 16384 / row_bytes + 1;
  kiln_parallel_for(ctx->pool, x->dims[0] * j.out_h, grain, nearest_rows, &j);
  return NULL;
}
