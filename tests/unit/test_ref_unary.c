/* test_ref_unary.c - reference unary kernels, CAST and DEQUANTIZE against
 * independent long-double formulas, edge values and exhaustive float16. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"

kiln_status *kiln_shape_unary_float(const kiln_op_ctx *ctx);
kiln_status *kiln_shape_unary_signed(const kiln_op_ctx *ctx);
kiln_status *kiln_shape_cast(const kiln_op_ctx *ctx);
kiln_status *kiln_shape_dequantize(const kiln_op_ctx *ctx);

/* Runs a one-input op; *out receives a new tensor of out_dtype. */
static kiln_status *run1(kiln_op_type op, const void *attrs, kiln_tensor *in,
                         kiln_dtype out_dtype, kiln_tensor **out) {
  *out = kiln_test_tensor(out_dtype, 0, NULL);
  return kiln_test_run_op(op, attrs, &in, 1, out, 1);
}

static bool same_dims(const kiln_tensor *a, const kiln_tensor *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

/* ------------------------------------------------------------ float math */

static float g_alpha; /* LEAKY_RELU's, for its reference */

static long double r_rsqrt(long double x) { return 1.0L / sqrtl(x); }
static long double r_sqrt(long double x) { return sqrtl(x); }
static long double r_exp(long double x) { return expl(x); }
static long double r_log(long double x) { return logl(x); }
static long double r_relu(long double x) { return x > 0 ? x : 0; }
static long double r_relu6(long double x) { return x > 6 ? 6 : r_relu(x); }
static long double r_relu1(long double x) {
  return x > 1 ? 1 : (x < -1 ? -1 : x);
}
/* sigma(x) = (1 + tanh(x/2)) / 2: a different route from the kernel's. */
static long double r_logistic(long double x) {
  return 0.5L + 0.5L * tanhl(x / 2);
}
static long double r_tanh(long double x) { return tanhl(x); }
static long double r_hard_swish(long double x) {
  if (x <= -3) return 0;
  if (x >= 3) return x;
  return x * (x + 3) / 6;
}
static long double r_leaky(long double x) { return x > 0 ? x : g_alpha * x; }
static long double r_gelu_tanh(long double x) {
  if (isinf(x)) return x > 0 ? x : 0;
  const long double c = sqrtl(2.0L / 3.14159265358979323846L);
  return 0.5L * x * (1 + tanhl(c * (x + 0.044715L * x * x * x)));
}
static long double r_gelu_erf(long double x) {
  if (isinf(x)) return x > 0 ? x : 0;
  return 0.5L * x * (1 + erfl(x / sqrtl(2.0L)));
}

typedef struct math_case {
  kiln_op_type op;
  long double (*ref)(long double);
  float lo, hi;
  const void *attrs;
} math_case;

static const kiln_gelu_attrs kGeluTanh = {true}, kGeluErf = {false};
static kiln_leaky_relu_attrs g_leaky;

static void check_math(const math_case *c, const float *x, int64_t n,
                       const char *what) {
  int64_t dims[1] = {n};
  kiln_tensor *in = kiln_test_tensor_f32(1, dims, x), *out;
  kiln_no_attrs none = {0};
  CHECK_OK(run1(c->op, c->attrs ? c->attrs : &none, in, KILN_FLOAT32, &out));
  float *expected = malloc((size_t)n * sizeof(float) + 1);
  for (int64_t i = 0; i < n; i++)
    expected[i] = isnan(x[i]) ? x[i] : (float)c->ref(x[i]);
  char label[96];
  snprintf(label, sizeof label, "%s %s", kiln_op_table[c->op].name, what);
  CHECK(same_dims(in, out));
  kiln_test_close(out->data, expected, n, 1e-6f, 2e-6f, label);
  free(expected);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

static void test_math(void) {
  g_alpha = kiln_test_uniform(0.0f, 1.0f);
  g_leaky.alpha = g_alpha;
  const math_case cases[] = {
      {KILN_OP_RSQRT, r_rsqrt, 1e-3f, 100, NULL},
      {KILN_OP_SQRT, r_sqrt, 0, 100, NULL},
      {KILN_OP_EXP, r_exp, -20, 20, NULL},
      {KILN_OP_LOG, r_log, 1e-3f, 100, NULL},
      {KILN_OP_RELU, r_relu, -8, 8, NULL},
      {KILN_OP_RELU6, r_relu6, -8, 8, NULL},
      {KILN_OP_RELU_N1_TO_1, r_relu1, -3, 3, NULL},
      {KILN_OP_LEAKY_RELU, r_leaky, -8, 8, &g_leaky},
      {KILN_OP_LOGISTIC, r_logistic, -20, 20, NULL},
      {KILN_OP_TANH, r_tanh, -8, 8, NULL},
      {KILN_OP_HARD_SWISH, r_hard_swish, -8, 8, NULL},
      {KILN_OP_GELU, r_gelu_tanh, -6, 6, &kGeluTanh},
      {KILN_OP_GELU, r_gelu_erf, -6, 6, &kGeluErf},
  };
  const float edges[] = {0,         -0.0f, -3,      3,        6,
                         -6,        1,     -1,      1e30f,    -1e30f,
                         100,       -100,  FLT_MAX, -FLT_MAX, INFINITY,
                         -INFINITY, NAN,   1e-40f,  -1e-40f};
  float random[1000];
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    kiln_test_fill(random, 1000, cases[c].lo, cases[c].hi);
    check_math(&cases[c], random, 1000, "random");
    check_math(&cases[c], edges, sizeof edges / sizeof edges[0], "edges");
  }
}

/* Spot values written out by hand, so the references above are checked
 * too. */
static void test_math_spots(void) {
  struct {
    kiln_op_type op;
    const void *attrs;
    float x, y;
  } spots[] = {
      {KILN_OP_RELU, NULL, NAN, NAN},
      {KILN_OP_RELU6, NULL, 7, 6},
      {KILN_OP_HARD_SWISH, NULL, 1, 4.0f / 6},
      {KILN_OP_HARD_SWISH, NULL, -INFINITY, 0},
      {KILN_OP_LOGISTIC, NULL, -1e30f, 0},
      {KILN_OP_LOGISTIC, NULL, 0, 0.5f},
      {KILN_OP_GELU, &kGeluErf, 1, 0.8413447460685429f},
      {KILN_OP_GELU, &kGeluTanh, 1, 0.8411919906082768f},
      {KILN_OP_GELU, &kGeluErf, -INFINITY, 0},
      {KILN_OP_RSQRT, NULL, 4, 0.5f},
      {KILN_OP_RSQRT, NULL, 0, INFINITY},
      {KILN_OP_LOG, NULL, 0, -INFINITY},
      {KILN_OP_SQRT, NULL, -1, NAN},
  };
  kiln_no_attrs none = {0};
  for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
    int64_t one[1] = {1};
    kiln_tensor *in = kiln_test_tensor_f32(1, one, &spots[i].x), *out;
    CHECK_OK(run1(spots[i].op, spots[i].attrs ? spots[i].attrs : &none, in,
                  KILN_FLOAT32, &out));
    kiln_test_close(out->data, &spots[i].y, 1, 1e-7f, 1e-6f,
                    kiln_op_table[spots[i].op].name);
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(out);
  }
}

