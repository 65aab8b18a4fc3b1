/* test_ref_index_ops.c - ONE_HOT, EMBEDDING_LOOKUP (plain tables of every
 * type and hybrid int8/uint8 ones), SPARSE_TO_DENSE and BROADCAST_ARGS
 * against oracles on random shapes and types, and their errors. */
#include <math.h>

#include "movement_test_util.h"

/* ----------------------------------------------------------------- ONE_HOT */

static void test_one_hot_random(void) {
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(0, 3);
    int64_t dims[3] = {1, 1, 1}, depth = kiln_test_int(0, 5);
    random_dims(rank, 1, 3, dims);
    kiln_dtype dtype = random_dtype();
    if (dtype == KILN_FLOAT16) dtype = KILN_UINT8;
    kiln_tensor *indices = kiln_test_tensor(random_int_dtype(), rank, dims);
    for (int64_t i = 0; i < kiln_tensor_numel(indices); i++) {
      int64_t v = kiln_test_int(-1, (int)depth); /* some out of range */
      if (indices->dtype == KILN_INT64)
        ((int64_t *)indices->data)[i] = v;
      else
        ((int32_t *)indices->data)[i] = (int32_t)v;
    }
    kiln_tensor *in[4] = {indices, int_scalar(KILN_INT32, depth),
                          random_tensor(dtype, 0, NULL),
                          random_tensor(dtype, 0, NULL)};
    int axis = kiln_test_int(-1, rank);
    kiln_one_hot_attrs attrs = {axis};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_ONE_HOT, &attrs, in, 4, dtype, &out));
    int where = axis < 0 ? rank : axis;
    int64_t expect[4];
    for (int k = 0, n = 0; k <= rank; k++)
      expect[k] = k == where ? depth : dims[n++];
    CHECK(same_shape(out, expect, rank + 1));
    bool ok = true;
    for (int64_t i = 0; ok && i < kiln_tensor_numel(out); i++) {
      int64_t o[4] = {0}, at[3] = {0};
      unravel(i, expect, rank + 1, o);
      for (int k = 0, n = 0; k <= rank; k++)
        if (k != where) at[n++] = o[k];
      bool on = kiln_tensor_int(indices, ravel(at, dims, rank)) == o[where];
      ok = same_element(out, i, in[on ? 2 : 3], 0);
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 4);
  }
}

