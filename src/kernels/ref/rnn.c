/* rnn.c - reference RNN, UNIDIRECTIONAL_SEQUENCE_RNN and
 * BIDIRECTIONAL_SEQUENCE_RNN (TFLite's basic_rnn.cc and its sequence
 * forms), float32 or hybrid (int8 weights, see recurrent.h): per step and
 * batch row, h = act(W x + A aux + R h + b), and the output is h. The hidden
 * state h is a variable updated in place; the new row is written to the output
 * first and copied back, since every unit reads all of the previous h. */
#include <stdio.h>
#include <string.h>

#include "kernels/ref/recurrent.h"

/* Where a direction's operands are among the operator's inputs. */
typedef struct rnn_layout {
  int weights, recurrent, bias, state, aux_weights; /* -1: none */
} rnn_layout;

static const rnn_layout single = {1, 2, 3, 4, -1};
/* BIDIRECTIONAL_SEQUENCE_RNN's 12 inputs (bidirectional_sequence_rnn.cc). */
static const rnn_layout forward = {1, 2, 3, 4, 10};
static const rnn_layout backward = {5, 6, 7, 8, 11};
enum { BIDI_AUX_INPUT = 9, BIDI_INPUTS = 12 };

typedef struct rnn_cell {
  kiln_rec_matrix w, r, aux_w; /* aux_w absent: no aux input */
  const float *b;
  float *h; /* [batch, units] */
  int64_t n_input, n_aux, units;
} rnn_cell;

static kiln_status *read_cell(const kiln_op_ctx *ctx, const rnn_layout *l,
                              const char *dir, int64_t n_input, int64_t n_aux,
                              int64_t batch, rnn_cell *c) {
  char role[64];
  memset(c, 0, sizeof *c);
  c->n_input = n_input;
  c->n_aux = n_aux;
  snprintf(role, sizeof role, "%sweights", dir);
  KILN_TRY(kiln_rec_weights(ctx, l->weights, role, true, 0, n_input, &c->w));
  c->units = c->w.rows;
  snprintf(role, sizeof role, "%srecurrent weights", dir);
  KILN_TRY(kiln_rec_weights(ctx, l->recurrent, role, true, c->units, c->units,
                            &c->r));
  if (l->aux_weights >= 0 && n_aux > 0) {
    snprintf(role, sizeof role, "%saux input weights", dir);
    KILN_TRY(kiln_rec_weights(ctx, l->aux_weights, role, true, c->units, n_aux,
                              &c->aux_w));
  }
  /* TFLite's hybrid kernels need every matrix int8, or none. */
  bool hybrid = c->w.q != NULL;
  if ((c->r.q != NULL) != hybrid ||
      (kiln_rec_present(&c->aux_w) && (c->aux_w.q != NULL) != hybrid))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%sweights mix float32 and int8; all must be one or "
                      "the other",
                      dir);
  snprintf(role, sizeof role, "%sbias", dir);
  KILN_TRY(kiln_rec_operand(ctx, l->bias, role, true, c->units, -1, &c->b));
  snprintf(role, sizeof role, "%shidden state", dir);
  return kiln_rec_state(ctx, l->state, role, batch, c->units, &c->h);
}

/* One direction over a sequence; as lstm.c's run_direction. With int8
 * weights the input, aux input and previous h rows are each quantized once
 * per step. */
static void run_direction(const rnn_cell *c, const kiln_rnn_attrs *a,
                          const kiln_rec_seq *seq, const float *in,
                          const float *aux, float *out, int64_t out_stride,
                          int64_t out_offset, bool reversed) {
  bool asym = a->asymmetric_quantize_inputs, hybrid = c->w.q != NULL;
  kiln_rec_quant qx = {0}, qa = {0}, qh = {0};
  for (int64_t b = 0; b < seq->batch; b++)
    for (int64_t n = 0; n < seq->time; n++) {
      int64_t t = reversed ? seq->time - 1 - n : n;
      int64_t row = kiln_rec_row(seq, t, b);
      const float *x = in + row * c->n_input;
      const float *xa = aux ? aux + row * c->n_aux : NULL;
      float *h = c->h + b * c->units, *y = out + row * out_stride + out_offset;
      if (hybrid) {
        qx = kiln_rec_quantize_row(x, c->n_input, asym);
        qh = kiln_rec_quantize_row(h, c->units, asym);
        if (xa) qa = kiln_rec_quantize_row(xa, c->n_aux, asym);
      }
      for (int64_t j = 0; j < c->units; j++) {
        double z = (double)c->b[j] + kiln_rec_matvec(&c->w, j, x, &qx) +
                   kiln_rec_matvec(&c->r, j, h, &qh);
        if (xa && kiln_rec_present(&c->aux_w))
          z += kiln_rec_matvec(&c->aux_w, j, xa, &qa);
        y[j] = kiln_activate((float)z, a->activation);
      }
      memcpy(h, y, sizeof(float) * (size_t)c->units);
    }
}