/* ------------------------------------------------------------ ABS, NEG */

static void test_abs_neg(void) {
  const float xf[5] = {-2.5f, 0, -0.0f, -INFINITY, NAN};
  const float abs_e[5] = {2.5f, 0, 0, INFINITY, NAN};
  const float neg_e[5] = {2.5f, -0.0f, 0, INFINITY, NAN};
  int64_t d5[1] = {5};
  kiln_tensor *f = kiln_test_tensor_f32(1, d5, xf), *out;
  kiln_no_attrs none = {0};
  CHECK_OK(run1(KILN_OP_ABS, &none, f, KILN_FLOAT32, &out));
  kiln_test_close(out->data, abs_e, 5, 0, 0, "ABS float");
  CHECK(!signbit(((float *)out->data)[2]));
  kiln_test_tensor_free(out);
  CHECK_OK(run1(KILN_OP_NEG, &none, f, KILN_FLOAT32, &out));
  kiln_test_close(out->data, neg_e, 5, 0, 0, "NEG float");
  CHECK(signbit(((float *)out->data)[1]));
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(f);

  const int32_t xi[5] = {-7, 0, 7, INT32_MIN, INT32_MAX};
  kiln_tensor *i = kiln_test_tensor_i32(1, d5, xi);
  CHECK_OK(run1(KILN_OP_ABS, &none, i, KILN_INT32, &out));
  const int32_t *r = out->data;
  CHECK(r[0] == 7 && r[1] == 0 && r[2] == 7 && r[3] == INT32_MIN &&
        r[4] == INT32_MAX);
  kiln_test_tensor_free(out);
  CHECK_OK(run1(KILN_OP_NEG, &none, i, KILN_INT32, &out));
  r = out->data;
  CHECK(r[0] == 7 && r[1] == 0 && r[2] == -7 && r[3] == INT32_MIN &&
        r[4] == -INT32_MAX);
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(i);
}

