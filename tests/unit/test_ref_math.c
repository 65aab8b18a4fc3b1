/* test_ref_math.c - issue 9's elementwise math kernels (SQUARE, SIN, COS,
 * FLOOR, CEIL, ROUND, ELU, SIGN, ZEROS_LIKE, FLOOR_DIV, FLOOR_MOD, ATAN2,
 * BITWISE_XOR, RIGHT_SHIFT, ADD_N) against formulas computed here in double
 * or int64, on random shapes with broadcasting, empty and size-1 dims, in
 * every type each operator takes; then edge values and bad inputs. */
#include <fenv.h>
#include <math.h>
#include <stdio.h>

#include "ops_test_util.h"

/* ------------------------------------------------------------ unary float */

typedef struct unary_case {
  kiln_op_type op;
  double (*ref)(double x);
  float lo, hi;
} unary_case;

static double r_square(double x) { return x * x; }
static double r_elu(double x) { return x < 0 ? exp(x) - 1.0 : x; }
/* Ties to even: the default rounding mode's nearbyint. */
static double r_round(double x) { return nearbyint(x); }

static const unary_case kUnary[] = {
    {KILN_OP_SQUARE, r_square, -30, 30}, {KILN_OP_SIN, sin, -20, 20},
    {KILN_OP_COS, cos, -20, 20},         {KILN_OP_FLOOR, floor, -9, 9},
    {KILN_OP_CEIL, ceil, -9, 9},         {KILN_OP_ROUND, r_round, -9, 9},
    {KILN_OP_ELU, r_elu, -6, 6},
};

static void test_unary_float(void) {
  for (size_t c = 0; c < sizeof kUnary / sizeof kUnary[0]; c++)
    for (int rep = 0; rep < 20; rep++) {
      tshape s = random_tshape(4, 8);
      kiln_tensor *x = tensor_of(KILN_FLOAT32, &s);
      kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
      int64_t n = tshape_numel(&s);
      fill_random(x, kUnary[c].lo, kUnary[c].hi);
      /* whole and half values for the rounding ops */
      for (int64_t i = 0; i < n; i += 3)
        setv(x, i, floor(getd(x, i) * 2.0) / 2.0);
      CHECK_OK(run_poisoned(kUnary[c].op, NULL, &x, 1, out));
      CHECK(tensor_has_tshape(out, &s));
      float *expected = malloc((size_t)n * sizeof(float) + 1);
      for (int64_t i = 0; i < n; i++)
        expected[i] = (float)kUnary[c].ref(getd(x, i));
      kiln_test_close(out->data, expected, n, 1e-7f, 1e-6f,
                      kiln_op_table[kUnary[c].op].name);
      free(expected);
      kiln_test_tensor_free(x);
      kiln_test_tensor_free(out);
    }
}

static void test_unary_edges(void) {
  const float in[] = {0.5f,  1.5f,  2.5f,     -0.5f,     -1.5f, -2.5f,
                      -0.0f, 3.49f, INFINITY, -INFINITY, NAN,   8388609.0f};
  const float rounded[] = {0.0f,  2.0f, 2.0f,     -0.0f,     -2.0f, -2.0f,
                           -0.0f, 3.0f, INFINITY, -INFINITY, NAN,   8388609.0f};
  int64_t dims[1] = {12};
  kiln_tensor *x = kiln_test_tensor_f32(1, dims, in);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  CHECK_OK(run_poisoned(KILN_OP_ROUND, NULL, &x, 1, out));
  const float *y = out->data;
  for (int i = 0; i < 12; i++)
    /* == treats -0 and +0 alike: TFLite's rounding of -0.5 gives +0 */
    CHECK(isnan(rounded[i]) ? isnan(y[i]) : y[i] == rounded[i]);
  CHECK_OK(run_poisoned(KILN_OP_FLOOR, NULL, &x, 1, out));
  y = out->data;
  CHECK(y[0] == 0.0f && y[3] == -1.0f && isinf(y[8]) && isnan(y[10]));
  CHECK_OK(run_poisoned(KILN_OP_ELU, NULL, &x, 1, out));
  y = out->data;
  CHECK(y[9] == -1.0f && isinf(y[8]) && isnan(y[10]));
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);
}

/* -------------------------------------------------------- SIGN, ZEROS_LIKE */

