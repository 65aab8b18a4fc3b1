/* quant_util.h - what the quantized forms of the elementwise, pooling,
 * activation and movement operators share: recognizing a quantized tensor,
 * reading its per-tensor scale and zero point with the checks TFLite's
 * Prepare makes, loading and storing int8 / uint8 / int16 elements as
 * int32, and walking a broadcast. The fixed-point arithmetic itself is
 * quant_math.h's; the operator hooks are declared in quant_ops.h. */
#ifndef KILN_KERNELS_REF_QUANT_UTIL_H
#define KILN_KERNELS_REF_QUANT_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* int8, uint8 or int16: the types whose arithmetic is quantized. */
static inline bool kiln_q_type(kiln_dtype dtype) {
  return dtype == KILN_INT8 || dtype == KILN_UINT8 || dtype == KILN_INT16;
}

/* One tensor's per-tensor quantization: real = scale * (q - zero_point). */
typedef struct kiln_qparams {
  float scale;
  int32_t zero_point;
  int32_t qmin, qmax; /* the type's range */
} kiln_qparams;

/* Reads t's quantization, requiring an int8/uint8/int16 type, exactly one
 * scale (per-tensor), a finite positive scale and a zero point inside the
 * type's range (int16 also requires zero point 0 when `symmetric16`).
 * `role` names t in the message ("input 0 (x)"). */
kiln_status *kiln_q_params(const kiln_tensor *t, const char *role,
                           bool symmetric16, kiln_qparams *out);

/* Requires `b` to have a's type and exactly a's scale and zero point, as
 * TFLite does where it copies quantized values without rescaling. */
kiln_status *kiln_q_require_same(const kiln_tensor *a, const char *a_role,
                                 const kiln_tensor *b, const char *b_role);

/* Element i of an int8 / uint8 / int16 tensor. */
static inline int32_t kiln_q_load(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_INT8:
      return ((const int8_t *)t->data)[i];
    case KILN_UINT8:
      return ((const uint8_t *)t->data)[i];
    default:
      return ((const int16_t *)t->data)[i];
  }
}

/* Stores v (already inside the type's range) as element i. */
static inline void kiln_q_store(kiln_tensor *t, int64_t i, int32_t v) {
  switch (t->dtype) {
    case KILN_INT8:
      ((int8_t *)t->data)[i] = (int8_t)v;
      return;
    case KILN_UINT8:
      ((uint8_t *)t->data)[i] = (uint8_t)v;
      return;
    default:
      ((int16_t *)t->data)[i] = (int16_t)v;
      return;
  }
}

static inline int32_t kiln_q_clamp(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

#endif
