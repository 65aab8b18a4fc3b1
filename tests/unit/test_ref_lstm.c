/* test_ref_lstm.c - reference LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM and
 * BIDIRECTIONAL_SEQUENCE_LSTM against a textbook LSTM written here with
 * whole gate vectors in double (the kernel streams cell by cell), on random
 * sizes with every combination of CIFG, peephole, layer norm, projection,
 * clipping, time-major layout, merged outputs and aux inputs, from random
 * initial states; and malformed operands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "recurrent_test_util.h"

enum { GI, GF, GC, GO };

/* One direction's shape and options. */
typedef struct spec {
  int n_in, n_aux, n_cell, n_out;
  bool cifg, peephole, norm, proj, proj_bias;
} spec;

/* One direction's operands (NULL: omitted). */
typedef struct dir {
  kiln_tensor *x_w[4], *h_w[4], *peep[3], *bias[4], *proj_w, *proj_b;
  kiln_tensor *norm[4], *aux_w[4], *h, *c;
} dir;

static kiln_tensor *t1(int64_t n) {
  int64_t d[1] = {n};
  return kiln_test_tensor_f32(1, d, NULL);
}
static kiln_tensor *t2(int64_t a, int64_t b) {
  int64_t d[2] = {a, b};
  return kiln_test_tensor_f32(2, d, NULL);
}
static const float *fp(const kiln_tensor *t) { return t ? t->data : NULL; }

static spec random_spec(int n_in, int n_aux) {
  spec s = {n_in,
            n_aux,
            kiln_test_int(1, 6),
            0,
            kiln_test_int(0, 3) == 0,
            kiln_test_int(0, 1) == 1,
            kiln_test_int(0, 2) == 0,
            kiln_test_int(0, 2) == 0,
            false};
  s.proj_bias = s.proj && kiln_test_int(0, 1);
  s.n_out = s.proj ? kiln_test_int(1, 5) : s.n_cell;
  return s;
}

static void make_dir(const spec *s, int batch, bool layer_norm_slots, dir *d) {
  memset(d, 0, sizeof *d);
  for (int g = 0; g < 4; g++) {
    bool present = g != GI || !s->cifg;
    if (!present) continue;
    d->x_w[g] = weights(s->n_cell, s->n_in);
    d->h_w[g] = weights(s->n_cell, s->n_out);
    d->bias[g] = t1(s->n_cell);
    if (s->norm && layer_norm_slots) d->norm[g] = t1(s->n_cell);
    if (s->n_aux) d->aux_w[g] = weights(s->n_cell, s->n_aux);
  }
  if (s->peephole) {
    if (!s->cifg) d->peep[0] = weights(s->n_cell, 0);
    d->peep[1] = weights(s->n_cell, 0);
    d->peep[2] = weights(s->n_cell, 0);
  }
  if (s->proj) d->proj_w = weights(s->n_out, s->n_cell);
  if (s->proj_bias) d->proj_b = t1(s->n_out);
  d->h = t2(batch, s->n_out);
  d->c = t2(batch, s->n_cell);
}

static void free_dir(dir *d) {
  kiln_tensor *w[] = {d->x_w[0],   d->x_w[1],   d->x_w[2],   d->x_w[3],
                      d->h_w[0],   d->h_w[1],   d->h_w[2],   d->h_w[3],
                      d->peep[0],  d->peep[1],  d->peep[2],  d->proj_w,
                      d->aux_w[0], d->aux_w[1], d->aux_w[2], d->aux_w[3]};
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) free_weights(w[i]);
  kiln_tensor *rest[] = {d->bias[0], d->bias[1], d->bias[2], d->bias[3],
                         d->proj_b,  d->norm[0], d->norm[1], d->norm[2],
                         d->norm[3], d->h,       d->c};
  kiln_test_tensors_free(rest, (int)(sizeof rest / sizeof rest[0]));
}

/* Puts a direction's operands at TFLite's positions: weights from `base`
 * (inputs base..base+16), states, layer norm and aux weights where given
 * (-1: the operator has no such slots). */
