/* test_ref_gather.c - GATHER, TILE and BROADCAST_TO. */
#include "movement_test_util.h"

/* ----------------------------------------------------------------- GATHER */

typedef struct gather_case {
  const kiln_tensor *params, *indices;
  int axis, batch;
} gather_case;

/* Source of output element `index`: params coordinates before axis come
 * first (the batch dims among them), then the indices coordinates past the
 * batch dims, then the params coordinates after axis. */
static int64_t gather_source(const int64_t *index, const void *context) {
  const gather_case *c = context;
  int64_t src[KILN_MAX_RANK], at[KILN_MAX_RANK];
  int picked = c->indices->rank - c->batch;
  for (int k = 0; k < c->batch; k++) at[k] = index[k];
  for (int k = 0; k < picked; k++) at[c->batch + k] = index[c->axis + k];
  for (int k = 0; k < c->axis; k++) src[k] = index[k];
  src[c->axis] = kiln_tensor_int(c->indices,
                                 ravel(at, c->indices->dims, c->indices->rank));
  for (int k = c->axis + 1; k < c->params->rank; k++)
    src[k] = index[k - 1 + picked];
  return ravel(src, c->params->dims, c->params->rank);
}

static void test_gather_random(void) {
  for (int trial = 0; trial < 300; trial++) {
    int prank = kiln_test_int(1, 4), axis = kiln_test_int(0, prank - 1);
    int batch = kiln_test_int(0, axis), irank = batch + kiln_test_int(0, 2);
    int64_t pdims[4], idims[KILN_MAX_RANK];
    random_dims(prank, 1, 4, pdims);
    random_dims(irank, 1, 3, idims);
    memcpy(idims, pdims, sizeof(int64_t) * (size_t)batch);
    /* TFLite takes int16 positions as well as int32 and int64 ones */
    kiln_dtype index_type =
        kiln_test_int(0, 2) ? random_int_dtype() : KILN_INT16;
    kiln_tensor *in[2] = {random_tensor(random_dtype(), prank, pdims),
                          kiln_test_tensor(index_type, irank, idims)};
    for (int64_t i = 0; i < kiln_tensor_numel(in[1]); i++) {
      int64_t v = kiln_test_int(0, (int)pdims[axis] - 1);
      if (in[1]->dtype == KILN_INT64)
        ((int64_t *)in[1]->data)[i] = v;
      else if (in[1]->dtype == KILN_INT16)
        ((int16_t *)in[1]->data)[i] = (int16_t)v;
      else
        ((int32_t *)in[1]->data)[i] = (int32_t)v;
    }
    /* negative batch_dims count back from the indices' rank */
    kiln_gather_attrs attrs = {
        trial % 2 ? axis : axis - prank,
        trial % 3 || batch == irank ? batch : batch - irank};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_GATHER, &attrs, in, 2, in[0]->dtype, &out));
    int64_t expect[KILN_MAX_RANK];
    int n = 0;
    for (int k = 0; k < axis; k++) expect[n++] = pdims[k];
    for (int k = batch; k < irank; k++) expect[n++] = idims[k];
    for (int k = axis + 1; k < prank; k++) expect[n++] = pdims[k];
    gather_case c = {in[0], in[1], axis, batch};
    CHECK(same_shape(out, expect, n) &&
          check_sources(out, in[0], gather_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_gather_errors(void) {
  int64_t pdims[2] = {4, 3}, idims[1] = {5};
  kiln_tensor *in[2] = {random_tensor(KILN_FLOAT32, 2, pdims),
                        int_vector(KILN_INT64, 5, (int64_t[]){0, 3, 1, 4, 2})};
  kiln_gather_attrs axis0 = {0, 0};
  /* the one error found at invoke: it names the value, where, and the range */
  CHECK_ERROR(run_one(KILN_OP_GATHER, &axis0, in, 2, in[0]->dtype, NULL),
              KILN_ERR_RUNTIME,
              "gather index 4 at position 3 of indices [5] is out of range "
              "[0, 4) for params axis 0");
  ((int64_t *)in[1]->data)[3] = -1;
  CHECK_ERROR(run_one(KILN_OP_GATHER, &axis0, in, 2, in[0]->dtype, NULL),
              KILN_ERR_RUNTIME, "gather index -1 at position 3");
  kiln_gather_attrs axis2 = {2, 0}, batch1 = {0, 1}, batch2 = {1, 2};
  CHECK_ERROR(run_one(KILN_OP_GATHER, &axis2, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL,
              "gather axis 2 is out of range for rank 2");
  CHECK_ERROR(run_one(KILN_OP_GATHER, &batch1, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL, "batch_dims 1 must be in [0, 0]");
  kiln_test_tensor_free(in[1]);
  int64_t two[2] = {3, 2};
  in[1] = kiln_test_tensor(KILN_INT32, 2, two);
  kiln_gather_attrs batch_ok = {1, 1};
  CHECK_ERROR(run_one(KILN_OP_GATHER, &batch_ok, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL,
              "params shape [4,3] and indices shape [3,2] differ in batch "
              "dimension 0");
  CHECK_ERROR(run_one(KILN_OP_GATHER, &batch2, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL, "batch_dims 2");
  kiln_test_tensor_free(in[1]);
  in[1] = kiln_test_tensor_f32(1, idims, NULL);
  CHECK_ERROR(run_one(KILN_OP_GATHER, &axis0, in, 2, in[0]->dtype, NULL),
              KILN_ERR_UNSUPPORTED, "indices have type float32");
  kiln_test_tensor_free(in[1]);
  /* a negative int16 position is caught like any other */
  in[1] = kiln_test_tensor(KILN_INT16, 1, idims);
  for (int i = 0; i < 5; i++) ((int16_t *)in[1]->data)[i] = (int16_t)(i - 1);
  CHECK_ERROR(run_one(KILN_OP_GATHER, &axis0, in, 2, in[0]->dtype, NULL),
              KILN_ERR_RUNTIME, "gather index -1 at position 0");
  free_tensors(in, 2);
}

/* ------------------------------------------------------------------- TILE */

/* Input shape for TILE and BROADCAST_TO sources. */
typedef struct input_shape {
  const int64_t *dims;
  int rank;
} input_shape;

/* TILE: output index i reads input index i mod dims. */
static int64_t tile_source(const int64_t *index, const void *context) {
  const input_shape *c = context;
  int64_t src[KILN_MAX_RANK];
  for (int k = 0; k < c->rank; k++) src[k] = index[k] % c->dims[k];
  return ravel(src, c->dims, c->rank);
}

static void test_tile_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 5);
    int64_t dims[5], mult[5], expect[5];
    random_dims(rank, trial % 9 ? 1 : 0, 3, dims);
    random_dims(rank, trial % 7 ? 1 : 0, 3, mult);
    for (int k = 0; k < rank; k++) expect[k] = dims[k] * mult[k];
    kiln_tensor *in[2] = {random_tensor(random_dtype(), rank, dims),
                          int_vector(random_int_dtype(), rank, mult)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_TILE, &none, in, 2, in[0]->dtype, &out));
    input_shape c = {dims, rank};
    CHECK(same_shape(out, expect, rank) &&
          check_sources(out, in[0], tile_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_tile_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_BOOL, 2, dims),
                        int_vector(KILN_INT32, 2, (int64_t[]){2, -1})};
  CHECK_ERROR(run_one(KILN_OP_TILE, &none, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL, "multiples[1] is -1");
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT64, 3, (int64_t[]){1, 1, 1});
  CHECK_ERROR(run_one(KILN_OP_TILE, &none, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 (multiples) must have 2 elements, has shape [3]");
  free(in[1]->data);
  in[1]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_TILE, &none, in, 2, in[0]->dtype, NULL),
              KILN_ERR_UNSUPPORTED, "known before invoke");
  free_tensors(in, 2);
}

/* ----------------------------------------------------------- BROADCAST_TO */

/* BROADCAST_TO: the input is right-aligned; its size-1 dims read index 0.
 * The output rank comes in through `lead`, the count of new leading dims. */
typedef struct broadcast_case {
  input_shape in;
  int lead;
} broadcast_case;

static int64_t broadcast_source(const int64_t *index, const void *context) {
  const broadcast_case *c = context;
  int64_t src[KILN_MAX_RANK];
  for (int k = 0; k < c->in.rank; k++)
    src[k] = c->in.dims[k] == 1 ? 0 : index[c->lead + k];
  return ravel(src, c->in.dims, c->in.rank);
}

static void test_broadcast_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 6), in_rank = kiln_test_int(0, rank);
    int64_t target[6], dims[6];
    random_dims(rank, trial % 11 ? 1 : 0, 3, target);
    int lead = rank - in_rank;
    for (int k = 0; k < in_rank; k++)
      dims[k] = kiln_test_int(0, 1) ? target[lead + k] : 1;
    kiln_tensor *in[2] = {random_tensor(random_dtype(), in_rank, dims),
                          int_vector(random_int_dtype(), rank, target)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_BROADCAST_TO, &none, in, 2, in[0]->dtype, &out));
    broadcast_case c = {{dims, in_rank}, lead};
    CHECK(same_shape(out, target, rank) &&
          check_sources(out, in[0], broadcast_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_broadcast_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_INT64, 2, dims),
                        int_vector(KILN_INT32, 2, (int64_t[]){2, 4})};
  CHECK_ERROR(run_one(KILN_OP_BROADCAST_TO, &none, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL,
              "cannot broadcast input of shape [2,3] to shape [2,4]");
  kiln_test_tensor_free(in[1]);
  in[1] = int_vector(KILN_INT32, 1, (int64_t[]){3});
  CHECK_ERROR(run_one(KILN_OP_BROADCAST_TO, &none, in, 2, in[0]->dtype, NULL),
              KILN_ERR_INVALID_MODEL, "to shape [3]");
  free(in[1]->data);
  in[1]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_BROADCAST_TO, &none, in, 2, in[0]->dtype, NULL),
              KILN_ERR_UNSUPPORTED, "input 1 (shape) must be known before");
  free_tensors(in, 2);
}

int main(void) {
  kiln_test_seed(0x6a7e);
  test_gather_random();
  test_gather_errors();
  test_tile_random();
  test_tile_errors();
  test_broadcast_random();
  test_broadcast_errors();
  return kiln_test_finish("test_ref_gather");
}
