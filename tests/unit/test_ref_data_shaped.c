/* test_ref_data_shaped.c - WHERE and UNIQUE, whose output shapes come from
 * their input's values: against oracles on random known inputs, and the
 * deferred output shape when the input is not known at prepare (the
 * session's side of that is test_dynamic_shapes.c). */
#include "movement_test_util.h"

static void test_where_random(void) {
  kiln_no_attrs none = {0};
  static const kiln_dtype types[] = {KILN_BOOL,  KILN_FLOAT32, KILN_INT8,
                                     KILN_UINT8, KILN_INT32,   KILN_INT64,
                                     KILN_UINT32};
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(0, 4);
    int64_t dims[4];
    random_dims(rank, trial % 11 ? 1 : 0, 4, dims);
    kiln_dtype dtype = types[kiln_test_int(0, 6)];
    kiln_tensor *in[1] = {kiln_test_tensor(dtype, rank, dims)}, *out;
    int64_t n = kiln_tensor_numel(in[0]), count = 0;
    bool truth[256];
    for (int64_t i = 0; i < n; i++) {
      truth[i] = kiln_test_int(0, 2) == 0;
      count += truth[i];
      int v =
          truth[i] ? kiln_test_int(1, 5) * (kiln_test_int(0, 1) ? 1 : -1) : 0;
      if (dtype == KILN_BOOL) v = truth[i];
      if (dtype == KILN_UINT8 || dtype == KILN_UINT32) v = v < 0 ? -v : v;
      switch (dtype) {
        case KILN_FLOAT32:
          /* -0.0 is false */
          ((float *)in[0]->data)[i] = v ? (float)v * 0.25f : -0.0f;
          break;
        case KILN_INT32:
          ((int32_t *)in[0]->data)[i] = v;
          break;
        case KILN_INT64:
          ((int64_t *)in[0]->data)[i] = v;
          break;
        case KILN_UINT32: /* a high byte alone is true too */
          ((uint32_t *)in[0]->data)[i] = (uint32_t)v << (v % 2 ? 24 : 0);
          break;
        default:
          ((int8_t *)in[0]->data)[i] = (int8_t)v;
      }
    }
    CHECK_OK(run_one(KILN_OP_WHERE, &none, in, 1, KILN_INT64, &out));
    int64_t expect[2] = {count, rank};
    CHECK(same_shape(out, expect, 2));
    bool ok = true;
    int64_t row = 0;
    for (int64_t i = 0; ok && i < n; i++) {
      if (!truth[i]) continue;
      int64_t at[4] = {0};
      unravel(i, dims, rank, at);
      ok = memcmp((int64_t *)out->data + row * rank, at,
                  sizeof(int64_t) * (size_t)rank) == 0;
      row++;
    }
    CHECK(ok);
    kiln_test_tensor_free(out);
    free_tensors(in, 1);
  }
}

static void test_unique_random(void) {
  kiln_no_attrs none = {0};
  static const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT8,  KILN_UINT8,
                                     KILN_INT16,   KILN_INT32, KILN_INT64};
  for (int trial = 0; trial < 300; trial++) {
    int64_t n = kiln_test_int(0, 12);
    kiln_dtype dtype = types[kiln_test_int(0, 5)];
    kiln_tensor *in[1] = {kiln_test_tensor(dtype, 1, &n)};
    for (int64_t i = 0; i < n; i++) {
      int v = kiln_test_int(0, 4); /* few values: many repeats */
      switch (dtype) {
        case KILN_FLOAT32:
          ((float *)in[0]->data)[i] = (float)v - 1.5f;
          break;
        case KILN_INT16:
          ((int16_t *)in[0]->data)[i] = (int16_t)(v * 1000);
          break;
        case KILN_INT32:
          ((int32_t *)in[0]->data)[i] = v - 2;
          break;
        case KILN_INT64:
          ((int64_t *)in[0]->data)[i] = (int64_t)v << 40;
          break;
        default:
          ((uint8_t *)in[0]->data)[i] = (uint8_t)(v * 50);
      }
    }
    kiln_tensor *outs[2] = {output_tensor(dtype),
                            output_tensor(random_int_dtype())};
    CHECK_OK(kiln_test_run_op(KILN_OP_UNIQUE, &none, in, 1, outs, 2));
    /* oracle: first appearances in order; idx by searching them */
    int64_t first[12], count = 0;
    bool ok = outs[1]->rank == 1 && outs[1]->dims[0] == n;
    for (int64_t i = 0; ok && i < n; i++) {
      int64_t slot = -1;
      for (int64_t u = 0; u < count && slot < 0; u++)
        if (kiln_tensor_real(in[0], first[u]) == kiln_tensor_real(in[0], i))
          slot = u;
      if (slot < 0) first[slot = count++] = i;
      ok = kiln_tensor_int(outs[1], i) == slot;
    }
    ok = ok && outs[0]->rank == 1 && outs[0]->dims[0] == count;
    for (int64_t u = 0; ok && u < count; u++)
      ok = same_element(outs[0], u, in[0], first[u]);
    CHECK(ok);
    free_tensors(outs, 2);
    free_tensors(in, 1);
  }
}

static void test_data_shaped_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {2, 3};
  kiln_tensor *in[1] = {kiln_test_tensor(KILN_BOOL, 2, dims)};
  free(in[0]->data);
  in[0]->data = NULL; /* a value computed at invoke */
  /* Not known at prepare: [count, rank] with the count left to invoke. */
  kiln_tensor *where = output_tensor(KILN_INT64);
  kiln_op_ctx where_ctx = {&none, in, 1, &where, 1, NULL, NULL, NULL};
  CHECK_OK(kiln_op_table[KILN_OP_WHERE].shape(&where_ctx));
  CHECK(where->rank == 2 && where->dims[0] == KILN_DIM_AT_INVOKE &&
        where->dims[1] == 2 && kiln_tensor_deferred(where));
  kiln_test_tensor_free(where);
  kiln_tensor *outs[2] = {output_tensor(KILN_BOOL), output_tensor(KILN_INT32)};
  CHECK_ERROR(kiln_test_run_op(KILN_OP_UNIQUE, &none, in, 1, outs, 2),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type bool");
  in[0]->dtype = KILN_INT32;
  outs[0]->dtype = KILN_INT32;
  CHECK_ERROR(kiln_test_run_op(KILN_OP_UNIQUE, &none, in, 1, outs, 2),
              KILN_ERR_INVALID_MODEL,
              "input 0 (x) has shape [2,3]; expected a vector");
  in[0]->rank = 1;
  kiln_op_ctx ctx = {&none, in, 1, outs, 2, NULL, NULL, NULL};
  CHECK_OK(kiln_op_table[KILN_OP_UNIQUE].shape(&ctx));
  CHECK(kiln_tensor_deferred(outs[0]) && outs[0]->rank == 1);
  CHECK(!kiln_tensor_deferred(outs[1]) && outs[1]->rank == 1 &&
        outs[1]->dims[0] == 2); /* idx: one per element, known */
  CHECK_ERROR(run_one(KILN_OP_WHERE, &none, in, 1, KILN_INT32, NULL),
              KILN_ERR_UNSUPPORTED, "output 0");
  free_tensors(outs, 2);
  free_tensors(in, 1);
}

int main(void) {
  kiln_test_seed(0xd47a);
  test_where_random();
  test_unique_random();
  test_data_shaped_errors();
  return kiln_test_finish("test_ref_data_shaped");
}
