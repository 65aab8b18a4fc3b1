/* test_ref_quant_unary_math.c - int16 EXP, LOG and RSQRT (interpolated
 * tables) and int8 / int16 SQRT against the real functions in double, on
 * random scales and stored values: the tables within a few output steps
 * (interpolation between 513 knots, scaled to the function's curvature
 * over one knot interval), SQRT the real root rounded down (within one
 * step below it). Also the refusals: negative RSQRT / SQRT inputs at
 * invoke, uint8 SQRT and asymmetric int16 at prepare. */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "quant_ops_test_util.h"

static void set_stored(qtensor *q, int64_t i, int32_t v) {
  if (q->t->dtype == KILN_INT8)
    ((int8_t *)q->t->data)[i] = (int8_t)v;
  else
    ((int16_t *)q->t->data)[i] = (int16_t)v;
}

static double real_fn(kiln_op_type op, double x) {
  if (op == KILN_OP_EXP) return exp(x);
  if (op == KILN_OP_LOG) return log(x);
  return 1.0 / sqrt(x);
}

/* |f'| at x: the table's knots are 65535 / 512 stored steps apart, not
 * the 128 its lookup assumes, so the input read drifts by up to one
 * stored step across the range. */
static double slope(kiln_op_type op, double x) {
  if (op == KILN_OP_EXP) return exp(x);
  if (op == KILN_OP_LOG) return 1.0 / x;
  return 0.5 * pow(x, -1.5);
}

/* |f''| over [x - h, x + h] at its largest (each function's second
 * derivative is monotone in magnitude on x > 0, and exp's grows). */
static double curvature(kiln_op_type op, double x, double h) {
  if (op == KILN_OP_EXP) return exp(x + h);
  const double lo = x - h;
  if (op == KILN_OP_LOG) return 1.0 / (lo * lo);
  return 0.75 * pow(lo, -2.5);
}

static void test_table16(kiln_op_type op) {
  for (int trial = 0; trial < 20; trial++) {
    int64_t n = kiln_test_int(1, 400);
    /* inputs: EXP over about [-4, 4]; LOG and RSQRT over positive reals
     * at least a few knot intervals above 0 */
    const float s_in = op == KILN_OP_EXP
                           ? 4.0f / 32768 * kiln_test_uniform(0.5f, 1.0f)
                           : 8.0f / 32768 * kiln_test_uniform(0.5f, 1.0f);
    qtensor *x = qt_make(KILN_INT16, 1, &n, s_in, 0);
    const int32_t knot = 128; /* stored steps between table knots */
    for (int64_t i = 0; i < n; i++)
      set_stored(x, i,
                 op == KILN_OP_EXP ? kiln_test_int(-32768, 32767)
                                   : kiln_test_int(8 * knot, 32767));
    double max_out = op == KILN_OP_EXP   ? exp(4.0)
                     : op == KILN_OP_LOG ? 4.0
                                         : 1.0 / sqrt(8 * knot * (double)s_in);
    qtensor *out =
        qt_output(KILN_INT16,
                  (float)(max_out / 32767 * kiln_test_uniform(1.0f, 2.0f)), 0);
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(op, NULL, in, 1, out->t));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
      const double r = real_fn(op, qt_real(x, i));
      const int32_t ideal = qt_ideal(out, r, -32768, 32767);
      /* linear interpolation errs by h^2 |f''| / 8 over a knot interval
       * of h, in output steps, plus the knots' own rounding and the
       * drift of one stored step */
      const double h = knot * (double)s_in, xr = qt_real(x, i);
      const double tol = 2.0 + (h * h * curvature(op, xr, h) / 8.0 +
                                slope(op, xr) * (double)s_in) /
                                   (double)out->scale;
      if (fabs((double)(qt_get(out, i) - ideal)) > tol && bad++ < 3)
        fprintf(stderr, "%s int16 element %lld (x %g): %d, ideal %d\n",
                kiln_op_table[op].name, (long long)i, qt_real(x, i),
                qt_get(out, i), ideal);
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_sqrt(kiln_dtype dtype) {
  int32_t lo, hi;
  qt_range(dtype, &lo, &hi);
  for (int trial = 0; trial < 30; trial++) {
    int64_t n = kiln_test_int(1, 300);
    qtensor *x = qt_random(dtype, 1, &n);
    for (int64_t i = 0; i < n; i++) /* non-negative reals only */
      set_stored(x, i, kiln_test_int((int32_t)x->zero_point, hi));
    const double max_root = sqrt(qt_real(x, 0) + (double)x->scale * (hi - lo));
    qtensor *out = qt_output(
        dtype, (float)(max_root / (hi - lo) * kiln_test_uniform(0.5f, 2.0f)),
        qt_random_zero_point(dtype));
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_SQRT, NULL, in, 1, out->t));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
      const double steps = sqrt(qt_real(x, i)) / (double)out->scale;
      double want = floor(steps) + (double)out->zero_point;
      want = want > hi ? hi : want;
      /* float rounding may put an exact root a hair either side */
      const double got = qt_get(out, i);
      if (!(fabs(got - want) <= (fabs(steps - round(steps)) < 1e-3 ? 1 : 0)) &&
          bad++ < 3)
        fprintf(stderr, "SQRT %s element %lld: %g, want %g\n",
                kiln_dtype_name(dtype), (long long)i, got, want);
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_errors(void) {
  int64_t n = 4;
  qtensor *x = qt_make(KILN_INT16, 1, &n, 0.01f, 0);
  qtensor *out = qt_output(KILN_INT16, 0.01f, 0);
  for (int i = 0; i < 4; i++) set_stored(x, i, 100 * i);
  set_stored(x, 2, -5);
  kiln_tensor *in[1] = {x->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RSQRT, NULL, in, 1, out->t),
              KILN_ERR_RUNTIME, "RSQRT input 0 (x) is negative at element 2");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SQRT, NULL, in, 1, out->t),
              KILN_ERR_RUNTIME, "SQRT input 0 (x) is negative at element 2");
  /* LOG of a real below zero reads the table's floor, no error */
  CHECK_OK(kiln_test_run_op1(KILN_OP_LOG, NULL, in, 1, out->t));
  out->zero_point = 3;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_EXP, NULL, in, 1, out->t),
              KILN_ERR_INVALID_MODEL, "output 0 is int16 with zero point 3");
  qtensor *u = qt_random(KILN_UINT8, 1, &n),
          *uo = qt_output(KILN_UINT8, 0.1f, 0);
  kiln_tensor *uin[1] = {u->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SQRT, NULL, uin, 1, uo->t),
              KILN_ERR_UNSUPPORTED, "quantized SQRT on uint8");
  qt_free(x), qt_free(out), qt_free(u), qt_free(uo);
}

int main(void) {
  kiln_test_seed(0x5947ab);
  test_table16(KILN_OP_EXP);
  test_table16(KILN_OP_LOG);
  test_table16(KILN_OP_RSQRT);
  test_sqrt(KILN_INT8);
  test_sqrt(KILN_INT16);
  test_errors();
  return kiln_test_finish("test_ref_quant_unary_math");
}
