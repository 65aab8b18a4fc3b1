/* lstm.c - reference LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM and
 * BIDIRECTIONAL_SEQUENCE_LSTM, float32 or hybrid (int8 weights, data rows
 * quantized as TFLite does, see recurrent.h), with TFLite's full-kernel
 * semantics
 * (tensorflow/lite/kernels/lstm_eval.cc): per step and batch row, with the
 * previous output h and cell state c,
 *   i = sigmoid(Wi x + Ai aux + Ri h + pi * c + bi)   (CIFG: i = 1 - f)
 *   f = sigmoid(Wf x + Af aux + Rf h + pf * c + bf)
 *   g = act(Wc x + Ac aux + Rc h + bc)
 *   c = clip(f * c + i * g, cell_clip)
 *   o = sigmoid(Wo x + Ao aux + Ro h + po * c + bo)    (the new c)
 *   m = o * act(c)
 *   h = clip(P m + pb, proj_clip) with projection, else m; the output is h.
 * With layer norm, each gate's sum (before its bias) is normalized over the
 * cells, (z - mean) / sqrt(var + 1e-8), scaled by its coefficients, and
 * then the bias is added.
 *
 * Kernels must not allocate and have no scratch, so a row is computed cell
 * by cell: the cell state is updated in place (cell j reads only its own
 * c), the output row collects m (or the projection, summed one cell at a
 * time) and h is overwritten only once the row is done. Layer norm needs a
 * gate's statistics over all cells first; those are computed in a pass of
 * their own that recomputes the sums, and so is the range of the gated
 * outputs an int8 projection quantizes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ref/lstm_integer.h"
#include "kernels/ref/recurrent.h"

enum { GATE_I, GATE_F, GATE_C, GATE_O, GATES };

static const char *const gate_names[GATES] = {"input", "forget", "cell",
                                              "output"};

/* The weights of one direction, and its sizes. The matrices and
 * peepholes are float32, or all int8 (the hybrid form, recurrent.h);
 * biases and layer norm coefficients are float32 either way. */
typedef struct lstm_cell {
  kiln_rec_matrix x_w[GATES];   /* [n_cell, n_input]; input gate's absent:
                                   CIFG */
  kiln_rec_matrix aux_w[GATES]; /* [n_cell, n_aux], or all absent */
  kiln_rec_matrix h_w[GATES];   /* [n_cell, n_output] */
  kiln_rec_matrix peep[GATES];  /* [n_cell] for I, F, O, or absent */
  const float *bias[GATES];     /* [n_cell]; bias[GATE_I] NULL under CIFG */
  const float *norm[GATES];     /* layer norm coefficients [n_cell], or NULL */
  kiln_rec_matrix proj_w;       /* [n_output, n_cell], or absent */
  const float *proj_b;          /* [n_output], or NULL */
  float *h, *c;                 /* states [batch, n_output], [batch, n_cell] */
  int64_t n_input, n_aux, n_cell, n_output;
  bool hybrid;
} lstm_cell;

#define PRESENT(m) kiln_rec_present(&(m))

/* Where a direction's operands are among the operator's inputs: the first
 * of each group of four (input, forget, cell, output gates; the peepholes
 * are three, input forget output), -1 where the operator has none. */
typedef struct lstm_layout {
  int x_w, h_w, peep, bias, proj_w, proj_b, h_state, c_state, norm, aux_w;
} lstm_layout;

/* LSTM and UNIDIRECTIONAL_SEQUENCE_LSTM: TFLite's 24 inputs (lstm_shared.h);
 * files of the older 20-input form simply lack the layer norm ones. */
static const lstm_layout unidirectional = {1, 5, 9, 12, 16, 17, 18, 19, 20, -1};
/* BIDIRECTIONAL_SEQUENCE_LSTM's 48: forward, backward, states, aux. */
static const lstm_layout forward = {1, 5, 9, 12, 16, 17, 35, 36, -1, 40};
static const lstm_layout backward = {18, 22, 26, 29, 33, 34, 37, 38, -1, 44};
enum { BIDI_AUX_INPUT = 39, BIDI_INPUTS = 48, UNI_INPUTS = 24 };

/* ------------------------------------------------------------- checks */

