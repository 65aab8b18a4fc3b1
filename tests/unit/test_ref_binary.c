/* test_ref_binary.c - reference binary kernels and SELECT_V2 against explicit
 * multi-index loops, over every kind of broadcast (MUL also on uint32 with
 * TFLite's uint32 clamps, and on complex64). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"

kiln_status *kiln_shape_binary_arith(const kiln_op_ctx *ctx);
kiln_status *kiln_shape_mul(const kiln_op_ctx *ctx);
kiln_status *kiln_shape_binary_float(const kiln_op_ctx *ctx);

typedef struct shape {
  int rank;
  int64_t dims[KILN_MAX_RANK];
} shape;

static int64_t numel(const shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) n *= s->dims[i];
  return n;
}

/* The last `rank` dims of base, each kept or (with probability 1/ones)
 * replaced by 1. */
static shape derive(const int64_t *base, int base_rank, int rank, int ones) {
  shape s = {rank, {0}};
  for (int i = 0; i < rank; i++) {
    int64_t d = base[base_rank - rank + i];
    s.dims[i] = (ones && kiln_test_int(0, ones - 1) == 0) ? 1 : d;
  }
  return s;
}

/* Shape pairs of every broadcasting kind. */
static void random_pair(shape *a, shape *b, int kind) {
  int64_t base[KILN_MAX_RANK];
  int rank = kiln_test_int(1, 5);
  for (int i = 0; i < rank; i++) base[i] = kiln_test_int(1, 4);
  *a = derive(base, rank, rank, 0);
  switch (kind) {
    case 0:
      *b = *a;
      break; /* same */
    case 1:
      *b = derive(base, rank, 0, 0);
      break; /* scalar */
    case 2:
      *b = derive(base, rank, kiln_test_int(1, rank), 0); /* trailing */
      break;
    case 3: { /* leading 1s, same rank */
      int ones = kiln_test_int(1, rank);
      *b = *a;
      for (int i = 0; i < ones; i++) b->dims[i] = 1;
      break;
    }
    case 4:
      *b = derive(base, rank, kiln_test_int(1, rank), 2);
      break;
    default: /* both sides broadcast */
      *a = derive(base, rank, rank, 2);
      *b = derive(base, rank, kiln_test_int(0, rank), 2);
      break;
  }
  if (kiln_test_int(0, 1)) {
    shape t = *a;
    *a = *b;
    *b = t;
  }
}

static shape expected_broadcast(const shape *const *in, int count) {
  shape out = {0, {0}};
  for (int k = 0; k < count; k++)
    if (in[k]->rank > out.rank) out.rank = in[k]->rank;
  for (int d = 0; d < out.rank; d++) out.dims[d] = 1;
  for (int k = 0; k < count; k++)
    for (int j = 0; j < in[k]->rank; j++) {
      int64_t *o = &out.dims[out.rank - in[k]->rank + j];
      if (in[k]->dims[j] != 1) *o = in[k]->dims[j];
    }
  return out;
}

/* Flat index into `in` of output element f: the output multi-index by
 * division, with broadcast axes pinned to 0. */
static int64_t source_index(const shape *out, const shape *in, int64_t f) {
  int64_t idx[KILN_MAX_RANK];
  for (int d = out->rank - 1; d >= 0; d--) {
    idx[d] = f % out->dims[d];
    f /= out->dims[d];
  }
  int64_t flat = 0;
  for (int j = 0; j < in->rank; j++) {
    int64_t i = in->dims[j] == 1 ? 0 : idx[out->rank - in->rank + j];
    flat = flat * in->dims[j] + i;
  }
  return flat;
}

static bool same_shape(const kiln_tensor *t, const shape *s) {
  if (t->rank != s->rank) return false;
  for (int i = 0; i < s->rank; i++)
    if (t->dims[i] != s->dims[i]) return false;
  return true;
}

static kiln_tensor *new_tensor(kiln_dtype dtype, const shape *s) {
  return kiln_test_tensor(dtype, s->rank, s->dims);
}

static kiln_tensor *new_output(kiln_dtype dtype) {
  return kiln_test_tensor(dtype, 0, NULL);
}

/* ---------------------------------------------------------------- float */

typedef struct float_case {
  kiln_op_type op;
  double (*ref)(double a, double b);
  bool fused;
  float lo_x, hi_x; /* y is drawn from [0.5, 2) with a random sign */
} float_case;

static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_max(double a, double b) { return fmax(a, b); }
static double r_min(double a, double b) { return fmin(a, b); }
static double r_sqdiff(double a, double b) { return pow(a - b, 2.0); }
static double r_pow(double a, double b) { return pow(a, b); }
static double r_prelu(double a, double b) { return a < 0 ? b * a : a; }

