/* test_ref_concat.c - CONCATENATION (uint8 parts requantized, int16 ones
 * copied), PACK, UNPACK, SPLIT, SPLIT_V. */
#include <math.h>

#include "movement_test_util.h"

#define MAX_PARTS 5

/* Checks every element of `whole` equals the part element it came from,
 * found from its multi-index: along `axis` the parts follow each other, or
 * (stacked) the axis index picks the part and disappears. */
static int check_joined(const kiln_tensor *whole, kiln_tensor **parts,
                        int count, int axis, int stacked) {
  for (int64_t i = 0; i < kiln_tensor_numel(whole); i++) {
    int64_t index[KILN_MAX_RANK] = {0}, sub[KILN_MAX_RANK];
    unravel(i, whole->dims, whole->rank, index);
    int p = 0;
    if (stacked) {
      p = (int)index[axis];
      for (int k = 0, j = 0; k < whole->rank; k++)
        if (k != axis) sub[j++] = index[k];
    } else {
      memcpy(sub, index, sizeof sub);
      while (sub[axis] >= parts[p]->dims[axis])
        sub[axis] -= parts[p++]->dims[axis];
    }
    if (p >= count ||
        !same_element(whole, i, parts[p],
                      ravel(sub, parts[p]->dims, parts[p]->rank))) {
      fprintf(stderr, "element %lld of the whole differs\n", (long long)i);
      return 0;
    }
  }
  return 1;
}

static kiln_tensor **outputs_of(kiln_dtype dtype, int n, kiln_tensor **outs) {
  for (int i = 0; i < n; i++) outs[i] = output_tensor(dtype);
  return outs;
}

/* ---------------------------------------------------------- CONCATENATION */

static void test_concat_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    int rank = kiln_test_int(1, 5), n = kiln_test_int(1, MAX_PARTS);
    int axis = kiln_test_int(0, rank - 1);
    kiln_dtype dtype = random_dtype();
    int64_t dims[5];
    random_dims(rank, 1, 3, dims);
    kiln_tensor *in[MAX_PARTS];
    for (int i = 0; i < n; i++) {
      dims[axis] = kiln_test_int(0, 3);
      in[i] = random_tensor(dtype, rank, dims);
    }
    kiln_concat_attrs attrs = {.axis = trial % 2 ? axis : axis - rank};
    kiln_tensor *out = output_tensor(dtype);
    CHECK_OK(kiln_test_run_op(KILN_OP_CONCATENATION, &attrs, in, n, &out, 1));
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += in[i]->dims[axis];
    dims[axis] = total;
    CHECK(same_shape(out, dims, rank));
    CHECK(check_joined(out, in, n, axis, 0));
    kiln_test_tensor_free(out);
    free_tensors(in, n);
  }
}

static void test_concat_activation(void) {
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(2, dims, NULL),
                        kiln_test_tensor_f32(2, dims, NULL)};
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 6; j++) ((float *)in[i]->data)[j] *= 10.0f;
  kiln_concat_attrs attrs = {.axis = 0, .activation = KILN_ACT_RELU6};
  kiln_tensor *out = output_tensor(KILN_FLOAT32);
  CHECK_OK(kiln_test_run_op(KILN_OP_CONCATENATION, &attrs, in, 2, &out, 1));
  float expect[12];
  for (int i = 0; i < 12; i++) {
    float x = ((float *)in[i / 6]->data)[i % 6];
    expect[i] = x < 0 ? 0 : x > 6 ? 6 : x;
  }
  kiln_test_close(out->data, expect, 12, 0, 0, "concat relu6");
  kiln_test_tensor_free(out);
  free_tensors(in, 2);
}