static kiln_status *operand(const kiln_op_ctx *ctx, int index, const char *dir,
                            const char *what, int gate, bool required,
                            int64_t d0, int64_t d1, const float **data) {
  char role[96];
  snprintf(role, sizeof role, "%s%s%s%s", dir,
           gate >= 0 ? gate_names[gate] : "", gate >= 0 ? " " : "", what);
  return kiln_rec_operand(ctx, index, role, required, d0, d1, data);
}

/* A weight matrix (d1 >= 0) or peephole vector (d1 < 0), float32 or int8. */
static kiln_status *weights(const kiln_op_ctx *ctx, int index, const char *dir,
                            const char *what, int gate, bool required,
                            int64_t d0, int64_t d1, kiln_rec_matrix *m) {
  char role[96];
  snprintf(role, sizeof role, "%s%s%s%s", dir,
           gate >= 0 ? gate_names[gate] : "", gate >= 0 ? " " : "", what);
  return kiln_rec_weights(ctx, index, role, required, d0, d1, m);
}

/* The gates' all-or-none rules (TFLite's Prepare checks the same). */
static kiln_status *check_presence(const lstm_cell *w, const char *dir) {
  bool cifg = !PRESENT(w->x_w[GATE_I]);
  if (cifg != !PRESENT(w->h_w[GATE_I]) || cifg != !w->bias[GATE_I])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%sthe input gate's weights, recurrent weights and "
                      "bias must all be present or all omitted (CIFG)",
                      dir);
  bool peephole = PRESENT(w->peep[GATE_F]);
  if (peephole != PRESENT(w->peep[GATE_O]) ||
      (!cifg && peephole != PRESENT(w->peep[GATE_I])) ||
      (cifg && PRESENT(w->peep[GATE_I])))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%sthe peephole weights must all be present or all "
                      "omitted (the input gate's omitted under CIFG)",
                      dir);
  bool norm = w->norm[GATE_F] != NULL;
  if (norm != (w->norm[GATE_C] != NULL) || norm != (w->norm[GATE_O] != NULL) ||
      (!cifg && norm != (w->norm[GATE_I] != NULL)) || (cifg && w->norm[GATE_I]))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%sthe layer norm coefficients must all be present or "
                      "all omitted (the input gate's omitted under CIFG)",
                      dir);
  bool aux = PRESENT(w->aux_w[GATE_F]);
  if (aux != PRESENT(w->aux_w[GATE_C]) || aux != PRESENT(w->aux_w[GATE_O]) ||
      (!cifg && aux != PRESENT(w->aux_w[GATE_I])) ||
      (cifg && PRESENT(w->aux_w[GATE_I])))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%sthe aux input weights must all be present or all "
                      "omitted (the input gate's omitted under CIFG)",
                      dir);
  if (w->proj_b && !PRESENT(w->proj_w))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%sa projection bias needs projection weights", dir);
  return NULL;
}

/* TFLite's hybrid kernel takes every matrix and peephole int8, or none. */
static kiln_status *check_hybrid(lstm_cell *w, const char *dir) {
  w->hybrid = w->x_w[GATE_F].q != NULL;
  const kiln_rec_matrix *all[] = {
      &w->x_w[0],   &w->x_w[1],   &w->x_w[2],   &w->x_w[3],
      &w->h_w[0],   &w->h_w[1],   &w->h_w[2],   &w->h_w[3],
      &w->aux_w[0], &w->aux_w[1], &w->aux_w[2], &w->aux_w[3],
      &w->peep[0],  &w->peep[1],  &w->peep[3],  &w->proj_w};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (PRESENT(*all[i]) && (all[i]->q != NULL) != w->hybrid)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "%sweights mix float32 and int8; all must be one or "
                        "the other",
                        dir);
  return NULL;
}

/* Reads and checks one direction's operands for `n_input` features (and
 * `n_aux` aux features, 0: none) and `batch` rows. */
