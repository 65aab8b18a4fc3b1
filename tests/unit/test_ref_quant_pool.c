/* test_ref_quant_pool.c - quantized AVERAGE_POOL_2D, MAX_POOL_2D,
 * RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR on random images, windows
 * and quantization: pools against window loops in int64 (the average
 * rounded half away from zero, the fused clamp applied), resizing against
 * the bilinear weights in double (within one unit; uint8, TFLite's float
 * path, exactly: the weighted sum plus 0.5 truncated) and a nearest source
 * pixel computed in double, and refusals of mismatched quantization. */
#include <math.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "quant_ops_test_util.h"

static int32_t at(const qtensor *q, int64_t b, int64_t y, int64_t x,
                  int64_t c) {
  const int64_t *d = q->t->dims;
  return qt_get(q, ((b * d[1] + y) * d[2] + x) * d[3] + c);
}

static void test_pool(kiln_dtype dtype, bool average) {
  for (int trial = 0; trial < 30; trial++) {
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(1, 9),
                       kiln_test_int(1, 9), kiln_test_int(1, 4)};
    qtensor *x = qt_random(dtype, 4, dims);
    kiln_pool_attrs a = {kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
                         kiln_test_int(1, 3),
                         kiln_test_int(1, 3),
                         kiln_test_int(1, 4),
                         kiln_test_int(1, 4),
                         kiln_test_int(0, 1) ? KILN_ACT_RELU : KILN_ACT_NONE};
    if (a.padding == KILN_PAD_VALID &&
        (a.filter_h > dims[1] || a.filter_w > dims[2]))
      a.padding = KILN_PAD_SAME;
    qtensor *out = qt_output(dtype, x->scale, x->zero_point);
    kiln_tensor *in[1] = {x->t};
    CHECK_OK(kiln_test_run_op1(
        average ? KILN_OP_AVERAGE_POOL_2D : KILN_OP_MAX_POOL_2D, &a, in, 1,
        out->t));
    const int64_t *od = out->t->dims;
    /* TFLite's padding: pad_before = max(0, (out-1)*stride + k - in) / 2 */
    int64_t pt = (od[1] - 1) * a.stride_h + a.filter_h - dims[1];
    int64_t pl = (od[2] - 1) * a.stride_w + a.filter_w - dims[2];
    pt = a.padding == KILN_PAD_SAME && pt > 0 ? pt / 2 : 0;
    pl = a.padding == KILN_PAD_SAME && pl > 0 ? pl / 2 : 0;
    int32_t lo, hi;
    qt_range(dtype, &lo, &hi);
    if (a.activation == KILN_ACT_RELU && x->zero_point > lo)
      lo = (int32_t)x->zero_point;
    int64_t bad = 0, o = 0;
    for (int64_t b = 0; b < od[0]; b++)
      for (int64_t oy = 0; oy < od[1]; oy++)
        for (int64_t ox = 0; ox < od[2]; ox++)
          for (int64_t c = 0; c < od[3]; c++, o++) {
            int64_t sum = 0, count = 0, max = INT64_MIN;
            for (int64_t ky = 0; ky < a.filter_h; ky++)
              for (int64_t kx = 0; kx < a.filter_w; kx++) {
                int64_t y = oy * a.stride_h - pt + ky;
                int64_t xx = ox * a.stride_w - pl + kx;
                if (y < 0 || y >= dims[1] || xx < 0 || xx >= dims[2]) continue;
                int64_t v = at(x, b, y, xx, c);
                sum += v, count++;
                if (v > max) max = v;
              }
            int64_t want = max;
            if (average) /* half away from zero */
              want = (int64_t)llround((double)sum / (double)count);
            want = want < lo ? lo : (want > hi ? hi : want);
            bad += qt_get(out, o) != want;
          }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
  }
}

