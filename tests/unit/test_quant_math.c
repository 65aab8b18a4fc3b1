/* test_quant_math.c - quant_math.h's fixed-point helpers against the same
 * quantities computed in long double (exact for these magnitudes) with
 * explicit rounding rules, over random and edge-case arguments. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/status.h"
#include "harness.h"
#include "kernels/ref/quant_math.h"

static int64_t rand_i64(int64_t lo, int64_t hi) {
  uint64_t r = ((uint64_t)kiln_test_rand() << 32) | kiln_test_rand();
  return lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
}

static int32_t rand_i32(void) { return (int32_t)kiln_test_rand(); }

/* ---- oracles ---- */

/* a*b/2^31, nearest, ties toward +infinity; exact in long double. */
static int32_t ref_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  long double v = (long double)a * (long double)b / 2147483648.0L;
  return (int32_t)floorl(v + 0.5L);
}

/* x/2^e, nearest, ties away from zero. */
static int32_t ref_rdbpot(int32_t x, int e) {
  return (int32_t)roundl((long double)x / ldexpl(1.0L, e));
}

static int32_t ref_mbqm(int32_t x, int32_t m, int shift) {
  int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int32_t shifted = (int32_t)(uint32_t)((uint32_t)x << left);
  return ref_rdbpot(ref_srdhm(shifted, m), right);
}

static int32_t ref_mbqm64(int64_t x, int32_t m, int shift) {
  /* The multiplier rounded to Q15 (ties up, m >= 0), capped at 0x7FFF. */
  long double reduced =
      m >= 0x7FFF0000 ? 32767.0L : floorl((long double)m / 65536.0L + 0.5L);
  long double v = (long double)x * reduced / ldexpl(1.0L, 15 - shift);
  return (int32_t)floorl(v + 0.5L);
}

/* ---- tests ---- */

static void test_quantize_multiplier(void) {
  int32_t q;
  int shift;
  kiln_quantize_multiplier(0.0, &q, &shift);
  CHECK(q == 0 && shift == 0);
  kiln_quantize_multiplier(-1.0, &q, &shift);
  CHECK(q == 0 && shift == 0);
  kiln_quantize_multiplier(ldexp(1.0, -40), &q, &shift); /* below 2^-32 */
  CHECK(q == 0 && shift == 0);
  /* Above 2^30 (a fuzzed file's scale of 1e30): saturated, as TFLite does,
   * so no kernel shifts by 32 bits or more. */
  kiln_quantize_multiplier(1e30, &q, &shift);
  CHECK(q == INT32_MAX && shift == 30);
  kiln_quantize_multiplier(1.0, &q, &shift);
  CHECK(q == (1 << 30) && shift == 1);
  kiln_quantize_multiplier(0.5, &q, &shift);
  CHECK(q == (1 << 30) && shift == 0);
  /* Just under 1: the Q31 fraction rounds to 2^31 and is renormalized. */
  kiln_quantize_multiplier(1.0 - ldexp(1.0, -40), &q, &shift);
  CHECK(q == (1 << 30) && shift == 1);
  kiln_quantize_multiplier(ldexp(0.75, -31), &q, &shift); /* smallest kept */
  CHECK(q == (3 << 29) && shift == -31);
  for (int i = 0; i < 20000; i++) {
    double m =
        ldexp(0.5 + 0.5 * kiln_test_uniform(0, 1), kiln_test_int(-30, 30));
    kiln_quantize_multiplier(m, &q, &shift);
    CHECK(q >= (1 << 30));
    long double back = ldexpl((long double)q, shift - 31);
    /* Within half a unit of the Q31 fraction. */
    CHECK(fabsl(back - m) <= ldexpl(1.0L, shift - 32) * 1.0000001L);
  }
  kiln_quantize_multiplier_smaller_than_one(0.3, &q, &shift);
  CHECK(shift <= 0 && fabsl(ldexpl(q, shift - 31) - 0.3L) < 1e-9L);
  kiln_quantize_multiplier_greater_than_one(3.7, &q, &shift);
  CHECK(shift >= 0 && fabsl(ldexpl(q, shift - 31) - 3.7L) < 1e-8L);
}

static void test_srdhm(void) {
  CHECK(kiln_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX);
  CHECK(kiln_srdhm(INT32_MAX, INT32_MAX) == ref_srdhm(INT32_MAX, INT32_MAX));
  CHECK(kiln_srdhm(1 << 30, 1) == 1);    /* +0.5 -> 1 */
  CHECK(kiln_srdhm(-(1 << 30), 1) == 0); /* -0.5 -> 0 (ties up) */
  CHECK(kiln_srdhm(-(3 << 29), 2) == ref_srdhm(-(3 << 29), 2));
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    int32_t a = rand_i32(), b = rand_i32();
    if (i % 4 == 1) a = (int32_t)rand_i64(-70000, 70000);
    if (i % 4 == 2) b = (int32_t)(rand_i64(-2, 1) * (INT64_C(1) << 30));
    if (kiln_srdhm(a, b) != ref_srdhm(a, b)) bad++;
  }
  CHECK(bad == 0);
}