static kiln_status *read_cell(const kiln_op_ctx *ctx, const lstm_layout *l,
                              const char *dir, int64_t n_input, int64_t n_aux,
                              int64_t batch, lstm_cell *w) {
  memset(w, 0, sizeof *w);
  w->n_input = n_input;
  w->n_aux = n_aux;
  /* The forget gate's weights are never optional and give the sizes. */
  kiln_rec_matrix probe;
  KILN_TRY(weights(ctx, l->x_w + GATE_F, dir, "input weights", GATE_F, true, 0,
                   n_input, &probe));
  w->n_cell = probe.rows;
  KILN_TRY(weights(ctx, l->h_w + GATE_F, dir, "recurrent weights", GATE_F, true,
                   w->n_cell, 0, &probe));
  w->n_output = probe.cols;
  int64_t n_cell = w->n_cell, n_output = w->n_output;
  for (int g = 0; g < GATES; g++) {
    bool required = g != GATE_I;
    KILN_TRY(weights(ctx, l->x_w + g, dir, "input weights", g, required, n_cell,
                     n_input, &w->x_w[g]));
    KILN_TRY(weights(ctx, l->h_w + g, dir, "recurrent weights", g, required,
                     n_cell, n_output, &w->h_w[g]));
    KILN_TRY(operand(ctx, l->bias + g, dir, "bias", g, required, n_cell, -1,
                     &w->bias[g]));
    if (l->norm >= 0)
      KILN_TRY(operand(ctx, l->norm + g, dir, "layer norm coefficients", g,
                       false, n_cell, -1, &w->norm[g]));
    if (l->aux_w >= 0 && n_aux > 0)
      KILN_TRY(weights(ctx, l->aux_w + g, dir, "aux input weights", g, false,
                       n_cell, n_aux, &w->aux_w[g]));
  }
  /* Peepholes are three: input, forget, output. */
  KILN_TRY(weights(ctx, l->peep, dir, "peephole weights", GATE_I, false, n_cell,
                   -1, &w->peep[GATE_I]));
  KILN_TRY(weights(ctx, l->peep + 1, dir, "peephole weights", GATE_F, false,
                   n_cell, -1, &w->peep[GATE_F]));
  KILN_TRY(weights(ctx, l->peep + 2, dir, "peephole weights", GATE_O, false,
                   n_cell, -1, &w->peep[GATE_O]));
  KILN_TRY(weights(ctx, l->proj_w, dir, "projection weights", -1, false,
                   n_output, n_cell, &w->proj_w));
  KILN_TRY(operand(ctx, l->proj_b, dir, "projection bias", -1, false, n_output,
                   -1, &w->proj_b));
  if (!PRESENT(w->proj_w) && n_output != n_cell)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%sthe recurrent weights give %lld outputs for %lld "
                      "cells; without projection weights they must be equal",
                      dir, (long long)n_output, (long long)n_cell);
  KILN_TRY(check_presence(w, dir));
  KILN_TRY(check_hybrid(w, dir));
  char role[64];
  snprintf(role, sizeof role, "%soutput state", dir);
  KILN_TRY(kiln_rec_state(ctx, l->h_state, role, batch, n_output, &w->h));
  snprintf(role, sizeof role, "%scell state", dir);
  return kiln_rec_state(ctx, l->c_state, role, batch, n_cell, &w->c);
}

static kiln_status *check_attrs(const kiln_lstm_attrs *a) {
  KILN_TRY(kiln_check_activation(a->activation));
  KILN_TRY(kiln_rec_check_clip(a->cell_clip, "cell_clip"));
  return kiln_rec_check_clip(a->proj_clip, "proj_clip");
}

/* ------------------------------------------------------------ one row */

/* A gate's statistics over the cells, for layer norm. */
typedef struct gate_norm {
  double mean, inv_std;
} gate_norm;

/* The inputs of one step of one batch row, and (hybrid) how each of its
 * data rows is quantized. */
typedef struct lstm_row {
  const float *x, *aux, *h; /* h: the previous output state */
  float *c;                 /* the cell state, updated in place */
  float *out;               /* n_output values */
  kiln_rec_quant qx, qa, qh;
} lstm_row;

/* Gate g's weighted sum for cell j before bias and layer norm; the
 * peephole term uses cell state `c`. */