static void test_one_hot_errors(void) {
  int64_t dims[1] = {3};
  kiln_tensor *in[4] = {
      kiln_test_tensor(KILN_INT32, 1, dims), int_scalar(KILN_INT32, 4),
      random_tensor(KILN_FLOAT32, 0, NULL), random_tensor(KILN_INT32, 0, NULL)};
  kiln_one_hot_attrs last = {-1}, far = {2};
  CHECK_ERROR(run_one(KILN_OP_ONE_HOT, &last, in, 4, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "output has type float32 but input 3 (off_value) has type "
              "int32");
  in[3]->dtype = KILN_FLOAT32;
  CHECK_ERROR(run_one(KILN_OP_ONE_HOT, &far, in, 4, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "axis 2 must be -1 or in [0, 1] (indices rank 1)");
  ((int32_t *)in[1]->data)[0] = -2;
  CHECK_ERROR(run_one(KILN_OP_ONE_HOT, &last, in, 4, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL, "input 1 (depth) is -2");
  free_tensors(in, 4);
}

/* -------------------------------------------------------- EMBEDDING_LOOKUP */

static void test_embedding_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(2, 3);
    int64_t vdims[3], n = kiln_test_int(0, 6);
    random_dims(rank, 1, 4, vdims);
    int64_t rows = vdims[0], width = vdims[1] * (rank == 3 ? vdims[2] : 1);
    int mode = trial % 3; /* float table, int8 per tensor, uint8 per row */
    kiln_dtype vtype = mode == 0   ? KILN_FLOAT32
                       : mode == 1 ? KILN_INT8
                                   : KILN_UINT8;
    kiln_tensor *value = random_tensor(vtype, rank, vdims);
    float scales[4];
    int64_t zeros[4] = {0};
    kiln_quant_info q = {mode == 2 ? (int)rows : 1, scales, zeros, 0};
    for (int i = 0; i < 4; i++) scales[i] = kiln_test_uniform(0.01f, 0.5f);
    if (mode) value->quant = &q;
    int64_t idims[1] = {n};
    kiln_tensor *ids = kiln_test_tensor(KILN_INT32, 1, idims);
    for (int64_t i = 0; i < n; i++)
      ((int32_t *)ids->data)[i] = kiln_test_int(0, (int)rows - 1);
    kiln_tensor *in[2] = {ids, value}, *out;
    CHECK_OK(
        run_one(KILN_OP_EMBEDDING_LOOKUP, &none, in, 2, KILN_FLOAT32, &out));
    int64_t expect[3] = {n, vdims[1], rank == 3 ? vdims[2] : 0};
    CHECK(same_shape(out, expect, rank));
    bool ok = true;
    for (int64_t i = 0; ok && i < n; i++) {
      int64_t row = ((int32_t *)ids->data)[i];
      for (int64_t j = 0; ok && j < width; j++) {
        double want = kiln_tensor_real(value, row * width + j);
        if (mode) want *= scales[mode == 2 ? row : 0];
        ok = fabs(((float *)out->data)[i * width + j] - want) <=
             1e-6 * fabs(want);
      }
    }
    CHECK(ok);
    value->quant = NULL;
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

/* Plain tables of every other type: output rows are the picked table rows,
 * byte for byte. */
static void test_embedding_types(void) {
  const kiln_dtype types[] = {KILN_INT8,    KILN_UINT8,  KILN_INT16,
                              KILN_UINT16,  KILN_INT32,  KILN_UINT32,
                              KILN_INT64,   KILN_UINT64, KILN_FLOAT16,
                              KILN_FLOAT64, KILN_BOOL,   KILN_COMPLEX64};
  const int count = (int)(sizeof types / sizeof types[0]);
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 20 * count; trial++) {
    kiln_dtype vtype = types[trial % count];
    int rank = kiln_test_int(2, 3);
    int64_t vdims[3], n = kiln_test_int(0, 6);
    random_dims(rank, 1, 4, vdims);
    int64_t rows = vdims[0], width = vdims[1] * (rank == 3 ? vdims[2] : 1);
    kiln_tensor *value = random_tensor(vtype, rank, vdims);
    int64_t idims[1] = {n};
    kiln_tensor *ids = kiln_test_tensor(KILN_INT32, 1, idims);
    for (int64_t i = 0; i < n; i++)
      ((int32_t *)ids->data)[i] = kiln_test_int(0, (int)rows - 1);
    kiln_tensor *in[2] = {ids, value}, *out;
    CHECK_OK(run_one(KILN_OP_EMBEDDING_LOOKUP, &none, in, 2, vtype, &out));
    int64_t expect[3] = {n, vdims[1], rank == 3 ? vdims[2] : 0};
    CHECK(same_shape(out, expect, rank));
    bool ok = out->dtype == vtype;
    for (int64_t i = 0; ok && i < n; i++)
      for (int64_t j = 0; ok && j < width; j++)
        ok = same_element(out, i * width + j, value,
                          ((int32_t *)ids->data)[i] * width + j);
    if (!ok) fprintf(stderr, "EMBEDDING_LOOKUP %s\n", kiln_dtype_name(vtype));
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_embedding_errors(void) {
  kiln_no_attrs none = {0};
  int64_t vdims[2] = {4, 3};
  kiln_tensor *in[2] = {int_vector(KILN_INT32, 3, (int64_t[]){0, 4, 1}),
                        random_tensor(KILN_FLOAT32, 2, vdims)};
  CHECK_ERROR(
      run_one(KILN_OP_EMBEDDING_LOOKUP, &none, in, 2, KILN_FLOAT32, NULL),
      KILN_ERR_RUNTIME,
      "EMBEDDING_LOOKUP: id 4 at position 1 of input 0 (ids) is out of range "
      "[0, 4)");
  kiln_test_tensor_free(in[1]);
  in[1] = random_tensor(KILN_INT8, 2, vdims);
  CHECK_ERROR(
      run_one(KILN_OP_EMBEDDING_LOOKUP, &none, in, 2, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 1 (value) of type int8 has no quantization parameters");
  float scale = 0.5f;
  int64_t zero = 3;
  kiln_quant_info q = {1, &scale, &zero, 0};
  in[1]->quant = &q;
  CHECK_ERROR(
      run_one(KILN_OP_EMBEDDING_LOOKUP, &none, in, 2, KILN_FLOAT32, NULL),
      KILN_ERR_UNSUPPORTED, "input 1 (value) has zero point 3");
  in[1]->quant = NULL;
  in[0]->dtype = KILN_INT64;
  CHECK_ERROR(run_one(KILN_OP_EMBEDDING_LOOKUP, &none, in, 2, KILN_INT8, NULL),
              KILN_ERR_UNSUPPORTED,
              "input 0 (ids) has type int64; expected int32");
  free_tensors(in, 2);
}

/* --------------------------------------------------------- SPARSE_TO_DENSE */

static void test_sparse_to_dense_random(void) {
  kiln_no_attrs none = {0};
  static const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT8, KILN_UINT8,
                                     KILN_INT32, KILN_INT64};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(1, 3);
    int64_t dims[3] = {1, 1, 1};
    random_dims(rank, 1, 4, dims);
    int64_t total =
        dims[0] * (rank > 1 ? dims[1] : 1) * (rank > 2 ? dims[2] : 1);
    int64_t count = kiln_test_int(0, (int)total);
    /* distinct positions: the first `count` of a shuffled range */
    int64_t order[64];
    for (int64_t i = 0; i < total; i++) order[i] = i;
    for (int64_t i = total - 1; i > 0; i--) {
      int64_t j = kiln_test_int(0, (int)i), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    int64_t shape2[2] = {count, rank};
    bool vector = rank == 1 && trial % 2;
    kiln_tensor *indices =
        kiln_test_tensor(random_int_dtype(), vector ? 1 : 2, shape2);
    for (int64_t r = 0; r < count; r++) {
      int64_t at[3];
      unravel(order[r], dims, rank, at);
      for (int k = 0; k < rank; k++) {
        if (indices->dtype == KILN_INT64)
          ((int64_t *)indices->data)[r * rank + k] = at[k];
        else
          ((int32_t *)indices->data)[r * rank + k] = (int32_t)at[k];
      }
    }
    kiln_dtype dtype = types[kiln_test_int(0, 4)];
    bool scalar_values = trial % 5 == 0;
    int64_t vdims[1] = {count};
    kiln_tensor *in[4] = {indices, int_vector(random_int_dtype(), rank, dims),
                          random_tensor(dtype, scalar_values ? 0 : 1, vdims),
                          random_tensor(dtype, 0, NULL)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_SPARSE_TO_DENSE, &none, in, 4, dtype, &out));
    CHECK(same_shape(out, dims, rank));
    bool ok = true;
    for (int64_t i = 0; ok && i < total; i++) {
      int64_t from = -1;
      for (int64_t r = 0; r < count; r++)
        if (order[r] == i) from = r;
      ok = from < 0 ? same_element(out, i, in[3], 0)
                    : same_element(out, i, in[2], scalar_values ? 0 : from);
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 4);
  }
}

static void test_sparse_to_dense_errors(void) {
  kiln_no_attrs none = {0};
  int64_t idims[2] = {2, 2}, vdims[1] = {2};
  kiln_tensor *in[4] = {kiln_test_tensor(KILN_INT32, 2, idims),
                        int_vector(KILN_INT32, 2, (int64_t[]){3, 4}),
                        random_tensor(KILN_FLOAT32, 1, vdims),
                        random_tensor(KILN_FLOAT32, 0, NULL)};
  ((int32_t *)in[0]->data)[3] = 4;
  CHECK_ERROR(
      run_one(KILN_OP_SPARSE_TO_DENSE, &none, in, 4, KILN_FLOAT32, NULL),
      KILN_ERR_RUNTIME,
      "SPARSE_TO_DENSE: index 4 in row 1, column 1 of input 0 "
      "(indices) is out of range [0, 4)");
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT32, 3, (int64_t[]){3, 4, 2});
  CHECK_ERROR(
      run_one(KILN_OP_SPARSE_TO_DENSE, &none, in, 4, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 0 (indices) has shape [2,2]; an output of rank 3 needs "
      "[n, 3]");
  free(in[1]->data);
  in[1]->data = NULL;
  CHECK_ERROR(
      run_one(KILN_OP_SPARSE_TO_DENSE, &none, in, 4, KILN_FLOAT32, NULL),
      KILN_ERR_UNSUPPORTED, "input 1 (output_shape) must be known");
  free_tensors(in, 4);
}

/* ---------------------------------------------------------- BROADCAST_ARGS */

static void test_broadcast_args_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 300; trial++) {
    int n0 = kiln_test_int(0, 5), n1 = kiln_test_int(0, 5);
    int n = n0 > n1 ? n0 : n1;
    int64_t full[5], a[5], b[5];
    random_dims(n, 0, 4, full);
    /* each side keeps the dimension or has 1 there */
    for (int j = 0; j < n0; j++)
      a[j] = kiln_test_int(0, 2) ? full[n - n0 + j] : 1;
    for (int j = 0; j < n1; j++)
      b[j] = kiln_test_int(0, 2) ? full[n - n1 + j] : 1;
    kiln_dtype dtype = random_int_dtype();
    kiln_tensor *in[2] = {int_vector(dtype, n0, a), int_vector(dtype, n1, b)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_BROADCAST_ARGS, &none, in, 2, dtype, &out));
    int64_t len[1] = {n};
    CHECK(same_shape(out, len, 1));
    bool ok = true;
    for (int j = 0; ok && j < n; j++) {
      int64_t x = j >= n - n0 ? a[j - (n - n0)] : 1;
      int64_t y = j >= n - n1 ? b[j - (n - n1)] : 1;
      ok = kiln_tensor_int(out, j) == (x == 1 ? y : x);
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_broadcast_args_errors(void) {
  kiln_no_attrs none = {0};
  kiln_tensor *in[2] = {int_vector(KILN_INT32, 2, (int64_t[]){2, 3}),
                        int_vector(KILN_INT32, 1, (int64_t[]){4})};
  CHECK_ERROR(run_one(KILN_OP_BROADCAST_ARGS, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_RUNTIME,
              "BROADCAST_ARGS: dimension 1 is 3 in input 0 (s0) and 4 in "
              "input 1 (s1); they do not broadcast");
  CHECK_ERROR(run_one(KILN_OP_BROADCAST_ARGS, &none, in, 2, KILN_INT64, NULL),
              KILN_ERR_INVALID_MODEL, "output has type int64");
  free_tensors(in, 2);
}

int main(void) {
  kiln_test_seed(0x1d0e);
  test_one_hot_random();
  test_one_hot_errors();
  test_embedding_random();
  test_embedding_types();
  test_embedding_errors();
  test_sparse_to_dense_random();
  test_sparse_to_dense_errors();
  test_broadcast_args_random();
  test_broadcast_args_errors();
  return kiln_test_finish("test_ref_index_ops");
}