static void place(const dir *d, kiln_tensor **in, int base, int h, int c,
                  int norm, int aux) {
  for (int g = 0; g < 4; g++) {
    in[base + g] = d->x_w[g];
    in[base + 4 + g] = d->h_w[g];
    in[base + 11 + g] = d->bias[g];
    if (norm >= 0) in[norm + g] = d->norm[g];
    if (aux >= 0) in[aux + g] = d->aux_w[g];
  }
  for (int p = 0; p < 3; p++) in[base + 8 + p] = d->peep[p];
  in[base + 15] = d->proj_w;
  in[base + 16] = d->proj_b;
  in[h] = d->h;
  in[c] = d->c;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Normalizes v over n cells (mean 0, variance 1, epsilon 1e-8). */
static void normalize(double *v, int n) {
  double mean = 0, var = 0;
  for (int j = 0; j < n; j++) mean += v[j];
  mean /= n;
  for (int j = 0; j < n; j++) var += (v[j] - mean) * (v[j] - mean);
  var /= n;
  for (int j = 0; j < n; j++) v[j] = (v[j] - mean) / sqrt(var + 1e-8);
}

static float clip(float x, float c) {
  return c > 0 ? fminf(fmaxf(x, -c), c) : x;
}

/* One step of one batch row: h (n_out) and c (n_cell) are updated. */
static void oracle_step(const spec *s, const dir *d, const kiln_lstm_attrs *a,
                        const float *x, const float *aux, float *h, float *c,
                        float *out) {
  int nc = s->n_cell;
  double *z = calloc((size_t)(4 * nc), sizeof(double));
  float *m = calloc((size_t)nc, sizeof(float));
  for (int g = 0; g < 4; g++) {
    if (!d->x_w[g]) continue;
    for (int j = 0; j < nc; j++) {
      z[g * nc + j] = weight_row(d->x_w[g], j, x, s->n_in) +
                      weight_row(d->h_w[g], j, h, s->n_out);
      if (s->n_aux) z[g * nc + j] += weight_row(d->aux_w[g], j, aux, s->n_aux);
    }
  }
  /* Peepholes on the input and forget gates see the old cell state. */
  for (int j = 0; j < nc; j++) {
    if (d->peep[0])
      z[GI * nc + j] += (double)weight_element(d->peep[0], j) * c[j];
    if (d->peep[1])
      z[GF * nc + j] += (double)weight_element(d->peep[1], j) * c[j];
  }
  for (int g = GI; g <= GC; g++) {
    if (!d->x_w[g]) continue;
    if (s->norm) {
      normalize(z + g * nc, nc);
      for (int j = 0; j < nc; j++) z[g * nc + j] *= fp(d->norm[g])[j];
    }
    for (int j = 0; j < nc; j++) z[g * nc + j] += fp(d->bias[g])[j];
  }
  for (int j = 0; j < nc; j++) {
    double f = sigmoid(z[GF * nc + j]);
    double i = s->cifg ? 1.0 - f : sigmoid(z[GI * nc + j]);
    double g = kiln_test_activate((float)z[GC * nc + j], a->activation);
    c[j] = clip((float)(f * c[j] + i * g), a->cell_clip);
  }
  /* The output gate's peephole sees the new cell state. */
  for (int j = 0; j < nc; j++)
    if (d->peep[2])
      z[GO * nc + j] += (double)weight_element(d->peep[2], j) * c[j];
  if (s->norm) {
    normalize(z + GO * nc, nc);
    for (int j = 0; j < nc; j++) z[GO * nc + j] *= fp(d->norm[GO])[j];
  }
  for (int j = 0; j < nc; j++) {
    double o = sigmoid(z[GO * nc + j] + fp(d->bias[GO])[j]);
    m[j] = (float)(o * kiln_test_activate(c[j], a->activation));
  }
  for (int k = 0; k < s->n_out; k++) {
    if (!s->proj) {
      out[k] = m[k];
      continue;
    }
    double sum = d->proj_b ? fp(d->proj_b)[k] : 0.0;
    sum += weight_row(d->proj_w, k, m, nc);
    out[k] = clip((float)sum, a->proj_clip);
  }
  memcpy(h, out, sizeof(float) * (size_t)s->n_out);
  free(z);
  free(m);
}

/* Runs one direction over [T,B,*] or [B,T,*] data with the states given
 * (copied, updated in h and c); output rows of `stride` at `offset`. */
static void oracle_run(const spec *s, const dir *d, const kiln_lstm_attrs *a,
                       int T, int B, const float *x, const float *aux, float *h,
                       float *c, float *out, int stride, int offset,
                       bool reversed) {
  for (int n = 0; n < T; n++) {
    int t = reversed ? T - 1 - n : n;
    for (int b = 0; b < B; b++) {
      int row = a->time_major ? t * B + b : b * T + t;
      oracle_step(s, d, a, x + row * s->n_in, aux ? aux + row * s->n_aux : NULL,
                  h + b * s->n_out, c + b * s->n_cell,
                  out + row * stride + offset);
    }
  }
}

static kiln_lstm_attrs random_attrs(void) {
  static const kiln_activation acts[] = {KILN_ACT_TANH, KILN_ACT_TANH,
                                         KILN_ACT_RELU, KILN_ACT_RELU6,
                                         KILN_ACT_NONE};
  kiln_lstm_attrs a = {acts[kiln_test_int(0, 4)],
                       0,
                       0,
                       kiln_test_int(0, 1) == 1,
                       false,
                       weight_kind == HYBRID_ASYMMETRIC,
                       0,
                       {0},
                       {0}};
  if (kiln_test_int(0, 2) == 0) a.cell_clip = kiln_test_uniform(0.2f, 1.5f);
  if (kiln_test_int(0, 2) == 0) a.proj_clip = kiln_test_uniform(0.1f, 1.0f);
  return a;
}

static float *copy_of(const kiln_tensor *t) {
  size_t n = kiln_tensor_nbytes(t);
  float *p = malloc(n);
  memcpy(p, t->data, n);
  return p;
}

/* ---------------------------- LSTM and UNIDIRECTIONAL_SEQUENCE_LSTM */

static void test_unidirectional(bool sequence) {
  for (int trial = 0; trial < 300; trial++) {
    int B = kiln_test_int(1, 3), T = sequence ? kiln_test_int(1, 4) : 1;
    spec s = random_spec(kiln_test_int(1, 5), 0);
    kiln_lstm_attrs a = random_attrs();
    if (!sequence) a.time_major = true;
    dir d;
    bool twenty = kiln_test_int(0, 4) == 0 && !s.norm; /* the old form */
    make_dir(&s, B, true, &d);
    int64_t xd[3] = {a.time_major ? T : B, a.time_major ? B : T, s.n_in};
    kiln_tensor *x =
        sequence ? kiln_test_tensor_f32(3, xd, NULL) : t2(B, s.n_in);
    kiln_tensor *in[24] = {x};
    place(&d, in, 1, 18, 19, twenty ? -1 : 20, -1);
    float *h = copy_of(d.h), *c = copy_of(d.c);
    float *want = calloc((size_t)(T * B * s.n_out), sizeof(float));
    oracle_run(&s, &d, &a, T, B, x->data, NULL, h, c, want, s.n_out, 0, false);
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(
        sequence ? KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM : KILN_OP_LSTM, &a, in,
        twenty ? 20 : 24, out));
    int64_t od[3] = {xd[0], xd[1], s.n_out}, od2[2] = {B, s.n_out};
    CHECK(sequence ? kiln_test_has_shape(out, 3, od)
                   : kiln_test_has_shape(out, 2, od2));
    if (kiln_tensor_numel(out) == T * B * s.n_out) {
      kiln_test_close(out->data, want, T * B * s.n_out, 1e-5f, 1e-4f,
                      sequence ? "sequence lstm output" : "lstm output");
      kiln_test_close(d.h->data, h, B * s.n_out, 1e-5f, 1e-4f, "output state");
      kiln_test_close(d.c->data, c, B * s.n_cell, 1e-5f, 1e-4f, "cell state");
    }
    free(h);
    free(c);
    free(want);
    kiln_tensor *rest[2] = {x, out};
    kiln_test_tensors_free(rest, 2);
    free_dir(&d);
  }
}

