/* tf_ops_nn.c - TensorFlow's convolutions, matrix products, batch
 * normalization and pooling as kiln operators. TensorFlow keeps a Conv2D
 * filter as [H, W, in, out], a depthwise one as [H, W, in, multiplier] and
 * a Conv2DBackpropInput one as [H, W, out, in]; kiln's CONV_2D and
 * TRANSPOSE_CONV take [out, H, W, in] and DEPTHWISE_CONV_2D [1, H, W,
 * in * multiplier], so filters pass through a TRANSPOSE or RESHAPE, which
 * folds away when the filter is a constant (always, for variables). A
 * MatMul by a constant becomes FULLY_CONNECTED with [N, K] weights. */
#include "formats/savedmodel/tf_ops_nn.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "formats/savedmodel/tf_ops_util.h"

typedef struct window {
  kiln_padding padding;
  int64_t strides[4], dilations[4], ksize[4];
} window;

/* Strides, dilations (and ksize for pools), and padding; EXPLICIT
 * padding becomes a PAD of *x and VALID. */
static kiln_status *read_window(sm_importer *im, const kiln_tf_node *n,
                                const char *name, bool pool, int *x,
                                window *w) {
  KILN_TRY(sm_nhwc(im, n));
  KILN_TRY(sm_attr_ints(im, n, "strides", 4, 4, w->strides, NULL));
  for (int i = 0; i < 4; i++) w->dilations[i] = w->ksize[i] = 1;
  if (kiln_tf_node_attr(n, "dilations"))
    KILN_TRY(sm_attr_ints(im, n, "dilations", 4, 4, w->dilations, NULL));
  if (pool) KILN_TRY(sm_attr_ints(im, n, "ksize", 4, 4, w->ksize, NULL));
  for (int i = 0; i < 4; i++)
    if (w->strides[i] < 1 || w->dilations[i] < 1 || w->ksize[i] < 1 ||
        w->strides[i] > (1 << 16) || w->dilations[i] > (1 << 16) ||
        w->ksize[i] > (1 << 16))
      return sm_node_error(im, n,
                           "strides, dilations and ksize must be in "
                           "[1, 65536]");
  if (w->strides[0] != 1 || w->strides[3] != 1 || w->dilations[0] != 1 ||
      w->dilations[3] != 1 || w->ksize[0] != 1 || w->ksize[3] != 1)
    return sm_node_error(im, n,
                         "strides, dilations or ksize over the batch or "
                         "channels are not supported");
  char buf[32];
  const char *padding = sm_attr_str(n, "padding", "", buf, sizeof buf);
  if (strcmp(padding, "SAME") == 0) {
    w->padding = KILN_PAD_SAME;
  } else if (strcmp(padding, "VALID") == 0) {
    w->padding = KILN_PAD_VALID;
  } else if (strcmp(padding, "EXPLICIT") == 0 && !pool) {
    int64_t p[8];
    KILN_TRY(sm_attr_ints(im, n, "explicit_paddings", 8, 8, p, NULL));
    int32_t pads[8];
    for (int i = 0; i < 8; i++) {
      if (p[i] < 0 || p[i] > (1 << 20))
        return sm_node_error(im, n, "explicit_paddings[%d] = %lld", i,
                             (long long)p[i]);
      pads[i] = (int32_t)p[i];
    }
    int pad;
    KILN_TRY(sm_const_i32(im, name, "explicit_paddings", pads, 8, &pad));
    im->gb.g->values[pad].rank = 2;
    im->gb.g->values[pad].dims[0] = im->gb.g->values[pad].signature[0] = 4;
    im->gb.g->values[pad].dims[1] = im->gb.g->values[pad].signature[1] = 2;
    int ins[2] = {*x, pad};
    KILN_TRY(sm_node(im, KILN_OP_PAD, ins, 2, NULL, name, "pad",
                     KILN_DTYPE_INVALID, x));
    w->padding = KILN_PAD_VALID;
  } else {
    return sm_node_error(im, n, "padding '%s' is not supported", padding);
  }
  return NULL;
}

static kiln_conv_attrs conv_attrs(const window *w) {
  kiln_conv_attrs a = {.padding = w->padding,
                       .stride_h = (int)w->strides[1],
                       .stride_w = (int)w->strides[2],
                       .dilation_h = (int)w->dilations[1],
                       .dilation_w = (int)w->dilations[2]};
  return a;
}

