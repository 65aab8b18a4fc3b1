/* lstm_integer.c - TFLite's integer LSTM (lstm_integer.h): per step and
 * batch row, each gate's sum is the input's product (bias and the input's
 * zero point folded in) rescaled into Q3.12 and saturated to int16, plus
 * the output state's product rescaled likewise, saturated again; then
 * (peepholes add their int16 weight times the cell state, rescaled, to the
 * input, forget and output gates' sums: the old state for the first two,
 * the new one for the output gate);
 *   f = logistic(zf), g = tanh(zc), i = logistic(zi) (CIFG: 1 - f),
 *   c = sat(round(f * c / 2^15) + round(i * g / 2^(30 + log2 cell scale))),
 *       clipped, in int16,
 *   o = logistic(zo), m = requantize(o * tanh(c)) + hidden zero point,
 * int8, which is the output and the next output state (no projection).
 * Under layer norm a gate's sum is normalized over the cells (TFLite's
 * integer ApplyLayerNorm) before its activation, the gate bias added there.
 * Every gate of cell j depends only on row j of the weights and on cell
 * j's state (and layer norm's statistics), so a row is computed cell by
 * cell with no scratch memory, the statistics in passes of their own that
 * recompute the sums; the output state is overwritten once the row is
 * done. */
#include "kernels/ref/lstm_integer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/ref/quant_fixed16.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_params.h"
#include "kernels/ref/recurrent.h"

enum { GATE_I, GATE_F, GATE_C, GATE_O, GATES };
enum {
  IN_X_W = 1,
  IN_H_W = 5,
  IN_PEEP = 9,
  IN_BIAS = 12,
  IN_PROJ_W = 16,
  IN_PROJ_B = 17,
  IN_H_STATE = 18,
  IN_C_STATE = 19,
  IN_NORM = 20
};

static const char *const gate_names[GATES] = {"input", "forget", "cell",
                                              "output"};

/* The operands of one integer LSTM, checked. */
typedef struct int_lstm {
  const int8_t *x_w[GATES], *h_w[GATES]; /* x_w[GATE_I] NULL: CIFG */
  const int32_t *bias[GATES];
  const int16_t *peep[GATES]; /* I, F, O; all NULL without peepholes */
  const int16_t *norm[GATES]; /* layer norm coefficients, or NULL */
  float x_scale[GATES], h_scale[GATES], peep_scale[GATES], norm_scale[GATES];
  int8_t *h;  /* [batch, n_output] */
  int16_t *c; /* [batch, n_cell] */
  float in_scale, state_scale, cell_scale;
  int32_t in_zp, state_zp;
  int cell_log2;
  int64_t n_input, n_cell, n_output, batch, time;
  bool time_major;
} int_lstm;

bool kiln_lstm_integer_node(kiln_op_type op, const kiln_op_ctx *ctx) {
  if (op != KILN_OP_LSTM && op != KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM)
    return false;
  return ctx->num_inputs > 0 && ctx->inputs[0] &&
         ctx->inputs[0]->dtype == KILN_INT8;
}

static const kiln_tensor *input_at(const kiln_op_ctx *ctx, int i) {
  return i < ctx->num_inputs ? ctx->inputs[i] : NULL;
}

/* Per-tensor scale (and zero point) of t, which must be quantized. */
static kiln_status *per_tensor(const kiln_tensor *t, const char *role,
                               float *scale, int32_t *zp) {
  if (!t->quant || t->quant->count != 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s needs one quantization scale (per tensor) in the "
                      "integer LSTM; it has %d",
                      role, t->quant ? t->quant->count : 0);
  float s = t->quant->scale[0];
  int64_t z = t->quant->zero_point ? t->quant->zero_point[0] : 0;
  if (!(s > 0.0f) || !isfinite(s) || z < -32768 || z > 32767)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has scale %g and zero point %lld", role, (double)s,
                      (long long)z);
  *scale = s;
  if (zp) *zp = (int32_t)z;
  return NULL;
}

