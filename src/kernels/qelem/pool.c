/* pool.c - int8 MAX_POOL_2D and AVERAGE_POOL_2D ("q8-maxpool-*",
 * "q8-avgpool-*") on NHWC: for each output pixel the in-bounds part of its
 * window (as kernels/ref/quant_pool.c clips it) is reduced across all
 * channels at once by an instruction-set ukernel, then clamped to the fused
 * activation's range. The max copies stored values; the average is the
 * reference's int32 sum divided by the in-bounds count rounding half away
 * from zero, so both equal the reference. Rows of output are split over the
 * pool's threads. Float, uint8 and int16 nodes, and activations other than
 * the clamps, are declined. */
#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_util.h"

static bool pool_applies(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  if (!a || ctx->num_inputs != 1 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (!x || !y || x->dtype != KILN_INT8 || y->dtype != KILN_INT8 || !y->quant ||
      y->quant->count != 1 || x->rank != 4 || y->rank != 4)
    return false;
  if (a->padding != KILN_PAD_SAME && a->padding != KILN_PAD_VALID) return false;
  if (a->stride_h < 1 || a->stride_w < 1 || a->filter_h < 1 || a->filter_w < 1)
    return false;
  int32_t lo, hi;
  kiln_status *st =
      kiln_quant_activation_range(a->activation, KILN_INT8, y->quant->scale[0],
                                  (int32_t)y->quant->zero_point[0], &lo, &hi);
  if (st) {
    kiln_status_free(st);
    return false;
  }
  for (int d = 0; d < 4; d++)
    if (x->dims[d] <= 0 || y->dims[d] <= 0) return false;
  return y->dims[0] == x->dims[0] && y->dims[3] == x->dims[3];
}

bool kiln_q8_maxpool_applies(const kiln_op_ctx *ctx) {
  return pool_applies(ctx);
}

/* The vector average divides in float, exact for counts up to 2^16 (see
 * pool_avx512.c). */
bool kiln_q8_avgpool_applies(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  return pool_applies(ctx) && (int64_t)a->filter_h * a->filter_w <= 65536;
}

typedef struct pool_job {
  const int8_t *in;
  int8_t *out;
  int64_t in_h, in_w, channels, out_h, out_w, pad_top, pad_left;
  int stride_h, stride_w, filter_h, filter_w;
  int8_t lo, hi;
  kiln_q8_pool_ukernel uk;
} pool_job;

/* The in-bounds part [begin, end) of one axis of a window. */
static void window(int64_t out_index, int stride, int64_t pad, int k,
                   int64_t in, int64_t *begin, int64_t *end) {
  const int64_t origin = out_index * stride - pad;
  *begin = origin < 0 ? 0 : origin;
  *end = origin + k > in ? in : origin + k;
}

static void pool_rows(void *context, int64_t begin, int64_t end) {
  const pool_job *j = context;
  const int64_t row_stride = j->in_w * j->channels;
  for (int64_t row = begin; row < end; row++) {
    const int64_t b = row / j->out_h, oy = row % j->out_h;
    int64_t y0, y1;
    window(oy, j->stride_h, j->pad_top, j->filter_h, j->in_h, &y0, &y1);
    int8_t *out = j->out + row * j->out_w * j->channels;
    for (int64_t ox = 0; ox < j->out_w; ox++, out += j->channels) {
      int64_t x0, x1;
      window(ox, j->stride_w, j->pad_left, j->filter_w, j->in_w, &x0, &x1);
      const int8_t *first =
          j->in + ((b * j->in_h + y0) * j->in_w + x0) * j->channels;
      j->uk(first, row_stride, y1 - y0, x1 - x0, j->channels, j->lo, j->hi,
            out);
    }
  }
}

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_pool_ukernel uk) {
  const kiln_pool_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  int32_t lo, hi;
  KILN_TRY(
      kiln_quant_activation_range(a->activation, KILN_INT8, y->quant->scale[0],
                                  (int32_t)y->quant->zero_point[0], &lo, &hi));
  pool_job j = {.in = x->data,
                .out = y->data,
                .in_h = x->dims[1],
                .in_w = x->dims[2],
                .channels = x->dims[3],
                .out_h = y->dims[1],
                .out_w = y->dims[2],
                .stride_h = a->stride_h,
                .stride_w = a->stride_w,
                .filter_h = a->filter_h,
                .filter_w = a->filter_w,
                .lo = (int8_t)lo,
                .hi = (int8_t)hi,
                .uk = uk};
  j.pad_top = kiln_window_pad_before(j.in_h, j.out_h, a->filter_h, a->stride_h,
                                     1, a->padding);
  j.pad_left = kiln_window_pad_before(j.in_w, j.out_w, a->filter_w, a->stride_w,
                                      1, a->padding);
  /* A row of output per task, several when rows are small. */
  const int64_t row_bytes = j.out_w * j.channels * j.filter_h * j.filter_w;
  const int64_t grain = row_bytes >= 16384 ? 1 : 16384 / (row_bytes + 1) + 1;
  kiln_parallel_for(ctx->pool, x->dims[0] * j.out_h, grain, pool_rows, &j);
  return NULL;
}

void kiln_q8_maxpool_portable(const int8_t *first, int64_t row_stride,
                              int64_t rows, int64_t cols, int64_t channels,
                              int8_t lo, int8_t hi, int8_t *out) {
  for (int64_t c = 0; c < channels; c++) {
    int8_t m = INT8_MIN;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < cols; k++) {
        const int8_t v = first[r * row_stride + k * channels + c];
        if (v > m) m = v;
      }
    out[c] = m < lo ? lo : (m > hi ? hi : m);
  }
}

/* acc / count rounded half away from zero, as the reference. */
static int32_t rounded_average(int32_t acc, int32_t count) {
  return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

void kiln_q8_avgpool_portable(const int8_t *first, int64_t row_stride,
                              int64_t rows, int64_t cols, int64_t channels,
                              int8_t lo, int8_t hi, int8_t *out) {
  const int32_t count = (int32_t)(rows * cols);
  for (int64_t c = 0; c < channels; c++) {
    int32_t acc = 0;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < cols; k++)
        acc += first[r * row_stride + k * channels + c];
    const int32_t v = rounded_average(acc, count);
    out[c] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
  }
}

kiln_status *kiln_q8_avgpool_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_avgpool_portable);
}

kiln_status *kiln_q8_maxpool_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_maxpool_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_maxpool_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_maxpool_avx512);
}

kiln_status *kiln_q8_maxpool_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_maxpool_avx2);
}

kiln_status *kiln_q8_avgpool_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_avgpool_avx512);
}

kiln_status *kiln_q8_avgpool_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_avgpool_avx2);
}
#endif
