/* lstm_integer.h - TFLite's integer LSTM (the "8x8_16" kernel of
 * tensorflow/lite/kernels/lstm_eval.cc) for LSTM and
 * UNIDIRECTIONAL_SEQUENCE_LSTM: int8 input, weights and output state, int16
 * cell state, int32 biases, the gates computed as int16 fixed-point
 * numbers. The multipliers and zero-point-folded biases are computed once
 * at load (kiln_lstm_qparams_build, through kiln_quant_params_build) and
 * reach the kernel in kiln_op_ctx.quant; lstm.c hands int8 nodes here. */
#ifndef KILN_KERNELS_REF_LSTM_INTEGER_H
#define KILN_KERNELS_REF_LSTM_INTEGER_H

#include <stdint.h>

#include "core/ops.h"
#include "kernels/kernel.h"

struct kiln_quant_params;

/* One gate's two matrix products: the input's and the output state's
 * rescales into the gate's sum (and the peephole's: its int16 weight
 * times the cell state), and per cell the bias with the zero points folded
 * in (the gate bias goes with the input product, or into layer norm). The
 * sum is Q3.12, or under layer norm at the gate's intermediate scale,
 * which layer norm brings to Q3.12. */
typedef struct kiln_lstm_qgate {
  int32_t x_multiplier, h_multiplier, peep_multiplier;
  int x_shift, h_shift, peep_shift;
  const int32_t *x_bias, *h_bias; /* [n_cell] */
  /* Layer norm: the coefficients' scale as a multiplier, and the variance
   * TFLite puts in place of one below 1. */
  int32_t norm_multiplier, variance_guard;
  int norm_shift;
} kiln_lstm_qgate;

typedef struct kiln_lstm_qparams {
  kiln_lstm_qgate gate[4]; /* input (unused under CIFG), forget, cell, output */
  int32_t hidden_multiplier, hidden_zp;
  int hidden_shift;
  int cell_log2_scale; /* the cell state's scale is 2^cell_log2_scale */
  int16_t cell_clip;   /* 0: none */
  int32_t output_state_zp;
  int64_t n_cell;
} kiln_lstm_qparams;

/* Whether a node of `op` takes the integer path (an int8 input). */
bool kiln_lstm_integer_node(kiln_op_type op, const kiln_op_ctx *ctx);

/* Builds a kiln_quant_params block carrying the LSTM's parameters (one
 * allocation from `a`), checking every operand as the shape function
 * does. */
kiln_status *kiln_lstm_qparams_build(kiln_op_type op, const kiln_op_ctx *ctx,
                                     const kiln_allocator *a,
                                     struct kiln_quant_params **out);

/* Shape functions and kernels of the integer forms. */
kiln_status *kiln_shape_lstm_integer(const kiln_op_ctx *ctx, bool sequence);
kiln_status *kiln_ref_lstm_integer(const kiln_op_ctx *ctx, bool sequence);

#endif
