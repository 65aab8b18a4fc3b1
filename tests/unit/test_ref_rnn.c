/* test_ref_rnn.c - reference RNN, UNIDIRECTIONAL_SEQUENCE_RNN,
 * BIDIRECTIONAL_SEQUENCE_RNN (float32 and hybrid int8 weights) and SVDF
 * against loops written here (SVDF's memory kept as an explicit window of
 * past features), on random sizes from random initial states, over several
 * calls so the state carries; and malformed operands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "recurrent_test_util.h"

static kiln_tensor *t1(int64_t n) {
  int64_t d[1] = {n};
  return kiln_test_tensor_f32(1, d, NULL);
}
static kiln_tensor *t2(int64_t a, int64_t b) {
  int64_t d[2] = {a, b};
  return kiln_test_tensor_f32(2, d, NULL);
}
static const float *fp(const kiln_tensor *t) { return t->data; }

static kiln_activation random_activation(void) {
  static const kiln_activation acts[] = {KILN_ACT_TANH, KILN_ACT_RELU,
                                         KILN_ACT_RELU6, KILN_ACT_NONE,
                                         KILN_ACT_RELU_N1_TO_1};
  return acts[kiln_test_int(0, 4)];
}

/* One direction: weights [U,I], recurrent [U,U], bias [U], hidden [B,U],
 * aux weights [U,A] or NULL. */
typedef struct cell {
  kiln_tensor *w, *r, *b, *h, *aux_w;
  int units;
} cell;

static void make_cell(cell *c, int units, int n_in, int n_aux, int batch) {
  c->units = units;
  c->w = weights(units, n_in);
  c->r = weights(units, units);
  c->b = t1(units);
  c->h = t2(batch, units);
  c->aux_w = n_aux ? weights(units, n_aux) : NULL;
}

static void free_cell(cell *c) {
  free_weights(c->w);
  free_weights(c->r);
  free_weights(c->aux_w);
  kiln_tensor *rest[2] = {c->b, c->h};
  kiln_test_tensors_free(rest, 2);
}

/* h_new = act(W x + A aux + R h + b), for the rows of a sequence. */
static void oracle(const cell *c, kiln_activation act, bool time_major, int T,
                   int B, int n_in, int n_aux, const float *x, const float *aux,
                   float *h, float *out, int stride, int offset,
                   bool reversed) {
  int U = c->units;
  float *next = malloc(sizeof(float) * (size_t)U);
  for (int n = 0; n < T; n++) {
    int t = reversed ? T - 1 - n : n;
    for (int b = 0; b < B; b++) {
      int row = time_major ? t * B + b : b * T + t;
      for (int j = 0; j < U; j++) {
        double z = fp(c->b)[j] + weight_row(c->w, j, x + row * n_in, n_in) +
                   weight_row(c->r, j, h + b * U, U);
        if (n_aux) z += weight_row(c->aux_w, j, aux + row * n_aux, n_aux);
        next[j] = kiln_test_activate((float)z, act);
      }
      memcpy(h + b * U, next, sizeof(float) * (size_t)U);
      memcpy(out + row * stride + offset, next, sizeof(float) * (size_t)U);
    }
  }
  free(next);
}

static float *copy_of(const kiln_tensor *t) {
  float *p = malloc(kiln_tensor_nbytes(t));
  memcpy(p, t->data, kiln_tensor_nbytes(t));
  return p;
}