static const float_case kFloatCases[] = {
    {KILN_OP_ADD, r_add, true, -2, 2},
    {KILN_OP_SUB, r_sub, true, -2, 2},
    {KILN_OP_MUL, r_mul, true, -2, 2},
    {KILN_OP_DIV, r_div, true, -2, 2},
    {KILN_OP_MAXIMUM, r_max, false, -2, 2},
    {KILN_OP_MINIMUM, r_min, false, -2, 2},
    {KILN_OP_SQUARED_DIFFERENCE, r_sqdiff, false, -2, 2},
    {KILN_OP_POW, r_pow, false, 0.1f, 2},
    {KILN_OP_PRELU, r_prelu, false, -2, 2},
};

static double ref_activation(double v, kiln_activation act) {
  switch (act) {
    case KILN_ACT_RELU:
      return v < 0 ? 0 : v;
    case KILN_ACT_RELU6:
      return fmin(fmax(v, 0), 6);
    case KILN_ACT_RELU_N1_TO_1:
      return fmin(fmax(v, -1), 1);
    case KILN_ACT_TANH:
      return tanh(v);
    default:
      return v;
  }
}

static void fill_y(float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = kiln_test_uniform(0.5f, 2.0f) * (kiln_test_int(0, 1) ? 1 : -1);
}

static void test_float_case(const float_case *c, int kind) {
  shape sa, sb;
  random_pair(&sa, &sb, kind);
  const shape *ins[2] = {&sa, &sb};
  shape so = expected_broadcast(ins, 2);
  kiln_tensor *a = new_tensor(KILN_FLOAT32, &sa),
              *b = new_tensor(KILN_FLOAT32, &sb);
  kiln_tensor *out = new_output(KILN_FLOAT32);
  kiln_test_fill(a->data, numel(&sa), c->lo_x, c->hi_x);
  fill_y(b->data, numel(&sb));
  kiln_activation_attrs attrs = {KILN_ACT_NONE};
  if (c->fused) attrs.activation = (kiln_activation)kiln_test_int(0, 4);
  kiln_tensor *inputs[2] = {a, b};
  CHECK_OK(kiln_test_run_op(c->op, &attrs, inputs, 2, &out, 1));
  CHECK(same_shape(out, &so));
  int64_t n = numel(&so);
  float *expected = malloc((size_t)n * sizeof(float) + 1);
  const float *pa = a->data, *pb = b->data;
  for (int64_t f = 0; f < n; f++) {
    double v =
        c->ref(pa[source_index(&so, &sa, f)], pb[source_index(&so, &sb, f)]);
    expected[f] = (float)ref_activation(v, attrs.activation);
  }
  char what[64];
  snprintf(what, sizeof what, "%s kind %d", kiln_op_table[c->op].name, kind);
  if (same_shape(out, &so))
    kiln_test_close(out->data, expected, n, 1e-6f, 1e-5f, what);
  free(expected);
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(out);
}

static void test_float_broadcasts(void) {
  for (size_t c = 0; c < sizeof kFloatCases / sizeof kFloatCases[0]; c++)
    for (int kind = 0; kind < 6; kind++)
      for (int rep = 0; rep < 6; rep++) test_float_case(&kFloatCases[c], kind);
}

/* Runs a float op on two 1-D tensors of n elements each. */
static void run_pair(kiln_op_type op, kiln_activation act, const float *x,
                     const float *y, int64_t n, float *result) {
  int64_t dims[1] = {n};
  kiln_tensor *a = kiln_test_tensor_f32(1, dims, x);
  kiln_tensor *b = kiln_test_tensor_f32(1, dims, y);
  kiln_tensor *out = new_output(KILN_FLOAT32);
  kiln_tensor *inputs[2] = {a, b};
  kiln_activation_attrs attrs = {act};
  CHECK_OK(kiln_test_run_op(op, &attrs, inputs, 2, &out, 1));
  memcpy(result, out->data, (size_t)n * sizeof(float));
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(out);
}

