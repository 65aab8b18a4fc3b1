/* test_half_math.c - the float16 paths of SIN, COS, FLOOR, ROUND, TANH, NEG,
 * LOGISTIC, GELU, SOFTMAX, ATAN2 (and its float64 path), MAXIMUM, MINIMUM,
 * the comparisons and REVERSE_V2, against step-by-step computations in
 * double written here, with this file's own half encoder (scaling to the
 * half's quantum and rounding with nearbyint) rather than the library's
 * bit manipulation. Each rounding step LiteRT takes (to float, to half) is
 * spelled out, and outputs must match bit for bit. Random shapes with
 * broadcasting, empty and size-1 dimensions; then bad inputs. */
#include <fenv.h>
#include <math.h>
#include <stdio.h>

#include "kernels/ref/half_math.h"
#include "ops_test_util.h"

/* ------------------------------------------------- an independent codec */

static double h2d(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0    ? ldexp(m, -24)
             : e == 31 ? (m ? NAN : INFINITY)
                       : ldexp(m + 1024, e - 25);
  return (h & 0x8000) ? -v : v;
}

/* Nearest half to d, ties to even, in one rounding. */
static uint16_t d2h(double d) {
  if (isnan(d)) return 0x7e00;
  uint16_t sign = signbit(d) ? 0x8000 : 0;
  double a = fabs(d);
  int k;
  frexp(a, &k); /* a = f * 2^k, f in [0.5, 1) */
  int quantum_exp = k - 11 < -24 ? -24 : k - 11;
  double q = ldexp(nearbyint(ldexp(a, -quantum_exp)), quantum_exp);
  if (q >= 65520.0 || isinf(a)) return sign | 0x7c00;
  if (q < ldexp(1, -14)) return sign | (uint16_t)ldexp(q, 24);
  frexp(q, &k);
  uint16_t mant = (uint16_t)(ldexp(q, 11 - k) - 1024.0);
  return sign | (uint16_t)((k - 1 + 15) << 10) | mant;
}

static double rh(double d) { return h2d(d2h(d)); } /* to half and back */
static double rf(double d) { return (float)d; }    /* to float */
/* An Eigen::half operation: computed in float, rounded to half. */
static double eh(double d) { return rh(rf(d)); }

static uint16_t geth(const kiln_tensor *t, int64_t i) {
  return ((const uint16_t *)t->data)[i];
}

/* A random finite half in [-lim, lim]: random bits, so every exponent
 * (subnormals included) is drawn. */
static uint16_t random_half(double lim) {
  for (;;) {
    uint16_t h = (uint16_t)kiln_test_int(0, 0xffff);
    if (((h >> 10) & 0x1f) != 31 && fabs(h2d(h)) <= lim) return h;
  }
}

static kiln_tensor *half_tensor(const tshape *s, double lim) {
  kiln_tensor *t = tensor_of(KILN_FLOAT16, s);
  for (int64_t i = 0; i < tshape_numel(s); i++)
    ((uint16_t *)t->data)[i] = random_half(lim);
  return t;
}

/* Output bits equal, or both NaN. */
static bool same_half(uint16_t got, uint16_t want) {
  return got == want || (isnan(h2d(got)) && isnan(h2d(want)));
}

static void check_halves(const kiln_tensor *out, const uint16_t *want,
                         int64_t n, const char *what) {
  for (int64_t i = 0; i < n; i++)
    if (!same_half(geth(out, i), want[i])) {
      fprintf(stderr, "%s: element %lld is %#06x (%g), expected %#06x (%g)\n",
              what, (long long)i, geth(out, i), h2d(geth(out, i)), want[i],
              h2d(want[i]));
      CHECK(false);
      return;
    }
}

/* ----------------------------------------------------------- the codec */

static void test_double_to_half(void) {
  for (int rep = 0; rep < 20000; rep++) {
    double d = ldexp(kiln_test_uniform(-1.0f, 1.0f), kiln_test_int(-30, 17));
    /* midpoints between neighbours, a hair to either side or exact */
    if (rep % 3 == 0) {
      uint16_t h = random_half(65504.0);
      double next = h2d((uint16_t)(h + 1));
      if (isfinite(next)) {
        double mid = (h2d(h) + next) / 2.0;
        d = rep % 2 ? mid : mid + mid * ldexp(kiln_test_uniform(-1, 1), -40);
      }
    }
    CHECK(kiln_double_to_half(d) == d2h(d));
  }
  CHECK(kiln_double_to_half(INFINITY) == 0x7c00);
  CHECK(kiln_double_to_half(-1e6) == 0xfc00);
  CHECK(isnan(h2d(kiln_double_to_half(NAN))));
}

