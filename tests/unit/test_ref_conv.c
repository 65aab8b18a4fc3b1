/* test_ref_conv.c - reference CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV
 * against an independent padded-input convolution, against each other
 * (depthwise == grouped conv, 1x1 conv == FULLY_CONNECTED, transpose conv ==
 * adjoint of conv), hand-computed values, and malformed shapes. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ------------------------------------------------------------ helpers */

static kiln_tensor *f32(int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  int64_t dims[4] = {d0, d1, d2, d3};
  return kiln_test_tensor_f32(4, dims, NULL);
}

static kiln_tensor *vec_f32(int64_t n) {
  int64_t dims[1] = {n};
  return kiln_test_tensor_f32(1, dims, NULL);
}

static kiln_tensor *shape_i32(int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  int64_t dims[1] = {4};
  int32_t values[4] = {(int32_t)d0, (int32_t)d1, (int32_t)d2, (int32_t)d3};
  return kiln_test_tensor_i32(1, dims, values);
}

static kiln_conv_attrs conv_attrs(kiln_padding padding, int stride_h,
                                  int stride_w, int dil_h, int dil_w) {
  kiln_conv_attrs a = {padding, stride_h, stride_w,     dil_h,
                       dil_w,   0,        KILN_ACT_NONE};
  return a;
}

/* ------------------------------------------- the independent oracle */

typedef struct oracle_conv_args {
  const kiln_tensor *in, *filter; /* NHWC, [O, KH, KW, I/groups] */
  const float *bias;              /* may be NULL */
  kiln_conv_attrs attrs;
  const float *residual; /* [B, OH, OW, O], added before the activation */
} oracle_conv_args;

/* Copies the input into a zero-padded buffer [B, H+pad, W+pad, C]. */
static float *pad_input(const kiln_tensor *in, int64_t top, int64_t ph,
                        int64_t left, int64_t pw) {
  int64_t b = in->dims[0], h = in->dims[1], w = in->dims[2], c = in->dims[3];
  float *padded = calloc((size_t)(b * ph * pw * c), sizeof(float));
  const float *src = in->data;
  for (int64_t n = 0; n < b; n++)
    for (int64_t y = 0; y < h; y++)
      memcpy(padded + ((n * ph + y + top) * pw + left) * c,
             src + (n * h + y) * w * c, (size_t)(w * c) * sizeof(float));
  return padded;
}

/* Grouped, dilated, strided convolution; returns [B, OH, OW, O] (malloc). */
static float *oracle_conv(const oracle_conv_args *args, int64_t *oh,
                          int64_t *ow) {
  const kiln_conv_attrs *a = &args->attrs;
  const kiln_tensor *in = args->in, *f = args->filter;
  int64_t b = in->dims[0], h = in->dims[1], w = in->dims[2], c = in->dims[3];
  int64_t o = f->dims[0], kh = f->dims[1], kw = f->dims[2], gi = f->dims[3];
  int64_t groups = c / gi, go = o / groups;
  int64_t span_h = (kh - 1) * a->dilation_h + 1;
  int64_t span_w = (kw - 1) * a->dilation_w + 1;
  *oh = kiln_test_window_positions(h, span_h, a->stride_h, a->padding);
  *ow = kiln_test_window_positions(w, span_w, a->stride_w, a->padding);
  int64_t need_h = (*oh - 1) * a->stride_h + span_h;
  int64_t need_w = (*ow - 1) * a->stride_w + span_w;
  int64_t extra_h = need_h > h ? need_h - h : 0;
  int64_t extra_w = need_w > w ? need_w - w : 0;
  int64_t ph = h + extra_h, pw = w + extra_w;
  float *padded = pad_input(in, extra_h / 2, ph, extra_w / 2, pw);
  int64_t count = b * *oh * *ow * o;
  double *acc = calloc((size_t)count, sizeof(double));
  const float *filter = f->data;
  /* Loop order chosen unlike the kernel's: taps outermost. */
  for (int64_t ky = 0; ky < kh; ky++)
    for (int64_t kx = 0; kx < kw; kx++)
      for (int64_t i = 0; i < count; i++) {
        int64_t oc = i % o, ox = i / o % *ow, oy = i / o / *ow % *oh;
        int64_t n = i / o / *ow / *oh, g = oc / go;
        int64_t y = oy * a->stride_h + ky * a->dilation_h;
        int64_t x = ox * a->stride_w + kx * a->dilation_w;
        const float *p = padded + ((n * ph + y) * pw + x) * c + g * gi;
        const float *wt = filter + ((oc * kh + ky) * kw + kx) * gi;
        for (int64_t ic = 0; ic < gi; ic++) acc[i] += (double)p[ic] * wt[ic];
      }
  float *out = malloc((size_t)count * sizeof(float));
  for (int64_t i = 0; i < count; i++) {
    float sum = (float)acc[i] + (args->bias ? args->bias[i % o] : 0.0f);
    if (args->residual) sum += args->residual[i];
    out[i] = kiln_test_activate(sum, a->activation);
  }
  free(padded);
  free(acc);
  return out;
}

