/* test_ref_quant_div.c - quantized DIV (uint8, int8, int16) on random
 * broadcast shapes, scales, zero points and fused activations against the
 * real quotient in double: within one unit of the ideal requantized value.
 * Also the behaviour kiln copies from LiteRT where its fixed-point code
 * shifts by 32 bits or more (a dividend of 0 or -1 over a large divisor),
 * and the errors: a divisor holding its zero point, mixed types. */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "quant_ops_test_util.h"

/* Offset into `in` of output element i, broadcasting in's trailing dims. */
static int64_t bcast_index(const kiln_tensor *in, const kiln_tensor *out,
                           int64_t i) {
  int64_t idx = 0, stride = 1;
  for (int d = out->rank - 1; d >= 0; d--) {
    int64_t coord = i % out->dims[d];
    i /= out->dims[d];
    int k = d - (out->rank - in->rank);
    if (k < 0) continue;
    if (in->dims[k] != 1) idx += coord * stride;
    stride *= in->dims[k];
  }
  return idx;
}

static void set_stored(qtensor *q, int64_t i, int32_t v) {
  if (q->t->dtype == KILN_INT8)
    ((int8_t *)q->t->data)[i] = (int8_t)v;
  else if (q->t->dtype == KILN_UINT8)
    ((uint8_t *)q->t->data)[i] = (uint8_t)v;
  else
    ((int16_t *)q->t->data)[i] = (int16_t)v;
}

static void test_div(kiln_dtype dtype) {
  int32_t lo, hi;
  qt_range(dtype, &lo, &hi);
  for (int trial = 0; trial < 40; trial++) {
    int ra = kiln_test_int(1, 4), rb = kiln_test_int(0, ra);
    int64_t da[KILN_MAX_RANK], db[KILN_MAX_RANK];
    for (int d = 0; d < ra; d++) da[d] = kiln_test_int(1, 5);
    for (int d = 0; d < rb; d++)
      db[d] = kiln_test_int(0, 2) ? da[ra - rb + d] : 1;
    qtensor *a = qt_random(dtype, ra, da), *b = qt_random(dtype, rb, db);
    /* Divisors at least a tenth of their range from real zero, dividends
     * at least 2 units from it: LiteRT's code misbehaves (and kiln with
     * it, test_litert_shift below) for a dividend of 0 or -1. */
    const int32_t margin = (hi - lo) / 10;
    for (int64_t i = 0; i < kiln_tensor_numel(b->t); i++) {
      int32_t v = qt_get(b, i);
      if (abs(v - (int32_t)b->zero_point) < margin)
        v = (int32_t)b->zero_point + (v >= b->zero_point ? margin : -margin);
      set_stored(b, i, v < lo ? lo : (v > hi ? hi : v));
    }
    for (int64_t i = 0; i < kiln_tensor_numel(a->t); i++) {
      int32_t v = qt_get(a, i);
      if (abs(v - (int32_t)a->zero_point) < 2) v = (int32_t)a->zero_point + 2;
      set_stored(a, i, v);
    }
    /* an output scale that holds most quotients */
    const double max_q =
        (double)a->scale * (hi - lo) / ((double)b->scale * margin);
    const float so =
        (float)(max_q / (hi - lo) * kiln_test_uniform(0.05f, 1.0f));
    qtensor *out = qt_output(dtype, so, qt_random_zero_point(dtype));
    const kiln_activation acts[4] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                     KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
    kiln_activation_attrs attrs = {acts[kiln_test_int(0, 3)]};
    kiln_tensor *in[2] = {a->t, b->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_DIV, &attrs, in, 2, out->t));
    double alo = -INFINITY, ahi = INFINITY;
    if (attrs.activation != KILN_ACT_NONE)
      alo = attrs.activation == KILN_ACT_RELU_N1_TO_1 ? -1 : 0;
    if (attrs.activation == KILN_ACT_RELU6) ahi = 6;
    if (attrs.activation == KILN_ACT_RELU_N1_TO_1) ahi = 1;
    int64_t n = kiln_tensor_numel(out->t), bad = 0;
    for (int64_t i = 0; i < n; i++) {
      double r = qt_real(a, bcast_index(a->t, out->t, i)) /
                 qt_real(b, bcast_index(b->t, out->t, i));
      r = fmin(fmax(r, alo), ahi);
      const int32_t ideal = qt_ideal(out, r, lo, hi), got = qt_get(out, i);
      if (abs(got - ideal) > 1 && bad++ < 3)
        fprintf(stderr, "DIV %s element %lld: %d, ideal %d (real %g)\n",
                kiln_dtype_name(dtype), (long long)i, got, ideal, r);
    }
    CHECK(bad == 0);
    qt_free(a), qt_free(b), qt_free(out);
  }
}

/* LiteRT shifts a dividend of 0 or -1 left by 31 bits and then right by 32
 * or more, which x86 takes mod 32: a zero dividend comes out one unit above
 * the output zero point, -1 as the type's minimum (0 at the output's zero
 * point is what the arithmetic means; kiln follows LiteRT). */
static void test_litert_shift(void) {
  int64_t two = 2, one = 1;
  qtensor *a = qt_make(KILN_INT8, 1, &two, 0.05f, -3);
  qtensor *b = qt_make(KILN_INT8, 1, &one, 0.03f, 0);
  qtensor *out = qt_output(KILN_INT8, 0.07f, 10);
  set_stored(a, 0, -3); /* real 0 */
  set_stored(a, 1, -4); /* offset -1 */
  set_stored(b, 0, 77);
  kiln_activation_attrs none = {KILN_ACT_NONE};
  kiln_tensor *in[2] = {a->t, b->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_DIV, &none, in, 2, out->t));
  CHECK(qt_get(out, 0) == 11 && qt_get(out, 1) == -128);
  /* a small divisor keeps the shift below 32: exact */
  set_stored(b, 0, 2);
  CHECK_OK(kiln_test_run_op1(KILN_OP_DIV, &none, in, 2, out->t));
  CHECK(qt_get(out, 0) == 10);
  qt_free(a), qt_free(b), qt_free(out);
}

static void test_errors(void) {
  int64_t dims[2] = {2, 3};
  qtensor *a = qt_random(KILN_UINT8, 2, dims),
          *b = qt_random(KILN_UINT8, 2, dims);
  qtensor *out = qt_output(KILN_UINT8, 0.1f, 3);
  kiln_tensor *in[2] = {a->t, b->t};
  kiln_activation_attrs none = {KILN_ACT_NONE};
  for (int64_t i = 0; i < 6; i++) set_stored(b, i, 200);
  set_stored(b, 4, (int32_t)b->zero_point);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_DIV, &none, in, 2, out->t),
              KILN_ERR_RUNTIME, "at element 4: division by zero");
  qtensor *c = qt_random(KILN_INT8, 2, dims);
  kiln_tensor *mixed[2] = {a->t, c->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_DIV, &none, mixed, 2, out->t),
              KILN_ERR_INVALID_MODEL, "quantized DIV needs one type");
  kiln_activation_attrs tanh_act = {KILN_ACT_TANH};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_DIV, &tanh_act, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "");
  out->t->quant = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_DIV, &none, in, 2, out->t),
              KILN_ERR_INVALID_MODEL, "output 0 of type uint8 has no quant");
  qt_free(a), qt_free(b), qt_free(c), qt_free(out);
}

int main(void) {
  kiln_test_seed(0xd1f1de);
  for (int t = 0; t < 3; t++) test_div(qt_types[t]);
  test_litert_shift();
  test_errors();
  return kiln_test_finish("test_ref_quant_div");
}