static void test_sign_zeros(void) {
  const kiln_dtype sign_types[] = {KILN_FLOAT32, KILN_INT32};
  const kiln_dtype zero_types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64};
  for (int rep = 0; rep < 30; rep++) {
    tshape s = random_tshape(4, 8);
    kiln_dtype t = sign_types[rep % 2];
    kiln_tensor *x = tensor_of(t, &s);
    kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
    fill_random(x, -3, 3);
    CHECK_OK(run_poisoned(KILN_OP_SIGN, NULL, &x, 1, out));
    int bad = !tensor_has_tshape(out, &s);
    for (int64_t i = 0; !bad && i < tshape_numel(&s); i++) {
      double v = getd(x, i);
      bad += getd(out, i) != (v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0));
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(x);
    kiln_test_tensor_free(out);

    t = zero_types[rep % 3];
    x = tensor_of(t, &s);
    out = kiln_test_tensor(t, 0, NULL);
    fill_random(x, -3, 3);
    CHECK_OK(run_poisoned(KILN_OP_ZEROS_LIKE, NULL, &x, 1, out));
    bad = !tensor_has_tshape(out, &s);
    for (int64_t i = 0; !bad && i < tshape_numel(&s); i++)
      bad += getd(out, i) != 0.0;
    CHECK(bad == 0);
    kiln_test_tensor_free(x);
    kiln_test_tensor_free(out);
  }
  /* NaN has sign 0, as in TFLite; int32 extremes */
  int64_t d3[1] = {3};
  kiln_tensor *x = kiln_test_tensor_f32(1, d3, (float[]){NAN, -0.0f, -1e-30f});
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  CHECK_OK(run_poisoned(KILN_OP_SIGN, NULL, &x, 1, out));
  CHECK(getd(out, 0) == 0 && getd(out, 1) == 0 && getd(out, 2) == -1);
  kiln_test_tensor_free(x);
  x = kiln_test_tensor_i32(1, d3, (int32_t[]){INT32_MIN, INT32_MAX, 0});
  out->dtype = KILN_INT32;
  CHECK_OK(run_poisoned(KILN_OP_SIGN, NULL, &x, 1, out));
  CHECK(geti(out, 0) == -1 && geti(out, 1) == 1 && geti(out, 2) == 0);
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);
}

/* ------------------------------------------------------------ binaries */

/* The operator's result for one pair, as double (floats) or int64 (ints,
 * before wrapping to the type). */
static double ref_float(kiln_op_type op, double a, double b) {
  switch (op) {
    case KILN_OP_FLOOR_DIV:
      return floor(a / b);
    case KILN_OP_FLOOR_MOD:
      return a - b * floor(a / b);
    default:
      return atan2(a, b);
  }
}

static int64_t ref_int(kiln_op_type op, kiln_dtype t, int64_t a, int64_t b) {
  int bits = (int)kiln_dtype_size(t) * 8;
  switch (op) {
    case KILN_OP_FLOOR_DIV:
      return (int64_t)floor((double)a / (double)b);
    case KILN_OP_FLOOR_MOD:
      return a - b * (int64_t)floor((double)a / (double)b);
    case KILN_OP_BITWISE_XOR:
      return a ^ b;
    default: { /* RIGHT_SHIFT: the shift clamped to [0, bits-1] */
      int64_t s = b < 0 ? 0 : (b >= bits ? bits - 1 : b);
      return (int64_t)floor((double)a / pow(2.0, (double)s));
    }
  }
}

typedef struct binary_case {
  kiln_op_type op;
  kiln_dtype dtype;
} binary_case;

static const binary_case kBinary[] = {
    {KILN_OP_FLOOR_DIV, KILN_FLOAT32},  {KILN_OP_FLOOR_DIV, KILN_INT32},
    {KILN_OP_FLOOR_MOD, KILN_FLOAT32},  {KILN_OP_FLOOR_MOD, KILN_INT32},
    {KILN_OP_FLOOR_MOD, KILN_INT64},    {KILN_OP_ATAN2, KILN_FLOAT32},
    {KILN_OP_BITWISE_XOR, KILN_INT8},   {KILN_OP_BITWISE_XOR, KILN_UINT8},
    {KILN_OP_BITWISE_XOR, KILN_INT16},  {KILN_OP_BITWISE_XOR, KILN_INT32},
    {KILN_OP_RIGHT_SHIFT, KILN_INT8},   {KILN_OP_RIGHT_SHIFT, KILN_UINT8},
    {KILN_OP_RIGHT_SHIFT, KILN_INT16},  {KILN_OP_RIGHT_SHIFT, KILN_INT32},
    {KILN_OP_BITWISE_XOR, KILN_UINT16}, {KILN_OP_BITWISE_XOR, KILN_UINT32},
    {KILN_OP_RIGHT_SHIFT, KILN_UINT16}, {KILN_OP_RIGHT_SHIFT, KILN_UINT32},
    {KILN_OP_FLOOR_DIV, KILN_INT8},     {KILN_OP_FLOOR_DIV, KILN_INT16},
    {KILN_OP_FLOOR_MOD, KILN_INT8},     {KILN_OP_FLOOR_MOD, KILN_INT16},
};