/* Checks `out` has shape [b, oh, ow, c] and values close to `expected`. */
static void check_output(const kiln_tensor *out, int64_t b, int64_t oh,
                         int64_t ow, int64_t c, const float *expected,
                         const char *what) {
  CHECK(out->rank == 4);
  if (out->rank != 4) return;
  bool same = out->dims[0] == b && out->dims[1] == oh && out->dims[2] == ow &&
              out->dims[3] == c;
  CHECK(same);
  if (same)
    kiln_test_close(out->data, expected, b * oh * ow * c, 1e-4f, 1e-4f, what);
}

/* ----------------------------------------------------------- CONV_2D */

/* A random input size that VALID padding can still cover with `span`. */
static int64_t random_size(int64_t span, kiln_padding padding) {
  int64_t size = kiln_test_int(1, 9);
  if (padding == KILN_PAD_VALID && size < span)
    size = span + kiln_test_int(0, 3);
  return size;
}

static void test_conv_random(void) {
  for (int trial = 0; trial < 400; trial++) {
    int64_t groups = kiln_test_int(1, 3), gi = kiln_test_int(1, 4);
    int64_t o = groups * kiln_test_int(1, 3);
    int64_t kh = kiln_test_int(1, 4), kw = kiln_test_int(1, 4);
    kiln_conv_attrs a =
        conv_attrs(kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
                   kiln_test_int(1, 3), kiln_test_int(1, 3),
                   kiln_test_int(0, 2) ? 1 : kiln_test_int(2, 3),
                   kiln_test_int(0, 2) ? 1 : kiln_test_int(2, 3));
    a.activation = kiln_test_random_activation();
    int64_t h = random_size((kh - 1) * a.dilation_h + 1, a.padding);
    int64_t w = random_size((kw - 1) * a.dilation_w + 1, a.padding);
    kiln_tensor *in = f32(kiln_test_int(1, 3), h, w, groups * gi);
    kiln_tensor *filter = f32(o, kh, kw, gi);
    /* bias: present, an omitted optional input, or no third input */
    int bias_mode = kiln_test_int(0, 2);
    kiln_tensor *bias = bias_mode == 0 ? vec_f32(o) : NULL;
    kiln_tensor *out = kiln_test_output();
    oracle_conv_args args = {in, filter, bias ? bias->data : NULL, a, NULL};
    int64_t oh, ow;
    float *expected = oracle_conv(&args, &oh, &ow);
    /* A third of the cases add a residual (input 3) of the output's shape:
     * the oracle again, with it. */
    kiln_tensor *residual = NULL;
    if (kiln_test_int(0, 2) == 0) {
      residual = f32(in->dims[0], oh, ow, o);
      args.residual = residual->data;
      free(expected);
      expected = oracle_conv(&args, &oh, &ow);
    }
    kiln_tensor *inputs[4] = {in, filter, bias, residual};
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &a, inputs,
                               residual         ? 4
                               : bias_mode == 2 ? 2
                                                : 3,
                               out));
    check_output(out, in->dims[0], oh, ow, o, expected, "conv random");
    free(expected);
    kiln_tensor *all[5] = {in, filter, bias, out, residual};
    kiln_test_tensors_free(all, 5);
  }
}

