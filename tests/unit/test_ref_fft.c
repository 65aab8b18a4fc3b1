/* test_ref_fft.c - complex64 operators: RFFT2D against a direct 2-D DFT in
 * double (the definition, summed term by term) on random shapes, crops
 * and zero pads, batch dimensions and every power-of-two length up to 32;
 * COMPLEX_ABS, REAL and IMAG element by element; complex64 CAST; and the
 * errors each shape function gives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_test_util.h"

static const double PI = 3.14159265358979323846;

static kiln_tensor *fft_length(int64_t h, int64_t w) {
  int64_t dims[1] = {2};
  int32_t v[2] = {(int32_t)h, (int32_t)w};
  return kiln_test_tensor_i32(1, dims, v);
}

/* X[u, v] = sum over y < min(H, fft_h), x < min(W, fft_w) of
 * in[y, x] exp(-2 pi i (u y / fft_h + v x / fft_w)). */
static void dft2(const float *in, int64_t h, int64_t w, int64_t fh, int64_t fw,
                 int64_t u, int64_t v, double *re, double *im) {
  double sr = 0.0, si = 0.0;
  for (int64_t y = 0; y < h && y < fh; y++)
    for (int64_t x = 0; x < w && x < fw; x++) {
      double a = -2.0 * PI *
                 ((double)(u * y % fh) / (double)fh +
                  (double)(v * x % fw) / (double)fw);
      sr += in[y * w + x] * cos(a);
      si += in[y * w + x] * sin(a);
    }
  *re = sr;
  *im = si;
}

static void test_rfft2d_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int outer_rank = kiln_test_int(0, 2);
    int rank = outer_rank + 2;
    int64_t dims[KILN_MAX_RANK];
    for (int d = 0; d < outer_rank; d++) dims[d] = kiln_test_int(1, 3);
    dims[rank - 2] = kiln_test_int(1, 12);
    dims[rank - 1] = kiln_test_int(1, 12);
    int64_t fh = (int64_t)1 << kiln_test_int(0, 5);
    int64_t fw = (int64_t)1 << kiln_test_int(0, 5);
    kiln_tensor *in[2] = {kiln_test_tensor_f32(rank, dims, NULL),
                          fft_length(fh, fw)};
    kiln_tensor *out = kiln_test_tensor(KILN_COMPLEX64, 1, (int64_t[]){1});
    CHECK_OK(run_poisoned(KILN_OP_RFFT2D, &none, in, 2, out));
    int64_t want[KILN_MAX_RANK];
    memcpy(want, dims, sizeof want);
    want[rank - 2] = fh;
    want[rank - 1] = fw / 2 + 1;
    CHECK(kiln_test_has_shape(out, rank, want));
    int64_t outer = 1;
    for (int d = 0; d < outer_rank; d++) outer *= dims[d];
    int64_t h = dims[rank - 2], w = dims[rank - 1], cols = fw / 2 + 1;
    /* Expected values first, then the worst error against the largest. */
    double largest = 0.0, worst = 0.0;
    int64_t count = outer * fh * cols;
    double *expect = malloc(sizeof(double) * 2 * (size_t)count);
    for (int64_t b = 0; b < outer; b++)
      for (int64_t u = 0; u < fh; u++)
        for (int64_t v = 0; v < cols; v++) {
          int64_t k = (b * fh + u) * cols + v;
          dft2((const float *)in[0]->data + b * h * w, h, w, fh, fw, u, v,
               &expect[2 * k], &expect[2 * k + 1]);
          largest = fmax(largest, hypot(expect[2 * k], expect[2 * k + 1]));
        }
    const float *got = out->data;
    for (int64_t k = 0; k < 2 * count; k++)
      worst = fmax(worst, fabs((double)got[k] - expect[k]));
    /* The spec is 1e-5 of the largest magnitude; hold the kernel to less. */
    CHECK(worst <= 2e-6 * fmax(largest, 1e-30));
    if (worst > 2e-6 * fmax(largest, 1e-30))
      fprintf(stderr, "trial %d: fft %lldx%lld on %lldx%lld: error %g of %g\n",
              trial, (long long)fh, (long long)fw, (long long)h, (long long)w,
              worst, largest);
    free(expect);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in, 2);
  }
}

/* A larger transform: a pure tone lands in one bin (and its mirror). */
static void test_rfft2d_tone(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {64, 256};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(2, dims, NULL),
                        fft_length(64, 256)};
  float *x = in[0]->data;
  for (int64_t y = 0; y < 64; y++)
    for (int64_t k = 0; k < 256; k++)
      x[y * 256 + k] = (float)cos(
          2.0 * PI * (5.0 * (double)y / 64.0 + 17.0 * (double)k / 256.0));
  kiln_tensor *out = kiln_test_tensor(KILN_COMPLEX64, 1, (int64_t[]){1});
  CHECK_OK(run_poisoned(KILN_OP_RFFT2D, &none, in, 2, out));
  const float *z = out->data;
  double total = 64.0 * 256.0 / 2.0, worst = 0.0;
  for (int64_t u = 0; u < 64; u++)
    for (int64_t v = 0; v < 129; v++) {
      double want = (u == 5 && v == 17) ? total : 0.0;
      int64_t k = u * 129 + v;
      worst = fmax(worst, hypot(z[2 * k] - want, z[2 * k + 1]));
    }
  CHECK(worst <= 1e-6 * total);
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 2);
}

