/* qhybrid_pack.c - the hybrid GEMM's weights, packed once at load into
 * panels (layout in qhybrid.h), and the activations' quantization, which
 * repeats the reference kernel's (kernels/ref/quant_hybrid.c) arithmetic
 * step for step so that both find the same scale, zero point and integers. */
#include <math.h>
#include <string.h>

/* gcc's -O2 vectorizes only loops of known trip counts; the quantizing
 * loops run over every activation. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include "core/alloc.h"
#include "kernels/qhybrid/qhybrid.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

kiln_status *kiln_qh_pack(const qh_kernel *kernel, const int8_t *w, int64_t n,
                          int64_t k, int64_t n_stride, int64_t k_stride,
                          int64_t window_h, int64_t window_w,
                          const kiln_allocator *a, void **out_packed) {
  int64_t nr = kernel->nr, kp = (k + 3) / 4 * 4;
  int64_t np = (n + nr - 1) / nr * nr;
  size_t sum_offset = round_up(sizeof(qh_packed), 64);
  size_t init_offset = round_up(sum_offset + (size_t)np * 4, 64);
  size_t weights_offset = round_up(init_offset + (size_t)np * 4, 64);
  size_t bytes = weights_offset + (size_t)(np * kp);
  char *block = kiln_malloc(a, bytes);
  if (!block) return KILN_OOM();
  qh_packed *h = (qh_packed *)(void *)block;
  *h = (qh_packed){n,          k,           kp,
                   nr,         window_h,    window_w,
                   sum_offset, init_offset, weights_offset};
  int32_t *sum = (int32_t *)(void *)(block + sum_offset);
  int32_t *init = (int32_t *)(void *)(block + init_offset);
  int8_t *packed = (int8_t *)(block + weights_offset);
  memset(packed, 0, (size_t)(np * kp));
  for (int64_t c = 0; c < np; c++) {
    int32_t s = 0;
    if (c < n)
      for (int64_t i = 0; i < k; i++) s += w[c * n_stride + i * k_stride];
    sum[c] = s;
    /* The product of the int32 wraps as the accumulator does. */
    init[c] = (int32_t)((uint32_t)kernel->init_per_sum * (uint32_t)s);
    if (c >= n) continue;
    int8_t *panel = packed + c / nr * nr * kp;
    for (int64_t i = 0; i < k; i++)
      panel[(i / 4 * nr + c % nr) * 4 + i % 4] = w[c * n_stride + i * k_stride];
  }
  *out_packed = block;
  return NULL;
}

/* ---- quantization, the reference kernel's rules ---- */

static void min_max(const float *x, int64_t n, float *lo, float *hi) {
  float l = x[0], h = x[0];
  for (int64_t i = 1; i < n; i++) {
    float v = x[i];
    if (v < l) l = v;
    if (v > h) h = v;
  }
  *lo = l;
  *hi = h;
}

qh_quant kiln_qh_symmetric(const float *x, int64_t n) {
  float lo, hi;
  min_max(x, n, &lo, &hi);
  return kiln_qh_symmetric_range(lo, hi);
}

qh_quant kiln_qh_asymmetric(const float *x, int64_t n) {
  float lo, hi;
  min_max(x, n, &lo, &hi);
  return kiln_qh_asymmetric_range(lo, hi);
}

qh_quant kiln_qh_symmetric_range(float lo, float hi) {
  float range = fmaxf(fabsf(lo), fabsf(hi));
  qh_quant q = {1.0f, 0.0f, 0, -127, 127};
  if (range == 0.0f) return q;
  q.scale = range / 127.0f;
  q.inverse = 127.0f / range;
  return q;
}

qh_quant kiln_qh_asymmetric_range(float lo, float hi) {
  const double qmin = -128.0, qmax = 127.0;
  double rmin = fmin(0.0, (double)lo), rmax = fmax(0.0, (double)hi);
  qh_quant q = {1.0f, 0.0f, 0, -128, 127};
  if (rmin == rmax) return q;
  double scale = (rmax - rmin) / (qmax - qmin);
  double from_min = qmin - rmin / scale, from_max = qmax - rmax / scale;
  double err_min = fabs(qmin) + fabs(rmin / scale);
  double err_max = fabs(qmax) + fabs(rmax / scale);
  double zp = err_min < err_max ? from_min : from_max;
  q.offset = zp <= qmin ? -128 : (zp >= qmax ? 127 : (int32_t)round(zp));
  q.scale = (float)scale;
  q.inverse = (float)(1.0 / (double)q.scale);
  return q;
}

/* clamp(roundf(offset + x * inverse), lo, hi) without a call to roundf:
 * rounding is monotonic, so clamping first to the integer bounds changes
 * nothing, and in that range the fraction y - trunc(y) is exact, so
 * comparing it with 0.5 rounds halves away from zero as roundf does. NaN
 * gives 0, as the reference's conversion does. */
static inline int32_t quantize_one(const qh_quant *q, float x) {
  float y = x * q->inverse;
  y = y + (float)q->offset;
  if (!(y == y)) return 0;
  float lo = (float)q->lo, hi = (float)q->hi;
  y = y < lo ? lo : (y > hi ? hi : y);
  int32_t t = (int32_t)y;
  float frac = y - (float)t;
  return t + (frac >= 0.5f) - (frac <= -0.5f);
}

void kiln_qh_quantize(const qh_quant *q, const float *x, int64_t n,
                      qh_a_format format, void *dst) {
  switch (format) {
    case QH_A_INT8:
      for (int64_t i = 0; i < n; i++)
        ((int8_t *)dst)[i] = (int8_t)quantize_one(q, x[i]);
      break;
    case QH_A_INT16:
      for (int64_t i = 0; i < n; i++)
        ((int16_t *)dst)[i] = (int16_t)quantize_one(q, x[i]);
      break;
    case QH_A_UINT8_FLIP:
      for (int64_t i = 0; i < n; i++)
        ((uint8_t *)dst)[i] = (uint8_t)(quantize_one(q, x[i]) + 128);
      break;
  }
}

void kiln_qh_fill_zero(const qh_quant *q, int64_t n, qh_a_format format,
                       void *dst) {
  switch (format) {
    case QH_A_INT8:
      memset(dst, (int8_t)q->offset, (size_t)n);
      break;
    case QH_A_INT16:
      for (int64_t i = 0; i < n; i++) ((int16_t *)dst)[i] = (int16_t)q->offset;
      break;
    case QH_A_UINT8_FLIP:
      memset(dst, (uint8_t)(q->offset + 128), (size_t)n);
      break;
  }
}

size_t kiln_qh_format_bytes(qh_a_format format) {
  return format == QH_A_INT16 ? 2 : 1;
}