/* -------------------------------------------------------- unary halves */

typedef struct unary_case {
  kiln_op_type op;
  const void *attrs;
  double (*ref)(double x); /* the whole rounded computation */
  double lim;
} unary_case;

/* The float function of the widened half, rounded to float, then half. */
static double r_sin(double x) { return rh(rf(sin(x))); }
static double r_cos(double x) { return rh(rf(cos(x))); }
static double r_tanh(double x) { return rh(rf(tanh(x))); }
static double r_floor(double x) { return floor(x); }
/* Ties to even; -0.5 <= x < 0 gives +0 as LiteRT's ROUND does (-0 stays). */
static double r_round(double x) { return x == 0.0 ? x : nearbyint(x) + 0.0; }
static double r_neg(double x) { return -x; }

/* Eigen's e / (1 + e), e = exp(x), each step rounded to half. */
static double r_logistic(double x) {
  double e = eh(exp(x));
  if (isinf(e)) return 1.0;
  return eh(e / eh(1.0 + e));
}

static double r_gelu(double x) {
  double t = eh(x * rh(rf(-0.70710678118654752440)));
  return eh(eh(0.5 * x) * eh(erfc(t)));
}

static double r_gelu_tanh(double x) {
  double cube = eh(eh(x * x) * x);
  double u =
      eh(rh(rf(0.7978845608028654)) * eh(x + eh(rh(rf(0.044715)) * cube)));
  return eh(eh(0.5 * x) * eh(1.0 + eh(tanh(u))));
}

static void test_unary(void) {
  static const kiln_gelu_attrs exact = {false}, approx = {true};
  const unary_case cases[] = {
      {KILN_OP_SIN, NULL, r_sin, 400},
      {KILN_OP_COS, NULL, r_cos, 400},
      {KILN_OP_TANH, NULL, r_tanh, 12},
      {KILN_OP_FLOOR, NULL, r_floor, 3000},
      {KILN_OP_ROUND, NULL, r_round, 3000},
      {KILN_OP_NEG, NULL, r_neg, 65504},
      {KILN_OP_LOGISTIC, NULL, r_logistic, 20},
      {KILN_OP_GELU, &exact, r_gelu, 12},
      {KILN_OP_GELU, &approx, r_gelu_tanh, 12},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int rep = 0; rep < 30; rep++) {
      tshape s = random_tshape(4, 8);
      kiln_tensor *x = half_tensor(&s, cases[c].lim);
      kiln_tensor *out = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
      int64_t n = tshape_numel(&s);
      CHECK_OK(run_poisoned(cases[c].op, cases[c].attrs, &x, 1, out));
      CHECK(tensor_has_tshape(out, &s));
      uint16_t *want = malloc((size_t)n * sizeof *want + 1);
      for (int64_t i = 0; i < n; i++)
        want[i] = d2h(cases[c].ref(h2d(geth(x, i))));
      check_halves(out, want, n, kiln_op_table[cases[c].op].name);
      free(want);
      kiln_test_tensor_free(x);
      kiln_test_tensor_free(out);
    }
}

/* Infinities and NaN through the functions whose guards handle them. */
static void test_unary_edges(void) {
  const uint16_t in[] = {0x7c00, 0xfc00, 0x7e00, 0x0000, 0x8000, 0x0001};
  int64_t dims[1] = {6};
  kiln_tensor *x = kiln_test_tensor(KILN_FLOAT16, 1, dims);
  memcpy(x->data, in, sizeof in);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
  CHECK_OK(run_poisoned(KILN_OP_LOGISTIC, NULL, &x, 1, out));
  CHECK(geth(out, 0) == 0x3c00 && geth(out, 1) == 0x0000);
  CHECK(isnan(h2d(geth(out, 2))) && geth(out, 3) == 0x3800);
  CHECK_OK(run_poisoned(KILN_OP_NEG, NULL, &x, 1, out));
  CHECK(geth(out, 0) == 0xfc00 && geth(out, 4) == 0x0000 &&
        geth(out, 5) == 0x8001);
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);
}

/* ------------------------------------------------------------- SOFTMAX */