static void test_rdbpot(void) {
  CHECK(kiln_rounding_divide_by_pot(-1, 1) == -1);
  CHECK(kiln_rounding_divide_by_pot(1, 1) == 1);
  CHECK(kiln_rounding_divide_by_pot(-3, 1) == -2);
  CHECK(kiln_rounding_divide_by_pot(INT32_MIN, 31) == -1);
  CHECK(kiln_rounding_divide_by_pot(INT32_MAX, 31) == 1);
  CHECK(kiln_rounding_divide_by_pot(12345, 0) == 12345);
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    int32_t x = i % 2 ? rand_i32() : (int32_t)rand_i64(-5000, 5000);
    int e = kiln_test_int(0, 31);
    if (kiln_rounding_divide_by_pot(x, e) != ref_rdbpot(x, e)) bad++;
  }
  CHECK(bad == 0);
  /* Shifts of 32 bits or more shift every bit out, without UB. */
  CHECK(kiln_shift_left_wrap(12345, 32) == 0);
  CHECK(kiln_shift_left_wrap(-1, 123) == 0);
  /* int8 SOFTMAX of a 1000-class row divides by up to 2^35: exactly, with
   * no shift of 32 or more (undefined in C; UBSan caught it end to end). */
  CHECK(kiln_rounding_divide_by_pot(INT32_MIN, 32) == -1);
  CHECK(kiln_rounding_divide_by_pot(INT32_MIN + 1, 32) == 0);
  for (int e = 32; e <= 40; e++) {
    CHECK(kiln_rounding_divide_by_pot(INT32_MAX, e) ==
          ref_rdbpot(INT32_MAX, e));
    CHECK(kiln_rounding_divide_by_pot(-12345, e) == ref_rdbpot(-12345, e));
    CHECK(kiln_rounding_divide_by_pot(INT32_MIN, e) ==
          ref_rdbpot(INT32_MIN, e));
  }
}

static void test_mbqm(void) {
  int bad = 0, far = 0;
  for (int i = 0; i < 200000; i++) {
    double real = ldexp(kiln_test_uniform(0.5f, 1.0f), kiln_test_int(-24, 8));
    int32_t m;
    int shift;
    kiln_quantize_multiplier(real, &m, &shift);
    /* Accumulators whose result fits int32 after scaling. */
    int64_t lim = (int64_t)fmin(2147483647.0 / (real * 1.01), 2147483647.0);
    if (shift > 0) lim >>= shift; /* the left shift must not wrap */
    int32_t x = (int32_t)rand_i64(-lim, lim);
    int32_t got = kiln_mul_by_quantized_multiplier(x, m, shift);
    if (got != ref_mbqm(x, m, shift)) bad++;
    /* And close to the exact real product (double rounding: within 1). */
    long double exact = (long double)x * ldexpl((long double)m, shift - 31);
    if (fabsl((long double)got - exact) > 1.0L) far++;
    if (shift <= 0 &&
        kiln_mul_by_quantized_multiplier_smaller_than_one(x, m, shift) != got)
      bad++;
    if (shift >= 0 &&
        kiln_mul_by_quantized_multiplier_greater_than_one(x, m, shift) != got)
      bad++;
  }
  CHECK(bad == 0);
  CHECK(far == 0);
}

/* One rounding of the exact product, for int32 and wider sums (up to
 * 2^32, where the 64-bit product cannot wrap). */
static void test_mbqm_single(void) {
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    double real = ldexp(kiln_test_uniform(0.5f, 1.0f), kiln_test_int(-24, 4));
    int32_t m;
    int shift;
    kiln_quantize_multiplier(real, &m, &shift);
    int64_t lim = (int64_t)fmin(2147483647.0 / (real * 1.01), 4e9);
    int64_t x = rand_i64(-lim, lim);
    long double exact =
        (long double)x * (long double)m / ldexpl(1.0L, 31 - shift);
    int64_t want = (int64_t)floorl(exact + 0.5L);
    if (kiln_mul_by_quantized_multiplier_single(x, m, shift) != want) bad++;
  }
  /* A tie (x * M / 2^31 = -0.5) rounds up, to 0. */
  CHECK(kiln_mul_by_quantized_multiplier_single(-1, 1 << 30, 0) == 0);
  CHECK(bad == 0);
}

