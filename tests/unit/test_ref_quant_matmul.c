/* test_ref_quant_matmul.c - the integer FULLY_CONNECTED and BATCH_MATMUL
 * against independent int64 dot products of zero-point-corrected operands
 * and TFLite's rescale from its definition (quant_test_util.h): int8
 * per-tensor (with and without a weight zero point) and per-channel,
 * rescaled with one rounding as LiteRT's dense kernels do,
 * uint8 with weight zero points, int16 x int8 with int64, int32 or no
 * bias, keep_num_dims; BATCH_MATMUL in int8 and int16 with adjoints and
 * broadcast batches; and parameter errors. */
#include <stdio.h>
#include <string.h>

#include "quant_test_util.h"

static void check_equal(const kiln_tensor *got, const int64_t *want,
                        const char *what) {
  int64_t n = kiln_tensor_numel(got), bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (qt_get(got, i) != want[i] && bad++ < 3)
      fprintf(stderr, "%s: element %lld is %lld, expected %lld\n", what,
              (long long)i, (long long)qt_get(got, i), (long long)want[i]);
  CHECK(bad == 0);
}

/* ---------------------------------------------------- FULLY_CONNECTED */

static void fc_case(void) {
  static const kiln_dtype types[] = {KILN_INT8, KILN_UINT8, KILN_INT16};
  kiln_dtype in_t = types[kiln_test_int(0, 2)];
  kiln_dtype w_t = in_t == KILN_UINT8 ? KILN_UINT8 : KILN_INT8;
  int64_t units = kiln_test_int(1, 9), depth = kiln_test_int(1, 40);
  int rank = kiln_test_int(2, 4);
  int64_t in_dims[4];
  for (int d = 0; d < rank - 1; d++) in_dims[d] = kiln_test_int(1, 3);
  in_dims[rank - 1] = depth;
  bool keep = kiln_test_int(0, 1);
  bool per_channel = in_t != KILN_UINT8 && kiln_test_int(0, 1);
  qt *in = qt_new(in_t, rank, in_dims, 1, 0);
  in->scale[0] = qt_scale(-8, -4);
  if (in_t != KILN_INT16) in->zp[0] = kiln_test_int(qt_min(in_t), qt_max(in_t));
  int64_t w_dims[2] = {units, depth};
  qt *w = qt_new(w_t, 2, w_dims, per_channel ? (int)units : 1, 0);
  for (int i = 0; i < w->info.count; i++) w->scale[i] = qt_scale(-9, -5);
  /* Per-tensor weights may carry a zero point (uint8 always may; int8
   * FULLY_CONNECTED too), which leaves the offset form in the kernel. */
  if (!per_channel && kiln_test_int(0, 1))
    w->zp[0] = kiln_test_int(qt_min(w_t), qt_max(w_t));
  int bias_kind =
      in_t == KILN_INT16 ? kiln_test_int(0, 2) : (kiln_test_int(0, 3) ? 1 : 0);
  qt *bias = bias_kind ? qt_new(bias_kind == 2 ? KILN_INT64 : KILN_INT32, 1,
                                &units, 0, 0)
                       : NULL;
  double spread = in_t == KILN_INT16 ? 32768.0 * 128 : 128.0 * 128;
  float out_scale =
      (float)(in->scale[0] * w->scale[0] * spread * sqrt((double)depth) /
              256.0 * ldexp(1.0, kiln_test_int(-1, 2)));
  int64_t out_zp = in_t == KILN_INT16 ? 0
                                      : kiln_test_int(-20, 20) +
                                            (in_t == KILN_UINT8 ? 128 : 0);
  qt *out = qt_output(in_t, out_scale, out_zp);
  kiln_fully_connected_attrs a = {qt_random_clamp(), keep, false, 0};
  kiln_tensor *inputs[3] = {in->t, w->t, bias ? bias->t : NULL};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out->t));
  int64_t rows = kiln_tensor_numel(in->t) / depth;
  CHECK(kiln_tensor_numel(out->t) == rows * units);
  CHECK(out->t->rank == (keep ? rank : 2));
  int64_t *want = calloc((size_t)(rows * units), sizeof *want), lo, hi;
  oracle_clamp(a.activation, in_t, out_scale, out_zp, &lo, &hi);
  bool wide = in_t == KILN_INT16 && bias_kind == 2;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t u = 0; u < units; u++) {
      int64_t s = bias ? qt_get(bias->t, u) : 0;
      for (int64_t k = 0; k < depth; k++)
        s += (qt_get(in->t, r * depth + k) - in->zp[0]) *
             (qt_get(w->t, u * depth + k) - w->zp[0]);
      double real = (double)in->scale[0] * w->scale[per_channel ? u : 0] /
                    (double)out_scale;
      /* Dense layers round once, from int32 sums unless 16x8 with an
       * int64 bias (LiteRT's FULLY_CONNECTED). */
      int64_t sum = wide ? s : (int64_t)(int32_t)(uint32_t)(uint64_t)s;
      int64_t y = oracle_rescale_single(sum, real) + out_zp;
      want[r * units + u] = y < lo ? lo : (y > hi ? hi : y);
    }
  if (kiln_tensor_numel(out->t) == rows * units)
    check_equal(out->t, want, "FULLY_CONNECTED");
  free(want);
  qt_free(in);
  qt_free(w);
  qt_free(bias);
  qt_free(out);
}

