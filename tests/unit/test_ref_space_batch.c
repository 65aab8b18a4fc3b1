/* test_ref_space_batch.c - SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND,
 * DEPTH_TO_SPACE and SPACE_TO_DEPTH against TensorFlow's definitions as
 * reshape / transpose chains (written here as index arithmetic over the
 * intermediate shapes), and each pair's round trip. */
#include "movement_test_util.h"

static const kiln_dtype kTypes[] = {KILN_FLOAT32, KILN_INT8,  KILN_UINT8,
                                    KILN_INT16,   KILN_INT32, KILN_INT64};

static kiln_dtype block_dtype(void) {
  return kTypes[kiln_test_int(0, (int)(sizeof kTypes / sizeof kTypes[0]) - 1)];
}

/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND take every fixed-size type. */
static const kiln_dtype kSpaceBatchTypes[] = {
    KILN_FLOAT32, KILN_INT8,    KILN_UINT8,    KILN_INT16,  KILN_INT32,
    KILN_INT64,   KILN_FLOAT16, KILN_FLOAT64,  KILN_UINT16, KILN_UINT32,
    KILN_UINT64,  KILN_BOOL,    KILN_COMPLEX64};

static kiln_dtype space_batch_dtype(void) {
  int n = (int)(sizeof kSpaceBatchTypes / sizeof kSpaceBatchTypes[0]);
  return kSpaceBatchTypes[kiln_test_int(0, n - 1)];
}

/* A [m, 2] int tensor of paddings or crops. */
static kiln_tensor *edges_tensor(kiln_dtype dtype, int m, const int64_t *rows) {
  kiln_tensor *t = int_vector(dtype, 2 * m, rows);
  t->rank = 2;
  t->dims[0] = m;
  t->dims[1] = 2;
  return t;
}

/* SPACE_TO_BATCH_ND per TensorFlow: pad, reshape to
 * [b, h'/bh, bh, w'/bw, bw, c], transpose to [bh, bw, b, h'/bh, w'/bw, c].
 * So output batch ob unravels over [bh, bw, b]. Returns the input flat
 * index, or -1 for padding. */
static int64_t s2b_source(const int64_t *o, const int64_t *in_dims, int rank,
                          const int64_t *block, const int64_t *pad_before) {
  int64_t bw = rank == 4 ? block[1] : 1;
  int64_t grid[3] = {block[0], bw, in_dims[0]}, at[3];
  unravel(o[0], grid, 3, at);
  int64_t src[4] = {at[2], o[1] * block[0] + at[0] - pad_before[0], 0,
                    o[rank - 1]};
  if (rank == 4) src[2] = o[2] * bw + at[1] - pad_before[1];
  for (int k = 1; k < rank - 1; k++)
    if (src[k] < 0 || src[k] >= in_dims[k]) return -1;
  if (rank == 3) src[2] = src[3];
  return ravel(src, in_dims, rank);
}

static void test_space_batch_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(3, 4), m = rank - 2;
    int64_t block[2], pads[4], dims[4], expect[4];
    dims[0] = kiln_test_int(1, 3);
    dims[rank - 1] = kiln_test_int(1, 3);
    expect[0] = dims[0];
    expect[rank - 1] = dims[rank - 1];
    for (int k = 0; k < m; k++) {
      block[k] = kiln_test_int(1, 3);
      pads[2 * k] = kiln_test_int(0, 3);
      int64_t padded = block[k] * kiln_test_int(1, 4);
      if (padded < pads[2 * k]) padded += block[k] * 2;
      dims[1 + k] = padded - pads[2 * k];
      /* leave room for an after-padding of 0..block-1 */
      pads[2 * k + 1] = 0;
      if (dims[1 + k] > block[k]) {
        pads[2 * k + 1] = kiln_test_int(0, (int)block[k] - 1);
        dims[1 + k] -= pads[2 * k + 1];
      }
      expect[1 + k] = padded / block[k];
      expect[0] *= block[k];
    }
    kiln_dtype dtype = space_batch_dtype();
    kiln_tensor *in[3] = {random_tensor(dtype, rank, dims),
                          int_vector(random_int_dtype(), m, block),
                          edges_tensor(random_int_dtype(), m, pads)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, dtype, &out));
    CHECK(same_shape(out, expect, rank));
    int64_t before[2] = {pads[0], m == 2 ? pads[2] : 0};
    size_t elem = kiln_dtype_size(dtype);
    unsigned char zero[8] = {0};
    bool ok = true;
    for (int64_t i = 0; ok && i < kiln_tensor_numel(out); i++) {
      int64_t o[4];
      unravel(i, out->dims, rank, o);
      int64_t s = s2b_source(o, dims, rank, block, before);
      ok = s < 0
               ? memcmp((char *)out->data + i * (int64_t)elem, zero, elem) == 0
               : same_element(out, i, in[0], s);
    }
    CHECK(ok);
    /* BATCH_TO_SPACE_ND with the paddings as crops undoes it */
    kiln_tensor *back_in[3] = {out, in[1], in[2]};
    kiln_tensor *back;
    CHECK_OK(
        run_one(KILN_OP_BATCH_TO_SPACE_ND, &none, back_in, 3, dtype, &back));
    CHECK(same_shape(back, dims, rank) &&
          memcmp(back->data, in[0]->data, kiln_tensor_nbytes(in[0])) == 0);
    kiln_test_tensor_free(back);
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