static double gate_sum(const lstm_cell *w, int g, int64_t j, const lstm_row *r,
                       float c) {
  double z = kiln_rec_matvec(&w->x_w[g], j, r->x, &r->qx) +
             kiln_rec_matvec(&w->h_w[g], j, r->h, &r->qh);
  if (PRESENT(w->aux_w[g]))
    z += kiln_rec_matvec(&w->aux_w[g], j, r->aux, &r->qa);
  if (PRESENT(w->peep[g])) z += (double)kiln_rec_element(&w->peep[g], j) * c;
  return z;
}

/* Mean and 1/stddev of gate g's sums over the cells (TFLite's
 * MeanStddevNormalization, epsilon 1e-8). */
static gate_norm gate_stats(const lstm_cell *w, int g, const lstm_row *r) {
  double sum = 0.0, sum_sq = 0.0, n = (double)w->n_cell;
  for (int64_t j = 0; j < w->n_cell; j++) {
    double z = gate_sum(w, g, j, r, r->c[j]);
    sum += z;
    sum_sq += z * z;
  }
  double mean = sum / n, var = sum_sq / n - mean * mean;
  gate_norm s = {mean, 1.0 / sqrt((var > 0.0 ? var : 0.0) + 1e-8)};
  return s;
}

/* Gate g's pre-activation for cell j: the sum, normalized and scaled when
 * layer norm is on, plus the bias. */
/* A hybrid gate without layer norm in float, in TFLite's order: the bias,
 * then the input's, the aux input's and the state's scaled int8 dot
 * products, then the peephole. The sum's last bits decide how the next
 * state row quantizes, so a sum rounded otherwise (in double, as the float
 * path is) can flip one int8 step there and part from LiteRT by 1e-4. */
static float hybrid_gate(const lstm_cell *w, int g, int64_t j,
                         const lstm_row *r, float c) {
  float z = w->bias[g][j];
  z += (float)kiln_rec_matvec(&w->x_w[g], j, r->x, &r->qx);
  if (PRESENT(w->aux_w[g]))
    z += (float)kiln_rec_matvec(&w->aux_w[g], j, r->aux, &r->qa);
  z += (float)kiln_rec_matvec(&w->h_w[g], j, r->h, &r->qh);
  if (PRESENT(w->peep[g])) z += kiln_rec_element(&w->peep[g], j) * c;
  return z;
}

static double gate_input(const lstm_cell *w, int g, int64_t j,
                         const lstm_row *r, float c, const gate_norm *s) {
  if (w->hybrid && !w->norm[g]) return hybrid_gate(w, g, j, r, c);
  double z = gate_sum(w, g, j, r, c);
  if (w->norm[g]) z = (z - s[g].mean) * s[g].inv_std * w->norm[g][j];
  return z + w->bias[g][j];
}

/* m of cell j, whose state is already new: the output gate times act(c). */
static float gated_output(const lstm_cell *w, const kiln_lstm_attrs *a,
                          int64_t j, const lstm_row *r, const gate_norm *s) {
  float o = kiln_rec_sigmoid(gate_input(w, GATE_O, j, r, r->c[j], s));
  return o * kiln_activate(r->c[j], a->activation);
}

/* m of cell j into the output row, or summed into the float projection. */
static void emit(const lstm_cell *w, const kiln_lstm_attrs *a, int64_t j,
                 const lstm_row *r, const gate_norm *s) {
  float m = gated_output(w, a, j, r, s);
  if (!PRESENT(w->proj_w)) {
    r->out[j] = m;
    return;
  }
  for (int64_t k = 0; k < w->n_output; k++)
    r->out[k] += w->proj_w.f[k * w->n_cell + j] * m;
}

/* The int8 projection: the row of m is quantized as a whole, so a first
 * pass finds its range; the second sums each output's int8 products in the
 * output row (exact in float while below 2^24, as with up to 1024 cells)
 * and scales them back once, after the bias, as TFLite does. */
