/* test_ref_conv3d.c - reference CONV_3D against an independent convolution
 * over an explicitly zero-padded volume (in double, taps outermost) on
 * random shapes, strides, dilations, paddings, biases and clamps;
 * CONV_3D_TRANSPOSE against CONV_3D through the adjoint identity
 * <conv(x), y> = <x, conv_transpose(y)> (the same filter bytes read as
 * [KD,KH,KW,C,O] by both), plus its bias and clamp; and malformed shapes
 * and options. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static kiln_tensor *f32(int rank, const int64_t *dims) {
  return kiln_test_tensor_f32(rank, dims, NULL);
}

static kiln_conv3d_attrs random_attrs(kiln_activation act) {
  kiln_conv3d_attrs a;
  a.padding = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID;
  a.stride_d = kiln_test_int(1, 2);
  a.stride_h = kiln_test_int(1, 3);
  a.stride_w = kiln_test_int(1, 2);
  a.dilation_d = kiln_test_int(1, 2);
  a.dilation_h = kiln_test_int(1, 2);
  a.dilation_w = kiln_test_int(1, 2);
  a.activation = act;
  return a;
}

static double clamp_d(double x, kiln_activation act) {
  switch (act) {
    case KILN_ACT_RELU:
      return x < 0 ? 0 : x;
    case KILN_ACT_RELU6:
      return x < 0 ? 0 : (x > 6 ? 6 : x);
    case KILN_ACT_RELU_N1_TO_1:
      return x < -1 ? -1 : (x > 1 ? 1 : x);
    default:
      return x;
  }
}

/* The geometry of one axis, by sliding the window (harness oracle). */
typedef struct axis {
  int64_t in, k, out, pad_before, padded;
  int stride, dilation;
} axis;

static axis make_axis(int64_t in, int64_t k, int stride, int dilation,
                      kiln_padding padding) {
  axis a = {in, k, 0, 0, 0, stride, dilation};
  int64_t span = (k - 1) * dilation + 1;
  a.out = kiln_test_window_positions(in, span, stride, padding);
  int64_t need = (a.out - 1) * stride + span;
  int64_t extra = need > in ? need - in : 0;
  a.pad_before = extra / 2;
  a.padded = in + extra;
  return a;
}

/* CONV_3D by zero-padding the input into a bigger volume first. Returns
 * the output [N, OD, OH, OW, O] (malloc'd) and its dims. */
static float *oracle_conv3d(const kiln_tensor *x, const kiln_tensor *w,
                            const float *bias, const kiln_conv3d_attrs *a,
                            int64_t *out_dims) {
  const int64_t n = x->dims[0], c = x->dims[4], o = w->dims[4];
  axis ax[3] = {
      make_axis(x->dims[1], w->dims[0], a->stride_d, a->dilation_d, a->padding),
      make_axis(x->dims[2], w->dims[1], a->stride_h, a->dilation_h, a->padding),
      make_axis(x->dims[3], w->dims[2], a->stride_w, a->dilation_w, a->padding),
  };
  const int64_t pd = ax[0].padded, ph = ax[1].padded, pw = ax[2].padded;
  double *padded = calloc((size_t)(n * pd * ph * pw * c), sizeof(double));
  const float *src = x->data;
  for (int64_t b = 0; b < n; b++)
    for (int64_t d = 0; d < x->dims[1]; d++)
      for (int64_t h = 0; h < x->dims[2]; h++)
        for (int64_t ww = 0; ww < x->dims[3]; ww++)
          for (int64_t ch = 0; ch < c; ch++)
            padded[(((b * pd + d + ax[0].pad_before) * ph + h +
                     ax[1].pad_before) *
                        pw +
                    ww + ax[2].pad_before) *
                       c +
                   ch] =
                src[(((b * x->dims[1] + d) * x->dims[2] + h) * x->dims[3] +
                     ww) *
                        c +
                    ch];
  out_dims[0] = n;
  out_dims[1] = ax[0].out;
  out_dims[2] = ax[1].out;
  out_dims[3] = ax[2].out;
  out_dims[4] = o;
  const int64_t count = n * ax[0].out * ax[1].out * ax[2].out * o;
  double *acc = calloc((size_t)count, sizeof(double));
  const float *filter = w->data;
  for (int64_t kd = 0; kd < w->dims[0]; kd++)
    for (int64_t kh = 0; kh < w->dims[1]; kh++)
      for (int64_t kw = 0; kw < w->dims[2]; kw++)
        for (int64_t ch = 0; ch < c; ch++)
          for (int64_t oc = 0; oc < o; oc++) {
            double tap =
                filter[(((kd * w->dims[1] + kh) * w->dims[2] + kw) * c + ch) *
                           o +
                       oc];
            int64_t i = 0;
            for (int64_t b = 0; b < n; b++)
              for (int64_t od = 0; od < ax[0].out; od++)
                for (int64_t oh = 0; oh < ax[1].out; oh++)
                  for (int64_t ow = 0; ow < ax[2].out; ow++, i++) {
                    int64_t d = od * ax[0].stride + kd * ax[0].dilation;
                    int64_t h = oh * ax[1].stride + kh * ax[1].dilation;
                    int64_t ww = ow * ax[2].stride + kw * ax[2].dilation;
                    acc[i * o + oc] +=
                        tap *
                        padded[(((b * pd + d) * ph + h) * pw + ww) * c + ch];
                  }
          }
  float *out = malloc((size_t)count * sizeof(float) + 1);
  for (int64_t i = 0; i < count; i++)
    out[i] = (float)clamp_d(acc[i] + (bias ? bias[i % o] : 0.0), a->activation);
  free(padded);
  free(acc);
  return out;
}