/* ---------------------------------------------------------------- RNN */

kiln_status *kiln_shape_rnn(const kiln_op_ctx *ctx) {
  const kiln_rnn_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 5, 5, 1));
  KILN_TRY(kiln_check_activation(a->activation));
  KILN_TRY(kiln_require_float_input(ctx, 0, "input", 2, 2));
  const kiln_tensor *in = ctx->inputs[0];
  rnn_cell c;
  KILN_TRY(read_cell(ctx, &single, "", in->dims[1], 0, in->dims[0], &c));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  int64_t dims[2] = {in->dims[0], c.units};
  kiln_set_shape(ctx->outputs[0], dims, 2);
  return NULL;
}

kiln_status *kiln_ref_rnn(const kiln_op_ctx *ctx) {
  const kiln_rnn_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  rnn_cell c;
  KILN_TRY(read_cell(ctx, &single, "", in->dims[1], 0, in->dims[0], &c));
  kiln_rec_seq seq = {1, in->dims[0], in->dims[1], true};
  run_direction(&c, a, &seq, in->data, NULL, ctx->outputs[0]->data, c.units, 0,
                false);
  return NULL;
}

/* All three RNN operators: every weight matrix multiplies each row. */
double kiln_flops_rnn(const kiln_op_ctx *ctx) {
  static const int uni_data[] = {0, 4, -1};
  static const int bidi_data[] = {0, 4, 8, BIDI_AUX_INPUT, -1};
  if (ctx->num_inputs < 1 || !ctx->inputs[0] || ctx->inputs[0]->rank < 1)
    return 0.0;
  const kiln_tensor *in = ctx->inputs[0];
  double rows = (double)kiln_tensor_numel(in) / (double)in->dims[in->rank - 1];
  return kiln_rec_flops(ctx, rows,
                        ctx->num_inputs == BIDI_INPUTS ? bidi_data : uni_data);
}

/* ---------------------------------------- UNIDIRECTIONAL_SEQUENCE_RNN */

kiln_status *kiln_shape_unidirectional_sequence_rnn(const kiln_op_ctx *ctx) {
  const kiln_rnn_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 5, 5, 1));
  KILN_TRY(kiln_check_activation(a->activation));
  kiln_rec_seq seq;
  KILN_TRY(kiln_rec_sequence(ctx, 0, "input", a->time_major, &seq));
  rnn_cell c;
  KILN_TRY(read_cell(ctx, &single, "", seq.features, 0, seq.batch, &c));
  return kiln_rec_sequence_output(ctx, 0, &seq, c.units);
}

kiln_status *kiln_ref_unidirectional_sequence_rnn(const kiln_op_ctx *ctx) {
  const kiln_rnn_attrs *a = ctx->attrs;
  kiln_rec_seq seq;
  KILN_TRY(kiln_rec_sequence(ctx, 0, "input", a->time_major, &seq));
  rnn_cell c;
  KILN_TRY(read_cell(ctx, &single, "", seq.features, 0, seq.batch, &c));
  run_direction(&c, a, &seq, ctx->inputs[0]->data, NULL, ctx->outputs[0]->data,
                c.units, 0, false);
  return NULL;
}

/* ----------------------------------------- BIDIRECTIONAL_SEQUENCE_RNN */

/* As BIDIRECTIONAL_SEQUENCE_LSTM (lstm.c): an aux input with aux weights
 * feeds both directions through them; without, it is the backward
 * direction's input (time-major only, see read_bidi). */