/* RNN (sequence false) and UNIDIRECTIONAL_SEQUENCE_RNN, two calls each. */
static void test_unidirectional(bool sequence) {
  for (int trial = 0; trial < 200; trial++) {
    int B = kiln_test_int(1, 3), T = sequence ? kiln_test_int(1, 5) : 1;
    int n_in = kiln_test_int(1, 5), U = kiln_test_int(1, 6);
    kiln_rnn_attrs a = {random_activation(),
                        sequence ? kiln_test_int(0, 1) == 1 : true, false,
                        weight_kind == HYBRID_ASYMMETRIC};
    cell c;
    make_cell(&c, U, n_in, 0, B);
    int64_t xd[3] = {a.time_major ? T : B, a.time_major ? B : T, n_in};
    kiln_tensor *x = sequence ? kiln_test_tensor_f32(3, xd, NULL) : t2(B, n_in);
    kiln_tensor *in[5] = {x, c.w, c.r, c.b, c.h};
    float *h = copy_of(c.h);
    float *want = malloc(sizeof(float) * (size_t)(T * B * U));
    kiln_tensor *out = kiln_test_output();
    for (int call = 0; call < 2; call++) {
      oracle(&c, a.activation, a.time_major, T, B, n_in, 0, x->data, NULL, h,
             want, U, 0, false);
      CHECK_OK(kiln_test_run_op1(
          sequence ? KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN : KILN_OP_RNN, &a, in,
          5, out));
      if (kiln_tensor_numel(out) != T * B * U) {
        CHECK(false);
        break;
      }
      kiln_test_close(out->data, want, T * B * U, 1e-5f, 1e-5f, "rnn out");
      kiln_test_close(c.h->data, h, B * U, 1e-5f, 1e-5f, "rnn state");
    }
    int64_t od[3] = {xd[0], xd[1], U}, od2[2] = {B, U};
    CHECK(sequence ? kiln_test_has_shape(out, 3, od)
                   : kiln_test_has_shape(out, 2, od2));
    free(h);
    free(want);
    kiln_tensor *rest[2] = {x, out};
    kiln_test_tensors_free(rest, 2);
    free_cell(&c);
  }
}

static void test_bidirectional(void) {
  for (int trial = 0; trial < 200; trial++) {
    int B = kiln_test_int(1, 3), T = kiln_test_int(1, 4);
    int n_in = kiln_test_int(1, 4), aux_mode = kiln_test_int(0, 2);
    int n_aux = aux_mode == 1 ? kiln_test_int(1, 3) : 0;
    kiln_rnn_attrs a = {random_activation(), kiln_test_int(0, 1) == 1,
                        kiln_test_int(0, 1) == 1,
                        weight_kind == HYBRID_ASYMMETRIC};
    cell fw, bw;
    make_cell(&fw, kiln_test_int(1, 5), n_in, n_aux, B);
    make_cell(&bw, kiln_test_int(1, 5), n_in, n_aux, B);
    int64_t xd[3] = {a.time_major ? T : B, a.time_major ? B : T, n_in};
    int64_t ad[3] = {xd[0], xd[1], aux_mode == 1 ? n_aux : n_in};
    kiln_tensor *x = kiln_test_tensor_f32(3, xd, NULL);
    kiln_tensor *aux = aux_mode ? kiln_test_tensor_f32(3, ad, NULL) : NULL;
    kiln_tensor *in[12] = {x,    fw.w, fw.r, fw.b, fw.h,     bw.w,
                           bw.r, bw.b, bw.h, aux,  fw.aux_w, bw.aux_w};
    float *fh = copy_of(fw.h), *bh = copy_of(bw.h);
    int width = a.merge_outputs ? fw.units + bw.units : fw.units;
    float *want_fw = malloc(sizeof(float) * (size_t)(T * B * width));
    float *want_bw = malloc(sizeof(float) * (size_t)(T * B * bw.units));
    const float *aux_data = aux_mode == 1 ? aux->data : NULL;
    /* TFLite's batch-major loop reads input 0 backwards even when the aux
     * input should replace it (see rnn.c). */
    const float *bw_in =
        aux_mode == 2 && a.time_major ? aux->data : (const float *)x->data;
    oracle(&fw, a.activation, a.time_major, T, B, n_in, n_aux, x->data,
           aux_data, fh, want_fw, width, 0, false);
    if (a.merge_outputs)
      oracle(&bw, a.activation, a.time_major, T, B, n_in, n_aux, bw_in,
             aux_data, bh, want_fw, width, fw.units, true);
    else
      oracle(&bw, a.activation, a.time_major, T, B, n_in, n_aux, bw_in,
             aux_data, bh, want_bw, bw.units, 0, true);
    kiln_tensor *outs[2] = {kiln_test_output(), kiln_test_output()};
    CHECK_OK(kiln_test_run_op(KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN, &a, in, 12,
                              outs, a.merge_outputs ? 1 : 2));
    int64_t od[3] = {xd[0], xd[1], width};
    CHECK(kiln_test_has_shape(outs[0], 3, od));
    if (kiln_tensor_numel(outs[0]) == T * B * width) {
      kiln_test_close(outs[0]->data, want_fw, T * B * width, 1e-5f, 1e-5f,
                      "forward (or merged)");
      if (!a.merge_outputs)
        kiln_test_close(outs[1]->data, want_bw, T * B * bw.units, 1e-5f, 1e-5f,
                        "backward");
      kiln_test_close(bw.h->data, bh, B * bw.units, 1e-5f, 1e-5f, "bw h");
    }
    free(fh);
    free(bh);
    free(want_fw);
    free(want_bw);
    kiln_tensor *rest[4] = {x, aux, outs[0], outs[1]};
    kiln_test_tensors_free(rest, 4);
    free_cell(&fw);
    free_cell(&bw);
  }
}