/* A TRANSPOSE of `x` by `perm` (folded when x is constant). */
static kiln_status *permute(sm_importer *im, const char *name,
                            const char *suffix, int x, const int32_t *perm,
                            int rank, int *out) {
  int p;
  char s[64];
  snprintf(s, sizeof s, "%s_perm", suffix);
  KILN_TRY(sm_const_i32(im, name, s, perm, rank, &p));
  int ins[2] = {x, p};
  return sm_node(im, KILN_OP_TRANSPOSE, ins, 2, NULL, name, suffix,
                 KILN_DTYPE_INVALID, out);
}

static kiln_status *rank_is(sm_importer *im, const kiln_tf_node *n, int id,
                            int rank, const char *what) {
  if (sm_value(im, id)->rank != rank)
    return sm_node_error(im, n, "its %s has rank %d where %d is needed", what,
                         sm_value(im, id)->rank, rank);
  return NULL;
}

SM_CONVERTER(sm_convert_conv2d) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  int x = in[0].id, w;
  KILN_TRY(rank_is(im, n, x, 4, "input"));
  KILN_TRY(rank_is(im, n, in[1].id, 4, "filter"));
  window win;
  KILN_TRY(read_window(im, n, name, false, &x, &win));
  static const int32_t hwio_to_ohwi[4] = {3, 0, 1, 2};
  KILN_TRY(permute(im, name, "filter", in[1].id, hwio_to_ohwi, 4, &w));
  kiln_conv_attrs a = conv_attrs(&win);
  int ins[3] = {x, w, -1};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_CONV_2D, ins, 3, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

SM_CONVERTER(sm_convert_depthwise) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  int x = in[0].id, w;
  KILN_TRY(rank_is(im, n, x, 4, "input"));
  KILN_TRY(rank_is(im, n, in[1].id, 4, "filter"));
  window win;
  KILN_TRY(read_window(im, n, name, false, &x, &win));
  const kiln_value *f = sm_value(im, in[1].id);
  int64_t mult = f->dims[3];
  if (mult < 1 || f->dims[2] * mult > ((int64_t)1 << 30))
    return sm_node_error(im, n, "its filter has a bad shape");
  /* [H, W, C, M] is [1, H, W, C * M] byte for byte. */
  int32_t shape[4] = {1, (int32_t)f->dims[0], (int32_t)f->dims[1],
                      (int32_t)(f->dims[2] * mult)};
  int s;
  KILN_TRY(sm_const_i32(im, name, "filter_shape", shape, 4, &s));
  kiln_reshape_attrs ra = {.num_dims = -1};
  int rin[2] = {in[1].id, s};
  KILN_TRY(sm_node(im, KILN_OP_RESHAPE, rin, 2, &ra, name, "filter",
                   KILN_DTYPE_INVALID, &w));
  kiln_conv_attrs a = conv_attrs(&win);
  a.depth_multiplier = (int)mult;
  int ins[3] = {x, w, -1};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_DEPTHWISE_CONV_2D, ins, 3, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

SM_CONVERTER(sm_convert_conv2d_transpose) {
  KILN_TRY(sm_inputs(im, n, num_in, 3, 3));
  int x = in[2].id, w, sizes = in[0].id;
  KILN_TRY(rank_is(im, n, x, 4, "input"));
  KILN_TRY(rank_is(im, n, in[1].id, 4, "filter"));
  window win;
  KILN_TRY(read_window(im, n, name, false, &x, &win));
  if (x != in[2].id || win.dilations[1] != 1 || win.dilations[2] != 1)
    return sm_node_error(im, n,
                         "explicit padding and dilation are not supported");
  static const int32_t hwoi_to_ohwi[4] = {2, 0, 1, 3};
  KILN_TRY(permute(im, name, "filter", in[1].id, hwoi_to_ohwi, 4, &w));
  if (sm_value(im, sizes)->dtype != KILN_INT32)
    KILN_TRY(sm_node(im, KILN_OP_CAST, &sizes, 1, NULL, name, "sizes",
                     KILN_INT32, &sizes));
  kiln_conv_attrs a = conv_attrs(&win);
  int ins[4] = {sizes, w, x, -1};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_TRANSPOSE_CONV, ins, 4, &a, name, NULL,
                 sm_value(im, x)->dtype, &out->id);
}