/* ----------------------------------------------------------------- CAST */

/* Casts n raw elements of `from` to `to` and returns the new tensor. */
static kiln_tensor *cast(kiln_dtype from, const void *data, int64_t n,
                         kiln_dtype to) {
  int64_t dims[1] = {n};
  kiln_tensor *in = kiln_test_tensor(from, 1, dims), *out;
  memcpy(in->data, data, (size_t)n * kiln_dtype_size(from));
  kiln_no_attrs none = {0};
  CHECK_OK(run1(KILN_OP_CAST, &none, in, to, &out));
  CHECK(same_dims(in, out));
  kiln_test_tensor_free(in);
  return out;
}

/* Casts there and back and expects the original bytes. */
static void round_trip(kiln_dtype from, const void *data, int64_t n,
                       kiln_dtype via) {
  kiln_tensor *mid = cast(from, data, n, via);
  kiln_tensor *back = cast(via, mid->data, n, from);
  CHECK(memcmp(back->data, data, (size_t)n * kiln_dtype_size(from)) == 0);
  kiln_test_tensor_free(mid);
  kiln_test_tensor_free(back);
}

static void test_cast_round_trips(void) {
  enum { N = 256 };
  int32_t i32[N];
  int8_t i8[N];
  uint8_t u8[N];
  int64_t i64[N];
  float f32[N];
  uint16_t f16[N];
  for (int i = 0; i < N; i++) {
    i32[i] = kiln_test_int(-(1 << 24), 1 << 24);
    i8[i] = (int8_t)(i - 128);
    u8[i] = (uint8_t)i;
    i64[i] = (int64_t)kiln_test_int(-(1 << 29), 1 << 29) * 16381;
    f32[i] = kiln_test_uniform(-1e6f, 1e6f);
    do f16[i] = (uint16_t)kiln_test_rand(); /* any non-NaN half */
    while ((f16[i] & 0x7c00) == 0x7c00 && (f16[i] & 0x3ff));
  }
  f32[0] = INFINITY, f32[1] = -INFINITY, f32[2] = -0.0f, f32[3] = FLT_MIN;
  round_trip(KILN_INT32, i32, N, KILN_FLOAT32);
  round_trip(KILN_INT32, i32, N, KILN_INT64);
  round_trip(KILN_INT32, i32, N, KILN_FLOAT64);
  round_trip(KILN_INT8, i8, N, KILN_INT32);
  round_trip(KILN_INT8, i8, N, KILN_FLOAT16);
  round_trip(KILN_INT8, i8, N, KILN_INT16);
  round_trip(KILN_UINT8, u8, N, KILN_INT16);
  round_trip(KILN_UINT8, u8, N, KILN_FLOAT32);
  round_trip(KILN_INT64, i64, N, KILN_FLOAT64);
  round_trip(KILN_FLOAT32, f32, N, KILN_FLOAT64);
  round_trip(KILN_FLOAT16, f16, N, KILN_FLOAT32);
  round_trip(KILN_FLOAT16, f16, N, KILN_FLOAT64);
}