/* Images holding 1, 2, 3, ... convolved with filters of ones. */
static void test_conv_known_values(void) {
  const struct {
    const char *what;
    int64_t h, w, kh, kw, oh, ow; /* image, filter and output sizes */
    kiln_conv_attrs attrs;
    float expected[9];
  } cases[] = {
      {"conv 3x3 box",
       3,
       3,
       3,
       3,
       3,
       3,
       conv_attrs(KILN_PAD_SAME, 1, 1, 1, 1),
       {12, 21, 16, 27, 45, 33, 24, 39, 28}},
      /* SAME with an odd total pad puts the extra row after: rows 0-2, 2-4. */
      {"conv SAME odd padding",
       4,
       1,
       3,
       1,
       2,
       1,
       conv_attrs(KILN_PAD_SAME, 2, 1, 1, 1),
       {6, 7}},
      /* Dilation 2, VALID: taps two apart. */
      {"conv dilation 2",
       4,
       1,
       2,
       1,
       2,
       1,
       conv_attrs(KILN_PAD_VALID, 1, 1, 2, 1),
       {1 + 3, 2 + 4}},
      /* A 5x5 SAME filter over a 2x2 image sees the whole image everywhere. */
      {"conv filter larger than input",
       2,
       2,
       5,
       5,
       2,
       2,
       conv_attrs(KILN_PAD_SAME, 1, 1, 1, 1),
       {10, 10, 10, 10}},
  };
  float counting[9], ones[25];
  for (int i = 0; i < 9; i++) counting[i] = (float)(i + 1);
  for (int i = 0; i < 25; i++) ones[i] = 1.0f;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int64_t in_dims[4] = {1, cases[i].h, cases[i].w, 1};
    int64_t f_dims[4] = {1, cases[i].kh, cases[i].kw, 1};
    kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, counting);
    kiln_tensor *filter = kiln_test_tensor_f32(4, f_dims, ones);
    kiln_tensor *out = kiln_test_output();
    kiln_tensor *inputs[2] = {in, filter};
    CHECK_OK(
        kiln_test_run_op1(KILN_OP_CONV_2D, &cases[i].attrs, inputs, 2, out));
    check_output(out, 1, cases[i].oh, cases[i].ow, 1, cases[i].expected,
                 cases[i].what);
    kiln_tensor *all[3] = {in, filter, out};
    kiln_test_tensors_free(all, 3);
  }
}

/* A 1x1 image with a 3x3 SAME filter sees only the centre tap. */
static void test_conv_small_images(void) {
  kiln_tensor *in = f32(2, 1, 1, 3);
  kiln_tensor *filter = f32(2, 3, 3, 3);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[2] = {in, filter};
  kiln_conv_attrs a = conv_attrs(KILN_PAD_SAME, 2, 2, 1, 1);
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &a, inputs, 2, out));
  float centre[4];
  const float *x = in->data, *w = filter->data;
  for (int n = 0; n < 2; n++)
    for (int o = 0; o < 2; o++) {
      centre[n * 2 + o] = 0.0f;
      for (int c = 0; c < 3; c++)
        centre[n * 2 + o] += x[n * 3 + c] * w[((o * 3 + 1) * 3 + 1) * 3 + c];
    }
  check_output(out, 2, 1, 1, 2, centre, "conv 1x1 image");
  kiln_tensor *all[3] = {in, filter, out};
  kiln_test_tensors_free(all, 3);
}

/* A 1x1 stride-1 convolution is a FULLY_CONNECTED over all pixels. */
static void test_conv_1x1_is_fully_connected(void) {
  for (int trial = 0; trial < 10; trial++) {
    int64_t b = kiln_test_int(1, 3), h = kiln_test_int(1, 6);
    int64_t w = kiln_test_int(1, 6), c = kiln_test_int(1, 8);
    int64_t o = kiln_test_int(1, 8);
    kiln_tensor *in = f32(b, h, w, c), *filter = f32(o, 1, 1, c);
    kiln_tensor *bias = vec_f32(o);
    int64_t w_dims[2] = {o, c};
    kiln_tensor *weights = kiln_test_tensor_f32(2, w_dims, filter->data);
    kiln_tensor *conv_out = kiln_test_output(), *fc_out = kiln_test_output();
    kiln_conv_attrs a = conv_attrs(KILN_PAD_VALID, 1, 1, 1, 1);
    a.activation = KILN_ACT_RELU;
    kiln_fully_connected_attrs fa = {KILN_ACT_RELU, false, false, 0};
    kiln_tensor *conv_in[3] = {in, filter, bias},
                *fc_in[3] = {in, weights, bias};
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &a, conv_in, 3, conv_out));
    CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &fa, fc_in, 3, fc_out));
    CHECK(fc_out->rank == 2 && fc_out->dims[0] == b * h * w);
    check_output(conv_out, b, h, w, o, fc_out->data, "conv 1x1 vs FC");
    kiln_tensor *all[6] = {in, filter, bias, weights, conv_out, fc_out};
    kiln_test_tensors_free(all, 6);
  }
}