static void test_concat_errors(void) {
  int64_t a[2] = {2, 3}, b[2] = {3, 3};
  kiln_tensor *in[2] = {random_tensor(KILN_INT32, 2, a),
                        random_tensor(KILN_INT32, 2, b)};
  kiln_concat_attrs axis1 = {.axis = 1}, axis0 = {.axis = -2};
  CHECK_ERROR(run_one(KILN_OP_CONCATENATION, &axis1, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 1 has shape [3,3] but input 0 has shape [2,3]; they may "
              "differ only along axis 1");
  CHECK_OK(run_one(KILN_OP_CONCATENATION, &axis0, in, 2, KILN_INT32, NULL));
  kiln_concat_attrs relu = {.axis = 0, .activation = KILN_ACT_RELU};
  CHECK_ERROR(run_one(KILN_OP_CONCATENATION, &relu, in, 2, KILN_INT32, NULL),
              KILN_ERR_UNSUPPORTED, "float32 only");
  kiln_concat_attrs far = {.axis = 2};
  CHECK_ERROR(run_one(KILN_OP_CONCATENATION, &far, in, 2, KILN_INT32, NULL),
              KILN_ERR_INVALID_MODEL,
              "concatenation axis 2 is out of range for rank 2");
  CHECK_ERROR(run_one(KILN_OP_CONCATENATION, &axis0, in, 2, KILN_INT64, NULL),
              KILN_ERR_INVALID_MODEL,
              "input 0 has type int32; the output has type int64");
  free_tensors(in, 2);

  /* int8 parts with different scales would need requantizing */
  float scales[2] = {0.5f, 0.25f};
  int64_t zero[1] = {0};
  kiln_quant_info q0 = {1, &scales[0], zero, 0}, q1 = {1, &scales[1], zero, 0};
  in[0] = random_tensor(KILN_INT8, 2, a);
  in[1] = random_tensor(KILN_INT8, 2, a);
  in[0]->quant = &q0, in[1]->quant = &q1;
  kiln_tensor *out = output_tensor(KILN_INT8);
  out->quant = &q0;
  CHECK_ERROR(kiln_test_run_op(KILN_OP_CONCATENATION, &axis0, in, 2, &out, 1),
              KILN_ERR_UNSUPPORTED, "input 1 has quantization parameters");
  in[1]->quant = &q0;
  CHECK_OK(kiln_test_run_op(KILN_OP_CONCATENATION, &axis0, in, 2, &out, 1));
  CHECK(check_joined(out, in, 2, 0, 0));
  kiln_test_tensor_free(out);
  free_tensors(in, 2);
}

/* uint8 parts with their own scales and zero points are requantized to
 * the output's (TFLite's ConcatenationWithScaling): each element within
 * one unit of its real value requantized in double (float rounding), a
 * part sharing the output's parameters copied exactly; PACK still refuses
 * them. */
static void test_concat_uint8_requantize(void) {
  for (int trial = 0; trial < 40; trial++) {
    int n = kiln_test_int(1, 3);
    int64_t dims[2] = {kiln_test_int(1, 3), kiln_test_int(1, 4)};
    float scales[4];
    int64_t zps[4];
    kiln_quant_info q[4];
    for (int i = 0; i < 4; i++) {
      scales[i] = kiln_test_uniform(0.01f, 0.2f);
      zps[i] = kiln_test_int(0, 255);
      q[i] = (kiln_quant_info){1, &scales[i], &zps[i], 0};
    }
    kiln_tensor *in[3], *out = output_tensor(KILN_UINT8);
    for (int i = 0; i < n; i++) {
      in[i] = random_tensor(KILN_UINT8, 2, dims);
      /* part 0 sometimes shares the output's parameters (a plain copy) */
      in[i]->quant = i == 0 && trial % 2 ? &q[3] : &q[i];
    }
    out->quant = &q[3];
    kiln_concat_attrs axis1 = {.axis = 1};
    CHECK_OK(kiln_test_run_op(KILN_OP_CONCATENATION, &axis1, in, n, &out, 1));
    int bad = 0;
    const uint8_t *y = out->data;
    for (int64_t r = 0; r < dims[0]; r++)
      for (int i = 0; i < n; i++)
        for (int64_t c = 0; c < dims[1]; c++) {
          int32_t x = ((const uint8_t *)in[i]->data)[r * dims[1] + c];
          int32_t got = y[(r * n + i) * dims[1] + c];
          const kiln_quant_info *qi = in[i]->quant;
          double real = qi->scale[0] * (double)(x - qi->zero_point[0]);
          double want = round(real / scales[3]) + (double)zps[3];
          want = want < 0 ? 0 : (want > 255 ? 255 : want);
          bool copy = qi == &q[3];
          if (copy ? got != x : fabs(got - want) > 1) bad++;
        }
    CHECK(bad == 0);
    if (n > 1 && trial == 0) {
      kiln_tensor *packed = output_tensor(KILN_UINT8);
      packed->quant = &q[3];
      kiln_pack_attrs p0 = {.count = 2, .axis = 0};
      int64_t same[2] = {dims[0], dims[1]};
      kiln_tensor *twin = random_tensor(KILN_UINT8, 2, same);
      twin->quant = &q[1];
      kiln_tensor *pair[2] = {in[0], twin};
      in[0]->quant = &q[3];
      CHECK_ERROR(kiln_test_run_op(KILN_OP_PACK, &p0, pair, 2, &packed, 1),
                  KILN_ERR_UNSUPPORTED, "input 1 has quantization parameters");
      kiln_test_tensor_free(twin);
      kiln_test_tensor_free(packed);
    }
    free_tensors(in, n);
    kiln_test_tensor_free(out);
  }
}

/* int16 parts with scales other than the output's are copied as stored, as
 * LiteRT's int16 CONCATENATION does (it only requires zero points 0); a
 * nonzero zero point is refused. */
static void test_concat_int16_copy(void) {
  for (int trial = 0; trial < 20; trial++) {
    int n = kiln_test_int(1, 3);
    int64_t dims[2] = {kiln_test_int(1, 3), kiln_test_int(0, 4)};
    float scales[4];
    int64_t zero = 0;
    kiln_quant_info q[4];
    for (int i = 0; i < 4; i++) {
      scales[i] = kiln_test_uniform(1e-4f, 1e-2f);
      q[i] = (kiln_quant_info){1, &scales[i], &zero, 0};
    }
    kiln_tensor *in[3], *out = output_tensor(KILN_INT16);
    for (int i = 0; i < n; i++) {
      in[i] = random_tensor(KILN_INT16, 2, dims);
      in[i]->quant = &q[i];
    }
    out->quant = &q[3];
    kiln_concat_attrs axis1 = {.axis = 1};
    CHECK_OK(kiln_test_run_op(KILN_OP_CONCATENATION, &axis1, in, n, &out, 1));
    CHECK(check_joined(out, in, n, 1, 0));
    if (trial == 0) {
      int64_t three = 3;
      kiln_quant_info shifted = {1, &scales[0], &three, 0};
      in[0]->quant = &shifted;
      CHECK_ERROR(
          kiln_test_run_op(KILN_OP_CONCATENATION, &axis1, in, n, &out, 1),
          KILN_ERR_INVALID_MODEL,
          "input 0 has zero point 3 and the output 0; int16 CONCATENATION "
          "needs 0 for both");
    }
    free_tensors(in, n);
    kiln_test_tensor_free(out);
  }
}

/* ------------------------------------------------------------ PACK/UNPACK */

static void test_pack_unpack_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    int rank = kiln_test_int(0, 4), n = kiln_test_int(1, MAX_PARTS);
    int axis = kiln_test_int(0, rank);
    kiln_dtype dtype = random_dtype();
    int64_t dims[5], whole_dims[6];
    random_dims(rank, 1, 3, dims);
    kiln_tensor *parts[MAX_PARTS], *whole = output_tensor(dtype);
    for (int i = 0; i < n; i++) parts[i] = random_tensor(dtype, rank, dims);
    kiln_pack_attrs attrs = {.count = n,
                             .axis = trial % 2 ? axis : axis - rank - 1};
    CHECK_OK(kiln_test_run_op(KILN_OP_PACK, &attrs, parts, n, &whole, 1));
    for (int k = 0, j = 0; k <= rank; k++)
      whole_dims[k] = k == axis ? n : dims[j++];
    CHECK(same_shape(whole, whole_dims, rank + 1));
    CHECK(check_joined(whole, parts, n, axis, 1));

    /* UNPACK undoes it, axis counted in the packed rank */
    kiln_tensor *back[MAX_PARTS];
    kiln_pack_attrs un = {.count = n,
                          .axis = trial % 2 ? axis : axis - rank - 1};
    CHECK_OK(kiln_test_run_op(KILN_OP_UNPACK, &un, &whole, 1,
                              outputs_of(dtype, n, back), n));
    for (int i = 0; i < n; i++) {
      CHECK(same_shape(back[i], dims, rank));
      CHECK(memcmp(back[i]->data, parts[i]->data,
                   kiln_tensor_nbytes(parts[i])) == 0);
    }
    free_tensors(back, n);
    free_tensors(parts, n);
    kiln_test_tensor_free(whole);
  }
}

