/* test_ref_logical.c - LOGICAL_AND, LOGICAL_OR, LOGICAL_NOT and SELECT (the
 * first version: condition of the values' shape, scalar, or 1-D over their
 * first dimension) against per-element truth computed here, on random
 * shapes with broadcasting and empty dims, SELECT in every type it takes;
 * then bad inputs. */
#include <stdio.h>
#include <string.h>

#include "ops_test_util.h"

static void test_and_or(void) {
  for (int rep = 0; rep < 60; rep++) {
    bool is_and = rep % 2 == 0;
    tshape sa, sb;
    random_broadcast_pair(&sa, &sb);
    tshape so = broadcast_of(&sa, &sb);
    kiln_tensor *a = tensor_of(KILN_BOOL, &sa), *b = tensor_of(KILN_BOOL, &sb);
    kiln_tensor *out = kiln_test_tensor(KILN_BOOL, 0, NULL);
    fill_random(a, 0, 1);
    fill_random(b, 0, 1);
    kiln_tensor *in[2] = {a, b};
    CHECK_OK(run_poisoned(is_and ? KILN_OP_LOGICAL_AND : KILN_OP_LOGICAL_OR,
                          NULL, in, 2, out));
    int bad = !tensor_has_tshape(out, &so);
    for (int64_t f = 0; !bad && f < tshape_numel(&so); f++) {
      int64_t x = geti(a, broadcast_source(&so, &sa, f)),
              y = geti(b, broadcast_source(&so, &sb, f));
      bad += geti(out, f) != (is_and ? (x & y) : (x | y));
    }
    CHECK(bad == 0);
    kiln_tensor *all[3] = {a, b, out};
    kiln_test_tensors_free(all, 3);
  }
  /* NOT, and any non-zero byte reads as true */
  for (int rep = 0; rep < 10; rep++) {
    tshape s = random_tshape(4, 8);
    kiln_tensor *x = tensor_of(KILN_BOOL, &s);
    kiln_tensor *out = kiln_test_tensor(KILN_BOOL, 0, NULL);
    for (int64_t i = 0; i < tshape_numel(&s); i++)
      ((uint8_t *)x->data)[i] = (uint8_t)kiln_test_int(0, 3);
    CHECK_OK(run_poisoned(KILN_OP_LOGICAL_NOT, NULL, &x, 1, out));
    int bad = !tensor_has_tshape(out, &s);
    for (int64_t i = 0; !bad && i < tshape_numel(&s); i++)
      bad += geti(out, i) != (((uint8_t *)x->data)[i] == 0);
    CHECK(bad == 0);
    kiln_test_tensor_free(x);
    kiln_test_tensor_free(out);
  }
}

static const kiln_dtype kSelectTypes[] = {
    KILN_FLOAT32, KILN_INT32,  KILN_INT64,    KILN_INT8,    KILN_UINT8,
    KILN_INT16,   KILN_BOOL,   KILN_FLOAT16,  KILN_FLOAT64, KILN_UINT16,
    KILN_UINT32,  KILN_UINT64, KILN_COMPLEX64};

/* Random bytes in every element (bool: 0 or 1), so each copied element is
 * checked whole whatever its type. */
static void fill_bytes(kiln_tensor *t) {
  size_t elem = kiln_dtype_size(t->dtype);
  unsigned char *p = t->data;
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++)
    for (size_t b = 0; b < elem; b++)
      p[(size_t)i * elem + b] = t->dtype == KILN_BOOL && b == 0
                                    ? (unsigned char)kiln_test_int(0, 1)
                                    : (unsigned char)kiln_test_int(0, 255);
}

/* kind 0: the condition has the values' shape; 1: scalar; 2: 1-D rows. */
static void test_select_case(kiln_dtype t, int kind) {
  tshape s = random_tshape(4, 8);
  if (kind == 2 && s.rank == 0) s.rank = 1, s.dims[0] = 3;
  tshape sc = s;
  if (kind == 1) sc.rank = 0;
  if (kind == 2) sc.rank = 1;
  kiln_tensor *c = tensor_of(KILN_BOOL, &sc);
  kiln_tensor *x = tensor_of(t, &s), *y = tensor_of(t, &s);
  kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
  fill_random(c, 0, 1);
  fill_bytes(x);
  fill_bytes(y);
  kiln_tensor *in[3] = {c, x, y};
  CHECK_OK(run_poisoned(KILN_OP_SELECT, NULL, in, 3, out));
  int bad = !tensor_has_tshape(out, &s);
  int64_t n = tshape_numel(&s);
  int64_t row = 1;
  size_t elem = kiln_dtype_size(t);
  for (int d = 1; d < s.rank; d++) row *= s.dims[d];
  for (int64_t i = 0; !bad && i < n; i++) {
    int64_t ci = kind == 0 ? i : (kind == 1 ? 0 : i / row);
    const kiln_tensor *src = geti(c, ci) ? x : y;
    bad += memcmp((const char *)out->data + (size_t)i * elem,
                  (const char *)src->data + (size_t)i * elem, elem) != 0;
  }
  if (bad)
    fprintf(stderr, "SELECT %s kind %d: %d wrong\n", kiln_dtype_name(t), kind,
            bad);
  CHECK(bad == 0);
  kiln_tensor *all[4] = {c, x, y, out};
  kiln_test_tensors_free(all, 4);
}

