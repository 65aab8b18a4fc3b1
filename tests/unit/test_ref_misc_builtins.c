/* test_ref_misc_builtins.c - HASHTABLE_LOOKUP against a linear search of
 * sorted distinct keys (rows of several types and widths, hits and
 * misses), FAKE_QUANT against TensorFlow's definition evaluated in double
 * (values near a rounding tie skipped: float and double may round them
 * apart), SIGN on float64, and their errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_test_util.h"

/* ------------------------------------------------------- HASHTABLE_LOOKUP */

static kiln_status *run_lookup(kiln_tensor **in, kiln_tensor **outs) {
  kiln_op_ctx ctx = {NULL, in, 3, outs, 2, NULL, NULL, NULL};
  const kiln_op_def *def = &kiln_op_table[KILN_OP_HASHTABLE_LOOKUP];
  KILN_TRY(def->shape(&ctx));
  for (int i = 0; i < 2; i++) {
    free(outs[i]->data);
    size_t bytes = kiln_tensor_nbytes(outs[i]);
    outs[i]->data = malloc(bytes + 1);
    memset(outs[i]->data, 0xA5, bytes + 1);
  }
  return def->reference(&ctx);
}

static void test_lookup_random(void) {
  const kiln_dtype types[4] = {KILN_FLOAT32, KILN_INT8, KILN_INT64, KILN_UINT8};
  for (int trial = 0; trial < 100; trial++) {
    int k = kiln_test_int(0, 20), n = kiln_test_int(0, 15);
    kiln_dtype t = types[trial % 4];
    int rank = kiln_test_int(1, 3);
    int64_t vdims[3] = {k, kiln_test_int(1, 4), kiln_test_int(1, 3)};
    int32_t keys[20], look[15];
    int32_t next = (int32_t)kiln_test_int(-50, 0);
    for (int i = 0; i < k; i++) keys[i] = next += kiln_test_int(1, 6);
    for (int i = 0; i < n; i++)
      look[i] = (k && kiln_test_int(0, 1)) ? keys[kiln_test_int(0, k - 1)]
                                           : (int32_t)kiln_test_int(-60, 80);
    kiln_tensor *in[3] = {
        kiln_test_tensor_i32(1, (int64_t[]){n}, look),
        kiln_test_tensor_i32(1, (int64_t[]){k}, keys),
        kiln_test_tensor(t, rank, vdims),
    };
    int64_t row = 1;
    for (int d = 1; d < rank; d++) row *= vdims[d];
    size_t esize = kiln_dtype_size(t);
    unsigned char *v = in[2]->data;
    for (size_t b = 0; b < (size_t)(k * row) * esize; b++)
      v[b] = (unsigned char)kiln_test_rand();
    kiln_tensor *outs[2] = {kiln_test_tensor(t, 1, (int64_t[]){1}),
                            kiln_test_tensor(KILN_UINT8, 1, (int64_t[]){1})};
    CHECK_OK(run_lookup(in, outs));
    int64_t want_dims[3] = {n, vdims[1], vdims[2]};
    CHECK(kiln_test_has_shape(outs[0], rank, want_dims));
    CHECK(kiln_test_has_shape(outs[1], 1, want_dims));
    int bad = 0;
    for (int i = 0; i < n; i++) {
      int found = -1;
      for (int j = 0; j < k; j++)
        if (keys[j] == look[i]) found = j;
      const unsigned char *got =
          (const unsigned char *)outs[0]->data + (size_t)(i * row) * esize;
      bad += ((const uint8_t *)outs[1]->data)[i] != (found >= 0);
      for (size_t b = 0; b < (size_t)row * esize; b++)
        bad +=
            got[b] != (found >= 0 ? v[(size_t)(found * row) * esize + b] : 0);
    }
    CHECK(bad == 0);
    kiln_test_tensors_free(outs, 2);
    kiln_test_tensors_free(in, 3);
  }
}

