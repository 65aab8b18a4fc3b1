/* test_ref_quant_reduce.c - quantized MEAN, SUM, REDUCE_MAX and REDUCE_MIN
 * over random shapes, axes and quantization: MEAN and SUM within one unit
 * of the real mean / sum requantized in double, REDUCE_MAX / REDUCE_MIN
 * exactly the largest / least stored value; REDUCE_PROD on int8 / int16
 * near the real product (each step's rescale rounds); ARG_MAX on int8 picks the
 * first largest; int8 / uint8 / int16 SOFTMAX rows within one unit of the real
 * softmax, and L2_NORMALIZATION rows of x / |x|; mismatched quantization is
 * refused. */
#include <math.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "quant_ops_test_util.h"

static void test_reduce(kiln_op_type op, kiln_dtype dtype) {
  for (int trial = 0; trial < 30; trial++) {
    int rank = kiln_test_int(1, 4);
    int64_t dims[KILN_MAX_RANK];
    for (int d = 0; d < rank; d++) dims[d] = kiln_test_int(1, 6);
    qtensor *x = qt_random(dtype, rank, dims);
    bool reduced[KILN_MAX_RANK] = {false};
    int32_t axes_v[KILN_MAX_RANK];
    int64_t naxes = 0;
    for (int d = 0; d < rank; d++)
      if (kiln_test_int(0, 1) || (d == rank - 1 && naxes == 0)) {
        reduced[d] = true;
        axes_v[naxes++] = kiln_test_int(0, 1) ? d : d - rank;
      }
    kiln_tensor *axes = kiln_test_tensor_i32(1, &naxes, axes_v);
    kiln_reduce_attrs attrs = {kiln_test_int(0, 1) == 1};
    int64_t count = 1;
    for (int d = 0; d < rank; d++)
      if (reduced[d]) count *= dims[d];
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    float so = op == KILN_OP_SUM ? x->scale * (float)sqrt((double)count) * 2
                                 : x->scale * kiln_test_uniform(0.5f, 2.0f);
    const bool picks = op == KILN_OP_REDUCE_MAX || op == KILN_OP_REDUCE_MIN;
    qtensor *out = picks ? qt_output(dtype, x->scale, x->zero_point)
                         : qt_output(dtype, so, qt_random_zero_point(dtype));
    kiln_tensor *in[2] = {x->t, axes};
    CHECK_OK(kiln_test_run_op1(op, &attrs, in, 2, out->t));
    /* Walk input elements; each belongs to the output element of its
     * kept coordinates (row-major over kept axes). */
    int64_t n_out = kiln_tensor_numel(out->t);
    double *sum = calloc((size_t)n_out, sizeof *sum);
    int32_t *max = malloc((size_t)n_out * sizeof *max);
    int32_t *min = malloc((size_t)n_out * sizeof *min);
    for (int64_t o = 0; o < n_out; o++) max[o] = INT32_MIN, min[o] = INT32_MAX;
    int64_t n = kiln_tensor_numel(x->t);
    for (int64_t i = 0; i < n; i++) {
      int64_t rest = i, o = 0, stride = 1;
      for (int d = rank - 1; d >= 0; d--) {
        int64_t coord = rest % dims[d];
        rest /= dims[d];
        if (!reduced[d]) {
          o += coord * stride;
          stride *= dims[d];
        }
      }
      sum[o] += qt_real(x, i);
      if (qt_get(x, i) > max[o]) max[o] = qt_get(x, i);
      if (qt_get(x, i) < min[o]) min[o] = qt_get(x, i);
    }
    int64_t bad = 0;
    for (int64_t o = 0; o < n_out; o++) {
      int32_t got = qt_get(out, o);
      if (picks) {
        bad += got != (op == KILN_OP_REDUCE_MAX ? max[o] : min[o]);
        continue;
      }
      double r = op == KILN_OP_MEAN ? sum[o] / (double)count : sum[o];
      int32_t want = qt_ideal(out, r, lo, hi);
      if (abs(got - want) > 1 && bad++ < 3)
        fprintf(stderr, "%s %s output %lld: %d, ideal %d\n",
                kiln_op_table[op].name, kiln_dtype_name(dtype), (long long)o,
                got, want);
    }
    CHECK(bad == 0);
    free(sum), free(max), free(min);
    qt_free(x), qt_free(out);
    kiln_test_tensor_free(axes);
  }
}

