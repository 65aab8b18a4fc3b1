/* test_ref_gather_nd.c - GATHER_ND, SCATTER_ND and DYNAMIC_UPDATE_SLICE
 * against element-by-element oracles on random shapes and types, and their
 * errors: bad shapes at prepare, out-of-range indices at invoke. */
#include <math.h>

#include "movement_test_util.h"

/* A random index tensor [rows..., depth] with entries in [0, dims[k]). */
static kiln_tensor *random_indices(kiln_dtype dtype, int lead_rank,
                                   const int64_t *lead, int depth,
                                   const int64_t *dims) {
  int64_t shape[KILN_MAX_RANK];
  memcpy(shape, lead, sizeof(int64_t) * (size_t)lead_rank);
  shape[lead_rank] = depth;
  kiln_tensor *t = kiln_test_tensor(dtype, lead_rank + 1, shape);
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++) {
    int64_t v = kiln_test_int(0, (int)dims[i % depth] - 1);
    if (dtype == KILN_INT64)
      ((int64_t *)t->data)[i] = v;
    else if (dtype == KILN_INT16)
      ((int16_t *)t->data)[i] = (int16_t)v;
    else
      ((int32_t *)t->data)[i] = (int32_t)v;
  }
  return t;
}

/* -------------------------------------------------------------- GATHER_ND */

typedef struct gather_nd_case {
  const kiln_tensor *params, *indices;
  int depth;
} gather_nd_case;

/* Output [rows..., rest...]: the row picks params' first `depth`
 * coordinates, the rest are copied. */
static int64_t gather_nd_source(const int64_t *o, const void *context) {
  const gather_nd_case *c = context;
  int lead = c->indices->rank - 1;
  int64_t src[KILN_MAX_RANK], row = ravel(o, c->indices->dims, lead);
  for (int k = 0; k < c->depth; k++)
    src[k] = kiln_tensor_int(c->indices, row * c->depth + k);
  for (int k = c->depth; k < c->params->rank; k++)
    src[k] = o[lead + k - c->depth];
  return ravel(src, c->params->dims, c->params->rank);
}