/* Input `index`, of dtype and shape [d0, d1] (d1 < 0: [d0]). */
static kiln_status *operand(const kiln_op_ctx *ctx, int index, const char *role,
                            kiln_dtype dtype, int64_t d0, int64_t d1,
                            const kiln_tensor **out) {
  const kiln_tensor *t = input_at(ctx, index);
  *out = t;
  if (!t)
    return kiln_error(KILN_ERR_INVALID_MODEL, "input %d (%s) is missing", index,
                      role);
  char want[KILN_DIMS_STR_SIZE], got[KILN_DIMS_STR_SIZE];
  int64_t dims[2] = {d0, d1};
  int rank = d1 < 0 ? 1 : 2;
  bool ok = t->dtype == dtype && t->rank == rank && t->dims[0] == d0 &&
            (rank == 1 || t->dims[1] == d1) && t->data;
  if (!ok)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (%s) is %s %s%s; the integer LSTM needs %s %s",
                      index, role, kiln_dtype_name(t->dtype),
                      kiln_dims_str(t->dims, t->rank, got, sizeof got),
                      t->data ? "" : " (not known before invoke)",
                      kiln_dtype_name(dtype),
                      kiln_dims_str(dims, rank, want, sizeof want));
  return NULL;
}

/* A weight matrix: int8 with one scale and zero point 0. */
static kiln_status *matrix(const kiln_op_ctx *ctx, int index, int g,
                           const char *what, int64_t rows, int64_t cols,
                           const int8_t **data, float *scale) {
  char role[64];
  snprintf(role, sizeof role, "%s %s", gate_names[g], what);
  const kiln_tensor *t;
  KILN_TRY(operand(ctx, index, role, KILN_INT8, rows, cols, &t));
  int32_t zp;
  KILN_TRY(per_tensor(t, role, scale, &zp));
  if (zp != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (%s) has zero point %d; int8 weights are "
                      "symmetric (0)",
                      index, role, (int)zp);
  *data = t->data;
  return NULL;
}

static kiln_status *refuse_present(const kiln_op_ctx *ctx, int first, int count,
                                   const char *what) {
  for (int i = first; i < first + count; i++)
    if (input_at(ctx, i))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input %d: the integer LSTM with %s is not "
                        "implemented",
                        i, what);
  return NULL;
}

/* The peepholes (inputs 9-11: input, forget and output gates): int16
 * vectors with one scale and zero point 0, all present or none (the input
 * gate's absent under CIFG). */
static kiln_status *read_peepholes(const kiln_op_ctx *ctx, int_lstm *m,
                                   bool cifg) {
  static const int gates[3] = {GATE_I, GATE_F, GATE_O};
  bool any = input_at(ctx, IN_PEEP + 1) != NULL;
  for (int k = 0; k < 3; k++) {
    int g = gates[k], index = IN_PEEP + k;
    bool wanted = any && !(g == GATE_I && cifg);
    if (!wanted) {
      if (input_at(ctx, index))
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "input %d: the peephole weights must all be "
                          "present or all omitted (the input gate's omitted "
                          "under CIFG)",
                          index);
      continue;
    }
    char role[48];
    snprintf(role, sizeof role, "%s peephole weights", gate_names[g]);
    const kiln_tensor *t;
    KILN_TRY(operand(ctx, index, role, KILN_INT16, m->n_cell, -1, &t));
    int32_t zp;
    KILN_TRY(per_tensor(t, role, &m->peep_scale[g], &zp));
    if (zp != 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (%s) has zero point %d; it must be 0", index,
                        role, (int)zp);
    m->peep[g] = t->data;
  }
  return NULL;
}

/* The layer norm coefficients (inputs 20-23, one per gate): int16 vectors
 * with one scale and zero point 0, all present or none (the input gate's
 * absent under CIFG); each normalized gate needs its intermediate's scale
 * (intermediates 0-3). */
