/* quant_l2norm.c - L2_NORMALIZATION on int8 / uint8 as TFLite's integer
 * kernels compute it: per row the sum of squared offsets from the zero
 * point (int32), its inverse square root as a Q31 multiplier and shift
 * (gemmlowp Newton-Raphson in Q3.28 on the sum normalized to [2^27,
 * 2^29)), and each offset rescaled by it onto the output's fixed scale of
 * 1/128 (zero point 0 for int8, 128 for uint8, as TFLite requires). */
#include <math.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

kiln_status *kiln_qshape_l2norm(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  const kiln_activation_attrs *attrs = ctx->attrs;
  if (x->dtype == KILN_INT16)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "quantized L2_NORMALIZATION on int16 is not supported "
                      "(int8 and uint8 are, as in TFLite)");
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; quantized L2_NORMALIZATION "
                      "needs %s like input 0 (x)",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  if (attrs && attrs->activation != KILN_ACT_NONE)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "fused activation %d on a quantized L2_NORMALIZATION "
                      "(TFLite allows none)",
                      (int)attrs->activation);
  kiln_qparams qx, qo;
  KILN_TRY(kiln_q_params(x, "input 0 (x)", false, &qx));
  KILN_TRY(kiln_q_params(out, "output 0", false, &qo));
  const int32_t zp = x->dtype == KILN_INT8 ? 0 : 128;
  if (qo.scale != 1.0f / 128.0f || qo.zero_point != zp)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has scale %g and zero point %d; TFLite's "
                      "quantized L2_NORMALIZATION requires 1/128 and %d",
                      (double)qo.scale, (int)qo.zero_point, (int)zp);
  return NULL;
}

void kiln_q_inv_sqrt(int32_t v, int32_t *multiplier, int *shift) {
  if (v <= 1) { /* 0 (an all-zero row) is treated as 1, as TFLite does */
    *multiplier = INT32_MAX;
    *shift = 0;
    return;
  }
  int right = 11;
  while (v >= (1 << 29)) {
    v /= 4;
    right++;
  }
  const int pairs = (__builtin_clz((uint32_t)v) - 1) / 2 - 1;
  right -= pairs;
  v <<= 2 * pairs;              /* now in [2^27, 2^29) */
  const int32_t input = v >> 1; /* Q3.28 */
  const int32_t half_input = kiln_rounding_divide_by_pot(input, 1);
  const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 */
  int32_t x = 1 << 28;                              /* 1.0 */
  for (int i = 0; i < 5; i++) {
    /* x^3: Q6 * Q3 = Q9, back to Q3 */
    const int32_t x3 = kiln_sat_shift_left(kiln_srdhm(kiln_srdhm(x, x), x), 6);
    /* 1.5 x - x^3 v / 2, in Q6, back to Q3 */
    x = kiln_sat_shift_left(
        kiln_srdhm(half_three, x) - kiln_srdhm(half_input, x3), 3);
  }
  x = kiln_srdhm(x, 1518500250); /* times sqrt(2) / 2 */
  if (right < 0) {
    x = kiln_shift_left_wrap(x, -right);
    right = 0;
  }
  *multiplier = x;
  *shift = -right;
}

kiln_status *kiln_qref_l2norm(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_qshape_l2norm(ctx));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  const int32_t zp = (int32_t)x->quant->zero_point[0];
  const bool u8 = x->dtype == KILN_UINT8;
  const int64_t depth = x->dims[x->rank - 1], total = kiln_tensor_numel(x);
  for (int64_t r = 0; depth > 0 && r < total; r += depth) {
    int32_t sum = 0;
    for (int64_t c = 0; c < depth; c++) {
      const int32_t d = kiln_q_load(x, r + c) - zp;
      sum = (int32_t)((uint32_t)sum + (uint32_t)(d * d));
    }
    int32_t m;
    int s;
    kiln_q_inv_sqrt(sum, &m, &s);
    for (int64_t c = 0; c < depth; c++) {
      const int32_t d = kiln_q_load(x, r + c) - zp;
      int32_t v;
      if (u8) /* TFLite's uint8 kernel: 128 d at the multiplier's shift */
        v = 128 +
            kiln_mul_by_quantized_multiplier_smaller_than_one(128 * d, m, s);
      else /* int8: d at the shift plus 7 (the 1/128 output scale) */
        v = kiln_mul_by_quantized_multiplier(d, m, s + 7);
      kiln_q_store(out, r + c, kiln_q_clamp(v, u8 ? 0 : -128, u8 ? 255 : 127));
    }
  }
  return NULL;
}
