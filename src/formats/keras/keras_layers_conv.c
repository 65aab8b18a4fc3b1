/* keras_layers_conv.c - the convolution layers. Keras keeps kernels as
 * [kh, kw, in, out] (transposed ones as [kh, kw, out, in], depthwise ones as
 * [kh, kw, in, multiplier]); kiln's CONV_2D takes [out, kh, kw, in],
 * DEPTHWISE_CONV_2D [1, kh, kw, in * multiplier] (the same bytes as Keras's)
 * and TRANSPOSE_CONV [out, kh, kw, in]. 1-D layers run as 2-D ones over a
 * height of 1. */
#include <string.h>

#include "core/alloc.h"
#include "formats/keras/keras_layers.h"

typedef struct conv_options {
  int kernel[2], strides[2], dilation[2];
  kiln_padding padding;
  bool causal; /* Conv1D's padding="causal" */
  bool use_bias;
} conv_options;

/* Checks the one input (rank dims + 2) and reads the options. */
static kiln_status *read_options(kiln_keras_builder *b, const int *in, int n,
                                 int dims, conv_options *o) {
  static const int ones[2] = {1, 1};
  memset(o, 0, sizeof *o);
  KILN_TRY(kiln_keras_one_input(b, in, n, dims + 2));
  KILN_TRY(kiln_keras_channels_last(b));
  KILN_TRY(kiln_keras_ints(b, "kernel_size", dims, NULL, o->kernel));
  KILN_TRY(kiln_keras_ints(b, "strides", dims, ones, o->strides));
  KILN_TRY(kiln_keras_ints(b, "dilation_rate", dims, ones, o->dilation));
  KILN_TRY(kiln_keras_bool(b, "use_bias", true, &o->use_bias));
  if (dims == 1) {
    o->kernel[1] = o->kernel[0];
    o->kernel[0] = 1;
    o->strides[1] = o->strides[0];
    o->strides[0] = 1;
    o->dilation[1] = o->dilation[0];
    o->dilation[0] = 1;
  }
  for (int i = 0; i < 2; i++)
    if (o->kernel[i] < 1 || o->strides[i] < 1 || o->dilation[i] < 1)
      return kiln_keras_error(b,
                              "kernel_size, strides and dilation_rate "
                              "must be positive");
  const char *padding = kiln_keras_str(b, "padding", "valid");
  if (strcmp(padding, "same") == 0) {
    o->padding = KILN_PAD_SAME;
  } else if (strcmp(padding, "valid") == 0) {
    o->padding = KILN_PAD_VALID;
  } else if (strcmp(padding, "causal") == 0 && dims == 1) {
    o->padding = KILN_PAD_VALID;
    o->causal = true;
  } else {
    return kiln_keras_error(b, "padding '%s' is not supported", padding);
  }
  return NULL;
}

/* Weight `index` ([kh, kw, a, c], or [kw, a, c] for a 1-D layer, want[0]
 * then 1) reordered into a constant laid out as [c, kh, kw, a]. */
static kiln_status *kernel_to_ohwi(kiln_keras_builder *b, int index,
                                   const int64_t *want, const char *suffix,
                                   int *out_id) {
  float *w = NULL;
  int64_t d[4] = {1, 1, 1, 1};
  if (b->conv_1d) {
    KILN_TRY(kiln_keras_weight_read(b, index, 3, want + 1, d + 1, &w));
  } else {
    KILN_TRY(kiln_keras_weight_read(b, index, 4, want, d, &w));
  }
  int64_t od[4] = {d[3], d[0], d[1], d[2]};
  void *data;
  kiln_status *st =
      kiln_keras_const(b, suffix, KILN_FLOAT32, 4, od, out_id, &data);
  if (!st) {
    float *t = data;
    for (int64_t y = 0; y < d[0]; y++)
      for (int64_t x = 0; x < d[1]; x++)
        for (int64_t i = 0; i < d[2]; i++)
          for (int64_t o = 0; o < d[3]; o++)
            t[((o * d[0] + y) * d[1] + x) * d[2] + i] =
                w[((y * d[1] + x) * d[2] + i) * d[3] + o];
  }
  kiln_free(b->g->alloc, w);
  return st;
}

