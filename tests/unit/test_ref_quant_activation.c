/* test_ref_quant_activation.c - quantized RELU, RELU6, RELU_N1_TO_1,
 * LEAKY_RELU (int8, uint8, int16), ABS (int8, int16), LOGISTIC and TANH
 * (also int16, by their interpolated table), HARD_SWISH, GELU (int8,
 * uint8), EXP, LOG, RSQRT (int8) over every stored value of the input
 * type with random scales and zero points:
 * within one unit of the real function requantized in double, and the
 * table ops exactly equal to their float formula rounded as TFLite's
 * LUTPopulate does (checked independently of the kernel's table). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "kernels/variants.h"
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
    else if (dtype == KILN_UINT8)
      ((uint8_t *)q->t->data)[i] = (uint8_t)v;
    else
      ((int16_t *)q->t->data)[i] = (int16_t)v;
  }
  return q;
}

static double real_fn(kiln_op_type op, double x, double alpha) {
  switch (op) {
    case KILN_OP_RELU:
      return fmax(x, 0);
    case KILN_OP_RELU6:
      return fmin(fmax(x, 0), 6);
    case KILN_OP_RELU_N1_TO_1:
      return fmin(fmax(x, -1), 1);
    case KILN_OP_LEAKY_RELU:
      return x >= 0 ? x : alpha * x;
    case KILN_OP_LOGISTIC:
      return 1 / (1 + exp(-x));
    case KILN_OP_HARD_SWISH:
      return x * fmin(fmax(x + 3, 0), 6) / 6;
    case KILN_OP_GELU:
      return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case KILN_OP_ABS:
      return fabs(x);
    case KILN_OP_EXP:
      return exp(x);
    case KILN_OP_LOG:
      return log(x);
    case KILN_OP_RSQRT:
      return 1 / sqrt(x);
    default:
      return tanh(x);
  }
}

static void test_op(kiln_op_type op, kiln_dtype dtype, int trials) {
  for (int trial = 0; trial < trials; trial++) {
    /* LOG and RSQRT: inputs from real 0 up (the type's minimum stored) */
    int32_t qlo, qhi;
    qt_range(dtype, &qlo, &qhi);
    const bool positive = op == KILN_OP_LOG || op == KILN_OP_RSQRT;
    qtensor *x = all_values(dtype, qt_random_scale() * 8.0f,
                            positive ? qlo : qt_random_zero_point(dtype));
    float so = qt_random_scale() * 8.0f;
    int64_t zo = qt_random_zero_point(dtype);
    if (op == KILN_OP_LOGISTIC) so = 1.0f / 256.0f; /* TFLite's rule */
    /* TFLite's HARD_SWISH needs so > sx / 128 */
    if (op == KILN_OP_HARD_SWISH) so = x->scale * kiln_test_uniform(0.3f, 2);
    qtensor *out = qt_output(dtype, so, zo);
    /* negative alphas too: TFLite quantizes the sign into the multiplier */
    kiln_leaky_relu_attrs leaky = {kiln_test_uniform(-1.5f, 1.5f)};
    kiln_gelu_attrs gelu = {false};
    const void *attrs = op == KILN_OP_GELU ? (const void *)&gelu : &leaky;
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(op, attrs, in, 1, out->t));
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    int64_t n = kiln_tensor_numel(x->t), bad = 0;
    for (int64_t i = 0; i < n; i++) {
      double r = real_fn(op, qt_real(x, i), leaky.alpha);
      int32_t got = qt_get(out, i), want = qt_ideal(out, r, lo, hi);
      if (op == KILN_OP_LOGISTIC || op == KILN_OP_TANH || op == KILN_OP_GELU ||
          op == KILN_OP_EXP || op == KILN_OP_LOG || op == KILN_OP_RSQRT) {
        /* The table entry in float, as TFLite builds it. */
        float xf = x->scale * (float)(qt_get(x, i) - (int32_t)x->zero_point);
        float f = op == KILN_OP_TANH       ? tanhf(xf)
                  : op == KILN_OP_LOGISTIC ? 1.0f / (1.0f + expf(-xf))
                  : op == KILN_OP_EXP      ? expf(xf)
                  : op == KILN_OP_LOG      ? logf(xf)
                  : op == KILN_OP_RSQRT    ? 1.0f / sqrtf(xf)
                                           : 0.5f * xf * erfcf(-xf / sqrtf(2));
        float q = roundf(f * (1.0f / so)) + (float)zo;
        int32_t exact = q < lo ? lo : (q > hi ? hi : (int32_t)q);
        if (got != exact && bad++ < 3)
          fprintf(stderr, "%s %s q=%d: %d, expected %d\n",
                  kiln_op_table[op].name, kiln_dtype_name(dtype), qt_get(x, i),
                  got, exact);
      } else if (abs(got - want) > 1 && bad++ < 3) {
        fprintf(stderr, "%s %s q=%d: %d, ideal %d\n", kiln_op_table[op].name,
                kiln_dtype_name(dtype), qt_get(x, i), got, want);
      }
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

/* int16 LOGISTIC and TANH (symmetric, output scale 2^-15) over every
 * stored value, for power-of-two input scales and others: within `tol`
 * units of the real function, the interpolation error of a table of
 * sigmoid at 1/24 steps. */
static void test_sigmoid16(kiln_op_type op, float scale, int tol) {
  qtensor *x = all_values(KILN_INT16, scale, 0);
  qtensor *out = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  kiln_tensor *in[1] = {x->t};
  CHECK_OK(kiln_test_run_op1(op, NULL, in, 1, out->t));
  int64_t n = kiln_tensor_numel(x->t), bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = real_fn(op, qt_real(x, i), 0);
    int32_t want = qt_ideal(out, r, -32768, 32767);
    int d = abs(qt_get(out, i) - want);
    if (d > tol && bad++ < 3)
      fprintf(stderr, "%s int16 scale %g q=%d: %d, ideal %d\n",
              kiln_op_table[op].name, (double)scale, qt_get(x, i),
              qt_get(out, i), want);
  }
  CHECK(bad == 0);
  qt_free(x), qt_free(out);
}