/* ------------------------------------------------- DEPTHWISE_CONV_2D */

/* Depthwise with multiplier M is a grouped conv with C groups of one input
 * channel, its filter [1,KH,KW,C*M] transposed to [C*M,KH,KW,1]. */
static void test_depthwise_random(void) {
  for (int trial = 0; trial < 250; trial++) {
    int64_t c = kiln_test_int(1, 4), m = kiln_test_int(1, 3);
    int64_t kh = kiln_test_int(1, 4), kw = kiln_test_int(1, 4);
    kiln_conv_attrs a =
        conv_attrs(kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
                   kiln_test_int(1, 3), kiln_test_int(1, 3),
                   kiln_test_int(1, 2), kiln_test_int(1, 2));
    a.activation = kiln_test_random_activation();
    a.depth_multiplier = kiln_test_int(0, 1) ? (int)m : 0;
    int64_t h = random_size((kh - 1) * a.dilation_h + 1, a.padding);
    int64_t w = random_size((kw - 1) * a.dilation_w + 1, a.padding);
    kiln_tensor *in = f32(kiln_test_int(1, 3), h, w, c);
    kiln_tensor *filter = f32(1, kh, kw, c * m);
    kiln_tensor *bias = kiln_test_int(0, 1) ? vec_f32(c * m) : NULL;
    kiln_tensor *grouped = f32(c * m, kh, kw, 1);
    const float *src = filter->data;
    float *dst = grouped->data;
    for (int64_t tap = 0; tap < kh * kw; tap++)
      for (int64_t oc = 0; oc < c * m; oc++)
        dst[oc * kh * kw + tap] = src[tap * c * m + oc];
    kiln_tensor *dw_out = kiln_test_output(), *conv_out = kiln_test_output();
    kiln_tensor *dw_in[3] = {in, filter, bias},
                *conv_in[3] = {in, grouped, bias};
    CHECK_OK(
        kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &a, dw_in, 3, dw_out));
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &a, conv_in, 3, conv_out));
    oracle_conv_args args = {in, grouped, bias ? bias->data : NULL, a, NULL};
    int64_t oh, ow;
    float *expected = oracle_conv(&args, &oh, &ow);
    check_output(dw_out, in->dims[0], oh, ow, c * m, expected,
                 "depthwise vs oracle");
    check_output(dw_out, in->dims[0], oh, ow, c * m, conv_out->data,
                 "depthwise vs grouped conv");
    free(expected);
    kiln_tensor *all[6] = {in, filter, bias, grouped, dw_out, conv_out};
    kiln_test_tensors_free(all, 6);
  }
}

/* ---------------------------------------------------- TRANSPOSE_CONV */

static double dot(const kiln_tensor *a, const kiln_tensor *b, double *scale) {
  const float *x = a->data, *y = b->data;
  double sum = 0.0;
  for (int64_t i = 0; i < kiln_tensor_numel(a); i++) {
    sum += (double)x[i] * y[i];
    *scale += fabs((double)x[i] * y[i]);
  }
  return sum;
}

/* <conv(x), r> == <x, transpose_conv(r)> with the filter's channel axes
 * swapped: transpose conv is the adjoint of conv for the same padding. */