static void test_cast_float_to_int(void) {
  const float f[11] = {3.7f,      -3.7f,         0.5f,         -0.5f,
                       1e10f,     -1e10f,        NAN,          INFINITY,
                       -INFINITY, 2147483520.0f, 2147483648.0f};
  const int32_t e32[11] = {3,         -3,         0,        0,
                           INT32_MAX, INT32_MIN,  0,        INT32_MAX,
                           INT32_MIN, 2147483520, INT32_MAX};
  kiln_tensor *t = cast(KILN_FLOAT32, f, 11, KILN_INT32);
  CHECK(memcmp(t->data, e32, sizeof e32) == 0);
  kiln_test_tensor_free(t);

  const float g[6] = {300, -5, 255.9f, NAN, 127.9f, -128.9f};
  const uint8_t eu8[6] = {255, 0, 255, 0, 127, 0};
  const int8_t ei8[6] = {127, -5, 127, 0, 127, -128};
  t = cast(KILN_FLOAT32, g, 6, KILN_UINT8);
  CHECK(memcmp(t->data, eu8, sizeof eu8) == 0);
  kiln_test_tensor_free(t);
  t = cast(KILN_FLOAT32, g, 6, KILN_INT8);
  CHECK(memcmp(t->data, ei8, sizeof ei8) == 0);
  kiln_test_tensor_free(t);

  const double d[4] = {1e19, -1e19, 9.2e18, -9223372036854775808.0};
  const int64_t e64[4] = {INT64_MAX, INT64_MIN, 9200000000000000000LL,
                          INT64_MIN};
  t = cast(KILN_FLOAT64, d, 4, KILN_INT64);
  CHECK(memcmp(t->data, e64, sizeof e64) == 0);
  kiln_test_tensor_free(t);
  const uint16_t h[3] = {0x4d00 /* 20 */, 0xfc00 /* -inf */, 0x5bf8 /* 255 */};
  const int16_t e16[3] = {20, INT16_MIN, 255};
  t = cast(KILN_FLOAT16, h, 3, KILN_INT16);
  CHECK(memcmp(t->data, e16, sizeof e16) == 0);
  kiln_test_tensor_free(t);
}

