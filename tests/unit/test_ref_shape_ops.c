/* test_ref_shape_ops.c - RESHAPE, SQUEEZE, EXPAND_DIMS, SHAPE, TRANSPOSE. */
#include "movement_test_util.h"

/* Runs a one-output op and checks the output has `dims` and the input's
 * bytes unchanged (the view ops only relabel the shape). */
static void check_view(kiln_op_type op, const void *attrs, kiln_tensor **in,
                       int n, const int64_t *dims, int rank) {
  kiln_tensor *out = output_tensor(in[0]->dtype);
  CHECK_OK(kiln_test_run_op(op, attrs, in, n, &out, 1));
  CHECK(same_shape(out, dims, rank));
  CHECK(kiln_tensor_nbytes(out) == kiln_tensor_nbytes(in[0]));
  CHECK(memcmp(out->data, in[0]->data, kiln_tensor_nbytes(in[0])) == 0);
  kiln_test_tensor_free(out);
}

/* ---------------------------------------------------------------- RESHAPE */

/* A random shape with the same element count: a shuffle of the input dims
 * with 1s inserted, some merged, maybe one replaced by -1. */
static int reshape_target(const kiln_tensor *in, int64_t *request,
                          int64_t *expect) {
  int n = 0;
  for (int k = 0; k < in->rank; k++) {
    if (n > 0 && kiln_test_int(0, 3) == 0)
      expect[n - 1] *= in->dims[k];
    else
      expect[n++] = in->dims[k];
    if (n < 7 && kiln_test_int(0, 4) == 0) expect[n++] = 1;
  }
  for (int k = n - 1; k > 0; k--) { /* shuffle */
    int j = kiln_test_int(0, k);
    int64_t t = expect[k];
    expect[k] = expect[j], expect[j] = t;
  }
  memcpy(request, expect, sizeof(int64_t) * (size_t)n);
  if (n > 0 && kiln_test_int(0, 1)) request[kiln_test_int(0, n - 1)] = -1;
  return n;
}

static void test_reshape_random(void) {
  kiln_reshape_attrs attrs = {.num_dims = -1};
  for (int trial = 0; trial < 200; trial++) {
    int64_t dims[5], request[KILN_MAX_RANK], expect[KILN_MAX_RANK];
    int rank = kiln_test_int(1, 5);
    random_dims(rank, 1, 4, dims);
    kiln_tensor *in[2] = {random_tensor(random_dtype(), rank, dims), NULL};
    int n = reshape_target(in[0], request, expect);
    if (trial % 2) {
      in[1] = int_vector(random_int_dtype(), n, request);
      check_view(KILN_OP_RESHAPE, &attrs, in, 2, expect, n);
    } else { /* the new_shape option, with no shape input */
      kiln_reshape_attrs opt = {.num_dims = n};
      for (int k = 0; k < n; k++) opt.new_shape[k] = (int32_t)request[k];
      check_view(KILN_OP_RESHAPE, &opt, in, 1, expect, n);
    }
    free_tensors(in, 2);
  }
}

static void test_reshape_rules(void) {
  kiln_reshape_attrs none = {.num_dims = -1};
  int64_t d6[2] = {2, 3}, d0[2] = {0, 6}, one[1] = {1};
  kiln_tensor *in[2] = {random_tensor(KILN_INT32, 2, d6), NULL};
  /* element counts must match */
  in[1] = int_vector(KILN_INT32, 2, (int64_t[]){4, 2});
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "cannot reshape input of shape [2,3]");
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT64, 3, (int64_t[]){-1, 3, -1});
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "second -1");
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT64, 2, (int64_t[]){-2, -3});
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "negative size");
  kiln_test_tensor_free(in[1]);
  /* 0 is a literal 0, not "copy this dimension" */
  in[1] = int_vector(KILN_INT32, 2, (int64_t[]){0, -1});
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "cannot reshape");
  /* an unknown shape input with no option to fall back on */
  void *data = in[1]->data;
  in[1]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_UNSUPPORTED, "known before invoke");
  /* ... but with the option, the option decides */
  kiln_reshape_attrs opt = {.num_dims = 2, .new_shape = {3, 2}};
  check_view(KILN_OP_RESHAPE, &opt, in, 2, (int64_t[]){3, 2}, 2);
  in[1]->data = data;
  /* output dtype must match */
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &opt, in, 1, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL, "type");
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 1, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "neither");
  free_tensors(in, 2);

  /* zero-sized tensors: nonzero parts decide the -1 */
  in[0] = random_tensor(KILN_FLOAT32, 2, d0);
  in[1] = int_vector(KILN_INT32, 2, (int64_t[]){0, -1});
  check_view(KILN_OP_RESHAPE, &none, in, 2, (int64_t[]){0, 6}, 2);
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT32, 2, (int64_t[]){-1, 3});
  check_view(KILN_OP_RESHAPE, &none, in, 2, (int64_t[]){0, 3}, 2);
  free_tensors(in, 2);

  /* scalars: an empty shape, legacy new_shape [0], legacy shape tensor [0] */
  in[0] = random_tensor(KILN_INT64, 1, one);
  in[1] = int_vector(KILN_INT32, 0, NULL);
  check_view(KILN_OP_RESHAPE, &none, in, 2, NULL, 0);
  kiln_reshape_attrs legacy = {.num_dims = 1, .new_shape = {0}};
  check_view(KILN_OP_RESHAPE, &legacy, in, 1, NULL, 0);
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT32, 1, (int64_t[]){0});
  check_view(KILN_OP_RESHAPE, &none, in, 2, NULL, 0);
  /* a shape tensor that is not 1-D falls back to the option, as in TFLite */
  in[1]->rank = 2, in[1]->dims[1] = 1;
  kiln_reshape_attrs to1 = {.num_dims = 1, .new_shape = {1}};
  check_view(KILN_OP_RESHAPE, &to1, in, 2, one, 1);
  CHECK_ERROR(run_one(KILN_OP_RESHAPE, &none, in, 2, KILN_INT64, NULL),
              KILN_ERR_INVALID_MODEL, "must be 1-D");
  free_tensors(in, 2);
}

