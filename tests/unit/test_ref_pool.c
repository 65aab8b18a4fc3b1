/* test_ref_pool.c - reference AVERAGE_POOL_2D and MAX_POOL_2D against an
 * independent window loop, hand-computed values (padding excluded from
 * averages), and malformed shapes and attributes. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "harness.h"

static kiln_tensor *f32(int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  int64_t dims[4] = {d0, d1, d2, d3};
  return kiln_test_tensor_f32(4, dims, NULL);
}

static kiln_pool_attrs pool_attrs(kiln_padding padding, int stride_h,
                                  int stride_w, int filter_h, int filter_w) {
  kiln_pool_attrs a = {padding,  stride_h, stride_w,
                       filter_h, filter_w, KILN_ACT_NONE};
  return a;
}

/* ------------------------------------------- the independent oracle */

/* Padding before the input: half of what the last window overhangs. */
static int64_t pad_before(int64_t in, int64_t out, int k, int stride) {
  int64_t overhang = (out - 1) * stride + k - in;
  return overhang > 0 ? overhang / 2 : 0;
}

/* Visits every window tap, skipping those on padding. */
static float *oracle_pool(bool average, const kiln_tensor *in,
                          const kiln_pool_attrs *a, int64_t *oh, int64_t *ow) {
  int64_t b = in->dims[0], h = in->dims[1], w = in->dims[2], c = in->dims[3];
  *oh = kiln_test_window_positions(h, a->filter_h, a->stride_h, a->padding);
  *ow = kiln_test_window_positions(w, a->filter_w, a->stride_w, a->padding);
  int64_t top = pad_before(h, *oh, a->filter_h, a->stride_h);
  int64_t left = pad_before(w, *ow, a->filter_w, a->stride_w);
  int64_t count = b * *oh * *ow * c;
  float *out = malloc((size_t)count * sizeof(float));
  const float *x = in->data;
  for (int64_t i = 0; i < count; i++) {
    int64_t ch = i % c, ox = i / c % *ow, oy = i / c / *ow % *oh;
    int64_t n = i / c / *ow / *oh;
    double sum = 0.0, best = -INFINITY;
    int taps = 0;
    for (int ky = 0; ky < a->filter_h; ky++)
      for (int kx = 0; kx < a->filter_w; kx++) {
        int64_t y = oy * a->stride_h + ky - top,
                xx = ox * a->stride_w + kx - left;
        if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
        double v = x[((n * h + y) * w + xx) * c + ch];
        sum += v;
        best = v > best ? v : best;
        taps++;
      }
    out[i] = kiln_test_activate(average ? (float)(sum / taps) : (float)best,
                                a->activation);
  }
  return out;
}

static void test_random(void) {
  for (int trial = 0; trial < 600; trial++) {
    kiln_pool_attrs a =
        pool_attrs(kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
                   kiln_test_int(1, 3), kiln_test_int(1, 3),
                   kiln_test_int(1, 4), kiln_test_int(1, 4));
    a.activation = kiln_test_random_activation();
    int64_t h = kiln_test_int(1, 9), w = kiln_test_int(1, 9);
    if (a.padding == KILN_PAD_VALID && h < a.filter_h) h = a.filter_h;
    if (a.padding == KILN_PAD_VALID && w < a.filter_w) w = a.filter_w;
    kiln_tensor *in = f32(kiln_test_int(1, 3), h, w, kiln_test_int(1, 5));
    bool average = trial % 2 == 0;
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(
        average ? KILN_OP_AVERAGE_POOL_2D : KILN_OP_MAX_POOL_2D, &a, &in, 1,
        out));
    int64_t oh, ow;
    float *expected = oracle_pool(average, in, &a, &oh, &ow);
    bool shape_ok = kiln_test_has_shape(
        out, 4, (int64_t[]){in->dims[0], oh, ow, in->dims[3]});
    CHECK(shape_ok);
    if (shape_ok)
      kiln_test_close(out->data, expected, kiln_tensor_numel(out), 1e-6f, 1e-5f,
                      average ? "average pool" : "max pool");
    free(expected);
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(out);
  }
}

/* Runs `op` on a [1, h, w, 1] image holding `values` and compares. */
static void check_values(kiln_op_type op, const kiln_pool_attrs *a, int64_t h,
                         int64_t w, const float *values, int64_t oh, int64_t ow,
                         const float *expected, const char *what) {
  int64_t dims[4] = {1, h, w, 1};
  kiln_tensor *in = kiln_test_tensor_f32(4, dims, values);
  kiln_tensor *out = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(op, a, &in, 1, out));
  bool shape_ok = kiln_test_has_shape(out, 4, (int64_t[]){1, oh, ow, 1});
  CHECK(shape_ok);
  if (shape_ok) kiln_test_close(out->data, expected, oh * ow, 1e-6f, 0, what);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

