/* max_pool_argmax.c - MediaPipe's MaxPoolingWithArgmax2D and
 * MaxUnpooling2D, custom operators LiteRT runs without user code (through
 * XNNPACK's argmax pooling and unpooling). Both take a raw TfLitePoolParams
 * as custom_options (int32 padding (1 SAME, 2 VALID), stride_width,
 * stride_height, filter_width, filter_height, activation, ...). As in
 * XNNPACK the windows do not overlap: the stride must equal the filter.
 *
 * MaxPoolingWithArgmax2D: input [N,H,W,C] -> values and int32 indices of
 * [N,OH,OW,C], OH = ceil(H / KH) (SAME, padding split as TFLite splits it,
 * the odd row at the end) or floor(H / KH) (VALID). An index is the
 * position of the maximum inside its window in XNNPACK's column-major
 * order, kx * KH + ky. As in XNNPACK, a padded position reads the
 * nearest pixel of the image (its coordinates clamped), and of equal
 * values the first in that order wins, so a window at the edge may name a
 * padded position holding the edge pixel's value. MediaPipe's models declare
 * the indices float32: XNNPACK then stores the integer's bits in the float, and
 * so does kiln, so that MaxUnpooling2D reads them back the same way (int32
 * indices are plain integers). MaxUnpooling2D: values and indices [N,H,W,C] ->
 * [N,H*KH,W*KW,C], zero except each value written at its index inside its
 * window (padding is ignored, as XNNPACK ignores it). */
#include <string.h>

#include "kernels/custom/builtins.h"
#include "kernels/custom/custom_util.h"

typedef struct pool_params {
  kiln_padding padding;
  int filter_h, filter_w;
} pool_params;

static kiln_status *read_params(const void *bytes, size_t size,
                                pool_params *p) {
  int32_t f[6];
  KILN_TRY(kiln_custom_raw_ints(bytes, size, 6, 5,
                                "TfLitePoolParams (padding, stride_width, "
                                "stride_height, filter_width, filter_height)",
                                f));
  KILN_TRY(kiln_custom_padding(f[0], &p->padding));
  if (f[3] <= 0 || f[4] <= 0 || f[3] > 4096 || f[4] > 4096)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "filter is %dx%d (width x height); expected 1 to 4096",
                      f[3], f[4]);
  if (f[1] != f[3] || f[2] != f[4])
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "stride %dx%d differs from the %dx%d filter; kiln (as "
                      "XNNPACK) pools non-overlapping windows",
                      f[1], f[2], f[3], f[4]);
  if (f[5] != 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "fused activation %d is not supported here", f[5]);
  p->filter_w = f[3];
  p->filter_h = f[4];
  return NULL;
}

static kiln_status *init(void *user, const void *options, size_t size,
                         void **state) {
  (void)user;
  pool_params p;
  *state = NULL;
  return read_params(options, size, &p);
}

static kiln_status *options_of(const kiln_custom_context *ctx, pool_params *p) {
  size_t size;
  const void *options = kiln_custom_options(ctx, &size);
  return read_params(options, size, p);
}

/* ------------------------------------------------------------ pooling */

static kiln_status *argmax_prepare(kiln_custom_context *ctx) {
  pool_params p;
  KILN_TRY(options_of(ctx, &p));
  KILN_TRY(kiln_custom_check_io(ctx, 1, 2));
  KILN_TRY(kiln_custom_float4d(ctx, 0, "input"));
  const kiln_custom_tensor *in = kiln_custom_input(ctx, 0);
  kiln_custom_tensor *values = kiln_custom_output(ctx, 0);
  kiln_custom_tensor *indices = kiln_custom_output(ctx, 1);
  if (indices->dtype != KILN_INT32 && indices->dtype != KILN_FLOAT32)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 1 (indices) is %s; expected int32 or float32",
                      kiln_dtype_name(indices->dtype));
  const int64_t k[2] = {p.filter_h, p.filter_w};
  int64_t dims[4] = {in->dims[0], 0, 0, in->dims[3]};
  for (int axis = 1; axis <= 2; axis++) {
    int64_t n = in->dims[axis];
    if (p.padding == KILN_PAD_VALID && n < k[axis - 1])
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (input) dimension %d is %lld, smaller than "
                        "the %lld-wide VALID window",
                        axis, (long long)n, (long long)k[axis - 1]);
    dims[axis] = p.padding == KILN_PAD_SAME
                     ? (n + k[axis - 1] - 1) / k[axis - 1]
                     : n / k[axis - 1];
  }
  values->rank = indices->rank = 4;
  memcpy(values->dims, dims, sizeof dims);
  memcpy(indices->dims, dims, sizeof dims);
  return NULL;
}

/* Rows (or columns) padded before the first window along one axis. */
static int64_t pad_before(int64_t in, int64_t out, int64_t k) {
  int64_t total = out * k - in;
  return total > 0 ? total / 2 : 0;
}

