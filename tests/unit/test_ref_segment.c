/* test_ref_segment.c - SEGMENT_SUM and UNSORTED_SEGMENT_SUM / PROD / MAX /
 * MIN against a double-precision oracle that visits every (row, segment)
 * pair, on random shapes, float32 and int32; and their errors (unknown
 * or unsorted ids at prepare, ids past num_segments at invoke). */
#include <float.h>
#include <math.h>

#include "movement_test_util.h"

typedef enum reduction { SUM, PROD, MAX, MIN } reduction;

static const kiln_op_type kUnsortedOps[] = {
    KILN_OP_UNSORTED_SEGMENT_SUM, KILN_OP_UNSORTED_SEGMENT_PROD,
    KILN_OP_UNSORTED_SEGMENT_MAX, KILN_OP_UNSORTED_SEGMENT_MIN};

/* A data tensor of small values (products stay exact in int32). */
static kiln_tensor *segment_data(kiln_dtype dtype, int rank,
                                 const int64_t *dims) {
  kiln_tensor *t = kiln_test_tensor(dtype, rank, dims);
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++) {
    if (dtype == KILN_FLOAT32)
      ((float *)t->data)[i] = kiln_test_uniform(-2, 2);
    else
      ((int32_t *)t->data)[i] = kiln_test_int(-3, 3);
  }
  return t;
}

/* Segment s, element j of the oracle: the reduction over rows with id s. */
static double oracle(const kiln_tensor *data, const int32_t *ids, int64_t rows,
                     int64_t width, int64_t s, int64_t j, reduction how) {
  bool fl = data->dtype == KILN_FLOAT32;
  double acc = how == SUM    ? 0
               : how == PROD ? 1
               : how == MAX  ? (fl ? -(double)FLT_MAX : (double)INT32_MIN)
                             : (fl ? (double)FLT_MAX : (double)INT32_MAX);
  for (int64_t r = 0; r < rows; r++) {
    if (ids[r] != s) continue;
    double v = kiln_tensor_real(data, r * width + j);
    acc = how == SUM    ? acc + v
          : how == PROD ? acc * v
          : how == MAX  ? fmax(acc, v)
                        : fmin(acc, v);
  }
  return acc;
}

static bool close_to(const kiln_tensor *out, int64_t i, double want) {
  double got = kiln_tensor_real(out, i);
  if (out->dtype == KILN_INT32) return got == want;
  return fabs(got - want) <= 1e-5 * (1 + fabs(want));
}

