/* test_ref_sequence_rank.c - reference REVERSE_SEQUENCE against an
 * element-by-element oracle (each output index mapped back to its source
 * index) on random ranks, dimensions, types and lengths; RANK on every
 * dtype and ranks 0..6, empty tensors included; RELU_0_TO_1 in float32 and
 * in int8 / uint8 against TFLite's rescale computed in long double
 * (quant_test_util.h) with the clamp bounds worked out from the output
 * scale; and malformed inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant_test_util.h"

/* ------------------------------------------------- REVERSE_SEQUENCE */

static const kiln_dtype kSequenceTypes[] = {KILN_FLOAT32, KILN_UINT8,
                                            KILN_INT16, KILN_INT32, KILN_INT64};

/* A tensor whose element i holds i (as the type allows), so that every
 * output element names its source. */
static kiln_tensor *numbered(kiln_dtype dtype, int rank, const int64_t *dims) {
  kiln_tensor *t = kiln_test_tensor(dtype, rank, dims);
  int64_t n = kiln_tensor_numel(t);
  size_t size = kiln_dtype_size(dtype);
  for (int64_t i = 0; i < n; i++) {
    int64_t v = i + 1;
    switch (dtype) {
      case KILN_FLOAT32:
        ((float *)t->data)[i] = (float)v;
        break;
      default:
        /* little-endian bytes of v, as wide as the type */
        memcpy((char *)t->data + (size_t)i * size, &v, size);
        break;
    }
  }
  return t;
}

static kiln_tensor *lengths(kiln_dtype dtype, int64_t count,
                            const int64_t *values) {
  int64_t dims[1] = {count};
  kiln_tensor *t = kiln_test_tensor(dtype, 1, dims);
  for (int64_t i = 0; i < count; i++) {
    if (dtype == KILN_INT64)
      ((int64_t *)t->data)[i] = values[i];
    else
      ((int32_t *)t->data)[i] = (int32_t)values[i];
  }
  return t;
}

static void test_reverse_sequence_random(void) {
  for (int iter = 0; iter < 200; iter++) {
    int rank = kiln_test_int(2, 5);
    int64_t dims[KILN_MAX_RANK];
    for (int k = 0; k < rank; k++) dims[k] = kiln_test_int(1, 4);
    if (kiln_test_int(0, 9) == 0) dims[kiln_test_int(0, rank - 1)] = 0;
    kiln_reverse_sequence_attrs a;
    a.seq_dim = kiln_test_int(0, rank - 1);
    do a.batch_dim = kiln_test_int(0, rank - 1);
    while (a.batch_dim == a.seq_dim);
    kiln_dtype dtype = kSequenceTypes[kiln_test_int(0, 4)];
    int64_t len[8];
    for (int64_t b = 0; b < dims[a.batch_dim]; b++)
      len[b] = kiln_test_int(0, (int)dims[a.seq_dim]);
    kiln_tensor *x = numbered(dtype, rank, dims);
    kiln_tensor *lens = lengths(kiln_test_int(0, 1) ? KILN_INT64 : KILN_INT32,
                                dims[a.batch_dim], len);
    kiln_tensor *out = kiln_test_tensor(dtype, 1, (int64_t[]){1});
    CHECK_OK(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &a,
                               (kiln_tensor *[]){x, lens}, 2, out));
    CHECK(kiln_test_has_shape(out, rank, dims));
    /* each output index, mapped back by the definition */
    int64_t n = kiln_tensor_numel(x), bad = 0;
    size_t size = kiln_dtype_size(dtype);
    int64_t index[KILN_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
      int64_t src[KILN_MAX_RANK];
      memcpy(src, index, sizeof src);
      int64_t l = len[index[a.batch_dim]];
      if (index[a.seq_dim] < l) src[a.seq_dim] = l - 1 - index[a.seq_dim];
      int64_t from = 0;
      for (int k = 0; k < rank; k++) from = from * dims[k] + src[k];
      if (memcmp((char *)out->data + (size_t)i * size,
                 (char *)x->data + (size_t)from * size, size) != 0)
        bad++;
      for (int k = rank - 1; k >= 0; k--) {
        if (++index[k] < dims[k]) break;
        index[k] = 0;
      }
    }
    CHECK(bad == 0);
    kiln_test_tensors_free((kiln_tensor *[]){x, lens, out}, 3);
  }
}