/* ----------------------------------------------------------------- SVDF */

/* Keeps each filter's last `memory` features in a window (oldest first),
 * independent of the kernel's state layout; runs several calls. */
static void test_svdf(void) {
  for (int trial = 0; trial < 200; trial++) {
    int B = kiln_test_int(1, 3), n_in = kiln_test_int(1, 5);
    int units = kiln_test_int(1, 4), rank = kiln_test_int(1, 3);
    int memory = kiln_test_int(1, 5), filters = units * rank;
    kiln_svdf_attrs a = {rank, random_activation(),
                         weight_kind == HYBRID_ASYMMETRIC};
    bool has_bias = kiln_test_int(0, 2) != 0;
    kiln_tensor *x = t2(B, n_in), *wf = weights(filters, n_in);
    kiln_tensor *wt = weights(filters, memory);
    kiln_tensor *bias = has_bias ? t1(units) : NULL;
    int64_t sd[2] = {B, filters * memory};
    kiln_tensor *state = kiln_test_tensor(KILN_FLOAT32, 2, sd); /* zeros */
    kiln_tensor *in[5] = {x, wf, wt, bias, state};
    float *window = calloc((size_t)(B * filters * memory), sizeof(float));
    float *want = malloc(sizeof(float) * (size_t)(B * units));
    kiln_tensor *out = kiln_test_output();
    for (int call = 0; call < 4; call++) {
      kiln_test_fill(x->data, B * n_in, -1, 1);
      for (int b = 0; b < B; b++)
        for (int f = 0; f < filters; f++) {
          float *w = window + (b * filters + f) * memory;
          memmove(w, w + 1, sizeof(float) * (size_t)(memory - 1));
          w[memory - 1] = (float)weight_row(wf, f, fp(x) + b * n_in, n_in);
        }
      for (int b = 0; b < B; b++)
        for (int u = 0; u < units; u++) {
          double sum = bias ? fp(bias)[u] : 0.0;
          for (int r = 0; r < rank; r++) {
            int f = u * rank + r;
            for (int k = 0; k < memory; k++)
              sum += (double)weight_element(wt, f * memory + k) *
                     window[(b * filters + f) * memory + k];
          }
          want[b * units + u] = kiln_test_activate((float)sum, a.activation);
        }
      CHECK_OK(kiln_test_run_op1(KILN_OP_SVDF, &a, in, 5, out));
      int64_t od[2] = {B, units};
      if (!kiln_test_has_shape(out, 2, od)) {
        CHECK(false);
        break;
      }
      kiln_test_close(out->data, want, B * units, 1e-5f, 1e-5f, "svdf");
    }
    free(window);
    free(want);
    free_weights(wf);
    free_weights(wt);
    kiln_tensor *rest[4] = {x, bias, state, out};
    kiln_test_tensors_free(rest, 4);
  }
}

/* ------------------------------------------------------- bad operands */