/* ----------------------------------------- BIDIRECTIONAL_SEQUENCE_LSTM */

static void test_bidirectional(void) {
  for (int trial = 0; trial < 200; trial++) {
    int B = kiln_test_int(1, 3), T = kiln_test_int(1, 4);
    int n_in = kiln_test_int(1, 4);
    int aux_mode = kiln_test_int(0, 2); /* none, aux weights, bw input */
    int n_aux = aux_mode == 1 ? kiln_test_int(1, 3) : 0;
    spec sf = random_spec(n_in, n_aux), sb = random_spec(n_in, n_aux);
    sf.norm = sb.norm = false; /* the bidirectional op has no norm slots */
    kiln_lstm_attrs a = random_attrs();
    a.merge_outputs = kiln_test_int(0, 1) == 1;
    dir fw, bw;
    make_dir(&sf, B, false, &fw);
    make_dir(&sb, B, false, &bw);
    int64_t xd[3] = {a.time_major ? T : B, a.time_major ? B : T, n_in};
    int64_t ad[3] = {xd[0], xd[1], aux_mode == 1 ? n_aux : n_in};
    kiln_tensor *x = kiln_test_tensor_f32(3, xd, NULL);
    kiln_tensor *aux = aux_mode ? kiln_test_tensor_f32(3, ad, NULL) : NULL;
    kiln_tensor *in[48] = {x};
    place(&fw, in, 1, 35, 36, -1, 40);
    place(&bw, in, 18, 37, 38, -1, 44);
    in[39] = aux;
    float *fh = copy_of(fw.h), *fc = copy_of(fw.c);
    float *bh = copy_of(bw.h), *bc = copy_of(bw.c);
    int width = a.merge_outputs ? sf.n_out + sb.n_out : sf.n_out;
    float *want_fw = calloc((size_t)(T * B * width), sizeof(float));
    float *want_bw = calloc((size_t)(T * B * sb.n_out), sizeof(float));
    const float *aux_data = aux_mode == 1 ? aux->data : NULL;
    const float *bw_in = aux_mode == 2 ? aux->data : x->data;
    oracle_run(&sf, &fw, &a, T, B, x->data, aux_data, fh, fc, want_fw, width, 0,
               false);
    if (a.merge_outputs)
      oracle_run(&sb, &bw, &a, T, B, bw_in, aux_data, bh, bc, want_fw, width,
                 sf.n_out, true);
    else
      oracle_run(&sb, &bw, &a, T, B, bw_in, aux_data, bh, bc, want_bw, sb.n_out,
                 0, true);
    kiln_tensor *outs[2] = {kiln_test_output(), kiln_test_output()};
    CHECK_OK(kiln_test_run_op(KILN_OP_BIDIRECTIONAL_SEQUENCE_LSTM, &a, in, 48,
                              outs, a.merge_outputs ? 1 : 2));
    int64_t od[3] = {xd[0], xd[1], width};
    CHECK(kiln_test_has_shape(outs[0], 3, od));
    if (kiln_tensor_numel(outs[0]) == T * B * width) {
      kiln_test_close(outs[0]->data, want_fw, T * B * width, 1e-5f, 1e-4f,
                      "forward (or merged) output");
      if (!a.merge_outputs)
        kiln_test_close(outs[1]->data, want_bw, T * B * sb.n_out, 1e-5f, 1e-4f,
                        "backward output");
      kiln_test_close(fw.c->data, fc, B * sf.n_cell, 1e-5f, 1e-4f, "fw c");
      kiln_test_close(bw.h->data, bh, B * sb.n_out, 1e-5f, 1e-4f, "bw h");
    }
    free(fh);
    free(fc);
    free(bh);
    free(bc);
    free(want_fw);
    free(want_bw);
    kiln_tensor *rest[4] = {x, aux, outs[0], outs[1]};
    kiln_test_tensors_free(rest, 4);
    free_dir(&fw);
    free_dir(&bw);
  }
}

