/* conv3d.c - float32 CONV_3D and CONV_3D_TRANSPOSE (TFLite's conv3d.cc and
 * conv3d_transpose.cc), plain loops.
 *
 * CONV_3D: input [N, D, H, W, C], filter [KD, KH, KW, C, O], optional bias
 * [O]; output [N, OD, OH, OW, O] with TFLite's SAME / VALID window rule on
 * each spatial axis (kernel.h), dilations and strides per axis.
 * CONV_3D_TRANSPOSE: inputs (output_shape int32[5], filter [KD, KH, KW, O,
 * C], input [N, D, H, W, C], optional bias [O]); each input value adds
 * value * filter tap into the output window a forward convolution over the
 * output would have read it from, so the output shape must be one whose
 * forward window positions are exactly the input's (as TFLite checks).
 *
 * The fused activation is one of TFLite's clamps (NONE, RELU, RELU6,
 * RELU_N1_TO_1): TFLite's 3-D kernels apply only an activation range, so
 * others (TANH, SIGN_BIT) would be ignored there and are refused here
 * rather than computed differently. The batch may be 0 (nothing to do). */
#include <stdio.h>

#include "kernels/kernel.h"
#include "kernels/ref/movement.h"

enum { TCONV3D_SHAPE = 0, TCONV3D_FILTER = 1, TCONV3D_INPUT = 2 };

/* The spatial geometry of one 3-D convolution: sizes, window and padding
 * on each of the axes D, H, W (index 0..2). */
typedef struct geom3 {
  int64_t batch, in[3], out[3], k[3], pad[3];
  int stride[3], dilation[3];
  int64_t in_c, out_c;
} geom3;

static const char *const kAxisNames[3] = {"depth", "height", "width"};

static kiln_status *check_attrs(const kiln_conv3d_attrs *a) {
  if (a->padding != KILN_PAD_SAME && a->padding != KILN_PAD_VALID)
    return kiln_error(KILN_ERR_INVALID_MODEL, "padding %d is not SAME or VALID",
                      (int)a->padding);
  if (a->stride_d < 1 || a->stride_h < 1 || a->stride_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "strides %dx%dx%d must be at least 1", a->stride_d,
                      a->stride_h, a->stride_w);
  if (a->dilation_d < 1 || a->dilation_h < 1 || a->dilation_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "dilations %dx%dx%d must be at least 1", a->dilation_d,
                      a->dilation_h, a->dilation_w);
  switch (a->activation) {
    case KILN_ACT_NONE:
    case KILN_ACT_RELU:
    case KILN_ACT_RELU6:
    case KILN_ACT_RELU_N1_TO_1:
      return NULL;
    default:
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "fused activation %d is not supported on a 3-D "
                        "convolution (NONE, RELU, RELU6, RELU_N1_TO_1 only, "
                        "as in TFLite)",
                        (int)a->activation);
  }
}

/* Window positions along one axis of `in` elements (TFLite's rule);
 * fails when VALID leaves no room for the window. */
static kiln_status *out_size(int64_t in, int64_t k, int stride, int dilation,
                             kiln_padding padding, int axis, int64_t *out) {
  const int64_t span = (k - 1) * dilation + 1;
  if (padding == KILN_PAD_SAME) {
    *out = (in + stride - 1) / stride;
    return NULL;
  }
  if (in < span)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "the %s %lld is smaller than the filter's span %lld "
                      "(size %lld, dilation %d) with VALID padding",
                      kAxisNames[axis], (long long)in, (long long)span,
                      (long long)k, dilation);
  *out = (in - span) / stride + 1;
  return NULL;
}

static void fill_window(geom3 *g, const kiln_conv3d_attrs *a,
                        const int64_t *filter_dims) {
  g->stride[0] = a->stride_d, g->stride[1] = a->stride_h;
  g->stride[2] = a->stride_w;
  g->dilation[0] = a->dilation_d, g->dilation[1] = a->dilation_h;
  g->dilation[2] = a->dilation_w;
  for (int i = 0; i < 3; i++) g->k[i] = filter_dims[i];
}

/* Padding before the first element of each axis, for a window sliding
 * over `full` elements to give `positions` outputs. */
