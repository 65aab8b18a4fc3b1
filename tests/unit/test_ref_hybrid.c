/* test_ref_hybrid.c - hybrid ("dynamic range") FULLY_CONNECTED, CONV_2D,
 * DEPTHWISE_CONV_2D, TRANSPOSE_CONV and BATCH_MATMUL: float32 inputs, int8
 * weights. The oracle quantizes each batch by TFLite's rules written out here
 * again (symmetric: q = round(x * 127 / max|x|) in [-127, 127]; asymmetric: a
 * scale over [min(x, 0), max(x, 0)] and the zero point of the end it
 * represents with less error), sums the integer products in int64 and
 * scales them back in double; the kernels must agree to float rounding
 * (1e-5 of the largest output). TRANSPOSE_CONV too (asymmetric per
 * image). Also the errors of unsupported hybrids. */
#include <stdio.h>
#include <string.h>

#include "kernels/variants.h"
#include "quant_test_util.h"

typedef struct bq {
  double scale;
  int32_t offset, lo, hi;
  float inverse;
} bq;

static bq oracle_symmetric(const float *x, int64_t n) {
  float range = 0.0f;
  for (int64_t i = 0; i < n; i++)
    if (fabsf(x[i]) > range) range = fabsf(x[i]);
  bq q = {1.0, 0, -127, 127, 0.0f};
  if (range == 0.0f) return q;
  q.scale = (double)(range / 127.0f);
  q.inverse = 127.0f / range;
  return q;
}

static bq oracle_asymmetric(const float *x, int64_t n) {
  double lo = 0.0, hi = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  bq q = {1.0, 0, -128, 127, 0.0f};
  if (lo == hi) return q;
  double scale = (hi - lo) / 255.0;
  double zp_lo = -128.0 - lo / scale, zp_hi = 127.0 - hi / scale;
  double zp =
      128.0 + fabs(lo / scale) < 127.0 + fabs(hi / scale) ? zp_lo : zp_hi;
  q.offset = zp <= -128.0 ? -128 : (zp >= 127.0 ? 127 : (int32_t)round(zp));
  q.scale = (double)(float)scale;
  q.inverse = (float)(1.0 / (double)(float)scale);
  return q;
}

/* The integer a float becomes, minus the batch's zero point. */
static int64_t oracle_q(const bq *q, float x) {
  long double r = roundl((long double)((float)q->offset + x * q->inverse));
  if (r < q->lo) r = q->lo;
  if (r > q->hi) r = q->hi;
  return (int64_t)r - q->offset;
}

static void compare(const kiln_tensor *got, const double *want, int64_t n,
                    const char *what) {
  double top = 0.0;
  for (int64_t i = 0; i < n; i++)
    if (fabs(want[i]) > top) top = fabs(want[i]);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double g = ((const float *)got->data)[i];
    if (!(fabs(g - want[i]) <= 1e-5 * top + 1e-30) && bad++ < 3)
      fprintf(stderr, "%s: element %lld is %.9g, expected %.9g\n", what,
              (long long)i, g, want[i]);
  }
  CHECK(bad == 0);
}

static qt *weights(int rank, const int64_t *dims, int channels, int axis) {
  qt *w = qt_new(KILN_INT8, rank, dims, channels, axis);
  for (int i = 0; i < channels; i++) w->scale[i] = qt_scale(-9, -5);
  return w;
}