/* REDUCE_PROD against the real product in double. Inputs are real values
 * of magnitude 0.5 to 1.5 (either sign) and the output holds the largest
 * product possible, as in models; each of the count - 1 steps rounds its
 * accumulator (at least about 2^5 units from these ranges) and uses a Q15
 * multiplier (relative error 2^-15), so the result may be off by a relative
 * 2^-6 per step, plus the final unit. */
static void test_reduce_prod(kiln_dtype dtype) {
  for (int trial = 0; trial < 60; trial++) {
    int rank = kiln_test_int(1, 3);
    int64_t dims[KILN_MAX_RANK];
    for (int d = 0; d < rank; d++) dims[d] = kiln_test_int(1, 3);
    const float s_in = dtype == KILN_INT8
                           ? (float)exp2(kiln_test_uniform(-7.0f, -6.0f))
                           : (float)exp2(kiln_test_uniform(-14.0f, -12.0f));
    const int64_t zp_in = dtype == KILN_INT8 ? kiln_test_int(-20, 20) : 0;
    qtensor *x = qt_make(dtype, rank, dims, s_in, zp_in);
    const int64_t n = kiln_tensor_numel(x->t);
    for (int64_t i = 0; i < n; i++) {
      float real =
          kiln_test_uniform(0.5f, 1.5f) * (kiln_test_int(0, 1) ? 1 : -1);
      int32_t q = (int32_t)lroundf(real / s_in) + (int32_t)zp_in;
      if (dtype == KILN_INT8)
        ((int8_t *)x->t->data)[i] = (int8_t)q;
      else
        ((int16_t *)x->t->data)[i] = (int16_t)q;
    }
    bool reduced[KILN_MAX_RANK] = {false};
    int32_t axes_v[KILN_MAX_RANK];
    int64_t naxes = 0, count = 1;
    for (int d = 0; d < rank; d++)
      if (kiln_test_int(0, 1)) {
        reduced[d] = true;
        count *= dims[d];
        axes_v[naxes++] = kiln_test_int(0, 1) ? d : d - rank;
      }
    kiln_tensor *axes = kiln_test_tensor_i32(1, &naxes, axes_v);
    kiln_reduce_attrs attrs = {kiln_test_int(0, 1) == 1};
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    const int64_t zp_out = dtype == KILN_INT8 ? kiln_test_int(-10, 10) : 0;
    qtensor *out =
        qt_output(dtype, (float)(pow(1.5, (double)count) / (hi - 20)), zp_out);
    kiln_tensor *in[2] = {x->t, axes};
    CHECK_OK(kiln_test_run_op1(KILN_OP_REDUCE_PROD, &attrs, in, 2, out->t));
    const int64_t n_out = kiln_tensor_numel(out->t);
    double *prod = malloc((size_t)n_out * sizeof *prod);
    for (int64_t o = 0; o < n_out; o++) prod[o] = 1.0;
    for (int64_t i = 0; i < n; i++) {
      int64_t rest = i, o = 0, stride = 1;
      for (int d = rank - 1; d >= 0; d--) {
        int64_t coord = rest % dims[d];
        rest /= dims[d];
        if (!reduced[d]) {
          o += coord * stride;
          stride *= dims[d];
        }
      }
      prod[o] *= qt_real(x, i);
    }
    int64_t bad = 0;
    for (int64_t o = 0; o < n_out; o++) {
      const int32_t want = qt_ideal(out, prod[o], lo, hi), got = qt_get(out, o);
      const double tol =
          1.0 + fabs((double)(want - zp_out)) * (double)(count - 1) / 64.0;
      if (fabs((double)(got - want)) > tol && bad++ < 3)
        fprintf(stderr, "REDUCE_PROD %s output %lld of %lld: %d, ideal %d\n",
                kiln_dtype_name(dtype), (long long)o, (long long)count, got,
                want);
    }
    CHECK(bad == 0);
    free(prod);
    qt_free(x), qt_free(out);
    kiln_test_tensor_free(axes);
  }
}

