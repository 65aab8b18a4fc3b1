/* conv.c - float32 reference CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV:
 * plain loops, the oracle that optimized kernels are tested against. */
#include <stdio.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/quant_conv.h"
#include "kernels/ref/quant_params.h"

/* ------------------------------------------------------------ checks */

/* The optional bias at `index` is omitted or a float32 vector of `count`. */
static kiln_status *check_bias(const kiln_op_ctx *ctx, int index,
                               int64_t count) {
  if (index >= ctx->num_inputs || !ctx->inputs[index]) return NULL;
  const kiln_tensor *b = ctx->inputs[index];
  char role[64], buf[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (bias)", index);
  KILN_TRY(kiln_require_dtype(b, KILN_FLOAT32, role));
  if (b->rank != 1 || b->dims[0] != count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has shape %s; expected [%lld] (one per output "
                      "channel)",
                      role, kiln_dims_str(b->dims, b->rank, buf, sizeof buf),
                      (long long)count);
  return NULL;
}

/* The optional residual at `index` (kiln's own input, put there by
 * passes/fuse_residual.c; no file carries it) is omitted or a float32
 * tensor of exactly the output's shape: it is added element by element,
 * never broadcast. */
static kiln_status *check_residual(const kiln_op_ctx *ctx, int index) {
  if (index >= ctx->num_inputs || !ctx->inputs[index]) return NULL;
  const kiln_tensor *r = ctx->inputs[index], *out = ctx->outputs[0];
  char role[64], sr[KILN_DIMS_STR_SIZE], so[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (residual)", index);
  KILN_TRY(kiln_require_dtype(r, KILN_FLOAT32, role));
  bool same = r->rank == out->rank;
  for (int d = 0; same && d < r->rank; d++) same = r->dims[d] == out->dims[d];
  if (!same)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has shape %s; expected the output's %s", role,
                      kiln_dims_str(r->dims, r->rank, sr, sizeof sr),
                      kiln_dims_str(out->dims, out->rank, so, sizeof so));
  return NULL;
}

static kiln_status *check_attrs(const kiln_conv_attrs *a) {
  return kiln_check_window_attrs(a->padding, a->stride_h, a->stride_w,
                                 a->activation);
}

static kiln_status *check_dilation(const kiln_conv_attrs *a) {
  if (a->dilation_h < 1 || a->dilation_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "dilation %dx%d must be at least 1x1", a->dilation_h,
                      a->dilation_w);
  return NULL;
}

/* The checks CONV_2D and DEPTHWISE_CONV_2D share: counts (up to
 * `max_inputs`), attributes, and a float32 NHWC input 0 and rank-4
 * filter 1. */
static kiln_status *check_forward(const kiln_op_ctx *ctx, int max_inputs) {
  KILN_TRY(kiln_check_arity(ctx, 2, max_inputs, 1));
  KILN_TRY(check_attrs(ctx->attrs));
  KILN_TRY(check_dilation(ctx->attrs));
  KILN_TRY(kiln_require_float_batch_input(ctx, 0, "input", 4, 4));
  return kiln_require_float_input(ctx, 1, "filter", 4, 4);
}

static kiln_status *set_output(const kiln_op_ctx *ctx, const int64_t *dims) {
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  return kiln_conv_set_shape4(ctx, dims);
}

/* Output [N, OH, OW, channels] of a forward convolution. */
static kiln_status *set_conv_output(const kiln_op_ctx *ctx, int64_t channels) {
  int64_t dims[4];
  KILN_TRY(kiln_conv_forward_dims(ctx, channels, dims));
  return set_output(ctx, dims);
}

/* ---------------------------------------------------------- geometry */

/* The geometry (kiln_conv_geom) is quant_conv.c's, shared with the
 * quantized kernels. */

static const float *optional_data(const kiln_op_ctx *ctx, int index) {
  return index < ctx->num_inputs && ctx->inputs[index]
             ? ctx->inputs[index]->data
             : NULL;
}

/* ------------------------------------------------------------ CONV_2D */

kiln_status *kiln_shape_conv_2d(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_conv.c. */
  if (kiln_quant_node(KILN_OP_CONV_2D, ctx)) return kiln_q_shape_conv_2d(ctx);
  KILN_TRY(check_forward(ctx, 4));
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  char si[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE];
  kiln_dims_str(in->dims, 4, si, sizeof si);
  kiln_dims_str(f->dims, 4, sf, sizeof sf);
  /* Grouped convolution: each filter sees in_c / groups input channels. */
  if (in->dims[3] % f->dims[3] != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has shape %s: its %lld channels are "
                      "not a multiple of input 1 (filter) shape %s's %lld "
                      "input channels",
                      si, (long long)in->dims[3], sf, (long long)f->dims[3]);
  int64_t groups = in->dims[3] / f->dims[3];
  if (f->dims[0] % groups != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (filter) has shape %s: its %lld output "
                      "channels do not split into %lld groups (input shape "
                      "%s)",
                      sf, (long long)f->dims[0], (long long)groups, si);
  KILN_TRY(check_bias(ctx, 2, f->dims[0]));
  KILN_TRY(set_conv_output(ctx, f->dims[0]));
  return check_residual(ctx, 3);
}

/* One output value before bias: the window of input pixels around (oy, ox),
 * reading `channels` input channels from `in_c0`, times the filter taps at
 * `w` (tap (ky, kx) at w + (ky * k_w + kx) * tap_stride). */
static float window_dot(const kiln_q_geom *g, const float *in, const float *w,
                        int64_t tap_stride, int64_t b, int64_t oy, int64_t ox,
                        int64_t in_c0, int64_t channels) {
  float acc = 0.0f;
  for (int64_t ky = 0; ky < g->k_h; ky++) {
    int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
    if (iy < 0 || iy >= g->in_h) continue;
    for (int64_t kx = 0; kx < g->k_w; kx++) {
      int64_t ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
      if (ix < 0 || ix >= g->in_w) continue;
      const float *x =
          in + ((b * g->in_h + iy) * g->in_w + ix) * g->in_c + in_c0;
      const float *tap = w + (ky * g->k_w + kx) * tap_stride;
      for (int64_t ic = 0; ic < channels; ic++) acc += x[ic] * tap[ic];
    }
  }
  return acc;
}

kiln_status *kiln_ref_conv_2d(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_conv.c. */
  if (kiln_quant_node(KILN_OP_CONV_2D, ctx)) return kiln_q_conv_2d(ctx);
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *filter = ctx->inputs[1];
  kiln_q_geom g = kiln_conv_geom(a, ctx->inputs[0], filter, ctx->outputs[0]);
  const float *in = ctx->inputs[0]->data, *w = filter->data;
  const float *bias = optional_data(ctx, 2);
  const float *residual = optional_data(ctx, 3);
  float *out = ctx->outputs[0]->data;
  int64_t group_in = filter->dims[3];
  int64_t group_out = g.out_c / (g.in_c / group_in);
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++)
        for (int64_t oc = 0; oc < g.out_c; oc++) {
          /* filter [O, KH, KW, group_in]: output channel oc's taps */
          const float *taps = w + oc * g.k_h * g.k_w * group_in;
          float acc = window_dot(&g, in, taps, group_in, b, oy, ox,
                                 oc / group_out * group_in, group_in);
          if (bias) acc += bias[oc];
          /* As ADD(conv, residual) rounds: after the bias, before the
           * activation. */
          if (residual) acc += *residual++;
          *out++ = kiln_activate(acc, a->activation);
        }
  return NULL;
}

double kiln_flops_conv_2d(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 2 || !ctx->inputs[1]) return 0.0;
  const kiln_tensor *f = ctx->inputs[1];
  double macs_per_output = (double)f->dims[1] * f->dims[2] * f->dims[3];
  double outputs = (double)kiln_tensor_numel(ctx->outputs[0]);
  /* A fused residual adds one more per output. */
  double residual = ctx->num_inputs > 3 && ctx->inputs[3] ? outputs : 0.0;
  return 2.0 * macs_per_output * outputs + residual;
}

