/* half_math.h - float16 paths of the elementwise, activation and softmax
 * operators (half_math.c), each rounding where LiteRT's float16 kernel
 * rounds. The shape functions of the operators admit float16 and the
 * reference kernels call these when input 0 is float16. */
#ifndef KILN_KERNELS_REF_HALF_MATH_H
#define KILN_KERNELS_REF_HALF_MATH_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* d rounded once to the nearest half (ties to even), not through float:
 * rounding to float first can land on a midpoint between two halves. */
uint16_t kiln_double_to_half(double d);

/* Output 0 = f(input 0) elementwise: each half widened to float, f
 * applied, the result rounded to half. */
void kiln_half_map(const kiln_op_ctx *ctx, float (*f)(float x));

/* LOGISTIC as Eigen's half logistic: e = exp(x), then e / (1 + e), with
 * each of the three steps rounded to half (and 1 where e is infinite). */
void kiln_half_logistic(const kiln_op_ctx *ctx);

/* GELU as TFLite's Eigen expression over halves, every operation rounded
 * to half: 0.5 * x * erfc(x * -sqrt(1/2)), or with `approximate`
 * 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x * x * x))). */
void kiln_half_gelu(const kiln_op_ctx *ctx, bool approximate);

/* SOFTMAX over the last axis: e = exp((x - max) * beta) in float is
 * stored as half, the float (unrounded) e are summed in order, and each
 * stored half e is divided by that sum and rounded again. */
void kiln_half_softmax(const kiln_op_ctx *ctx, float beta);

/* ATAN2 on broadcast halves: computed in double, rounded once. */
void kiln_half_atan2(const kiln_op_ctx *ctx);

#endif