static void test_reverse_sequence_bad(void) {
  int64_t dims[2] = {3, 4};
  kiln_tensor *x = numbered(KILN_FLOAT32, 2, dims);
  kiln_tensor *out = kiln_test_output();
  kiln_reverse_sequence_attrs a = {1, 0};
  kiln_tensor *too_long = lengths(KILN_INT32, 3, (int64_t[]){1, 5, 2});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &a,
                                (kiln_tensor *[]){x, too_long}, 2, out),
              KILN_ERR_INVALID_MODEL, "element 1 is 5");
  kiln_tensor *negative = lengths(KILN_INT64, 3, (int64_t[]){1, 2, -1});
  /* a length known only at invoke: a runtime error there */
  kiln_op_ctx ctx = {
      &a, (kiln_tensor *[]){x, negative}, 2, &out, 1, NULL, NULL, NULL};
  void *saved = negative->data;
  negative->data = NULL;
  CHECK_OK(kiln_op_table[KILN_OP_REVERSE_SEQUENCE].shape(&ctx));
  negative->data = saved;
  free(out->data);
  out->data = calloc(kiln_tensor_nbytes(out) + 1, 1);
  CHECK_ERROR(kiln_op_table[KILN_OP_REVERSE_SEQUENCE].reference(&ctx),
              KILN_ERR_RUNTIME, "element 2 is -1");
  kiln_tensor *wrong_count = lengths(KILN_INT32, 4, (int64_t[]){1, 1, 1, 1});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &a,
                                (kiln_tensor *[]){x, wrong_count}, 2, out),
              KILN_ERR_INVALID_MODEL, "input 1 (seq_lengths)");
  kiln_reverse_sequence_attrs same = {1, 1}, beyond = {2, 0};
  kiln_tensor *ok = lengths(KILN_INT32, 3, (int64_t[]){1, 1, 1});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &same,
                                (kiln_tensor *[]){x, ok}, 2, out),
              KILN_ERR_INVALID_MODEL, "two different dimensions");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &beyond,
                                (kiln_tensor *[]){x, ok}, 2, out),
              KILN_ERR_INVALID_MODEL, "seq_dim 2");
  kiln_tensor *as_bool = kiln_test_tensor(KILN_BOOL, 2, dims);
  kiln_tensor *bool_out = kiln_test_tensor(KILN_BOOL, 1, (int64_t[]){1});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &a,
                                (kiln_tensor *[]){as_bool, ok}, 2, bool_out),
              KILN_ERR_UNSUPPORTED, "input 0 (input)");
  kiln_tensor *float_lens = kiln_test_output();
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REVERSE_SEQUENCE, &a,
                                (kiln_tensor *[]){x, float_lens}, 2, out),
              KILN_ERR_UNSUPPORTED, "seq_lengths");
  kiln_test_tensors_free(
      (kiln_tensor *[]){x, out, too_long, negative, wrong_count, ok, as_bool,
                        bool_out, float_lens},
      9);
}

/* ---------------------------------------------------------------- RANK */

static void test_rank(void) {
  static const kiln_dtype types[] = {KILN_FLOAT32, KILN_FLOAT16, KILN_FLOAT64,
                                     KILN_INT8,    KILN_UINT8,   KILN_INT16,
                                     KILN_UINT16,  KILN_INT32,   KILN_UINT32,
                                     KILN_INT64,   KILN_BOOL};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
    for (int rank = 0; rank <= 6; rank++) {
      int64_t dims[KILN_MAX_RANK];
      for (int k = 0; k < rank; k++) dims[k] = kiln_test_int(0, 3);
      kiln_tensor *x = kiln_test_tensor(types[t], rank, dims);
      kiln_tensor *out = kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1});
      CHECK_OK(kiln_test_run_op1(KILN_OP_RANK, NULL, &x, 1, out));
      CHECK(out->rank == 0);
      CHECK(((int32_t *)out->data)[0] == rank);
      kiln_test_tensors_free((kiln_tensor *[]){x, out}, 2);
    }
  kiln_tensor *x = kiln_test_output();
  kiln_tensor *out64 = kiln_test_tensor(KILN_INT64, 1, (int64_t[]){1});
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RANK, NULL, &x, 1, out64),
              KILN_ERR_UNSUPPORTED, "output 0 has type int64");
  kiln_tensor *two[2] = {x, x};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RANK, NULL, two, 2, out64),
              KILN_ERR_INVALID_MODEL, "");
  kiln_test_tensors_free((kiln_tensor *[]){x, out64}, 2);
}

