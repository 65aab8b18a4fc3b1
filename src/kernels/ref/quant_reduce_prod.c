/* quant_reduce_prod.c - REDUCE_PROD on quantized int8 and int16, in
 * TFLite's integer arithmetic (reduce.cc's EvalQuantizedProd). A product
 * of n quantized values carries the scale s_in^n, which no int32 holds for
 * long; so each step multiplies the accumulator (the first value, zero
 * point removed) by the next value and rescales the 64-bit product at once
 * by s_in / s_out^(1/n), and the finished accumulator is rescaled once
 * more: n - 1 step rescales plus the last give s_in^n / s_out overall.
 * The rescale is the int64 form (a Q15 multiplier, one rounding), and the
 * output zero point is added and the result clamped to the type. TFLite has
 * no uint8 form of this; unquantized int8 / int16 stay in reduce_more.c. */
#include <math.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

/* The per-step multiplier for `count` reduced elements. */
static void step_multiplier(const kiln_qparams *in, const kiln_qparams *out,
                            int64_t count, int32_t *multiplier, int *shift) {
  const double scaling =
      (double)in->scale / pow((double)out->scale, 1.0 / (double)count);
  kiln_quantize_multiplier(scaling, multiplier, shift);
}

static kiln_status *read_params(const kiln_op_ctx *ctx, kiln_qparams *in,
                                kiln_qparams *out) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (x->dtype == KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) is quantized uint8; quantized REDUCE_PROD "
                      "takes int8 or int16 (as TFLite)");
  if (y->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s like input 0 (x)",
                      kiln_dtype_name(y->dtype), kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_q_params(x, "input 0 (x)", true, in));
  return kiln_q_params(y, "output 0", true, out);
}

kiln_status *kiln_qshape_reduce_prod(const kiln_op_ctx *ctx) {
  kiln_qparams in, out;
  return read_params(ctx, &in, &out);
}

/* An odometer over the reduced axes of one output element. */
typedef struct axes_walk {
  int n;
  int64_t dims[KILN_MAX_RANK], strides[KILN_MAX_RANK], index[KILN_MAX_RANK];
  int64_t offset;
} axes_walk;

static void axes_walk_next(axes_walk *w) {
  for (int d = w->n - 1; d >= 0; d--) {
    w->offset += w->strides[d];
    if (++w->index[d] < w->dims[d]) return;
    w->offset -= w->strides[d] * w->dims[d];
    w->index[d] = 0;
  }
}

kiln_status *kiln_qref_reduce_prod(const kiln_op_ctx *ctx,
                                   const bool *reduced) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0];
  kiln_qparams in, out;
  KILN_TRY(read_params(ctx, &in, &out));
  /* Split input 0's axes into kept (in output order) and reduced ones. */
  axes_walk kept = {0}, red = {0};
  int64_t stride = 1, count = 1;
  int64_t strides[KILN_MAX_RANK];
  for (int d = x->rank - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= x->dims[d];
  }
  for (int d = 0; d < x->rank; d++) {
    axes_walk *w = reduced[d] ? &red : &kept;
    if (reduced[d]) count *= x->dims[d];
    w->dims[w->n] = x->dims[d];
    w->strides[w->n++] = strides[d];
  }
  const int64_t n_out = kiln_tensor_numel(y);
  if (count == 0) {
    /* TFLite leaves the output as it was; the empty product is real 1. */
    const int32_t one =
        kiln_quantize_f32(1.0f, out.scale, out.zero_point, out.qmin, out.qmax);
    for (int64_t o = 0; o < n_out; o++) kiln_q_store(y, o, one);
    return NULL;
  }
  int32_t multiplier;
  int shift;
  step_multiplier(&in, &out, count, &multiplier, &shift);
  for (int64_t o = 0; o < n_out; o++, axes_walk_next(&kept)) {
    for (int d = 0; d < red.n; d++) red.index[d] = 0;
    red.offset = 0;
    int32_t acc = kiln_q_load(x, kept.offset) - in.zero_point;
    for (int64_t k = 1; k < count; k++) {
      axes_walk_next(&red);
      const int32_t v =
          kiln_q_load(x, kept.offset + red.offset) - in.zero_point;
      acc = kiln_mul_by_quantized_multiplier_i64((int64_t)acc * v, multiplier,
                                                 shift);
    }
    const int64_t r =
        (int64_t)kiln_mul_by_quantized_multiplier_i64(acc, multiplier, shift) +
        out.zero_point;
    kiln_q_store(
        y, o,
        (int32_t)(r < out.qmin ? out.qmin : (r > out.qmax ? out.qmax : r)));
  }
  return NULL;
}