static kiln_status *bias_const(kiln_keras_builder *b, int index, int64_t n,
                               int *out_id) {
  int64_t want[1] = {n};
  return kiln_keras_weight_const(b, index, "bias", 1, want, out_id, NULL);
}

static kiln_conv_attrs conv_attrs(const conv_options *o) {
  kiln_conv_attrs a = {.padding = o->padding,
                       .stride_h = o->strides[0],
                       .stride_w = o->strides[1],
                       .dilation_h = o->dilation[0],
                       .dilation_w = o->dilation[1]};
  return a;
}

/* [N, L, C] -> [N, 1, L, C] and back, for the 1-D layers. */
static kiln_status *to_2d(kiln_keras_builder *b, int x, int *out) {
  int32_t axis = 1;
  int a;
  KILN_TRY(kiln_keras_const_i32(b, "expand_axis", &axis, 1, &a));
  int ins[2] = {x, a};
  return kiln_keras_node(b, KILN_OP_EXPAND_DIMS, ins, 2, NULL, "as_2d",
                         KILN_DTYPE_INVALID, out);
}

static kiln_status *from_2d(kiln_keras_builder *b, int x, int *out) {
  kiln_squeeze_attrs a = {.num_axes = 1, .axes = {1}};
  return kiln_keras_node(b, KILN_OP_SQUEEZE, &x, 1, &a, "as_1d",
                         KILN_DTYPE_INVALID, out);
}

/* CONV_2D over NHWC x with weights 0 (kernel) and 1 (bias). */
static kiln_status *conv2d(kiln_keras_builder *b, const conv_options *o, int x,
                           int *out) {
  int filters, groups;
  KILN_TRY(kiln_keras_int(b, "filters", 0, &filters));
  KILN_TRY(kiln_keras_int(b, "groups", 1, &groups));
  const kiln_value *v = kiln_keras_value(b, x);
  int64_t cin = v->dims[3];
  if (filters < 1 || groups < 1 || cin % groups || filters % groups)
    return kiln_keras_error(b,
                            "filters %d, groups %d and %lld input "
                            "channels do not fit",
                            filters, groups, (long long)cin);
  int64_t want[4] = {o->kernel[0], o->kernel[1], cin / groups, filters};
  int w, bias = -1;
  KILN_TRY(kernel_to_ohwi(b, 0, want, "kernel", &w));
  if (o->use_bias) KILN_TRY(bias_const(b, 1, filters, &bias));
  kiln_conv_attrs a = conv_attrs(o);
  int ins[3] = {x, w, bias};
  return kiln_keras_node(b, KILN_OP_CONV_2D, ins, 3, &a, "conv",
                         KILN_DTYPE_INVALID, out);
}

kiln_status *kiln_keras_build_conv2d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out) {
  conv_options o;
  KILN_TRY(read_options(b, in, n, 2, &o));
  int y;
  KILN_TRY(conv2d(b, &o, in[0], &y));
  *num_out = 1;
  return kiln_keras_layer_activation(b, y, &out[0]);
}

kiln_status *kiln_keras_build_conv1d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out) {
  conv_options o;
  KILN_TRY(read_options(b, in, n, 1, &o));
  int x = in[0], y;
  if (o.causal) {
    /* Causal: pad (kernel - 1) * dilation steps at the start only. */
    int32_t pads[6] = {0, 0, (o.kernel[1] - 1) * o.dilation[1], 0, 0, 0};
    int p;
    KILN_TRY(kiln_keras_const_i32(b, "causal_pad", pads, 6, &p));
    b->g->values[p].rank = 2;
    b->g->values[p].dims[0] = b->g->values[p].signature[0] = 3;
    b->g->values[p].dims[1] = b->g->values[p].signature[1] = 2;
    int ins[2] = {x, p};
    KILN_TRY(kiln_keras_node(b, KILN_OP_PAD, ins, 2, NULL, "causal",
                             KILN_DTYPE_INVALID, &x));
  }
  KILN_TRY(to_2d(b, x, &x));
  b->conv_1d = true;
  KILN_TRY(conv2d(b, &o, x, &y));
  KILN_TRY(from_2d(b, y, &y));
  *num_out = 1;
  return kiln_keras_layer_activation(b, y, &out[0]);
}