static void fill_operand(kiln_tensor *t, kiln_op_type op, bool divisor) {
  int64_t n = kiln_tensor_numel(t);
  bool is_unsigned = t->dtype == KILN_UINT8 || t->dtype == KILN_UINT16 ||
                     t->dtype == KILN_UINT32;
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (t->dtype == KILN_FLOAT32)
      v = kiln_test_uniform(-50, 50);
    else if (op == KILN_OP_RIGHT_SHIFT && divisor)
      v = kiln_test_int(is_unsigned ? 0 : -3,
                        (int)kiln_dtype_size(t->dtype) * 8 + 3);
    else if (t->dtype == KILN_UINT16)
      v = kiln_test_int(0, 65535);
    else if (t->dtype == KILN_UINT32) /* the top bit too */
      v = (double)kiln_test_int(0, INT32_MAX) * kiln_test_int(1, 2);
    else
      v = kiln_test_int(is_unsigned ? 0 : -120, 120);
    if (divisor && op != KILN_OP_RIGHT_SHIFT && op != KILN_OP_BITWISE_XOR &&
        fabs(v) < 0.5)
      v = 3;
    setv(t, i, v);
  }
}

static void test_binary_case(const binary_case *c) {
  tshape sa, sb;
  random_broadcast_pair(&sa, &sb);
  tshape so = broadcast_of(&sa, &sb);
  kiln_tensor *a = tensor_of(c->dtype, &sa), *b = tensor_of(c->dtype, &sb);
  kiln_tensor *out = kiln_test_tensor(c->dtype, 0, NULL);
  fill_operand(a, c->op, false);
  fill_operand(b, c->op, true);
  kiln_tensor *in[2] = {a, b};
  CHECK_OK(run_poisoned(c->op, NULL, in, 2, out));
  CHECK(tensor_has_tshape(out, &so));
  int64_t n = tshape_numel(&so);
  int bad = 0;
  for (int64_t f = 0; f < n && tensor_has_tshape(out, &so); f++) {
    int64_t ia = broadcast_source(&so, &sa, f),
            ib = broadcast_source(&so, &sb, f);
    if (c->dtype == KILN_FLOAT32) {
      double e = (float)ref_float(c->op, getd(a, ia), getd(b, ib));
      double tol = 1e-6 * fmax(fabs(e), 1.0);
      if (c->op == KILN_OP_FLOOR_MOD) tol = 1e-5 * 50; /* of the span */
      bad += !(fabs(getd(out, f) - e) <= tol);
    } else {
      int64_t e =
          wrap_to(c->dtype, ref_int(c->op, c->dtype, geti(a, ia), geti(b, ib)));
      bad += geti(out, f) != e;
    }
  }
  if (bad)
    fprintf(stderr, "%s %s: %d of %lld wrong\n", kiln_op_table[c->op].name,
            kiln_dtype_name(c->dtype), bad, (long long)n);
  CHECK(bad == 0);
  kiln_tensor *all[3] = {a, b, out};
  kiln_test_tensors_free(all, 3);
}

static void test_binaries(void) {
  for (size_t c = 0; c < sizeof kBinary / sizeof kBinary[0]; c++)
    for (int rep = 0; rep < 30; rep++) test_binary_case(&kBinary[c]);
}

