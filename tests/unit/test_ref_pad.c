/* test_ref_pad.c - PAD, PADV2 and MIRROR_PAD. */
#include "movement_test_util.h"

/* Not in the op table yet (MIRROR_PAD names kiln_shape_pad); see pad.c. */
kiln_status *kiln_shape_mirror_pad(const kiln_op_ctx *ctx);

static kiln_tensor *paddings_tensor(kiln_dtype dtype, int rank,
                                    const int64_t *before,
                                    const int64_t *after) {
  int64_t flat[2 * KILN_MAX_RANK];
  for (int k = 0; k < rank; k++)
    flat[2 * k] = before[k], flat[2 * k + 1] = after[k];
  kiln_tensor *t = int_vector(dtype, 2 * rank, flat);
  t->rank = 2, t->dims[0] = rank, t->dims[1] = 2;
  return t;
}

/* Source index along one axis of a mirror-padded output, by unfolding the
 * reflection: -1 maps to 1 (REFLECT) or 0 (SYMMETRIC), and so on. */
static int64_t mirror_source(int64_t i, int64_t dim, int symmetric) {
  if (i < 0) return symmetric ? -i - 1 : -i;
  if (i >= dim) return symmetric ? 2 * dim - 1 - i : 2 * dim - 2 - i;
  return i;
}

/* Checks out against in padded by before/after; value NULL: mirror mode. */
static int check_padded(const kiln_tensor *out, const kiln_tensor *in,
                        const int64_t *before, const unsigned char *value,
                        int symmetric) {
  size_t elem = kiln_dtype_size(in->dtype);
  for (int64_t i = 0; i < kiln_tensor_numel(out); i++) {
    int64_t index[KILN_MAX_RANK], src[KILN_MAX_RANK];
    unravel(i, out->dims, out->rank, index);
    int inside = 1;
    for (int k = 0; k < in->rank; k++) {
      src[k] = index[k] - before[k];
      inside &= src[k] >= 0 && src[k] < in->dims[k];
      if (!value) src[k] = mirror_source(src[k], in->dims[k], symmetric);
    }
    int ok = inside || !value
                 ? same_element(out, i, in, ravel(src, in->dims, in->rank))
                 : memcmp((const char *)out->data + i * elem, value, elem) == 0;
    if (!ok) {
      fprintf(stderr, "padded element %lld differs\n", (long long)i);
      return 0;
    }
  }
  return 1;
}

static void test_pad_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 5), v2 = trial % 3 == 0;
    int64_t dims[5], before[5], after[5], out_dims[5];
    random_dims(rank, trial % 7 ? 1 : 0, 3, dims);
    random_dims(rank, 0, 2, before);
    random_dims(rank, 0, 2, after);
    for (int k = 0; k < rank; k++) out_dims[k] = before[k] + dims[k] + after[k];
    kiln_dtype dtype = random_dtype();
    int64_t one = 1;
    kiln_tensor *in[3] = {
        random_tensor(dtype, rank, dims),
        paddings_tensor(random_int_dtype(), rank, before, after),
        v2 ? random_tensor(dtype, trial % 2, &one) : NULL};
    unsigned char value[8] = {0};
    if (v2) memcpy(value, in[2]->data, kiln_dtype_size(dtype));
    kiln_tensor *out = output_tensor(dtype);
    CHECK_OK(kiln_test_run_op(v2 ? KILN_OP_PADV2 : KILN_OP_PAD, &none, in,
                              v2 ? 3 : 2, &out, 1));
    CHECK(same_shape(out, out_dims, rank));
    CHECK(check_padded(out, in[0], before, value, 0));
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

/* Quantized PAD pads with the zero point, the quantized real 0. */
static void test_pad_zero_point(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {2, 2}, before[2] = {1, 0}, after[2] = {0, 1};
  float scale = 0.1f;
  int64_t zero = -5;
  kiln_quant_info q = {1, &scale, &zero, 0};
  kiln_tensor *in[2] = {random_tensor(KILN_INT8, 2, dims),
                        paddings_tensor(KILN_INT32, 2, before, after)};
  in[0]->quant = &q;
  kiln_tensor *out = output_tensor(KILN_INT8);
  out->quant = &q;
  CHECK_OK(kiln_test_run_op(KILN_OP_PAD, &none, in, 2, &out, 1));
  int8_t pad = -5;
  CHECK(check_padded(out, in[0], before, (unsigned char *)&pad, 0));
  kiln_test_tensor_free(out);
  free_tensors(in, 2);
}