/* -------------------------------------------------- DEPTHWISE_CONV_2D */

kiln_status *kiln_shape_depthwise_conv_2d(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_conv.c. */
  if (kiln_quant_node(KILN_OP_DEPTHWISE_CONV_2D, ctx))
    return kiln_q_shape_depthwise_conv_2d(ctx);
  const kiln_conv_attrs *a = ctx->attrs;
  KILN_TRY(check_forward(ctx, 3));
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  char si[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE];
  kiln_dims_str(in->dims, 4, si, sizeof si);
  kiln_dims_str(f->dims, 4, sf, sizeof sf);
  if (f->dims[0] != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (filter) has shape %s; a depthwise filter must "
                      "be [1,height,width,channels]",
                      sf);
  int64_t c = in->dims[3], fc = f->dims[3];
  if (fc % c != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (filter) has shape %s: its %lld channels are "
                      "not a multiple of input 0 (input) shape %s's %lld",
                      sf, (long long)fc, si, (long long)c);
  /* The attribute is redundant with the shapes; a contradiction means the
   * model is not what it claims to be. */
  if (a->depth_multiplier != 0 && a->depth_multiplier * c != fc)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "depth_multiplier %d does not match input 0 (input) "
                      "shape %s and input 1 (filter) shape %s (multiplier "
                      "%lld)",
                      a->depth_multiplier, si, sf, (long long)(fc / c));
  KILN_TRY(check_bias(ctx, 2, fc));
  return set_conv_output(ctx, fc);
}