static void test_mbqm64(void) {
  int bad = 0, far = 0;
  for (int i = 0; i < 200000; i++) {
    double real = ldexp(kiln_test_uniform(0.5f, 1.0f), kiln_test_int(-31, 7));
    int32_t m;
    int shift;
    kiln_quantize_multiplier(real, &m, &shift);
    if (shift < -31 || shift > 7) continue;
    int64_t lim = INT64_C(1) << 47;
    double fit = 2147483647.0 / (real * 1.01);
    if (fit < (double)lim) lim = (int64_t)fit;
    int64_t x = rand_i64(-lim, lim - 1);
    int32_t got = kiln_mul_by_quantized_multiplier_i64(x, m, shift);
    if (got != ref_mbqm64(x, m, shift)) bad++;
    /* Q15 multiplier: relative error up to 2^-15 of the product, plus 1. */
    long double exact = (long double)x * ldexpl((long double)m, shift - 31);
    if (fabsl((long double)got - exact) > 1.0L + fabsl(exact) * 6.2e-5L) far++;
  }
  /* The cap: a multiplier at the top of Q31 uses 0x7FFF, not 0x8000. */
  CHECK(kiln_mul_by_quantized_multiplier_i64(1 << 20, INT32_MAX, 0) ==
        ref_mbqm64(1 << 20, INT32_MAX, 0));
  CHECK(bad == 0);
  CHECK(far == 0);
}

static void test_float_conversions(void) {
  CHECK(kiln_quant_round(2.5f) == 3.0f && kiln_quant_round(-2.5f) == -3.0f);
  CHECK(kiln_quantize_f32(0.25f, 0.1f, 3, -128, 127) == 6); /* 2.5 -> 3 */
  CHECK(kiln_quantize_f32(-0.25f, 0.1f, 0, -128, 127) == -3);
  CHECK(kiln_quantize_f32(1e30f, 0.1f, 0, -128, 127) == 127);
  CHECK(kiln_quantize_f32(-INFINITY, 0.1f, 0, 0, 255) == 0);
  CHECK(kiln_quantize_f32(INFINITY, 1e-3f, 5, -32768, 32767) == 32767);
  CHECK(kiln_quantize_f32(NAN, 0.5f, 7, -128, 127) == 7);
  int bad = 0;
  for (int i = 0; i < 100000; i++) {
    float scale = ldexpf(kiln_test_uniform(0.5f, 1.0f), kiln_test_int(-12, 2));
    int32_t zp = kiln_test_int(-128, 127);
    float x = kiln_test_uniform(-300, 300) * scale;
    if (i % 5 == 0) x = ((float)kiln_test_int(-400, 400) + 0.5f) * scale;
    float ratio = x / scale; /* TFLite divides in float */
    long long q = llroundl((long double)ratio) + zp;
    int32_t expect = (int32_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    if (kiln_quantize_f32(x, scale, zp, -128, 127) != expect) bad++;
    int32_t v = kiln_test_int(-32768, 32767);
    float deq = (float)((long double)scale * (long double)(v - zp));
    if (kiln_dequantize_f32(v, scale, zp) != deq) bad++;
  }
  CHECK(bad == 0);
}

static void test_activation_range(void) {
  int32_t lo, hi;
  CHECK_OK(
      kiln_quant_activation_range(KILN_ACT_NONE, KILN_INT8, 0.1f, 3, &lo, &hi));
  CHECK(lo == -128 && hi == 127);
  CHECK_OK(kiln_quant_activation_range(KILN_ACT_RELU, KILN_UINT8, 0.1f, 30, &lo,
                                       &hi));
  CHECK(lo == 30 && hi == 255);
  CHECK_OK(kiln_quant_activation_range(KILN_ACT_RELU6, KILN_INT8, 0.05f, -128,
                                       &lo, &hi));
  CHECK(lo == -128 && hi == -8);
  CHECK_OK(kiln_quant_activation_range(KILN_ACT_RELU6, KILN_INT8, 0.01f, 0, &lo,
                                       &hi));
  CHECK(lo == 0 && hi == 127); /* 600 clamps to the type */
  CHECK_OK(kiln_quant_activation_range(KILN_ACT_RELU_N1_TO_1, KILN_INT16,
                                       1.0f / 1000, 0, &lo, &hi));
  CHECK(lo == -1000 && hi == 1000);
  CHECK_ERROR(
      kiln_quant_activation_range(KILN_ACT_TANH, KILN_INT8, 0.1f, 0, &lo, &hi),
      KILN_ERR_UNSUPPORTED, "activation");
  CHECK_ERROR(kiln_quant_activation_range(KILN_ACT_NONE, KILN_FLOAT32, 0.1f, 0,
                                          &lo, &hi),
              KILN_ERR_UNSUPPORTED, "float32");
  for (int i = 0; i < 20000; i++) {
    float scale = ldexpf(kiln_test_uniform(0.5f, 1.0f), kiln_test_int(-10, 0));
    int32_t zp = kiln_test_int(-128, 127);
    CHECK_OK(kiln_quant_activation_range(KILN_ACT_RELU6, KILN_INT8, scale, zp,
                                         &lo, &hi));
    long long top = zp + llroundl((long double)(6.0f / scale));
    CHECK(lo == zp && hi == (top > 127 ? 127 : top));
  }
}

int main(void) {
  kiln_test_seed(0x9a17);
  test_quantize_multiplier();
  test_srdhm();
  test_rdbpot();
  test_mbqm();
  test_mbqm64();
  test_mbqm_single();
  test_float_conversions();
  test_activation_range();
  return kiln_test_finish("test_quant_math");
}
