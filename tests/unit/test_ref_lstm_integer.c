/* test_ref_lstm_integer.c - the integer LSTM and UNIDIRECTIONAL_SEQUENCE_LSTM
 * (kernels/ref/lstm_integer.c) against an LSTM computed in double on the
 * dequantized operands, one step at a time from the kernel's own states:
 * the output within one int8 step and the cell state within a few int16
 * steps plus the forget gate's error on the old state (the kernel's gates
 * are Q3.12 and its logistic and tanh 16-bit approximations). Bit equality with
 * LiteRT is the e2e test's (tests/e2e/test_int8_lstm.py). Then bad operands:
 * each a clear error. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernel.h"
#include "quant_test_util.h"

enum { INPUTS = 24, GATES = 4, GATE_I = 0, GATE_F = 1, GATE_C = 2, GATE_O = 3 };

static const float X_SCALE = 1.0f / 64.0f, W_SCALE = 0.25f / 127.0f;
static const float H_SCALE = 1.0f / 128.0f;
static const int CELL_LOG2 = -11;

typedef struct lstm_case {
  qt *x, *w[GATES], *r[GATES], *b[GATES], *p[GATES], *h, *c, *out;
  kiln_tensor *in[INPUTS];
  kiln_lstm_attrs attrs;
  int64_t batch, n_input, n_cell;
  bool cifg, sequence, peephole;
} lstm_case;

static qt *quantized(kiln_dtype dtype, int rank, const int64_t *dims,
                     float scale, int64_t zp) {
  qt *q = qt_new(dtype, rank, dims, 1, 0);
  q->scale[0] = scale;
  q->zp[0] = zp;
  return q;
}

static void make_case(lstm_case *k, bool sequence) {
  memset(k, 0, sizeof *k);
  k->sequence = sequence;
  k->batch = kiln_test_int(1, 3);
  k->n_input = kiln_test_int(1, 6);
  k->n_cell = kiln_test_int(1, 8);
  k->cifg = kiln_test_int(0, 2) == 0;
  k->peephole = kiln_test_int(0, 1) == 0;
  int64_t xd[3] = {1, k->batch, k->n_input}; /* one time-major step */
  int64_t sd[2] = {k->batch, k->n_input};
  k->x = sequence ? quantized(KILN_INT8, 3, xd, X_SCALE, kiln_test_int(-9, 9))
                  : quantized(KILN_INT8, 2, sd, X_SCALE, kiln_test_int(-9, 9));
  int32_t h_zp = kiln_test_int(-9, 9);
  for (int g = 0; g < GATES; g++) {
    if (g == GATE_I && k->cifg) continue;
    int64_t wd[2] = {k->n_cell, k->n_input}, rd[2] = {k->n_cell, k->n_cell};
    int64_t bd[1] = {k->n_cell};
    k->w[g] = quantized(KILN_INT8, 2, wd, W_SCALE, 0);
    k->r[g] = quantized(KILN_INT8, 2, rd, W_SCALE, 0);
    k->b[g] = quantized(KILN_INT32, 1, bd, X_SCALE * W_SCALE, 0);
    k->in[1 + g] = k->w[g]->t;
    k->in[5 + g] = k->r[g]->t;
    k->in[12 + g] = k->b[g]->t;
    if (k->peephole && g != GATE_C) {
      k->p[g] = quantized(KILN_INT16, 1, bd, 0.5f / 32767.0f, 0);
      k->in[9 + (g == GATE_I ? 0 : (g == GATE_F ? 1 : 2))] = k->p[g]->t;
    }
  }
  int64_t hd[2] = {k->batch, k->n_cell};
  k->h = quantized(KILN_INT8, 2, hd, H_SCALE, h_zp);
  k->c = quantized(KILN_INT16, 2, hd, ldexpf(1.0f, CELL_LOG2), 0);
  k->out = qt_output(KILN_INT8, H_SCALE, h_zp);
  k->in[0] = k->x->t;
  k->in[18] = k->h->t;
  k->in[19] = k->c->t;
  kiln_lstm_attrs a = {KILN_ACT_TANH, 0, 0, true, false, false, 5, {0}, {0}};
  a.intermediate_scale[4] = H_SCALE;
  a.intermediate_zp[4] = h_zp;
  if (kiln_test_int(0, 2) == 0) a.cell_clip = kiln_test_uniform(0.5f, 4.0f);
  k->attrs = a;
}