/* ---------------------------------------------------- SQUEEZE/EXPAND_DIMS */

static void test_squeeze(void) {
  for (int trial = 0; trial < 100; trial++) {
    int64_t dims[5], expect[5];
    int rank = kiln_test_int(1, 5), n = 0;
    random_dims(rank, 1, 3, dims);
    kiln_tensor *in = random_tensor(random_dtype(), rank, dims);
    kiln_squeeze_attrs attrs = {0};
    bool listed[5] = {false};
    if (trial % 2) { /* list some of the 1s, some as negative axes */
      for (int k = 0; k < rank; k++)
        if (dims[k] == 1 && kiln_test_int(0, 1)) {
          listed[k] = true;
          attrs.axes[attrs.num_axes++] = kiln_test_int(0, 1) ? k : k - rank;
        }
      if (attrs.num_axes == 0) {
        kiln_test_tensor_free(in);
        continue;
      }
    }
    for (int k = 0; k < rank; k++)
      if (!(attrs.num_axes ? listed[k] : dims[k] == 1)) expect[n++] = dims[k];
    check_view(KILN_OP_SQUEEZE, &attrs, &in, 1, expect, n);
    kiln_test_tensor_free(in);
  }
  int64_t dims[3] = {1, 2, 1};
  kiln_tensor *in = random_tensor(KILN_BOOL, 3, dims);
  kiln_squeeze_attrs bad = {.num_axes = 1, .axes = {-2}};
  CHECK_ERROR(run_one(KILN_OP_SQUEEZE, &bad, &in, 1, KILN_BOOL, NULL),
              KILN_ERR_INVALID_MODEL, "cannot squeeze axis -2 of input shape");
  kiln_squeeze_attrs far = {.num_axes = 1, .axes = {3}};
  CHECK_ERROR(run_one(KILN_OP_SQUEEZE, &far, &in, 1, KILN_BOOL, NULL),
              KILN_ERR_INVALID_MODEL, "squeeze axis 3 is out of range");
  kiln_squeeze_attrs twice = {.num_axes = 2, .axes = {0, -3}};
  check_view(KILN_OP_SQUEEZE, &twice, &in, 1, (int64_t[]){2, 1}, 2);
  kiln_test_tensor_free(in);
}

static void test_expand_dims(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 100; trial++) {
    int64_t dims[5], expect[6];
    int rank = kiln_test_int(0, 5);
    random_dims(rank, 1, 4, dims);
    int axis = kiln_test_int(-rank - 1, rank);
    int at = axis < 0 ? axis + rank + 1 : axis;
    for (int k = 0, j = 0; k <= rank; k++) expect[k] = k == at ? 1 : dims[j++];
    kiln_tensor *in[2] = {random_tensor(random_dtype(), rank, dims),
                          int_scalar(random_int_dtype(), axis)};
    if (trial % 3 == 0) in[1]->rank = 1; /* a one-element vector also works */
    check_view(KILN_OP_EXPAND_DIMS, &none, in, 2, expect, rank + 1);
    free_tensors(in, 2);
  }
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_INT8, 2, dims),
                        int_scalar(KILN_INT32, 3)};
  CHECK_ERROR(run_one(KILN_OP_EXPAND_DIMS, &none, in, 2, KILN_INT8, NULL),
              KILN_ERR_INVALID_MODEL, "axis 3 is out of range [-3, 2]");
  ((int32_t *)in[1]->data)[0] = -4;
  CHECK_ERROR(run_one(KILN_OP_EXPAND_DIMS, &none, in, 2, KILN_INT8, NULL),
              KILN_ERR_INVALID_MODEL, "axis -4");
  void *data = in[1]->data;
  in[1]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_EXPAND_DIMS, &none, in, 2, KILN_INT8, NULL),
              KILN_ERR_UNSUPPORTED, "input 1 (axis) must be known before");
  in[1]->data = data;
  free_tensors(in, 2);
}