static kiln_status *read_layer_norm(const kiln_op_ctx *ctx, int_lstm *m,
                                    bool cifg) {
  const kiln_lstm_attrs *a = ctx->attrs;
  bool any = input_at(ctx, IN_NORM + GATE_F) != NULL;
  /* LiteRT's integer kernel gives every output the same value for this
   * combination (2.3, reference and default kernels alike); rather than
   * disagree with it, kiln refuses. */
  if (any && cifg)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "the integer LSTM with both CIFG and layer norm is not "
                      "supported (LiteRT's kernel gives a constant output "
                      "for it)");
  for (int g = 0; g < GATES; g++) {
    int index = IN_NORM + g;
    bool wanted = any && !(g == GATE_I && cifg);
    if (!wanted) {
      if (input_at(ctx, index))
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "input %d: the layer norm coefficients must all be "
                          "present or all omitted (the input gate's omitted "
                          "under CIFG)",
                          index);
      continue;
    }
    char role[56];
    snprintf(role, sizeof role, "%s layer norm coefficients", gate_names[g]);
    const kiln_tensor *t;
    KILN_TRY(operand(ctx, index, role, KILN_INT16, m->n_cell, -1, &t));
    int32_t zp;
    KILN_TRY(per_tensor(t, role, &m->norm_scale[g], &zp));
    if (zp != 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (%s) has zero point %d; it must be 0", index,
                        role, (int)zp);
    float gate_scale = a->intermediate_scale[g];
    if (a->num_intermediates < KILN_LSTM_INTERMEDIATES ||
        !(gate_scale > 0.0f) || !isfinite(gate_scale))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "the integer LSTM with layer norm needs intermediate "
                        "%d (the %s gate's scale) quantized",
                        g, gate_names[g]);
    m->norm[g] = t->data;
  }
  return NULL;
}