/* --------------------------------------------------------- RELU_0_TO_1 */

static void test_relu_0_to_1_float(void) {
  int64_t dims[3] = {2, 3, 7};
  kiln_tensor *x = kiln_test_tensor_f32(3, dims, NULL);
  float *v = x->data;
  for (int i = 0; i < 42; i++) v[i] *= 3.0f;
  v[0] = NAN;
  kiln_tensor *out = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_RELU_0_TO_1, NULL, &x, 1, out));
  CHECK(kiln_test_has_shape(out, 3, dims));
  const float *y = out->data;
  CHECK(isnan(y[0]));
  int bad = 0;
  for (int i = 1; i < 42; i++) {
    float want = fminf(fmaxf(v[i], 0.0f), 1.0f);
    bad += y[i] != want;
  }
  CHECK(bad == 0);
  kiln_test_tensors_free((kiln_tensor *[]){x, out}, 2);
}

static void test_relu_0_to_1_quantized(void) {
  for (int iter = 0; iter < 200; iter++) {
    kiln_dtype dtype = kiln_test_int(0, 1) ? KILN_INT8 : KILN_UINT8;
    int64_t dims[2] = {kiln_test_int(1, 5), kiln_test_int(1, 9)};
    qt *x = qt_new(dtype, 2, dims, 1, 0), *y = qt_new(dtype, 1, dims, 1, 0);
    x->scale[0] = qt_scale(-9, -3);
    y->scale[0] = iter % 4 == 0 ? x->scale[0] : qt_scale(-9, -3);
    x->zp[0] = kiln_test_int(qt_min(dtype), qt_max(dtype));
    y->zp[0] =
        iter % 4 == 0 ? x->zp[0] : kiln_test_int(qt_min(dtype), qt_max(dtype));
    CHECK_OK(kiln_test_run_op1(KILN_OP_RELU_0_TO_1, NULL, &x->t, 1, y->t));
    CHECK(kiln_test_has_shape(y->t, 2, dims));
    /* bounds: the stored values of 0 and 1 on the output, within the type */
    int64_t lo = y->zp[0], hi = y->zp[0] + (int64_t)roundf(1.0f / y->scale[0]);
    if (lo < qt_min(dtype)) lo = qt_min(dtype);
    if (hi > qt_max(dtype)) hi = qt_max(dtype);
    int bad = 0;
    for (int64_t i = 0; i < kiln_tensor_numel(x->t); i++) {
      int64_t v = oracle_rescale32(qt_get(x->t, i) - x->zp[0],
                                   (double)x->scale[0] / y->scale[0]) +
                  y->zp[0];
      v = v < lo ? lo : (v > hi ? hi : v);
      bad += qt_get(y->t, i) != v;
    }
    CHECK(bad == 0);
    qt_free(x);
    qt_free(y);
  }
  /* int16 has no RELU_0_TO_1 in TFLite */
  int64_t dims[1] = {4};
  qt *x = qt_new(KILN_INT16, 1, dims, 1, 0),
     *y = qt_new(KILN_INT16, 1, dims, 1, 0);
  x->zp[0] = y->zp[0] = 0;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RELU_0_TO_1, NULL, &x->t, 1, y->t),
              KILN_ERR_UNSUPPORTED, "int16");
  /* int8 without quantization parameters */
  x->t->dtype = y->t->dtype = KILN_INT8;
  x->t->quant = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RELU_0_TO_1, NULL, &x->t, 1, y->t),
              KILN_ERR_INVALID_MODEL, "no quantization parameters");
  qt_free(x);
  qt_free(y);
}

int main(void) {
  kiln_test_seed(0x5E0);
  test_reverse_sequence_random();
  test_reverse_sequence_bad();
  test_rank();
  test_relu_0_to_1_float();
  test_relu_0_to_1_quantized();
  return kiln_test_finish("test_ref_sequence_rank");
}
