/* quant_fixed16.h - gemmlowp's 16-bit fixed-point logistic and tanh, as
 * TFLite's integer LSTM applies them to its int16 gates (ApplySigmoid on
 * Q3.12 sums, ApplyTanh on Q3.12 cell-gate sums and on the cell state).
 *
 * The values are raw int16 fixed-point numbers with `integer_bits` bits
 * above the binary point (Qm.(15-m)); results are Q0.15. Every step (the
 * rounding doubling high multiply, rounding shifts, the wrap-around of
 * int16 additions and negations, the constants rounded from their 32-bit
 * forms) follows gemmlowp's scalar int16 arithmetic so that kiln's integer
 * LSTM equals LiteRT's bit for bit. */
#ifndef KILN_KERNELS_REF_QUANT_FIXED16_H
#define KILN_KERNELS_REF_QUANT_FIXED16_H

#include <stdint.h>

/* logistic(x) for x in Q3.12, as Q0.15. */
int16_t kiln_fx16_logistic_q3(int16_t x);

/* tanh(x) for x with integer_bits in [0, 7) integer bits, as Q0.15. */
int16_t kiln_fx16_tanh(int16_t x, int integer_bits);

/* a * b / 2^15 rounded to nearest (ties away from zero), saturating the
 * one overflow (-1 * -1); gemmlowp's int16 SaturatingRoundingDoublingHighMul.
 */
int16_t kiln_fx16_srdhm(int16_t a, int16_t b);

#endif
