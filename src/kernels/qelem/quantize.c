/* quantize.c - QUANTIZE from float32 to int8 ("q8-quantize-*"), the first
 * operator of every fully quantized model: each value is divided by the
 * output scale in float, rounded half away from zero, offset by the zero
 * point and clamped, the steps of kernels/ref/quantize.c (kiln_quantize_f32:
 * NaN becomes 0 before the offset), split over the pool's threads.
 * Per-channel outputs and other types are declined. */
#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_math.h"

bool kiln_q8_quantize_applies(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs != 1 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  return x && y && x->dtype == KILN_FLOAT32 && y->dtype == KILN_INT8 &&
         y->quant && y->quant->count == 1 &&
         kiln_tensor_numel(x) == kiln_tensor_numel(y);
}

void kiln_q8_quantize_portable(const float *x, float scale, int32_t zp,
                               int8_t *y, size_t n) {
  for (size_t i = 0; i < n; i++)
    y[i] = (int8_t)kiln_quantize_f32(x[i], scale, zp, INT8_MIN, INT8_MAX);
}

typedef struct quantize_job {
  const float *x;
  int8_t *y;
  float scale;
  int32_t zp;
  kiln_q8_quantize_ukernel uk;
} quantize_job;

static void quantize_range(void *context, int64_t begin, int64_t end) {
  const quantize_job *j = context;
  j->uk(j->x + begin, j->scale, j->zp, j->y + begin, (size_t)(end - begin));
}

enum { QUANTIZE_GRAIN = 32768 };

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_quantize_ukernel uk) {
  const kiln_tensor *y = ctx->outputs[0];
  quantize_job j = {ctx->inputs[0]->data, y->data, y->quant->scale[0],
                    (int32_t)y->quant->zero_point[0], uk};
  kiln_parallel_for(ctx->pool, kiln_tensor_numel(y), QUANTIZE_GRAIN,
                    quantize_range, &j);
  return NULL;
}

kiln_status *kiln_q8_quantize_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_quantize_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_quantize_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_quantize_avx512);
}

kiln_status *kiln_q8_quantize_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_quantize_avx2);
}
#endif
