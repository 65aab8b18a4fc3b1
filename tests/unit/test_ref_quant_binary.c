/* test_ref_quant_binary.c - quantized ADD, SUB, MUL, SQUARED_DIFFERENCE,
 * MAXIMUM, MINIMUM, PRELU and the comparisons on random shapes, scales and
 * zero points against the real arithmetic in double: the fixed-point
 * results must be within one unit of the ideal requantized value (exact
 * for MAXIMUM / MINIMUM, and for comparisons whose operands are not within
 * a rounding step of each other), and bad quantization must be refused
 * with a clear message. Bit-exactness with LiteRT is tests/e2e's job. */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "quant_ops_test_util.h"

/* Random broadcast-compatible shapes: b is a's trailing dims, some 1. */
static void random_shapes(int *ra, int64_t *a, int *rb, int64_t *b) {
  *ra = kiln_test_int(1, 4);
  for (int i = 0; i < *ra; i++) a[i] = kiln_test_int(1, 5);
  *rb = kiln_test_int(0, *ra);
  for (int i = 0; i < *rb; i++)
    b[i] = kiln_test_int(0, 2) == 0 ? 1 : a[*ra - *rb + i];
  if (kiln_test_int(0, 1)) { /* swap sides */
    int64_t t[KILN_MAX_RANK];
    int r = *ra;
    memcpy(t, a, sizeof t);
    memcpy(a, b, sizeof t);
    memcpy(b, t, sizeof t);
    *ra = *rb;
    *rb = r;
  }
}

/* Offset into an input of shape (r, d) of output index `i` in out (broadcast).
 */
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

static double real_op(kiln_op_type op, double a, double b) {
  switch (op) {
    case KILN_OP_ADD:
      return a + b;
    case KILN_OP_SUB:
      return a - b;
    case KILN_OP_MUL:
      return a * b;
    case KILN_OP_SQUARED_DIFFERENCE:
      return (a - b) * (a - b);
    case KILN_OP_PRELU:
      return a >= 0 ? a : a * b;
    default:
      return 0;
  }
}

/* The clamp of a fused activation in real terms. */
static void act_bounds(kiln_activation act, double *lo, double *hi) {
  *lo = -INFINITY, *hi = INFINITY;
  if (act == KILN_ACT_RELU) *lo = 0;
  if (act == KILN_ACT_RELU6) *lo = 0, *hi = 6;
  if (act == KILN_ACT_RELU_N1_TO_1) *lo = -1, *hi = 1;
}

static void test_arith(kiln_op_type op, kiln_dtype dtype, int trials) {
  for (int trial = 0; trial < trials; trial++) {
    int ra, rb;
    int64_t da[KILN_MAX_RANK], db[KILN_MAX_RANK];
    random_shapes(&ra, da, &rb, db);
    qtensor *a = qt_random(dtype, ra, da), *b = qt_random(dtype, rb, db);
    /* An output scale that fits the result's range, give or take. */
    double span = 0;
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    double ma = a->scale * (hi - lo), mb = b->scale * (hi - lo);
    span = op == KILN_OP_MUL                  ? ma * mb / 2
           : op == KILN_OP_SQUARED_DIFFERENCE ? (ma + mb) * (ma + mb) / 4
           : op == KILN_OP_PRELU              ? ma
                                              : ma + mb;
    float so = (float)(span / (hi - lo) * kiln_test_uniform(0.5f, 1.5f));
    qtensor *out = qt_output(dtype, so, qt_random_zero_point(dtype));
    kiln_activation_attrs attrs = {KILN_ACT_NONE};
    const kiln_activation acts[4] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                     KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
    if (op == KILN_OP_ADD || op == KILN_OP_SUB || op == KILN_OP_MUL)
      attrs.activation = acts[kiln_test_int(0, 3)];
    kiln_tensor *in[2] = {a->t, b->t};
    CHECK_OK(kiln_test_run_op1(op, &attrs, in, 2, out->t));
    double alo, ahi;
    act_bounds(attrs.activation, &alo, &ahi);
    int64_t n = kiln_tensor_numel(out->t), bad = 0;
    for (int64_t i = 0; i < n; i++) {
      double r = real_op(op, qt_real(a, bcast_index(a->t, out->t, i)),
                         qt_real(b, bcast_index(b->t, out->t, i)));
      r = fmin(fmax(r, alo), ahi);
      int32_t ideal = qt_ideal(out, r, lo, hi);
      /* The activation bounds are quantized too: clamp the ideal there. */
      int32_t got = qt_get(out, i);
      if (abs(got - ideal) > 1 && bad++ < 3)
        fprintf(stderr, "%s %s element %lld: %d, ideal %d (real %g)\n",
                kiln_op_table[op].name, kiln_dtype_name(dtype), (long long)i,
                got, ideal, r);
    }
    CHECK(bad == 0);
    qt_free(a), qt_free(b), qt_free(out);
  }
}

