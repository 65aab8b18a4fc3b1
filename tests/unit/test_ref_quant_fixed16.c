/* test_ref_quant_fixed16.c - the int16 fixed-point logistic and tanh of
 * TFLite's integer LSTM (kernels/ref/quant_fixed16.c) against the real
 * functions computed in double, over every int16 input: within a few
 * steps of Q0.15 (gemmlowp's 16-bit polynomial, barrel-shifter constants
 * and Newton steps each round, so the results are neither correctly
 * rounded nor strictly monotone; a wrong constant, shift or wrap is off by
 * hundreds), and with the exact symmetries gemmlowp's construction gives;
 * the rounding doubling high multiply against its definition. Equality
 * with LiteRT itself is the e2e test's (tests/e2e/test_int8_lstm.py). */
#include <math.h>
#include <stdio.h>

#include "harness.h"
#include "kernels/ref/quant_fixed16.h"

/* Bounds on the error of gemmlowp's int16 forms, in steps of 2^-15 (over
 * all inputs they reach 6 and 12). */
enum { LOGISTIC_TOLERANCE = 8, TANH_TOLERANCE = 16 };

static double q15(double v) { return v * 32768.0; }

static void test_logistic(void) {
  int worst = 0;
  for (int32_t x = INT16_MIN; x <= INT16_MAX; x++) {
    int16_t got = kiln_fx16_logistic_q3((int16_t)x);
    double want = q15(1.0 / (1.0 + exp(-(double)x / 4096.0)));
    if (want > 32767.0) want = 32767.0;
    int err = (int)fabs(got - want);
    if (err > worst) worst = err;
    CHECK(got >= 0);
    if (x > INT16_MIN && x != 0)
      CHECK(kiln_fx16_logistic_q3((int16_t)-x) == (int16_t)(32767 - got));
  }
  CHECK(kiln_fx16_logistic_q3(0) == 16384);
  if (worst > LOGISTIC_TOLERANCE) printf("logistic: worst error %d\n", worst);
  CHECK(worst <= LOGISTIC_TOLERANCE);
}

static void test_tanh(void) {
  for (int bits = 0; bits <= 6; bits++) {
    int worst = 0;
    double unit = ldexp(1.0, 15 - bits);
    for (int32_t x = INT16_MIN; x <= INT16_MAX; x++) {
      int16_t got = kiln_fx16_tanh((int16_t)x, bits);
      double want = q15(tanh((double)x / unit));
      if (want > 32767.0) want = 32767.0;
      int err = (int)fabs(got - want);
      if (err > worst) worst = err;
      if (x > INT16_MIN) CHECK(kiln_fx16_tanh((int16_t)-x, bits) == -got);
    }
    CHECK(kiln_fx16_tanh(0, bits) == 0);
    if (worst > TANH_TOLERANCE)
      printf("tanh with %d integer bits: worst error %d\n", bits, worst);
    CHECK(worst <= TANH_TOLERANCE);
  }
}

static void test_srdhm(void) {
  for (int i = 0; i < 200000; i++) {
    int16_t a = (int16_t)kiln_test_int(INT16_MIN, INT16_MAX);
    int16_t b = (int16_t)kiln_test_int(INT16_MIN, INT16_MAX);
    if (i == 0) a = b = INT16_MIN;
    double exact = (double)a * b / 32768.0;
    /* nearest, ties toward +infinity; -1 * -1 saturates */
    double want = floor(exact + 0.5);
    if (want > 32767.0) want = 32767.0;
    CHECK(kiln_fx16_srdhm(a, b) == (int16_t)want);
  }
}

int main(void) {
  kiln_test_seed(2027);
  test_logistic();
  test_tanh();
  test_srdhm();
  return kiln_test_finish("test_ref_quant_fixed16");
}