static void test_rfft2d_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[3] = {2, 3, 4};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(3, dims, NULL), fft_length(4, 6)};
  kiln_tensor *out = kiln_test_tensor(KILN_COMPLEX64, 1, (int64_t[]){1});
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED,
              "input 1 (fft_length) element 1 is 6; it must be a power of two");
  ((int32_t *)in[1]->data)[1] = 8;
  ((int32_t *)in[1]->data)[0] = 0;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED, "element 0 is 0");
  ((int32_t *)in[1]->data)[0] = -4;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED, "element 0 is -4");
  ((int32_t *)in[1]->data)[0] = 4;
  CHECK_OK(shape_only(KILN_OP_RFFT2D, &none, in, 2, out));
  void *saved = in[1]->data;
  in[1]->data = NULL;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED, "input 1 (fft_length) must be known");
  in[1]->data = saved;
  in[1]->dims[0] = 1;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (fft_length) must have shape [2], has [1]");
  in[1]->dims[0] = 2;
  in[0]->rank = 1;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_INVALID_MODEL, "input 0 (input) must have rank 2");
  in[0]->rank = 3;
  in[0]->dtype = KILN_INT32;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED,
              "input 0 (input) has type int32; expected float32");
  in[0]->dtype = KILN_FLOAT32;
  out->dtype = KILN_FLOAT32;
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type float32; expected "
              "complex64");
  CHECK_ERROR(shape_only(KILN_OP_RFFT2D, &none, in, 1, out),
              KILN_ERR_INVALID_MODEL, "");
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 2);
}

/* ------------------------------------------------ COMPLEX_ABS, REAL, IMAG */

static void test_complex_parts(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 50; trial++) {
    tshape s = random_tshape(4, 8);
    kiln_tensor *z = tensor_of(KILN_COMPLEX64, &s);
    int64_t n = tshape_numel(&s);
    float *zf = z->data;
    for (int64_t i = 0; i < 2 * n; i++) {
      /* a wide range of magnitudes, where a naive sqrt(re^2 + im^2)
       * would overflow */
      float scale = kiln_test_int(0, 9) == 0 ? 1e30f : 10.0f;
      zf[i] = kiln_test_uniform(-scale, scale);
    }
    const kiln_op_type ops[3] = {KILN_OP_COMPLEX_ABS, KILN_OP_REAL,
                                 KILN_OP_IMAG};
    for (int k = 0; k < 3; k++) {
      kiln_tensor *out = kiln_test_output();
      CHECK_OK(run_poisoned(ops[k], &none, &z, 1, out));
      CHECK(tensor_has_tshape(out, &s) && out->dtype == KILN_FLOAT32);
      const float *y = out->data;
      for (int64_t i = 0; i < n; i++) {
        double want = k == 0   ? hypot(zf[2 * i], zf[2 * i + 1])
                      : k == 1 ? zf[2 * i]
                               : zf[2 * i + 1];
        CHECK(fabs(y[i] - want) <= 1.2e-7 * fabs(want));
      }
      kiln_test_tensor_free(out);
    }
    kiln_test_tensor_free(z);
  }
  int64_t d[1] = {3};
  kiln_tensor *f = kiln_test_tensor_f32(1, d, NULL);
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(shape_only(KILN_OP_COMPLEX_ABS, &none, &f, 1, out),
              KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type float32; expected complex64");
  CHECK_ERROR(shape_only(KILN_OP_REAL, &none, &f, 1, out), KILN_ERR_UNSUPPORTED,
              "expected complex64");
  f->dtype = KILN_COMPLEX64;
  out->dtype = KILN_COMPLEX64;
  CHECK_ERROR(shape_only(KILN_OP_IMAG, &none, &f, 1, out),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type complex64; expected "
              "float32");
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(f);
}

/* CAST into complex64 gives (x, 0); out of it the real part; complex64 to
 * complex64 keeps both parts. */
static void test_complex_cast(void) {
  kiln_no_attrs none = {0};
  int64_t d[1] = {5};
  kiln_tensor *x = kiln_test_tensor_f32(1, d, NULL);
  kiln_tensor *z = kiln_test_tensor(KILN_COMPLEX64, 1, d);
  CHECK_OK(kiln_test_run_op1(KILN_OP_CAST, &none, &x, 1, z));
  const float *xf = x->data, *zf = z->data;
  for (int i = 0; i < 5; i++) CHECK(zf[2 * i] == xf[i] && zf[2 * i + 1] == 0);
  ((float *)z->data)[3] = 7.5f;
  kiln_tensor *z2 = kiln_test_tensor(KILN_COMPLEX64, 1, d);
  CHECK_OK(kiln_test_run_op1(KILN_OP_CAST, &none, &z, 1, z2));
  CHECK(memcmp(z2->data, z->data, 40) == 0);
  kiln_tensor *back = kiln_test_tensor(KILN_INT32, 1, d);
  ((float *)z->data)[2] = -3.75f;
  CHECK_OK(kiln_test_run_op1(KILN_OP_CAST, &none, &z, 1, back));
  CHECK(((int32_t *)back->data)[1] == -3);
  kiln_test_tensor_free(back);
  kiln_test_tensor_free(z2);
  kiln_test_tensor_free(z);
  kiln_test_tensor_free(x);
}

int main(void) {
  kiln_test_seed(0xf0f7);
  test_rfft2d_random();
  test_rfft2d_tone();
  test_rfft2d_errors();
  test_complex_parts();
  test_complex_cast();
  return kiln_test_finish("test_ref_fft");
}