/* Overflowing quotients wrap; remainders of MIN by -1 are 0. */
static void test_binary_edges(void) {
  int64_t d4[1] = {4};
  kiln_tensor *a =
      kiln_test_tensor_i32(1, d4, (int32_t[]){INT32_MIN, -7, 7, INT32_MAX});
  kiln_tensor *b = kiln_test_tensor_i32(1, d4, (int32_t[]){-1, 2, -2, -1});
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 0, NULL);
  kiln_tensor *in[2] = {a, b};
  CHECK_OK(run_poisoned(KILN_OP_FLOOR_DIV, NULL, in, 2, out));
  CHECK(geti(out, 0) == INT32_MIN && geti(out, 1) == -4 && geti(out, 2) == -4 &&
        geti(out, 3) == -INT32_MAX);
  CHECK_OK(run_poisoned(KILN_OP_FLOOR_MOD, NULL, in, 2, out));
  CHECK(geti(out, 0) == 0 && geti(out, 1) == 1 && geti(out, 2) == -1 &&
        geti(out, 3) == 0);
  ((int32_t *)b->data)[2] = 0;
  CHECK_ERROR(run_poisoned(KILN_OP_FLOOR_DIV, NULL, in, 2, out),
              KILN_ERR_RUNTIME, "input 1 (y) is 0 at element 2");
  CHECK_ERROR(run_poisoned(KILN_OP_FLOOR_MOD, NULL, in, 2, out),
              KILN_ERR_RUNTIME, "division by zero");
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  /* float FLOOR_DIV refuses 0 like TFLite; float FLOOR_MOD gives NaN */
  a = kiln_test_tensor_f32(1, d4, (float[]){1, -1, 5.5f, -5.5f});
  b = kiln_test_tensor_f32(1, d4, (float[]){0, 2, -2, 2});
  in[0] = a, in[1] = b;
  out->dtype = KILN_FLOAT32;
  CHECK_ERROR(run_poisoned(KILN_OP_FLOOR_DIV, NULL, in, 2, out),
              KILN_ERR_RUNTIME, "element 0: division by zero");
  CHECK_OK(run_poisoned(KILN_OP_FLOOR_MOD, NULL, in, 2, out));
  CHECK(isnan(getd(out, 0)) && getd(out, 1) == 1.0 && getd(out, 2) == -0.5 &&
        getd(out, 3) == 0.5);
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  /* int8: -128 / -1 wraps to -128 and leaves remainder 0, as in LiteRT */
  a = kiln_test_tensor(KILN_INT8, 1, d4);
  b = kiln_test_tensor(KILN_INT8, 1, d4);
  const int8_t av[4] = {-128, -7, 127, 5}, bv[4] = {-1, 2, -128, -3};
  memcpy(a->data, av, sizeof av);
  memcpy(b->data, bv, sizeof bv);
  in[0] = a, in[1] = b;
  out->dtype = KILN_INT8;
  CHECK_OK(run_poisoned(KILN_OP_FLOOR_DIV, NULL, in, 2, out));
  CHECK(geti(out, 0) == -128 && geti(out, 1) == -4 && geti(out, 2) == -1 &&
        geti(out, 3) == -2);
  CHECK_OK(run_poisoned(KILN_OP_FLOOR_MOD, NULL, in, 2, out));
  CHECK(geti(out, 0) == 0 && geti(out, 1) == 1 && geti(out, 2) == -1 &&
        geti(out, 3) == -1);
  /* quantized int8 is not these operators' business */
  const float scale = 0.5f;
  const int64_t zp = 0;
  const kiln_quant_info q = {1, &scale, &zp, 0};
  a->quant = &q;
  CHECK_ERROR(run_poisoned(KILN_OP_FLOOR_DIV, NULL, in, 2, out),
              KILN_ERR_UNSUPPORTED, "input 0 (x)");
  a->quant = NULL;
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(out);
}

/* ---------------------------------------------------------------- ADD_N */

static void test_add_n(void) {
  for (int rep = 0; rep < 30; rep++) {
    kiln_dtype t = rep % 2 ? KILN_INT32 : KILN_FLOAT32;
    int count = kiln_test_int(2, 5);
    tshape s = random_tshape(4, 8);
    kiln_tensor *in[5] = {NULL};
    for (int k = 0; k < count; k++) {
      in[k] = tensor_of(t, &s);
      if (t == KILN_INT32)
        for (int64_t i = 0; i < tshape_numel(&s); i++)
          setv(in[k], i, (double)(int32_t)kiln_test_rand());
      else
        fill_random(in[k], -10, 10);
    }
    kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
    CHECK_OK(run_poisoned(KILN_OP_ADD_N, NULL, in, count, out));
    int bad = !tensor_has_tshape(out, &s);
    for (int64_t i = 0; !bad && i < tshape_numel(&s); i++) {
      double sum = 0;
      int64_t isum = 0;
      for (int k = 0; k < count; k++) {
        sum += getd(in[k], i);
        isum += geti(in[k], i);
      }
      if (t == KILN_INT32)
        bad += geti(out, i) != wrap_to(t, isum);
      else
        bad += !(fabs(getd(out, i) - sum) <= 1e-5 * (1 + fabs(sum)));
    }
    CHECK(bad == 0);
    kiln_test_tensors_free(in, count);
    kiln_test_tensor_free(out);
  }
}

