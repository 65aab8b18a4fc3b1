/* test_ref_resize.c - reference RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR
 * against a separable oracle (out = Wy * image * Wx^T with per-axis weight
 * matrices; nearest also on its other element types, pixel by pixel),
 * values from TFLite's own kernel tests, and malformed inputs. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static kiln_tensor *output_tensor(void) {
  int64_t dims[1] = {1};
  return kiln_test_tensor(KILN_FLOAT32, 1, dims);
}

static kiln_tensor *size_tensor(int32_t h, int32_t w) {
  int64_t dims[1] = {2};
  int32_t values[2] = {h, w};
  return kiln_test_tensor_i32(1, dims, values);
}

static kiln_status *run(kiln_op_type op, const kiln_resize_attrs *attrs,
                        kiln_tensor *in, kiln_tensor *size, kiln_tensor *out) {
  kiln_tensor *inputs[2] = {in, size}, *outputs[1] = {out};
  return kiln_test_run_op(op, attrs, inputs, 2, outputs, 1);
}

static bool has_shape(const kiln_tensor *t, int64_t d0, int64_t d1, int64_t d2,
                      int64_t d3) {
  return t->rank == 4 && t->dims[0] == d0 && t->dims[1] == d1 &&
         t->dims[2] == d2 && t->dims[3] == d3;
}

/* ---------------------------------------------------------- oracle */

static float scale_of(int64_t in, int64_t out, bool align_corners) {
  return align_corners && out > 1 ? (float)(in - 1) / (float)(out - 1)
                                  : (float)in / (float)out;
}

/* Row o of W [out, in] holds the weights output index o gives each input
 * index. Bilinear clamps the source coordinate into [0, in-1] first, then
 * splits between its floor and the next index. */
static void bilinear_weights(int64_t in, int64_t out,
                             const kiln_resize_attrs *a, double *w) {
  float scale = scale_of(in, out, a->align_corners);
  for (int64_t o = 0; o < out; o++) {
    float src = a->half_pixel_centers ? ((float)o + 0.5f) * scale - 0.5f
                                      : (float)o * scale;
    double s = src < 0 ? 0 : (src > (float)(in - 1) ? (double)(in - 1) : src);
    int64_t lo = (int64_t)floor(s), hi = lo + 1 < in ? lo + 1 : in - 1;
    for (int64_t i = 0; i < in; i++) w[o * in + i] = 0.0;
    w[o * in + lo] += 1.0 - (s - (double)lo);
    w[o * in + hi] += s - (double)lo;
  }
}

/* Nearest neighbour: a single 1 per row, at TFLite's source index. */
static void nearest_weights(int64_t in, int64_t out, const kiln_resize_attrs *a,
                            double *w) {
  float scale = scale_of(in, out, a->align_corners);
  for (int64_t o = 0; o < out; o++) {
    float src = ((float)o + (a->half_pixel_centers ? 0.5f : 0.0f)) * scale;
    int64_t idx = (int64_t)(a->align_corners ? roundf(src) : floorf(src));
    if (idx > in - 1) idx = in - 1;
    for (int64_t i = 0; i < in; i++) w[o * in + i] = i == idx ? 1.0 : 0.0;
  }
}

/* out[b,y,x,c] = sum_i sum_j wy[y,i] wx[x,j] in[b,i,j,c] */
static float *oracle_resize(bool bilinear, const kiln_tensor *in, int64_t oh,
                            int64_t ow, const kiln_resize_attrs *a) {
  int64_t b = in->dims[0], h = in->dims[1], w = in->dims[2], c = in->dims[3];
  double *wy = malloc((size_t)(oh * h) * sizeof(double));
  double *wx = malloc((size_t)(ow * w) * sizeof(double));
  (bilinear ? bilinear_weights : nearest_weights)(h, oh, a, wy);
  (bilinear ? bilinear_weights : nearest_weights)(w, ow, a, wx);
  float *out = malloc((size_t)(b * oh * ow * c) * sizeof(float));
  const float *x = in->data;
  for (int64_t n = 0; n < b; n++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++)
        for (int64_t ch = 0; ch < c; ch++) {
          double acc = 0.0;
          for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++)
              acc += wy[y * h + i] * wx[xo * w + j] *
                     x[((n * h + i) * w + j) * c + ch];
          out[((n * oh + y) * ow + xo) * c + ch] = (float)acc;
        }
  free(wy);
  free(wx);
  return out;
}