static void fc_case(void) {
  int64_t units = kiln_test_int(1, 9), depth = kiln_test_int(1, 40);
  int64_t rows = kiln_test_int(1, 4), in_dims[2] = {rows, depth};
  kiln_tensor *in = kiln_test_tensor_f32(2, in_dims, NULL);
  float *x = in->data;
  if (kiln_test_int(0, 5) == 0) memset(x, 0, (size_t)depth * sizeof(float));
  bool per_channel = kiln_test_int(0, 1), asym = kiln_test_int(0, 1);
  int64_t w_dims[2] = {units, depth};
  qt *w = weights(2, w_dims, per_channel ? (int)units : 1, 0);
  kiln_tensor *bias =
      kiln_test_int(0, 1) ? kiln_test_tensor_f32(1, &units, NULL) : NULL;
  kiln_fully_connected_attrs a = {kiln_test_random_activation(), false, asym,
                                  0};
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[3] = {in, w->t, bias};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out));
  double *want = calloc((size_t)(rows * units), sizeof *want);
  for (int64_t r = 0; r < rows; r++) {
    bq q = asym ? oracle_asymmetric(x + r * depth, depth)
                : oracle_symmetric(x + r * depth, depth);
    for (int64_t u = 0; u < units; u++) {
      int64_t s = 0;
      for (int64_t k = 0; k < depth; k++)
        s += qt_get(w->t, u * depth + k) * oracle_q(&q, x[r * depth + k]);
      double v = (double)s * q.scale * w->scale[per_channel ? u : 0];
      if (bias) v += ((float *)bias->data)[u];
      want[r * units + u] = kiln_test_activate((float)v, a.activation);
    }
  }
  CHECK(kiln_tensor_numel(out) == rows * units);
  if (kiln_tensor_numel(out) == rows * units)
    compare(out, want, rows * units, "hybrid FULLY_CONNECTED");
  free(want);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(bias);
  kiln_test_tensor_free(out);
  qt_free(w);
}

static void conv_case(bool depthwise, bool wide) {
  int64_t n = kiln_test_int(1, 2), h = kiln_test_int(2, 6),
          wd = kiln_test_int(2, 6), c = kiln_test_int(1, 4);
  int64_t kh = kiln_test_int(1, 3), kw = kiln_test_int(1, 3);
  int64_t mult = depthwise ? kiln_test_int(1, 2) : 1;
  int64_t oc_n = depthwise ? c * mult : kiln_test_int(1, 5);
  /* Past the kernel's blocks of 256 input and output channels. */
  if (wide) {
    h = wd = 2;
    c = kiln_test_int(250, 500);
    oc_n = depthwise ? c * mult : kiln_test_int(250, 600); /* <= 1000 */
  }
  int stride = kiln_test_int(1, 2);
  int64_t in_dims[4] = {n, h, wd, c};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  /* The depthwise hybrid kernel is per-channel only, as TFLite's. */
  bool per_channel = depthwise || kiln_test_int(0, 1);
  int64_t w_dims[4] = {depthwise ? 1 : oc_n, kh, kw, depthwise ? oc_n : c};
  qt *w = weights(4, w_dims, per_channel ? (int)oc_n : 1, depthwise ? 3 : 0);
  kiln_tensor *bias =
      kiln_test_int(0, 1) ? kiln_test_tensor_f32(1, &oc_n, NULL) : NULL;
  kiln_conv_attrs a = {KILN_PAD_SAME,
                       stride,
                       stride,
                       1,
                       1,
                       (int)mult,
                       kiln_test_random_activation()};
  /* One channel's single scale reads as per-tensor (TFLite's test). */
  bool asym = depthwise || w->info.count > 1;
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[3] = {in, w->t, bias};
  kiln_op_type op = depthwise ? KILN_OP_DEPTHWISE_CONV_2D : KILN_OP_CONV_2D;
  CHECK_OK(kiln_test_run_op1(op, &a, inputs, 3, out));
  int64_t oh = (h + stride - 1) / stride, ow = (wd + stride - 1) / stride;
  int64_t pt =
      ((oh - 1) * stride + kh - h) > 0 ? ((oh - 1) * stride + kh - h) / 2 : 0;
  int64_t pl =
      ((ow - 1) * stride + kw - wd) > 0 ? ((ow - 1) * stride + kw - wd) / 2 : 0;
  int64_t count = n * oh * ow * oc_n, image = h * wd * c;
  double *want = calloc((size_t)count, sizeof *want);
  const float *x = in->data;
  for (int64_t b = 0; b < n; b++) {
    bq q = asym ? oracle_asymmetric(x + b * image, image)
                : oracle_symmetric(x + b * image, image);
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t o = 0; o < oc_n; o++) {
          int64_t s = 0;
          for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) {
              int64_t iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              const float *px = x + ((b * h + iy) * wd + ix) * c;
              if (depthwise) {
                s += qt_get(w->t, (ky * kw + kx) * oc_n + o) *
                     oracle_q(&q, px[o / mult]);
                continue;
              }
              for (int64_t ic = 0; ic < c; ic++)
                s += qt_get(w->t, ((o * kh + ky) * kw + kx) * c + ic) *
                     oracle_q(&q, px[ic]);
            }
          double v = (double)s * q.scale * w->scale[per_channel ? o : 0];
          if (bias) v += ((float *)bias->data)[o];
          want[((b * oh + oy) * ow + ox) * oc_n + o] =
              kiln_test_activate((float)v, a.activation);
        }
  }
  int64_t od[4] = {n, oh, ow, oc_n};
  CHECK(kiln_test_has_shape(out, 4, od));
  if (kiln_test_has_shape(out, 4, od))
    compare(out, want, count, depthwise ? "hybrid DEPTHWISE" : "hybrid CONV");
  free(want);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(bias);
  kiln_test_tensor_free(out);
  qt_free(w);
}