static void test_softmax(void) {
  const float betas[] = {1.0f, 0.5f, 2.0f, 0.1f};
  for (int rep = 0; rep < 60; rep++) {
    tshape s = random_tshape(4, 10);
    if (s.rank == 0) s.rank = 1, s.dims[0] = 3;
    if (rep % 5 == 0) s.dims[s.rank - 1] = kiln_test_int(8, 60);
    kiln_softmax_attrs attrs = {betas[rep % 4]};
    kiln_tensor *x = half_tensor(&s, 8.0);
    kiln_tensor *out = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
    CHECK_OK(run_poisoned(KILN_OP_SOFTMAX, &attrs, &x, 1, out));
    CHECK(tensor_has_tshape(out, &s));
    int64_t n = tshape_numel(&s), row = s.dims[s.rank - 1];
    uint16_t *want = malloc((size_t)n * sizeof *want + 1);
    for (int64_t r = 0; row > 0 && r < n; r += row) {
      double max = -INFINITY, sum = 0.0;
      for (int64_t i = r; i < r + row; i++) max = fmax(max, h2d(geth(x, i)));
      /* float exps summed in float, in order; each divided after its
       * rounding to half */
      for (int64_t i = r; i < r + row; i++)
        sum = rf(sum + rf(exp(rf(rf(h2d(geth(x, i)) - max) * attrs.beta))));
      for (int64_t i = r; i < r + row; i++) {
        double e = rh(rf(exp(rf(rf(h2d(geth(x, i)) - max) * attrs.beta))));
        want[i] = d2h(rf(e / sum));
      }
    }
    check_halves(out, want, n, "SOFTMAX");
    free(want);
    kiln_test_tensor_free(x);
    kiln_test_tensor_free(out);
  }
}

/* ---------------------------------------------- broadcasting binaries */