typedef struct bidi_rnn {
  rnn_cell fw, bw;
  kiln_rec_seq seq;
  const float *fw_in, *bw_in, *aux;
} bidi_rnn;

static kiln_status *read_bidi(const kiln_op_ctx *ctx, bidi_rnn *m) {
  const kiln_rnn_attrs *a = ctx->attrs;
  KILN_TRY(kiln_rec_sequence(ctx, 0, "input", a->time_major, &m->seq));
  bool has_aux = ctx->inputs[BIDI_AUX_INPUT] != NULL;
  bool fw_aux = ctx->inputs[forward.aux_weights] != NULL;
  bool bw_aux = ctx->inputs[backward.aux_weights] != NULL;
  if (fw_aux != bw_aux)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "aux input weights must be given for both directions "
                      "or neither");
  kiln_rec_seq aux_seq = m->seq;
  if (has_aux) {
    KILN_TRY(kiln_rec_sequence(ctx, BIDI_AUX_INPUT, "aux input", a->time_major,
                               &aux_seq));
    if (aux_seq.time != m->seq.time || aux_seq.batch != m->seq.batch ||
        (!fw_aux && aux_seq.features != m->seq.features))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (aux input) must have input 0's steps and "
                        "batch%s",
                        BIDI_AUX_INPUT,
                        fw_aux ? ""
                               : " and features (it is the backward "
                                 "direction's input)");
  } else if (fw_aux) {
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "aux input weights are given but input %d (aux input) "
                      "is omitted",
                      BIDI_AUX_INPUT);
  }
  int64_t n_aux = has_aux && fw_aux ? aux_seq.features : 0;
  KILN_TRY(read_cell(ctx, &forward, "forward ", m->seq.features, n_aux,
                     m->seq.batch, &m->fw));
  KILN_TRY(read_cell(ctx, &backward, "backward ", m->seq.features, n_aux,
                     m->seq.batch, &m->bw));
  m->fw_in = ctx->inputs[0]->data;
  /* TFLite's batch-major loop reads input 0 in the backward direction even
   * when the aux input replaces it there (its time-major loop does not);
   * kiln does the same, so that such files give LiteRT's answers. */
  m->bw_in = has_aux && !fw_aux && a->time_major
                 ? ctx->inputs[BIDI_AUX_INPUT]->data
                 : m->fw_in;
  m->aux = n_aux ? ctx->inputs[BIDI_AUX_INPUT]->data : NULL;
  return NULL;
}

kiln_status *kiln_shape_bidirectional_sequence_rnn(const kiln_op_ctx *ctx) {
  const kiln_rnn_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, BIDI_INPUTS, BIDI_INPUTS,
                            a->merge_outputs ? 1 : 2));
  KILN_TRY(kiln_check_activation(a->activation));
  bidi_rnn m;
  KILN_TRY(read_bidi(ctx, &m));
  if (a->merge_outputs)
    return kiln_rec_sequence_output(ctx, 0, &m.seq, m.fw.units + m.bw.units);
  KILN_TRY(kiln_rec_sequence_output(ctx, 0, &m.seq, m.fw.units));
  return kiln_rec_sequence_output(ctx, 1, &m.seq, m.bw.units);
}

kiln_status *kiln_ref_bidirectional_sequence_rnn(const kiln_op_ctx *ctx) {
  const kiln_rnn_attrs *a = ctx->attrs;
  bidi_rnn m;
  KILN_TRY(read_bidi(ctx, &m));
  float *fw_out = ctx->outputs[0]->data;
  if (a->merge_outputs) {
    int64_t stride = m.fw.units + m.bw.units;
    run_direction(&m.fw, a, &m.seq, m.fw_in, m.aux, fw_out, stride, 0, false);
    run_direction(&m.bw, a, &m.seq, m.bw_in, m.aux, fw_out, stride, m.fw.units,
                  true);
    return NULL;
  }
  run_direction(&m.fw, a, &m.seq, m.fw_in, m.aux, fw_out, m.fw.units, 0, false);
  run_direction(&m.bw, a, &m.seq, m.bw_in, m.aux, ctx->outputs[1]->data,
                m.bw.units, 0, true);
  return NULL;
}