/* BATCH_MATMUL: float x, constant int8 y; rows of x quantized alone. */
static void bmm_case(void) {
  int64_t m = kiln_test_int(1, 5), k = kiln_test_int(1, 30),
          n = kiln_test_int(1, 6), bx = kiln_test_int(1, 3);
  int64_t by = kiln_test_int(0, 1) ? bx : 1;
  kiln_batch_matmul_attrs a = {kiln_test_int(0, 1), kiln_test_int(0, 1),
                               kiln_test_int(0, 1)};
  int64_t xd[3] = {bx, a.adj_x ? k : m, a.adj_x ? m : k};
  int64_t yd[3] = {by, a.adj_y ? n : k, a.adj_y ? k : n};
  kiln_tensor *x = kiln_test_tensor_f32(3, xd, NULL);
  qt *y = weights(3, yd, 1, 0);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[2] = {x, y->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &a, inputs, 2, out));
  int64_t od[3] = {bx, m, n}, count = bx * m * n;
  double *want = calloc((size_t)count, sizeof *want);
  float row[32];
  for (int64_t b = 0; b < bx; b++)
    for (int64_t i = 0; i < m; i++) {
      for (int64_t p = 0; p < k; p++)
        row[p] =
            ((float *)
                 x->data)[a.adj_x ? (b * k + p) * m + i : (b * m + i) * k + p];
      bq q = a.asymmetric_quantize_inputs ? oracle_asymmetric(row, k)
                                          : oracle_symmetric(row, k);
      for (int64_t j = 0; j < n; j++) {
        int64_t s = 0, yb = by == 1 ? 0 : b;
        for (int64_t p = 0; p < k; p++)
          s += qt_get(y->t,
                      a.adj_y ? (yb * n + j) * k + p : (yb * k + p) * n + j) *
               oracle_q(&q, row[p]);
        want[(b * m + i) * n + j] = (double)s * q.scale * y->scale[0];
      }
    }
  CHECK(kiln_test_has_shape(out, 3, od));
  if (kiln_test_has_shape(out, 3, od))
    compare(out, want, count, "hybrid BATCH_MATMUL");
  free(want);
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);
  qt_free(y);
}