static void test_pack_errors(void) {
  int64_t a[2] = {2, 3}, b[2] = {3, 2};
  kiln_tensor *in[2] = {random_tensor(KILN_BOOL, 2, a),
                        random_tensor(KILN_BOOL, 2, b)};
  kiln_tensor *out[3];
  outputs_of(KILN_BOOL, 3, out);
  kiln_pack_attrs attrs = {.count = 2, .axis = 0};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_PACK, &attrs, in, 2, out, 1),
              KILN_ERR_INVALID_MODEL, "input 1 has shape [3,2] but input 0");
  kiln_pack_attrs three = {.count = 3, .axis = 0};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_PACK, &three, in, 2, out, 1),
              KILN_ERR_INVALID_MODEL, "values_count is 3");
  kiln_pack_attrs far = {.count = 1, .axis = -4};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_PACK, &far, in, 1, out, 1),
              KILN_ERR_INVALID_MODEL, "pack axis -4 is out of range [-3, 2]");
  kiln_pack_attrs un = {.count = 3, .axis = 0};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_UNPACK, &un, in, 1, out, 3),
              KILN_ERR_INVALID_MODEL,
              "input of shape [2,3] has 2 entries along axis 0 but the "
              "operator has 3 outputs");
  kiln_pack_attrs rows = {.count = 3, .axis = -2};
  CHECK_OK(kiln_test_run_op(KILN_OP_UNPACK, &rows, &in[1], 1, out, 3));
  CHECK(same_shape(out[2], (int64_t[]){2}, 1));
  free_tensors(out, 3);
  free_tensors(in, 2);
}

