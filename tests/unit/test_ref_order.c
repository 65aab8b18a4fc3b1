/* test_ref_order.c - REVERSE_V2 and TOPK_V2 against oracles on random
 * shapes and types (TOPK_V2's by sorting each row with qsort, ties by
 * index), MATRIX_DIAG and MATRIX_SET_DIAG element by element, and their
 * errors. */
#include <stdlib.h>

#include "movement_test_util.h"

/* ------------------------------------------------------------- REVERSE_V2 */

typedef struct reverse_case {
  const int64_t *dims;
  int rank;
  bool flip[KILN_MAX_RANK];
} reverse_case;

static int64_t reverse_source(const int64_t *o, const void *context) {
  const reverse_case *c = context;
  int64_t src[KILN_MAX_RANK];
  for (int k = 0; k < c->rank; k++)
    src[k] = c->flip[k] ? c->dims[k] - 1 - o[k] : o[k];
  return ravel(src, c->dims, c->rank);
}

static void test_reverse_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(1, 5), count = 0;
    int64_t dims[5], axes[5];
    random_dims(rank, trial % 17 ? 1 : 0, 4, dims);
    reverse_case c = {dims, rank, {false}};
    for (int k = 0; k < rank; k++)
      if (kiln_test_int(0, 1)) {
        c.flip[k] = true;
        axes[count++] = kiln_test_int(0, 1) ? k : k - rank;
      }
    kiln_tensor *in[2] = {random_tensor(random_dtype(), rank, dims),
                          int_vector(random_int_dtype(), count, axes)};
    if (in[0]->dtype == KILN_FLOAT16) in[0]->dtype = KILN_INT16;
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_REVERSE_V2, &none, in, 2, in[0]->dtype, &out));
    CHECK(same_shape(out, dims, rank) &&
          check_sources(out, in[0], reverse_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_reverse_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_FLOAT32, 2, dims),
                        int_vector(KILN_INT32, 2, (int64_t[]){1, -1})};
  CHECK_ERROR(run_one(KILN_OP_REVERSE_V2, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "REVERSE_V2: input 1 (axis) names axis 1 twice");
  ((int32_t *)in[1]->data)[1] = 2;
  CHECK_ERROR(run_one(KILN_OP_REVERSE_V2, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "REVERSE_V2: input 1 (axis) entry 1 is 2, out of range for "
              "rank 2");
  /* axes that arrive only at invoke fail it */
  kiln_op_ctx ctx = {&none, in, 2, NULL, 0, NULL, NULL, NULL};
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 2, dims);
  kiln_tensor *outs[1] = {out};
  ctx.outputs = outs;
  ctx.num_outputs = 1;
  CHECK_ERROR(kiln_op_table[KILN_OP_REVERSE_V2].reference(&ctx),
              KILN_ERR_RUNTIME, "entry 1 is 2");
  kiln_test_tensor_free(out);
  free_tensors(in, 2);
}

/* ---------------------------------------------------------------- TOPK_V2 */

typedef struct ranked {
  double value;
  int64_t index;
} ranked;

static int by_rank(const void *pa, const void *pb) {
  const ranked *a = pa, *b = pb;
  if (a->value != b->value) return a->value > b->value ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

static void test_topk_random(void) {
  kiln_no_attrs none = {0};
  static const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT8,  KILN_UINT8,
                                     KILN_INT16,   KILN_INT32, KILN_INT64};
  static const kiln_dtype index_types[] = {KILN_INT32, KILN_INT64, KILN_INT16};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(1, 3);
    int64_t dims[3];
    random_dims(rank, 1, 9, dims);
    int64_t n = dims[rank - 1], k = kiln_test_int(0, (int)n);
    kiln_dtype dtype = types[kiln_test_int(0, 5)];
    kiln_tensor *in[2] = {random_tensor(dtype, rank, dims),
                          int_scalar(KILN_INT32, k)};
    /* few distinct values, so rows have ties */
    for (int64_t i = 0; trial % 2 && i < kiln_tensor_numel(in[0]); i++) {
      int v = kiln_test_int(-2, 2);
      if (dtype == KILN_FLOAT32) ((float *)in[0]->data)[i] = (float)v;
      if (dtype == KILN_INT32) ((int32_t *)in[0]->data)[i] = v;
    }
    kiln_tensor *outs[2] = {output_tensor(dtype),
                            output_tensor(index_types[trial % 3])};
    CHECK_OK(kiln_test_run_op(KILN_OP_TOPK_V2, &none, in, 2, outs, 2));
    int64_t expect[3];
    memcpy(expect, dims, sizeof expect);
    expect[rank - 1] = k;
    CHECK(same_shape(outs[0], expect, rank) &&
          same_shape(outs[1], expect, rank));
    ranked row[9];
    bool ok = true;
    for (int64_t r = 0; ok && r < kiln_tensor_numel(in[0]) / n; r++) {
      for (int64_t i = 0; i < n; i++)
        row[i] = (ranked){kiln_tensor_real(in[0], r * n + i), i};
      qsort(row, (size_t)n, sizeof row[0], by_rank);
      for (int64_t m = 0; ok && m < k; m++)
        ok = kiln_tensor_int(outs[1], r * k + m) == row[m].index &&
             same_element(outs[0], r * k + m, in[0], r * n + row[m].index);
    }
    CHECK(ok);
    free_tensors(outs, 2);
    free_tensors(in, 2);
  }
}

/* A long ascending row with k half of it: the worst case of an insertion
 * sort, which a heap keeps at n log k (this would take seconds
 * otherwise). */