static void test_arg_max(void) {
  int64_t dims[2] = {7, 9};
  qtensor *x = qt_random(KILN_INT8, 2, dims);
  int32_t axis_v = 1;
  int64_t one = 1;
  kiln_tensor *axis = kiln_test_tensor_i32(1, &one, &axis_v);
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 1, &one);
  kiln_tensor *in[2] = {x->t, axis};
  CHECK_OK(kiln_test_run_op1(KILN_OP_ARG_MAX, NULL, in, 2, out));
  for (int64_t r = 0; r < 7; r++) {
    int32_t best = 0;
    for (int32_t k = 1; k < 9; k++)
      if (qt_get(x, r * 9 + k) > qt_get(x, r * 9 + best)) best = k;
    CHECK(((int32_t *)out->data)[r] == best);
  }
  qt_free(x);
  kiln_test_tensor_free(axis);
  kiln_test_tensor_free(out);
}

/* SOFTMAX rows against the real softmax in double, requantized to the
 * output TFLite requires (scale 1/256, zero point the type's minimum). */
static void test_softmax(kiln_dtype dtype) {
  for (int trial = 0; trial < 20; trial++) {
    int64_t dims[2] = {kiln_test_int(1, 4), kiln_test_int(1, 300)};
    qtensor *x = qt_random(dtype, 2, dims);
    x->scale = (float)exp2(kiln_test_uniform(-8.0f, -2.0f));
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    /* int16: symmetric, 2^-15; the 8-bit types: 1/256 from their minimum */
    qtensor *out = dtype == KILN_INT16 ? qt_output(dtype, 1.0f / 32768.0f, 0)
                                       : qt_output(dtype, 1.0f / 256.0f, lo);
    if (dtype == KILN_INT16) /* a wider range of the int16 input steps */
      x->scale = (float)exp2(kiln_test_uniform(-14.0f, -9.0f));
    /* int16 reads exp and 1/x from interpolated 513-entry tables and sums
     * exps rounded to 2^-15, each off by up to 1.5 units (exp of anything
     * below -10 reads as exp(-10)): the sum (at least 2^15, the max's exp)
     * is off by up to 2 * depth units, and outputs by that fraction of
     * themselves. */
    kiln_softmax_attrs attrs = {kiln_test_uniform(0.5f, 2.0f)};
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_SOFTMAX, &attrs, in, 1, out->t));
    int64_t bad = 0;
    for (int64_t r = 0; r < dims[0]; r++) {
      double max = -INFINITY, sum = 0;
      for (int64_t c = 0; c < dims[1]; c++)
        max = fmax(max, qt_real(x, r * dims[1] + c));
      for (int64_t c = 0; c < dims[1]; c++)
        sum += exp(attrs.beta * (qt_real(x, r * dims[1] + c) - max));
      for (int64_t c = 0; c < dims[1]; c++) {
        double p = exp(attrs.beta * (qt_real(x, r * dims[1] + c) - max)) / sum;
        int32_t want = qt_ideal(out, p, lo, hi);
        int32_t got = qt_get(out, r * dims[1] + c);
        const double tol =
            dtype == KILN_INT16 ? 3.0 + 2.0 * want * dims[1] / 32767.0 : 1.0;
        if (abs(got - want) > tol && bad++ < 3)
          fprintf(stderr, "SOFTMAX %s [%lld,%lld]: %d, ideal %d\n",
                  kiln_dtype_name(dtype), (long long)r, (long long)c, got,
                  want);
      }
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

/* L2_NORMALIZATION rows against x / |x| in double on the output TFLite
 * requires (scale 1/128, zero point 0 for int8 and 128 for uint8). */
static void test_l2norm(kiln_dtype dtype) {
  for (int trial = 0; trial < 20; trial++) {
    int64_t dims[2] = {kiln_test_int(1, 4), kiln_test_int(1, 200)};
    qtensor *x = qt_random(dtype, 2, dims);
    qtensor *out =
        qt_output(dtype, 1.0f / 128.0f, dtype == KILN_UINT8 ? 128 : 0);
    kiln_activation_attrs none = {KILN_ACT_NONE};
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(KILN_OP_L2_NORMALIZATION, &none, in, 1, out->t));
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    int64_t bad = 0;
    for (int64_t r = 0; r < dims[0]; r++) {
      double sum = 0;
      for (int64_t c = 0; c < dims[1]; c++) {
        double d = qt_get(x, r * dims[1] + c) - (double)x->zero_point;
        sum += d * d;
      }
      double norm = sqrt(fmax(sum, 1.0));
      for (int64_t c = 0; c < dims[1]; c++) {
        double d = qt_get(x, r * dims[1] + c) - (double)x->zero_point;
        int32_t want = qt_ideal(out, d / norm, lo, hi);
        int32_t got = qt_get(out, r * dims[1] + c);
        if (abs(got - want) > 1 && bad++ < 3)
          fprintf(stderr, "L2_NORMALIZATION %s: %d, ideal %d\n",
                  kiln_dtype_name(dtype), got, want);
      }
    }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_errors(void) {
  int64_t dims[2] = {3, 4};
  qtensor *x = qt_random(KILN_INT8, 2, dims);
  int32_t axis_v = 1;
  int64_t one = 1;
  kiln_tensor *axes = kiln_test_tensor_i32(1, &one, &axis_v);
  qtensor *out = qt_output(KILN_INT8, x->scale * 2, x->zero_point);
  kiln_reduce_attrs attrs = {false};
  kiln_tensor *in[2] = {x->t, axes};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REDUCE_MAX, &attrs, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "needs them equal");
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REDUCE_MIN, &attrs, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "needs them equal");
  /* REDUCE_PROD: no uint8 form; int16 symmetric */
  qtensor *xu = qt_random(KILN_UINT8, 2, dims);
  qtensor *ou = qt_output(KILN_UINT8, 0.5f, 3);
  kiln_tensor *uin[2] = {xu->t, axes};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REDUCE_PROD, &attrs, uin, 2, ou->t),
              KILN_ERR_UNSUPPORTED, "takes int8 or int16");
  qtensor *x16p = qt_random(KILN_INT16, 2, dims);
  qtensor *o16p = qt_output(KILN_INT16, 0.5f, 4);
  kiln_tensor *in16p[2] = {x16p->t, axes};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_REDUCE_PROD, &attrs, in16p, 2, o16p->t),
              KILN_ERR_INVALID_MODEL, "output 0 is int16 with zero point 4");
  qt_free(xu), qt_free(ou), qt_free(x16p), qt_free(o16p);
  qtensor *o16 = qt_output(KILN_INT16, 0.1f, 0);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_MEAN, &attrs, in, 2, o16->t),
              KILN_ERR_INVALID_MODEL, "expected int8 like input 0");
  out->t->quant = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SUM, &attrs, in, 2, out->t),
              KILN_ERR_INVALID_MODEL, "no quantization parameters");
  /* SOFTMAX: the output quantization TFLite requires, no int16 form */
  kiln_softmax_attrs beta = {1.0f};
  out->t->quant = &out->info;
  out->scale = 1.0f / 128.0f, out->zero_point = -128;
  kiln_tensor *sin[1] = {x->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SOFTMAX, &beta, sin, 1, out->t),
              KILN_ERR_UNSUPPORTED, "requires 1/256 and -128");
  qtensor *x16 = qt_random(KILN_INT16, 2, dims);
  qtensor *s16 = qt_output(KILN_INT16, 1.0f / 32768.0f, 0);
  kiln_tensor *sin16[1] = {x16->t};
  s16->scale = 1.0f / 256.0f;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SOFTMAX, &beta, sin16, 1, s16->t),
              KILN_ERR_UNSUPPORTED, "int16 SOFTMAX requires 2^-15");
  kiln_activation_attrs none = {KILN_ACT_NONE};
  out->scale = 1.0f / 256.0f, out->zero_point = 0;
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_L2_NORMALIZATION, &none, sin, 1, out->t),
      KILN_ERR_UNSUPPORTED, "requires 1/128 and 0");
  qt_free(x), qt_free(out), qt_free(o16), qt_free(x16), qt_free(s16);
  kiln_test_tensor_free(axes);
}

int main(void) {
  kiln_test_seed(0x5ed0ce);
  const kiln_op_type ops[4] = {KILN_OP_MEAN, KILN_OP_SUM, KILN_OP_REDUCE_MAX,
                               KILN_OP_REDUCE_MIN};
  for (int t = 0; t < 3; t++)
    for (int k = 0; k < 4; k++) test_reduce(ops[k], qt_types[t]);
  test_reduce_prod(KILN_INT8);
  test_reduce_prod(KILN_INT16);
  test_arg_max();
  test_softmax(KILN_INT8);
  test_softmax(KILN_UINT8);
  test_softmax(KILN_INT16);
  test_l2norm(KILN_INT8);
  test_l2norm(KILN_UINT8);
  test_errors();
  return kiln_test_finish("test_ref_quant_reduce");
}