static void test_cast_misc(void) {
  const int32_t w[5] = {300, -1, 128, -129, 256};
  const int8_t ei8[5] = {44, -1, -128, 127, 0};
  const uint8_t eu8[5] = {44, 255, 128, 127, 0};
  kiln_tensor *t = cast(KILN_INT32, w, 5, KILN_INT8);
  CHECK(memcmp(t->data, ei8, sizeof ei8) == 0);
  kiln_test_tensor_free(t);
  t = cast(KILN_INT32, w, 5, KILN_UINT8);
  CHECK(memcmp(t->data, eu8, sizeof eu8) == 0);
  kiln_test_tensor_free(t);

  const float f[5] = {0, -0.0f, 0.5f, NAN, -INFINITY};
  const uint8_t fb[5] = {0, 0, 1, 1, 1};
  t = cast(KILN_FLOAT32, f, 5, KILN_BOOL);
  CHECK(memcmp(t->data, fb, sizeof fb) == 0);
  kiln_test_tensor_free(t);
  const int64_t iv[3] = {0, 5, INT64_MIN};
  const uint8_t ib[3] = {0, 1, 1};
  t = cast(KILN_INT64, iv, 3, KILN_BOOL);
  CHECK(memcmp(t->data, ib, sizeof ib) == 0);
  kiln_test_tensor_free(t);

  const uint8_t b[3] = {0, 1, 2}; /* a stray nonzero byte still means true */
  const float bf[3] = {0, 1, 1};
  const int64_t bi[3] = {0, 1, 1};
  t = cast(KILN_BOOL, b, 3, KILN_FLOAT32);
  CHECK(memcmp(t->data, bf, sizeof bf) == 0);
  kiln_test_tensor_free(t);
  t = cast(KILN_BOOL, b, 3, KILN_INT64);
  CHECK(memcmp(t->data, bi, sizeof bi) == 0);
  kiln_test_tensor_free(t);

  const int64_t big[2] = {(1LL << 53) + 1, -(1LL << 40) - 1};
  const float bigf[2] = {(float)((1LL << 53) + 1), (float)(-(1LL << 40) - 1)};
  t = cast(KILN_INT64, big, 2, KILN_FLOAT32);
  CHECK(memcmp(t->data, bigf, sizeof bigf) == 0);
  kiln_test_tensor_free(t);

  const double dd[3] = {1e300, -1e300, 1.0};
  const float df[3] = {INFINITY, -INFINITY, 1.0f};
  t = cast(KILN_FLOAT64, dd, 3, KILN_FLOAT32);
  CHECK(memcmp(t->data, df, sizeof df) == 0);
  kiln_test_tensor_free(t);
  const float hf[4] = {1.0f, 65520.0f, -2.0f, 5.9604645e-08f};
  const uint16_t hh[4] = {0x3c00, 0x7c00, 0xc000, 0x0001};
  t = cast(KILN_FLOAT32, hf, 4, KILN_FLOAT16);
  CHECK(memcmp(t->data, hh, sizeof hh) == 0);
  kiln_test_tensor_free(t);
}

/* ----------------------------------------------------------- DEQUANTIZE */

/* IEEE half decoded from its definition rather than by bit surgery. */
static float half_reference(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0)
    v = m / 1024.0 * pow(2, -14);
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = (1 + m / 1024.0) * pow(2, e - 15);
  return (float)(sign ? -v : v);
}

static void test_dequantize_f16(void) {
  int64_t dims[2] = {256, 256};
  kiln_tensor *in = kiln_test_tensor(KILN_FLOAT16, 2, dims), *out;
  for (int i = 0; i < 65536; i++) ((uint16_t *)in->data)[i] = (uint16_t)i;
  kiln_no_attrs none = {0};
  CHECK_OK(run1(KILN_OP_DEQUANTIZE, &none, in, KILN_FLOAT32, &out));
  CHECK(same_dims(in, out));
  int bad = 0;
  for (int i = 0; i < 65536; i++) {
    float got = ((float *)out->data)[i], want = half_reference((uint16_t)i);
    bool ok = isnan(want) ? isnan(got) : memcmp(&got, &want, sizeof got) == 0;
    if (!ok && bad++ < 5)
      fprintf(stderr, "half 0x%04x: got %g want %g\n", i, got, want);
  }
  CHECK(bad == 0);
  const float *r = out->data;
  CHECK(r[0x0001] == 5.9604644775390625e-08f); /* smallest subnormal */
  CHECK(r[0x03ff] == 6.097555160522461e-05f);  /* largest subnormal */
  CHECK(r[0x7bff] == 65504.0f && r[0x7c00] == INFINITY);
  CHECK(r[0xfc00] == -INFINITY && signbit(r[0x8000]) && r[0x8000] == 0);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

static void test_dequantize_per_channel(void) {
  int64_t dims[3] = {2, 3, 4};
  for (int axis = 0; axis < 3; axis++) {
    kiln_tensor *in = kiln_test_tensor(KILN_INT8, 3, dims), *out;
    float scale[4];
    int64_t zp[4];
    for (int c = 0; c < 4; c++) {
      scale[c] = kiln_test_uniform(0.01f, 1.0f);
      zp[c] = kiln_test_int(-10, 10);
    }
    kiln_quant_info q = {(int)dims[axis], scale, zp, axis};
    in->quant = &q;
    int8_t *v = in->data;
    for (int i = 0; i < 24; i++) v[i] = (int8_t)kiln_test_int(-128, 127);
    kiln_no_attrs none = {0};
    CHECK_OK(run1(KILN_OP_DEQUANTIZE, &none, in, KILN_FLOAT32, &out));
    float expected[24];
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 3; b++)
        for (int c = 0; c < 4; c++) {
          int ch = axis == 0 ? a : (axis == 1 ? b : c), i = (a * 3 + b) * 4 + c;
          expected[i] = scale[ch] * (float)(v[i] - zp[ch]);
        }
    kiln_test_close(out->data, expected, 24, 0, 1e-7f, "per-channel int8");
    in->quant = NULL;
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(out);
  }
}