/* ------------------------------------------------------------ SPLIT(_V) */

/* Splits a random tensor into n parts of `sizes` along a random axis and
 * checks each part; v2 uses SPLIT_V with size_splits (maybe one -1). */
static void split_case(int trial, int v2) {
  int rank = kiln_test_int(1, 5), n = kiln_test_int(1, 4);
  int axis = kiln_test_int(0, rank - 1);
  int64_t dims[5], sizes[4], total = 0, each = kiln_test_int(0, 3);
  random_dims(rank, 1, 3, dims);
  for (int i = 0; i < n; i++) {
    sizes[i] = v2 ? kiln_test_int(0, 3) : each;
    total += sizes[i];
  }
  dims[axis] = total;
  kiln_dtype dtype = random_dtype();
  kiln_tensor *data = random_tensor(dtype, rank, dims);
  kiln_tensor *axis_t =
      int_scalar(random_int_dtype(), trial % 2 ? axis : axis - rank);
  if (trial % 3 == 0) axis_t->rank = 1;
  kiln_split_attrs attrs = {.num_splits = n};
  kiln_tensor *outs[4], *sizes_t = NULL;
  outputs_of(dtype, n, outs);
  if (v2) {
    int64_t request[4];
    memcpy(request, sizes, sizeof request);
    if (trial % 2) request[kiln_test_int(0, n - 1)] = -1;
    sizes_t = int_vector(random_int_dtype(), n, request);
    kiln_tensor *in[3] = {data, sizes_t, axis_t};
    CHECK_OK(kiln_test_run_op(KILN_OP_SPLIT_V, &attrs, in, 3, outs, n));
  } else {
    kiln_tensor *in[2] = {axis_t, data};
    CHECK_OK(kiln_test_run_op(KILN_OP_SPLIT, &attrs, in, 2, outs, n));
  }
  for (int i = 0; i < n; i++) {
    dims[axis] = sizes[i];
    CHECK(same_shape(outs[i], dims, rank));
  }
  CHECK(check_joined(data, outs, n, axis, 0));
  free_tensors(outs, n);
  kiln_test_tensor_free(data);
  kiln_test_tensor_free(axis_t);
  kiln_test_tensor_free(sizes_t);
}