static void test_random(void) {
  for (int trial = 0; trial < 500; trial++) {
    bool bilinear = trial % 2 == 0;
    kiln_resize_attrs a = {kiln_test_int(0, 1) == 1, kiln_test_int(0, 1) == 1};
    if (bilinear && a.align_corners) a.half_pixel_centers = false;
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(1, 7),
                       kiln_test_int(1, 7), kiln_test_int(1, 3)};
    int32_t oh = kiln_test_int(1, 9), ow = kiln_test_int(1, 9);
    kiln_tensor *in = kiln_test_tensor_f32(4, dims, NULL);
    kiln_tensor *size = size_tensor(oh, ow), *out = output_tensor();
    kiln_op_type op =
        bilinear ? KILN_OP_RESIZE_BILINEAR : KILN_OP_RESIZE_NEAREST_NEIGHBOR;
    CHECK_OK(run(op, &a, in, size, out));
    bool shape_ok = has_shape(out, dims[0], oh, ow, dims[3]);
    CHECK(shape_ok);
    float *expected = oracle_resize(bilinear, in, oh, ow, &a);
    if (shape_ok)
      kiln_test_close(out->data, expected, kiln_tensor_numel(out), 1e-5f, 1e-5f,
                      bilinear ? "bilinear" : "nearest");
    free(expected);
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(size);
    kiln_test_tensor_free(out);
  }
}

/* Resizes a [1, h, w, 1] image of `values` to oh x ow and compares. */
static void check_values(kiln_op_type op, bool align_corners, bool half_pixel,
                         int64_t h, int64_t w, const float *values, int32_t oh,
                         int32_t ow, const float *expected, const char *what) {
  int64_t dims[4] = {1, h, w, 1};
  kiln_resize_attrs a = {align_corners, half_pixel};
  kiln_tensor *in = kiln_test_tensor_f32(4, dims, values);
  kiln_tensor *size = size_tensor(oh, ow), *out = output_tensor();
  CHECK_OK(run(op, &a, in, size, out));
  bool shape_ok = has_shape(out, 1, oh, ow, 1);
  CHECK(shape_ok);
  if (shape_ok)
    kiln_test_close(out->data, expected, (int64_t)oh * ow, 1e-6f, 1e-6f, what);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(size);
  kiln_test_tensor_free(out);
}

static void test_bilinear_values(void) {
  const kiln_op_type op = KILN_OP_RESIZE_BILINEAR;
  const float pair[2] = {3, 6}, widened[3] = {3, 5, 6};
  check_values(op, false, false, 1, 2, pair, 1, 3, widened, "bilinear 1x2");
  const float quad[4] = {3, 6, 9, 12};
  const float plain[9] = {3, 5, 6, 7, 9, 10, 9, 11, 12};
  check_values(op, false, false, 2, 2, quad, 3, 3, plain, "bilinear 2x2");
  const float corners[9] = {3, 4.5f, 6, 6, 7.5f, 9, 9, 10.5f, 12};
  check_values(op, true, false, 2, 2, quad, 3, 3, corners,
               "bilinear align_corners");
  check_values(op, false, true, 2, 2, quad, 3, 3, corners,
               "bilinear half_pixel_centers");
  const float row[4] = {1, 2, 3, 4}, down[2] = {1, 3},
              down_half[2] = {1.5f, 3.5f};
  check_values(op, false, false, 1, 4, row, 1, 2, down, "bilinear down");
  check_values(op, false, true, 1, 4, row, 1, 2, down_half,
               "bilinear down half_pixel_centers");
  /* align_corners with one output falls back to in/out scaling. */
  const float first[1] = {1};
  check_values(op, true, false, 1, 4, row, 1, 1, first,
               "bilinear align_corners to 1");
}