static void test_mirror_random(void) {
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 5), symmetric = trial % 2;
    kiln_mirror_pad_attrs attrs = {symmetric ? KILN_MIRROR_SYMMETRIC
                                             : KILN_MIRROR_REFLECT};
    int64_t dims[5], before[5], after[5], out_dims[5];
    random_dims(rank, 1, 4, dims);
    for (int k = 0; k < rank; k++) { /* up to the mode's limit */
      int limit = (int)dims[k] - !symmetric;
      before[k] = kiln_test_int(0, limit);
      after[k] = kiln_test_int(0, limit);
      out_dims[k] = before[k] + dims[k] + after[k];
    }
    kiln_dtype dtype = random_dtype();
    kiln_tensor *in[2] = {
        random_tensor(dtype, rank, dims),
        paddings_tensor(random_int_dtype(), rank, before, after)};
    kiln_tensor *out = output_tensor(dtype);
    CHECK_OK(kiln_test_run_op(KILN_OP_MIRROR_PAD, &attrs, in, 2, &out, 1));
    CHECK(same_shape(out, out_dims, rank));
    CHECK(check_padded(out, in[0], before, NULL, symmetric));
    kiln_op_ctx ctx = {&attrs, in, 2, &out, 1, NULL, NULL, NULL};
    CHECK_OK(kiln_shape_mirror_pad(&ctx));
    kiln_test_tensor_free(out);
    free_tensors(in, 2);
  }
}

static void test_pad_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {3, 2}, zero2[2] = {0, 0}, neg[2] = {0, -1};
  kiln_tensor *in[3] = {random_tensor(KILN_FLOAT32, 2, dims),
                        paddings_tensor(KILN_INT64, 2, zero2, neg), NULL};
  CHECK_ERROR(run_one(KILN_OP_PAD, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "paddings for axis 1 are [0,-1]; negative padding");
  kiln_test_tensor_free(in[1]);
  in[1] = paddings_tensor(KILN_INT64, 2, (int64_t[]){INT64_MAX, 0}, zero2);
  CHECK_ERROR(run_one(KILN_OP_PAD, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL, "too large");
  kiln_test_tensor_free(in[1]);
  in[1] = paddings_tensor(KILN_INT32, 1, zero2, zero2);
  CHECK_ERROR(run_one(KILN_OP_PAD, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 (paddings) has shape [1,2]; expected [2,2]");
  kiln_test_tensor_free(in[1]);
  in[1] = paddings_tensor(KILN_INT32, 2, zero2, zero2);
  void *data = in[1]->data;
  in[1]->data = NULL;
  CHECK_ERROR(run_one(KILN_OP_PAD, &none, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_UNSUPPORTED, "input 1 (paddings) must be known before");
  in[1]->data = data;
  in[2] = int_scalar(KILN_INT32, 7);
  CHECK_ERROR(run_one(KILN_OP_PADV2, &none, in, 3, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL, "input 2 (constant_values) is int32");
  CHECK_ERROR(run_one(KILN_OP_PAD, &none, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL, "output has type int32");

  /* mirror padding beyond the edge: REFLECT allows dim-1, SYMMETRIC dim */
  kiln_mirror_pad_attrs reflect = {KILN_MIRROR_REFLECT};
  kiln_mirror_pad_attrs symmetric = {KILN_MIRROR_SYMMETRIC};
  int64_t two[2] = {0, 2}, four[2] = {4, 0};
  kiln_test_tensor_free(in[1]);
  in[1] = paddings_tensor(KILN_INT32, 2, zero2, two);
  CHECK_ERROR(run_one(KILN_OP_MIRROR_PAD, &reflect, in, 2, KILN_FLOAT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "REFLECT mirror padding [0,2] on axis 1 of input shape [3,2] is "
              "too large: at most 1");
  CHECK_OK(run_one(KILN_OP_MIRROR_PAD, &symmetric, in, 2, KILN_FLOAT32, NULL));
  kiln_test_tensor_free(in[1]);
  in[1] = paddings_tensor(KILN_INT32, 2, four, zero2);
  CHECK_ERROR(
      run_one(KILN_OP_MIRROR_PAD, &symmetric, in, 2, KILN_FLOAT32, NULL),
      KILN_ERR_INVALID_MODEL, "SYMMETRIC mirror padding [4,0] on axis 0");
  kiln_tensor *out = output_tensor(KILN_FLOAT32);
  kiln_op_ctx ctx = {&reflect, in, 2, &out, 1, NULL, NULL, NULL};
  CHECK_ERROR(kiln_shape_mirror_pad(&ctx), KILN_ERR_INVALID_MODEL,
              "is too large: at most 2 per side");
  kiln_test_tensor_free(out);
  free_tensors(in, 3);
}

int main(void) {
  kiln_test_seed(0x9add);
  test_pad_random();
  test_pad_zero_point();
  test_mirror_random();
  test_pad_errors();
  return kiln_test_finish("test_ref_pad");
}