/* A coordinate moved into [0, n). */
static int64_t clamp(int64_t i, int64_t n) {
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

static kiln_status *argmax_invoke(kiln_custom_context *ctx) {
  pool_params p;
  KILN_TRY(options_of(ctx, &p));
  const kiln_custom_tensor *in = kiln_custom_input(ctx, 0);
  kiln_custom_tensor *vt = kiln_custom_output(ctx, 0);
  kiln_custom_tensor *it = kiln_custom_output(ctx, 1);
  const float *x = in->data;
  float *values = vt->data;
  /* int32 or float32 holding the integer's bits: 4 bytes either way. */
  int32_t *indices = it->data;
  const int64_t n = in->dims[0], h = in->dims[1], w = in->dims[2],
                c = in->dims[3];
  const int64_t oh = vt->dims[1], ow = vt->dims[2];
  const int64_t top = pad_before(h, oh, p.filter_h);
  const int64_t left = pad_before(w, ow, p.filter_w);
  for (int64_t b = 0; b < n; b++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t ch = 0; ch < c; ch++) {
          float best = 0.0f;
          int32_t best_index = -1;
          for (int kx = 0; kx < p.filter_w; kx++) {
            int64_t ix = clamp(ox * p.filter_w - left + kx, w);
            for (int ky = 0; ky < p.filter_h; ky++) {
              int64_t iy = clamp(oy * p.filter_h - top + ky, h);
              float v = x[((b * h + iy) * w + ix) * c + ch];
              if (best_index < 0 || v > best) {
                best = v;
                best_index = kx * p.filter_h + ky;
              }
            }
          }
          int64_t o = ((b * oh + oy) * ow + ox) * c + ch;
          values[o] = best;
          indices[o] = best_index;
        }
  return NULL;
}

const kiln_custom_op kiln_custom_max_pool_argmax = {sizeof(kiln_custom_op),
                                                    "MaxPoolingWithArgmax2D",
                                                    NULL,
                                                    init,
                                                    NULL,
                                                    argmax_prepare,
                                                    argmax_invoke};

/* ---------------------------------------------------------- unpooling */

static kiln_status *unpool_prepare(kiln_custom_context *ctx) {
  pool_params p;
  KILN_TRY(options_of(ctx, &p));
  KILN_TRY(kiln_custom_check_io(ctx, 2, 1));
  KILN_TRY(kiln_custom_float4d(ctx, 0, "values"));
  const kiln_custom_tensor *v = kiln_custom_input(ctx, 0);
  const kiln_custom_tensor *idx = kiln_custom_input(ctx, 1);
  if ((idx->dtype != KILN_INT32 && idx->dtype != KILN_FLOAT32) ||
      idx->rank != 4 || memcmp(idx->dims, v->dims, 4 * sizeof v->dims[0]) != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (indices) must be int32 (or float32 holding "
                      "int32 bits) of input 0's shape");
  kiln_custom_tensor *out = kiln_custom_output(ctx, 0);
  out->rank = 4;
  out->dims[0] = v->dims[0];
  out->dims[3] = v->dims[3];
  if (v->dims[1] > INT32_MAX / p.filter_h ||
      v->dims[2] > INT32_MAX / p.filter_w)
    return kiln_error(KILN_ERR_INVALID_MODEL, "the output would overflow");
  out->dims[1] = v->dims[1] * p.filter_h;
  out->dims[2] = v->dims[2] * p.filter_w;
  return NULL;
}

static kiln_status *unpool_invoke(kiln_custom_context *ctx) {
  pool_params p;
  KILN_TRY(options_of(ctx, &p));
  const kiln_custom_tensor *vt = kiln_custom_input(ctx, 0);
  const kiln_custom_tensor *it = kiln_custom_input(ctx, 1);
  kiln_custom_tensor *ot = kiln_custom_output(ctx, 0);
  const float *values = vt->data;
  const int32_t *indices = it->data; /* int32, or its bits in float32 */
  float *out = ot->data;
  const int64_t n = vt->dims[0], h = vt->dims[1], w = vt->dims[2],
                c = vt->dims[3];
  const int64_t oh = ot->dims[1], ow = ot->dims[2];
  const int32_t window = p.filter_h * p.filter_w;
  memset(out, 0, (size_t)(n * oh * ow * c) * sizeof *out);
  for (int64_t b = 0; b < n; b++)
    for (int64_t y = 0; y < h; y++)
      for (int64_t x = 0; x < w; x++)
        for (int64_t ch = 0; ch < c; ch++) {
          int64_t i = ((b * h + y) * w + x) * c + ch;
          int32_t k = indices[i];
          if (k < 0 || k >= window)
            return kiln_error(KILN_ERR_RUNTIME,
                              "input 1 (indices) element %lld is %d, outside "
                              "the %dx%d window",
                              (long long)i, k, p.filter_h, p.filter_w);
          int64_t oy = y * p.filter_h + k % p.filter_h;
          int64_t ox = x * p.filter_w + k / p.filter_h;
          out[((b * oh + oy) * ow + ox) * c + ch] = values[i];
        }
  return NULL;
}

const kiln_custom_op kiln_custom_max_unpooling = {
    sizeof(kiln_custom_op), "MaxUnpooling2D", NULL, init, NULL,
    unpool_prepare,         unpool_invoke};