/* BATCH_TO_SPACE_ND directly: input batch ib unravels over [bh, bw, b_out];
 * its pixel (h, w) lands at (h * bh + dy - crop_top, w * bw + dx -
 * crop_left). Checked element by element from the input side. */
static void test_batch_to_space_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int64_t block[2] = {kiln_test_int(1, 3), kiln_test_int(1, 3)};
    int64_t n_out = kiln_test_int(1, 2), c = kiln_test_int(1, 3);
    int64_t dims[4] = {n_out * block[0] * block[1], kiln_test_int(1, 4),
                       kiln_test_int(1, 4), c};
    int64_t crops[4], out_dims[4] = {n_out, 0, 0, c};
    for (int k = 0; k < 2; k++) {
      int64_t full = dims[1 + k] * block[k];
      crops[2 * k] = kiln_test_int(0, (int)full / 2);
      crops[2 * k + 1] = kiln_test_int(0, (int)(full - crops[2 * k]) / 2);
      out_dims[1 + k] = full - crops[2 * k] - crops[2 * k + 1];
    }
    kiln_dtype dtype = space_batch_dtype();
    kiln_tensor *in[3] = {random_tensor(dtype, 4, dims),
                          int_vector(KILN_INT32, 2, block),
                          edges_tensor(KILN_INT32, 2, crops)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_BATCH_TO_SPACE_ND, &none, in, 3, dtype, &out));
    CHECK(same_shape(out, out_dims, 4));
    bool ok = true;
    for (int64_t i = 0; ok && i < kiln_tensor_numel(in[0]); i++) {
      int64_t s[4], at[3], grid[3] = {block[0], block[1], n_out};
      unravel(i, dims, 4, s);
      unravel(s[0], grid, 3, at);
      int64_t d[4] = {at[2], s[1] * block[0] + at[0] - crops[0],
                      s[2] * block[1] + at[1] - crops[2], s[3]};
      if (d[1] < 0 || d[1] >= out_dims[1] || d[2] < 0 || d[2] >= out_dims[2])
        continue;
      ok = same_element(out, ravel(d, out_dims, 4), in[0], i);
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

static void test_space_batch_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[4] = {1, 4, 5, 2};
  kiln_tensor *in[3] = {random_tensor(KILN_FLOAT32, 4, dims),
                        int_vector(KILN_INT32, 2, (int64_t[]){2, 2}),
                        edges_tensor(KILN_INT32, 2, (int64_t[]){0, 0, 0, 0})};
  CHECK_ERROR(
      run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "spatial dimension 1 is 5 after padding, not a multiple of "
      "block size 2");
  ((int32_t *)in[1]->data)[1] = 0;
  CHECK_ERROR(
      run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 1 (block_shape) entry 1 is 0; block sizes must be at "
      "least 1");
  ((int32_t *)in[1]->data)[1] = 1;
  ((int32_t *)in[2]->data)[1] = -1;
  CHECK_ERROR(
      run_one(KILN_OP_BATCH_TO_SPACE_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL, "input 2 (crops) row 0 is [0,-1]");
  ((int32_t *)in[2]->data)[1] = 0;
  CHECK_ERROR(
      run_one(KILN_OP_BATCH_TO_SPACE_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input batch 1 is not a multiple of the block shape's product 2");
  ((int32_t *)in[2]->data)[0] = 9;
  ((int32_t *)in[1]->data)[0] = 1;
  CHECK_ERROR(
      run_one(KILN_OP_BATCH_TO_SPACE_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL, "crops [9,0] of spatial dimension 0");
  CHECK_ERROR(
      run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, KILN_INT32, NULL),
      KILN_ERR_INVALID_MODEL, "output has type int32");
  free(in[2]->data);
  in[2]->data = NULL;
  CHECK_ERROR(
      run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_UNSUPPORTED, "input 2 (paddings) must be known");
  kiln_test_tensor_free(in[2]);
  in[2] = edges_tensor(KILN_INT32, 1, (int64_t[]){0, 0});
  CHECK_ERROR(
      run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL,
      "input 2 (paddings) has shape [1,2]; expected [2,2]");
  kiln_test_tensor_free(in[0]);
  in[0] = random_tensor(KILN_FLOAT32, 2, dims);
  CHECK_ERROR(
      run_one(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, KILN_FLOAT32, NULL),
      KILN_ERR_UNSUPPORTED, "expected rank 3 or 4");
  free_tensors(in, 3);
}

/* DEPTH_TO_SPACE per TensorFlow (DCR): input [n,h,w,c] read as
 * [n,h,w,bs,bs,c'], transposed to [n,h,bs,w,bs,c']. */
static int64_t d2s_source(const int64_t *o, const void *context) {
  const int64_t *p = context; /* in dims [4], then bs */
  int64_t bs = p[4], oc = p[3] / (bs * bs);
  int64_t split[6] = {p[0], p[1], p[2], bs, bs, oc};
  int64_t at[6] = {o[0], o[1] / bs, o[2] / bs, o[1] % bs, o[2] % bs, o[3]};
  return ravel(at, split, 6);
}

static void test_depth_space_random(void) {
  for (int trial = 0; trial < 200; trial++) {
    int bs = kiln_test_int(1, 3);
    int64_t p[5] = {kiln_test_int(1, 2), kiln_test_int(1, 3),
                    kiln_test_int(1, 3), bs * bs * kiln_test_int(1, 3), bs};
    kiln_block_size_attrs attrs = {bs};
    kiln_dtype dtype = block_dtype();
    kiln_tensor *in[1] = {random_tensor(dtype, 4, p)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_DEPTH_TO_SPACE, &attrs, in, 1, dtype, &out));
    int64_t expect[4] = {p[0], p[1] * bs, p[2] * bs, p[3] / (bs * bs)};
    CHECK(same_shape(out, expect, 4) &&
          check_sources(out, in[0], d2s_source, p));
    kiln_tensor *back;
    CHECK_OK(run_one(KILN_OP_SPACE_TO_DEPTH, &attrs, &out, 1, dtype, &back));
    CHECK(same_shape(back, p, 4) &&
          memcmp(back->data, in[0]->data, kiln_tensor_nbytes(in[0])) == 0);
    kiln_test_tensor_free(back);
    kiln_test_tensor_free(out);
    free_tensors(in, 1);
  }
}

static void test_depth_space_errors(void) {
  int64_t dims[4] = {1, 3, 4, 6};
  kiln_tensor *in[1] = {random_tensor(KILN_INT8, 4, dims)};
  kiln_block_size_attrs two = {2}, zero = {0};
  CHECK_ERROR(run_one(KILN_OP_DEPTH_TO_SPACE, &two, in, 1, KILN_INT8, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 0 (input) has 6 channels, not a multiple of "
              "block_size^2 = 4");
  CHECK_ERROR(run_one(KILN_OP_SPACE_TO_DEPTH, &two, in, 1, KILN_INT8, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 0 (input) height 3 and width 4 must be multiples of "
              "block_size 2");
  CHECK_ERROR(run_one(KILN_OP_SPACE_TO_DEPTH, &zero, in, 1, KILN_INT8, NULL),
              KILN_ERR_INVALID_MODEL, "block_size is 0; it must be at least 1");
  /* quantized data passes through only with the output's quantization */
  float scale_a = 0.5f, scale_b = 0.25f;
  int64_t zp = 3;
  kiln_quant_info qa = {1, &scale_a, &zp, 0}, qb = {1, &scale_b, &zp, 0};
  in[0]->quant = &qa;
  kiln_tensor *out = output_tensor(KILN_INT8);
  kiln_block_size_attrs one = {1};
  out->quant = &qb;
  CHECK_ERROR(kiln_test_run_op(KILN_OP_SPACE_TO_DEPTH, &one, in, 1, &out, 1),
              KILN_ERR_UNSUPPORTED,
              "input 0 (input) and the output have different quantization");
  out->quant = &qa;
  CHECK_OK(kiln_test_run_op(KILN_OP_SPACE_TO_DEPTH, &one, in, 1, &out, 1));
  kiln_test_tensor_free(out);
  in[0]->quant = NULL;
  free_tensors(in, 1);
}

/* Padding of a quantized SPACE_TO_BATCH_ND holds the zero point. */
static void test_space_batch_zero_point(void) {
  kiln_no_attrs none = {0};
  int64_t dims[4] = {1, 1, 1, 1};
  kiln_tensor *in[3] = {random_tensor(KILN_INT8, 4, dims),
                        int_vector(KILN_INT32, 2, (int64_t[]){2, 1}),
                        edges_tensor(KILN_INT32, 2, (int64_t[]){1, 0, 0, 0})};
  float scale = 0.1f;
  int64_t zp = -7;
  kiln_quant_info q = {1, &scale, &zp, 0};
  in[0]->quant = &q;
  kiln_tensor *out = output_tensor(KILN_INT8);
  out->quant = &q;
  CHECK_OK(kiln_test_run_op(KILN_OP_SPACE_TO_BATCH_ND, &none, in, 3, &out, 1));
  /* batch 0 is block row 0 (the padding row), batch 1 the data */
  CHECK(out->dims[0] == 2 && ((int8_t *)out->data)[0] == -7 &&
        ((int8_t *)out->data)[1] == ((int8_t *)in[0]->data)[0]);
  in[0]->quant = NULL;
  kiln_test_tensor_free(out);
  free_tensors(in, 3);
}

int main(void) {
  kiln_test_seed(0x5b2d);
  test_space_batch_random();
  test_batch_to_space_random();
  test_space_batch_errors();
  test_space_batch_zero_point();
  test_depth_space_random();
  test_depth_space_errors();
  return kiln_test_finish("test_ref_space_batch");
}