static void test_transpose_conv_adjoint(void) {
  for (int trial = 0; trial < 250; trial++) {
    int64_t cx = kiln_test_int(1, 3), cy = kiln_test_int(1, 3);
    int64_t kh = kiln_test_int(1, 4), kw = kiln_test_int(1, 4);
    kiln_conv_attrs a =
        conv_attrs(kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
                   kiln_test_int(1, 3), kiln_test_int(1, 3), 1, 1);
    int64_t b = kiln_test_int(1, 2);
    int64_t h = random_size(kh, a.padding), w = random_size(kw, a.padding);
    kiln_tensor *x = f32(b, h, w, cx), *wc = f32(cy, kh, kw, cx);
    kiln_tensor *wt = f32(cx, kh, kw, cy);
    const float *src = wc->data;
    float *dst = wt->data;
    for (int64_t o = 0; o < cy; o++)
      for (int64_t tap = 0; tap < kh * kw; tap++)
        for (int64_t i = 0; i < cx; i++)
          dst[(i * kh * kw + tap) * cy + o] = src[(o * kh * kw + tap) * cx + i];
    kiln_tensor *y = kiln_test_output(), *t = kiln_test_output();
    kiln_tensor *conv_in[2] = {x, wc};
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &a, conv_in, 2, y));
    kiln_tensor *r = kiln_test_tensor_f32(4, y->dims, NULL);
    kiln_tensor *shape = shape_i32(b, h, w, cx);
    kiln_tensor *tconv_in[3] = {shape, wt, r};
    if (kiln_test_int(0, 1)) a.dilation_h = a.dilation_w = 0; /* "unset" */
    CHECK_OK(kiln_test_run_op1(KILN_OP_TRANSPOSE_CONV, &a, tconv_in, 3, t));
    CHECK(t->rank == 4 && t->dims[0] == b && t->dims[1] == h &&
          t->dims[2] == w && t->dims[3] == cx);
    double scale = 1.0, lhs = dot(y, r, &scale), rhs = dot(x, t, &scale);
    CHECK(fabs(lhs - rhs) <= 1e-5 * scale);
    kiln_tensor *all[7] = {x, wc, wt, y, t, r, shape};
    kiln_test_tensors_free(all, 7);
  }
}

/* Bias and activation apply after the scatter; stride 2 paints blocks. */
static void test_transpose_conv_values(void) {
  int64_t in_dims[4] = {1, 2, 2, 1}, f_dims[4] = {1, 2, 2, 1};
  float image[4] = {1, 2, 3, 4}, taps[4] = {1, 10, 100, 1000};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, image);
  kiln_tensor *filter = kiln_test_tensor_f32(4, f_dims, taps);
  kiln_tensor *shape = shape_i32(1, 4, 4, 1), *out = kiln_test_output();
  kiln_tensor *inputs[3] = {shape, filter, in};
  kiln_conv_attrs a = conv_attrs(KILN_PAD_VALID, 2, 2, 1, 1);
  CHECK_OK(kiln_test_run_op1(KILN_OP_TRANSPOSE_CONV, &a, inputs, 3, out));
  const float blocks[16] = {1, 10, 2, 20, 100, 1000, 200, 2000,
                            3, 30, 4, 40, 300, 3000, 400, 4000};
  check_output(out, 1, 4, 4, 1, blocks, "transpose conv blocks");
  kiln_tensor *all[4] = {in, filter, shape, out};
  kiln_test_tensors_free(all, 4);

  for (int trial = 0; trial < 10; trial++) {
    int64_t b = kiln_test_int(1, 2), h = kiln_test_int(1, 5);
    int64_t w = kiln_test_int(1, 5), ci = kiln_test_int(1, 3);
    int64_t co = kiln_test_int(1, 3), s = kiln_test_int(1, 3);
    in = f32(b, h, w, ci);
    filter = f32(co, 3, 2, ci);
    kiln_tensor *bias = vec_f32(co);
    shape = shape_i32(b, h * s, w * s, co);
    kiln_tensor *plain = kiln_test_output(), *fused = kiln_test_output();
    kiln_tensor *plain_in[4] = {shape, filter, in, NULL};
    kiln_tensor *fused_in[4] = {shape, filter, in, bias};
    a = conv_attrs(KILN_PAD_SAME, (int)s, (int)s, 1, 1);
    CHECK_OK(kiln_test_run_op1(KILN_OP_TRANSPOSE_CONV, &a, plain_in, 4, plain));
    a.activation = KILN_ACT_RELU;
    CHECK_OK(kiln_test_run_op1(KILN_OP_TRANSPOSE_CONV, &a, fused_in, 4, fused));
    int64_t n = kiln_tensor_numel(plain);
    float *expected = malloc((size_t)n * sizeof(float));
    const float *p = plain->data, *bv = bias->data;
    for (int64_t i = 0; i < n; i++) expected[i] = fmaxf(p[i] + bv[i % co], 0);
    check_output(fused, b, h * s, w * s, co, expected,
                 "transpose conv bias+relu");
    free(expected);
    kiln_tensor *all2[6] = {in, filter, bias, shape, plain, fused};
    kiln_test_tensors_free(all2, 6);
  }
}