static kiln_status *read_int_lstm(const kiln_op_ctx *ctx, bool sequence,
                                  int_lstm *m) {
  const kiln_lstm_attrs *a = ctx->attrs;
  memset(m, 0, sizeof *m);
  KILN_TRY(kiln_check_arity(ctx, 20, 24, 1));
  const kiln_tensor *in = ctx->inputs[0];
  int rank = sequence ? 3 : 2;
  if (in->rank != rank || kiln_tensor_numel(in) == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has rank %d; it must be a non-empty "
                      "rank-%d tensor",
                      in->rank, rank);
  m->time_major = sequence ? a->time_major : true;
  m->time = sequence ? (a->time_major ? in->dims[0] : in->dims[1]) : 1;
  m->batch =
      sequence ? (a->time_major ? in->dims[1] : in->dims[0]) : in->dims[0];
  m->n_input = in->dims[rank - 1];
  KILN_TRY(per_tensor(in, "input 0 (input)", &m->in_scale, &m->in_zp));
  if (a->activation != KILN_ACT_TANH)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "the integer LSTM applies tanh; fused activation %d is "
                      "not supported",
                      (int)a->activation);
  KILN_TRY(kiln_rec_check_clip(a->cell_clip, "cell_clip"));
  if (a->proj_clip != 0.0f)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "proj_clip %g without projection weights",
                      (double)a->proj_clip);
  KILN_TRY(refuse_present(ctx, IN_PROJ_W, 2, "a projection"));
  const kiln_tensor *fw = input_at(ctx, IN_X_W + GATE_F);
  const kiln_tensor *fr = input_at(ctx, IN_H_W + GATE_F);
  if (!fw || !fr || fw->rank != 2 || fr->rank != 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "inputs %d and %d (forget weights) must be matrices",
                      IN_X_W + GATE_F, IN_H_W + GATE_F);
  m->n_cell = fw->dims[0];
  m->n_output = fr->dims[1];
  if (m->n_output != m->n_cell)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "the recurrent weights give %lld outputs for %lld "
                      "cells; without projection they must be equal",
                      (long long)m->n_output, (long long)m->n_cell);
  bool cifg = input_at(ctx, IN_X_W + GATE_I) == NULL;
  for (int g = 0; g < GATES; g++) {
    if (g == GATE_I && cifg) {
      if (input_at(ctx, IN_H_W + g) || input_at(ctx, IN_BIAS + g))
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "the input gate's weights, recurrent weights and "
                          "bias must all be present or all omitted (CIFG)");
      continue;
    }
    KILN_TRY(matrix(ctx, IN_X_W + g, g, "input weights", m->n_cell, m->n_input,
                    &m->x_w[g], &m->x_scale[g]));
    KILN_TRY(matrix(ctx, IN_H_W + g, g, "recurrent weights", m->n_cell,
                    m->n_output, &m->h_w[g], &m->h_scale[g]));
    char role[32];
    snprintf(role, sizeof role, "%s bias", gate_names[g]);
    const kiln_tensor *b;
    KILN_TRY(operand(ctx, IN_BIAS + g, role, KILN_INT32, m->n_cell, -1, &b));
    m->bias[g] = b->data;
  }
  KILN_TRY(read_peepholes(ctx, m, cifg));
  KILN_TRY(read_layer_norm(ctx, m, cifg));
  const kiln_tensor *h = input_at(ctx, IN_H_STATE);
  const kiln_tensor *c = input_at(ctx, IN_C_STATE);
  if (!h || !c)
    return kiln_error(KILN_ERR_INVALID_MODEL, "the states are missing");
  int64_t hd[2] = {m->batch, m->n_output}, cd[2] = {m->batch, m->n_cell};
  char got[KILN_DIMS_STR_SIZE];
  if (h->dtype != KILN_INT8 || h->rank != 2 || h->dims[0] != hd[0] ||
      h->dims[1] != hd[1])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (output state) is %s %s; the integer LSTM "
                      "needs int8 [%lld,%lld]",
                      IN_H_STATE, kiln_dtype_name(h->dtype),
                      kiln_dims_str(h->dims, h->rank, got, sizeof got),
                      (long long)hd[0], (long long)hd[1]);
  if (c->dtype != KILN_INT16 || c->rank != 2 || c->dims[0] != cd[0] ||
      c->dims[1] != cd[1])
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (cell state) is %s %s; the integer LSTM "
                      "needs int16 [%lld,%lld]",
                      IN_C_STATE, kiln_dtype_name(c->dtype),
                      kiln_dims_str(c->dims, c->rank, got, sizeof got),
                      (long long)cd[0], (long long)cd[1]);
  KILN_TRY(
      per_tensor(h, "input 18 (output state)", &m->state_scale, &m->state_zp));
  KILN_TRY(per_tensor(c, "input 19 (cell state)", &m->cell_scale, NULL));
  int exponent;
  double mant = frexp((double)m->cell_scale, &exponent);
  m->cell_log2 = exponent - 1;
  /* tanh of the cell state takes 15 + log2(scale) integer bits, which
   * TFLite's kernel supports from 0 to 6. */
  if (mant != 0.5 || m->cell_log2 < -15 || m->cell_log2 > -9)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 19 (cell state) has scale %g; the integer LSTM "
                      "needs a power of two from 2^-15 to 2^-9",
                      (double)m->cell_scale);
  /* TFLite tells its two integer kernels apart by the count: 5 for this
   * one (16-bit gates), 12 for the 8x8_8 one (8-bit gates). */
  if (a->num_intermediates == 12)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "the operator lists 12 intermediate tensors: TFLite's "
                      "8x8_8 integer LSTM, which kiln does not implement "
                      "(only the 8x8_16 form, with 5)");
  if (a->num_intermediates != KILN_LSTM_INTERMEDIATES ||
      !(a->intermediate_scale[4] > 0.0f) || !isfinite(a->intermediate_scale[4]))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "the integer LSTM needs 5 intermediate tensors, the "
                      "fifth (hidden state) quantized; the operator lists "
                      "%d",
                      a->num_intermediates);
  if (a->intermediate_zp[4] < -128 || a->intermediate_zp[4] > 127)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "intermediate 4 (hidden state) has zero point %d, "
                      "outside int8",
                      (int)a->intermediate_zp[4]);
  if (ctx->outputs[0]->dtype != KILN_INT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 is %s; the integer LSTM writes int8",
                      kiln_dtype_name(ctx->outputs[0]->dtype));
  m->h = h->data;
  m->c = c->data;
  return NULL;
}

/* ------------------------------------------------------------ load */

static void quantize_scale(float scale, int32_t *multiplier, int *shift) {
  kiln_quantize_multiplier((double)scale, multiplier, shift);
}