/* LEAKY_RELU with alpha -0.5 and equal scales: x (-1/2) lands halfway
 * between two steps at every odd negative x; LiteRT's reference kernels
 * give |x| / 2 rounded down there (they scale by |alpha| and negate), so
 * must kiln. */
static void test_leaky_negative_ties(kiln_dtype dtype) {
  qtensor *x = all_values(dtype, 0.05f, 0);
  qtensor *out = qt_output(dtype, 0.05f, 0);
  kiln_leaky_relu_attrs half = {-0.5f};
  kiln_tensor *in[1] = {x->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_LEAKY_RELU, &half, in, 1, out->t));
  int bad = 0;
  for (int64_t i = 0; i < kiln_tensor_numel(x->t); i++) {
    int32_t v = qt_get(x, i), want = v >= 0 ? v : (-v) / 2;
    if (qt_get(out, i) != want && bad++ < 3)
      fprintf(stderr, "LEAKY_RELU -0.5 %s q=%d: %d, expected %d\n",
              kiln_dtype_name(dtype), v, qt_get(out, i), want);
  }
  CHECK(bad == 0);
  qt_free(x), qt_free(out);
}

/* TFLite's sigmoid table entry k in 0.16 fixed point, from its rule: the
 * knot sigmoid(k / 24) raised by half its chord's midpoint error, i.e.
 * 3/4 s(k) + 1/2 s(k + 1/2) - 1/4 s(k + 1), rounded. */
static int32_t table_knot(int k) {
  double s0 = 1 / (1 + exp(-k / 24.0)), s1 = 1 / (1 + exp(-(k + 1) / 24.0));
  double sm = 1 / (1 + exp(-(k + 0.5) / 24.0));
  double v = floor(65536 * (0.75 * s0 + 0.5 * sm - 0.25 * s1) + 0.5);
  return v > 65535 ? 65535 : (int32_t)v;
}

/* With input scale 2^-12 the kernels scale by exactly 3, so inputs at a
 * table knot read one entry with no interpolation: entry 3 k gives
 * LOGISTIC (entry + 1) / 2 at x = 512 k and TANH entry - 32768 at
 * x = 256 k; both must equal TFLite's entries exactly. */
