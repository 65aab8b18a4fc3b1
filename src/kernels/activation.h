/* activation.h - what each fused activation computes, one value at a time
 * (the reference kernels), which of them are clamps, and which operators may
 * carry the ones that are not (the activation-fusion pass asks). Optimized
 * kernels apply them to whole rows through kernels/epilogue.h. */
#ifndef KILN_KERNELS_ACTIVATION_H
#define KILN_KERNELS_ACTIVATION_H

#include <stdbool.h>

#include "core/ops.h"
#include "kernels/kernel.h"

/* kiln_activate (kernels/kernel.h) applies any fused activation to one
 * value; kiln_logistic_d and kiln_hard_swish_d, declared beside it, are
 * defined in activation.c. */

/* Whether `act` is one kiln computes (TFLite's or an internal one). */
bool kiln_activation_known(kiln_activation act);

/* Whether the activation is a clamp: NONE, RELU, RELU6 or RELU_N1_TO_1. */
bool kiln_activation_is_clamp(kiln_activation act);
/* A clamp activation as [lo, hi] (NONE and non-clamps: [-inf, inf]). */
void kiln_activation_bounds(kiln_activation act, float *lo, float *hi);

/* Whether a node of `op` may carry fused activation `act` without losing
 * its optimized kernels: the reference kernel computes every activation,
 * so this asks whether each variant of op in variant_list.h applies it
 * too. Clamps: every op with the field. HARD_SWISH, LOGISTIC, SWISH: the
 * ops whose variants have the epilogue (CONV_2D, DEPTHWISE_CONV_2D,
 * FULLY_CONNECTED, ADD, SUB, MUL) and those with no variant at all. */
bool kiln_activation_fusable(kiln_op_type op, kiln_activation act);

#endif
