/* test_ref_misc_builtins.c - HASHTABLE_LOOKUP against a linear search of
 * sorted distinct keys (rows of several types and widths, hits and
 * misses), FAKE_QUANT against TensorFlow's definition evaluated in double
 * (values near a rounding tie skipped: float and double may round them
 * apart), DILATE element by element on several types,
 * EMBEDDING_LOOKUP_SPARSE against runs of one cell combined in double, SIGN
 * on float64, and their errors. */
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

/* ----------------------------------------------------------------- DILATE */

static void test_dilate(void) {
  const kiln_dtype types[4] = {KILN_FLOAT32, KILN_INT8, KILN_INT64, KILN_BOOL};
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 150; trial++) {
    kiln_dtype t = types[trial % 4];
    size_t es = kiln_dtype_size(t);
    int rank = kiln_test_int(1, 4);
    int64_t dims[4], dl[4];
    int32_t dil[4];
    for (int d = 0; d < rank; d++) {
      dims[d] = kiln_test_int(1, 4);
      dil[d] = kiln_test_int(1, 3);
      dl[d] = rank;
    }
    kiln_tensor *in[3] = {kiln_test_tensor(t, rank, dims),
                          kiln_test_tensor_i32(1, dl, dil),
                          kiln_test_tensor(t, 0, dims)};
    unsigned char *x = in[0]->data;
    for (size_t b = 0; b < kiln_tensor_nbytes(in[0]); b++)
      x[b] = t == KILN_BOOL ? (unsigned char)kiln_test_int(0, 1)
                            : (unsigned char)kiln_test_rand();
    memset(in[2]->data, t == KILN_BOOL ? 1 : 0x5c, es);
    kiln_tensor *out = kiln_test_tensor(t, 1, (int64_t[]){1});
    CHECK_OK(run_poisoned(KILN_OP_DILATE, &none, in, 3, out));
    int64_t want[4];
    for (int d = 0; d < rank; d++) want[d] = (dims[d] - 1) * dil[d] + 1;
    CHECK(kiln_test_has_shape(out, rank, want));
    int bad = 0;
    int64_t total = kiln_tensor_numel(out);
    for (int64_t f = 0; f < total; f++) {
      int64_t rest = f, src = 0, scale = 1;
      bool on_grid = true;
      for (int d = rank - 1; d >= 0; d--) {
        int64_t c = rest % want[d];
        rest /= want[d];
        on_grid = on_grid && c % dil[d] == 0;
        src += (c / dil[d]) * scale;
        scale *= dims[d];
      }
      const unsigned char *expect =
          on_grid ? x + (size_t)src * es : (const unsigned char *)in[2]->data;
      bad += memcmp((const unsigned char *)out->data + (size_t)f * es, expect,
                    es) != 0;
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in, 3);
  }
  int64_t d2[2] = {2, 3}, d1[1] = {2};
  int32_t bad_dil[2] = {1, 0};
  kiln_tensor *in[3] = {kiln_test_tensor_f32(2, d2, NULL),
                        kiln_test_tensor_i32(1, d1, bad_dil),
                        kiln_test_tensor_f32(0, d1, NULL)};
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(shape_only(KILN_OP_DILATE, &none, in, 3, out),
              KILN_ERR_INVALID_ARGUMENT,
              "input 1 (dilations) element 1 is 0; it must be >= 1");
  ((int32_t *)in[1]->data)[1] = 2;
  CHECK_OK(shape_only(KILN_OP_DILATE, &none, in, 3, out));
  in[1]->dims[0] = 1;
  CHECK_ERROR(shape_only(KILN_OP_DILATE, &none, in, 3, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (dilations) must have shape [2] (one per input "
              "dimension), has [1]");
  in[1]->dims[0] = 2;
  in[2]->dtype = KILN_INT32;
  CHECK_ERROR(shape_only(KILN_OP_DILATE, &none, in, 3, out),
              KILN_ERR_INVALID_MODEL,
              "input 2 (padding_value) must be one float32, is int32");
  in[2]->dtype = KILN_FLOAT32;
  in[0]->dims[1] = 0;
  CHECK_ERROR(shape_only(KILN_OP_DILATE, &none, in, 3, out),
              KILN_ERR_UNSUPPORTED, "input 0 (input) dimension 1 is empty");
  in[0]->dims[1] = 3;
  void *saved = in[1]->data;
  in[1]->data = NULL;
  CHECK_ERROR(shape_only(KILN_OP_DILATE, &none, in, 3, out),
              KILN_ERR_UNSUPPORTED, "input 1 (dilations) must be known");
  in[1]->data = saved;
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 3);
}

/* ------------------------------------------------ EMBEDDING_LOOKUP_SPARSE */

static kiln_status *run_sparse(kiln_combiner combiner, kiln_tensor **in,
                               kiln_tensor *out) {
  kiln_embedding_sparse_attrs a = {combiner};
  return run_poisoned(KILN_OP_EMBEDDING_LOOKUP_SPARSE, &a, in, 5, out);
}

