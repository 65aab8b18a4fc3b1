/* quant_conv.c - TFLite's integer CONV_2D, DEPTHWISE_CONV_2D and
 * TRANSPOSE_CONV (int8 per-channel, uint8 per-tensor legacy, int16 x int8
 * "16x8"), plain loops written to give LiteRT's reference kernels' results
 * exactly: int32 sums (int64 for int16 inputs), then the per-channel
 * multiplier of quant_params.h, the output zero point and the activation
 * clamp. Where the weights were folded at load (bias32), a padded tap
 * counts as the input zero point, which is what skipping it means in the
 * offset form. Also the shape functions, shared with the hybrid kernels. */
#include "kernels/ref/quant_conv.h"

#include <stdio.h>

#include "kernels/ref/quant_common.h"

/* ------------------------------------------------------------ shapes */

static kiln_status *check_window(const kiln_conv_attrs *a, bool dilated) {
  KILN_TRY(kiln_check_window_attrs(a->padding, a->stride_h, a->stride_w,
                                   a->activation));
  if (dilated && (a->dilation_h < 1 || a->dilation_w < 1))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "dilation %dx%d must be at least 1x1", a->dilation_h,
                      a->dilation_w);
  return NULL;
}

kiln_status *kiln_conv_set_shape4(const kiln_op_ctx *ctx, const int64_t *dims) {
  char buf[KILN_DIMS_STR_SIZE];
  /* The batch may be 0 (an empty output, nothing to compute). */
  for (int i = 0; i < 4; i++)
    if (dims[i] < 0 || (dims[i] == 0 && i > 0))
      return kiln_error(KILN_ERR_INVALID_MODEL, "output shape %s is empty",
                        kiln_dims_str(dims, 4, buf, sizeof buf));
  kiln_set_shape(ctx->outputs[0], dims, 4);
  return NULL;
}

kiln_status *kiln_conv_forward_dims(const kiln_op_ctx *ctx, int64_t channels,
                                    int64_t *dims) {
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  dims[0] = in->dims[0];
  dims[3] = channels;
  KILN_TRY(kiln_window_out_size(in, 1, f->dims[1], a->stride_h, a->dilation_h,
                                a->padding, &dims[1]));
  return kiln_window_out_size(in, 2, f->dims[2], a->stride_w, a->dilation_w,
                              a->padding, &dims[2]);
}

/* Output [N, OH, OW, channels] of a forward window over input 0. */
static kiln_status *set_forward_output(const kiln_op_ctx *ctx,
                                       int64_t channels) {
  int64_t dims[4];
  KILN_TRY(kiln_conv_forward_dims(ctx, channels, dims));
  return kiln_conv_set_shape4(ctx, dims);
}

static kiln_status *check_forward(const kiln_op_ctx *ctx, int max_inputs) {
  KILN_TRY(kiln_check_arity(ctx, 2, max_inputs, 1));
  KILN_TRY(check_window(ctx->attrs, true));
  KILN_TRY(kiln_q_require_batch_input(ctx, 0, "input", true, 4, 4));
  KILN_TRY(kiln_q_require_weights(ctx, 1, 4));
  return kiln_q_check_output_type(ctx, ctx->inputs[0]);
}

kiln_status *kiln_q_shape_conv_2d(const kiln_op_ctx *ctx) {
  KILN_TRY(check_forward(ctx, 3));
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  char si[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE];
  kiln_dims_str(in->dims, 4, si, sizeof si);
  kiln_dims_str(f->dims, 4, sf, sizeof sf);
  if (in->dims[3] % f->dims[3] != 0 ||
      f->dims[0] % (in->dims[3] / f->dims[3]) != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) shape %s and input 1 (filter) shape %s "
                      "do not split into groups",
                      si, sf);
  KILN_TRY(kiln_q_check_bias(ctx, 2, f->dims[0], in->dtype == KILN_FLOAT32));
  return set_forward_output(ctx, f->dims[0]);
}