static void test_known_values(void) {
  float grid[16];
  for (int i = 0; i < 16; i++) grid[i] = (float)(i + 1);
  kiln_pool_attrs a = pool_attrs(KILN_PAD_VALID, 2, 2, 2, 2);
  const float maxes[4] = {6, 8, 14, 16}, means[4] = {3.5f, 5.5f, 11.5f, 13.5f};
  check_values(KILN_OP_MAX_POOL_2D, &a, 4, 4, grid, 2, 2, maxes, "max 2x2");
  check_values(KILN_OP_AVERAGE_POOL_2D, &a, 4, 4, grid, 2, 2, means,
               "average 2x2");

  /* SAME 3x3 over 1..9: the corner averages 4 pixels, not 9 with zeros. */
  a = pool_attrs(KILN_PAD_SAME, 1, 1, 3, 3);
  const float same_avg[9] = {3.0f, 3.5f, 4.0f, 4.5f, 5.0f,
                             5.5f, 6.0f, 6.5f, 7.0f};
  check_values(KILN_OP_AVERAGE_POOL_2D, &a, 3, 3, grid, 3, 3, same_avg,
               "average SAME excludes padding");

  /* A filter larger than the image with SAME pools the whole image. */
  a = pool_attrs(KILN_PAD_SAME, 1, 1, 5, 5);
  const float whole_avg[4] = {2.5f, 2.5f, 2.5f, 2.5f},
              whole_max[4] = {4, 4, 4, 4};
  check_values(KILN_OP_AVERAGE_POOL_2D, &a, 2, 2, grid, 2, 2, whole_avg,
               "average filter larger than input");
  check_values(KILN_OP_MAX_POOL_2D, &a, 2, 2, grid, 2, 2, whole_max,
               "max filter larger than input");

  /* SAME, stride 2, filter 3 over width 4 overhangs by one column, which
   * goes after: windows are columns 0..2 and 2..3 (not -1..1 and 1..3). */
  a = pool_attrs(KILN_PAD_SAME, 1, 2, 1, 3);
  const float odd_max[2] = {3, 4}, odd_avg[2] = {2, 3.5f};
  check_values(KILN_OP_MAX_POOL_2D, &a, 1, 4, grid, 1, 2, odd_max,
               "max SAME odd padding");
  check_values(KILN_OP_AVERAGE_POOL_2D, &a, 1, 4, grid, 1, 2, odd_avg,
               "average SAME odd padding");

  /* 1x1 image; max of all-negative values must not come from a 0 start. */
  const float neg[1] = {-5.0f};
  a = pool_attrs(KILN_PAD_SAME, 2, 2, 3, 3);
  check_values(KILN_OP_MAX_POOL_2D, &a, 1, 1, neg, 1, 1, neg, "max 1x1");
  check_values(KILN_OP_AVERAGE_POOL_2D, &a, 1, 1, neg, 1, 1, neg,
               "average 1x1");

  /* Fused RELU6 clamps the pooled value. */
  const float big[4] = {7, 8, 9, 10}, six[1] = {6};
  a = pool_attrs(KILN_PAD_VALID, 1, 1, 2, 2);
  a.activation = KILN_ACT_RELU6;
  check_values(KILN_OP_AVERAGE_POOL_2D, &a, 2, 2, big, 1, 1, six,
               "average relu6");
}

static void expect_error(const kiln_pool_attrs *a, kiln_tensor *in,
                         kiln_status_code code, const char *needle) {
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_MAX_POOL_2D, a, &in, 1, out), code,
              needle);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

static void test_errors(void) {
  kiln_pool_attrs a = pool_attrs(KILN_PAD_SAME, 1, 1, 2, 2);
  int64_t d3[3] = {4, 4, 2};
  expect_error(&a, kiln_test_tensor_f32(3, d3, NULL), KILN_ERR_INVALID_MODEL,
               "input 0 (input) must have rank 4, has shape [4,4,2]");
  expect_error(&a, f32(1, 0, 4, 2), KILN_ERR_INVALID_MODEL,
               "empty shape [1,0,4,2]");
  int64_t d4[4] = {1, 4, 4, 2};
  expect_error(&a, kiln_test_tensor(KILN_UINT8, 4, d4), KILN_ERR_UNSUPPORTED,
               "input 0 (input) has type uint8");
  kiln_pool_attrs bad = a;
  bad.filter_w = 0;
  expect_error(&bad, f32(1, 4, 4, 2), KILN_ERR_INVALID_MODEL,
               "filter size 2x0");
  bad = a;
  bad.stride_h = -1;
  expect_error(&bad, f32(1, 4, 4, 2), KILN_ERR_INVALID_MODEL, "stride -1x1");
  bad = a;
  bad.padding = (kiln_padding)7;
  expect_error(&bad, f32(1, 4, 4, 2), KILN_ERR_INVALID_MODEL, "padding 7");
  bad = pool_attrs(KILN_PAD_VALID, 1, 1, 2, 5);
  expect_error(&bad, f32(1, 4, 4, 2), KILN_ERR_INVALID_MODEL,
               "width 4 is smaller than the filter's 5");

  kiln_tensor *in = f32(1, 4, 4, 2);
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_AVERAGE_POOL_2D, &a, &in, 1, out),
              KILN_ERR_UNSUPPORTED, "output 0 has type int32");
  kiln_tensor *inputs[2] = {in, in}, *outputs[1] = {out};
  CHECK_ERROR(
      kiln_test_run_op(KILN_OP_AVERAGE_POOL_2D, &a, inputs, 2, outputs, 1),
      KILN_ERR_INVALID_MODEL, "expects 1 inputs, has 2");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

static void test_flops(void) {
  kiln_pool_attrs a = pool_attrs(KILN_PAD_SAME, 2, 2, 3, 3);
  kiln_tensor *in = f32(2, 5, 5, 3), *out = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_AVERAGE_POOL_2D, &a, &in, 1, out));
  kiln_tensor *inputs[1] = {in}, *outputs[1] = {out};
  kiln_op_ctx ctx = {&a, inputs, 1, outputs, 1, NULL, NULL, NULL};
  /* output [2,3,3,3] = 54 values, 9 taps each */
  CHECK(kiln_op_table[KILN_OP_AVERAGE_POOL_2D].flops(&ctx) == 54.0 * 9);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

int main(void) {
  kiln_test_seed(4242);
  test_random();
  test_known_values();
  test_errors();
  test_flops();
  return kiln_test_finish("test_ref_pool");
}