static void test_sigmoid16_knots(void) {
  qtensor *x = all_values(KILN_INT16, 1.0f / 4096.0f, 0);
  qtensor *lo = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  qtensor *th = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  kiln_tensor *in[1] = {x->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_LOGISTIC, NULL, in, 1, lo->t));
  CHECK_OK(kiln_test_run_op1(KILN_OP_TANH, NULL, in, 1, th->t));
  int bad = 0;
  for (int k = 0; 512 * k <= 32767 && 3 * k < 255; k++) {
    int32_t want = (table_knot(3 * k) + 1) >> 1;
    int32_t got = qt_get(lo, 32768 + 512 * k);
    if (got != want && bad++ < 3)
      fprintf(stderr, "LOGISTIC knot %d: %d, expected %d\n", 3 * k, got, want);
  }
  for (int k = 0; 256 * k <= 32767 && 3 * k < 255; k++) {
    int32_t want = table_knot(3 * k) - 32768;
    int32_t got = qt_get(th, 32768 + 256 * k);
    if (got != want && bad++ < 3)
      fprintf(stderr, "TANH knot %d: %d, expected %d\n", 3 * k, got, want);
  }
  CHECK(bad == 0);
  qt_free(x), qt_free(lo), qt_free(th);
}

/* The "q8-lut" variant packs its table at load and then equals the
 * reference kernel on every stored value; it declines int16 and float. */
static void test_lut_variant(kiln_op_type op, kiln_dtype dtype) {
  qtensor *x =
      all_values(dtype, qt_random_scale() * 8.0f, qt_random_zero_point(dtype));
  float so = op == KILN_OP_LOGISTIC ? 1.0f / 256.0f : qt_random_scale();
  qtensor *ref = qt_output(dtype, so, qt_random_zero_point(dtype));
  qtensor *opt = qt_output(dtype, so, ref->zero_point);
  kiln_tensor *in[1] = {x->t};
  CHECK_OK(kiln_test_run_op1(op, NULL, in, 1, ref->t));
  CHECK_OK(kiln_test_run_op1(op, NULL, in, 1, opt->t)); /* shapes opt */
  memset(opt->t->data, 0, kiln_tensor_nbytes(opt->t));
  kiln_tensor *outs[1] = {opt->t};
  kiln_op_ctx ctx = {NULL, in, 1, outs, 1, NULL, NULL, NULL};
  void *packed = NULL;
  const kiln_kernel_variant *v =
      kiln_test_pack_like_load(op, KILN_ISA_PORTABLE, &ctx, &packed);
  CHECK(v && packed && strcmp(v->name, "q8-lut") == 0);
  if (v && packed) {
    ctx.packed = packed;
    CHECK(v->applies(&ctx));
    CHECK_OK(v->run(&ctx));
    CHECK(memcmp(opt->t->data, ref->t->data, kiln_tensor_nbytes(ref->t)) == 0);
  }
  free(packed);
  qt_free(x), qt_free(ref), qt_free(opt);
  /* int16 and float nodes are not packed */
  int64_t four = 4;
  qtensor *x16 = qt_random(KILN_INT16, 1, &four);
  qtensor *o16 = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  kiln_tensor *in16[1] = {x16->t}, *out16[1] = {o16->t};
  kiln_op_ctx c16 = {NULL, in16, 1, out16, 1, NULL, NULL, NULL};
  CHECK(kiln_test_pack_like_load(op, KILN_ISA_PORTABLE, &c16, &packed) == NULL);
  CHECK(packed == NULL);
  kiln_tensor *f = kiln_test_tensor_f32(1, &four, NULL);
  kiln_tensor *fo = kiln_test_tensor_f32(1, &four, NULL);
  kiln_tensor *fin[1] = {f}, *fout[1] = {fo};
  kiln_op_ctx cf = {NULL, fin, 1, fout, 1, NULL, NULL, NULL};
  CHECK(kiln_test_pack_like_load(op, KILN_ISA_PORTABLE, &cf, &packed) == NULL);
  qt_free(x16), qt_free(o16);
  kiln_test_tensor_free(f), kiln_test_tensor_free(fo);
}