static void test_select(void) {
  for (size_t t = 0; t < sizeof kSelectTypes / sizeof kSelectTypes[0]; t++)
    for (int kind = 0; kind < 3; kind++)
      for (int rep = 0; rep < 6; rep++) test_select_case(kSelectTypes[t], kind);
}

static void test_errors(void) {
  int64_t d3[1] = {3}, d4[1] = {4}, d23[2] = {2, 3}, d32[2] = {3, 2};
  kiln_tensor *b3 = kiln_test_tensor(KILN_BOOL, 1, d3);
  kiln_tensor *b4 = kiln_test_tensor(KILN_BOOL, 1, d4);
  kiln_tensor *b23 = kiln_test_tensor(KILN_BOOL, 2, d23);
  kiln_tensor *f3 = kiln_test_tensor(KILN_FLOAT32, 1, d3);
  kiln_tensor *f23 = kiln_test_tensor(KILN_FLOAT32, 2, d23);
  kiln_tensor *f32 = kiln_test_tensor(KILN_FLOAT32, 2, d32);
  kiln_tensor *i3 = kiln_test_tensor(KILN_INT32, 1, d3);
  kiln_tensor *bo = kiln_test_tensor(KILN_BOOL, 0, NULL);
  kiln_tensor *fo = kiln_test_tensor(KILN_FLOAT32, 0, NULL);

  CHECK_ERROR(
      shape_only(KILN_OP_LOGICAL_AND, NULL, (kiln_tensor *[]){f3, f3}, 2, bo),
      KILN_ERR_UNSUPPORTED, "input 0 (x) has type float32");
  CHECK_ERROR(
      shape_only(KILN_OP_LOGICAL_OR, NULL, (kiln_tensor *[]){b3, b4}, 2, bo),
      KILN_ERR_INVALID_ARGUMENT, "[3] and [4] do not broadcast");
  CHECK_ERROR(
      shape_only(KILN_OP_LOGICAL_OR, NULL, (kiln_tensor *[]){b3, b3}, 2, fo),
      KILN_ERR_INVALID_MODEL, "output 0 has type float32");
  CHECK_ERROR(shape_only(KILN_OP_LOGICAL_NOT, NULL, &i3, 1, bo),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type int32");
  CHECK_ERROR(
      shape_only(KILN_OP_SELECT, NULL, (kiln_tensor *[]){f3, f3, f3}, 3, fo),
      KILN_ERR_UNSUPPORTED, "input 0 (condition) has type float32");
  CHECK_ERROR(
      shape_only(KILN_OP_SELECT, NULL, (kiln_tensor *[]){b3, f3, i3}, 3, fo),
      KILN_ERR_INVALID_MODEL, "they must match");
  CHECK_ERROR(
      shape_only(KILN_OP_SELECT, NULL, (kiln_tensor *[]){b3, f23, f32}, 3, fo),
      KILN_ERR_INVALID_ARGUMENT, "SELECT needs equal shapes");
  /* [3] is not [2,3]'s first dimension; [2,3] and [3,2] are not equal */
  CHECK_ERROR(
      shape_only(KILN_OP_SELECT, NULL, (kiln_tensor *[]){b3, f23, f23}, 3, fo),
      KILN_ERR_INVALID_ARGUMENT, "input 0 (condition) has shape [3]");
  CHECK_ERROR(
      shape_only(KILN_OP_SELECT, NULL, (kiln_tensor *[]){b23, f32, f32}, 3, fo),
      KILN_ERR_INVALID_ARGUMENT, "be 1-D of its first dimension");
  CHECK_ERROR(
      shape_only(KILN_OP_SELECT, NULL, (kiln_tensor *[]){b3, NULL, f3}, 3, fo),
      KILN_ERR_INVALID_MODEL, "input 1 (x) is missing");

  kiln_tensor *all[] = {b3, b4, b23, f3, f23, f32, i3, bo, fo};
  kiln_test_tensors_free(all, (int)(sizeof all / sizeof all[0]));
}

int main(void) {
  kiln_test_seed(9002);
  test_and_or();
  test_select();
  test_errors();
  return kiln_test_finish("test_ref_logical");
}