/* DEPTHWISE_CONV_2D of x with weight 0 (the depthwise kernel) and the
 * bias constant `bias` (-1: none). */
static kiln_status *depthwise(kiln_keras_builder *b, const conv_options *o,
                              int x, int bias_index, const char *suffix,
                              int *out) {
  int mult;
  KILN_TRY(kiln_keras_int(b, "depth_multiplier", 1, &mult));
  int64_t cin = kiln_keras_value(b, x)->dims[3];
  int64_t want[4] = {o->kernel[0], o->kernel[1], cin, mult};
  int64_t d[4];
  float *w = NULL;
  KILN_TRY(kiln_keras_weight_read(b, 0, 4, want, d, &w));
  /* [kh, kw, in, mult] is [1, kh, kw, in * mult] byte for byte. */
  int64_t fd[4] = {1, d[0], d[1], d[2] * d[3]};
  int f, bias = -1;
  kiln_status *st = kiln_keras_const_f32(b, "depthwise_kernel", w, 4, fd, &f);
  kiln_free(b->g->alloc, w);
  KILN_TRY(st);
  if (bias_index >= 0) KILN_TRY(bias_const(b, bias_index, cin * mult, &bias));
  kiln_conv_attrs a = conv_attrs(o);
  a.depth_multiplier = mult;
  int ins[3] = {x, f, bias};
  return kiln_keras_node(b, KILN_OP_DEPTHWISE_CONV_2D, ins, 3, &a, suffix,
                         KILN_DTYPE_INVALID, out);
}

kiln_status *kiln_keras_build_depthwise2d(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out) {
  conv_options o;
  KILN_TRY(read_options(b, in, n, 2, &o));
  int y;
  KILN_TRY(depthwise(b, &o, in[0], o.use_bias ? 1 : -1, "conv", &y));
  *num_out = 1;
  return kiln_keras_layer_activation(b, y, &out[0]);
}

kiln_status *kiln_keras_build_separable2d(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out) {
  conv_options o;
  KILN_TRY(read_options(b, in, n, 2, &o));
  int mult, filters;
  KILN_TRY(kiln_keras_int(b, "depth_multiplier", 1, &mult));
  KILN_TRY(kiln_keras_int(b, "filters", 0, &filters));
  int64_t cin = kiln_keras_value(b, in[0])->dims[3];
  /* Weights: depthwise kernel, pointwise kernel [1, 1, in * mult, out],
   * bias (of the pointwise step). */
  int pw, bias = -1, dw, y;
  KILN_TRY(depthwise(b, &o, in[0], -1, "depthwise", &dw));
  int64_t pwant[4] = {1, 1, cin * mult, filters};
  KILN_TRY(kernel_to_ohwi(b, 1, pwant, "pointwise_kernel", &pw));
  if (o.use_bias) KILN_TRY(bias_const(b, 2, filters, &bias));
  kiln_conv_attrs p = {.padding = KILN_PAD_VALID,
                       .stride_h = 1,
                       .stride_w = 1,
                       .dilation_h = 1,
                       .dilation_w = 1};
  int pw_in[3] = {dw, pw, bias};
  KILN_TRY(kiln_keras_node(b, KILN_OP_CONV_2D, pw_in, 3, &p, "pointwise",
                           KILN_DTYPE_INVALID, &y));
  *num_out = 1;
  return kiln_keras_layer_activation(b, y, &out[0]);
}