/* ------------------------------------------------------- BATCH_MATMUL */

static void bmm_case(void) {
  kiln_dtype t = kiln_test_int(0, 1) ? KILN_INT8 : KILN_INT16;
  int64_t m = kiln_test_int(1, 5), k = kiln_test_int(1, 12),
          n = kiln_test_int(1, 5);
  kiln_batch_matmul_attrs a = {kiln_test_int(0, 1), kiln_test_int(0, 1), false};
  int64_t bx = kiln_test_int(1, 3), by = kiln_test_int(0, 1) ? bx : 1;
  int64_t xd[3] = {bx, a.adj_x ? k : m, a.adj_x ? m : k};
  int64_t yd[3] = {by, a.adj_y ? n : k, a.adj_y ? k : n};
  qt *x = qt_new(t, 3, xd, 1, 0), *y = qt_new(t, 3, yd, 1, 0);
  x->scale[0] = qt_scale(-8, -4);
  y->scale[0] = qt_scale(-8, -4);
  if (t == KILN_INT8) {
    x->zp[0] = kiln_test_int(-128, 127);
    y->zp[0] = kiln_test_int(-128, 127);
  }
  double spread = t == KILN_INT16 ? 32768.0 * 32768 : 128.0 * 128;
  float out_scale =
      (float)(x->scale[0] * y->scale[0] * spread * sqrt((double)k) / 256.0);
  qt *out = qt_output(t, out_scale, t == KILN_INT8 ? kiln_test_int(-9, 9) : 0);
  kiln_tensor *inputs[2] = {x->t, y->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &a, inputs, 2, out->t));
  int64_t od[3] = {bx, m, n};
  CHECK(kiln_test_has_shape(out->t, 3, od));
  int64_t *want = calloc((size_t)(bx * m * n), sizeof *want);
  double real = (double)x->scale[0] * y->scale[0] / out_scale;
  for (int64_t b = 0; b < bx; b++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        int64_t s = 0, yb = by == 1 ? 0 : b;
        for (int64_t p = 0; p < k; p++) {
          int64_t xi = a.adj_x ? (b * k + p) * m + i : (b * m + i) * k + p;
          int64_t yi = a.adj_y ? (yb * n + j) * k + p : (yb * k + p) * n + j;
          s += (qt_get(x->t, xi) - x->zp[0]) * (qt_get(y->t, yi) - y->zp[0]);
        }
        int64_t v = (t == KILN_INT16 ? oracle_rescale64(s, real)
                                     : oracle_rescale32(s, real)) +
                    out->zp[0];
        int64_t lo = qt_min(t), hi = qt_max(t);
        want[(b * m + i) * n + j] = v < lo ? lo : (v > hi ? hi : v);
      }
  if (kiln_test_has_shape(out->t, 3, od))
    check_equal(out->t, want, "BATCH_MATMUL");
  free(want);
  qt_free(x);
  qt_free(y);
  qt_free(out);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void) {
  int64_t in_dims[2] = {2, 6}, w_dims[2] = {3, 6}, three = 3;
  qt *in = qt_new(KILN_INT8, 2, in_dims, 1, 0);
  qt *w = qt_new(KILN_INT8, 2, w_dims, 3, 0);
  qt *out = qt_output(KILN_INT8, 0.5f, 0);
  kiln_fully_connected_attrs a = {KILN_ACT_NONE, false, false, 0};
  kiln_tensor *inputs[3] = {in->t, w->t, NULL};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out->t));
  w->zp[1] = 4; /* per-channel weights need zero points 0 */
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out->t),
              KILN_ERR_UNSUPPORTED, "zero point 4 at 1");
  w->zp[1] = 0;
  w->scale[2] = NAN;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out->t),
              KILN_ERR_INVALID_MODEL, "quantization scale nan at 2");
  w->scale[2] = 1.0f;
  in->zp[0] = 300;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out->t),
              KILN_ERR_INVALID_MODEL,
              "input 0 (input) has zero point 300, outside int8's range");
  in->zp[0] = 0;
  qt *bias = qt_new(KILN_INT64, 1, &three, 0, 0); /* int8 takes int32 bias */
  inputs[2] = bias->t;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out->t),
              KILN_ERR_UNSUPPORTED,
              "input 2 (bias) has type int64; a int8 input needs int32");
  /* int16 activations need zero point 0 (TFLite's 16x8 kernels). */
  qt *in16 = qt_new(KILN_INT16, 2, in_dims, 1, 0);
  qt *out16 = qt_output(KILN_INT16, 0.5f, 0);
  in16->zp[0] = 5;
  kiln_tensor *inputs16[3] = {in16->t, w->t, NULL};
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs16, 3, out16->t),
      KILN_ERR_UNSUPPORTED, "int16 with zero point 5");
  qt_free(in);
  qt_free(w);
  qt_free(out);
  qt_free(bias);
  qt_free(in16);
  qt_free(out16);
}

int main(void) {
  kiln_test_seed(0x3a7);
  for (int i = 0; i < 400; i++) fc_case();
  for (int i = 0; i < 300; i++) bmm_case();
  test_errors();
  return kiln_test_finish("test_ref_quant_matmul");
}