/* TRANSPOSE_CONV: asymmetric per image, the oracle a scatter. */
static void tconv_case(void) {
  int64_t n = kiln_test_int(1, 2), h = kiln_test_int(1, 5),
          wd = kiln_test_int(1, 5), c = kiln_test_int(1, 4);
  int64_t oc_n = kiln_test_int(1, 5), kh = kiln_test_int(1, 3),
          kw = kiln_test_int(1, 3);
  int stride = kiln_test_int(1, 2);
  bool same = kiln_test_int(0, 1);
  int64_t oh = same ? h * stride : (h - 1) * stride + kh;
  int64_t ow = same ? wd * stride : (wd - 1) * stride + kw;
  int64_t th = (h - 1) * stride + kh - oh, tw = (wd - 1) * stride + kw - ow;
  int64_t pt = th > 0 ? th / 2 : 0, pl = tw > 0 ? tw / 2 : 0;
  int64_t in_dims[4] = {n, h, wd, c}, w_dims[4] = {oc_n, kh, kw, c}, four = 4;
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  qt *w = weights(4, w_dims, kiln_test_int(0, 1) ? (int)oc_n : 1, 0);
  kiln_tensor *bias =
      kiln_test_int(0, 1) ? kiln_test_tensor_f32(1, &oc_n, NULL) : NULL;
  int32_t shape[4] = {(int32_t)n, (int32_t)oh, (int32_t)ow, (int32_t)oc_n};
  kiln_tensor *shape_t = kiln_test_tensor_i32(1, &four, shape);
  kiln_conv_attrs a = {same ? KILN_PAD_SAME : KILN_PAD_VALID,
                       stride,
                       stride,
                       1,
                       1,
                       0,
                       KILN_ACT_NONE};
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[4] = {shape_t, w->t, in, bias};
  CHECK_OK(kiln_test_run_op1(KILN_OP_TRANSPOSE_CONV, &a, inputs, 4, out));
  int64_t count = n * oh * ow * oc_n, image = h * wd * c;
  int64_t *acc = calloc((size_t)count, sizeof *acc);
  double *want = calloc((size_t)count, sizeof *want);
  const float *x = in->data;
  for (int64_t b = 0; b < n; b++) {
    bq q = oracle_asymmetric(x + b * image, image);
    for (int64_t iy = 0; iy < h; iy++)
      for (int64_t ix = 0; ix < wd; ix++)
        for (int64_t ky = 0; ky < kh; ky++)
          for (int64_t kx = 0; kx < kw; kx++) {
            int64_t oy = iy * stride - pt + ky, ox = ix * stride - pl + kx;
            if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
            for (int64_t o = 0; o < oc_n; o++)
              for (int64_t ic = 0; ic < c; ic++)
                acc[((b * oh + oy) * ow + ox) * oc_n + o] +=
                    qt_get(w->t, ((o * kh + ky) * kw + kx) * c + ic) *
                    oracle_q(&q, x[((b * h + iy) * wd + ix) * c + ic]);
          }
    for (int64_t i = b * oh * ow * oc_n; i < (b + 1) * oh * ow * oc_n; i++) {
      int64_t o = i % oc_n;
      want[i] = (double)acc[i] * q.scale * w->scale[w->info.count > 1 ? o : 0] +
                (bias ? ((float *)bias->data)[o] : 0.0);
    }
  }
  int64_t od[4] = {n, oh, ow, oc_n};
  CHECK(kiln_test_has_shape(out, 4, od));
  if (kiln_test_has_shape(out, 4, od))
    compare(out, want, count, "hybrid TRANSPOSE_CONV");
  free(acc);
  free(want);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(bias);
  kiln_test_tensor_free(shape_t);
  kiln_test_tensor_free(out);
  qt_free(w);
}