static void test_lookup_errors(void) {
  int32_t one[3] = {1, 2, 3};
  kiln_tensor *in[3] = {kiln_test_tensor_i32(1, (int64_t[]){3}, one),
                        kiln_test_tensor_i32(1, (int64_t[]){3}, one),
                        kiln_test_tensor_f32(2, (int64_t[]){2, 4}, NULL)};
  kiln_tensor *outs[2] = {kiln_test_output(),
                          kiln_test_tensor(KILN_UINT8, 1, (int64_t[]){1})};
  CHECK_ERROR(run_lookup(in, outs), KILN_ERR_INVALID_MODEL,
              "input 2 (values) must have one row per key (3), has shape "
              "[2,4]");
  in[2]->dims[0] = 3;
  outs[1]->dtype = KILN_BOOL;
  CHECK_ERROR(run_lookup(in, outs), KILN_ERR_INVALID_MODEL,
              "output 1 (hits) has type bool; expected uint8");
  outs[1]->dtype = KILN_UINT8;
  outs[0]->dtype = KILN_INT32;
  CHECK_ERROR(run_lookup(in, outs), KILN_ERR_INVALID_MODEL,
              "output 0 (output) has type int32 but input 2 (values) has "
              "float32");
  outs[0]->dtype = KILN_FLOAT32;
  in[1]->dtype = KILN_INT64;
  CHECK_ERROR(run_lookup(in, outs), KILN_ERR_UNSUPPORTED,
              "input 1 (keys) has type int64");
  in[1]->dtype = KILN_INT32;
  in[0]->rank = 2;
  CHECK_ERROR(run_lookup(in, outs), KILN_ERR_INVALID_MODEL, "input 0 (lookup)");
  kiln_test_tensors_free(outs, 2);
  kiln_test_tensors_free(in, 3);
}

/* ------------------------------------------------------------- FAKE_QUANT */

static void test_fake_quant(void) {
  for (int trial = 0; trial < 200; trial++) {
    kiln_fake_quant_attrs a = {kiln_test_uniform(-10, 0),
                               kiln_test_uniform(0.01f, 10),
                               kiln_test_int(2, 16)};
    if (trial % 7 == 0) a.min = 0.0f;
    if (trial % 11 == 0) a.max = 0.0f, a.min = -3.0f;
    tshape s = random_tshape(3, 10);
    kiln_tensor *x = tensor_of(KILN_FLOAT32, &s);
    fill_random(x, a.min * 1.5 - 1, a.max * 1.5 + 1);
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(run_poisoned(KILN_OP_FAKE_QUANT, &a, &x, 1, out));
    CHECK(tensor_has_tshape(out, &s));
    /* TensorFlow's definition: steps = 2^bits - 1 over [min, max], the
     * zero point min / -scale rounded half away from zero into [0,
     * steps], the range moved so it lands on 0.0 */
    double steps = (double)((1 << a.num_bits) - 1);
    float scale = (a.max - a.min) / (float)steps;
    double zp = -(double)(a.min / scale);
    zp = zp < 0 ? 0 : (zp > steps ? steps : round(zp));
    double lo = -zp * scale, hi = (steps - zp) * scale;
    int bad = 0;
    for (int64_t i = 0; i < tshape_numel(&s); i++) {
      double v = fmin(fmax(getd(x, i), lo), hi);
      double q = (v - lo) / scale;
      if (fabs(q - floor(q) - 0.5) < 1e-3) continue; /* near a tie */
      double want = round(q) * scale + lo;
      bad += fabs(getd(out, i) - want) > 1e-5 * (hi - lo);
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensor_free(x);
  }
  kiln_fake_quant_attrs bad_bits = {-1, 1, 1}, bad_range = {1, -1, 8};
  int64_t d[1] = {2};
  kiln_tensor *x = kiln_test_tensor_f32(1, d, NULL);
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(shape_only(KILN_OP_FAKE_QUANT, &bad_bits, &x, 1, out),
              KILN_ERR_INVALID_MODEL, "num_bits is 1; it must be from 2 to 16");
  CHECK_ERROR(shape_only(KILN_OP_FAKE_QUANT, &bad_range, &x, 1, out),
              KILN_ERR_INVALID_MODEL,
              "min 1 and max -1 are not a finite range");
  x->dtype = KILN_INT32;
  bad_range.min = -1, bad_range.max = 1;
  CHECK_ERROR(shape_only(KILN_OP_FAKE_QUANT, &bad_range, &x, 1, out),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type int32");
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(x);
}

/* ------------------------------------------------------------- SIGN f64 */

static void test_sign_float64(void) {
  int64_t d[1] = {6};
  kiln_tensor *x = kiln_test_tensor(KILN_FLOAT64, 1, d);
  double v[6] = {NAN, -0.0, 1e-300, -1e300, 2.5, -INFINITY};
  memcpy(x->data, v, sizeof v);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT64, 1, d);
  CHECK_OK(run_poisoned(KILN_OP_SIGN, NULL, &x, 1, out));
  const double *y = out->data;
  CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == -1 && y[4] == 1 &&
        y[5] == -1);
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(x);
}

int main(void) {
  kiln_test_seed(0x10ca7e);
  test_lookup_random();
  test_lookup_errors();
  test_fake_quant();
  test_sign_float64();
  return kiln_test_finish("test_ref_misc_builtins");
}
