/* mean.c - int8 MEAN over the H and W axes of an NHWC tensor
 * ("q8-mean-hw-*", the global average pool of CNN heads and
 * squeeze-excite blocks): each channel's values are summed down the pixels
 * by an instruction-set ukernel, then turned into the output value by the
 * reference's own kiln_q_reduce_value (kernels/ref/quant_reduce.c), so the
 * result is the reference's. Other axes and types are declined. */
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_ops.h"

/* Sums stay in int32: at most this many pixels of 8-bit values. */
#define MAX_PIXELS (INT64_C(1) << 23)

bool kiln_q8_mean_hw_applies(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs != 2 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *axes = ctx->inputs[1];
  const kiln_tensor *y = ctx->outputs[0];
  if (!x || !y || !axes || x->dtype != KILN_INT8 || y->dtype != KILN_INT8 ||
      !x->quant || !y->quant || x->quant->count != 1 || y->quant->count != 1 ||
      x->rank != 4 || !axes->data ||
      (axes->dtype != KILN_INT32 && axes->dtype != KILN_INT64) ||
      axes->rank > 1)
    return false;
  bool seen[4] = {false, false, false, false};
  const int64_t count = kiln_tensor_numel(axes);
  for (int64_t i = 0; i < count; i++) {
    int64_t axis = kiln_tensor_int(axes, i);
    if (axis < 0) axis += 4;
    if (axis < 0 || axis > 3) return false;
    seen[axis] = true;
  }
  for (int d = 0; d < 4; d++)
    if (x->dims[d] <= 0) return false;
  return !seen[0] && seen[1] && seen[2] && !seen[3] &&
         x->dims[1] * x->dims[2] <= MAX_PIXELS &&
         kiln_tensor_numel(y) == x->dims[0] * x->dims[3];
}

/* Channels summed per ukernel call: the sums live on the stack. */
enum { CHANNEL_BLOCK = 512 };

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_sum_rows_ukernel uk) {
  const kiln_tensor *x = ctx->inputs[0];
  const int64_t batch = x->dims[0], pixels = x->dims[1] * x->dims[2];
  const int64_t channels = x->dims[3];
  kiln_q_reduce plan;
  KILN_TRY(kiln_q_reduce_plan(ctx, true, pixels, &plan));
  const int8_t *in = x->data;
  int8_t *out = ctx->outputs[0]->data;
  int32_t sums[CHANNEL_BLOCK];
  for (int64_t b = 0; b < batch; b++)
    for (int64_t c0 = 0; c0 < channels; c0 += CHANNEL_BLOCK) {
      const int64_t n =
          channels - c0 < CHANNEL_BLOCK ? channels - c0 : CHANNEL_BLOCK;
      uk(in + b * pixels * channels + c0, pixels, channels, n, sums);
      for (int64_t c = 0; c < n; c++)
        out[b * channels + c0 + c] =
            (int8_t)kiln_q_reduce_value(&plan, sums[c]);
    }
  return NULL;
}

void kiln_q8_sum_rows_portable(const int8_t *x, int64_t pixels, int64_t stride,
                               int64_t channels, int32_t *sums) {
  for (int64_t c = 0; c < channels; c++) sums[c] = 0;
  for (int64_t r = 0; r < pixels; r++)
    for (int64_t c = 0; c < channels; c++) sums[c] += x[r * stride + c];
}

kiln_status *kiln_q8_mean_hw_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_sum_rows_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_mean_hw_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_sum_rows_avx512);
}

kiln_status *kiln_q8_mean_hw_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_sum_rows_avx2);
}
#endif