static void test_float_edges(void) {
  const float inf = INFINITY, nan = NAN;
  float got[8];
  const float x[8] = {-10, -0.5f, 0, 3, 6, 7, nan, inf};
  const float zero[8] = {0};
  const float relu6[8] = {0, 0, 0, 3, 6, 6, nan, 6};
  run_pair(KILN_OP_ADD, KILN_ACT_RELU6, x, zero, 8, got);
  kiln_test_close(got, relu6, 8, 0, 0, "ADD+RELU6 edges");
  const float relu[6] = {0, 0, 0, 3, 6, 7}; /* NaN is kiln_activate's call */
  run_pair(KILN_OP_SUB, KILN_ACT_RELU, x, zero, 8, got);
  kiln_test_close(got, relu, 6, 0, 0, "SUB+RELU edges");
  CHECK(got[7] == inf);
  const float n1[8] = {-1, -0.5f, 0, 1, 1, 1, nan, 1};
  run_pair(KILN_OP_MUL, KILN_ACT_RELU_N1_TO_1, x,
           (const float[8]){1, 1, 1, 1, 1, 1, 1, 1}, 8, got);
  kiln_test_close(got, n1, 8, 0, 0, "MUL+RELU_N1_TO_1 edges");

  const float a[6] = {nan, 1, nan, -inf, inf, 1};
  const float b[6] = {1, nan, nan, 2, -inf, 0};
  run_pair(KILN_OP_MAXIMUM, KILN_ACT_NONE, a, b, 6, got);
  const float max_e[6] = {nan, nan, nan, 2, inf, 1};
  kiln_test_close(got, max_e, 6, 0, 0, "MAXIMUM NaN/inf");
  run_pair(KILN_OP_MINIMUM, KILN_ACT_NONE, a, b, 6, got);
  const float min_e[6] = {nan, nan, nan, -inf, -inf, 0};
  kiln_test_close(got, min_e, 6, 0, 0, "MINIMUM NaN/inf");
  run_pair(KILN_OP_DIV, KILN_ACT_NONE, a, b, 6, got);
  const float div_e[6] = {nan, nan, nan, -inf, nan, inf};
  kiln_test_close(got, div_e, 6, 0, 0, "DIV NaN/inf/zero");
  run_pair(KILN_OP_ADD, KILN_ACT_NONE, a, b, 6, got);
  const float add_e[6] = {nan, nan, nan, -inf, nan, 1};
  kiln_test_close(got, add_e, 6, 0, 0, "ADD NaN/inf");

  const float px[4] = {-inf, -2, nan, 0};
  const float alpha[4] = {0.5f, 0.25f, 0.5f, 3};
  const float prelu_e[4] = {-inf, -0.5f, nan, 0};
  run_pair(KILN_OP_PRELU, KILN_ACT_NONE, px, alpha, 4, got);
  kiln_test_close(got, prelu_e, 4, 0, 0, "PRELU edges");
  const float bx[4] = {2, 0, -8, 4}, ex[4] = {10, -1, 0.5f, 0.5f};
  const float pow_e[4] = {1024, inf, nan, 2};
  run_pair(KILN_OP_POW, KILN_ACT_NONE, bx, ex, 4, got);
  kiln_test_close(got, pow_e, 4, 0, 1e-6f, "POW edges");
}

/* Rank 8 with alternating broadcast axes on both sides. */
static void test_rank8(void) {
  shape sa = {8, {2, 1, 2, 1, 2, 1, 2, 1}}, sb = {8, {1, 3, 1, 2, 1, 2, 1, 2}};
  const shape *ins[2] = {&sa, &sb};
  shape so = expected_broadcast(ins, 2);
  kiln_tensor *a = new_tensor(KILN_FLOAT32, &sa),
              *b = new_tensor(KILN_FLOAT32, &sb);
  kiln_tensor *out = new_output(KILN_FLOAT32);
  kiln_test_fill(a->data, numel(&sa), -1, 1);
  kiln_test_fill(b->data, numel(&sb), -1, 1);
  kiln_tensor *inputs[2] = {a, b};
  kiln_activation_attrs attrs = {KILN_ACT_NONE};
  CHECK_OK(kiln_test_run_op(KILN_OP_SUB, &attrs, inputs, 2, &out, 1));
  CHECK(same_shape(out, &so));
  int64_t n = numel(&so);
  float *expected = malloc((size_t)n * sizeof(float));
  for (int64_t f = 0; f < n; f++)
    expected[f] = ((float *)a->data)[source_index(&so, &sa, f)] -
                  ((float *)b->data)[source_index(&so, &sb, f)];
  kiln_test_close(out->data, expected, n, 0, 0, "rank 8 SUB");
  free(expected);
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(out);
}

/* float16 ADD / SUB / MUL, with the RELU clamps: each element the float
 * result of the widened pair, clamped and rounded to half (exact halves:
 * inputs are multiples of 1/4 below 8, so every sum, difference and
 * product is a half too). */
static void test_float16(void) {
  const kiln_op_type ops[3] = {KILN_OP_ADD, KILN_OP_SUB, KILN_OP_MUL};
  const kiln_activation acts[3] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                   KILN_ACT_RELU_N1_TO_1};
  for (int trial = 0; trial < 30; trial++) {
    shape sa, sb;
    random_pair(&sa, &sb, trial % 6);
    const shape *ins[2] = {&sa, &sb};
    shape so = expected_broadcast(ins, 2);
    kiln_tensor *a = new_tensor(KILN_FLOAT16, &sa);
    kiln_tensor *b = new_tensor(KILN_FLOAT16, &sb);
    kiln_tensor *out = new_output(KILN_FLOAT16);
    uint16_t *ha = a->data, *hb = b->data;
    for (int64_t i = 0; i < numel(&sa); i++)
      ha[i] = kiln_float_to_half((float)kiln_test_int(-31, 31) / 4);
    for (int64_t i = 0; i < numel(&sb); i++)
      hb[i] = kiln_float_to_half((float)kiln_test_int(-31, 31) / 4);
    kiln_op_type op = ops[trial % 3];
    kiln_activation_attrs attrs = {acts[trial / 3 % 3]};
    kiln_tensor *inputs[2] = {a, b};
    CHECK_OK(kiln_test_run_op(op, &attrs, inputs, 2, &out, 1));
    CHECK(same_shape(out, &so) && out->dtype == KILN_FLOAT16);
    int bad = 0;
    for (int64_t f = 0; f < numel(&so) && same_shape(out, &so); f++) {
      double x = kiln_half_to_float(ha[source_index(&so, &sa, f)]);
      double y = kiln_half_to_float(hb[source_index(&so, &sb, f)]);
      double e = op == KILN_OP_ADD ? x + y : op == KILN_OP_SUB ? x - y : x * y;
      if (attrs.activation == KILN_ACT_RELU) e = e < 0 ? 0 : e;
      if (attrs.activation == KILN_ACT_RELU_N1_TO_1)
        e = e < -1 ? -1 : (e > 1 ? 1 : e);
      bad += kiln_half_to_float(((uint16_t *)out->data)[f]) != (float)e;
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(a);
    kiln_test_tensor_free(b);
    kiln_test_tensor_free(out);
  }
}

