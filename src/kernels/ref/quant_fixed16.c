/* quant_fixed16.c - gemmlowp's int16 fixed-point exp, logistic and tanh
 * (see quant_fixed16.h): TFLite's integer LSTM gates. */
#include "kernels/ref/quant_fixed16.h"

#include "kernels/ref/quant_math.h"

/* An int32 result stored in int16 as C++'s narrowing does: two's
 * complement wrap-around (gemmlowp's int16 Add, Sub and Neg). */
static int16_t wrap16(int32_t x) { return (int16_t)(uint16_t)(uint32_t)x; }

static int16_t sat16(int32_t x) {
  return (int16_t)(x > INT16_MAX ? INT16_MAX : (x < INT16_MIN ? INT16_MIN : x));
}

int16_t kiln_fx16_srdhm(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  int32_t ab = (int32_t)a * b;
  int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return wrap16((ab + nudge) / (1 << 15)); /* C division truncates */
}

/* x / 2^e rounded to nearest, ties away from zero, 0 <= e < 16. */
static int16_t rdbp16(int16_t x, int e) {
  return (int16_t)kiln_rounding_divide_by_pot(x, e);
}

/* x * 2^e saturating, e >= 0 (gemmlowp's SaturatingRoundingMultiplyByPOT). */
static int16_t sat_shift16(int16_t x, int e) {
  if (e <= 0) return x;
  const int32_t threshold = (1 << (15 - e)) - 1;
  if (x > threshold) return INT16_MAX;
  if (x < -threshold) return INT16_MIN;
  return wrap16((int32_t)x * (1 << e));
}

/* A gemmlowp constant given in its 32-bit form, rounded to 16 bits. */
static int16_t constant16(int32_t raw32) {
  return (int16_t)kiln_rounding_divide_by_pot(raw32, 16);
}

/* exp(a) for a in [-1/4, 0), a and the result Q0.15. */
static int16_t exp_quarter16(int16_t a) {
  const int16_t constant_term = constant16(1895147668); /* exp(-1/8) */
  const int16_t one_third = constant16(715827883);
  const int16_t x = wrap16(a + (1 << 12)); /* a + 1/8 */
  const int16_t x2 = kiln_fx16_srdhm(x, x);
  const int16_t x3 = kiln_fx16_srdhm(x2, x);
  const int16_t x4 = kiln_fx16_srdhm(x2, x2);
  const int16_t x4_over_4 = rdbp16(x4, 2);
  const int16_t poly = rdbp16(
      wrap16(kiln_fx16_srdhm(wrap16(x4_over_4 + x3), one_third) + x2), 1);
  return sat16((int32_t)constant_term +
               kiln_fx16_srdhm(constant_term, wrap16(x + poly)));
}

/* exp(a) for a <= 0 with `ib` integer bits, as Q0.15. */
static int16_t exp_on_negative16(int16_t a, int ib) {
  const int frac = 15 - ib;
  const int16_t quarter = (int16_t)(1 << (frac - 2));
  const int16_t mod_quarter = wrap16((a & (quarter - 1)) - quarter);
  int16_t result = exp_quarter16(sat_shift16(mod_quarter, ib));
  const int16_t remainder = wrap16(mod_quarter - a);
  /* exp(-2^k) for k = -2 .. 4, 32-bit forms */
  static const int32_t factors[7] = {
      1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = -2; k <= 4; k++)
    if (ib > k && (remainder & (1 << (frac + k))))
      result = kiln_fx16_srdhm(result, constant16(factors[k + 2]));
  if (ib > 5) {
    const int16_t clamp = constant16(-(INT32_C(1) << (36 - ib))); /* -32 */
    if (a < clamp) result = 0;
  }
  return a == 0 ? INT16_MAX : result;
}

/* x in Q2.13 after Newton-Raphson for 1 / (1 + a), a in (0, 1) Q0.15. */
static int16_t reciprocal_q2(int16_t a) {
  const int32_t sum = (int32_t)a + INT16_MAX;
  const int16_t half_denominator = (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int16_t c48_17 = constant16(1515870810);
  const int16_t cm32_17 = constant16(-1010580540);
  int16_t x = wrap16(c48_17 + kiln_fx16_srdhm(half_denominator, cm32_17));
  for (int i = 0; i < 3; i++) {
    const int16_t dx = kiln_fx16_srdhm(half_denominator, x);
    const int16_t one_minus = wrap16((1 << 13) - dx);
    x = wrap16(x + sat_shift16(kiln_fx16_srdhm(x, one_minus), 2));
  }
  return x;
}

int16_t kiln_fx16_logistic_q3(int16_t x) {
  if (x == 0) return constant16(INT32_C(1) << 30); /* one half */
  const int16_t abs_x = x > 0 ? x : wrap16(-(int32_t)x);
  const int16_t e = exp_on_negative16(wrap16(-(int32_t)abs_x), 3);
  /* 1 / (1 + e): Q2.13 halved to Q1.14, rescaled to Q0.15 */
  const int16_t positive = sat_shift16(reciprocal_q2(e), 1);
  return x > 0 ? positive : wrap16(INT16_MAX - positive);
}

int16_t kiln_fx16_tanh(int16_t x, int integer_bits) {
  if (x == 0) return 0;
  const int16_t n = x < 0 ? x : wrap16(-(int32_t)x); /* -|x| */
  /* exp(2n): the same raw value read with one more integer bit */
  const int16_t e = exp_on_negative16(n, integer_bits + 1);
  /* (1 - e) / (1 + e) */
  const int16_t t = sat_shift16(wrap16(reciprocal_q2(e) - (1 << 13)), 2);
  return x < 0 ? wrap16(-(int32_t)t) : t;
}
