/* resize.c - float32 reference RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR
 * (the latter a pixel copy, so also on the other 1-, 2- and 4-byte types
 * LiteRT takes), computing source coordinates exactly as TFLite's
 * reference kernels do (float arithmetic included, so indices agree at the
 * boundaries). */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/quant_ops.h"

/* Reads the int32[2] size input (new height, new width). */
static kiln_status *read_size(const kiln_op_ctx *ctx, int64_t *h, int64_t *w) {
  KILN_TRY(kiln_require_known(ctx, 1, "size"));
  const kiln_tensor *s = ctx->inputs[1];
  char buf[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype(s, KILN_INT32, "input 1 (size)"));
  if (s->rank != 1 || s->dims[0] != 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (size) has shape %s; expected [2] (height, "
                      "width)",
                      kiln_dims_str(s->dims, s->rank, buf, sizeof buf));
  *h = kiln_tensor_int(s, 0);
  *w = kiln_tensor_int(s, 1);
  if (*h <= 0 || *w <= 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (size) is [%lld,%lld]; both must be positive",
                      (long long)*h, (long long)*w);
  return NULL;
}

/* The plain (unquantized) types RESIZE_NEAREST_NEIGHBOR copies, as LiteRT:
 * elements of 1, 2 or 4 bytes (it refuses int64 and float64). */
#define NEAREST_TYPES                                                   \
  (KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_INT8) | \
   KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT16) | KILN_DT(KILN_UINT16) |   \
   KILN_DT(KILN_INT32) | KILN_DT(KILN_UINT32) | KILN_DT(KILN_BOOL))

/* Plain inputs: float32 for bilinear, NEAREST_TYPES for nearest, NHWC with
 * no empty dimension, and an output of the input's type. */
static kiln_status *shape_plain(const kiln_op_ctx *ctx, bool nearest) {
  if (!nearest) return kiln_require_float_input(ctx, 0, "input", 4, 4);
  const kiln_tensor *in = ctx->inputs[0];
  char buf[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype_in(in, NEAREST_TYPES, "input 0 (input)"));
  KILN_TRY(kiln_require_unquantized(in, "input 0 (input)"));
  KILN_TRY(kiln_require_rank(in, 4, "input 0 (input)"));
  for (int d = 0; d < 4; d++)
    if (in->dims[d] <= 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (input) has empty shape %s",
                        kiln_dims_str(in->dims, in->rank, buf, sizeof buf));
  return NULL;
}

static kiln_status *shape_resize(const kiln_op_ctx *ctx, bool nearest) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  const bool quantized = kiln_q_node(ctx);
  if (quantized)
    KILN_TRY(kiln_qshape_resize(ctx));
  else
    KILN_TRY(shape_plain(ctx, nearest));
  int64_t h = 0, w = 0;
  KILN_TRY(read_size(ctx, &h, &w));
  if (quantized && !nearest)
    KILN_TRY(kiln_qshape_resize_coordinates(ctx, h, w));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t dims[4] = {in->dims[0], h, w, in->dims[3]};
  if (!quantized)
    KILN_TRY(kiln_require_dtype(ctx->outputs[0], in->dtype, "output 0"));
  kiln_set_shape(ctx->outputs[0], dims, 4);
  return NULL;
}

/* RESIZE_NEAREST_NEIGHBOR's (bilinear's adds a check). */
kiln_status *kiln_shape_resize(const kiln_op_ctx *ctx) {
  return shape_resize(ctx, true);
}

/* Input pixels per output pixel along one axis. */
static float resize_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners && out > 1) return (float)(in - 1) / (float)(out - 1);
  return (float)in / (float)out;
}

/* Sizes shared by the kernels, read from prepared tensors. */
typedef struct resize_geom {
  int64_t batch, in_h, in_w, channels, out_h, out_w;
  float scale_y, scale_x;
} resize_geom;

static resize_geom geometry(const kiln_op_ctx *ctx) {
  const kiln_resize_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  resize_geom g = {
      .batch = in->dims[0],
      .in_h = in->dims[1],
      .in_w = in->dims[2],
      .channels = in->dims[3],
      .out_h = out->dims[1],
      .out_w = out->dims[2],
  };
  g.scale_y = resize_scale(g.in_h, g.out_h, a->align_corners);
  g.scale_x = resize_scale(g.in_w, g.out_w, a->align_corners);
  return g;
}

