/* test_ref_quant_more.c - the quantized forms added with the float16 work:
 * ELU on int8 (TFLite's table: exactly the float expm1 entry, and within
 * one unit of the real function), GELU on int16 (an interpolated table:
 * as near the real function as linear interpolation allows, over every
 * stored value, both forms), NEG on int8 / int16 (the
 * stored values negated, wrapping, as TFLite whatever the quantization) and
 * LOG_SOFTMAX on int8 / uint8 (within one unit of the real log-softmax
 * requantized at 16/256, zero point at the type's top, and the row maximum
 * mapped to log(1/sum)); then the parameters TFLite refuses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ops.h"
#include "harness.h"
#include "quant_ops_test_util.h"

/* Every stored value of the type once, in order. */
static qtensor *all_values(kiln_dtype dtype, float scale, int64_t zp) {
  int32_t lo, hi;
  qt_range(dtype, &lo, &hi);
  int64_t n = (int64_t)hi - lo + 1;
  qtensor *q = qt_make(dtype, 1, &n, scale, zp);
  for (int64_t i = 0; i < n; i++) {
    int32_t v = lo + (int32_t)i;
    if (dtype == KILN_INT8)
      ((int8_t *)q->t->data)[i] = (int8_t)v;
    else
      ((int16_t *)q->t->data)[i] = (int16_t)v;
  }
  return q;
}

