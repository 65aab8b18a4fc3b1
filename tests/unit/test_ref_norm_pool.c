/* test_ref_norm_pool.c - L2_POOL_2D and LOCAL_RESPONSE_NORMALIZATION
 * against double-precision oracles on random shapes and attributes. The
 * L2 pool's oracle places each window by counting window positions the
 * way kiln_test_window_positions does (SAME centres the extra padding
 * after), independently of the kernel helpers. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"

static void test_l2_pool_random(void) {
  for (int trial = 0; trial < 200; trial++) {
    kiln_pool_attrs a = {trial % 2 ? KILN_PAD_SAME : KILN_PAD_VALID,
                         kiln_test_int(1, 3),
                         kiln_test_int(1, 3),
                         kiln_test_int(1, 3),
                         kiln_test_int(1, 3),
                         trial % 3 ? KILN_ACT_NONE : KILN_ACT_RELU6};
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(3, 7),
                       kiln_test_int(3, 7), kiln_test_int(1, 4)};
    kiln_tensor *in = kiln_test_tensor_f32(4, dims, NULL);
    for (int64_t i = 0; i < kiln_tensor_numel(in); i++)
      ((float *)in->data)[i] *= 4.0f;
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(KILN_OP_L2_POOL_2D, &a, &in, 1, out));
    int64_t oh =
        kiln_test_window_positions(dims[1], a.filter_h, a.stride_h, a.padding);
    int64_t ow =
        kiln_test_window_positions(dims[2], a.filter_w, a.stride_w, a.padding);
    int64_t expect[4] = {dims[0], oh, ow, dims[3]};
    CHECK(kiln_test_has_shape(out, 4, expect));
    /* SAME: total padding so the last window ends at the edge or past it,
     * half (rounded down) before */
    int64_t top = 0, left = 0;
    if (a.padding == KILN_PAD_SAME) {
      int64_t th = (oh - 1) * a.stride_h + a.filter_h - dims[1];
      int64_t tw = (ow - 1) * a.stride_w + a.filter_w - dims[2];
      top = th > 0 ? th / 2 : 0;
      left = tw > 0 ? tw / 2 : 0;
    }
    float *want = malloc(sizeof(float) * (size_t)kiln_tensor_numel(out));
    const float *x = in->data;
    int64_t i = 0;
    for (int64_t b = 0; b < dims[0]; b++)
      for (int64_t y = 0; y < oh; y++)
        for (int64_t xx = 0; xx < ow; xx++)
          for (int64_t c = 0; c < dims[3]; c++) {
            double sum = 0;
            int count = 0;
            for (int fy = 0; fy < a.filter_h; fy++)
              for (int fx = 0; fx < a.filter_w; fx++) {
                int64_t sy = y * a.stride_h - top + fy;
                int64_t sx = xx * a.stride_w - left + fx;
                if (sy < 0 || sy >= dims[1] || sx < 0 || sx >= dims[2])
                  continue;
                double v = x[((b * dims[1] + sy) * dims[2] + sx) * dims[3] + c];
                sum += v * v;
                count++;
              }
            want[i++] =
                kiln_test_activate((float)sqrt(sum / count), a.activation);
          }
    CHECK(kiln_test_close(out->data, want, i, 1e-6f, 1e-5f, "l2 pool"));
    free(want);
    kiln_test_tensor_free(out);
    kiln_test_tensor_free(in);
  }
}

static void test_lrn_random(void) {
  for (int trial = 0; trial < 200; trial++) {
    kiln_lrn_attrs a = {kiln_test_int(0, 4), kiln_test_uniform(0.5f, 2),
                        kiln_test_uniform(0.01f, 1),
                        kiln_test_uniform(0.2f, 1)};
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(1, 3),
                       kiln_test_int(1, 3), kiln_test_int(1, 12)};
    kiln_tensor *in = kiln_test_tensor_f32(4, dims, NULL);
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(KILN_OP_LOCAL_RESPONSE_NORMALIZATION, &a, &in, 1,
                               out));
    CHECK(kiln_test_has_shape(out, 4, dims));
    int64_t n = kiln_tensor_numel(in), depth = dims[3];
    float *want = malloc(sizeof(float) * (size_t)n);
    const float *x = in->data;
    for (int64_t i = 0; i < n; i++) {
      int64_t c = i % depth, pixel = i - c;
      double sum = 0;
      for (int64_t j = c - a.radius; j <= c + a.radius; j++)
        if (j >= 0 && j < depth) sum += (double)x[pixel + j] * x[pixel + j];
      want[i] = (float)(x[i] / pow(a.bias + a.alpha * sum, a.beta));
    }
    CHECK(kiln_test_close(out->data, want, n, 1e-6f, 1e-5f, "lrn"));
    free(want);
    kiln_test_tensor_free(out);
    kiln_test_tensor_free(in);
  }
}

static void test_norm_pool_errors(void) {
  int64_t dims[4] = {1, 2, 2, 3};
  kiln_tensor *in = kiln_test_tensor_f32(4, dims, NULL);
  kiln_tensor *out = kiln_test_output();
  kiln_lrn_attrs bad = {-1, 1, 1, 1};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_LOCAL_RESPONSE_NORMALIZATION, &bad, &in,
                                1, out),
              KILN_ERR_INVALID_MODEL, "radius is -1; it must be >= 0");
  kiln_pool_attrs pool = {KILN_PAD_VALID, 1, 1, 3, 3, KILN_ACT_NONE};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_L2_POOL_2D, &pool, &in, 1, out),
              KILN_ERR_INVALID_MODEL, "input 0 (input)");
  pool.filter_h = 0;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_L2_POOL_2D, &pool, &in, 1, out),
              KILN_ERR_INVALID_MODEL, "filter size 0x3");
  in->rank = 3;
  kiln_lrn_attrs ok = {1, 1, 1, 1};
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_LOCAL_RESPONSE_NORMALIZATION, &ok, &in, 1, out),
      KILN_ERR_INVALID_MODEL, "input 0 (input)");
  in->rank = 4;
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(in);
}

int main(void) {
  kiln_test_seed(0x12f0);
  test_l2_pool_random();
  test_lrn_random();
  test_norm_pool_errors();
  return kiln_test_finish("test_ref_norm_pool");
}