/* ------------------------------------------------------ flop counts */

static void test_flops(void) {
  kiln_tensor *in = f32(1, 5, 5, 4), *filter = f32(6, 3, 3, 2);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[2] = {in, filter}, *outputs[1] = {out};
  kiln_conv_attrs a = conv_attrs(KILN_PAD_SAME, 1, 1, 1, 1);
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &a, inputs, 2, out));
  kiln_op_ctx ctx = {&a, inputs, 2, outputs, 1, NULL, NULL, NULL};
  CHECK(kiln_op_table[KILN_OP_CONV_2D].flops(&ctx) == 2.0 * 150 * 3 * 3 * 2);
  kiln_test_tensor_free(filter);

  filter = f32(1, 3, 3, 8); /* multiplier 2 */
  inputs[1] = filter;
  CHECK_OK(kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &a, inputs, 2, out));
  CHECK(kiln_op_table[KILN_OP_DEPTHWISE_CONV_2D].flops(&ctx) ==
        2.0 * 200 * 3 * 3);
  kiln_tensor *all[3] = {in, filter, out};
  kiln_test_tensors_free(all, 3);

  in = f32(1, 2, 2, 3);
  filter = f32(4, 3, 3, 3);
  out = kiln_test_output();
  kiln_tensor *shape = shape_i32(1, 4, 4, 4);
  kiln_tensor *tin[3] = {shape, filter, in}, *tout[1] = {out};
  a = conv_attrs(KILN_PAD_SAME, 2, 2, 1, 1);
  CHECK_OK(kiln_test_run_op1(KILN_OP_TRANSPOSE_CONV, &a, tin, 3, out));
  kiln_op_ctx tctx = {&a, tin, 3, tout, 1, NULL, NULL, NULL};
  CHECK(kiln_op_table[KILN_OP_TRANSPOSE_CONV].flops(&tctx) ==
        2.0 * 12 * 4 * 3 * 3);
  kiln_tensor *all2[4] = {in, filter, out, shape};
  kiln_test_tensors_free(all2, 4);
}

/* ------------------------------------------------------ malformed */

/* Runs `op` on three inputs (in the op's order; NULL is an omitted optional
 * input), expects the error, and frees the inputs and the output. */
static void expect_conv_error(kiln_op_type op, const kiln_conv_attrs *a,
                              kiln_tensor *in0, kiln_tensor *in1,
                              kiln_tensor *in2, kiln_status_code code,
                              const char *needle) {
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *all[4] = {in0, in1, in2, out};
  CHECK_ERROR(kiln_test_run_op1(op, a, all, 3, out), code, needle);
  kiln_test_tensors_free(all, 4);
}