/* ------------------------------------------------------------------ SHAPE */

static void test_shape(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 20; trial++) {
    int64_t dims[5];
    int rank = kiln_test_int(0, 5);
    random_dims(rank, 0, 9, dims);
    kiln_tensor *in = kiln_test_tensor(random_dtype(), rank, dims);
    free(in->data);
    in->data = NULL; /* SHAPE runs before invoke: it may only read dims */
    kiln_dtype type = trial % 2 ? KILN_INT64 : KILN_INT32;
    kiln_tensor *out = output_tensor(type);
    CHECK_OK(kiln_test_run_op(KILN_OP_SHAPE, &none, &in, 1, &out, 1));
    CHECK(out->rank == 1 && out->dims[0] == rank);
    for (int k = 0; k < rank && out->rank == 1; k++)
      CHECK((type == KILN_INT64 ? ((int64_t *)out->data)[k]
                                : ((int32_t *)out->data)[k]) == dims[k]);
    kiln_test_tensor_free(out);
    kiln_test_tensor_free(in);
  }
  kiln_tensor *in = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  CHECK_ERROR(run_one(KILN_OP_SHAPE, &none, &in, 1, KILN_FLOAT32, NULL),
              KILN_ERR_UNSUPPORTED, "expected int32 or int64");
  kiln_test_tensor_free(in);
}

/* -------------------------------------------------------------- TRANSPOSE */

static void random_perm(int rank, int64_t *perm) {
  for (int k = 0; k < rank; k++) perm[k] = k;
  for (int k = rank - 1; k > 0; k--) {
    int j = kiln_test_int(0, k);
    int64_t t = perm[k];
    perm[k] = perm[j], perm[j] = t;
  }
}

/* Output index i of a transpose reads input index j with j[perm[k]] = i[k]. */
typedef struct transpose_case {
  const int64_t *perm, *dims;
  int rank;
} transpose_case;

static int64_t transpose_source(const int64_t *index, const void *context) {
  const transpose_case *c = context;
  int64_t src[KILN_MAX_RANK];
  for (int k = 0; k < c->rank; k++) src[c->perm[k]] = index[k];
  return ravel(src, c->dims, c->rank);
}

static void test_transpose_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int64_t dims[5], perm[5], expect[5];
    int rank = kiln_test_int(1, 5);
    random_dims(rank, 1, 5, dims);
    random_perm(rank, perm);
    for (int k = 0; k < rank; k++) expect[k] = dims[perm[k]];
    kiln_tensor *in[2] = {random_tensor(random_dtype(), rank, dims),
                          int_vector(random_int_dtype(), rank, perm)};
    kiln_tensor *out = output_tensor(in[0]->dtype);
    CHECK_OK(kiln_test_run_op(KILN_OP_TRANSPOSE, &none, in, 2, &out, 1));
    transpose_case c = {perm, dims, rank};
    CHECK(same_shape(out, expect, rank) &&
          check_sources(out, in[0], transpose_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_transpose_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[3] = {2, 3, 4};
  kiln_tensor *in[2] = {random_tensor(KILN_FLOAT32, 3, dims), NULL};
  const int64_t bad[][3] = {{0, 1, 1}, {0, 1, 3}, {-1, 0, 1}};
  for (int i = 0; i < 3; i++) {
    in[1] = int_vector(KILN_INT32, 3, bad[i]);
    CHECK_ERROR(run_one(KILN_OP_TRANSPOSE, &none, in, 2, KILN_FLOAT32, NULL),
                KILN_ERR_INVALID_MODEL, "is not a permutation of 0..2");
    kiln_test_tensor_free(in[1]);
  }
  in[1] = int_vector(KILN_INT64, 2, (int64_t[]){1, 0});
  CHECK_ERROR(run_one(KILN_OP_TRANSPOSE, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL, "(perm) must have 3 elements");
  free(in[1]->data);
  in[1]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_TRANSPOSE, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_UNSUPPORTED, "known before invoke");
  free_tensors(in, 2);
}

int main(void) {
  kiln_test_seed(0x5ba9e);
  test_reshape_random();
  test_reshape_rules();
  test_squeeze();
  test_expand_dims();
  test_shape();
  test_transpose_random();
  test_transpose_errors();
  return kiln_test_finish("test_ref_shape_ops");
}