/* --------------------------------------------------- RESIZE_BILINEAR */

/* The two source rows (or columns) of output index x and the weight of the
 * second. */
typedef struct lerp {
  int64_t lo, hi;
  float frac;
} lerp;

static lerp bilinear_source(int64_t x, float scale, bool half_pixel,
                            int64_t in) {
  float src = half_pixel ? ((float)x + 0.5f) * scale - 0.5f : (float)x * scale;
  float lo = floorf(src), hi = ceilf(src);
  lerp l;
  l.lo = lo > 0.0f ? (int64_t)lo : 0;
  l.hi = (int64_t)hi < in - 1 ? (int64_t)hi : in - 1;
  /* Relative to the clamped lower index, as TFLite does: for a source left
   * of pixel 0 both indices are 0 and the weights still sum to one. */
  l.frac = src - (float)l.lo;
  return l;
}

/* TFLite rejects this combination for bilinear only, at prepare. */
kiln_status *kiln_shape_resize_bilinear(const kiln_op_ctx *ctx) {
  const kiln_resize_attrs *a = ctx->attrs;
  if (a->align_corners && a->half_pixel_centers)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "align_corners and half_pixel_centers cannot both be "
                      "set for bilinear resizing");
  return shape_resize(ctx, false);
}

kiln_status *kiln_ref_resize_bilinear(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_resize_bilinear(ctx);
  const kiln_resize_attrs *a = ctx->attrs;
  resize_geom g = geometry(ctx);
  int64_t channels = g.channels, row = g.in_w * channels;
  const float *in = ctx->inputs[0]->data;
  float *out = ctx->outputs[0]->data;
  for (int64_t b = 0; b < g.batch; b++) {
    const float *img = in + b * g.in_h * row;
    for (int64_t y = 0; y < g.out_h; y++) {
      lerp ly = bilinear_source(y, g.scale_y, a->half_pixel_centers, g.in_h);
      const float *row0 = img + ly.lo * row, *row1 = img + ly.hi * row;
      for (int64_t x = 0; x < g.out_w; x++) {
        lerp lx = bilinear_source(x, g.scale_x, a->half_pixel_centers, g.in_w);
        const float *p00 = row0 + lx.lo * channels,
                    *p01 = row0 + lx.hi * channels;
        const float *p10 = row1 + lx.lo * channels,
                    *p11 = row1 + lx.hi * channels;
        float fy = ly.frac, fx = lx.frac;
        for (int64_t c = 0; c < channels; c++)
          *out++ = p00[c] * (1 - fy) * (1 - fx) + p10[c] * fy * (1 - fx) +
                   p01[c] * (1 - fy) * fx + p11[c] * fy * fx;
      }
    }
  }
  return NULL;
}

/* ------------------------------------------- RESIZE_NEAREST_NEIGHBOR */

static int64_t nearest_source(int64_t x, float scale,
                              const kiln_resize_attrs *a, int64_t in) {
  float src = ((float)x + (a->half_pixel_centers ? 0.5f : 0.0f)) * scale;
  /* roundf rounds halves away from zero, like TFLite's TfLiteRound. */
  int64_t i = (int64_t)(a->align_corners ? roundf(src) : floorf(src));
  if (i > in - 1) i = in - 1;
  return i < 0 ? 0 : i;
}

kiln_status *kiln_ref_resize_nearest_neighbor(const kiln_op_ctx *ctx) {
  const kiln_resize_attrs *a = ctx->attrs;
  resize_geom g = geometry(ctx);
  /* A copy of whole pixels: any element type (quantized ones keep their
   * scale, which the shape function required equal). */
  const size_t pixel =
      (size_t)g.channels * kiln_dtype_size(ctx->inputs[0]->dtype);
  const char *in = ctx->inputs[0]->data;
  char *out = ctx->outputs[0]->data;
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t y = 0; y < g.out_h; y++) {
      int64_t sy = nearest_source(y, g.scale_y, a, g.in_h);
      for (int64_t x = 0; x < g.out_w; x++) {
        int64_t sx = nearest_source(x, g.scale_x, a, g.in_w);
        memcpy(out, in + (size_t)((b * g.in_h + sy) * g.in_w + sx) * pixel,
               pixel);
        out += pixel;
      }
    }
  return NULL;
}
