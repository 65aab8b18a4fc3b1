/* activation.c - the meaning of each fused activation, shared by the
 * reference kernels, the optimized variants and the fusion pass. */
#include "kernels/activation.h"

#include <math.h>

/* exp never overflows for the branch taken, so no inf/inf. */
double kiln_logistic_d(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

/* Zero at and below -3 outright, so -inf gives 0 rather than -inf*0; the
 * comparisons let NaN through. */
double kiln_hard_swish_d(double x) {
  if (x <= -3.0) return 0.0;
  double t = x + 3.0;
  return x * (t > 6.0 ? 6.0 : t) / 6.0;
}

static bool is_internal(kiln_activation act) {
  return act == KILN_ACT_HARD_SWISH || act == KILN_ACT_LOGISTIC ||
         act == KILN_ACT_SWISH;
}

/* A switch without default, so that a new enumerator fails to compile here
 * until someone decides what it means. */
bool kiln_activation_known(kiln_activation act) {
  switch (act) {
    case KILN_ACT_NONE:
    case KILN_ACT_RELU:
    case KILN_ACT_RELU_N1_TO_1:
    case KILN_ACT_RELU6:
    case KILN_ACT_TANH:
    case KILN_ACT_SIGN_BIT:
    case KILN_ACT_HARD_SWISH:
    case KILN_ACT_LOGISTIC:
    case KILN_ACT_SWISH:
      return true;
  }
  return false;
}

bool kiln_activation_is_clamp(kiln_activation act) {
  return act == KILN_ACT_NONE || act == KILN_ACT_RELU ||
         act == KILN_ACT_RELU6 || act == KILN_ACT_RELU_N1_TO_1;
}

void kiln_activation_bounds(kiln_activation act, float *lo, float *hi) {
  *lo = -INFINITY;
  *hi = INFINITY;
  if (act == KILN_ACT_RELU) {
    *lo = 0.0f;
  } else if (act == KILN_ACT_RELU6) {
    *lo = 0.0f;
    *hi = 6.0f;
  } else if (act == KILN_ACT_RELU_N1_TO_1) {
    *lo = -1.0f;
    *hi = 1.0f;
  }
}

bool kiln_activation_fusable(kiln_op_type op, kiln_activation act) {
  if (kiln_activation_is_clamp(act)) return true;
  if (!is_internal(act)) return false;
  switch (op) {
    /* Variants that apply kernels/epilogue.h after their tiles. */
    case KILN_OP_CONV_2D:
    case KILN_OP_DEPTHWISE_CONV_2D:
    case KILN_OP_FULLY_CONNECTED:
    case KILN_OP_ADD:
    case KILN_OP_SUB:
    case KILN_OP_MUL:
    /* No variants: the reference kernel runs anyway. */
    case KILN_OP_DIV:
    case KILN_OP_TRANSPOSE_CONV:
    case KILN_OP_CONCATENATION:
    case KILN_OP_L2_NORMALIZATION:
      return true;
    /* The pooling variants apply clamps only. */
    default:
      return false;
  }
}