/* A fixed cell with hand-checkable numbers: one cell, one input, weights
 * 0 except the cell gate's input weight 1 and biases that saturate the
 * gates: i = f = o = sigmoid(20) ~ 1, so c = c0 + tanh(x), h = tanh(c). */
static void test_values(void) {
  spec s = {1, 0, 1, 1, false, false, false, false, false};
  dir d;
  make_dir(&s, 1, true, &d);
  for (int g = 0; g < 4; g++) {
    ((float *)d.x_w[g]->data)[0] = g == GC ? 1.0f : 0.0f;
    ((float *)d.h_w[g]->data)[0] = 0.0f;
    ((float *)d.bias[g]->data)[0] = g == GC ? 0.0f : 20.0f;
  }
  ((float *)d.h->data)[0] = 0.0f;
  ((float *)d.c->data)[0] = 0.25f;
  kiln_tensor *x = t2(1, 1);
  ((float *)x->data)[0] = 0.5f;
  kiln_tensor *in[24] = {x};
  place(&d, in, 1, 18, 19, 20, -1);
  kiln_lstm_attrs a = {KILN_ACT_TANH, 0, 0, true, false, false, 0, {0}, {0}};
  kiln_tensor *out = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_LSTM, &a, in, 24, out));
  double f = 1.0 / (1.0 + exp(-20.0));
  double c = f * 0.25 + f * tanh(0.5);
  float want_c = (float)c, want_h = (float)(f * tanh(c));
  kiln_test_close(d.c->data, &want_c, 1, 1e-6f, 1e-6f, "c");
  kiln_test_close(out->data, &want_h, 1, 1e-6f, 1e-6f, "h");
  kiln_test_close(d.h->data, &want_h, 1, 1e-6f, 1e-6f, "h state");
  kiln_tensor *rest[2] = {x, out};
  kiln_test_tensors_free(rest, 2);
  free_dir(&d);
}