/* bias[j] + zp * (sum of row j of w), as TFLite folds a zero point. */
static void fold_bias(int32_t *out, const int32_t *bias, const int8_t *w,
                      int64_t rows, int64_t cols, int32_t zp) {
  for (int64_t j = 0; j < rows; j++) {
    int32_t sum = 0;
    for (int64_t k = 0; k < cols; k++) sum += w[j * cols + k];
    out[j] = (int32_t)((uint32_t)(bias ? bias[j] : 0) +
                       (uint32_t)sum * (uint32_t)zp);
  }
}

kiln_status *kiln_lstm_qparams_build(kiln_op_type op, const kiln_op_ctx *ctx,
                                     const kiln_allocator *alloc,
                                     kiln_quant_params **out) {
  int_lstm m;
  const kiln_lstm_attrs *a = ctx->attrs;
  KILN_TRY(read_int_lstm(ctx, op == KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM, &m));
  size_t head = sizeof(kiln_quant_params) + sizeof(kiln_lstm_qparams);
  head = (head + 7) & ~(size_t)7;
  size_t bytes = head + sizeof(int32_t) * 2 * GATES * (size_t)m.n_cell;
  char *block = kiln_calloc(alloc, 1, bytes);
  if (!block) return KILN_OOM();
  kiln_quant_params *p = (kiln_quant_params *)block;
  kiln_lstm_qparams *q = (kiln_lstm_qparams *)(p + 1);
  int32_t *biases = (int32_t *)(block + head);
  p->lstm = q;
  q->n_cell = m.n_cell;
  for (int g = 0; g < GATES; g++) {
    if (!m.x_w[g]) continue;
    kiln_lstm_qgate *gate = &q->gate[g];
    /* Without layer norm every gate's sum is Q3.12, with it at the gate's
     * intermediate scale; the effective scales are formed in float, as
     * TFLite's Prepare does. */
    const float gate_scale =
        m.norm[g] ? a->intermediate_scale[g] : 1.0f / 4096.0f;
    if (m.norm[g]) {
      quantize_scale(m.norm_scale[g], &gate->norm_multiplier,
                     &gate->norm_shift);
      int32_t guard = (int32_t)(10000.0f * m.norm_scale[g]);
      gate->variance_guard = guard > 1 ? guard : 1;
    }
    quantize_scale(m.x_scale[g] * m.in_scale / gate_scale, &gate->x_multiplier,
                   &gate->x_shift);
    quantize_scale(m.h_scale[g] * m.state_scale / gate_scale,
                   &gate->h_multiplier, &gate->h_shift);
    int32_t *xb = biases + (2 * g) * m.n_cell;
    int32_t *hb = biases + (2 * g + 1) * m.n_cell;
    /* Under layer norm the gate bias is added after normalizing. */
    fold_bias(xb, m.norm[g] ? NULL : m.bias[g], m.x_w[g], m.n_cell, m.n_input,
              -m.in_zp);
    fold_bias(hb, NULL, m.h_w[g], m.n_cell, m.n_output, -m.state_zp);
    gate->x_bias = xb;
    gate->h_bias = hb;
    /* 2^cell_log2 * peephole scale / gate scale, in double then float */
    if (m.peep[g])
      quantize_scale((float)(ldexp(1.0, m.cell_log2) * (double)m.peep_scale[g] /
                             (double)gate_scale),
                     &gate->peep_multiplier, &gate->peep_shift);
  }
  const float hidden =
      (float)(ldexp(1.0, -15) / (double)a->intermediate_scale[4] *
              ldexp(1.0, -15));
  quantize_scale(hidden, &q->hidden_multiplier, &q->hidden_shift);
  q->hidden_zp = a->intermediate_zp[4];
  q->cell_log2_scale = m.cell_log2;
  q->output_state_zp = m.state_zp;
  if (a->cell_clip > 0.0f) {
    float clip = a->cell_clip / m.cell_scale;
    clip = clip < -32768.0f ? -32768.0f : (clip > 32767.0f ? 32767.0f : clip);
    q->cell_clip = (int16_t)clip;
  }
  *out = p;
  return NULL;
}

