/* test_ref_quantize.c - QUANTIZE (float32 to int8 / uint8 / int16, and
 * requantization between integer types) and DEQUANTIZE of integer types
 * against their definitions in long double: q = clamp(round-half-away(x /
 * scale) + zero_point) with the division in float as TFLite does it; a
 * requantized value is TFLite's rescale by in_scale / out_scale; real =
 * scale * (q - zero_point). Edge values (ties, saturation, infinities)
 * and bad parameters. */
#include <stdio.h>
#include <string.h>

#include "quant_test_util.h"

kiln_status *kiln_shape_quantize(const kiln_op_ctx *ctx);

static const kiln_dtype kTypes[] = {KILN_INT8, KILN_UINT8, KILN_INT16};

static int64_t expect_quantize(float x, float scale, int64_t zp, kiln_dtype t) {
  float ratio = x / scale;
  long double r = roundl((long double)ratio);
  if (r > 1e12L) r = 1e12L;
  if (r < -1e12L || ratio != ratio) r = ratio != ratio ? 0 : -1e12L;
  long double q = r + zp;
  if (q < qt_min(t)) q = qt_min(t);
  if (q > qt_max(t)) q = qt_max(t);
  return (int64_t)q;
}

static void test_float_to_int(void) {
  for (int round = 0; round < 300; round++) {
    kiln_dtype t = kTypes[kiln_test_int(0, 2)];
    float scale = qt_scale(-10, 0);
    int64_t zp = t == KILN_INT16 ? 0 : kiln_test_int(qt_min(t), qt_max(t));
    int64_t n = kiln_test_int(1, 200);
    kiln_tensor *x = kiln_test_tensor(KILN_FLOAT32, 1, &n);
    float *xv = x->data;
    for (int64_t i = 0; i < n; i++) {
      float span = (float)(qt_max(t) - qt_min(t)) * scale;
      xv[i] = kiln_test_uniform(-span, span);
      /* exact ties of x / scale, and values far out of range */
      if (i % 7 == 1) xv[i] = ((float)kiln_test_int(-300, 300) + 0.5f) * scale;
      if (i % 31 == 3) xv[i] = i % 2 ? 1e30f : -INFINITY;
    }
    qt *out = qt_output(t, scale, zp);
    CHECK_OK(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x, 1, out->t));
    CHECK(kiln_test_has_shape(out->t, 1, &n));
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
      if (qt_get(out->t, i) != expect_quantize(xv[i], scale, zp, t) &&
          bad++ < 3)
        fprintf(stderr, "QUANTIZE %s: %.9g -> %lld, expected %lld\n",
                kiln_dtype_name(t), (double)xv[i], (long long)qt_get(out->t, i),
                (long long)expect_quantize(xv[i], scale, zp, t));
    CHECK(bad == 0);
    kiln_test_tensor_free(x);
    qt_free(out);
  }
}

static void test_requantize(void) {
  for (int round = 0; round < 300; round++) {
    kiln_dtype from = kTypes[kiln_test_int(0, 2)];
    kiln_dtype to =
        from == KILN_INT16 ? KILN_INT16 : kTypes[kiln_test_int(0, 1)];
    int64_t n = kiln_test_int(1, 100);
    qt *x = qt_new(from, 1, &n, 1, 0);
    x->scale[0] = qt_scale(-8, -2);
    if (from != KILN_INT16)
      x->zp[0] = kiln_test_int(qt_min(from), qt_max(from));
    float out_scale = x->scale[0] * kiln_test_uniform(0.3f, 3.0f);
    int64_t out_zp =
        to == KILN_INT16 ? 0 : kiln_test_int(qt_min(to), qt_max(to));
    qt *out = qt_output(to, out_scale, out_zp);
    CHECK_OK(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x->t, 1, out->t));
    double real = (double)x->scale[0] / (double)out_scale;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t v = oracle_rescale32(qt_get(x->t, i) - x->zp[0], real) + out_zp;
      v = v < qt_min(to) ? qt_min(to) : (v > qt_max(to) ? qt_max(to) : v);
      if (qt_get(out->t, i) != v) bad++;
    }
    CHECK(bad == 0);
    qt_free(x);
    qt_free(out);
  }
  /* int8 -> uint8 with the same scale shifts by 128 exactly. */
  int64_t n = 256;
  qt *x = qt_new(KILN_INT8, 1, &n, 1, 0);
  for (int i = 0; i < 256; i++) ((int8_t *)x->t->data)[i] = (int8_t)(i - 128);
  x->scale[0] = 0.02f;
  x->zp[0] = -3;
  qt *out = qt_output(KILN_UINT8, 0.02f, 125);
  CHECK_OK(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x->t, 1, out->t));
  int bad = 0;
  for (int i = 0; i < 256; i++)
    if (qt_get(out->t, i) != i) bad++;
  CHECK(bad == 0);
  qt_free(x);
  qt_free(out);
}

static void test_dequantize(void) {
  for (int round = 0; round < 100; round++) {
    kiln_dtype t = kTypes[kiln_test_int(0, 2)];
    int64_t n = kiln_test_int(1, 100);
    qt *x = qt_new(t, 1, &n, 1, 0);
    x->scale[0] = qt_scale(-12, 2);
    x->zp[0] = kiln_test_int(qt_min(t), qt_max(t));
    kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
    CHECK_OK(kiln_test_run_op1(KILN_OP_DEQUANTIZE, NULL, &x->t, 1, out));
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
      float want = (float)((long double)x->scale[0] *
                           (long double)(qt_get(x->t, i) - x->zp[0]));
      if (((float *)out->data)[i] != want) bad++;
    }
    CHECK(bad == 0);
    qt_free(x);
    kiln_test_tensor_free(out);
  }
}

static void test_errors(void) {
  int64_t n = 4;
  kiln_tensor *x = kiln_test_tensor(KILN_FLOAT32, 1, &n);
  qt *out = qt_output(KILN_INT8, 0.0f, 0);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x, 1, out->t),
              KILN_ERR_INVALID_MODEL, "output 0 has quantization scale 0");
  out->scale[0] = 0.5f;
  out->zp[0] = 200;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x, 1, out->t),
              KILN_ERR_INVALID_MODEL, "zero point 200, outside int8's range");
  out->zp[0] = 0;
  out->t->quant = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x, 1, out->t),
              KILN_ERR_INVALID_MODEL, "output 0 of type int8 has no quant");
  out->t->quant = &out->info;
  out->t->dtype = KILN_INT32;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &x, 1, out->t),
              KILN_ERR_UNSUPPORTED, "output 0 has type int32");
  out->t->dtype = KILN_INT8;
  kiln_tensor *b = kiln_test_tensor(KILN_BOOL, 1, &n);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_QUANTIZE, NULL, &b, 1, out->t),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type bool");
  kiln_test_tensor_free(b);
  kiln_test_tensor_free(x);
  qt_free(out);
}

int main(void) {
  kiln_test_seed(0x9e7);
  test_float_to_int();
  test_requantize();
  test_dequantize();
  test_errors();
  return kiln_test_finish("test_ref_quantize");
}