static kiln_activation random_clamp(void) {
  static const kiln_activation acts[] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                         KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
  return acts[kiln_test_int(0, 3)];
}

static void test_conv3d_random(void) {
  for (int iter = 0; iter < 60; iter++) {
    kiln_conv3d_attrs a = random_attrs(random_clamp());
    int64_t k[3] = {kiln_test_int(1, 3), kiln_test_int(1, 3),
                    kiln_test_int(1, 3)};
    int dil[3] = {a.dilation_d, a.dilation_h, a.dilation_w};
    int64_t xd[5] = {kiln_test_int(1, 2), 0, 0, 0, kiln_test_int(1, 4)};
    for (int i = 0; i < 3; i++)
      xd[i + 1] = (k[i] - 1) * dil[i] + 1 + kiln_test_int(0, 4);
    int64_t wd[5] = {k[0], k[1], k[2], xd[4], kiln_test_int(1, 5)};
    int64_t bd[1] = {wd[4]};
    kiln_tensor *x = f32(5, xd), *w = f32(5, wd), *b = f32(1, bd);
    bool with_bias = kiln_test_int(0, 1);
    kiln_tensor *out = kiln_test_output();
    kiln_tensor *inputs[3] = {x, w, with_bias ? b : NULL};
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_3D, &a, inputs, 3, out));
    int64_t want[5];
    float *expect = oracle_conv3d(x, w, with_bias ? b->data : NULL, &a, want);
    CHECK(kiln_test_has_shape(out, 5, want));
    if (kiln_test_has_shape(out, 5, want))
      CHECK(kiln_test_close(out->data, expect, kiln_tensor_numel(out), 1e-5f,
                            1e-5f, "CONV_3D"));
    free(expect);
    kiln_test_tensors_free((kiln_tensor *[]){x, w, b, out}, 4);
  }
}