/* ------------------------------------------------------- bad operands */

static void test_bad_operands(void) {
  spec s = {3, 0, 4, 4, false, true, false, false, false};
  dir d;
  make_dir(&s, 2, true, &d);
  int64_t xd[3] = {2, 5, 3};
  kiln_tensor *x = kiln_test_tensor_f32(3, xd, NULL);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *in[24] = {x};
  kiln_lstm_attrs a = {KILN_ACT_TANH, 0, 0, false, false, false, 0, {0}, {0}};
  kiln_op_type op = KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM;
#define RUN(n) kiln_test_run_op1(op, &a, in, n, out)
  place(&d, in, 1, 18, 19, 20, -1);
  CHECK_OK(RUN(24));
  CHECK_ERROR(RUN(19), KILN_ERR_INVALID_MODEL, "expects 20 to 24 inputs");
  /* A required operand omitted, then of the wrong shape. */
  in[3] = NULL;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "input 3 (cell input weights)");
  in[3] = d.x_w[GC];
  kiln_tensor *wrong = t2(4, 2);
  in[6] = d.h_w[GF];
  in[7] = wrong;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL,
              "input 7 (cell recurrent weights) has shape [4,2]");
  in[7] = d.h_w[GC];
  in[4] = wrong;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL,
              "input 4 (output input weights) has shape [4,2]");
  in[4] = d.x_w[GO];
  /* CIFG must drop the input gate's weights, recurrent weights and bias
   * together; peepholes all or none. */
  in[5] = NULL;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "all be present or all");
  in[5] = d.h_w[GI];
  in[10] = NULL;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "peephole");
  in[10] = d.peep[1];
  /* Projection bias alone; outputs differing from cells unprojected. */
  kiln_tensor *pb = t1(4);
  in[17] = pb;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "projection bias needs");
  in[17] = NULL;
  /* States: shape and presence. */
  kiln_tensor *state = t2(3, 4);
  in[19] = state;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL,
              "input 19 (cell state) has shape [3,4]; expected [2,4]");
  in[19] = NULL;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "input 19 (cell state)");
  in[19] = d.c;
  /* Options and types. */
  a.cell_clip = -1.0f;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "cell_clip is -1");
  a.cell_clip = 0.0f;
  a.proj_clip = NAN;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL, "proj_clip");
  a.proj_clip = 0.0f;
  int64_t qd[2] = {4, 3};
  kiln_tensor *q = kiln_test_tensor(KILN_INT8, 2, qd);
  in[2] = q;
  CHECK_ERROR(RUN(24), KILN_ERR_UNSUPPORTED,
              "input 2 (forget input weights) is int8 but not quantized");
  /* Quantized, but beside float32 weights: hybrid is all int8 or none. */
  weight_kind = HYBRID;
  kiln_tensor *hq = weights(4, 3);
  weight_kind = FLOAT_WEIGHTS;
  in[2] = hq;
  CHECK_ERROR(RUN(24), KILN_ERR_UNSUPPORTED, "weights mix float32 and int8");
  free_weights(hq);
  kiln_tensor *bool_w = kiln_test_tensor(KILN_BOOL, 2, qd);
  in[2] = bool_w;
  CHECK_ERROR(RUN(24), KILN_ERR_UNSUPPORTED,
              "input 2 (forget input weights) has type bool");
  kiln_test_tensor_free(bool_w);
  in[2] = d.x_w[GF];
  kiln_tensor *flat = t2(2, 3);
  in[0] = flat;
  CHECK_ERROR(RUN(24), KILN_ERR_INVALID_MODEL,
              "input 0 (input) must have rank 3");
  in[0] = x;
  CHECK_OK(RUN(24));
#undef RUN
  kiln_tensor *rest[7] = {x, out, wrong, pb, state, q, flat};
  kiln_test_tensors_free(rest, 7);
  free_dir(&d);
}

int main(void) {
  kiln_test_seed(2026);
  for (weight_kind = FLOAT_WEIGHTS; weight_kind <= HYBRID_ASYMMETRIC;
       weight_kind++) {
    test_unidirectional(true);
    test_unidirectional(false);
    test_bidirectional();
  }
  weight_kind = FLOAT_WEIGHTS;
  test_values();
  test_bad_operands();
  return kiln_test_finish("test_ref_lstm");
}