/* ------------------------------------------------ MUL: uint32, complex64 */

/* uint32 products modulo 2^32, then TFLite's clamps computed in uint32:
 * RELU keeps all, RELU6 caps at 6, RELU_N1_TO_1 makes everything 1 (its
 * -1 bottom wraps to the largest uint32, above every product). */
static void test_mul_uint32(void) {
  const kiln_activation acts[4] = {KILN_ACT_NONE, KILN_ACT_RELU, KILN_ACT_RELU6,
                                   KILN_ACT_RELU_N1_TO_1};
  for (int trial = 0; trial < 48; trial++) {
    shape sa, sb;
    random_pair(&sa, &sb, trial % 6);
    const shape *ins[2] = {&sa, &sb};
    shape so = expected_broadcast(ins, 2);
    kiln_tensor *a = new_tensor(KILN_UINT32, &sa);
    kiln_tensor *b = new_tensor(KILN_UINT32, &sb);
    kiln_tensor *out = new_output(KILN_UINT32);
    uint32_t *ua = a->data, *ub = b->data;
    /* small values (RELU6 sees both sides of 6) and full-range ones */
    bool small = trial % 2 == 0;
    for (int64_t i = 0; i < numel(&sa); i++)
      ua[i] = small ? (uint32_t)kiln_test_int(0, 4)
                    : (uint32_t)kiln_test_int(0, INT32_MAX) * 2u +
                          (uint32_t)kiln_test_int(0, 1);
    for (int64_t i = 0; i < numel(&sb); i++)
      ub[i] = small ? (uint32_t)kiln_test_int(0, 4)
                    : (uint32_t)kiln_test_int(0, 70000);
    kiln_activation_attrs attrs = {acts[trial / 6 % 4]};
    kiln_tensor *inputs[2] = {a, b};
    CHECK_OK(kiln_test_run_op(KILN_OP_MUL, &attrs, inputs, 2, &out, 1));
    CHECK(same_shape(out, &so) && out->dtype == KILN_UINT32);
    int bad = 0;
    for (int64_t f = 0; f < numel(&so) && same_shape(out, &so); f++) {
      uint64_t e = ((uint64_t)ua[source_index(&so, &sa, f)] *
                    (uint64_t)ub[source_index(&so, &sb, f)]) &
                   0xffffffffu;
      if (attrs.activation == KILN_ACT_RELU6 && e > 6) e = 6;
      if (attrs.activation == KILN_ACT_RELU_N1_TO_1) e = 1;
      bad += ((uint32_t *)out->data)[f] != e;
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(a);
    kiln_test_tensor_free(b);
    kiln_test_tensor_free(out);
  }
}

/* complex64 products against (ac - bd) + (ad + bc)i in double. */
static void test_mul_complex(void) {
  for (int trial = 0; trial < 36; trial++) {
    shape sa, sb;
    random_pair(&sa, &sb, trial % 6);
    const shape *ins[2] = {&sa, &sb};
    shape so = expected_broadcast(ins, 2);
    kiln_tensor *a = new_tensor(KILN_COMPLEX64, &sa);
    kiln_tensor *b = new_tensor(KILN_COMPLEX64, &sb);
    kiln_tensor *out = new_output(KILN_COMPLEX64);
    float *ca = a->data, *cb = b->data;
    for (int64_t i = 0; i < 2 * numel(&sa); i++)
      ca[i] = kiln_test_uniform(-3, 3);
    for (int64_t i = 0; i < 2 * numel(&sb); i++)
      cb[i] = kiln_test_uniform(-3, 3);
    kiln_activation_attrs attrs = {KILN_ACT_NONE};
    kiln_tensor *inputs[2] = {a, b};
    CHECK_OK(kiln_test_run_op(KILN_OP_MUL, &attrs, inputs, 2, &out, 1));
    CHECK(same_shape(out, &so) && out->dtype == KILN_COMPLEX64);
    int bad = 0;
    for (int64_t f = 0; f < numel(&so) && same_shape(out, &so); f++) {
      const float *x = ca + 2 * source_index(&so, &sa, f);
      const float *y = cb + 2 * source_index(&so, &sb, f);
      double re = (double)x[0] * y[0] - (double)x[1] * y[1];
      double im = (double)x[0] * y[1] + (double)x[1] * y[0];
      const float *got = (const float *)out->data + 2 * f;
      bad += !(fabs(got[0] - re) <= 1e-5 * (1 + fabs(re)) &&
               fabs(got[1] - im) <= 1e-5 * (1 + fabs(im)));
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(a);
    kiln_test_tensor_free(b);
    kiln_test_tensor_free(out);
  }
}

/* -------------------------------------------------------------- integer */

static int64_t get_int(const kiln_tensor *t, int64_t i) {
  return t->dtype == KILN_INT32 ? ((int32_t *)t->data)[i]
                                : ((int64_t *)t->data)[i];
}

static void set_int(kiln_tensor *t, int64_t i, int64_t v) {
  if (t->dtype == KILN_INT32)
    ((int32_t *)t->data)[i] = (int32_t)v;
  else
    ((int64_t *)t->data)[i] = v;
}

static int64_t ref_int(kiln_op_type op, int64_t a, int64_t b) {
  switch (op) {
    case KILN_OP_ADD:
      return a + b;
    case KILN_OP_SUB:
      return a - b;
    case KILN_OP_MUL:
      return a * b;
    case KILN_OP_DIV:
      return a / b; /* C truncates toward zero */
    case KILN_OP_MAXIMUM:
      return a < b ? b : a;
    default:
      return a < b ? a : b;
  }
}

static void test_int_case(kiln_dtype dtype, kiln_op_type op, int kind) {
  shape sa, sb;
  random_pair(&sa, &sb, kind);
  const shape *ins[2] = {&sa, &sb};
  shape so = expected_broadcast(ins, 2);
  kiln_tensor *a = new_tensor(dtype, &sa), *b = new_tensor(dtype, &sb);
  kiln_tensor *out = new_output(dtype);
  for (int64_t i = 0; i < numel(&sa); i++)
    set_int(a, i, kiln_test_int(-1000, 1000));
  for (int64_t i = 0; i < numel(&sb); i++) {
    int v = kiln_test_int(-50, 50);
    set_int(b, i, v == 0 ? 7 : v);
  }
  kiln_tensor *inputs[2] = {a, b};
  /* int32 ADD / SUB / MUL / DIV clamp as TFLite's activation ranges */
  static const kiln_activation acts[4] = {
      KILN_ACT_NONE, KILN_ACT_RELU, KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
  static const int64_t lo[4] = {INT64_MIN, 0, 0, -1};
  static const int64_t hi[4] = {INT64_MAX, INT64_MAX, 6, 1};
  int k = dtype == KILN_INT32 && op != KILN_OP_MAXIMUM && op != KILN_OP_MINIMUM
              ? kiln_test_int(0, 3)
              : 0;
  kiln_activation_attrs attrs = {acts[k]};
  CHECK_OK(kiln_test_run_op(op, &attrs, inputs, 2, &out, 1));
  CHECK(same_shape(out, &so) && out->dtype == dtype);
  int bad = 0;
  for (int64_t f = 0; f < numel(&so) && same_shape(out, &so); f++) {
    int64_t e = ref_int(op, get_int(a, source_index(&so, &sa, f)),
                        get_int(b, source_index(&so, &sb, f)));
    e = e < lo[k] ? lo[k] : (e > hi[k] ? hi[k] : e);
    bad += get_int(out, f) != e;
  }
  CHECK(bad == 0);
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(out);
}

static void test_int_broadcasts(void) {
  const kiln_op_type ops[] = {KILN_OP_ADD, KILN_OP_SUB,     KILN_OP_MUL,
                              KILN_OP_DIV, KILN_OP_MAXIMUM, KILN_OP_MINIMUM};
  for (int o = 0; o < 6; o++)
    for (int kind = 0; kind < 6; kind++)
      for (int rep = 0; rep < 3; rep++) {
        test_int_case(KILN_INT32, ops[o], kind);
        test_int_case(KILN_INT64, ops[o], kind);
      }
}

/* POW and SQUARED_DIFFERENCE on int32 (as TFLite has them), against
 * products computed exactly in int64 by repeated multiplication and then
 * wrapped to 32 bits. */
static void test_int32_pow_sqdiff(void) {
  for (int rep = 0; rep < 24; rep++) {
    shape sa, sb;
    random_pair(&sa, &sb, rep % 6);
    const shape *ins[2] = {&sa, &sb};
    shape so = expected_broadcast(ins, 2);
    bool is_pow = rep % 2 == 0;
    kiln_tensor *a = new_tensor(KILN_INT32, &sa),
                *b = new_tensor(KILN_INT32, &sb);
    kiln_tensor *out = new_output(KILN_INT32);
    for (int64_t i = 0; i < numel(&sa); i++)
      set_int(a, i, kiln_test_int(-1000, 1000));
    for (int64_t i = 0; i < numel(&sb); i++)
      set_int(b, i, is_pow ? kiln_test_int(0, 5) : kiln_test_int(-1000, 1000));
    kiln_tensor *inputs[2] = {a, b};
    CHECK_OK(kiln_test_run_op(is_pow ? KILN_OP_POW : KILN_OP_SQUARED_DIFFERENCE,
                              NULL, inputs, 2, &out, 1));
    CHECK(same_shape(out, &so));
    int bad = 0;
    for (int64_t f = 0; f < numel(&so) && same_shape(out, &so); f++) {
      int64_t x = get_int(a, source_index(&so, &sa, f)),
              y = get_int(b, source_index(&so, &sb, f)), e = 1;
      if (is_pow)
        for (int64_t k = 0; k < y; k++) e *= x;
      else
        e = (x - y) * (x - y);
      bad += get_int(out, f) != (int32_t)(uint32_t)(uint64_t)e;
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(a);
    kiln_test_tensor_free(b);
    kiln_test_tensor_free(out);
  }
}

/* One int op on 1-D operands; returns the status and fills result. */
static kiln_status *run_int_pair(kiln_dtype dtype, kiln_op_type op,
                                 const int64_t *x, const int64_t *y, int n,
                                 int64_t *result) {
  int64_t dims[1] = {n};
  kiln_tensor *a = kiln_test_tensor(dtype, 1, dims);
  kiln_tensor *b = kiln_test_tensor(dtype, 1, dims);
  kiln_tensor *out = new_output(dtype);
  for (int i = 0; i < n; i++) {
    set_int(a, i, x[i]);
    set_int(b, i, y[i]);
  }
  kiln_tensor *inputs[2] = {a, b};
  kiln_activation_attrs attrs = {KILN_ACT_NONE};
  kiln_status *st = kiln_test_run_op(op, &attrs, inputs, 2, &out, 1);
  for (int i = 0; i < n && !st; i++) result[i] = get_int(out, i);
  kiln_test_tensor_free(a);
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(out);
  return st;
}

static void test_int_edges(void) {
  int64_t r[4];
  const int64_t x[4] = {-7, 7, -7, INT32_MIN}, y[4] = {2, -2, -2, -1};
  CHECK_OK(run_int_pair(KILN_INT32, KILN_OP_DIV, x, y, 4, r));
  CHECK(r[0] == -3 && r[1] == -3 && r[2] == 3 && r[3] == INT32_MIN);
  const int64_t big[2] = {INT32_MAX, INT32_MIN}, one[2] = {1, 1};
  CHECK_OK(run_int_pair(KILN_INT32, KILN_OP_ADD, big, one, 2, r));
  CHECK(r[0] == INT32_MIN && r[1] == INT32_MIN + 1);
  CHECK_OK(run_int_pair(KILN_INT32, KILN_OP_SUB, big, one, 2, r));
  CHECK(r[0] == INT32_MAX - 1 && r[1] == INT32_MAX);
  const int64_t big64[2] = {INT64_MAX, INT64_MIN}, m1[2] = {1, -1};
  CHECK_OK(run_int_pair(KILN_INT64, KILN_OP_ADD, big64, m1, 2, r));
  CHECK(r[0] == INT64_MIN && r[1] == INT64_MAX);
  CHECK_OK(run_int_pair(KILN_INT64, KILN_OP_DIV, big64, m1, 2, r));
  CHECK(r[0] == INT64_MAX && r[1] == INT64_MIN);
  CHECK_OK(run_int_pair(KILN_INT64, KILN_OP_MUL, big64, m1, 2, r));
  CHECK(r[0] == INT64_MAX && r[1] == INT64_MIN);
  const int64_t num[3] = {1, 2, 3}, den[3] = {1, 0, 1};
  CHECK_ERROR(run_int_pair(KILN_INT32, KILN_OP_DIV, num, den, 3, r),
              KILN_ERR_RUNTIME, "element 1: integer division by zero");
  CHECK_ERROR(run_int_pair(KILN_INT64, KILN_OP_DIV, num, den, 3, r),
              KILN_ERR_RUNTIME, "division by zero");
  CHECK_ERROR(run_int_pair(KILN_INT64, KILN_OP_POW, num, num, 3, r),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type int64");
  const int64_t neg[3] = {2, -1, 0};
  CHECK_ERROR(run_int_pair(KILN_INT32, KILN_OP_POW, num, neg, 3, r),
              KILN_ERR_RUNTIME, "is -1 at element 1");
  CHECK_ERROR(run_int_pair(KILN_INT64, KILN_OP_PRELU, num, num, 3, r),
              KILN_ERR_UNSUPPORTED, "int64");
  CHECK_ERROR(
      run_int_pair(KILN_INT64, KILN_OP_SQUARED_DIFFERENCE, num, num, 3, r),
      KILN_ERR_UNSUPPORTED, "int64");
}

/* ------------------------------------------------------------ SELECT_V2 */

static void test_select_case(kiln_dtype dtype) {
  int64_t base[KILN_MAX_RANK];
  int rank = kiln_test_int(0, 4);
  for (int i = 0; i < rank; i++) base[i] = kiln_test_int(1, 4);
  shape sc = derive(base, rank, kiln_test_int(0, rank), 2);
  shape sx = derive(base, rank, kiln_test_int(0, rank), 2);
  shape sy = derive(base, rank, kiln_test_int(0, rank), 2);
  const shape *ins[3] = {&sc, &sx, &sy};
  shape so = expected_broadcast(ins, 3);
  kiln_tensor *c = new_tensor(KILN_BOOL, &sc);
  kiln_tensor *x = new_tensor(dtype, &sx), *y = new_tensor(dtype, &sy);
  kiln_tensor *out = new_output(dtype);
  size_t size = kiln_dtype_size(dtype);
  for (int64_t i = 0; i < numel(&sc); i++)
    ((uint8_t *)c->data)[i] = (uint8_t)kiln_test_int(0, 1);
  for (size_t i = 0; i < (size_t)numel(&sx) * size; i++)
    ((uint8_t *)x->data)[i] = (uint8_t)kiln_test_rand();
  for (size_t i = 0; i < (size_t)numel(&sy) * size; i++)
    ((uint8_t *)y->data)[i] = (uint8_t)kiln_test_rand();
  kiln_tensor *inputs[3] = {c, x, y};
  kiln_no_attrs attrs = {0};
  CHECK_OK(kiln_test_run_op(KILN_OP_SELECT_V2, &attrs, inputs, 3, &out, 1));
  CHECK(same_shape(out, &so));
  int bad = 0;
  for (int64_t f = 0; f < numel(&so) && same_shape(out, &so); f++) {
    bool pick_x = ((uint8_t *)c->data)[source_index(&so, &sc, f)];
    const uint8_t *src =
        pick_x ? (uint8_t *)x->data + source_index(&so, &sx, f) * size
               : (uint8_t *)y->data + source_index(&so, &sy, f) * size;
    bad += memcmp((uint8_t *)out->data + f * size, src, size) != 0;
  }
  CHECK(bad == 0);
  kiln_test_tensor_free(c);
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(y);
  kiln_test_tensor_free(out);
}

static void test_select(void) {
  for (int rep = 0; rep < 40; rep++) {
    test_select_case(KILN_FLOAT32);
    test_select_case(KILN_INT8);
    test_select_case(KILN_INT64);
  }
}

/* --------------------------------------------------------------- errors */

static kiln_status *shape_of(kiln_shape_fn fn, const void *attrs,
                             kiln_tensor **inputs, int n, kiln_tensor *out) {
  kiln_tensor *outs[1] = {out};
  kiln_op_ctx ctx = {attrs, inputs, n, outs, 1, NULL, NULL, NULL};
  return fn(&ctx);
}

static void test_errors(void) {
  int64_t d23[2] = {2, 3}, d4[1] = {4}, d3[1] = {3};
  kiln_tensor *f23 = kiln_test_tensor(KILN_FLOAT32, 2, d23);
  kiln_tensor *f4 = kiln_test_tensor(KILN_FLOAT32, 1, d4);
  kiln_tensor *f3 = kiln_test_tensor(KILN_FLOAT32, 1, d3);
  kiln_tensor *i3 = kiln_test_tensor(KILN_INT32, 1, d3);
  kiln_tensor *l3 = kiln_test_tensor(KILN_INT64, 1, d3);
  kiln_tensor *b3 = kiln_test_tensor(KILN_BOOL, 1, d3);
  kiln_tensor *fo = new_output(KILN_FLOAT32), *io = new_output(KILN_INT32);
  kiln_tensor *lo = new_output(KILN_INT64);
  kiln_activation_attrs none = {KILN_ACT_NONE}, relu = {KILN_ACT_RELU};
  kiln_activation_attrs tanh_act = {KILN_ACT_TANH};
  kiln_activation_attrs bogus = {(kiln_activation)9};

  CHECK_ERROR(
      shape_of(kiln_shape_binary, NULL, (kiln_tensor *[]){f23, f4}, 2, fo),
      KILN_ERR_INVALID_ARGUMENT, "[2,3] and [4] do not broadcast");
  CHECK_ERROR(
      shape_of(kiln_shape_binary, NULL, (kiln_tensor *[]){f3, i3}, 2, fo),
      KILN_ERR_INVALID_MODEL, "input 1 (y) has type int32");
  CHECK_ERROR(
      shape_of(kiln_shape_binary, NULL, (kiln_tensor *[]){b3, b3}, 2, fo),
      KILN_ERR_UNSUPPORTED, "input 0 (x) has type bool");
  CHECK_ERROR(
      shape_of(kiln_shape_binary, NULL, (kiln_tensor *[]){f3, f3}, 2, io),
      KILN_ERR_INVALID_MODEL, "output 0 has type int32");
  CHECK_ERROR(shape_of(kiln_shape_binary, NULL, (kiln_tensor *[]){f3}, 1, fo),
              KILN_ERR_INVALID_MODEL, "expects 2 inputs");
  CHECK_ERROR(
      shape_of(kiln_shape_binary, NULL, (kiln_tensor *[]){f3, NULL}, 2, fo),
      KILN_ERR_INVALID_MODEL, "input 1 (y) is missing");
  CHECK_ERROR(
      shape_of(kiln_shape_binary_float, NULL, (kiln_tensor *[]){i3, i3}, 2, io),
      KILN_ERR_UNSUPPORTED, "input 0 (x) has type int32");
  CHECK_OK(shape_of(kiln_shape_binary_arith, &none, (kiln_tensor *[]){i3, i3},
                    2, io));
  CHECK_OK(shape_of(kiln_shape_binary_arith, &relu, (kiln_tensor *[]){i3, i3},
                    2, io));
  CHECK_ERROR(shape_of(kiln_shape_binary_arith, &tanh_act,
                       (kiln_tensor *[]){i3, i3}, 2, io),
              KILN_ERR_UNSUPPORTED, "on type int32 is not supported");
  CHECK_ERROR(shape_of(kiln_shape_binary_arith, &relu,
                       (kiln_tensor *[]){l3, l3}, 2, lo),
              KILN_ERR_UNSUPPORTED, "fused activation 1 on type int64");
  CHECK_ERROR(shape_of(kiln_shape_binary_arith, &bogus,
                       (kiln_tensor *[]){f3, f3}, 2, fo),
              KILN_ERR_INVALID_MODEL, "fused activation 9");
  CHECK_ERROR(kiln_test_run_op(KILN_OP_ADD, &relu, (kiln_tensor *[]){l3, l3}, 2,
                               &lo, 1),
              KILN_ERR_UNSUPPORTED, "fused activation");
  CHECK_ERROR(kiln_test_run_op(KILN_OP_MUL, &bogus, (kiln_tensor *[]){f3, f3},
                               2, &fo, 1),
              KILN_ERR_INVALID_MODEL, "fused activation 9");

  CHECK_ERROR(shape_of(kiln_shape_select_v2, NULL,
                       (kiln_tensor *[]){f3, f3, f3}, 3, fo),
              KILN_ERR_UNSUPPORTED, "input 0 (condition) has type float32");
  CHECK_ERROR(shape_of(kiln_shape_select_v2, NULL,
                       (kiln_tensor *[]){b3, f3, i3}, 3, fo),
              KILN_ERR_INVALID_MODEL, "must match");
  CHECK_ERROR(shape_of(kiln_shape_select_v2, NULL,
                       (kiln_tensor *[]){b3, f23, f4}, 3, fo),
              KILN_ERR_INVALID_ARGUMENT,
              "inputs 1 (x) and 2 (y): shapes [2,3]");
  CHECK_ERROR(shape_of(kiln_shape_select_v2, NULL,
                       (kiln_tensor *[]){b3, f4, f4}, 3, fo),
              KILN_ERR_INVALID_ARGUMENT, "input 0 (condition) against");
  CHECK_ERROR(
      shape_of(kiln_shape_select_v2, NULL, (kiln_tensor *[]){b3, f3}, 2, fo),
      KILN_ERR_INVALID_MODEL, "expects 3 inputs");

  /* uint32 and complex64 are MUL's alone; complex takes no activation */
  kiln_tensor *u3 = kiln_test_tensor(KILN_UINT32, 1, d3);
  kiln_tensor *c3 = kiln_test_tensor(KILN_COMPLEX64, 1, d3);
  kiln_tensor *w3 = kiln_test_tensor(KILN_UINT16, 1, d3);
  kiln_tensor *uo = new_output(KILN_UINT32), *co = new_output(KILN_COMPLEX64);
  kiln_tensor *wo = new_output(KILN_UINT16);
  CHECK_OK(shape_of(kiln_shape_mul, &relu, (kiln_tensor *[]){u3, u3}, 2, uo));
  CHECK_OK(shape_of(kiln_shape_mul, &none, (kiln_tensor *[]){c3, c3}, 2, co));
  CHECK_ERROR(shape_of(kiln_shape_mul, &relu, (kiln_tensor *[]){c3, c3}, 2, co),
              KILN_ERR_UNSUPPORTED, "fused activation 1 on type complex64");
  CHECK_ERROR(
      shape_of(kiln_shape_mul, &tanh_act, (kiln_tensor *[]){u3, u3}, 2, uo),
      KILN_ERR_UNSUPPORTED, "on type uint32 is not supported");
  CHECK_ERROR(shape_of(kiln_shape_mul, &none, (kiln_tensor *[]){w3, w3}, 2, wo),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type uint16");
  CHECK_ERROR(shape_of(kiln_shape_binary_arith, &none,
                       (kiln_tensor *[]){u3, u3}, 2, uo),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type uint32");
  CHECK_ERROR(shape_of(kiln_shape_binary_arith, &none,
                       (kiln_tensor *[]){c3, c3}, 2, co),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type complex64");

  kiln_tensor *all[] = {f23, f4, f3, i3, l3, b3, fo, io,
                        lo,  u3, c3, w3, uo, co, wo};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    kiln_test_tensor_free(all[i]);
}

int main(void) {
  kiln_test_seed(20240611);
  test_float_broadcasts();
  test_float_edges();
  test_rank8();
  test_float16();
  test_mul_uint32();
  test_mul_complex();
  test_int_broadcasts();
  test_int32_pow_sqdiff();
  test_int_edges();
  test_select();
  test_errors();
  return kiln_test_finish("test_ref_binary");
}
