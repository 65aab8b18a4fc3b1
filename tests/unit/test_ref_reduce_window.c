/* test_ref_reduce_window.c - REDUCE_WINDOW on random shapes, windows,
 * strides and dilations against a direct evaluation: for each output
 * coordinate, the window's input coordinates are unravelled one by one and
 * folded from init_value (floats in float, integers wrapped to the type
 * with ops_test_util's wrap_to); and its errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_test_util.h"

static kiln_tensor *i64_vector(int n, const int64_t *v) {
  kiln_tensor *t = kiln_test_tensor(KILN_INT64, 1, (int64_t[]){n});
  memcpy(t->data, v, sizeof(int64_t) * (size_t)n);
  return t;
}

static double fold(kiln_window_function f, double acc, double v) {
  switch (f) {
    case KILN_WINDOW_ADD:
      return acc + v;
    case KILN_WINDOW_MUL:
      return acc * v;
    case KILN_WINDOW_MINIMUM:
      return fmin(acc, v);
    case KILN_WINDOW_MAXIMUM:
      return fmax(acc, v);
    case KILN_WINDOW_ALL:
      return acc != 0 && v != 0;
    default:
      return acc != 0 || v != 0;
  }
}

static void test_random(void) {
  const kiln_dtype types[4] = {KILN_FLOAT32, KILN_INT32, KILN_INT8, KILN_INT64};
  for (int trial = 0; trial < 300; trial++) {
    kiln_window_function f = (kiln_window_function)(1 + trial % 6);
    kiln_dtype t = types[(trial / 6) % 4];
    int rank = kiln_test_int(1, 3);
    int64_t dims[3], win[3], str[3], dil[3], out_dims[3];
    for (int d = 0; d < rank; d++) {
      dims[d] = kiln_test_int(1, 7);
      win[d] = kiln_test_int(1, 3);
      str[d] = kiln_test_int(1, 3);
      dil[d] = kiln_test_int(1, 2);
      int64_t span = (win[d] - 1) * dil[d] + 1;
      out_dims[d] = dims[d] < span ? 0 : (dims[d] - span) / str[d] + 1;
    }
    kiln_tensor *in[5] = {kiln_test_tensor(t, rank, dims),
                          kiln_test_tensor(t, 0, dims), i64_vector(rank, win),
                          i64_vector(rank, str), i64_vector(rank, dil)};
    /* small values: products stay exact in float */
    fill_random(in[0], -3, 3);
    if (t == KILN_FLOAT32) {
      for (int64_t i = 0; i < kiln_tensor_numel(in[0]); i++)
        setv(in[0], i, (double)kiln_test_int(-6, 6) / 2);
    }
    setv(in[1], 0, f == KILN_WINDOW_MUL ? 1 : kiln_test_int(-2, 2));
    kiln_reduce_window_attrs a = {f};
    kiln_tensor *out = kiln_test_tensor(t, 1, (int64_t[]){1});
    CHECK_OK(run_poisoned(KILN_OP_REDUCE_WINDOW, &a, in, 5, out));
    CHECK(kiln_test_has_shape(out, rank, out_dims));
    int64_t n = kiln_tensor_numel(out), taps = 1;
    for (int d = 0; d < rank; d++) taps *= win[d];
    int bad = 0;
    for (int64_t o = 0; o < n; o++) {
      int64_t oc[3], rest = o;
      for (int d = rank - 1; d >= 0; d--) {
        oc[d] = rest % out_dims[d];
        rest /= out_dims[d];
      }
      double acc = t == KILN_INT64 ? (double)((int64_t *)in[1]->data)[0]
                                   : getd(in[1], 0);
      for (int64_t w = 0; w < taps; w++) {
        int64_t wc[3], r2 = w, flat = 0;
        for (int d = rank - 1; d >= 0; d--) {
          wc[d] = r2 % win[d];
          r2 /= win[d];
        }
        for (int d = 0; d < rank; d++)
          flat = flat * dims[d] + oc[d] * str[d] + wc[d] * dil[d];
        acc = fold(f, acc, getd(in[0], flat));
      }
      double got =
          t == KILN_INT64 ? (double)((int64_t *)out->data)[o] : getd(out, o);
      double want = t == KILN_FLOAT32 ? acc : (double)wrap_to(t, (int64_t)acc);
      bad += got != want;
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in, 5);
  }
}

static void test_errors(void) {
  int64_t dims[2] = {4, 5}, one[2] = {1, 1}, zero[2] = {2, 0};
  kiln_tensor *in[5] = {kiln_test_tensor_f32(2, dims, NULL),
                        kiln_test_tensor_f32(0, dims, NULL), i64_vector(2, one),
                        i64_vector(2, zero), i64_vector(2, one)};
  kiln_reduce_window_attrs a = {KILN_WINDOW_ADD};
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out),
              KILN_ERR_INVALID_ARGUMENT,
              "input 3 (window_strides) element 1 is 0; it must be from 1");
  ((int64_t *)in[3]->data)[1] = 1;
  CHECK_OK(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out));
  in[2]->dims[0] = 1;
  CHECK_ERROR(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out),
              KILN_ERR_INVALID_MODEL,
              "input 2 (window_shape) must have shape [2], has [1]");
  in[2]->dims[0] = 2;
  in[4]->dtype = KILN_INT32;
  CHECK_ERROR(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out),
              KILN_ERR_UNSUPPORTED,
              "input 4 (window_dilations) has type int32");
  in[4]->dtype = KILN_INT64;
  in[1]->dtype = KILN_INT32;
  CHECK_ERROR(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (init_value) must be one float32");
  in[1]->dtype = KILN_FLOAT32;
  void *saved = in[3]->data;
  in[3]->data = NULL;
  CHECK_ERROR(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out),
              KILN_ERR_UNSUPPORTED, "input 3 (window_strides) must be known");
  in[3]->data = saved;
  a.function = (kiln_window_function)0;
  CHECK_ERROR(shape_only(KILN_OP_REDUCE_WINDOW, &a, in, 5, out),
              KILN_ERR_UNSUPPORTED, "reduce_function 0 is not one of");
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 5);
}

int main(void) {
  kiln_test_seed(0x3ed0);
  test_random();
  test_errors();
  return kiln_test_finish("test_ref_reduce_window");
}