static void test_nearest_values(void) {
  const kiln_op_type op = KILN_OP_RESIZE_NEAREST_NEIGHBOR;
  const float quad[4] = {3, 6, 9, 12};
  const float plain[9] = {3, 3, 6, 3, 3, 6, 9, 9, 12};
  const float shifted[9] = {3, 6, 6, 9, 12, 12, 9, 12, 12};
  check_values(op, false, false, 2, 2, quad, 3, 3, plain, "nearest 2x2");
  check_values(op, true, false, 2, 2, quad, 3, 3, shifted,
               "nearest align_corners");
  check_values(op, false, true, 2, 2, quad, 3, 3, shifted,
               "nearest half_pixel_centers");
  check_values(op, true, true, 2, 2, quad, 3, 3, shifted, "nearest both flags");
  /* Both flags round (x + 0.5) * 1 half away from zero: a shift by one. */
  const float row[3] = {1, 2, 3}, both_same[3] = {2, 3, 3};
  check_values(op, true, true, 1, 3, row, 1, 3, both_same,
               "nearest both flags same size");
  check_values(op, false, true, 1, 3, row, 1, 3, row,
               "nearest half_pixel same size");
  const float one[1] = {7}, ones[6] = {7, 7, 7, 7, 7, 7};
  check_values(op, false, false, 1, 1, one, 2, 3, ones, "nearest 1x1 up");
}

/* The index of row o's single 1 in a nearest weight matrix. */
static int64_t nearest_source_of(const double *w, int64_t in, int64_t o) {
  for (int64_t i = 0; i < in; i++)
    if (w[o * in + i] == 1.0) return i;
  return -1;
}

/* Nearest neighbour on the other element types LiteRT takes (1, 2 and 4
 * bytes): random bytes, each output pixel compared with the input pixel the
 * oracle's weight matrices pick; 8-byte types are refused. */
static void test_nearest_types(void) {
  const kiln_dtype types[] = {KILN_FLOAT16, KILN_INT8,  KILN_UINT8,  KILN_INT16,
                              KILN_UINT16,  KILN_INT32, KILN_UINT32, KILN_BOOL};
  const int count = (int)(sizeof types / sizeof types[0]);
  for (int trial = 0; trial < 40 * count; trial++) {
    kiln_dtype t = types[trial % count];
    kiln_resize_attrs a = {kiln_test_int(0, 1) == 1, kiln_test_int(0, 1) == 1};
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(1, 7),
                       kiln_test_int(1, 7), kiln_test_int(1, 3)};
    int32_t oh = kiln_test_int(1, 9), ow = kiln_test_int(1, 9);
    kiln_tensor *in = kiln_test_tensor(t, 4, dims);
    size_t elem = kiln_dtype_size(t);
    unsigned char *bytes = in->data;
    for (int64_t i = 0; i < (int64_t)elem * kiln_tensor_numel(in); i++)
      bytes[i] = (unsigned char)kiln_test_int(0, t == KILN_BOOL ? 1 : 255);
    int64_t one[1] = {1};
    kiln_tensor *size = size_tensor(oh, ow), *out = kiln_test_tensor(t, 1, one);
    CHECK_OK(run(KILN_OP_RESIZE_NEAREST_NEIGHBOR, &a, in, size, out));
    bool ok = has_shape(out, dims[0], oh, ow, dims[3]);
    CHECK(ok);
    double *wy = malloc((size_t)(oh * dims[1]) * sizeof(double));
    double *wx = malloc((size_t)(ow * dims[2]) * sizeof(double));
    nearest_weights(dims[1], oh, &a, wy);
    nearest_weights(dims[2], ow, &a, wx);
    size_t pixel = elem * (size_t)dims[3];
    for (int64_t n = 0; ok && n < dims[0]; n++)
      for (int64_t y = 0; ok && y < oh; y++)
        for (int64_t x = 0; ok && x < ow; x++) {
          int64_t sy = nearest_source_of(wy, dims[1], y),
                  sx = nearest_source_of(wx, dims[2], x);
          ok = memcmp(
                   (const char *)out->data +
                       (size_t)((n * oh + y) * ow + x) * pixel,
                   bytes + (size_t)((n * dims[1] + sy) * dims[2] + sx) * pixel,
                   pixel) == 0;
        }
    if (!ok) fprintf(stderr, "nearest %s differs\n", kiln_dtype_name(t));
    CHECK(ok);
    free(wy);
    free(wx);
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(size);
    kiln_test_tensor_free(out);
  }
  const kiln_dtype wide[] = {KILN_INT64, KILN_FLOAT64, KILN_UINT64};
  for (int k = 0; k < 3; k++) {
    int64_t dims[4] = {1, 2, 2, 1}, one[1] = {1};
    kiln_resize_attrs a = {false, false};
    kiln_tensor *in = kiln_test_tensor(wide[k], 4, dims);
    kiln_tensor *size = size_tensor(3, 3),
                *out = kiln_test_tensor(wide[k], 1, one);
    CHECK_ERROR(run(KILN_OP_RESIZE_NEAREST_NEIGHBOR, &a, in, size, out),
                KILN_ERR_UNSUPPORTED, "input 0 (input) has type");
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(size);
    kiln_test_tensor_free(out);
  }
  /* bilinear stays float32 */
  int64_t dims[4] = {1, 2, 2, 1}, one[1] = {1};
  kiln_resize_attrs a = {false, false};
  kiln_tensor *in = kiln_test_tensor(KILN_INT32, 4, dims);
  kiln_tensor *size = size_tensor(3, 3),
              *out = kiln_test_tensor(KILN_INT32, 1, one);
  CHECK_ERROR(run(KILN_OP_RESIZE_BILINEAR, &a, in, size, out),
              KILN_ERR_UNSUPPORTED, "input 0 (input) has type int32");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(size);
  kiln_test_tensor_free(out);
}