static void fill_padding(geom3 *g, const int64_t *full,
                         const int64_t *positions, kiln_padding padding) {
  for (int i = 0; i < 3; i++)
    g->pad[i] = kiln_window_pad_before(full[i], positions[i], g->k[i],
                                       g->stride[i], g->dilation[i], padding);
}

static kiln_status *check_bias(const kiln_op_ctx *ctx, int index,
                               int64_t count) {
  if (index >= ctx->num_inputs || !ctx->inputs[index]) return NULL;
  const kiln_tensor *b = ctx->inputs[index];
  char role[32], buf[KILN_DIMS_STR_SIZE];
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

static const float *optional_data(const kiln_op_ctx *ctx, int index) {
  return index < ctx->num_inputs && ctx->inputs[index]
             ? ctx->inputs[index]->data
             : NULL;
}

/* TFLite's activation range for the clamps check_attrs allows. */
static float clamp_act(float x, kiln_activation act) {
  return act == KILN_ACT_NONE ? x : kiln_activate(x, act);
}

/* ------------------------------------------------------------ CONV_3D */

static kiln_status *conv_geom(const kiln_op_ctx *ctx, geom3 *g) {
  const kiln_conv3d_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  g->batch = in->dims[0];
  g->in_c = in->dims[4];
  g->out_c = f->dims[4];
  fill_window(g, a, f->dims);
  for (int i = 0; i < 3; i++) {
    g->in[i] = in->dims[i + 1];
    KILN_TRY(out_size(g->in[i], g->k[i], g->stride[i], g->dilation[i],
                      a->padding, i, &g->out[i]));
  }
  fill_padding(g, g->in, g->out, a->padding);
  return NULL;
}

kiln_status *kiln_shape_conv_3d(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 3, 1));
  KILN_TRY(check_attrs(ctx->attrs));
  KILN_TRY(kiln_require_float_batch_input(ctx, 0, "input", 5, 5));
  KILN_TRY(kiln_require_float_input(ctx, 1, "filter", 5, 5));
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  if (in->dims[4] != f->dims[3]) {
    char si[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE];
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 0 (input) shape %s has %lld channels but input "
        "1 (filter) shape %s takes %lld (dimension 3)",
        kiln_dims_str(in->dims, 5, si, sizeof si), (long long)in->dims[4],
        kiln_dims_str(f->dims, 5, sf, sizeof sf), (long long)f->dims[3]);
  }
  KILN_TRY(check_bias(ctx, 2, f->dims[4]));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  geom3 g;
  KILN_TRY(conv_geom(ctx, &g));
  int64_t dims[5] = {g.batch, g.out[0], g.out[1], g.out[2], g.out_c};
  kiln_set_shape(ctx->outputs[0], dims, 5);
  return NULL;
}

/* One output position: the dot product of its window with every output
 * channel's filter, into acc[out_c]. */
static void conv_point(const geom3 *g, const float *in, const float *w,
                       int64_t b, const int64_t *o, float *acc) {
  for (int64_t oc = 0; oc < g->out_c; oc++) acc[oc] = 0.0f;
  for (int64_t kd = 0; kd < g->k[0]; kd++) {
    int64_t id = o[0] * g->stride[0] - g->pad[0] + kd * g->dilation[0];
    if (id < 0 || id >= g->in[0]) continue;
    for (int64_t kh = 0; kh < g->k[1]; kh++) {
      int64_t ih = o[1] * g->stride[1] - g->pad[1] + kh * g->dilation[1];
      if (ih < 0 || ih >= g->in[1]) continue;
      for (int64_t kw = 0; kw < g->k[2]; kw++) {
        int64_t iw = o[2] * g->stride[2] - g->pad[2] + kw * g->dilation[2];
        if (iw < 0 || iw >= g->in[2]) continue;
        const float *x =
            in +
            (((b * g->in[0] + id) * g->in[1] + ih) * g->in[2] + iw) * g->in_c;
        const float *tap =
            w + ((kd * g->k[1] + kh) * g->k[2] + kw) * g->in_c * g->out_c;
        for (int64_t ic = 0; ic < g->in_c; ic++)
          for (int64_t oc = 0; oc < g->out_c; oc++)
            acc[oc] += x[ic] * tap[ic * g->out_c + oc];
      }
    }
  }
}