kiln_status *kiln_q_shape_depthwise_conv_2d(const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *a = ctx->attrs;
  KILN_TRY(check_forward(ctx, 3));
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  char si[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE];
  kiln_dims_str(in->dims, 4, si, sizeof si);
  kiln_dims_str(f->dims, 4, sf, sizeof sf);
  int64_t c = in->dims[3], fc = f->dims[3];
  if (f->dims[0] != 1 || fc % c != 0 ||
      (a->depth_multiplier != 0 && a->depth_multiplier * c != fc))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (filter) shape %s does not fit input 0 (input) "
                      "shape %s with depth_multiplier %d",
                      sf, si, a->depth_multiplier);
  KILN_TRY(kiln_q_check_bias(ctx, 2, fc, in->dtype == KILN_FLOAT32));
  return set_forward_output(ctx, fc);
}

enum { TCONV_SHAPE = 0, TCONV_FILTER = 1, TCONV_INPUT = 2, TCONV_BIAS = 3 };

kiln_status *kiln_q_shape_transpose_conv(const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 3, 4, 1));
  KILN_TRY(check_window(a, false));
  if (a->dilation_h > 1 || a->dilation_w > 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "dilation %dx%d is not supported by TRANSPOSE_CONV",
                      a->dilation_h, a->dilation_w);
  KILN_TRY(kiln_require_known(ctx, TCONV_SHAPE, "output_shape"));
  const kiln_tensor *s = ctx->inputs[TCONV_SHAPE];
  if ((s->dtype != KILN_INT32 && s->dtype != KILN_INT64) || s->rank != 1 ||
      s->dims[0] != 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (output_shape) must be an int32 vector of 4");
  int64_t dims[4];
  for (int i = 0; i < 4; i++) dims[i] = kiln_tensor_int(s, i);
  KILN_TRY(kiln_q_require_weights(ctx, TCONV_FILTER, 4));
  KILN_TRY(kiln_q_require_input(ctx, TCONV_INPUT, "input", true, 4, 4));
  const kiln_tensor *f = ctx->inputs[TCONV_FILTER];
  const kiln_tensor *in = ctx->inputs[TCONV_INPUT];
  KILN_TRY(kiln_q_check_output_type(ctx, in));
  if (f->dims[3] != in->dims[3] || dims[0] != in->dims[0] ||
      dims[3] != f->dims[0]) {
    char so[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE], si[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (output_shape) %s, input 1 (filter) shape %s "
                      "and input 2 (input) shape %s do not agree",
                      kiln_dims_str(dims, 4, so, sizeof so),
                      kiln_dims_str(f->dims, 4, sf, sizeof sf),
                      kiln_dims_str(in->dims, 4, si, sizeof si));
  }
  KILN_TRY(kiln_q_check_bias(ctx, TCONV_BIAS, f->dims[0],
                             in->dtype == KILN_FLOAT32));
  return kiln_conv_set_shape4(ctx, dims);
}

/* ---------------------------------------------------------- geometry */

kiln_q_geom kiln_conv_geom(const kiln_conv_attrs *a, const kiln_tensor *in,
                           const kiln_tensor *f, const kiln_tensor *out) {
  kiln_q_geom g = {
      .batch = in->dims[0],
      .in_h = in->dims[1],
      .in_w = in->dims[2],
      .in_c = in->dims[3],
      .out_h = out->dims[1],
      .out_w = out->dims[2],
      .out_c = out->dims[3],
      .k_h = f->dims[1],
      .k_w = f->dims[2],
      .stride_h = a->stride_h,
      .stride_w = a->stride_w,
      .dil_h = a->dilation_h,
      .dil_w = a->dilation_w,
  };
  g.pad_top = kiln_window_pad_before(g.in_h, g.out_h, g.k_h, g.stride_h,
                                     g.dil_h, a->padding);
  g.pad_left = kiln_window_pad_before(g.in_w, g.out_w, g.k_w, g.stride_w,
                                      g.dil_w, a->padding);
  return g;
}

kiln_q_geom kiln_q_forward_geom(const kiln_op_ctx *ctx) {
  return kiln_conv_geom(ctx->attrs, ctx->inputs[0], ctx->inputs[1],
                        ctx->outputs[0]);
}

/* ------------------------------------------------------------ kernels */