/* ----------------------------------------------------------- invoke */

static int16_t sat16(int32_t x) {
  return (int16_t)(x > INT16_MAX ? INT16_MAX : (x < INT16_MIN ? INT16_MIN : x));
}

static int16_t wrap16(int32_t x) { return (int16_t)(uint16_t)(uint32_t)x; }

static int32_t dot8(const int8_t *w, const int8_t *x, int64_t n) {
  int32_t sum = 0;
  for (int64_t k = 0; k < n; k++) sum += (int32_t)w[k] * x[k];
  return sum;
}

/* Gate g's Q3.12 sum for cell j: each product is rescaled and added with
 * int16 saturation, the input's first, then the output state's, then the
 * peephole's with cell state `c` (the old one for the input and forget
 * gates, the new one for the output gate). */
static int16_t gate_sum(const int_lstm *m, const kiln_lstm_qgate *q, int g,
                        int64_t j, const int8_t *x, const int8_t *h,
                        int16_t c) {
  int32_t acc = q->x_bias[j] + dot8(m->x_w[g] + j * m->n_input, x, m->n_input);
  int16_t sum =
      sat16(kiln_mul_by_quantized_multiplier(acc, q->x_multiplier, q->x_shift));
  acc = q->h_bias[j] + dot8(m->h_w[g] + j * m->n_output, h, m->n_output);
  sum = sat16(
      kiln_mul_by_quantized_multiplier(acc, q->h_multiplier, q->h_shift) + sum);
  if (!m->peep[g]) return sum;
  return sat16(kiln_mul_by_quantized_multiplier((int32_t)m->peep[g][j] * c,
                                                q->peep_multiplier,
                                                q->peep_shift) +
               sum);
}

/* A gate's layer norm statistics over the cells (TFLite's integer
 * ApplyLayerNorm): the mean times 1024, and 1 / stddev as a multiplier. */
typedef struct gate_norm {
  int32_t mean, inv_multiplier;
  int inv_shift;
} gate_norm;

static gate_norm norm_stats(const int_lstm *m, const kiln_lstm_qgate *q, int g,
                            const int8_t *x, const int8_t *h,
                            const int16_t *c) {
  int64_t sum = 0, sum_sq = 0;
  for (int64_t j = 0; j < m->n_cell; j++) {
    int32_t v = gate_sum(m, q, g, j, x, h, c[j]);
    sum += v;
    sum_sq += v * v;
  }
  gate_norm s;
  s.mean = (int32_t)(sum * 1024 / m->n_cell);
  /* TFLite's form, exact for a power-of-two cell count */
  int32_t per_cell = (int32_t)((1 << 20) / m->n_cell);
  int64_t variance = sum_sq * per_cell - (int64_t)s.mean * s.mean;
  int32_t variance20 = (int32_t)(variance / (1 << 20));
  if (variance20 < 1) variance20 = q->variance_guard;
  kiln_q_inv_sqrt(variance20, &s.inv_multiplier, &s.inv_shift);
  return s;
}

/* Gate g's Q3.12 input to its activation for cell j: the sum, or under
 * layer norm the sum normalized, scaled by the coefficient, plus the bias,
 * rounded and rescaled as TFLite does. */
static int16_t gate_input(const int_lstm *m, const kiln_lstm_qgate *q, int g,
                          int64_t j, const int8_t *x, const int8_t *h,
                          int16_t c, const gate_norm *s) {
  int16_t v = gate_sum(m, q, g, j, x, h, c);
  if (!m->norm[g]) return v;
  int32_t shifted = 1024 * (int32_t)v - s->mean;
  int32_t rescaled = kiln_mul_by_quantized_multiplier(
      shifted, s->inv_multiplier, s->inv_shift);
  /* int32 arithmetic (wrapping) widened afterwards, as TFLite's is */
  int64_t weighted = (int32_t)((uint32_t)rescaled * (uint32_t)m->norm[g][j] +
                               (uint32_t)m->bias[g][j]);
  int32_t rounded =
      (int32_t)((weighted > 0 ? weighted + 512 : weighted - 512) / 1024);
  return sat16(kiln_mul_by_quantized_multiplier(rounded, q->norm_multiplier,
                                                q->norm_shift + 12));
}

