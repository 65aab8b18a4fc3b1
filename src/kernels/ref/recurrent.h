/* recurrent.h - what the recurrent reference kernels (ref/lstm.c, ref/rnn.c,
 * ref/svdf.c) share: checking their many optional operands, the layout of
 * a sequence tensor, and the dot product they are built from.
 *
 * Their state inputs (an LSTM's output and cell state, an RNN's hidden
 * state, SVDF's memory) are variables: the kernels read and update them in
 * place, and the session keeps them from one invoke to the next. */
#ifndef KILN_KERNELS_REF_RECURRENT_H
#define KILN_KERNELS_REF_RECURRENT_H

#include <stdint.h>

#include "kernels/kernel.h"

/* Checks input `index` (`role` in messages): float32 of shape [d0] when
 * d1 < 0, else [d0, d1]; a size of 0 accepts any non-empty size. An
 * omitted input is an error when `required`, else gives *data NULL. */
kiln_status *kiln_rec_operand(const kiln_op_ctx *ctx, int index,
                              const char *role, bool required, int64_t d0,
                              int64_t d1, const float **data);

/* A state input: float32 [batch, n], updated in place. */
kiln_status *kiln_rec_state(const kiln_op_ctx *ctx, int index, const char *role,
                            int64_t batch, int64_t n, float **data);

/* A sequence: [time, batch, features] when time_major, else [batch, time,
 * features]. */
typedef struct kiln_rec_seq {
  int64_t time, batch, features;
  bool time_major;
} kiln_rec_seq;

/* Reads the geometry of input `index`, a non-empty float32 rank-3 tensor. */
kiln_status *kiln_rec_sequence(const kiln_op_ctx *ctx, int index,
                               const char *role, bool time_major,
                               kiln_rec_seq *out);

/* The row (in units of `features`) holding step t of batch entry b. */
static inline int64_t kiln_rec_row(const kiln_rec_seq *s, int64_t t,
                                   int64_t b) {
  return s->time_major ? t * s->batch + b : b * s->time + t;
}

/* Checks output `index` is float32 and gives it the sequence's shape with
 * `features` last. */
kiln_status *kiln_rec_sequence_output(const kiln_op_ctx *ctx, int index,
                                      const kiln_rec_seq *s, int64_t features);

/* Sum of a[i] * b[i], accumulated in double. */
double kiln_rec_dot(const float *a, const float *b, int64_t n);

/* The gate nonlinearity, 1 / (1 + e^-x). */
float kiln_rec_sigmoid(double x);

/* Clips x into [-clip, clip]; a clip of 0 leaves it. */
static inline float kiln_rec_clip(float x, float clip) {
  if (clip <= 0.0f) return x;
  return x < -clip ? -clip : (x > clip ? clip : x);
}

/* Checks a clip option is a finite number >= 0 (0: no clipping). */
kiln_status *kiln_rec_check_clip(float clip, const char *what);

/* ---- hybrid weights: float32 activations with int8 weights, as TFLite's
 * dynamic-range quantization writes them. Each row of data a matrix
 * multiplies is quantized to int8 first (TFLite's SymmetricQuantizeFloats,
 * or AsymmetricQuantizeFloats with a zero point when the operator's
 * asymmetric_quantize_inputs is set), the products summed exactly in
 * int32, and the sum scaled back by the row's and the weights' scales. */

/* A weight matrix [rows, cols]: float32, or int8 with one scale. */
typedef struct kiln_rec_matrix {
  const float *f;
  const int8_t *q;
  float scale;
  int64_t rows, cols;
} kiln_rec_matrix;

/* As kiln_rec_operand for a weight matrix [d0, d1] (or a vector [d0] held
 * as one column when d1 < 0) that may also be int8 with a single scale and
 * zero point 0. An omitted optional one gives neither f nor q. */
kiln_status *kiln_rec_weights(const kiln_op_ctx *ctx, int index,
                              const char *role, bool required, int64_t d0,
                              int64_t d1, kiln_rec_matrix *out);

static inline bool kiln_rec_present(const kiln_rec_matrix *m) {
  return m->f || m->q;
}

/* How a row of data is quantized for int8 weights. */
typedef struct kiln_rec_quant {
  float scale, inv;
  int32_t offset; /* the zero point; 0 when symmetric */
  int32_t qmin;   /* -127 symmetric, -128 asymmetric; the top is 127 */
} kiln_rec_quant;

/* The quantization TFLite chooses for the n values of x, or for values
 * whose least and greatest are lo and hi. */
kiln_rec_quant kiln_rec_quantize_row(const float *x, int64_t n,
                                     bool asymmetric);
kiln_rec_quant kiln_rec_quantize_range(float lo, float hi, bool asymmetric);

/* x quantized as q says, in [q->qmin, 127]. */
int32_t kiln_rec_quantize(const kiln_rec_quant *q, float x);

/* Element i of a vector held as a kiln_rec_matrix of one column (float32,
 * or int8 times its scale). */
static inline float kiln_rec_element(const kiln_rec_matrix *m, int64_t i) {
  return m->f ? m->f[i] : (float)m->q[i] * m->scale;
}

/* Row `row` of m times x: in double for float weights (q unused), else
 * TFLite's hybrid product with x quantized as q says. */
double kiln_rec_matvec(const kiln_rec_matrix *m, int64_t row, const float *x,
                       const kiln_rec_quant *q);

/* Two floating-point operations per weight per processed row: the flop
 * count of every recurrent operator, whose work is matrix-vector products.
 * `rows` is how many (step, batch) rows each weight sees; the indices in
 * `skip` (the data and state inputs, -1 terminated) are not weights. */
double kiln_rec_flops(const kiln_op_ctx *ctx, double rows, const int *skip);

#endif