/* ------------------------------------------------------- BITCAST, NEG */

static void test_bitcast_neg(void) {
  const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64, KILN_INT8,
                              KILN_UINT8,   KILN_INT16, KILN_BOOL};
  for (int rep = 0; rep < 60; rep++) {
    kiln_dtype from = types[kiln_test_int(0, 6)],
               to = types[kiln_test_int(0, 6)];
    size_t fs = kiln_dtype_size(from), ts = kiln_dtype_size(to);
    tshape s = random_tshape(3, 8);
    if (fs < ts) s.dims[s.rank++] = (int64_t)(ts / fs);
    kiln_tensor *x = tensor_of(from, &s);
    unsigned char *bytes = x->data;
    for (size_t i = 0; i < kiln_tensor_nbytes(x); i++)
      bytes[i] = (unsigned char)kiln_test_rand();
    kiln_tensor *out = kiln_test_tensor(to, 0, NULL);
    CHECK_OK(run_poisoned(KILN_OP_BITCAST, NULL, &x, 1, out));
    tshape so = s;
    if (fs > ts) so.dims[so.rank++] = (int64_t)(fs / ts);
    if (fs < ts) so.rank--;
    CHECK(tensor_has_tshape(out, &so));
    CHECK(kiln_tensor_nbytes(out) == kiln_tensor_nbytes(x) &&
          memcmp(out->data, x->data, kiln_tensor_nbytes(x)) == 0);
    kiln_test_tensor_free(x);
    kiln_test_tensor_free(out);
  }
  int64_t d2[1] = {2};
  kiln_tensor *x = kiln_test_tensor(KILN_INT8, 1, d2);
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 0, NULL);
  CHECK_ERROR(run_poisoned(KILN_OP_BITCAST, NULL, &x, 1, out),
              KILN_ERR_INVALID_ARGUMENT,
              "input 0 (x) of shape [2] and type int8 must end in a "
              "dimension of 4 to be read as int32");
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);

  /* NEG on int64 (as TFLite), wrapping at the minimum */
  x = kiln_test_tensor(KILN_INT64, 1, d2);
  setv(x, 0, -5);
  ((int64_t *)x->data)[1] = INT64_MIN;
  out = kiln_test_tensor(KILN_INT64, 0, NULL);
  CHECK_OK(run_poisoned(KILN_OP_NEG, NULL, &x, 1, out));
  CHECK(geti(out, 0) == 5 && geti(out, 1) == INT64_MIN);
  kiln_test_tensor_free(x);
  x = kiln_test_tensor(KILN_UINT8, 1, d2);
  out->dtype = KILN_UINT8;
  CHECK_ERROR(run_poisoned(KILN_OP_NEG, NULL, &x, 1, out), KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type uint8");
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);
}

/* --------------------------------------------------------------- errors */