static void expect_error(kiln_op_type op, const kiln_resize_attrs *a,
                         kiln_tensor *in, kiln_tensor *size,
                         kiln_status_code code, const char *needle) {
  kiln_tensor *out = output_tensor();
  CHECK_ERROR(run(op, a, in, size, out), code, needle);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(size);
  kiln_test_tensor_free(out);
}

static kiln_tensor *image(void) {
  int64_t dims[4] = {1, 3, 3, 2};
  return kiln_test_tensor_f32(4, dims, NULL);
}

static void test_errors(void) {
  const kiln_op_type nn = KILN_OP_RESIZE_NEAREST_NEIGHBOR;
  kiln_resize_attrs a = {false, false};
  kiln_tensor *unknown = size_tensor(4, 4);
  free(unknown->data);
  unknown->data = NULL;
  expect_error(nn, &a, image(), unknown, KILN_ERR_UNSUPPORTED,
               "input 1 (size) must be known");
  int64_t three[1] = {3};
  int32_t hwc[3] = {4, 4, 1};
  expect_error(nn, &a, image(), kiln_test_tensor_i32(1, three, hwc),
               KILN_ERR_INVALID_MODEL, "input 1 (size) has shape [3]");
  expect_error(nn, &a, image(), size_tensor(0, 4), KILN_ERR_INVALID_MODEL,
               "input 1 (size) is [0,4]");
  int64_t two[1] = {2};
  expect_error(nn, &a, image(), kiln_test_tensor(KILN_INT64, 1, two),
               KILN_ERR_UNSUPPORTED, "input 1 (size) has type int64");
  int64_t d3[3] = {3, 3, 2};
  expect_error(nn, &a, kiln_test_tensor_f32(3, d3, NULL), size_tensor(4, 4),
               KILN_ERR_INVALID_MODEL, "input 0 (input) must have rank 4");
  kiln_resize_attrs both = {true, true};
  expect_error(KILN_OP_RESIZE_BILINEAR, &both, image(), size_tensor(4, 4),
               KILN_ERR_INVALID_MODEL,
               "align_corners and half_pixel_centers cannot both be set");

  kiln_tensor *in = image(), *out = kiln_test_tensor(KILN_INT8, 1, two);
  kiln_tensor *size = size_tensor(2, 2);
  CHECK_ERROR(run(nn, &a, in, size, out), KILN_ERR_UNSUPPORTED,
              "output 0 has type int8");
  kiln_tensor *inputs[1] = {in}, *outputs[1] = {out};
  CHECK_ERROR(kiln_test_run_op(nn, &a, inputs, 1, outputs, 1),
              KILN_ERR_INVALID_MODEL, "expects 2 inputs, has 1");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(size);
  kiln_test_tensor_free(out);
}

int main(void) {
  kiln_test_seed(31337);
  test_random();
  test_bilinear_values();
  test_nearest_values();
  test_nearest_types();
  test_errors();
  return kiln_test_finish("test_ref_resize");
}