static void test_embedding_sparse(void) {
  for (int trial = 0; trial < 150; trial++) {
    kiln_combiner combiner = (kiln_combiner)(trial % 3);
    int n = kiln_test_int(0, 12), lookup_rank = kiln_test_int(1, 3);
    int64_t rows = kiln_test_int(1, 6), emb[2] = {kiln_test_int(1, 4), 2};
    int32_t dense[3], ids[12], idx[36];
    for (int d = 0; d < lookup_rank; d++) dense[d] = kiln_test_int(1, 3);
    for (int i = 0; i < n; i++) {
      ids[i] = kiln_test_int(0, (int)rows - 1);
      for (int d = 0; d < lookup_rank; d++)
        idx[i * lookup_rank + d] = kiln_test_int(0, dense[d] - 1);
    }
    /* mostly sorted by cell, as a SparseTensor's indices are */
    if (trial % 4)
      for (int i = 1; i < n; i++)
        for (int j = i;
             j > 0 && idx[(j - 1) * lookup_rank] > idx[j * lookup_rank]; j--)
          for (int d = 0; d < lookup_rank; d++) {
            int32_t t = idx[j * lookup_rank + d];
            idx[j * lookup_rank + d] = idx[(j - 1) * lookup_rank + d];
            idx[(j - 1) * lookup_rank + d] = t;
          }
    int64_t pdims[3] = {rows, emb[0], emb[1]};
    kiln_tensor *in[5] = {
        kiln_test_tensor_i32(1, (int64_t[]){n}, ids),
        kiln_test_tensor_i32(2, (int64_t[]){n, lookup_rank}, idx),
        kiln_test_tensor_i32(1, (int64_t[]){lookup_rank}, dense),
        kiln_test_tensor_f32(1, (int64_t[]){n}, NULL),
        kiln_test_tensor_f32(3, pdims, NULL)};
    float *w = in[3]->data;
    for (int i = 0; i < n; i++) w[i] = kiln_test_uniform(0.2f, 2.0f);
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(run_sparse(combiner, in, out));
    int64_t want[4];
    int k = 0;
    for (int d = 0; d < lookup_rank - 1; d++) want[k++] = dense[d];
    want[k++] = emb[0];
    want[k++] = emb[1];
    CHECK(kiln_test_has_shape(out, k, want));
    /* the oracle: split the ids into runs of one cell, sum each run in
     * double into its cell and divide the cell by the run's divisor */
    int64_t width = emb[0] * emb[1], cells = kiln_tensor_numel(out) / width;
    double *expect = calloc((size_t)(cells * width + 1), sizeof(double));
    const float *table = in[4]->data;
    for (int start = 0; start < n;) {
      int64_t cell = 0;
      for (int d = 0; d < lookup_rank - 1; d++)
        cell = cell * dense[d] + idx[start * lookup_rank + d];
      int end = start + 1;
      for (; end < n; end++) {
        int64_t c = 0;
        for (int d = 0; d < lookup_rank - 1; d++)
          c = c * dense[d] + idx[end * lookup_rank + d];
        if (c != cell) break;
      }
      double tw = 0, sq = 0;
      for (int i = start; i < end; i++) tw += w[i], sq += (double)w[i] * w[i];
      double div = combiner == KILN_COMBINER_SUM    ? 1.0
                   : combiner == KILN_COMBINER_MEAN ? tw
                                                    : sqrt(sq);
      for (int64_t e = 0; e < width; e++) {
        double sum = 0;
        for (int i = start; i < end; i++)
          sum += table[ids[i] * width + e] * w[i];
        /* TFLite divides the cell as it stands, so a cell met again in a
         * later run has its earlier value divided again */
        expect[cell * width + e] = (expect[cell * width + e] + sum) / div;
      }
      start = end;
    }
    int bad = 0;
    for (int64_t e = 0; e < cells * width; e++)
      bad += fabs(((const float *)out->data)[e] - expect[e]) >
             1e-5 * (1 + fabs(expect[e]));
    CHECK(bad == 0);
    free(expect);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in, 5);
  }
  /* ids and indices out of range fail at invoke, naming the element */
  int32_t ids[2] = {0, 3}, idx[4] = {0, 0, 1, 0}, dense[2] = {2, 1};
  kiln_tensor *in[5] = {kiln_test_tensor_i32(1, (int64_t[]){2}, ids),
                        kiln_test_tensor_i32(2, (int64_t[]){2, 2}, idx),
                        kiln_test_tensor_i32(1, (int64_t[]){2}, dense),
                        kiln_test_tensor_f32(1, (int64_t[]){2}, NULL),
                        kiln_test_tensor_f32(2, (int64_t[]){3, 4}, NULL)};
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(run_sparse(KILN_COMBINER_SUM, in, out), KILN_ERR_RUNTIME,
              "input 0 (ids) element 1 is 3, outside [0, 3)");
  ((int32_t *)in[0]->data)[1] = 2;
  ((int32_t *)in[1]->data)[2] = 2;
  CHECK_ERROR(run_sparse(KILN_COMBINER_MEAN, in, out), KILN_ERR_RUNTIME,
              "input 1 (indices) row 1 column 0 is 2, outside [0, 2)");
  ((int32_t *)in[1]->data)[2] = 1;
  CHECK_OK(run_sparse(KILN_COMBINER_SQRTN, in, out));
  CHECK_ERROR(run_sparse((kiln_combiner)3, in, out), KILN_ERR_INVALID_MODEL,
              "combiner 3 is not SUM (0), MEAN (1) or SQRTN (2)");
  in[2]->dims[0] = 1;
  CHECK_ERROR(run_sparse(KILN_COMBINER_SUM, in, out), KILN_ERR_INVALID_MODEL,
              "input 1 (indices) must have shape [2, 1]");
  in[2]->dims[0] = 2;
  void *saved = in[2]->data;
  in[2]->data = NULL;
  CHECK_ERROR(run_sparse(KILN_COMBINER_SUM, in, out), KILN_ERR_UNSUPPORTED,
              "input 2 (dense_shape) must be known");
  in[2]->data = saved;
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 5);
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
  test_dilate();
  test_embedding_sparse();
  return kiln_test_finish("test_ref_misc_builtins");
}