/* What one output value's sum needs to know about its tensors. */
typedef struct qsum {
  const void *x, *w;
  kiln_dtype xt, wt;
  int32_t x_zp, w_zp;
  bool folded; /* bias32 in use: raw products, padded taps as x_zp */
} qsum;

/* One tap's contribution: `channels` inputs from x_at (or the zero point
 * for a padded tap, x_at < 0) times weights from w_at, `w_step` apart. */
static int64_t tap_sum(const qsum *s, int64_t x_at, int64_t w_at,
                       int64_t w_step, int64_t channels) {
  int64_t acc = 0;
  if (x_at < 0) {
    if (!s->folded) return 0;
    for (int64_t c = 0; c < channels; c++)
      acc += (int64_t)s->x_zp * kiln_q_load(s->w, s->wt, w_at + c * w_step);
    return acc;
  }
  /* The common case, int8 by int8 with the bias folded, in typed loops
   * (a reference kernel still, but MobileNet-sized models in seconds). */
  if (s->folded && s->xt == KILN_INT8 && s->wt == KILN_INT8) {
    const int8_t *x = (const int8_t *)s->x + x_at;
    const int8_t *w = (const int8_t *)s->w + w_at;
    int32_t sum = 0; /* |sum| < 2^14 * channels: int32 for any real model */
    for (int64_t c = 0; c < channels; c++) sum += x[c] * w[c * w_step];
    return sum;
  }
  for (int64_t c = 0; c < channels; c++) {
    int32_t x = kiln_q_load(s->x, s->xt, x_at + c);
    int32_t w = kiln_q_load(s->w, s->wt, w_at + c * w_step);
    acc += s->folded ? (int64_t)x * w
                     : (int64_t)(x - s->x_zp) * (int64_t)(w - s->w_zp);
  }
  return acc;
}

/* Writes output element `i` of channel `oc` from the window sum. */
static void finish(const kiln_op_ctx *ctx, const kiln_tensor *bias, int64_t i,
                   int64_t oc, int64_t sum) {
  const kiln_quant_params *p = ctx->quant;
  kiln_tensor *out = ctx->outputs[0];
  int32_t v;
  if (p->wide_acc) {
    v = kiln_q_requantize64(p, oc, sum + (p->bias64 ? p->bias64[oc] : 0));
  } else {
    int64_t b = p->bias32 ? p->bias32[oc]
                          : (bias ? ((const int32_t *)bias->data)[oc] : 0);
    /* TFLite's int32 accumulator wraps; so does this one. */
    v = kiln_q_requantize(p, oc, (int32_t)(uint32_t)(uint64_t)(sum + b));
  }
  kiln_q_store(out->data, out->dtype, i, v);
}

static qsum make_sum(const kiln_op_ctx *ctx, const kiln_tensor *x,
                     const kiln_tensor *w) {
  const kiln_quant_params *p = ctx->quant;
  return (qsum){x->data,     w->data,      x->dtype,         w->dtype,
                p->input_zp, p->filter_zp, p->bias32 != NULL};
}

static const kiln_tensor *optional(const kiln_op_ctx *ctx, int index) {
  return index < ctx->num_inputs ? ctx->inputs[index] : NULL;
}

kiln_status *kiln_q_conv_2d(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_quant_require_params(ctx));
  if (ctx->quant->hybrid) return kiln_hybrid_conv_2d(ctx);
  kiln_q_geom g = kiln_q_forward_geom(ctx);
  const kiln_tensor *f = ctx->inputs[1];
  qsum s = make_sum(ctx, ctx->inputs[0], f);
  const kiln_tensor *bias = optional(ctx, 2);
  int64_t group_in = f->dims[3];
  int64_t group_out = g.out_c / (g.in_c / group_in);
  int64_t i = 0;
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++)
        for (int64_t oc = 0; oc < g.out_c; oc++, i++) {
          int64_t sum = 0, c0 = oc / group_out * group_in;
          for (int64_t ky = 0; ky < g.k_h; ky++) {
            int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dil_h;
            for (int64_t kx = 0; kx < g.k_w; kx++) {
              int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dil_w;
              bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
              int64_t x_at =
                  inside ? ((b * g.in_h + iy) * g.in_w + ix) * g.in_c + c0 : -1;
              int64_t w_at = ((oc * g.k_h + ky) * g.k_w + kx) * group_in;
              sum += tap_sum(&s, x_at, w_at, 1, group_in);
            }
          }
          finish(ctx, bias, i, oc, sum);
        }
  return NULL;
}