static int compare_holds(kiln_op_type op, double a, double b) {
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

static void test_binaries(void) {
  const kiln_op_type ops[] = {
      KILN_OP_ATAN2,         KILN_OP_MAXIMUM,    KILN_OP_MINIMUM,
      KILN_OP_LESS,          KILN_OP_LESS_EQUAL, KILN_OP_GREATER,
      KILN_OP_GREATER_EQUAL, KILN_OP_EQUAL,      KILN_OP_NOT_EQUAL};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (int rep = 0; rep < 25; rep++) {
      kiln_op_type op = ops[o];
      tshape sa, sb;
      random_broadcast_pair(&sa, &sb);
      tshape so = broadcast_of(&sa, &sb);
      kiln_tensor *in[2] = {half_tensor(&sa, 100.0), half_tensor(&sb, 100.0)};
      /* equal values now and then, so == and <= see ties */
      for (int64_t i = 0; i < tshape_numel(&sb) && tshape_numel(&sa); i += 2)
        ((uint16_t *)in[1]->data)[i] = geth(in[0], i % tshape_numel(&sa));
      bool compare =
          op != KILN_OP_ATAN2 && op != KILN_OP_MAXIMUM && op != KILN_OP_MINIMUM;
      kiln_tensor *out =
          kiln_test_tensor(compare ? KILN_BOOL : KILN_FLOAT16, 0, NULL);
      CHECK_OK(run_poisoned(op, NULL, in, 2, out));
      CHECK(tensor_has_tshape(out, &so));
      for (int64_t f = 0; f < tshape_numel(&so); f++) {
        double a = h2d(geth(in[0], broadcast_source(&so, &sa, f)));
        double b = h2d(geth(in[1], broadcast_source(&so, &sb, f)));
        if (compare) {
          CHECK(((const uint8_t *)out->data)[f] == compare_holds(op, a, b));
          continue;
        }
        double want = op == KILN_OP_ATAN2     ? atan2(a, b)
                      : op == KILN_OP_MAXIMUM ? (a > b ? a : b)
                                              : (a < b ? a : b);
        CHECK(same_half(geth(out, f), d2h(want)));
      }
      kiln_test_tensors_free(in, 2);
      kiln_test_tensor_free(out);
    }
}

static void test_atan2_f64(void) {
  for (int rep = 0; rep < 25; rep++) {
    tshape sa, sb;
    random_broadcast_pair(&sa, &sb);
    tshape so = broadcast_of(&sa, &sb);
    kiln_tensor *in[2] = {tensor_of(KILN_FLOAT64, &sa),
                          tensor_of(KILN_FLOAT64, &sb)};
    for (int k = 0; k < 2; k++)
      for (int64_t i = 0; i < kiln_tensor_numel(in[k]); i++)
        ((double *)in[k]->data)[i] = kiln_test_uniform(-3, 3) * 1.0000001;
    kiln_tensor *out = kiln_test_tensor(KILN_FLOAT64, 0, NULL);
    CHECK_OK(run_poisoned(KILN_OP_ATAN2, NULL, in, 2, out));
    CHECK(tensor_has_tshape(out, &so));
    for (int64_t f = 0; f < tshape_numel(&so); f++) {
      double a = ((double *)in[0]->data)[broadcast_source(&so, &sa, f)];
      double b = ((double *)in[1]->data)[broadcast_source(&so, &sb, f)];
      CHECK(((double *)out->data)[f] == atan2(a, b));
    }
    kiln_test_tensors_free(in, 2);
    kiln_test_tensor_free(out);
  }
}

/* ---------------------------------------------------------- REVERSE_V2 */

static void test_reverse(void) {
  int64_t dims[3] = {2, 3, 4}, axis_dims[1] = {1};
  kiln_tensor *x = kiln_test_tensor(KILN_FLOAT16, 3, dims);
  for (int i = 0; i < 24; i++) ((uint16_t *)x->data)[i] = random_half(9.0);
  const int32_t axis[1] = {-1};
  kiln_tensor *ax = kiln_test_tensor_i32(1, axis_dims, axis);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
  CHECK_OK(
      run_poisoned(KILN_OP_REVERSE_V2, NULL, (kiln_tensor *[]){x, ax}, 2, out));
  for (int i = 0; i < 24; i++)
    CHECK(geth(out, i) == geth(x, (i / 4) * 4 + 3 - i % 4));
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(ax);
  kiln_test_tensor_free(out);
}

/* ---------------------------------------------------------- bad inputs */

static void test_errors(void) {
  int64_t d3[1] = {3};
  kiln_tensor *h3 = kiln_test_tensor(KILN_FLOAT16, 1, d3);
  kiln_tensor *hs = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
  kiln_tensor *f3 = kiln_test_tensor(KILN_FLOAT32, 1, d3);
  kiln_tensor *fo = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *ho = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
  CHECK_ERROR(shape_only(KILN_OP_SOFTMAX, NULL, &h3, 1, fo),
              KILN_ERR_UNSUPPORTED, "output 0 has type float32");
  CHECK_ERROR(shape_only(KILN_OP_SOFTMAX, NULL, &hs, 1, ho),
              KILN_ERR_INVALID_MODEL, "rank >= 1");
  CHECK_ERROR(shape_only(KILN_OP_SOFTMAX, NULL, (kiln_tensor *[]){NULL}, 1, ho),
              KILN_ERR_INVALID_MODEL, "input 0 (x) is missing");
  CHECK_ERROR(shape_only(KILN_OP_LOGISTIC, NULL, &h3, 1, fo),
              KILN_ERR_INVALID_MODEL, "output 0 has type float32");
  CHECK_ERROR(shape_only(KILN_OP_SIN, NULL, &h3, 1, fo), KILN_ERR_INVALID_MODEL,
              "output 0 has type float32");
  CHECK_ERROR(shape_only(KILN_OP_ATAN2, NULL, (kiln_tensor *[]){h3, f3}, 2, ho),
              KILN_ERR_INVALID_MODEL, "input 1 (y) has type float32");
  CHECK_ERROR(
      shape_only(KILN_OP_MAXIMUM, NULL, (kiln_tensor *[]){h3, f3}, 2, ho),
      KILN_ERR_INVALID_MODEL, "input 1 (y) has type float32");
  CHECK_ERROR(shape_only(KILN_OP_LESS, NULL, (kiln_tensor *[]){h3, h3}, 2, ho),
              KILN_ERR_UNSUPPORTED, "output 0");
  /* CEIL and ELU stay float32 only: LiteRT has no float16 kernel for them */
  CHECK_ERROR(shape_only(KILN_OP_CEIL, NULL, &h3, 1, ho), KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type float16");
  kiln_tensor *all[] = {h3, hs, f3, fo, ho};
  kiln_test_tensors_free(all, 5);
}

int main(void) {
  kiln_test_seed(1616);
  fesetround(FE_TONEAREST);
  test_double_to_half();
  test_unary();
  test_unary_edges();
  test_softmax();
  test_binaries();
  test_atan2_f64();
  test_reverse();
  test_errors();
  return kiln_test_finish("test_half_math");
}
