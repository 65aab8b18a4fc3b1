/* quant_reduce.c - the quantized ends of MEAN, SUM and REDUCE_MAX: reduce.c
 * walks the reduced axes and sums (or takes the max of) the stored values;
 * here the sum becomes an output value as TFLite's QuantizedMeanOrSum does:
 * the input zero point times the count is removed, and the result rescaled
 * by s_in / s_out, divided by the count for MEAN by folding 1/count into
 * the multiplier (shifted left by floor(log2 count), at most 32, first, so
 * the division keeps precision). REDUCE_MAX needs equal quantization in
 * and out and stores the max as it is. */
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

kiln_status *kiln_qshape_reduce(const kiln_op_ctx *ctx, bool max) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  if (max) return kiln_q_require_same(x, "input 0 (x)", out, "output 0");
  kiln_qparams qx, qo;
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s like input 0 (x)",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, &qx));
  return kiln_q_params(out, "output 0", true, &qo);
}

kiln_status *kiln_q_reduce_plan(const kiln_op_ctx *ctx, bool mean,
                                int64_t count, kiln_q_reduce *plan) {
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(ctx->inputs[0], "input 0 (x)", true, &qx));
  KILN_TRY(kiln_q_params(ctx->outputs[0], "output 0", true, &qo));
  plan->in_zero_point = qx.zero_point;
  plan->out_zero_point = qo.zero_point;
  plan->qmin = qo.qmin;
  plan->qmax = qo.qmax;
  plan->count = count;
  int32_t m;
  int s;
  kiln_quantize_multiplier((double)qx.scale / (double)qo.scale, &m, &s);
  plan->multiplier = m;
  plan->shift = s;
  if (mean && count > 0) {
    int log2 = 63 - __builtin_clzll((unsigned long long)count);
    if (log2 > 32) log2 = 32;
    if (log2 > 31 + s) log2 = 31 + s;
    plan->multiplier = log2 >= 0 ? (int32_t)(((int64_t)m << log2) / count) : 0;
    plan->shift = s - log2;
  }
  return NULL;
}

int32_t kiln_q_reduce_value(const kiln_q_reduce *plan, int64_t sum) {
  /* TFLite keeps the sum and its correction in int32. */
  const int32_t shifted =
      (int32_t)(uint32_t)(uint64_t)(sum -
                                    (int64_t)plan->in_zero_point * plan->count);
  const int32_t r =
      kiln_mul_by_quantized_multiplier(shifted, plan->multiplier, plan->shift);
  return kiln_q_clamp(r + plan->out_zero_point, plan->qmin, plan->qmax);
}