static void test_bad_operands(void) {
  cell c;
  make_cell(&c, 4, 3, 0, 2);
  kiln_tensor *x = t2(2, 3), *out = kiln_test_output();
  kiln_tensor *in[12] = {x, c.w, c.r, c.b, c.h};
  kiln_rnn_attrs a = {KILN_ACT_TANH, true, false, false};
  CHECK_OK(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out));
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 4, out),
              KILN_ERR_INVALID_MODEL, "expects 5 inputs");
  kiln_tensor *bad = t2(4, 2);
  in[1] = bad;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (weights) has shape [4,2]; expected [0,3]");
  in[1] = c.w;
  in[2] = bad;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_INVALID_MODEL, "input 2 (recurrent weights)");
  in[2] = c.r;
  in[4] = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_INVALID_MODEL, "input 4 (hidden state) is missing");
  in[4] = c.h;
  a.activation = (kiln_activation)9;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_INVALID_MODEL, "activation");
  a.activation = KILN_ACT_TANH;
  /* Hybrid weights: all int8 or none, each with one scale and no zero
   * point. */
  weight_kind = HYBRID;
  kiln_tensor *q = weights(4, 3);
  weight_kind = FLOAT_WEIGHTS;
  in[1] = q;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_UNSUPPORTED, "weights mix float32 and int8");
  qbox *box = (qbox *)q->quant;
  box->zero = 3;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_UNSUPPORTED,
              "input 1 (weights) is int8 but not quantized with one positive "
              "scale and zero point 0");
  box->zero = 0;
  q->quant = NULL;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RNN, &a, in, 5, out),
              KILN_ERR_UNSUPPORTED, "not quantized");
  q->quant = &box->info;
  free_weights(q);
  in[1] = c.w;
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN, &a, in, 5, out),
      KILN_ERR_INVALID_MODEL, "input 0 (input) must have rank 3");
  /* Bidirectional: one direction's aux weights without the other's, and
   * aux weights without an aux input. */
  int64_t xd[3] = {2, 3, 3};
  kiln_tensor *seq = kiln_test_tensor_f32(3, xd, NULL);
  kiln_tensor *aux_w = t2(4, 2);
  kiln_tensor *bi[12] = {seq, c.w, c.r, c.b,  c.h,   c.w,
                         c.r, c.b, c.h, NULL, aux_w, NULL};
  kiln_tensor *outs[2] = {out, kiln_test_output()};
  a.time_major = false;
  CHECK_ERROR(
      kiln_test_run_op(KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN, &a, bi, 12, outs, 2),
      KILN_ERR_INVALID_MODEL, "both directions or neither");
  bi[11] = aux_w;
  CHECK_ERROR(
      kiln_test_run_op(KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN, &a, bi, 12, outs, 2),
      KILN_ERR_INVALID_MODEL, "aux input) is omitted");
  CHECK_ERROR(
      kiln_test_run_op(KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN, &a, bi, 12, outs, 1),
      KILN_ERR_INVALID_MODEL, "expects 2 outputs");
  /* SVDF: rank must divide the filters; the state must match. */
  kiln_tensor *wf = t2(6, 3), *wt = t2(6, 2), *state = t2(2, 12);
  kiln_tensor *sv[5] = {x, wf, wt, NULL, state};
  kiln_svdf_attrs sa = {4, KILN_ACT_NONE, false};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SVDF, &sa, sv, 5, out),
              KILN_ERR_INVALID_MODEL, "rank 4 does not divide the 6 filters");
  sa.rank = 0;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SVDF, &sa, sv, 5, out),
              KILN_ERR_INVALID_MODEL, "rank 0");
  sa.rank = 3;
  CHECK_OK(kiln_test_run_op1(KILN_OP_SVDF, &sa, sv, 5, out));
  weight_kind = HYBRID;
  kiln_tensor *qt = weights(6, 2);
  weight_kind = FLOAT_WEIGHTS;
  sv[2] = qt;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SVDF, &sa, sv, 5, out),
              KILN_ERR_UNSUPPORTED,
              "input 2 (weights_time) is int8 but input 1 (weights_feature) "
              "is float32");
  sv[2] = wt;
  free_weights(qt);
  sv[4] = c.h; /* [2,4], not [2, 6 * 2] */
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SVDF, &sa, sv, 5, out),
              KILN_ERR_INVALID_MODEL, "input 4 (state) has shape [2,4]");
  sv[4] = state;
  sv[3] = c.b; /* [4] bias for 2 units */
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_SVDF, &sa, sv, 5, out),
              KILN_ERR_INVALID_MODEL, "input 3 (bias) has shape [4]");
  kiln_tensor *rest[8] = {x, out, bad, seq, aux_w, outs[1], wf, wt};
  kiln_test_tensors_free(rest, 8);
  kiln_test_tensor_free(state);
  free_cell(&c);
}

int main(void) {
  kiln_test_seed(77);
  for (weight_kind = FLOAT_WEIGHTS; weight_kind <= HYBRID_ASYMMETRIC;
       weight_kind++) {
    test_unidirectional(false);
    test_unidirectional(true);
    test_bidirectional();
    test_svdf();
  }
  weight_kind = FLOAT_WEIGHTS;
  test_bad_operands();
  return kiln_test_finish("test_ref_rnn");
}