static void free_case(lstm_case *k) {
  qt *all[] = {k->x, k->h, k->c, k->out};
  for (int i = 0; i < 4; i++) qt_free(all[i]);
  for (int g = 0; g < GATES; g++) {
    qt_free(k->w[g]);
    qt_free(k->r[g]);
    qt_free(k->b[g]);
    qt_free(k->p[g]);
  }
}

static double dq(const qt *q, int64_t i) {
  return (double)q->scale[0] * (double)(qt_get(q->t, i) - q->zp[0]);
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* One step in double from the current states: the expected output (in
 * real units), new cell state (in int16 steps) and how far the kernel's
 * may be from it: the forget gate's 16-bit error (under 10 / 2^15) times
 * the old state, and a few steps for the rest. */
static void oracle(const lstm_case *k, double *out, double *cell,
                   double *cell_tolerance) {
  for (int64_t b = 0; b < k->batch; b++)
    for (int64_t j = 0; j < k->n_cell; j++) {
      double z[GATES] = {0};
      for (int g = 0; g < GATES; g++) {
        if (!k->w[g]) continue;
        z[g] = dq(k->b[g], j);
        for (int64_t i = 0; i < k->n_input; i++)
          z[g] +=
              dq(k->w[g], j * k->n_input + i) * dq(k->x, b * k->n_input + i);
        for (int64_t i = 0; i < k->n_cell; i++)
          z[g] += dq(k->r[g], j * k->n_cell + i) * dq(k->h, b * k->n_cell + i);
      }
      double old = dq(k->c, b * k->n_cell + j);
      if (k->peephole) {
        if (!k->cifg) z[GATE_I] += dq(k->p[GATE_I], j) * old;
        z[GATE_F] += dq(k->p[GATE_F], j) * old;
      }
      double f = sigmoid(z[GATE_F]);
      double in = k->cifg ? 1.0 - f : sigmoid(z[GATE_I]);
      double c = f * old + in * tanh(z[GATE_C]);
      double clip = k->attrs.cell_clip;
      if (clip > 0) c = c > clip ? clip : (c < -clip ? -clip : c);
      cell[b * k->n_cell + j] = c / ldexp(1.0, CELL_LOG2);
      cell_tolerance[b * k->n_cell + j] =
          4.0 +
          fabs((double)qt_get(k->c->t, b * k->n_cell + j)) * 10.0 / 32768.0;
      if (k->peephole) z[GATE_O] += dq(k->p[GATE_O], j) * c;
      /* within what the int8 output can hold */
      double lo = H_SCALE * (double)(-128 - k->out->zp[0]);
      double hi = H_SCALE * (double)(127 - k->out->zp[0]);
      double m = sigmoid(z[GATE_O]) * tanh(c);
      out[b * k->n_cell + j] = m < lo ? lo : (m > hi ? hi : m);
    }
}

static void test_steps(bool sequence) {
  lstm_case k;
  make_case(&k, sequence);
  int64_t n = k.batch * k.n_cell;
  double *out = calloc((size_t)n, sizeof *out);
  double *cell = calloc((size_t)n, sizeof *cell);
  double *tolerance = calloc((size_t)n, sizeof *tolerance);
  kiln_op_type op =
      sequence ? KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM : KILN_OP_LSTM;
  for (int step = 0; step < 4; step++) {
    oracle(&k, out, cell, tolerance);
    CHECK_OK(kiln_test_run_op1(op, &k.attrs, k.in, INPUTS, k.out->t));
    for (int64_t i = 0; i < n; i++) {
      double got = dq(k.out, i);
      CHECK(fabs(got - out[i]) <= 1.01 * H_SCALE);
      CHECK(fabs((double)qt_get(k.c->t, i) - cell[i]) <= tolerance[i]);
      /* the new output state is the output */
      CHECK(qt_get(k.h->t, i) == qt_get(k.out->t, i));
    }
    /* fresh input for the next step */
    for (int64_t i = 0; i < kiln_tensor_numel(k.x->t); i++)
      ((int8_t *)k.x->t->data)[i] = (int8_t)kiln_test_int(-128, 127);
  }
  free(out);
  free(cell);
  free(tolerance);
  free_case(&k);
}

static void test_bad_operands(void) {
  lstm_case k;
  do {
    make_case(&k, true);
    if (k.peephole || k.cifg) free_case(&k);
  } while (k.peephole || k.cifg);
  kiln_op_type op = KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM;
#define RUN() kiln_test_run_op1(op, &k.attrs, k.in, INPUTS, k.out->t)
  CHECK_OK(RUN());
  k.attrs.num_intermediates = 0;
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "intermediate");
  k.attrs.num_intermediates = 6;
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "lists 6");
  k.attrs.num_intermediates = 12;
  CHECK_ERROR(RUN(), KILN_ERR_UNSUPPORTED, "8x8_8");
  k.attrs.num_intermediates = 5;
  k.attrs.intermediate_scale[4] = 0.0f;
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "hidden state");
  k.attrs.intermediate_scale[4] = H_SCALE;
  k.attrs.activation = KILN_ACT_RELU;
  CHECK_ERROR(RUN(), KILN_ERR_UNSUPPORTED, "tanh");
  k.attrs.activation = KILN_ACT_TANH;
  k.in[10] = k.b[GATE_F]->t; /* an int32 peephole, and others missing */
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "peephole");
  k.in[10] = NULL;
  k.in[21] = k.b[GATE_F]->t; /* int32 layer norm coefficients */
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "layer norm");
  k.in[21] = NULL;
  k.in[1 + GATE_I] = k.in[5 + GATE_I] = k.in[12 + GATE_I] = NULL; /* CIFG */
  int64_t cells[1] = {k.n_cell};
  qt *coefficients = quantized(KILN_INT16, 1, cells, 1e-4f, 0);
  for (int g = GATE_F; g < GATES; g++) k.in[20 + g] = coefficients->t;
  CHECK_ERROR(RUN(), KILN_ERR_UNSUPPORTED, "CIFG and layer norm");
  for (int g = GATE_F; g < GATES; g++) k.in[20 + g] = NULL;
  k.in[1 + GATE_I] = k.w[GATE_I]->t;
  k.in[5 + GATE_I] = k.r[GATE_I]->t;
  k.in[12 + GATE_I] = k.b[GATE_I]->t;
  qt_free(coefficients);
  k.c->scale[0] = 0.001f;
  CHECK_ERROR(RUN(), KILN_ERR_UNSUPPORTED, "power of two");
  k.c->scale[0] = ldexpf(1.0f, -4);
  CHECK_ERROR(RUN(), KILN_ERR_UNSUPPORTED, "power of two");
  k.c->scale[0] = ldexpf(1.0f, CELL_LOG2);
  k.w[GATE_F]->zp[0] = 3;
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "zero point 3");
  k.w[GATE_F]->zp[0] = 0;
  k.in[19] = k.h->t; /* an int8 cell state */
  CHECK_ERROR(RUN(), KILN_ERR_UNSUPPORTED, "input 19 (cell state)");
  k.in[19] = k.c->t;
  k.in[12 + GATE_O] = k.w[GATE_O]->t; /* an int8 bias */
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "output bias");
  k.in[12 + GATE_O] = k.b[GATE_O]->t;
  k.in[5 + GATE_C] = NULL;
  CHECK_ERROR(RUN(), KILN_ERR_INVALID_MODEL, "cell recurrent weights");
  k.in[5 + GATE_C] = k.r[GATE_C]->t;
  CHECK_OK(RUN());
#undef RUN
  free_case(&k);
}

int main(void) {
  kiln_test_seed(2028);
  for (int i = 0; i < 40; i++) {
    test_steps(true);
    test_steps(false);
  }
  test_bad_operands();
  return kiln_test_finish("test_ref_lstm_integer");
}