SM_CONVERTER(sm_convert_matmul) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  bool ta = sm_attr_bool(n, "transpose_a", false);
  bool tb = sm_attr_bool(n, "transpose_b", false);
  int a = in[0].id, b = in[1].id;
  KILN_TRY(rank_is(im, n, a, 2, "input a"));
  KILN_TRY(rank_is(im, n, b, 2, "input b"));
  out->kind = SM_VALUE;
  if (!sm_value(im, b)->is_constant || ta) {
    kiln_batch_matmul_attrs m = {.adj_x = ta, .adj_y = tb};
    int ins[2] = {a, b};
    return sm_node(im, KILN_OP_BATCH_MATMUL, ins, 2, &m, name, NULL,
                   KILN_DTYPE_INVALID, &out->id);
  }
  int w = b;
  static const int32_t swap[2] = {1, 0};
  if (!tb) KILN_TRY(permute(im, name, "weights", b, swap, 2, &w));
  kiln_fully_connected_attrs fa = {0};
  int ins[3] = {a, w, -1};
  return sm_node(im, KILN_OP_FULLY_CONNECTED, ins, 3, &fa, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

SM_CONVERTER(sm_convert_batch_matmul) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  kiln_batch_matmul_attrs m = {.adj_x = sm_attr_bool(n, "adj_x", false),
                               .adj_y = sm_attr_bool(n, "adj_y", false)};
  int ins[2] = {in[0].id, in[1].id};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_BATCH_MATMUL, ins, 2, &m, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

/* Inference batch norm: y = x * m + (offset - mean * m) with
 * m = scale / sqrt(variance + epsilon); the per-channel terms fold. */
SM_CONVERTER(sm_convert_batch_norm) {
  KILN_TRY(sm_inputs(im, n, num_in, 5, 5));
  KILN_TRY(sm_nhwc(im, n));
  if (sm_attr_bool(n, "is_training", true))
    return sm_node_error(im, n, "is_training is set (kiln runs inference)");
  float eps = sm_attr_float(n, "epsilon", 0.0001f);
  int x = in[0].id, scale = in[1].id, offset = in[2].id, mean = in[3].id,
      var = in[4].id, e, t, r, m, mm, shift, y;
  KILN_TRY(sm_const_f32(im, name, "epsilon", eps, &e));
  int i1[2] = {var, e};
  KILN_TRY(sm_node(im, KILN_OP_ADD, i1, 2, NULL, name, "var_eps",
                   KILN_DTYPE_INVALID, &t));
  KILN_TRY(sm_node(im, KILN_OP_RSQRT, &t, 1, NULL, name, "rsqrt",
                   KILN_DTYPE_INVALID, &r));
  int i2[2] = {scale, r};
  KILN_TRY(sm_node(im, KILN_OP_MUL, i2, 2, NULL, name, "multiplier",
                   KILN_DTYPE_INVALID, &m));
  int i3[2] = {mean, m};
  KILN_TRY(sm_node(im, KILN_OP_MUL, i3, 2, NULL, name, "mean_scaled",
                   KILN_DTYPE_INVALID, &mm));
  int i4[2] = {offset, mm};
  KILN_TRY(sm_node(im, KILN_OP_SUB, i4, 2, NULL, name, "shift",
                   KILN_DTYPE_INVALID, &shift));
  int i5[2] = {x, m};
  KILN_TRY(sm_node(im, KILN_OP_MUL, i5, 2, NULL, name, "scaled",
                   KILN_DTYPE_INVALID, &y));
  int i6[2] = {y, shift};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_ADD, i6, 2, NULL, name, NULL, KILN_DTYPE_INVALID,
                 &out->id);
}

SM_CONVERTER(sm_convert_pool) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  int x = in[0].id;
  KILN_TRY(rank_is(im, n, x, 4, "input"));
  window win;
  KILN_TRY(read_window(im, n, name, true, &x, &win));
  kiln_pool_attrs a = {.padding = win.padding,
                       .stride_h = (int)win.strides[1],
                       .stride_w = (int)win.strides[2],
                       .filter_h = (int)win.ksize[1],
                       .filter_w = (int)win.ksize[2]};
  kiln_op_type op = kiln_tf_str_eq(n->op, "MaxPool") ? KILN_OP_MAX_POOL_2D
                                                     : KILN_OP_AVERAGE_POOL_2D;
  out->kind = SM_VALUE;
  return sm_node(im, op, &x, 1, &a, name, NULL, KILN_DTYPE_INVALID, &out->id);
}
