/* quant_math.c - the load/prepare-time half of quant_math.h: turning real
 * multipliers into TFLite's Q31 multiplier + shift, and fused activations
 * into quantized clamps. Nothing here runs at invoke. */
#include "kernels/ref/quant_math.h"

#include <math.h>

#include "core/status.h"

void kiln_quantize_multiplier(double m, int32_t *multiplier, int *shift) {
  if (!(m > 0) || !isfinite(m)) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int exp = 0;
  const double frac = frexp(m, &exp); /* m = frac * 2^exp, frac in [0.5, 1) */
  /* round() is half away from zero, as TFLite's TfLiteRound. */
  int64_t q = (int64_t)round(frac * (double)(INT64_C(1) << 31));
  if (q == (INT64_C(1) << 31)) { /* frac rounded up to 1.0 */
    q /= 2;
    exp++;
  }
  if (exp < -31) { /* below what a 32-bit shift can express: zero */
    exp = 0;
    q = 0;
  }
  if (exp > 30) { /* TFLite saturates here too: every kernel's shifts stay
                   * within 32 bits (a fuzzed scale of 1e30 asked for 123) */
    exp = 30;
    q = INT32_MAX;
  }
  *multiplier = (int32_t)q;
  *shift = exp;
}

void kiln_quantize_multiplier_smaller_than_one(double m, int32_t *multiplier,
                                               int *left_shift) {
  kiln_quantize_multiplier(m, multiplier, left_shift);
  if (*left_shift > 0) { /* m rounded up to 1.0: keep the contract */
    *multiplier = INT32_MAX;
    *left_shift = 0;
  }
}

void kiln_quantize_multiplier_greater_than_one(double m, int32_t *multiplier,
                                               int *left_shift) {
  kiln_quantize_multiplier(m, multiplier, left_shift);
  if (*left_shift < 0) *left_shift = 0;
}

bool kiln_quant_type_range(kiln_dtype dtype, int32_t *qmin, int32_t *qmax) {
  switch (dtype) {
    case KILN_INT8:
      *qmin = INT8_MIN, *qmax = INT8_MAX;
      return true;
    case KILN_UINT8:
      *qmin = 0, *qmax = UINT8_MAX;
      return true;
    case KILN_INT16:
      *qmin = INT16_MIN, *qmax = INT16_MAX;
      return true;
    case KILN_INT32:
      *qmin = INT32_MIN, *qmax = INT32_MAX;
      return true;
    default:
      return false;
  }
}

/* zero_point + round(x / scale), in float as TFLite's lambda computes it,
 * widened so an extreme bound cannot overflow before the clamp. */
static int64_t quantize_bound(float x, float scale, int32_t zero_point) {
  return (int64_t)zero_point + kiln_quant_round_to_i32(x / scale);
}

static int32_t clamp_i64(int64_t v, int32_t lo, int32_t hi) {
  return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

kiln_status *kiln_quant_activation_range(kiln_activation act, kiln_dtype dtype,
                                         float scale, int32_t zero_point,
                                         int32_t *act_min, int32_t *act_max) {
  int32_t qmin, qmax;
  if (!kiln_quant_type_range(dtype, &qmin, &qmax))
    return kiln_error(KILN_ERR_UNSUPPORTED, "no quantized range for type %s",
                      kiln_dtype_name(dtype));
  *act_min = qmin;
  *act_max = qmax;
  switch (act) {
    case KILN_ACT_NONE:
      return NULL;
    case KILN_ACT_RELU:
      *act_min = clamp_i64(quantize_bound(0.0f, scale, zero_point), qmin, qmax);
      return NULL;
    case KILN_ACT_RELU6:
      *act_min = clamp_i64(quantize_bound(0.0f, scale, zero_point), qmin, qmax);
      *act_max = clamp_i64(quantize_bound(6.0f, scale, zero_point), qmin, qmax);
      return NULL;
    case KILN_ACT_RELU_N1_TO_1:
      *act_min =
          clamp_i64(quantize_bound(-1.0f, scale, zero_point), qmin, qmax);
      *act_max = clamp_i64(quantize_bound(1.0f, scale, zero_point), qmin, qmax);
      return NULL;
    case KILN_ACT_TANH:
    case KILN_ACT_SIGN_BIT:
    case KILN_ACT_HARD_SWISH:
    case KILN_ACT_LOGISTIC:
    case KILN_ACT_SWISH:
      break;
  }
  return kiln_error(KILN_ERR_UNSUPPORTED,
                    "fused activation %d on a quantized output is not "
                    "supported (NONE, RELU, RELU6, RELU_N1_TO_1 only)",
                    (int)act);
}