static void test_unsorted_random(void) {
  for (int trial = 0; trial < 400; trial++) {
    reduction how = (reduction)(trial % 4);
    int rank = kiln_test_int(1, 3), id_rank = kiln_test_int(1, rank);
    int64_t dims[3] = {1, 1, 1};
    random_dims(rank, 1, 4, dims);
    int64_t segments = kiln_test_int(0, 5);
    kiln_dtype dtype = trial % 3 ? KILN_FLOAT32 : KILN_INT32;
    kiln_tensor *ids = kiln_test_tensor(KILN_INT32, id_rank, dims);
    int64_t rows = kiln_tensor_numel(ids);
    /* -1 rows are dropped */
    for (int64_t r = 0; r < rows; r++)
      ((int32_t *)ids->data)[r] = kiln_test_int(-1, (int)segments - 1);
    kiln_tensor *in[3] = {segment_data(dtype, rank, dims), ids,
                          int_scalar(KILN_INT32, segments)};
    kiln_tensor *out;
    kiln_no_attrs none = {0};
    CHECK_OK(run_one(kUnsortedOps[how], &none, in, 3, dtype, &out));
    int64_t expect[3] = {segments}, width = 1;
    for (int k = id_rank; k < rank; k++) {
      expect[1 + k - id_rank] = dims[k];
      width *= dims[k];
    }
    CHECK(same_shape(out, expect, 1 + rank - id_rank));
    bool ok = true;
    for (int64_t s = 0; ok && s < segments; s++)
      for (int64_t j = 0; ok && j < width; j++)
        ok = close_to(out, s * width + j,
                      oracle(in[0], ids->data, rows, width, s, j, how));
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

static void test_segment_sum_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 3);
    int64_t dims[3] = {1, 1, 1};
    random_dims(rank, 1, 5, dims);
    kiln_dtype dtype = trial % 2 ? KILN_FLOAT32 : KILN_INT32;
    int64_t rows = dims[0], width = 1;
    for (int k = 1; k < rank; k++) width *= dims[k];
    kiln_tensor *ids = kiln_test_tensor(KILN_INT32, 1, dims);
    int32_t id = kiln_test_int(0, 2); /* sorted, gaps allowed */
    for (int64_t r = 0; r < rows; r++) {
      ((int32_t *)ids->data)[r] = id;
      id += kiln_test_int(0, 2);
    }
    kiln_tensor *in[2] = {segment_data(dtype, rank, dims), ids}, *out;
    CHECK_OK(run_one(KILN_OP_SEGMENT_SUM, &none, in, 2, dtype, &out));
    int64_t segments = ((int32_t *)ids->data)[rows - 1] + 1;
    int64_t expect[3] = {segments, dims[1], dims[2]};
    CHECK(same_shape(out, expect, rank));
    bool ok = true;
    for (int64_t s = 0; ok && s < segments; s++)
      for (int64_t j = 0; ok && j < width; j++)
        ok = close_to(out, s * width + j,
                      oracle(in[0], ids->data, rows, width, s, j, SUM));
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_segment_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {3, 2};
  kiln_tensor *in[3] = {segment_data(KILN_FLOAT32, 2, dims),
                        int_vector(KILN_INT32, 3, (int64_t[]){0, 2, 1}),
                        int_scalar(KILN_INT32, 2)};
  CHECK_ERROR(run_one(KILN_OP_SEGMENT_SUM, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 (segment_ids) entry 2 is 1; ids must be >= 0 and "
              "sorted");
  CHECK_ERROR(
      run_one(KILN_OP_UNSORTED_SEGMENT_MAX, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_RUNTIME,
      "UNSORTED_SEGMENT_MAX: segment id 2 at position 1 of input 1 "
      "(segment_ids) is not below num_segments 2");
  free(in[1]->data);
  in[1]->data = NULL;
  kiln_tensor *deferred = output_tensor(KILN_FLOAT32);
  kiln_op_ctx ctx = {&none, in, 2, &deferred, 1, NULL, NULL, NULL};
  CHECK_OK(kiln_op_table[KILN_OP_SEGMENT_SUM].shape(&ctx)); /* ids at invoke */
  CHECK(deferred->dims[0] == KILN_DIM_AT_INVOKE &&
        deferred->rank == in[0]->rank);
  for (int d = 1; d < in[0]->rank; d++)
    CHECK(deferred->dims[d] == in[0]->dims[d]);
  kiln_test_tensor_free(deferred);
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT32, 2, (int64_t[]){0, 0});
  CHECK_ERROR(
      run_one(KILN_OP_UNSORTED_SEGMENT_SUM, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 1 (segment_ids) has shape [2]; it must be a leading "
      "part of input 0 (data)'s shape [3,2]");
  in[0]->dtype = KILN_INT64;
  CHECK_ERROR(
      run_one(KILN_OP_UNSORTED_SEGMENT_SUM, &none, in, 3, KILN_INT64, NULL),
      KILN_ERR_UNSUPPORTED,
      "input 0 (data) has type int64; expected float32 or int32");
  in[0]->dtype = KILN_FLOAT32;
  free_tensors(in, 3);
}

int main(void) {
  kiln_test_seed(0x5e6d);
  test_unsorted_random();
  test_segment_sum_random();
  test_segment_errors();
  return kiln_test_finish("test_ref_segment");
}