static void test_resize(kiln_dtype dtype, bool bilinear) {
  for (int trial = 0; trial < 30; trial++) {
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(1, 8),
                       kiln_test_int(1, 8), kiln_test_int(1, 3)};
    qtensor *x = qt_random(dtype, 4, dims);
    int32_t size_v[2] = {kiln_test_int(1, 17), kiln_test_int(1, 17)};
    int64_t two = 2;
    kiln_tensor *size = kiln_test_tensor_i32(1, &two, size_v);
    kiln_resize_attrs a = {false, false};
    int mode = kiln_test_int(0, 2);
    a.align_corners = mode == 1;
    a.half_pixel_centers = mode == 2;
    qtensor *out = qt_output(dtype, x->scale, x->zero_point);
    kiln_tensor *in[2] = {x->t, size};
    CHECK_OK(kiln_test_run_op1(
        bilinear ? KILN_OP_RESIZE_BILINEAR : KILN_OP_RESIZE_NEAREST_NEIGHBOR,
        &a, in, 2, out->t));
    int64_t bad = 0, o = 0;
    double sy = (double)dims[1] / size_v[0], sx = (double)dims[2] / size_v[1];
    if (a.align_corners && size_v[0] > 1)
      sy = (double)(dims[1] - 1) / (size_v[0] - 1);
    if (a.align_corners && size_v[1] > 1)
      sx = (double)(dims[2] - 1) / (size_v[1] - 1);
    for (int64_t b = 0; b < dims[0]; b++)
      for (int64_t oy = 0; oy < size_v[0]; oy++)
        for (int64_t ox = 0; ox < size_v[1]; ox++)
          for (int64_t c = 0; c < dims[3]; c++, o++) {
            int32_t got = qt_get(out, o);
            if (!bilinear) {
              double fy = (oy + (a.half_pixel_centers ? 0.5 : 0)) * sy;
              double fx = (ox + (a.half_pixel_centers ? 0.5 : 0)) * sx;
              int64_t y = (int64_t)(a.align_corners ? round(fy) : floor(fy));
              int64_t xx = (int64_t)(a.align_corners ? round(fx) : floor(fx));
              y = y > dims[1] - 1 ? dims[1] - 1 : y;
              xx = xx > dims[2] - 1 ? dims[2] - 1 : xx;
              /* sources a rounding step from a pixel boundary may differ */
              if (fabs(fy - floor(fy + 0.5)) < 1e-3 ||
                  fabs(fx - floor(fx + 0.5)) < 1e-3)
                continue;
              bad += got != at(x, b, y, xx, c);
              continue;
            }
            double fy = a.half_pixel_centers ? (oy + 0.5) * sy - 0.5 : oy * sy;
            double fx = a.half_pixel_centers ? (ox + 0.5) * sx - 0.5 : ox * sx;
            int64_t y0 = fy < 0 ? 0 : (int64_t)floor(fy);
            int64_t x0 = fx < 0 ? 0 : (int64_t)floor(fx);
            int64_t y1 = (int64_t)ceil(fy), x1 = (int64_t)ceil(fx);
            y1 = y1 > dims[1] - 1 ? dims[1] - 1 : (y1 < 0 ? 0 : y1);
            x1 = x1 > dims[2] - 1 ? dims[2] - 1 : (x1 < 0 ? 0 : x1);
            double wy = fy - y0, wx = fx - x0;
            double v = at(x, b, y0, x0, c) * (1 - wy) * (1 - wx) +
                       at(x, b, y1, x0, c) * wy * (1 - wx) +
                       at(x, b, y0, x1, c) * (1 - wy) * wx +
                       at(x, b, y1, x1, c) * wy * wx;
            if (dtype == KILN_UINT8) {
              /* TFLite's float path: exact, but where v + 0.5 is within
               * float rounding of an integer */
              const double r = v + 0.5;
              if (fabs(r - round(r)) > 1e-3 && got != (int32_t)floor(r) &&
                  bad++ < 3)
                fprintf(stderr, "bilinear uint8: %d, expected %g\n", got, r);
              continue;
            }
            /* the scale is rounded to 1/1024 of a pixel: allow for it */
            int32_t lo, hi;
            qt_range(dtype, &lo, &hi);
            double slack =
                1.0 + (hi - lo) * 2.0 *
                          (fabs(sy * 1024 - round(sy * 1024)) +
                           fabs(sx * 1024 - round(sx * 1024)) + 1.0) *
                          (size_v[0] + size_v[1]) / 1024.0;
            if (fabs(got - v) > slack && bad++ < 3)
              fprintf(stderr, "bilinear %s: %d, expected %g\n",
                      kiln_dtype_name(dtype), got, v);
          }
    CHECK(bad == 0);
    qt_free(x), qt_free(out);
    kiln_test_tensor_free(size);
  }
}

static void test_errors(void) {
  int64_t dims[4] = {1, 4, 4, 2};
  qtensor *x = qt_random(KILN_INT8, 4, dims);
  qtensor *out = qt_output(KILN_INT8, x->scale * 2, x->zero_point);
  kiln_pool_attrs a = {KILN_PAD_VALID, 1, 1, 2, 2, KILN_ACT_NONE};
  kiln_tensor *in[1] = {x->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_AVERAGE_POOL_2D, &a, in, 1, out->t),
              KILN_ERR_UNSUPPORTED, "copies quantized values");
  out->scale = x->scale;
  out->zero_point = x->zero_point + 1;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &a, in, 1, out->t),
              KILN_ERR_UNSUPPORTED, "needs them equal");
  qtensor *x16 = qt_random(KILN_INT16, 4, dims);
  x16->zero_point = 5;
  qtensor *o16 = qt_output(KILN_INT16, x16->scale, 5);
  kiln_tensor *in16[1] = {x16->t};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &a, in16, 1, o16->t),
              KILN_ERR_INVALID_MODEL, "zero point 0");
  int32_t size_v[2] = {3, 3};
  int64_t two = 2;
  kiln_tensor *size = kiln_test_tensor_i32(1, &two, size_v);
  kiln_resize_attrs r = {false, true};
  kiln_tensor *rin[2] = {x->t, size};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RESIZE_BILINEAR, &r, rin, 2, out->t),
              KILN_ERR_UNSUPPORTED, "needs them equal");
  qt_free(x), qt_free(out), qt_free(x16), qt_free(o16);
  kiln_test_tensor_free(size);
}

int main(void) {
  kiln_test_seed(0x900f);
  for (int t = 0; t < 3; t++) {
    test_pool(qt_types[t], true);
    test_pool(qt_types[t], false);
    test_resize(qt_types[t], true);
    test_resize(qt_types[t], false);
  }
  test_errors();
  return kiln_test_finish("test_ref_quant_pool");
}