static void test_dequantize_per_tensor(void) {
  int64_t dims[1] = {4};
  float scale = 0.5f;
  int64_t zp = 128;
  kiln_quant_info q = {1, &scale, &zp, 0};
  kiln_tensor *u = kiln_test_tensor(KILN_UINT8, 1, dims), *out;
  memcpy(u->data, (uint8_t[4]){0, 128, 129, 255}, 4);
  u->quant = &q;
  kiln_no_attrs none = {0};
  CHECK_OK(run1(KILN_OP_DEQUANTIZE, &none, u, KILN_FLOAT32, &out));
  kiln_test_close(out->data, (float[4]){-64, 0, 0.5f, 63.5f}, 4, 0, 0, "uint8");
  kiln_test_tensor_free(out);

  float s16 = 1.0f / 256;
  int64_t z16 = 0;
  kiln_quant_info q16 = {1, &s16, &z16, 0};
  kiln_tensor *w = kiln_test_tensor(KILN_INT16, 1, dims);
  memcpy(w->data, (int16_t[4]){INT16_MIN, -1, 256, INT16_MAX}, 8);
  w->quant = &q16;
  CHECK_OK(run1(KILN_OP_DEQUANTIZE, &none, w, KILN_FLOAT32, &out));
  kiln_test_close(out->data, (float[4]){-128, -1.0f / 256, 1, 32767.0f / 256},
                  4, 0, 0, "int16");
  kiln_test_tensor_free(out);

  /* errors */
  kiln_quant_info bad = {3, &scale, &zp, 0};
  u->quant = &bad;
  CHECK_ERROR(run1(KILN_OP_DEQUANTIZE, &none, u, KILN_FLOAT32, &out),
              KILN_ERR_INVALID_MODEL, "3 per-channel quantization parameters");
  kiln_test_tensor_free(out);
  u->quant = NULL;
  CHECK_ERROR(run1(KILN_OP_DEQUANTIZE, &none, u, KILN_FLOAT32, &out),
              KILN_ERR_INVALID_MODEL, "has no quantization parameters");
  kiln_test_tensor_free(out);
  u->quant = &q;
  CHECK_ERROR(run1(KILN_OP_DEQUANTIZE, &none, u, KILN_INT32, &out),
              KILN_ERR_UNSUPPORTED, "output 0 has type int32");
  kiln_test_tensor_free(out);
  u->quant = w->quant = NULL;
  kiln_test_tensor_free(u);
  kiln_test_tensor_free(w);
}

/* --------------------------------------------------------------- errors */

static kiln_status *shape_of(kiln_shape_fn fn, kiln_tensor **inputs, int n,
                             kiln_dtype out_dtype) {
  kiln_tensor out = {out_dtype, 0, {0}, NULL, NULL};
  kiln_tensor *outs[1] = {&out};
  kiln_no_attrs none = {0};
  kiln_op_ctx ctx = {&none, inputs, n, outs, 1, NULL, NULL, NULL};
  return fn(&ctx);
}