static void test_errors(void) {
  int64_t d3[1] = {3}, d4[1] = {4}, d23[2] = {2, 3};
  kiln_tensor *f3 = kiln_test_tensor(KILN_FLOAT32, 1, d3);
  kiln_tensor *f4 = kiln_test_tensor(KILN_FLOAT32, 1, d4);
  kiln_tensor *f23 = kiln_test_tensor(KILN_FLOAT32, 2, d23);
  kiln_tensor *i3 = kiln_test_tensor(KILN_INT32, 1, d3);
  kiln_tensor *l3 = kiln_test_tensor(KILN_INT64, 1, d3);
  kiln_tensor *b3 = kiln_test_tensor(KILN_BOOL, 1, d3);
  kiln_tensor *fo = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *io = kiln_test_tensor(KILN_INT32, 0, NULL);
  kiln_tensor *lo = kiln_test_tensor(KILN_INT64, 0, NULL);

  CHECK_ERROR(shape_only(KILN_OP_SIN, NULL, &i3, 1, io), KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type int32; expected float32");
  CHECK_ERROR(
      shape_only(KILN_OP_SQUARE, NULL, (kiln_tensor *[]){f3, f3}, 2, fo),
      KILN_ERR_INVALID_MODEL, "expects 1 inputs");
  CHECK_ERROR(shape_only(KILN_OP_SIGN, NULL, &l3, 1, lo), KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type int64; expected float32, int32 or float64");
  CHECK_ERROR(shape_only(KILN_OP_SIGN, NULL, &f3, 1, io),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type int32; expected float32");
  CHECK_ERROR(shape_only(KILN_OP_ZEROS_LIKE, NULL, &b3, 1, b3),
              KILN_ERR_UNSUPPORTED, "has type bool");
  CHECK_ERROR(
      shape_only(KILN_OP_FLOOR_DIV, NULL, (kiln_tensor *[]){l3, l3}, 2, lo),
      KILN_ERR_UNSUPPORTED, "int64; expected float32, int8, int16 or int32");
  CHECK_ERROR(
      shape_only(KILN_OP_FLOOR_MOD, NULL, (kiln_tensor *[]){f3, i3}, 2, fo),
      KILN_ERR_INVALID_MODEL, "input 1 (y) has type int32");
  CHECK_ERROR(
      shape_only(KILN_OP_ATAN2, NULL, (kiln_tensor *[]){f23, f4}, 2, fo),
      KILN_ERR_INVALID_ARGUMENT, "[2,3] and [4] do not broadcast");
  CHECK_ERROR(
      shape_only(KILN_OP_ATAN2, NULL, (kiln_tensor *[]){f3, NULL}, 2, fo),
      KILN_ERR_INVALID_MODEL, "input 1 (y) is missing");
  CHECK_ERROR(
      shape_only(KILN_OP_BITWISE_XOR, NULL, (kiln_tensor *[]){l3, l3}, 2, lo),
      KILN_ERR_UNSUPPORTED, "int8, uint8, int16, int32, uint16 or uint32");
  CHECK_ERROR(
      shape_only(KILN_OP_RIGHT_SHIFT, NULL, (kiln_tensor *[]){f3, f3}, 2, fo),
      KILN_ERR_UNSUPPORTED, "input 0 (x) has type float32");
  CHECK_ERROR(shape_only(KILN_OP_ADD_N, NULL, &f3, 1, fo),
              KILN_ERR_INVALID_MODEL, "at least 2 inputs");
  CHECK_ERROR(shape_only(KILN_OP_ADD_N, NULL, (kiln_tensor *[]){f3, f4}, 2, fo),
              KILN_ERR_INVALID_ARGUMENT, "input 1 has shape [4]");
  CHECK_ERROR(shape_only(KILN_OP_ADD_N, NULL, (kiln_tensor *[]){f3, i3}, 2, fo),
              KILN_ERR_INVALID_MODEL, "input 1 has type int32");
  CHECK_ERROR(shape_only(KILN_OP_ADD_N, NULL, (kiln_tensor *[]){l3, l3}, 2, lo),
              KILN_ERR_UNSUPPORTED, "input 0 has type int64");
  CHECK_ERROR(
      shape_only(KILN_OP_ADD_N, NULL, (kiln_tensor *[]){f3, NULL, f3}, 3, fo),
      KILN_ERR_INVALID_MODEL, "input 1 (x) is missing");
  /* quantized integers belong to the quantized kernels */
  kiln_quant_info q = {0};
  float scale = 0.5f;
  int64_t zero = 0;
  q.count = 1, q.scale = &scale, q.zero_point = &zero;
  kiln_tensor *q3 = kiln_test_tensor(KILN_INT8, 1, d3);
  q3->quant = &q;
  CHECK_ERROR(
      shape_only(KILN_OP_BITWISE_XOR, NULL, (kiln_tensor *[]){q3, q3}, 2, q3),
      KILN_ERR_UNSUPPORTED, "input 0 (x) is quantized int8");
  q3->quant = NULL;

  kiln_tensor *all[] = {f3, f4, f23, i3, l3, b3, fo, io, lo, q3};
  kiln_test_tensors_free(all, (int)(sizeof all / sizeof all[0]));
}

int main(void) {
  kiln_test_seed(9001);
  fesetround(FE_TONEAREST);
  test_unary_float();
  test_unary_edges();
  test_sign_zeros();
  test_binaries();
  test_binary_edges();
  test_add_n();
  test_bitcast_neg();
  test_errors();
  return kiln_test_finish("test_ref_math");
}