static void test_errors(void) {
  int64_t dims[1] = {4};
  qtensor *x = qt_random(KILN_INT8, 1, dims);
  qtensor *out = qt_output(KILN_INT8, 0.01f, 0);
  kiln_tensor *in[1] = {x->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_LOGISTIC, NULL, in, 1, out->t),
              KILN_ERR_UNSUPPORTED, "TFLite requires 1/256");
  qtensor *x16 = qt_random(KILN_INT16, 1, dims);
  qtensor *o16 = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  kiln_tensor *in16[1] = {x16->t};
  /* (int16 GELU and int8 ELU are test_ref_quant_lut16's) */
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_ELU, NULL, in16, 1, o16->t),
              KILN_ERR_UNSUPPORTED, "ELU on int16 is not supported");
  o16->scale = 1.0f / 16384.0f;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_TANH, NULL, in16, 1, o16->t),
              KILN_ERR_UNSUPPORTED, "requires 2^-15");
  o16->scale = 1.0f / 32768.0f;
  /* no uint8 EXP (as TFLite); int16 EXP and int8 SQRT are
   * test_ref_quant_unary_math's */
  qtensor *u = qt_random(KILN_UINT8, 1, dims);
  qtensor *uo = qt_output(KILN_UINT8, 0.05f, 3);
  kiln_tensor *uin[1] = {u->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_EXP, NULL, uin, 1, uo->t),
              KILN_ERR_UNSUPPORTED, "EXP on uint8 is not supported");
  qt_free(u), qt_free(uo);
  x16->zero_point = 3;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RELU, NULL, in16, 1, o16->t),
              KILN_ERR_INVALID_MODEL, "zero point 0");
  /* types must match */
  kiln_tensor *in_mixed[1] = {x->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RELU6, NULL, in_mixed, 1, o16->t),
              KILN_ERR_INVALID_MODEL, "quantized RELU6 needs int8");
  /* HARD_SWISH: no int16 form, and an input scale TFLite refuses */
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_HARD_SWISH, NULL, in16, 1, o16->t),
              KILN_ERR_UNSUPPORTED, "HARD_SWISH on int16 is not supported");
  x->scale = 1.0f, out->scale = 1.0f / 1024.0f;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_HARD_SWISH, NULL, in, 1, out->t),
              KILN_ERR_UNSUPPORTED, "over 128 times");
  qt_free(x), qt_free(out), qt_free(x16), qt_free(o16);
}

int main(void) {
  kiln_test_seed(0xac71);
  /* Each op with the types it has (bit 0 int8, 1 uint8, 2 int16; int16
   * LOGISTIC and TANH are test_sigmoid16's). */
  const struct {
    kiln_op_type op;
    unsigned types;
  } ops[12] = {
      {KILN_OP_RELU, 7},       {KILN_OP_RELU6, 7}, {KILN_OP_RELU_N1_TO_1, 7},
      {KILN_OP_LEAKY_RELU, 7}, {KILN_OP_ABS, 5},   {KILN_OP_LOGISTIC, 3},
      {KILN_OP_TANH, 3},       {KILN_OP_GELU, 3},  {KILN_OP_HARD_SWISH, 3},
      {KILN_OP_EXP, 1},        {KILN_OP_LOG, 1},   {KILN_OP_RSQRT, 1}};
  for (int t = 0; t < 3; t++)
    for (int k = 0; k < 12; k++)
      if (ops[k].types >> t & 1)
        test_op(ops[k].op, qt_types[t], qt_types[t] == KILN_INT16 ? 3 : 10);
  const float scales16[4] = {1.0f / 4096.0f, 1.0f / 2048.0f, 3.1e-4f, 7.7e-5f};
  for (int k = 0; k < 4; k++) {
    test_sigmoid16(KILN_OP_LOGISTIC, scales16[k], 2);
    test_sigmoid16(KILN_OP_TANH, scales16[k], 3);
  }
  test_sigmoid16_knots();
  test_leaky_negative_ties(KILN_INT8);
  test_leaky_negative_ties(KILN_INT16);
  for (int t = 0; t < 2; t++) {
    test_lut_variant(KILN_OP_LOGISTIC, qt_types[t]);
    test_lut_variant(KILN_OP_TANH, qt_types[t]);
    test_lut_variant(KILN_OP_GELU, qt_types[t]);
  }
  test_lut_variant(KILN_OP_EXP, KILN_INT8);
  test_lut_variant(KILN_OP_LOG, KILN_INT8);
  test_lut_variant(KILN_OP_RSQRT, KILN_INT8);
  test_lut_variant(KILN_OP_ELU, KILN_INT8); /* TFLite has no uint8 ELU */
  test_errors();
  return kiln_test_finish("test_ref_quant_activation");
}