static void test_max_min(kiln_dtype dtype) {
  for (int trial = 0; trial < 20; trial++) {
    int ra, rb;
    int64_t da[KILN_MAX_RANK], db[KILN_MAX_RANK];
    random_shapes(&ra, da, &rb, db);
    qtensor *a = qt_random(dtype, ra, da), *b = qt_random(dtype, rb, db);
    kiln_op_type op = trial % 2 ? KILN_OP_MAXIMUM : KILN_OP_MINIMUM;
    qtensor *out = qt_output(dtype, a->scale, a->zero_point);
    kiln_tensor *in[2] = {a->t, b->t};
    CHECK_OK(kiln_test_run_op1(op, NULL, in, 2, out->t));
    int64_t n = kiln_tensor_numel(out->t), bad = 0;
    for (int64_t i = 0; i < n; i++) {
      int32_t x = qt_get(a, bcast_index(a->t, out->t, i));
      int32_t y = qt_get(b, bcast_index(b->t, out->t, i));
      int32_t want = op == KILN_OP_MAXIMUM ? (x > y ? x : y) : (x < y ? x : y);
      bad += qt_get(out, i) != want;
    }
    CHECK(bad == 0);
    qt_free(a), qt_free(b), qt_free(out);
  }
}

static void test_compare(kiln_dtype dtype) {
  const kiln_op_type ops[6] = {KILN_OP_LESS,    KILN_OP_LESS_EQUAL,
                               KILN_OP_GREATER, KILN_OP_GREATER_EQUAL,
                               KILN_OP_EQUAL,   KILN_OP_NOT_EQUAL};
  for (int trial = 0; trial < 30; trial++) {
    int ra, rb;
    int64_t da[KILN_MAX_RANK], db[KILN_MAX_RANK];
    random_shapes(&ra, da, &rb, db);
    qtensor *a = qt_random(dtype, ra, da), *b = qt_random(dtype, rb, db);
    if (trial % 3 == 0) { /* equal scales: equal reals must compare equal */
      b->scale = a->scale;
      b->zero_point = a->zero_point;
    }
    kiln_op_type op = ops[trial % 6];
    int64_t one = 1;
    kiln_tensor *out = kiln_test_tensor(KILN_BOOL, 1, &one);
    kiln_tensor *in[2] = {a->t, b->t};
    CHECK_OK(kiln_test_run_op1(op, NULL, in, 2, out));
    int64_t n = kiln_tensor_numel(out), bad = 0;
    for (int64_t i = 0; i < n; i++) {
      double x = qt_real(a, bcast_index(a->t, out, i));
      double y = qt_real(b, bcast_index(b->t, out, i));
      /* int16 compares stored values; 8-bit ones compare their reals
       * rounded to multiples of 2^-8 (value << 8 times the scale), so
       * reals closer than that may tie either way. */
      if (dtype == KILN_INT16) {
        x = qt_get(a, bcast_index(a->t, out, i));
        y = qt_get(b, bcast_index(b->t, out, i));
      } else if (x != y && fabs(x - y) < 1.01 / 256.0) {
        continue;
      }
      bool want = op == KILN_OP_LESS            ? x < y
                  : op == KILN_OP_LESS_EQUAL    ? x <= y
                  : op == KILN_OP_GREATER       ? x > y
                  : op == KILN_OP_GREATER_EQUAL ? x >= y
                  : op == KILN_OP_EQUAL         ? x == y
                                                : x != y;
      if (((const uint8_t *)out->data)[i] != want && bad++ < 3)
        fprintf(stderr, "%s %s: %.9g vs %.9g gave %d (scales %g %g)\n",
                kiln_op_table[op].name, kiln_dtype_name(dtype), x, y,
                ((const uint8_t *)out->data)[i], (double)a->scale,
                (double)b->scale);
    }
    CHECK(bad == 0);
    qt_free(a), qt_free(b);
    kiln_test_tensor_free(out);
  }
}