static void test_gather_nd_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 300; trial++) {
    int prank = kiln_test_int(1, 4), depth = kiln_test_int(1, prank);
    int lead = kiln_test_int(0, 2);
    int64_t pdims[4], ldims[2];
    random_dims(prank, 1, 4, pdims);
    random_dims(lead, 1, 3, ldims);
    kiln_tensor *in[2] = {
        random_tensor(random_dtype(), prank, pdims),
        random_indices(trial % 5 ? random_int_dtype() : KILN_INT16, lead, ldims,
                       depth, pdims)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_GATHER_ND, &none, in, 2, in[0]->dtype, &out));
    int64_t expect[KILN_MAX_RANK];
    int n = 0;
    for (int k = 0; k < lead; k++) expect[n++] = ldims[k];
    for (int k = depth; k < prank; k++) expect[n++] = pdims[k];
    gather_nd_case c = {in[0], in[1], depth};
    CHECK(same_shape(out, expect, n) &&
          check_sources(out, in[0], gather_nd_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_gather_nd_errors(void) {
  kiln_no_attrs none = {0};
  int64_t pdims[2] = {4, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_FLOAT32, 2, pdims),
                        int_vector(KILN_INT32, 2, (int64_t[]){1, 3})};
  CHECK_ERROR(run_one(KILN_OP_GATHER_ND, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_RUNTIME,
              "GATHER_ND: index 3 in row 0, column 1 of indices is out of "
              "range [0, 3)");
  ((int32_t *)in[1]->data)[1] = 0;
  ((int32_t *)in[1]->data)[0] = -1;
  CHECK_ERROR(run_one(KILN_OP_GATHER_ND, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_RUNTIME, "GATHER_ND: index -1 in row 0, column 0");
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT32, 3, (int64_t[]){0, 0, 0});
  CHECK_ERROR(run_one(KILN_OP_GATHER_ND, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 (indices) has shape [3]; its last dimension must be in "
              "[1, 2]");
  kiln_test_tensor_free(in[1]);
  in[1] = kiln_test_tensor_f32(1, (int64_t[]){1}, NULL);
  CHECK_ERROR(run_one(KILN_OP_GATHER_ND, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_UNSUPPORTED,
              "input 1 (indices) has type float32; expected int16, int32 or "
              "int64");
  free_tensors(in, 2);
}

/* ------------------------------------------------------------- SCATTER_ND */

/* The oracle in double: zeros, then each update added element by element
 * at coordinates (index row, trailing coordinates). */
static void test_scatter_nd_random(void) {
  kiln_no_attrs none = {0};
  static const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64,
                                     KILN_INT8, KILN_UINT8};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(1, 4), depth = kiln_test_int(1, rank);
    int lead = kiln_test_int(1, 2);
    int64_t dims[4], ldims[2], udims[KILN_MAX_RANK];
    random_dims(rank, 1, 4, dims);
    random_dims(lead, 1, 3, ldims);
    int urank = 0;
    for (int k = 0; k < lead; k++) udims[urank++] = ldims[k];
    for (int k = depth; k < rank; k++) udims[urank++] = dims[k];
    kiln_dtype dtype = types[kiln_test_int(0, 4)];
    kiln_tensor *updates = kiln_test_tensor(dtype, urank, udims);
    for (int64_t i = 0; i < kiln_tensor_numel(updates); i++) {
      int v = kiln_test_int(0, 20);
      switch (dtype) {
        case KILN_FLOAT32:
          ((float *)updates->data)[i] = kiln_test_uniform(-1, 1);
          break;
        case KILN_INT32:
          ((int32_t *)updates->data)[i] = v - 10;
          break;
        case KILN_INT64:
          ((int64_t *)updates->data)[i] = v - 10;
          break;
        case KILN_INT8:
          ((int8_t *)updates->data)[i] = (int8_t)(v - 10);
          break;
        default:
          ((uint8_t *)updates->data)[i] = (uint8_t)v;
      }
    }
    kiln_tensor *in[3] = {
        random_indices(random_int_dtype(), lead, ldims, depth, dims), updates,
        int_vector(random_int_dtype(), rank, dims)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_SCATTER_ND, &none, in, 3, dtype, &out));
    CHECK(same_shape(out, dims, rank));
    int64_t total = kiln_tensor_numel(out);
    double *expect = calloc((size_t)total, sizeof(double));
    int64_t slice = 1;
    for (int k = depth; k < rank; k++) slice *= dims[k];
    int64_t rows = kiln_tensor_numel(updates) / slice;
    for (int64_t r = 0; r < rows; r++) {
      int64_t at[KILN_MAX_RANK] = {0};
      for (int k = 0; k < depth; k++)
        at[k] = kiln_tensor_int(in[0], r * depth + k);
      int64_t base = ravel(at, dims, rank);
      for (int64_t j = 0; j < slice; j++)
        expect[base + j] += kiln_tensor_real(updates, r * slice + j);
    }
    bool ok = true;
    for (int64_t i = 0; ok && i < total; i++) {
      double got = kiln_tensor_real(out, i);
      ok = dtype == KILN_FLOAT32 ? fabs(got - expect[i]) <= 1e-5
                                 : got == expect[i];
    }
    CHECK(ok);
    free(expect);
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

static void test_scatter_nd_errors(void) {
  kiln_no_attrs none = {0};
  int64_t idims[2] = {2, 1}, udims[2] = {2, 3};
  kiln_tensor *in[3] = {kiln_test_tensor(KILN_INT32, 2, idims),
                        random_tensor(KILN_FLOAT32, 2, udims),
                        int_vector(KILN_INT32, 2, (int64_t[]){4, 3})};
  ((int32_t *)in[0]->data)[1] = 4;
  CHECK_ERROR(run_one(KILN_OP_SCATTER_ND, &none, in, 3, KILN_FLOAT32, NULL),
              KILN_ERR_RUNTIME,
              "SCATTER_ND: index 4 in row 1, column 0 of indices is out of "
              "range [0, 4)");
  kiln_test_tensor_free(in[2]);
  in[2] = int_vector(KILN_INT32, 2, (int64_t[]){4, 2});
  CHECK_ERROR(run_one(KILN_OP_SCATTER_ND, &none, in, 3, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 (updates) has shape [2,3]; indices [2,1] and shape "
              "[4,2] need indices.shape[:-1] + shape[1:]");
  free(in[2]->data);
  in[2]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_SCATTER_ND, &none, in, 3, KILN_FLOAT32, NULL),
              KILN_ERR_UNSUPPORTED, "input 2 (shape) must be known");
  kiln_test_tensor_free(in[2]);
  in[2] = int_vector(KILN_INT32, 2, (int64_t[]){4, -3});
  CHECK_ERROR(run_one(KILN_OP_SCATTER_ND, &none, in, 3, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL, "shape");
  free_tensors(in, 3);
}

/* --------------------------------------------------- DYNAMIC_UPDATE_SLICE */

typedef struct update_case {
  const kiln_tensor *operand, *update;
  int64_t start[KILN_MAX_RANK]; /* already clamped */
} update_case;

static void test_dynamic_update_slice_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(0, 4);
    int64_t dims[4], udims[4], start[4], clamped[4];
    random_dims(rank, 1, 5, dims);
    for (int k = 0; k < rank; k++) {
      udims[k] = kiln_test_int(trial % 13 ? 1 : 0, (int)dims[k]);
      start[k] = kiln_test_int(-3, (int)dims[k] + 2);
      int64_t limit = dims[k] - udims[k];
      clamped[k] = start[k] < 0 ? 0 : start[k] > limit ? limit : start[k];
    }
    kiln_dtype dtype = random_dtype();
    kiln_tensor *in[3] = {random_tensor(dtype, rank, dims),
                          random_tensor(dtype, rank, udims),
                          int_vector(random_int_dtype(), rank, start)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_DYNAMIC_UPDATE_SLICE, &none, in, 3, dtype, &out));
    CHECK(same_shape(out, dims, rank));
    bool ok = true;
    for (int64_t i = 0; ok && i < kiln_tensor_numel(out); i++) {
      int64_t o[4] = {0}, u[4] = {0};
      unravel(i, dims, rank, o);
      bool inside = true;
      for (int k = 0; k < rank; k++) {
        u[k] = o[k] - clamped[k];
        inside = inside && u[k] >= 0 && u[k] < udims[k];
      }
      ok = inside ? same_element(out, i, in[1], ravel(u, udims, rank))
                  : same_element(out, i, in[0], i);
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

static void test_dynamic_update_slice_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {3, 4}, big[2] = {3, 5};
  kiln_tensor *in[3] = {random_tensor(KILN_INT32, 2, dims),
                        random_tensor(KILN_INT32, 2, big),
                        int_vector(KILN_INT32, 2, (int64_t[]){0, 0})};
  CHECK_ERROR(
      run_one(KILN_OP_DYNAMIC_UPDATE_SLICE, &none, in, 3, KILN_INT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 1 (update) of shape [3,5] does not fit in input 0 (operand) of "
      "shape [3,4]");
  kiln_test_tensor_free(in[1]);
  in[1] = random_tensor(KILN_INT32, 2, dims);
  kiln_test_tensor_free(in[2]);
  in[2] = int_vector(KILN_INT32, 1, (int64_t[]){0});
  CHECK_ERROR(
      run_one(KILN_OP_DYNAMIC_UPDATE_SLICE, &none, in, 3, KILN_INT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 2 (start_indices) has shape [1]; expected [2]");
  CHECK_ERROR(
      run_one(KILN_OP_DYNAMIC_UPDATE_SLICE, &none, in, 3, KILN_INT64, NULL),
      KILN_ERR_INVALID_MODEL, "output has type int64");
  free_tensors(in, 3);
}

int main(void) {
  kiln_test_seed(0x9d17);
  test_gather_nd_random();
  test_gather_nd_errors();
  test_scatter_nd_random();
  test_scatter_nd_errors();
  test_dynamic_update_slice_random();
  test_dynamic_update_slice_errors();
  return kiln_test_finish("test_ref_gather_nd");
}