kiln_status *kiln_keras_build_conv2d_transpose(kiln_keras_builder *b,
                                               const int *in, int n, int *out,
                                               int *num_out) {
  conv_options o;
  KILN_TRY(read_options(b, in, n, 2, &o));
  if (o.dilation[0] != 1 || o.dilation[1] != 1)
    return kiln_keras_error(b,
                            "a dilated transposed convolution is not "
                            "supported");
  const json_t *op = json_object_get(b->config, "output_padding");
  if (op && !json_is_null(op))
    return kiln_keras_error(b, "output_padding is not supported");
  int filters;
  KILN_TRY(kiln_keras_int(b, "filters", 0, &filters));
  const kiln_value *v = kiln_keras_value(b, in[0]);
  int64_t batch = v->dims[0], h = v->dims[1], w = v->dims[2], cin = v->dims[3];
  /* Read now: adding values below may move the graph's value array. */
  bool batch_unknown = v->signature[0] < 0;
  /* Keras: [kh, kw, out, in]; TRANSPOSE_CONV: [out, kh, kw, in]. */
  int64_t want[4] = {o.kernel[0], o.kernel[1], filters, cin}, d[4];
  float *k = NULL;
  KILN_TRY(kiln_keras_weight_read(b, 0, 4, want, d, &k));
  int64_t fd[4] = {filters, d[0], d[1], cin};
  int f;
  void *data;
  kiln_status *st =
      kiln_keras_const(b, "kernel", KILN_FLOAT32, 4, fd, &f, &data);
  if (!st) {
    float *t = data;
    for (int64_t y = 0; y < d[0]; y++)
      for (int64_t x = 0; x < d[1]; x++)
        for (int64_t oc = 0; oc < filters; oc++)
          for (int64_t ic = 0; ic < cin; ic++)
            t[((oc * d[0] + y) * d[1] + x) * cin + ic] =
                k[((y * d[1] + x) * filters + oc) * cin + ic];
  }
  kiln_free(b->g->alloc, k);
  KILN_TRY(st);
  int64_t oh = o.padding == KILN_PAD_SAME
                   ? h * o.strides[0]
                   : (h - 1) * o.strides[0] + o.kernel[0];
  int64_t ow = o.padding == KILN_PAD_SAME
                   ? w * o.strides[1]
                   : (w - 1) * o.strides[1] + o.kernel[1];
  int32_t shape[4] = {(int32_t)batch, (int32_t)oh, (int32_t)ow, filters};
  int shape_id, bias = -1, y, dynamic_shape = -1;
  KILN_TRY(kiln_keras_const_i32(b, "output_shape", shape, 4, &shape_id));
  if (batch_unknown) {
    /* An unknown batch: the output shape is [batch of x, oh, ow, filters],
     * worked out at run time as TF's converter does. */
    int s, batch_of_x, rest, begin, end, step;
    int32_t zero = 0, one = 1;
    KILN_TRY(kiln_keras_node(b, KILN_OP_SHAPE, in, 1, NULL, "input_shape",
                             KILN_INT32, &s));
    KILN_TRY(kiln_keras_const_i32(b, "begin", &zero, 1, &begin));
    KILN_TRY(kiln_keras_const_i32(b, "end", &one, 1, &end));
    KILN_TRY(kiln_keras_const_i32(b, "step", &one, 1, &step));
    kiln_strided_slice_attrs sa = {0};
    int sl_in[4] = {s, begin, end, step};
    KILN_TRY(kiln_keras_node(b, KILN_OP_STRIDED_SLICE, sl_in, 4, &sa, "batch",
                             KILN_INT32, &batch_of_x));
    KILN_TRY(kiln_keras_const_i32(b, "spatial_shape", shape + 1, 3, &rest));
    kiln_concat_attrs ca = {.axis = 0};
    int cat_in[2] = {batch_of_x, rest};
    KILN_TRY(kiln_keras_node(b, KILN_OP_CONCATENATION, cat_in, 2, &ca,
                             "dynamic_output_shape", KILN_INT32,
                             &dynamic_shape));
  }
  if (o.use_bias) KILN_TRY(bias_const(b, 1, filters, &bias));
  kiln_conv_attrs a = conv_attrs(&o);
  int ins[4] = {shape_id, f, in[0], bias};
  KILN_TRY(kiln_keras_node(b, KILN_OP_TRANSPOSE_CONV, ins, 4, &a, "conv",
                           KILN_FLOAT32, &y));
  /* Shaped with the constant; run with the run-time shape. */
  if (dynamic_shape >= 0)
    b->g->nodes[b->g->num_nodes - 1].inputs[0] = dynamic_shape;
  *num_out = 1;
  return kiln_keras_layer_activation(b, y, &out[0]);
}
