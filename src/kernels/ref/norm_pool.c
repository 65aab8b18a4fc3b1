/* norm_pool.c - float32 LOCAL_RESPONSE_NORMALIZATION in TFLite's form: it
 * divides each value by (bias + alpha * sum of squares over channels
 * c-radius..c+radius)^beta, alpha not divided by the window size, and
 * accumulates in float as TFLite's kernel does. (L2_POOL_2D, once here,
 * shares pool.c's window walk.) */
#include <math.h>

#include "kernels/kernel.h"

/* -------------------------------------------- LOCAL_RESPONSE_NORMALIZATION */

kiln_status *kiln_shape_local_response_normalization(const kiln_op_ctx *ctx) {
  const kiln_lrn_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_float_input(ctx, 0, "input", 4, 4));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  if (a->radius < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "radius is %d; it must be >= 0",
                      a->radius);
  const kiln_tensor *in = ctx->inputs[0];
  kiln_set_shape(ctx->outputs[0], in->dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_local_response_normalization(const kiln_op_ctx *ctx) {
  const kiln_lrn_attrs *a = ctx->attrs;
  const kiln_tensor *in_t = ctx->inputs[0];
  int64_t depth = in_t->dims[3];
  int64_t pixels = kiln_tensor_numel(in_t) / (depth ? depth : 1);
  const float *in = in_t->data;
  float *out = ctx->outputs[0]->data;
  for (int64_t p = 0; p < pixels; p++, in += depth, out += depth)
    for (int64_t c = 0; c < depth; c++) {
      int64_t lo = c - a->radius, hi = c + a->radius;
      lo = lo < 0 ? 0 : lo;
      hi = hi > depth - 1 ? depth - 1 : hi;
      float sum = 0.0f;
      for (int64_t j = lo; j <= hi; j++) sum += in[j] * in[j];
      out[c] = in[c] * powf(a->bias + a->alpha * sum, -a->beta);
    }
  return NULL;
}