static void test_errors(void) {
  int64_t dims[2] = {2, 3};
  qtensor *a = qt_random(KILN_INT8, 2, dims),
          *b = qt_random(KILN_INT8, 2, dims);
  qtensor *out = qt_output(KILN_INT8, 0.1f, 0);
  kiln_tensor *in[2] = {a->t, b->t};
  kiln_activation_attrs none = {KILN_ACT_NONE};
  /* zero point outside int8 */
  out->zero_point = 300;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_ADD, &none, in, 2, out->t),
              KILN_ERR_INVALID_MODEL, "output 0 has zero point 300");
  out->zero_point = 0;
  /* non-positive scale */
  b->scale = 0.0f;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_MUL, &none, in, 2, out->t),
              KILN_ERR_INVALID_MODEL, "input 1 (y) has quantization scale 0");
  b->scale = 0.5f;
  /* per-channel parameters */
  float scales[3] = {0.1f, 0.2f, 0.3f};
  int64_t zps[3] = {0, 0, 0};
  kiln_quant_info per_channel = {3, scales, zps, 1};
  b->t->quant = &per_channel;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SUB, &none, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "per-channel");
  b->t->quant = &b->info;
  /* an output without parameters */
  out->t->quant = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_ADD, &none, in, 2, out->t),
              KILN_ERR_INVALID_MODEL, "output 0 of type int8 has no quant");
  out->t->quant = &out->info;
  /* a fused activation that is no clamp */
  kiln_activation_attrs tanh_act = {KILN_ACT_TANH};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_ADD, &tanh_act, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "");
  /* mixed types */
  qtensor *c = qt_random(KILN_UINT8, 2, dims);
  kiln_tensor *mixed[2] = {a->t, c->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_ADD, &none, mixed, 2, out->t),
              KILN_ERR_INVALID_MODEL, "quantized ADD needs one type");
  /* SQUARED_DIFFERENCE has no uint8 form */
  qtensor *u1 = qt_random(KILN_UINT8, 2, dims),
          *u2 = qt_random(KILN_UINT8, 2, dims);
  qtensor *uo = qt_output(KILN_UINT8, 0.1f, 3);
  kiln_tensor *uin[2] = {u1->t, u2->t};
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_SQUARED_DIFFERENCE, NULL, uin, 2, uo->t),
      KILN_ERR_UNSUPPORTED, "SQUARED_DIFFERENCE on uint8");
  qt_free(u1), qt_free(u2), qt_free(uo);
  /* (quantized DIV and its errors: test_ref_quant_div.c) */
  qt_free(a), qt_free(b), qt_free(c), qt_free(out);
}

/* TFLite's MUL forms its rescale s1 * s2 / so in float before widening it
 * to double; a product within a hair of a rounding tie shows which one ran.
 * The scales are a converter-made 16x8 model's (0.5 rounds down with the
 * float ratio, up with the double one), and the expected value is the
 * product times the float ratio, rounded. */
static void test_mul_rescale_in_float(void) {
  const int64_t one = 1;
  const float sa = 9.155513544101268e-05f, sb = 7.628308958373964e-05f,
              so = 0.00013627404405269772f;
  qtensor *a = qt_make(KILN_INT16, 1, &one, sa, 0),
          *b = qt_make(KILN_INT16, 1, &one, sb, 0);
  qtensor *out = qt_output(KILN_INT16, so, 0);
  ((int16_t *)a->t->data)[0] = -17316;
  ((int16_t *)b->t->data)[0] = -28517;
  kiln_activation_attrs none = {KILN_ACT_NONE};
  kiln_tensor *in[2] = {a->t, b->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_MUL, &none, in, 2, out->t));
  const float ratio = sa * sb / so;
  const double product = -17316.0 * -28517.0 * (double)ratio;
  CHECK(qt_get(out, 0) == (int32_t)lround(product));
  qt_free(a), qt_free(b), qt_free(out);
}

int main(void) {
  kiln_test_seed(0x9a17b1);
  const kiln_op_type arith[5] = {KILN_OP_ADD, KILN_OP_SUB, KILN_OP_MUL,
                                 KILN_OP_SQUARED_DIFFERENCE, KILN_OP_PRELU};
  for (int t = 0; t < 3; t++) {
    for (int k = 0; k < 5; k++) {
      /* TFLite's SQUARED_DIFFERENCE has no shift for int16 (coarse) and
       * no uint8 form. */
      if (arith[k] == KILN_OP_SQUARED_DIFFERENCE && qt_types[t] != KILN_INT8)
        continue;
      test_arith(arith[k], qt_types[t], 25);
    }
    test_max_min(qt_types[t]);
    test_compare(qt_types[t]);
  }
  test_errors();
  test_mul_rescale_in_float();
  return kiln_test_finish("test_ref_quant_binary");
}