kiln_status *kiln_ref_conv_3d(const kiln_op_ctx *ctx) {
  const kiln_conv3d_attrs *a = ctx->attrs;
  geom3 g;
  KILN_TRY(conv_geom(ctx, &g));
  const float *in = ctx->inputs[0]->data, *w = ctx->inputs[1]->data;
  const float *bias = optional_data(ctx, 2);
  float *out = ctx->outputs[0]->data;
  int64_t o[3];
  for (int64_t b = 0; b < g.batch; b++)
    for (o[0] = 0; o[0] < g.out[0]; o[0]++)
      for (o[1] = 0; o[1] < g.out[1]; o[1]++)
        for (o[2] = 0; o[2] < g.out[2]; o[2]++) {
          /* the output row itself is the accumulator */
          conv_point(&g, in, w, b, o, out);
          for (int64_t oc = 0; oc < g.out_c; oc++)
            out[oc] =
                clamp_act(out[oc] + (bias ? bias[oc] : 0.0f), a->activation);
          out += g.out_c;
        }
  return NULL;
}

double kiln_flops_conv_3d(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 2 || !ctx->inputs[1]) return 0.0;
  const kiln_tensor *f = ctx->inputs[1];
  return 2.0 * (double)f->dims[0] * (double)f->dims[1] * (double)f->dims[2] *
         (double)f->dims[3] * (double)kiln_tensor_numel(ctx->outputs[0]);
}

/* -------------------------------------------------- CONV_3D_TRANSPOSE */

static kiln_status *transpose_geom(const kiln_op_ctx *ctx, geom3 *g) {
  const kiln_tensor *out = ctx->outputs[0], *f = ctx->inputs[TCONV3D_FILTER];
  const kiln_tensor *in = ctx->inputs[TCONV3D_INPUT];
  fill_window(g, ctx->attrs, f->dims);
  g->batch = in->dims[0];
  g->in_c = in->dims[4];
  g->out_c = f->dims[3];
  for (int i = 0; i < 3; i++) {
    g->in[i] = in->dims[i + 1];
    g->out[i] = out->dims[i + 1];
  }
  /* the forward window slides over the output, one position per input */
  const kiln_conv3d_attrs *a = ctx->attrs;
  fill_padding(g, g->out, g->in, a->padding);
  return NULL;
}

kiln_status *kiln_shape_conv_3d_transpose(const kiln_op_ctx *ctx) {
  const kiln_conv3d_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 3, 4, 1));
  KILN_TRY(check_attrs(a));
  KILN_TRY(kiln_require_float_input(ctx, TCONV3D_FILTER, "filter", 5, 5));
  KILN_TRY(kiln_require_float_batch_input(ctx, TCONV3D_INPUT, "input", 5, 5));
  int64_t shape[5];
  int count;
  KILN_TRY(kiln_read_int_vector(ctx, TCONV3D_SHAPE, "output_shape", 5, 5, shape,
                                &count));
  const kiln_tensor *f = ctx->inputs[TCONV3D_FILTER];
  const kiln_tensor *in = ctx->inputs[TCONV3D_INPUT];
  char so[KILN_DIMS_STR_SIZE], si[KILN_DIMS_STR_SIZE], sf[KILN_DIMS_STR_SIZE];
  kiln_dims_str(shape, 5, so, sizeof so);
  kiln_dims_str(in->dims, 5, si, sizeof si);
  kiln_dims_str(f->dims, 5, sf, sizeof sf);
  if (in->dims[4] != f->dims[4])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (input) shape %s has %lld channels but input "
                      "1 (filter) shape %s takes %lld (dimension 4)",
                      si, (long long)in->dims[4], sf, (long long)f->dims[4]);
  if (shape[0] != in->dims[0] || shape[4] != f->dims[3])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (output_shape) is %s; its batch must be input "
                      "2's (shape %s) and its channels input 1's dimension 3 "
                      "(filter shape %s)",
                      so, si, sf);
  for (int i = 1; i < 4; i++)
    if (shape[i] < 1 || shape[i] > INT32_MAX)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (output_shape) is %s; its %s must be "
                        "positive",
                        so, kAxisNames[i - 1]);
  geom3 g;
  fill_window(&g, a, f->dims);
  for (int i = 0; i < 3; i++) {
    int64_t positions = 0; /* set by out_size; gcc -O3 cannot tell */
    KILN_TRY(out_size(shape[i + 1], g.k[i], g.stride[i], g.dilation[i],
                      a->padding, i, &positions));
    if (positions != in->dims[i + 1])
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (output_shape) %s does not match input 2 "
                        "(input) shape %s: a window over the output's %s "
                        "%lld takes %lld positions, not %lld",
                        so, si, kAxisNames[i], (long long)shape[i + 1],
                        (long long)positions, (long long)in->dims[i + 1]);
  }
  KILN_TRY(check_bias(ctx, 3, f->dims[3]));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  KILN_TRY(kiln_check_shape(shape, 5, KILN_FLOAT32, "input 0 (output_shape)"));
  kiln_set_shape(ctx->outputs[0], shape, 5);
  return NULL;
}