static double dot(const float *a, const float *b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* <conv(x), y> == <x, conv_transpose(y)>, with output_shape = x's shape. */
static void test_transpose_adjoint(void) {
  for (int iter = 0; iter < 60; iter++) {
    kiln_conv3d_attrs a = random_attrs(KILN_ACT_NONE);
    int64_t k[3] = {kiln_test_int(1, 3), kiln_test_int(1, 3),
                    kiln_test_int(1, 3)};
    int dil[3] = {a.dilation_d, a.dilation_h, a.dilation_w};
    int64_t xd[5] = {kiln_test_int(1, 2), 0, 0, 0, kiln_test_int(1, 3)};
    for (int i = 0; i < 3; i++)
      xd[i + 1] = (k[i] - 1) * dil[i] + 1 + kiln_test_int(0, 4);
    int64_t wd[5] = {k[0], k[1], k[2], xd[4], kiln_test_int(1, 4)};
    kiln_tensor *x = f32(5, xd), *w = f32(5, wd);
    kiln_tensor *fwd = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_3D, &a, (kiln_tensor *[]){x, w}, 2,
                               fwd));
    kiln_tensor *y = f32(5, fwd->dims);
    int64_t sd[1] = {5};
    int32_t shape_values[5];
    for (int i = 0; i < 5; i++) shape_values[i] = (int32_t)xd[i];
    kiln_tensor *shape = kiln_test_tensor_i32(1, sd, shape_values);
    kiln_tensor *back = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &a,
                               (kiln_tensor *[]){shape, w, y}, 3, back));
    CHECK(kiln_test_has_shape(back, 5, xd));
    if (kiln_test_has_shape(back, 5, xd)) {
      double lhs = dot(fwd->data, y->data, kiln_tensor_numel(y));
      double rhs = dot(x->data, back->data, kiln_tensor_numel(x));
      CHECK(fabs(lhs - rhs) <= 1e-4 * (1.0 + fabs(lhs)));
    }
    /* bias and clamp come after the sums: checked against the plain run */
    int64_t bd[1] = {xd[4]};
    kiln_tensor *bias = f32(1, bd), *biased = kiln_test_output();
    kiln_conv3d_attrs relu6 = a;
    relu6.activation = KILN_ACT_RELU6;
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &relu6,
                               (kiln_tensor *[]){shape, w, y, bias}, 4,
                               biased));
    int64_t n = kiln_tensor_numel(back);
    float *expect = malloc((size_t)n * sizeof(float) + 1);
    const float *plain = back->data, *bv = bias->data;
    for (int64_t i = 0; i < n; i++)
      expect[i] =
          (float)clamp_d((double)(plain[i] + bv[i % xd[4]]), KILN_ACT_RELU6);
    if (kiln_test_has_shape(biased, 5, xd))
      CHECK(kiln_test_close(biased->data, expect, n, 1e-6f, 1e-6f,
                            "CONV_3D_TRANSPOSE bias"));
    free(expect);
    kiln_test_tensors_free(
        (kiln_tensor *[]){x, w, fwd, y, shape, back, bias, biased}, 8);
  }
}

/* A hand-computed transpose: one input voxel of 1 at the centre spreads
 * the filter (stride 1, SAME, one channel each way). */
static void test_transpose_by_hand(void) {
  kiln_conv3d_attrs a = {KILN_PAD_SAME, 1, 1, 1, 1, 1, 1, KILN_ACT_NONE};
  int64_t xd[5] = {1, 3, 3, 3, 1}, wd[5] = {3, 3, 3, 1, 1}, sd[1] = {5};
  float xv[27] = {0}, wv[27];
  xv[13] = 1.0f;
  for (int i = 0; i < 27; i++) wv[i] = (float)(i + 1);
  kiln_tensor *x = kiln_test_tensor_f32(5, xd, xv);
  kiln_tensor *w = kiln_test_tensor_f32(5, wd, wv);
  kiln_tensor *shape = kiln_test_tensor_i32(1, sd, (int32_t[]){1, 3, 3, 3, 1});
  kiln_tensor *out = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &a,
                             (kiln_tensor *[]){shape, w, x}, 3, out));
  /* output voxel p gets filter tap p - centre + 1 = p */
  CHECK(kiln_test_close(out->data, wv, 27, 0.0f, 0.0f, "by hand"));
  kiln_test_tensors_free((kiln_tensor *[]){x, w, shape, out}, 4);
}