static void project_hybrid(const lstm_cell *w, const kiln_lstm_attrs *a,
                           const lstm_row *r, const gate_norm *s) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t j = 0; j < w->n_cell; j++) {
    float m = gated_output(w, a, j, r, s);
    if (j == 0 || m < lo) lo = m;
    if (j == 0 || m > hi) hi = m;
  }
  kiln_rec_quant q =
      kiln_rec_quantize_range(lo, hi, a->asymmetric_quantize_inputs);
  memset(r->out, 0, sizeof(float) * (size_t)w->n_output);
  for (int64_t j = 0; j < w->n_cell; j++) {
    int32_t v = kiln_rec_quantize(&q, gated_output(w, a, j, r, s)) - q.offset;
    for (int64_t k = 0; k < w->n_output; k++)
      r->out[k] += (float)(w->proj_w.q[k * w->n_cell + j] * v);
  }
  for (int64_t k = 0; k < w->n_output; k++)
    r->out[k] = (w->proj_b ? w->proj_b[k] : 0.0f) +
                r->out[k] * (q.scale * w->proj_w.scale);
}

static void step_row(const lstm_cell *w, const kiln_lstm_attrs *a,
                     const lstm_row *r) {
  bool cifg = !PRESENT(w->x_w[GATE_I]), norm = w->norm[GATE_F] != NULL;
  bool proj = PRESENT(w->proj_w);
  /* Layer norm and the int8 projection need every cell's new state before
   * the first output. */
  bool deferred = norm || (proj && w->hybrid);
  gate_norm s[GATES];
  memset(s, 0, sizeof s);
  if (norm)
    for (int g = cifg ? GATE_F : GATE_I; g <= GATE_C; g++)
      s[g] = gate_stats(w, g, r);
  if (proj && !w->hybrid)
    for (int64_t k = 0; k < w->n_output; k++)
      r->out[k] = w->proj_b ? w->proj_b[k] : 0.0f;
  for (int64_t j = 0; j < w->n_cell; j++) {
    float c = r->c[j];
    float f = kiln_rec_sigmoid(gate_input(w, GATE_F, j, r, c, s));
    float i =
        cifg ? 1.0f - f : kiln_rec_sigmoid(gate_input(w, GATE_I, j, r, c, s));
    float g = kiln_activate((float)gate_input(w, GATE_C, j, r, 0.0f, s),
                            a->activation);
    r->c[j] = kiln_rec_clip(f * c + i * g, a->cell_clip);
    if (!deferred) emit(w, a, j, r, s);
  }
  if (norm) s[GATE_O] = gate_stats(w, GATE_O, r);
  if (deferred && proj && w->hybrid)
    project_hybrid(w, a, r, s);
  else if (deferred)
    for (int64_t j = 0; j < w->n_cell; j++) emit(w, a, j, r, s);
  if (proj)
    for (int64_t k = 0; k < w->n_output; k++)
      r->out[k] = kiln_rec_clip(r->out[k], a->proj_clip);
}

/* Runs one direction over a sequence: input rows of `in` (and `aux`, NULL
 * for none) into rows of `out` with `out_stride` floats between rows,
 * starting `out_offset` floats in; reversed runs from the last step. */
static void run_direction(const lstm_cell *w, const kiln_lstm_attrs *a,
                          const kiln_rec_seq *seq, const float *in,
                          const float *aux, float *out, int64_t out_stride,
                          int64_t out_offset, bool reversed) {
  for (int64_t b = 0; b < seq->batch; b++)
    for (int64_t n = 0; n < seq->time; n++) {
      int64_t t = reversed ? seq->time - 1 - n : n;
      int64_t row = kiln_rec_row(seq, t, b);
      lstm_row r;
      memset(&r, 0, sizeof r);
      r.x = in + row * w->n_input;
      r.aux = aux ? aux + row * w->n_aux : NULL;
      r.h = w->h + b * w->n_output;
      r.c = w->c + b * w->n_cell;
      r.out = out + row * out_stride + out_offset;
      if (w->hybrid) {
        bool asym = a->asymmetric_quantize_inputs;
        r.qx = kiln_rec_quantize_row(r.x, w->n_input, asym);
        r.qh = kiln_rec_quantize_row(r.h, w->n_output, asym);
        if (r.aux) r.qa = kiln_rec_quantize_row(r.aux, w->n_aux, asym);
      }
      step_row(w, a, &r);
      memcpy(w->h + b * w->n_output, r.out,
             sizeof(float) * (size_t)w->n_output);
    }
}

/* --------------------------------------------------------------- LSTM */