/* Scatters every input value through the filter into the output, then
 * adds the bias and clamps; taps that land in the padding are dropped. */
kiln_status *kiln_ref_conv_3d_transpose(const kiln_op_ctx *ctx) {
  const kiln_conv3d_attrs *a = ctx->attrs;
  geom3 g;
  KILN_TRY(transpose_geom(ctx, &g));
  const float *in = ctx->inputs[TCONV3D_INPUT]->data;
  const float *w = ctx->inputs[TCONV3D_FILTER]->data;
  const float *bias = optional_data(ctx, 3);
  float *out = ctx->outputs[0]->data;
  const int64_t total = kiln_tensor_numel(ctx->outputs[0]);
  for (int64_t i = 0; i < total; i++) out[i] = 0.0f;
  int64_t p[3];
  for (int64_t b = 0; b < g.batch; b++)
    for (p[0] = 0; p[0] < g.in[0]; p[0]++)
      for (p[1] = 0; p[1] < g.in[1]; p[1]++)
        for (p[2] = 0; p[2] < g.in[2]; p[2]++) {
          const float *x =
              in + (((b * g.in[0] + p[0]) * g.in[1] + p[1]) * g.in[2] + p[2]) *
                       g.in_c;
          for (int64_t kd = 0; kd < g.k[0]; kd++) {
            int64_t od = p[0] * g.stride[0] - g.pad[0] + kd * g.dilation[0];
            if (od < 0 || od >= g.out[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; kh++) {
              int64_t oh = p[1] * g.stride[1] - g.pad[1] + kh * g.dilation[1];
              if (oh < 0 || oh >= g.out[1]) continue;
              for (int64_t kw = 0; kw < g.k[2]; kw++) {
                int64_t ow = p[2] * g.stride[2] - g.pad[2] + kw * g.dilation[2];
                if (ow < 0 || ow >= g.out[2]) continue;
                float *y =
                    out +
                    (((b * g.out[0] + od) * g.out[1] + oh) * g.out[2] + ow) *
                        g.out_c;
                /* filter [KD, KH, KW, O, C] */
                const float *tap =
                    w + ((kd * g.k[1] + kh) * g.k[2] + kw) * g.out_c * g.in_c;
                for (int64_t oc = 0; oc < g.out_c; oc++)
                  for (int64_t ic = 0; ic < g.in_c; ic++)
                    y[oc] += x[ic] * tap[oc * g.in_c + ic];
              }
            }
          }
        }
  for (int64_t i = 0; i < total; i++)
    out[i] =
        clamp_act(out[i] + (bias ? bias[i % g.out_c] : 0.0f), a->activation);
  return NULL;
}

double kiln_flops_conv_3d_transpose(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 3 || !ctx->inputs[TCONV3D_FILTER] ||
      !ctx->inputs[TCONV3D_INPUT])
    return 0.0;
  const kiln_tensor *f = ctx->inputs[TCONV3D_FILTER];
  return 2.0 * (double)f->dims[0] * (double)f->dims[1] * (double)f->dims[2] *
         (double)f->dims[3] *
         (double)kiln_tensor_numel(ctx->inputs[TCONV3D_INPUT]);
}
