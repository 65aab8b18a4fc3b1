/* test_ref_compare.c - LESS .. NOT_EQUAL against per-element expectations
 * on broadcast shapes, for float32 (NaN included), int32, int64 and bool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const kiln_op_type ops[] = {KILN_OP_LESS,    KILN_OP_LESS_EQUAL,
                                   KILN_OP_GREATER, KILN_OP_GREATER_EQUAL,
                                   KILN_OP_EQUAL,   KILN_OP_NOT_EQUAL};

/* What op says of a and b; `unordered` marks a NaN among them. */
static int expected(kiln_op_type op, double a, double b, int unordered) {
  if (unordered) return op == KILN_OP_NOT_EQUAL;
  switch (op) {
    case KILN_OP_LESS:
      return a < b;
    case KILN_OP_LESS_EQUAL:
      return a <= b;
    case KILN_OP_GREATER:
      return a > b;
    case KILN_OP_GREATER_EQUAL:
      return a >= b;
    case KILN_OP_EQUAL:
      return a == b;
    default:
      return a != b;
  }
}

static void set_value(kiln_tensor *t, int64_t i, int value) {
  switch (t->dtype) {
    case KILN_FLOAT32:
      ((float *)t->data)[i] = (float)value;
      break;
    case KILN_INT32:
      ((int32_t *)t->data)[i] = value;
      break;
    case KILN_INT64:
      ((int64_t *)t->data)[i] = (int64_t)value * ((int64_t)1 << 33);
      break;
    default:
      ((uint8_t *)t->data)[i] = (uint8_t)(value & 1);
      break;
  }
}

static double get_value(const kiln_tensor *t, int64_t i) {
  return t->dtype == KILN_FLOAT32 ? ((const float *)t->data)[i]
                                  : (double)kiln_tensor_int(t, i);
}

/* Random shapes where b broadcasts against a on some axes (rank of b may
 * be smaller); small value ranges make ties common. */
static void test_random(kiln_dtype dtype) {
  for (int round = 0; round < 60; round++) {
    int rank = kiln_test_int(0, 4), b_rank = kiln_test_int(0, rank);
    int64_t a_dims[4], b_dims[4];
    for (int d = 0; d < rank; d++) a_dims[d] = kiln_test_int(1, 4);
    for (int d = 0; d < b_rank; d++)
      b_dims[d] = kiln_test_int(0, 1) ? a_dims[rank - b_rank + d] : 1;
    kiln_tensor *a = kiln_test_tensor(dtype, rank, a_dims);
    kiln_tensor *b = kiln_test_tensor(dtype, b_rank, b_dims);
    for (int64_t i = 0; i < kiln_tensor_numel(a); i++)
      set_value(a, i, kiln_test_int(-2, 2));
    for (int64_t i = 0; i < kiln_tensor_numel(b); i++)
      set_value(b, i, kiln_test_int(-2, 2));
    if (dtype == KILN_FLOAT32 && kiln_tensor_numel(a) > 1)
      ((float *)a->data)[1] = NAN;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
      kiln_tensor *out = kiln_test_tensor(KILN_BOOL, 0, NULL);
      kiln_tensor *in[2] = {a, b};
      CHECK_OK(kiln_test_run_op(ops[k], NULL, in, 2, &out, 1));
      CHECK(out->rank == rank);
      int64_t n = kiln_tensor_numel(out), bad = 0;
      for (int64_t i = 0; i < n; i++) {
        /* Source offsets from the output's multi-index. */
        int64_t rest = i, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int d = rank - 1; d >= 0; d--) {
          int64_t idx = rest % a_dims[d];
          rest /= a_dims[d];
          ia += idx * sa;
          sa *= a_dims[d];
          int db = d - (rank - b_rank);
          if (db >= 0) {
            ib += (b_dims[db] == 1 ? 0 : idx) * sb;
            sb *= b_dims[db];
          }
        }
        double x = get_value(a, ia), y = get_value(b, ib);
        int want = expected(ops[k], x, y, isnan(x) || isnan(y));
        bad += ((uint8_t *)out->data)[i] != want;
      }
      CHECK(bad == 0);
      kiln_test_tensor_free(out);
    }
    kiln_test_tensor_free(a);
    kiln_test_tensor_free(b);
  }
}

static void test_errors(void) {
  int64_t two[1] = {2}, three[1] = {3};
  kiln_tensor *a = kiln_test_tensor(KILN_FLOAT32, 1, two);
  kiln_tensor *b = kiln_test_tensor(KILN_FLOAT32, 1, three);
  kiln_tensor *c = kiln_test_tensor(KILN_INT32, 1, two);
  kiln_tensor *out = kiln_test_tensor(KILN_BOOL, 0, NULL);
  kiln_tensor *f_out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  CHECK_ERROR(
      kiln_test_run_op(KILN_OP_LESS, NULL, (kiln_tensor *[]){a, b}, 2, &out, 1),
      KILN_ERR_INVALID_ARGUMENT, "do not broadcast");
  CHECK_ERROR(kiln_test_run_op(KILN_OP_EQUAL, NULL, (kiln_tensor *[]){a, c}, 2,
                               &out, 1),
              KILN_ERR_INVALID_MODEL, "input 1 (y) has type int32");
  CHECK_ERROR(kiln_test_run_op(KILN_OP_GREATER, NULL, (kiln_tensor *[]){a, a},
                               2, &f_out, 1),
              KILN_ERR_UNSUPPORTED, "output 0 has type float32");
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(c);
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(f_out);
}

int main(void) {
  kiln_test_seed(5);
  test_random(KILN_FLOAT32);
  test_random(KILN_INT32);
  test_random(KILN_INT64);
  test_random(KILN_BOOL);
  test_errors();
  return kiln_test_finish("test_ref_compare");
}