kiln_status *kiln_shape_lstm(const kiln_op_ctx *ctx) {
  const kiln_lstm_attrs *a = ctx->attrs;
  if (kiln_lstm_integer_node(KILN_OP_LSTM, ctx))
    return kiln_shape_lstm_integer(ctx, false);
  KILN_TRY(kiln_check_arity(ctx, 20, UNI_INPUTS, 1));
  KILN_TRY(check_attrs(a));
  KILN_TRY(kiln_require_float_input(ctx, 0, "input", 2, 2));
  const kiln_tensor *in = ctx->inputs[0];
  lstm_cell w;
  KILN_TRY(
      read_cell(ctx, &unidirectional, "", in->dims[1], 0, in->dims[0], &w));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  int64_t dims[2] = {in->dims[0], w.n_output};
  kiln_set_shape(ctx->outputs[0], dims, 2);
  return NULL;
}

kiln_status *kiln_ref_lstm(const kiln_op_ctx *ctx) {
  if (kiln_lstm_integer_node(KILN_OP_LSTM, ctx))
    return kiln_ref_lstm_integer(ctx, false);
  const kiln_tensor *in = ctx->inputs[0];
  lstm_cell w;
  KILN_TRY(
      read_cell(ctx, &unidirectional, "", in->dims[1], 0, in->dims[0], &w));
  /* One step of a time-major sequence. */
  kiln_rec_seq seq = {1, in->dims[0], in->dims[1], true};
  run_direction(&w, ctx->attrs, &seq, in->data, NULL, ctx->outputs[0]->data,
                w.n_output, 0, false);
  return NULL;
}

/* All three LSTM operators: every weight matrix multiplies each row. */
double kiln_flops_lstm(const kiln_op_ctx *ctx) {
  static const int uni_data[] = {0, 18, 19, -1};
  static const int bidi_data[] = {0, 35, 36, 37, 38, BIDI_AUX_INPUT, -1};
  if (ctx->num_inputs < 1 || !ctx->inputs[0] || ctx->inputs[0]->rank < 1)
    return 0.0;
  const kiln_tensor *in = ctx->inputs[0];
  double rows = (double)kiln_tensor_numel(in) / (double)in->dims[in->rank - 1];
  return kiln_rec_flops(ctx, rows,
                        ctx->num_inputs == BIDI_INPUTS ? bidi_data : uni_data);
}

/* --------------------------------------- UNIDIRECTIONAL_SEQUENCE_LSTM */

kiln_status *kiln_shape_unidirectional_sequence_lstm(const kiln_op_ctx *ctx) {
  const kiln_lstm_attrs *a = ctx->attrs;
  if (kiln_lstm_integer_node(KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM, ctx))
    return kiln_shape_lstm_integer(ctx, true);
  KILN_TRY(kiln_check_arity(ctx, 20, UNI_INPUTS, 1));
  KILN_TRY(check_attrs(a));
  kiln_rec_seq seq;
  KILN_TRY(kiln_rec_sequence(ctx, 0, "input", a->time_major, &seq));
  lstm_cell w;
  KILN_TRY(read_cell(ctx, &unidirectional, "", seq.features, 0, seq.batch, &w));
  return kiln_rec_sequence_output(ctx, 0, &seq, w.n_output);
}

kiln_status *kiln_ref_unidirectional_sequence_lstm(const kiln_op_ctx *ctx) {
  const kiln_lstm_attrs *a = ctx->attrs;
  if (kiln_lstm_integer_node(KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM, ctx))
    return kiln_ref_lstm_integer(ctx, true);
  kiln_rec_seq seq;
  KILN_TRY(kiln_rec_sequence(ctx, 0, "input", a->time_major, &seq));
  lstm_cell w;
  KILN_TRY(read_cell(ctx, &unidirectional, "", seq.features, 0, seq.batch, &w));
  run_direction(&w, a, &seq, ctx->inputs[0]->data, NULL, ctx->outputs[0]->data,
                w.n_output, 0, false);
  return NULL;
}

/* ---------------------------------------- BIDIRECTIONAL_SEQUENCE_LSTM */

/* Both directions' weights, and what each reads. TFLite's three stacking
 * modes: no aux input (both read the input); aux input with aux weights
 * (both read the input, and the aux input through the aux weights); aux
 * input without aux weights (the backward direction reads the aux input
 * instead of the input). */