static void test_conv_errors(void) {
  kiln_conv_attrs a = conv_attrs(KILN_PAD_SAME, 1, 1, 1, 1);
  int64_t d3[3] = {3, 3, 2};
  expect_conv_error(
      KILN_OP_CONV_2D, &a, f32(1, 4, 4, 2), kiln_test_tensor_f32(3, d3, NULL),
      NULL, KILN_ERR_INVALID_MODEL, "input 1 (filter) must have rank 4");
  expect_conv_error(KILN_OP_CONV_2D, &a, f32(1, 4, 4, 5), f32(4, 3, 3, 2), NULL,
                    KILN_ERR_INVALID_MODEL, "not a multiple");
  expect_conv_error(KILN_OP_CONV_2D, &a, f32(1, 4, 4, 6), f32(4, 3, 3, 2), NULL,
                    KILN_ERR_INVALID_MODEL, "do not split into 3 groups");
  expect_conv_error(KILN_OP_CONV_2D, &a, f32(1, 4, 4, 2), f32(4, 3, 3, 2),
                    vec_f32(3), KILN_ERR_INVALID_MODEL,
                    "input 2 (bias) has shape [3]; expected [4]");
  expect_conv_error(KILN_OP_CONV_2D, &a, f32(1, 4, 0, 2), f32(4, 3, 3, 2), NULL,
                    KILN_ERR_INVALID_MODEL, "empty shape [1,4,0,2]");
  kiln_tensor *ints = kiln_test_tensor(KILN_INT32, 4, (int64_t[]){1, 4, 4, 2});
  expect_conv_error(KILN_OP_CONV_2D, &a, ints, f32(4, 3, 3, 2), NULL,
                    KILN_ERR_UNSUPPORTED, "input 0 (input) has type int32");
  kiln_conv_attrs bad = a;
  bad.stride_w = 0;
  expect_conv_error(KILN_OP_CONV_2D, &bad, f32(1, 4, 4, 2), f32(4, 3, 3, 2),
                    NULL, KILN_ERR_INVALID_MODEL, "stride 1x0");
  bad = a;
  bad.dilation_h = 0;
  expect_conv_error(KILN_OP_CONV_2D, &bad, f32(1, 4, 4, 2), f32(4, 3, 3, 2),
                    NULL, KILN_ERR_INVALID_MODEL, "dilation 0x1");
  bad = a;
  bad.activation = (kiln_activation)42;
  expect_conv_error(KILN_OP_CONV_2D, &bad, f32(1, 4, 4, 2), f32(4, 3, 3, 2),
                    NULL, KILN_ERR_INVALID_MODEL, "activation 42");
  bad = conv_attrs(KILN_PAD_VALID, 1, 1, 2, 1);
  expect_conv_error(KILN_OP_CONV_2D, &bad, f32(1, 4, 4, 2), f32(4, 3, 3, 2),
                    NULL, KILN_ERR_INVALID_MODEL,
                    "height 4 is smaller than the filter's span 5");

  /* output dtype and arity */
  kiln_tensor *in = f32(1, 4, 4, 2), *filter = f32(4, 3, 3, 2);
  kiln_tensor *out = kiln_test_tensor(KILN_INT8, 1, (int64_t[]){1});
  kiln_tensor *inputs[2] = {in, filter};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_2D, &a, inputs, 2, out),
              KILN_ERR_UNSUPPORTED, "output 0 has type int8");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_2D, &a, inputs, 1, out),
              KILN_ERR_INVALID_MODEL, "expects 2 to 4 inputs, has 1");
  /* A residual is added as it is, never broadcast: it must have the
   * output's shape and type. */
  kiln_tensor *f32_out = kiln_test_output();
  kiln_tensor *wide = f32(1, 4, 4, 1),
              *int_residual =
                  kiln_test_tensor(KILN_INT32, 4, (int64_t[]){1, 4, 4, 4});
  kiln_tensor *with_residual[4] = {in, filter, NULL, wide};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_2D, &a, with_residual, 4, f32_out),
              KILN_ERR_INVALID_MODEL,
              "input 3 (residual) has shape [1,4,4,1]; expected the output's "
              "[1,4,4,4]");
  with_residual[3] = int_residual;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_2D, &a, with_residual, 4, f32_out),
              KILN_ERR_UNSUPPORTED, "input 3 (residual)");
  /* DEPTHWISE_CONV_2D takes none. */
  with_residual[1] = f32(1, 3, 3, 2);
  with_residual[3] = f32(1, 4, 4, 2);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &a, with_residual, 4,
                                f32_out),
              KILN_ERR_INVALID_MODEL, "expects 2 to 3 inputs, has 4");
  kiln_tensor *all[8] = {in,
                         filter,
                         out,
                         f32_out,
                         wide,
                         int_residual,
                         with_residual[1],
                         with_residual[3]};
  kiln_test_tensors_free(all, 8);
}