static void test_split_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    split_case(trial, 0);
    split_case(trial, 1);
  }
}

static void test_split_errors(void) {
  int64_t dims[2] = {4, 5};
  kiln_tensor *in[3] = {int_scalar(KILN_INT32, 1),
                        random_tensor(KILN_FLOAT32, 2, dims), NULL};
  kiln_tensor *outs[3];
  outputs_of(KILN_FLOAT32, 3, outs);
  kiln_split_attrs two = {.num_splits = 2}, three = {.num_splits = 3};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_SPLIT, &two, in, 2, outs, 2),
              KILN_ERR_INVALID_MODEL,
              "cannot split axis 1 of shape [4,5] (size 5) into 2 equal parts");
  CHECK_ERROR(kiln_test_run_op(KILN_OP_SPLIT, &three, in, 2, outs, 2),
              KILN_ERR_INVALID_MODEL, "num_splits is 3 but the operator has 2");
  void *data = in[0]->data;
  in[0]->data = NULL;
  CHECK_ERROR(kiln_test_run_op(KILN_OP_SPLIT, &two, in, 2, outs, 2),
              KILN_ERR_UNSUPPORTED, "input 0 (axis) must be known before");
  in[0]->data = data;

  /* SPLIT_V: (data, size_splits, axis) */
  kiln_tensor *v[3] = {in[1], NULL, in[0]};
  const int64_t bad[][3] = {{1, 1, 1},
                            {-1, -1, 5},
                            {2, -2, 5},
                            {3, 3, -1},
                            {INT64_MAX, INT64_MAX, -1}};
  const char *why[] = {"size_splits add up to 3 but axis 1", "at most one -1",
                       "size_splits[1] is -2",
                       "size_splits add up to 6 plus a -1",
                       "sizes must be in [0, 5]"};
  for (int i = 0; i < 5; i++) {
    v[1] = int_vector(KILN_INT64, 3, bad[i]);
    CHECK_ERROR(kiln_test_run_op(KILN_OP_SPLIT_V, &three, v, 3, outs, 3),
                KILN_ERR_INVALID_MODEL, why[i]);
    kiln_test_tensor_free(v[1]);
  }
  v[1] = int_vector(KILN_INT32, 2, (int64_t[]){2, 3});
  CHECK_ERROR(kiln_test_run_op(KILN_OP_SPLIT_V, &three, v, 3, outs, 3),
              KILN_ERR_INVALID_MODEL, "(size_splits) must have 3 elements");
  kiln_test_tensor_free(v[1]);
  free_tensors(outs, 3);
  free_tensors(in, 3);
}

int main(void) {
  kiln_test_seed(0xc0ca7);
  test_concat_random();
  test_concat_activation();
  test_concat_errors();
  test_concat_uint8_requantize();
  test_concat_int16_copy();
  test_pack_unpack_random();
  test_pack_errors();
  test_split_random();
  test_split_errors();
  return kiln_test_finish("test_ref_concat");
}