typedef struct bidi_lstm {
  lstm_cell fw, bw;
  kiln_rec_seq seq;
  const float *fw_in, *bw_in, *aux;
} bidi_lstm;

static kiln_status *read_bidi(const kiln_op_ctx *ctx, bidi_lstm *m) {
  const kiln_lstm_attrs *a = ctx->attrs;
  KILN_TRY(kiln_rec_sequence(ctx, 0, "input", a->time_major, &m->seq));
  bool has_aux = ctx->inputs[BIDI_AUX_INPUT] != NULL;
  bool aux_weights = ctx->inputs[forward.aux_w + GATE_F] ||
                     ctx->inputs[backward.aux_w + GATE_F];
  kiln_rec_seq aux_seq = m->seq;
  if (has_aux) {
    KILN_TRY(kiln_rec_sequence(ctx, BIDI_AUX_INPUT, "aux input", a->time_major,
                               &aux_seq));
    if (aux_seq.time != m->seq.time || aux_seq.batch != m->seq.batch ||
        (!aux_weights && aux_seq.features != m->seq.features))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (aux input) must have input 0's steps and "
                        "batch%s",
                        BIDI_AUX_INPUT,
                        aux_weights ? ""
                                    : " and features (it is the "
                                      "backward direction's input)");
  } else if (aux_weights) {
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "aux input weights are given but input %d (aux input) "
                      "is omitted",
                      BIDI_AUX_INPUT);
  }
  int64_t n_aux = has_aux && aux_weights ? aux_seq.features : 0;
  KILN_TRY(read_cell(ctx, &forward, "forward ", m->seq.features, n_aux,
                     m->seq.batch, &m->fw));
  KILN_TRY(read_cell(ctx, &backward, "backward ", m->seq.features, n_aux,
                     m->seq.batch, &m->bw));
  if (n_aux && (!PRESENT(m->fw.aux_w[GATE_F]) || !PRESENT(m->bw.aux_w[GATE_F])))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "aux input weights must be given for both directions "
                      "or neither");
  m->fw_in = ctx->inputs[0]->data;
  m->bw_in =
      has_aux && !aux_weights ? ctx->inputs[BIDI_AUX_INPUT]->data : m->fw_in;
  m->aux = n_aux ? ctx->inputs[BIDI_AUX_INPUT]->data : NULL;
  return NULL;
}

kiln_status *kiln_shape_bidirectional_sequence_lstm(const kiln_op_ctx *ctx) {
  const kiln_lstm_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, BIDI_INPUTS, BIDI_INPUTS,
                            a->merge_outputs ? 1 : 2));
  KILN_TRY(check_attrs(a));
  bidi_lstm m;
  KILN_TRY(read_bidi(ctx, &m));
  if (a->merge_outputs)
    return kiln_rec_sequence_output(ctx, 0, &m.seq,
                                    m.fw.n_output + m.bw.n_output);
  KILN_TRY(kiln_rec_sequence_output(ctx, 0, &m.seq, m.fw.n_output));
  return kiln_rec_sequence_output(ctx, 1, &m.seq, m.bw.n_output);
}

kiln_status *kiln_ref_bidirectional_sequence_lstm(const kiln_op_ctx *ctx) {
  const kiln_lstm_attrs *a = ctx->attrs;
  bidi_lstm m;
  KILN_TRY(read_bidi(ctx, &m));
  float *fw_out = ctx->outputs[0]->data;
  if (a->merge_outputs) {
    int64_t stride = m.fw.n_output + m.bw.n_output;
    run_direction(&m.fw, a, &m.seq, m.fw_in, m.aux, fw_out, stride, 0, false);
    run_direction(&m.bw, a, &m.seq, m.bw_in, m.aux, fw_out, stride,
                  m.fw.n_output, true);
    return NULL;
  }
  run_direction(&m.fw, a, &m.seq, m.fw_in, m.aux, fw_out, m.fw.n_output, 0,
                false);
  run_direction(&m.bw, a, &m.seq, m.bw_in, m.aux, ctx->outputs[1]->data,
                m.bw.n_output, 0, true);
  return NULL;
}