static void test_errors(void) {
  int64_t d[2] = {2, 3};
  kiln_tensor *f = kiln_test_tensor(KILN_FLOAT32, 2, d);
  kiln_tensor *i = kiln_test_tensor(KILN_INT32, 2, d);
  kiln_tensor *b = kiln_test_tensor(KILN_INT8, 2, d);
  kiln_tensor *bad = kiln_test_tensor(KILN_DTYPE_INVALID, 2, d), *out;
  kiln_no_attrs none = {0};

  CHECK_ERROR(run1(KILN_OP_RSQRT, &none, i, KILN_INT32, &out),
              KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type int32; expected float32");
  kiln_test_tensor_free(out);
  CHECK_ERROR(run1(KILN_OP_RELU, &none, f, KILN_INT32, &out),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type int32; expected float32");
  kiln_test_tensor_free(out);
  CHECK_ERROR(run1(KILN_OP_ABS, &none, b, KILN_INT8, &out),
              KILN_ERR_UNSUPPORTED, "int8; expected float32 or int32");
  kiln_test_tensor_free(out);
  CHECK_ERROR(run1(KILN_OP_DEQUANTIZE, &none, f, KILN_FLOAT32, &out),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type float32");
  kiln_test_tensor_free(out);
  CHECK_ERROR(run1(KILN_OP_CAST, &none, bad, KILN_FLOAT32, &out),
              KILN_ERR_INVALID_MODEL, "input 0 (x) has type invalid");
  kiln_test_tensor_free(out);
  CHECK_ERROR(run1(KILN_OP_CAST, &none, f, KILN_DTYPE_INVALID, &out),
              KILN_ERR_INVALID_MODEL, "output 0 has type invalid");
  kiln_test_tensor_free(out);

  CHECK_ERROR(
      shape_of(kiln_shape_unary, (kiln_tensor *[]){f, f}, 2, KILN_FLOAT32),
      KILN_ERR_INVALID_MODEL, "expects 1 inputs, has 2");
  CHECK_ERROR(
      shape_of(kiln_shape_unary, (kiln_tensor *[]){NULL}, 1, KILN_FLOAT32),
      KILN_ERR_INVALID_MODEL, "input 0 (x) is missing");
  CHECK_ERROR(
      shape_of(kiln_shape_unary_float, (kiln_tensor *[]){i}, 1, KILN_INT32),
      KILN_ERR_UNSUPPORTED, "input 0 (x) has type int32");
  CHECK_OK(
      shape_of(kiln_shape_unary_signed, (kiln_tensor *[]){i}, 1, KILN_INT32));
  CHECK_ERROR(
      shape_of(kiln_shape_unary_signed, (kiln_tensor *[]){i}, 1, KILN_FLOAT32),
      KILN_ERR_INVALID_MODEL, "output 0 has type float32");
  CHECK_OK(shape_of(kiln_shape_cast, (kiln_tensor *[]){b}, 1, KILN_BOOL));
  CHECK_ERROR(
      shape_of(kiln_shape_dequantize, (kiln_tensor *[]){b}, 1, KILN_FLOAT32),
      KILN_ERR_INVALID_MODEL, "no quantization parameters");

  kiln_tensor *all[] = {f, i, b, bad};
  for (size_t k = 0; k < 4; k++) kiln_test_tensor_free(all[k]);
}

int main(void) {
  kiln_test_seed(7031);
  test_math();
  test_math_spots();
  test_abs_neg();
  test_cast_round_trips();
  test_cast_float_to_int();
  test_cast_misc();
  test_dequantize_f16();
  test_dequantize_per_channel();
  test_dequantize_per_tensor();
  test_errors();
  return kiln_test_finish("test_ref_unary");
}