kiln_status *kiln_q_depthwise_conv_2d(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_quant_require_params(ctx));
  if (ctx->quant->hybrid) return kiln_hybrid_depthwise_conv_2d(ctx);
  kiln_q_geom g = kiln_q_forward_geom(ctx);
  qsum s = make_sum(ctx, ctx->inputs[0], ctx->inputs[1]);
  const kiln_tensor *bias = optional(ctx, 2);
  int64_t multiplier = g.out_c / g.in_c, i = 0;
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++)
        for (int64_t oc = 0; oc < g.out_c; oc++, i++) {
          int64_t sum = 0;
          for (int64_t ky = 0; ky < g.k_h; ky++) {
            int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dil_h;
            for (int64_t kx = 0; kx < g.k_w; kx++) {
              int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dil_w;
              bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
              int64_t x_at = inside
                                 ? ((b * g.in_h + iy) * g.in_w + ix) * g.in_c +
                                       oc / multiplier
                                 : -1;
              /* filter [1, KH, KW, out_c]: channel oc's tap */
              int64_t w_at = (ky * g.k_w + kx) * g.out_c + oc;
              sum += tap_sum(&s, x_at, w_at, 1, 1);
            }
          }
          finish(ctx, bias, i, oc, sum);
        }
  return NULL;
}

int64_t kiln_q_transpose_pad(int64_t out, int64_t k, int stride,
                             kiln_padding padding) {
  return kiln_window_pad_before(out, (out + stride - 1) / stride, k, stride, 1,
                                padding);
}

int64_t kiln_q_transpose_source(int64_t o, int64_t k, int64_t pad, int stride,
                                int64_t in) {
  int64_t at = o + pad - k;
  if (at < 0 || at % stride != 0 || at / stride >= in) return -1;
  return at / stride;
}

kiln_status *kiln_q_transpose_conv(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_quant_require_params(ctx));
  if (ctx->quant->hybrid) return kiln_hybrid_transpose_conv(ctx);
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[TCONV_INPUT];
  const kiln_tensor *f = ctx->inputs[TCONV_FILTER];
  const kiln_tensor *out = ctx->outputs[0];
  const kiln_tensor *bias = optional(ctx, TCONV_BIAS);
  qsum s = make_sum(ctx, in, f);
  int64_t batch = in->dims[0], in_h = in->dims[1], in_w = in->dims[2],
          in_c = in->dims[3];
  int64_t out_h = out->dims[1], out_w = out->dims[2], out_c = out->dims[3];
  int64_t k_h = f->dims[1], k_w = f->dims[2];
  int64_t pad_top = kiln_q_transpose_pad(out_h, k_h, a->stride_h, a->padding);
  int64_t pad_left = kiln_q_transpose_pad(out_w, k_w, a->stride_w, a->padding);
  int64_t i = 0;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t oy = 0; oy < out_h; oy++)
      for (int64_t ox = 0; ox < out_w; ox++)
        for (int64_t oc = 0; oc < out_c; oc++, i++) {
          int64_t sum = 0;
          for (int64_t ky = 0; ky < k_h; ky++) {
            int64_t iy =
                kiln_q_transpose_source(oy, ky, pad_top, a->stride_h, in_h);
            if (iy < 0) continue;
            for (int64_t kx = 0; kx < k_w; kx++) {
              int64_t ix =
                  kiln_q_transpose_source(ox, kx, pad_left, a->stride_w, in_w);
              if (ix < 0) continue;
              int64_t x_at = ((b * in_h + iy) * in_w + ix) * in_c;
              int64_t w_at = ((oc * k_h + ky) * k_w + kx) * in_c;
              sum += tap_sum(&s, x_at, w_at, 1, in_c);
            }
          }
          finish(ctx, bias, i, oc, sum);
        }
  return NULL;
}