static void test_depthwise_errors(void) {
  kiln_conv_attrs a = conv_attrs(KILN_PAD_SAME, 1, 1, 1, 1);
  expect_conv_error(KILN_OP_DEPTHWISE_CONV_2D, &a, f32(1, 4, 4, 3),
                    f32(2, 3, 3, 6), NULL, KILN_ERR_INVALID_MODEL,
                    "input 1 (filter) has shape [2,3,3,6]");
  expect_conv_error(KILN_OP_DEPTHWISE_CONV_2D, &a, f32(1, 4, 4, 3),
                    f32(1, 3, 3, 7), NULL, KILN_ERR_INVALID_MODEL,
                    "not a multiple");
  a.depth_multiplier = 3;
  expect_conv_error(KILN_OP_DEPTHWISE_CONV_2D, &a, f32(1, 4, 4, 3),
                    f32(1, 3, 3, 6), NULL, KILN_ERR_INVALID_MODEL,
                    "depth_multiplier 3 does not match");
  a.depth_multiplier = 2;
  expect_conv_error(KILN_OP_DEPTHWISE_CONV_2D, &a, f32(1, 4, 4, 3),
                    f32(1, 3, 3, 6), vec_f32(3), KILN_ERR_INVALID_MODEL,
                    "input 2 (bias)");
}

static void test_transpose_conv_errors(void) {
  kiln_conv_attrs a = conv_attrs(KILN_PAD_SAME, 2, 2, 1, 1);
  kiln_tensor *unknown = shape_i32(1, 8, 8, 4);
  free(unknown->data);
  unknown->data = NULL;
  expect_conv_error(KILN_OP_TRANSPOSE_CONV, &a, unknown, f32(4, 3, 3, 2),
                    f32(1, 4, 4, 2), KILN_ERR_UNSUPPORTED,
                    "input 0 (output_shape) must be known");
  /* output_shape and filter shapes that disagree with input [1,4,4,2] */
  static const struct {
    int64_t shape[4], filter[4];
    const char *needle;
  } bad_shapes[] = {
      {{2, 8, 8, 4}, {4, 3, 3, 2}, "input 0 (output_shape) is [2,8,8,4]"},
      {{1, 8, 8, 5}, {4, 3, 3, 2}, "5"},
      {{1, 0, 8, 4}, {4, 3, 3, 2}, "output shape [1,0,8,4] is empty"},
      {{1, 8, 8, 4}, {4, 3, 3, 3}, "input 1 (filter) has shape [4,3,3,3]"},
  };
  for (size_t i = 0; i < sizeof bad_shapes / sizeof *bad_shapes; i++) {
    const int64_t *s = bad_shapes[i].shape, *f = bad_shapes[i].filter;
    expect_conv_error(KILN_OP_TRANSPOSE_CONV, &a,
                      shape_i32(s[0], s[1], s[2], s[3]),
                      f32(f[0], f[1], f[2], f[3]), f32(1, 4, 4, 2),
                      KILN_ERR_INVALID_MODEL, bad_shapes[i].needle);
  }
  int64_t two[1] = {2};
  int32_t hw[2] = {8, 8};
  expect_conv_error(KILN_OP_TRANSPOSE_CONV, &a,
                    kiln_test_tensor_i32(1, two, hw), f32(4, 3, 3, 2),
                    f32(1, 4, 4, 2), KILN_ERR_INVALID_MODEL,
                    "input 0 (output_shape) has shape [2]");
  kiln_conv_attrs dilated = a;
  dilated.dilation_h = 2;
  expect_conv_error(KILN_OP_TRANSPOSE_CONV, &dilated, shape_i32(1, 8, 8, 4),
                    f32(4, 3, 3, 2), f32(1, 4, 4, 2), KILN_ERR_UNSUPPORTED,
                    "dilation 2x1");
}

int main(void) {
  kiln_test_seed(20240601);
  test_conv_random();
  test_conv_known_values();
  test_conv_small_images();
  test_conv_1x1_is_fully_connected();
  test_depthwise_random();
  test_transpose_conv_adjoint();
  test_transpose_conv_values();
  test_flops();
  test_conv_errors();
  test_depthwise_errors();
  test_transpose_conv_errors();
  return kiln_test_finish("test_ref_conv");
}
