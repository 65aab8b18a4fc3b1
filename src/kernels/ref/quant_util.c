/* quant_util.c - the checks and the broadcast walk quant_util.h declares. */
#include "kernels/ref/quant_util.h"

#include <math.h>
#include <string.h>

#include "kernels/ref/quant_math.h"

kiln_status *kiln_q_params(const kiln_tensor *t, const char *role,
                           bool symmetric16, kiln_qparams *out) {
  if (!kiln_q_type(t->dtype))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has type %s; quantized kernels take int8, uint8 or "
                      "int16",
                      role, kiln_dtype_name(t->dtype));
  if (!t->quant || t->quant->count < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s of type %s has no quantization parameters", role,
                      kiln_dtype_name(t->dtype));
  if (t->quant->count != 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has %d per-channel scales; this operator takes "
                      "per-tensor quantization",
                      role, t->quant->count);
  const float scale = t->quant->scale[0];
  const int64_t zp = t->quant->zero_point[0];
  kiln_quant_type_range(t->dtype, &out->qmin, &out->qmax);
  if (!(scale > 0.0f) || !isfinite(scale))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has quantization scale %g; it must be finite and "
                      "positive",
                      role, (double)scale);
  if (zp < out->qmin || zp > out->qmax)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has zero point %lld outside the %s range", role,
                      (long long)zp, kiln_dtype_name(t->dtype));
  if (symmetric16 && t->dtype == KILN_INT16 && zp != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s is int16 with zero point %lld; int16 quantization "
                      "is symmetric (zero point 0)",
                      role, (long long)zp);
  out->scale = scale;
  out->zero_point = (int32_t)zp;
  return NULL;
}

kiln_status *kiln_q_require_same(const kiln_tensor *a, const char *a_role,
                                 const kiln_tensor *b, const char *b_role) {
  kiln_qparams qa, qb;
  if (b->dtype != a->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s has type %s but %s has %s",
                      b_role, kiln_dtype_name(b->dtype), a_role,
                      kiln_dtype_name(a->dtype));
  KILN_TRY(kiln_q_params(a, a_role, false, &qa));
  KILN_TRY(kiln_q_params(b, b_role, false, &qb));
  if (qa.scale != qb.scale || qa.zero_point != qb.zero_point)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has scale %g and zero point %d but %s has %g and "
                      "%d; this operator copies quantized values and needs "
                      "them equal",
                      b_role, (double)qb.scale, (int)qb.zero_point, a_role,
                      (double)qa.scale, (int)qa.zero_point);
  return NULL;
}