static void test_errors(void) {
  int64_t xd[2] = {2, 3};
  kiln_tensor *x = kiln_test_tensor_f32(2, xd, NULL);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  /* Hybrid weights must be constant and symmetric. */
  int64_t wd[2] = {4, 3};
  qt *w = weights(2, wd, 1, 0);
  w->zp[0] = 2;
  kiln_fully_connected_attrs fa = {KILN_ACT_NONE, false, false, 0};
  kiln_tensor *fin[3] = {x, w->t, NULL};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &fa, fin, 3, out),
              KILN_ERR_UNSUPPORTED, "zero point 2");
  w->zp[0] = 0;
  void *data = w->t->data;
  w->t->data = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &fa, fin, 3, out),
              KILN_ERR_UNSUPPORTED, "must be a constant");
  w->t->data = data;
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(out);
  qt_free(w);
}

/* No optimized float variant packs or claims a hybrid node: its weights
 * are int8, whatever the activations are; only the hybrid variants
 * (qd8-f32-*) pack FULLY_CONNECTED and CONV_2D ones. */
static void test_no_variant_claims(void) {
  int64_t in4[4] = {1, 6, 6, 8}, in2[2] = {3, 8};
  int64_t w1x1[4] = {16, 1, 1, 8}, w3x3[4] = {16, 3, 3, 8},
          wdw[4] = {1, 3, 3, 8}, wfc[2] = {16, 8};
  struct {
    kiln_op_type op;
    const int64_t *in, *w;
    int rank, channels, axis;
  } cases[] = {{KILN_OP_CONV_2D, in4, w1x1, 4, 16, 0},
               {KILN_OP_CONV_2D, in4, w3x3, 4, 16, 0},
               {KILN_OP_DEPTHWISE_CONV_2D, in4, wdw, 4, 8, 3},
               {KILN_OP_FULLY_CONNECTED, in2, wfc, 2, 16, 0}};
  kiln_conv_attrs ca = {KILN_PAD_SAME, 1, 1, 1, 1, 1, KILN_ACT_RELU};
  kiln_fully_connected_attrs fa = {KILN_ACT_RELU, false, true, 0};
  for (int c = 0; c < 4; c++) {
    kiln_tensor *in = kiln_test_tensor_f32(cases[c].rank, cases[c].in, NULL);
    qt *w =
        weights(cases[c].rank, cases[c].w, cases[c].channels, cases[c].axis);
    kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
    const void *attrs = cases[c].op == KILN_OP_FULLY_CONNECTED
                            ? (const void *)&fa
                            : (const void *)&ca;
    kiln_tensor *inputs[3] = {in, w->t, NULL};
    CHECK_OK(kiln_test_run_op1(cases[c].op, attrs, inputs, 3, out));
    kiln_tensor *outputs[1] = {out};
    kiln_op_ctx ctx = {attrs, inputs, 3, outputs, 1, NULL, NULL, NULL};
    for (int isa = KILN_ISA_PORTABLE;
         isa <= (int)kiln_isa_resolve(KILN_ISA_AUTO); isa++) {
      void *packed = NULL;
      const kiln_kernel_variant *v =
          kiln_test_pack_like_load(cases[c].op, (kiln_isa)isa, &ctx, &packed);
      /* Only the hybrid variants (kernels/qhybrid/) may take it. */
      CHECK(v == NULL || strncmp(v->name, "qd8-f32-", 8) == 0);
      free(packed);
      CHECK(kiln_variant_select(cases[c].op, (kiln_isa)isa, NULL, &ctx) ==
            NULL);
    }
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(out);
    qt_free(w);
  }
}

int main(void) {
  kiln_test_seed(0x4b1d);
  for (int i = 0; i < 300; i++) fc_case();
  for (int i = 0; i < 150; i++) conv_case(false, false);
  for (int i = 0; i < 150; i++) conv_case(true, false);
  for (int i = 0; i < 6; i++) conv_case(i % 2, true);
  for (int i = 0; i < 150; i++) tconv_case();
  for (int i = 0; i < 200; i++) bmm_case();
  test_errors();
  test_no_variant_claims();
  return kiln_test_finish("test_ref_hybrid");
}