kiln_status *kiln_ref_depthwise_conv_2d(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_conv.c. */
  if (kiln_quant_node(KILN_OP_DEPTHWISE_CONV_2D, ctx))
    return kiln_q_depthwise_conv_2d(ctx);
  const kiln_conv_attrs *a = ctx->attrs;
  kiln_q_geom g =
      kiln_conv_geom(a, ctx->inputs[0], ctx->inputs[1], ctx->outputs[0]);
  const float *in = ctx->inputs[0]->data, *w = ctx->inputs[1]->data;
  const float *bias = optional_data(ctx, 2);
  float *out = ctx->outputs[0]->data;
  int64_t multiplier = g.out_c / g.in_c;
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++)
        for (int64_t oc = 0; oc < g.out_c; oc++) {
          /* filter [1, KH, KW, out_c]: oc's taps are out_c apart */
          float acc = window_dot(&g, in, w + oc, g.out_c, b, oy, ox,
                                 oc / multiplier, 1);
          if (bias) acc += bias[oc];
          *out++ = kiln_activate(acc, a->activation);
        }
  return NULL;
}

double kiln_flops_depthwise_conv_2d(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 2 || !ctx->inputs[1]) return 0.0;
  const kiln_tensor *f = ctx->inputs[1];
  double macs_per_output = (double)f->dims[1] * f->dims[2];
  return 2.0 * macs_per_output * (double)kiln_tensor_numel(ctx->outputs[0]);
}

/* ----------------------------------------------------- TRANSPOSE_CONV */

enum { TCONV_SHAPE = 0, TCONV_FILTER = 1, TCONV_INPUT = 2, TCONV_BIAS = 3 };

/* Reads and checks the int32[4] output_shape input into dims. */
static kiln_status *read_output_shape(const kiln_op_ctx *ctx, int64_t *dims) {
  KILN_TRY(kiln_require_known(ctx, TCONV_SHAPE, "output_shape"));
  const kiln_tensor *s = ctx->inputs[TCONV_SHAPE];
  char buf[KILN_DIMS_STR_SIZE];
  if (s->dtype != KILN_INT32 && s->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (output_shape) has type %s; expected int32",
                      kiln_dtype_name(s->dtype));
  if (s->rank != 1 || s->dims[0] != 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (output_shape) has shape %s; expected [4]",
                      kiln_dims_str(s->dims, s->rank, buf, sizeof buf));
  for (int i = 0; i < 4; i++) dims[i] = kiln_tensor_int(s, i);
  return NULL;
}

kiln_status *kiln_shape_transpose_conv(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_conv.c. */
  if (kiln_quant_node(KILN_OP_TRANSPOSE_CONV, ctx))
    return kiln_q_shape_transpose_conv(ctx);
  const kiln_conv_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 3, 4, 1));
  KILN_TRY(check_attrs(a));
  /* TFLite's TransposeConvOptions has no dilation; importers leave 0 or 1. */
  if (a->dilation_h > 1 || a->dilation_w > 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "dilation %dx%d is not supported by TRANSPOSE_CONV",
                      a->dilation_h, a->dilation_w);
  int64_t dims[4] = {0};
  KILN_TRY(read_output_shape(ctx, dims));
  KILN_TRY(kiln_require_float_input(ctx, TCONV_FILTER, "filter", 4, 4));
  KILN_TRY(kiln_require_float_input(ctx, TCONV_INPUT, "input", 4, 4));
  const kiln_tensor *f = ctx->inputs[TCONV_FILTER];
  const kiln_tensor *in = ctx->inputs[TCONV_INPUT];
  char so[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE], si[KILN_DIMS_STR_SIZE];
  kiln_dims_str(dims, 4, so, sizeof so);
  kiln_dims_str(f->dims, 4, sf, sizeof sf);
  kiln_dims_str(in->dims, 4, si, sizeof si);
  if (f->dims[3] != in->dims[3])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (filter) has shape %s but input 2 (input) has "
                      "shape %s: filter's last dimension must equal the "
                      "input's channels",
                      sf, si);
  if (dims[0] != in->dims[0] || dims[3] != f->dims[0])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (output_shape) is %s; expected batch %lld (from "
                      "input shape %s) and %lld channels (from filter shape "
                      "%s)",
                      so, (long long)in->dims[0], si, (long long)f->dims[0],
                      sf);
  KILN_TRY(check_bias(ctx, TCONV_BIAS, f->dims[0]));
  return set_output(ctx, dims);
}