static void test_elu(void) {
  for (int trial = 0; trial < 40; trial++) {
    qtensor *x = all_values(KILN_INT8, qt_random_scale() * 16.0f,
                            qt_random_zero_point(KILN_INT8));
    const float so = qt_random_scale() * 8.0f;
    const int64_t zo = qt_random_zero_point(KILN_INT8);
    qtensor *out = qt_output(KILN_INT8, so, zo);
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_ELU, NULL, in, 1, out->t));
    int bad = 0;
    for (int64_t i = 0; i < 256; i++) {
      const double r = qt_real(x, i);
      const int32_t got = qt_get(out, i);
      const int32_t ideal = qt_ideal(out, r < 0 ? expm1(r) : r, -128, 127);
      /* the table entry in float, as TFLite's LUTPopulate computes it */
      const float xf =
          x->scale * (float)(qt_get(x, i) - (int32_t)x->zero_point);
      const float q =
          roundf((xf < 0 ? expm1f(xf) : xf) * (1.0f / so)) + (float)zo;
      const int32_t exact = q < -128 ? -128 : (q > 127 ? 127 : (int32_t)q);
      if ((got != exact || abs(got - ideal) > 1) && bad++ < 3)
        fprintf(stderr, "ELU q=%d: %d, expected %d (ideal %d)\n", qt_get(x, i),
                got, exact, ideal);
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static double gelu(double x, bool approximate) {
  if (approximate)
    return 0.5 * x *
           (1 + tanh(sqrt(2 / 3.14159265358979323846) *
                     (x + 0.044715 * x * x * x)));
  return 0.5 * x * erfc(-x / sqrt(2.0));
}

static void test_gelu16(void) {
  for (int trial = 0; trial < 8; trial++) {
    const kiln_gelu_attrs attrs = {trial % 2 == 1};
    qtensor *x = all_values(KILN_INT16, kiln_test_uniform(1e-4f, 1e-3f), 0);
    qtensor *out =
        /* an output scale above the input's: gelu(x) <= x never saturates,
         * where clamped table entries would bend the interpolation */
        qt_output(KILN_INT16, x->scale * kiln_test_uniform(1.05f, 2.0f), 0);
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_GELU, &attrs, in, 1, out->t));
    /* linear interpolation over 512 steps errs by at most step^2 / 8 times
     * |gelu''| <= 0.8, plus a unit of rounding on either side */
    const double step = 65535.0 * x->scale / 512.0;
    const int tolerance = 2 + (int)ceil(step * step / 8.0 * 0.8 / out->scale);
    int bad = 0;
    for (int64_t i = 0; i < 65536; i++) {
      const int32_t got = qt_get(out, i);
      const int32_t ideal =
          qt_ideal(out, gelu(qt_real(x, i), attrs.approximate), -32768, 32767);
      if (abs(got - ideal) > tolerance && bad++ < 3)
        fprintf(stderr, "GELU int16 q=%d: %d, ideal %d\n", qt_get(x, i), got,
                ideal);
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_neg(void) {
  const kiln_dtype types[2] = {KILN_INT8, KILN_INT16};
  for (int k = 0; k < 2; k++) {
    qtensor *x = all_values(types[k], 0.05f, k == 0 ? -3 : 0);
    qtensor *out = qt_output(types[k], 0.07f, k == 0 ? 10 : 0);
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_NEG, NULL, in, 1, out->t));
    const int32_t min = k == 0 ? -128 : -32768;
    int bad = 0;
    for (int64_t i = 0; i < kiln_tensor_numel(x->t); i++) {
      const int32_t v = qt_get(x, i);
      if (qt_get(out, i) != (v == min ? min : -v) && bad++ < 3)
        fprintf(stderr, "NEG %d: %d\n", v, qt_get(out, i));
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_log_softmax(void) {
  const kiln_dtype types[2] = {KILN_INT8, KILN_UINT8};
  for (int trial = 0; trial < 60; trial++) {
    const kiln_dtype dtype = types[trial % 2];
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    int64_t dims[3] = {kiln_test_int(1, 4), kiln_test_int(1, 3),
                       kiln_test_int(1, trial % 5 == 0 ? 300 : 12)};
    qtensor *x = qt_random(dtype, 3, dims);
    x->scale = (float)exp2(kiln_test_uniform(-8.0f, 0.5f));
    qtensor *out = qt_output(dtype, 16.0f / 256.0f, hi);
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_LOG_SOFTMAX, NULL, in, 1, out->t));
    const int64_t depth = dims[2], n = kiln_tensor_numel(x->t);
    int bad = 0;
    for (int64_t r = 0; r < n; r += depth) {
      double max = -INFINITY, sum = 0;
      for (int64_t c = r; c < r + depth; c++) max = fmax(max, qt_real(x, c));
      for (int64_t c = r; c < r + depth; c++) sum += exp(qt_real(x, c) - max);
      for (int64_t c = r; c < r + depth; c++) {
        const double want = qt_real(x, c) - max - log(sum);
        const int32_t ideal = qt_ideal(out, want, lo, hi);
        if (abs(qt_get(out, c) - ideal) > 1 && bad++ < 3)
          fprintf(stderr, "LOG_SOFTMAX %s scale %g: %d, ideal %d (%g)\n",
                  kiln_dtype_name(dtype), (double)x->scale, qt_get(out, c),
                  ideal, want);
      }
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_errors(void) {
  int64_t dims[1] = {4};
  qtensor *x8 = qt_random(KILN_INT8, 1, dims);
  qtensor *u8 = qt_random(KILN_UINT8, 1, dims);
  qtensor *x16 = qt_random(KILN_INT16, 1, dims);
  qtensor *o8 = qt_output(KILN_INT8, 16.0f / 256.0f, 127);
  qtensor *ou8 = qt_output(KILN_UINT8, 0.1f, 3);
  qtensor *o16 = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  kiln_tensor *in8[1] = {x8->t}, *inu8[1] = {u8->t}, *in16[1] = {x16->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_ELU, NULL, inu8, 1, ou8->t),
              KILN_ERR_UNSUPPORTED, "ELU on uint8 is not supported");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_LOG_SOFTMAX, NULL, in16, 1, o16->t),
              KILN_ERR_UNSUPPORTED, "LOG_SOFTMAX on int16 is not supported");
  o8->scale = 1.0f / 256.0f;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_LOG_SOFTMAX, NULL, in8, 1, o8->t),
              KILN_ERR_UNSUPPORTED, "requires 16/256 and 127");
  o8->scale = 16.0f / 256.0f, o8->zero_point = 0;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_LOG_SOFTMAX, NULL, in8, 1, o8->t),
              KILN_ERR_UNSUPPORTED, "requires 16/256 and 127");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_LOG_SOFTMAX, NULL, in8, 1, ou8->t),
              KILN_ERR_INVALID_MODEL, "needs int8 like input 0");
  o16->zero_point = 5;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_GELU, NULL, in16, 1, o16->t),
              KILN_ERR_INVALID_MODEL, "zero point");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_NEG, NULL, in8, 1, o16->t),
              KILN_ERR_INVALID_MODEL, "output 0 has type int16");
  qt_free(x8), qt_free(u8), qt_free(x16), qt_free(o8), qt_free(ou8);
  qt_free(o16);
}

int main(void) {
  kiln_test_seed(0x5eed);
  test_elu();
  test_gelu16();
  test_neg();
  test_log_softmax();
  test_errors();
  return kiln_test_finish("test_ref_quant_more");
}