static void test_bad_inputs(void) {
  kiln_conv3d_attrs a = {KILN_PAD_VALID, 1, 1, 1, 1, 1, 1, KILN_ACT_NONE};
  int64_t xd[5] = {1, 4, 4, 4, 2}, wd[5] = {2, 2, 2, 3, 1};
  int64_t small[5] = {1, 1, 4, 4, 2}, wd_ok[5] = {2, 2, 2, 2, 1};
  kiln_tensor *x = f32(5, xd), *w = f32(5, wd), *xs = f32(5, small);
  kiln_tensor *w_ok = f32(5, wd_ok), *out = kiln_test_output();
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_CONV_3D, &a, (kiln_tensor *[]){x, w}, 2, out),
      KILN_ERR_INVALID_MODEL, "has 2 channels");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D, &a,
                                (kiln_tensor *[]){xs, w_ok}, 2, out),
              KILN_ERR_INVALID_MODEL, "depth 1 is smaller");
  kiln_conv3d_attrs tanh_act = a;
  tanh_act.activation = KILN_ACT_TANH;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D, &tanh_act,
                                (kiln_tensor *[]){x, w_ok}, 2, out),
              KILN_ERR_UNSUPPORTED, "fused activation");
  kiln_conv3d_attrs zero_stride = a;
  zero_stride.stride_h = 0;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D, &zero_stride,
                                (kiln_tensor *[]){x, w_ok}, 2, out),
              KILN_ERR_INVALID_MODEL, "strides");
  int64_t rank4[4] = {1, 4, 4, 2};
  kiln_tensor *x4 = f32(4, rank4);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D, &a,
                                (kiln_tensor *[]){x4, w_ok}, 2, out),
              KILN_ERR_INVALID_MODEL, "input 0 (input)");
  int64_t bd[1] = {5};
  kiln_tensor *bad_bias = f32(1, bd);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D, &a,
                                (kiln_tensor *[]){x, w_ok, bad_bias}, 3, out),
              KILN_ERR_INVALID_MODEL, "input 2 (bias)");

  /* transpose: the output shape must match the input's windows */
  int64_t ti[5] = {1, 3, 3, 3, 1}, sd[1] = {5};
  kiln_tensor *tx = f32(5, ti);
  kiln_tensor *wt = f32(5, (int64_t[]){2, 2, 2, 2, 1});
  kiln_tensor *wrong = kiln_test_tensor_i32(1, sd, (int32_t[]){1, 9, 4, 4, 2});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &a,
                                (kiln_tensor *[]){wrong, wt, tx}, 3, out),
              KILN_ERR_INVALID_MODEL, "does not match");
  kiln_tensor *wrong_c =
      kiln_test_tensor_i32(1, sd, (int32_t[]){1, 4, 4, 4, 3});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &a,
                                (kiln_tensor *[]){wrong_c, wt, tx}, 3, out),
              KILN_ERR_INVALID_MODEL, "input 0 (output_shape)");
  kiln_tensor *short_shape =
      kiln_test_tensor_i32(1, (int64_t[]){4}, (int32_t[]){1, 4, 4, 2});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &a,
                                (kiln_tensor *[]){short_shape, wt, tx}, 3, out),
              KILN_ERR_INVALID_MODEL, "output_shape");
  /* unknown at prepare: refused, naming the input */
  kiln_tensor *good = kiln_test_tensor_i32(1, sd, (int32_t[]){1, 4, 4, 4, 2});
  void *saved = good->data;
  good->data = NULL;
  kiln_op_ctx ctx = {
      &a, (kiln_tensor *[]){good, wt, tx}, 3, &out, 1, NULL, NULL, NULL};
  CHECK_ERROR(kiln_op_table[KILN_OP_CONV_3D_TRANSPOSE].shape(&ctx),
              KILN_ERR_UNSUPPORTED, "input 0 (output_shape) must be known");
  good->data = saved;
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_3D_TRANSPOSE, &a,
                             (kiln_tensor *[]){good, wt, tx}, 3, out));
  kiln_test_tensors_free(
      (kiln_tensor *[]){x, w, xs, w_ok, out, x4, bad_bias, tx, wt, wrong,
                        wrong_c, short_shape, good},
      13);
}

int main(void) {
  kiln_test_seed(0xC3D);
  test_conv3d_random();
  test_transpose_adjoint();
  test_transpose_by_hand();
  test_bad_inputs();
  return kiln_test_finish("test_ref_conv3d");
}