static void step_row(const int_lstm *m, const kiln_lstm_qparams *q,
                     const int8_t *x, const int8_t *h, int16_t *c,
                     int8_t *out) {
  const bool cifg = m->x_w[GATE_I] == NULL;
  const kiln_lstm_qgate *gq = q->gate;
  gate_norm s[GATES];
  memset(s, 0, sizeof s);
  /* Layer norm of the input, forget and cell gates reads every cell's old
   * state (peepholes), so their statistics come first. */
  for (int g = GATE_I; g <= GATE_C; g++)
    if (m->norm[g]) s[g] = norm_stats(m, &gq[g], g, x, h, c);
  for (int64_t j = 0; j < m->n_cell; j++) {
    int16_t f = kiln_fx16_logistic_q3(
        gate_input(m, &gq[GATE_F], GATE_F, j, x, h, c[j], s + GATE_F));
    int16_t g = kiln_fx16_tanh(
        gate_input(m, &gq[GATE_C], GATE_C, j, x, h, 0, s + GATE_C), 3);
    int16_t i = cifg ? wrap16(INT16_MAX - f)
                     : kiln_fx16_logistic_q3(gate_input(
                           m, &gq[GATE_I], GATE_I, j, x, h, c[j], s + GATE_I));
    int16_t kept = wrap16(kiln_rounding_divide_by_pot((int32_t)f * c[j], 15));
    int16_t added = wrap16(
        kiln_rounding_divide_by_pot((int32_t)i * g, 30 + q->cell_log2_scale));
    int16_t cell = sat16((int32_t)kept + added);
    if (q->cell_clip > 0)
      cell = cell > q->cell_clip
                 ? q->cell_clip
                 : (cell < -q->cell_clip ? (int16_t)-q->cell_clip : cell);
    c[j] = cell;
  }
  /* The output gate reads the new states. */
  if (m->norm[GATE_O]) s[GATE_O] = norm_stats(m, &gq[GATE_O], GATE_O, x, h, c);
  for (int64_t j = 0; j < m->n_cell; j++) {
    int16_t o = kiln_fx16_logistic_q3(
        gate_input(m, &gq[GATE_O], GATE_O, j, x, h, c[j], s + GATE_O));
    int16_t t = kiln_fx16_tanh(c[j], 15 + q->cell_log2_scale);
    int32_t v = kiln_mul_by_quantized_multiplier(
                    (int32_t)o * t, q->hidden_multiplier, q->hidden_shift) +
                q->hidden_zp;
    out[j] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
  }
}

kiln_status *kiln_shape_lstm_integer(const kiln_op_ctx *ctx, bool sequence) {
  int_lstm m;
  KILN_TRY(read_int_lstm(ctx, sequence, &m));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t dims[3] = {in->dims[0], in->dims[1], m.n_output};
  if (!sequence) dims[1] = m.n_output;
  kiln_set_shape(ctx->outputs[0], dims, sequence ? 3 : 2);
  return NULL;
}

kiln_status *kiln_ref_lstm_integer(const kiln_op_ctx *ctx, bool sequence) {
  KILN_TRY(kiln_quant_require_params(ctx));
  const kiln_lstm_qparams *q = ctx->quant->lstm;
  int_lstm m;
  KILN_TRY(read_int_lstm(ctx, sequence, &m));
  if (!q || q->n_cell != m.n_cell)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "integer LSTM run without its parameters");
  const int8_t *x = ctx->inputs[0]->data;
  int8_t *y = ctx->outputs[0]->data;
  for (int64_t b = 0; b < m.batch; b++)
    for (int64_t t = 0; t < m.time; t++) {
      int64_t row = m.time_major ? t * m.batch + b : b * m.time + t;
      int8_t *h = m.h + b * m.n_output;
      int8_t *out = y + row * m.n_output;
      step_row(&m, q, x + row * m.n_input, h, m.c + b * m.n_cell, out);
      memcpy(h, out, (size_t)m.n_output);
    }
  return NULL;
}