/* TFLite pads a transposed convolution as it would pad the forward
 * convolution from the output size: pad_total = (ceil(out/s)-1)*s + k - out.
 * For consistent shapes ceil(out/s) is the input size, making this the
 * adjoint of CONV_2D. */
static int64_t transpose_pad(int64_t out, int64_t k, int stride,
                             kiln_padding padding) {
  return kiln_window_pad_before(out, (out + stride - 1) / stride, k, stride, 1,
                                padding);
}

/* Adds input pixel (b, iy, ix) times the filter into every output it
 * reaches. */
static void scatter_pixel(const kiln_q_geom *g, const float *x,
                          const float *filter, float *out, int64_t b,
                          int64_t iy, int64_t ix) {
  for (int64_t ky = 0; ky < g->k_h; ky++) {
    int64_t oy = iy * g->stride_h - g->pad_top + ky;
    if (oy < 0 || oy >= g->out_h) continue;
    for (int64_t kx = 0; kx < g->k_w; kx++) {
      int64_t ox = ix * g->stride_w - g->pad_left + kx;
      if (ox < 0 || ox >= g->out_w) continue;
      float *y = out + ((b * g->out_h + oy) * g->out_w + ox) * g->out_c;
      for (int64_t oc = 0; oc < g->out_c; oc++) {
        const float *w = filter + ((oc * g->k_h + ky) * g->k_w + kx) * g->in_c;
        float sum = 0.0f;
        for (int64_t ic = 0; ic < g->in_c; ic++) sum += x[ic] * w[ic];
        y[oc] += sum;
      }
    }
  }
}

kiln_status *kiln_ref_transpose_conv(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_conv.c. */
  if (kiln_quant_node(KILN_OP_TRANSPOSE_CONV, ctx))
    return kiln_q_transpose_conv(ctx);
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *in_t = ctx->inputs[TCONV_INPUT];
  kiln_tensor *out_t = ctx->outputs[0];
  kiln_q_geom g = kiln_conv_geom(a, in_t, ctx->inputs[TCONV_FILTER], out_t);
  g.pad_top = transpose_pad(g.out_h, g.k_h, g.stride_h, a->padding);
  g.pad_left = transpose_pad(g.out_w, g.k_w, g.stride_w, a->padding);
  const float *in = in_t->data, *w = ctx->inputs[TCONV_FILTER]->data;
  const float *bias = optional_data(ctx, TCONV_BIAS);
  float *out = out_t->data;
  int64_t n = kiln_tensor_numel(out_t);
  memset(out, 0, (size_t)n * sizeof *out);
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t iy = 0; iy < g.in_h; iy++)
      for (int64_t ix = 0; ix < g.in_w; ix++)
        scatter_pixel(&g, in + ((b * g.in_h + iy) * g.in_w + ix) * g.in_c, w,
                      out, b, iy, ix);
  for (int64_t i = 0; i < n; i++)
    out[i] = kiln_activate(out[i] + (bias ? bias[i % g.out_c] : 0.0f),
                           a->activation);
  return NULL;
}

double kiln_flops_transpose_conv(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 3 || !ctx->inputs[1] || !ctx->inputs[2]) return 0.0;
  const kiln_tensor *f = ctx->inputs[TCONV_FILTER];
  double macs_per_input = (double)f->dims[0] * f->dims[1] * f->dims[2];
  return 2.0 * macs_per_input *
         (double)kiln_tensor_numel(ctx->inputs[TCONV_INPUT]);
}