static void test_topk_long_row(void) {
  kiln_no_attrs none = {0};
  int64_t n = 200000, k = 100000;
  kiln_tensor *in[2] = {kiln_test_tensor(KILN_INT32, 1, &n),
                        int_scalar(KILN_INT64, k)};
  for (int64_t i = 0; i < n; i++) ((int32_t *)in[0]->data)[i] = (int32_t)i / 2;
  kiln_tensor *outs[2] = {output_tensor(KILN_INT32), output_tensor(KILN_INT32)};
  CHECK_OK(kiln_test_run_op(KILN_OP_TOPK_V2, &none, in, 2, outs, 2));
  bool ok = outs[1]->dims[0] == k;
  /* pairs of equal values, the lower index first */
  for (int64_t m = 0; ok && m < k; m++) {
    int64_t want = (n - 2 - 2 * (m / 2)) + (m % 2);
    ok = ((int32_t *)outs[1]->data)[m] == want &&
         ((int32_t *)outs[0]->data)[m] == (int32_t)(want / 2);
  }
  CHECK(ok);
  free_tensors(outs, 2);
  free_tensors(in, 2);
}

static void test_topk_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_FLOAT32, 2, dims),
                        int_scalar(KILN_INT32, 4)};
  kiln_tensor *outs[2] = {output_tensor(KILN_FLOAT32),
                          output_tensor(KILN_INT32)};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_TOPK_V2, &none, in, 2, outs, 2),
              KILN_ERR_INVALID_MODEL, "input 1 (k) is 4; it must be in [0, 3]");
  free(in[1]->data);
  in[1]->data = NULL;
  CHECK_ERROR(kiln_test_run_op(KILN_OP_TOPK_V2, &none, in, 2, outs, 2),
              KILN_ERR_UNSUPPORTED, "input 1 (k) must be known");
  kiln_test_tensor_free(in[1]);
  in[1] = int_scalar(KILN_INT32, 1);
  outs[1]->dtype = KILN_FLOAT32;
  CHECK_ERROR(kiln_test_run_op(KILN_OP_TOPK_V2, &none, in, 2, outs, 2),
              KILN_ERR_UNSUPPORTED, "output 1 (indices) has type float32");
  free_tensors(outs, 2);
  free_tensors(in, 2);
}

/* ------------------------------------------- MATRIX_DIAG, MATRIX_SET_DIAG */

static void test_matrix_diag_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 3);
    int64_t dims[4];
    random_dims(rank, 1, 4, dims);
    kiln_dtype dtype = random_dtype();
    kiln_tensor *in[1] = {random_tensor(dtype, rank, dims)}, *out;
    CHECK_OK(run_one(KILN_OP_MATRIX_DIAG, &none, in, 1, dtype, &out));
    dims[rank] = dims[rank - 1];
    CHECK(same_shape(out, dims, rank + 1));
    size_t elem = kiln_dtype_size(dtype);
    unsigned char zero[8] = {0};
    bool ok = true;
    for (int64_t i = 0; ok && i < kiln_tensor_numel(out); i++) {
      int64_t o[4] = {0};
      unravel(i, out->dims, rank + 1, o);
      ok = o[rank] == o[rank - 1]
               ? same_element(out, i, in[0], ravel(o, dims, rank))
               : memcmp((char *)out->data + i * (int64_t)elem, zero, elem) == 0;
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 1);
  }
}

static void test_matrix_set_diag_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(2, 4);
    int64_t dims[4], ddims[3];
    random_dims(rank, 1, 4, dims);
    memcpy(ddims, dims, sizeof(int64_t) * (size_t)(rank - 2));
    int64_t m = dims[rank - 2], n = dims[rank - 1];
    ddims[rank - 2] = m < n ? m : n;
    kiln_dtype dtype = random_dtype();
    kiln_tensor *in[2] = {random_tensor(dtype, rank, dims),
                          random_tensor(dtype, rank - 1, ddims)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_MATRIX_SET_DIAG, &none, in, 2, dtype, &out));
    CHECK(same_shape(out, dims, rank));
    bool ok = true;
    for (int64_t i = 0; ok && i < kiln_tensor_numel(out); i++) {
      int64_t o[4] = {0};
      unravel(i, dims, rank, o);
      ok = o[rank - 1] == o[rank - 2]
               ? same_element(out, i, in[1], ravel(o, ddims, rank - 1))
               : same_element(out, i, in[0], i);
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_diag_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[3] = {2, 3, 4}, bad[2] = {2, 4};
  kiln_tensor *in[2] = {random_tensor(KILN_INT32, 3, dims),
                        random_tensor(KILN_INT32, 2, bad)};
  CHECK_ERROR(run_one(KILN_OP_MATRIX_SET_DIAG, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 (diagonal) has shape [2,4]; input 0 (input) of shape "
              "[2,3,4] needs its batch dimensions and min(3, 4)");
  in[1]->dtype = KILN_FLOAT32;
  CHECK_ERROR(run_one(KILN_OP_MATRIX_SET_DIAG, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "input 1 (diagonal) has type float32");
  kiln_tensor *scalar[1] = {random_tensor(KILN_INT32, 0, NULL)};
  CHECK_ERROR(run_one(KILN_OP_MATRIX_DIAG, &none, scalar, 1, KILN_INT32, NULL),
              KILN_ERR_UNSUPPORTED, "input 0 (diagonal) has rank 0");
  free_tensors(scalar, 1);
  free_tensors(in, 2);
}

int main(void) {
  kiln_test_seed(0x7e0c);
  test_reverse_random();
  test_reverse_errors();
  test_topk_random();
  test_topk_long_row();
  test_topk_errors();
  test_matrix_diag_random();
  test_matrix_set_diag_random();
  test_diag_errors();
  return kiln_test_finish("test_ref_order");
}
