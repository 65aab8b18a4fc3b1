/* test_session_variables.c - variable tensors (TFLite's is_variable) as
 * session state, on an RNN model built in C: the hidden state carries from
 * one invoke to the next, starts from zeros or the file's bytes, is reset
 * by kiln_session_reset_variables and by prepare, belongs to each session
 * alone, and must be a variable where an operator updates it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum { BATCH = 2, IN = 3, UNITS = 4 };

static float weights[UNITS * IN], recurrent[UNITS * UNITS], bias[UNITS];
static float initial[BATCH * UNITS], zero_state[BATCH * UNITS];

static tb_tensor tensor(const char *name, int32_t d0, int32_t d1,
                        uint32_t buffer) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = TFL_TYPE_FLOAT32;
  t.rank = d1 > 0 ? 2 : 1;
  t.shape[0] = d0;
  t.shape[1] = d1;
  t.buffer = buffer;
  return t;
}

/* x [BATCH, IN] -> RNN (TANH) -> y; the hidden state is tensor 4, a
 * variable (with `initial` as its bytes when with_initial). */
static void rnn_model(tb_model *m, bool variable, bool with_initial) {
  memset(m, 0, sizeof *m);
  m->num_opcodes = 1;
  m->opcodes[0] = (tb_opcode){TFL_OP_RNN, TFL_OP_RNN, NULL};
  m->num_tensors = 6;
  m->tensors[0] = tensor("x", BATCH, IN, 0);
  m->tensors[1] = tensor("weights", UNITS, IN, 1);
  m->tensors[2] = tensor("recurrent", UNITS, UNITS, 2);
  m->tensors[3] = tensor("bias", UNITS, 0, 3);
  m->tensors[4] = tensor("hidden", BATCH, UNITS, with_initial ? 4 : 0);
  m->tensors[4].is_variable = variable;
  m->tensors[5] = tensor("y", BATCH, UNITS, 0);
  m->num_inputs = 1;
  m->num_outputs = 1;
  m->outputs[0] = 5;
  m->num_operators = 1;
  tb_operator *op = &m->operators[0];
  op->num_inputs = 5;
  memcpy(op->inputs, (int32_t[]){0, 1, 2, 3, 4}, sizeof(int32_t) * 5);
  op->num_outputs = 1;
  op->outputs[0] = 5;
  op->options_type = TFL_OPT_RNN;
  op->num_options = 1;
  op->options[0] =
      (tb_field){.slot = TFL_RNN_ACTIVATION, .kind = 'b', .i = KILN_ACT_TANH};
  m->num_buffers = 5;
  m->buffers[1] = (tb_buffer){.data = weights, .size = sizeof weights};
  m->buffers[2] = (tb_buffer){.data = recurrent, .size = sizeof recurrent};
  m->buffers[3] = (tb_buffer){.data = bias, .size = sizeof bias};
  m->buffers[4] = (tb_buffer){.data = initial, .size = sizeof initial};
}

static kiln_status *load(const tb_model *m, kiln_model **out) {
  size_t size;
  uint8_t *bytes = tb_build(m, &size);
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "rnn.tflite", NULL, out);
  free(bytes);
  return st;
}

/* h = tanh(W x + R h + b), written out independently of the kernel. */
static void expected_step(const float *x, float *h) {
  float next[BATCH * UNITS];
  for (int b = 0; b < BATCH; b++)
    for (int j = 0; j < UNITS; j++) {
      double z = bias[j];
      for (int i = 0; i < IN; i++)
        z += (double)weights[j * IN + i] * x[b * IN + i];
      for (int k = 0; k < UNITS; k++)
        z += (double)recurrent[j * UNITS + k] * h[b * UNITS + k];
      next[b * UNITS + j] = (float)tanh(z);
    }
  memcpy(h, next, sizeof next);
}

/* Invokes once on x and checks y against the expected next state. */
static void step(kiln_session *s, const float *x, float *h, const char *what) {
  int64_t dims[2] = {BATCH, IN};
  float y[BATCH * UNITS];
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 2, x,
                                  sizeof(float) * BATCH * IN));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  expected_step(x, h);
  kiln_test_close(y, h, BATCH * UNITS, 1e-6f, 1e-5f, what);
}

static void test_state_carries_and_resets(bool with_initial) {
  tb_model m;
  rnn_model(&m, true, with_initial);
  kiln_model *model = NULL;
  CHECK_OK(load(&m, &model));
  if (!model) return;
  kiln_session *a = NULL, *b = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &a));
  CHECK_OK(kiln_session_create(model, NULL, &b));
  if (!a || !b) goto done;
  const float *start = with_initial ? initial : zero_state;
  float x[BATCH * IN], h_a[BATCH * UNITS], h_b[BATCH * UNITS];
  memcpy(h_a, start, sizeof h_a);
  memcpy(h_b, start, sizeof h_b);
  kiln_test_fill(x, BATCH * IN, -1, 1);
  /* Three steps on a, one on b in between: the states are separate. */
  step(a, x, h_a, "a step 1");
  step(a, x, h_a, "a step 2");
  step(b, x, h_b, "b step 1");
  step(a, x, h_a, "a step 3");
  /* Reset: a starts over, as b did. */
  CHECK_OK(kiln_session_reset_variables(a));
  memcpy(h_a, start, sizeof h_a);
  step(a, x, h_a, "a after reset");
  /* Preparing again (as after a resize) resets too. */
  CHECK_OK(kiln_session_prepare(b));
  memcpy(h_b, start, sizeof h_b);
  step(b, x, h_b, "b after prepare");
done:
  kiln_session_free(a);
  kiln_session_free(b);
  kiln_model_free(model);
}

/* A state that is a constant (mapped read-only) or missing is refused at
 * load, naming the input. */
static void test_state_must_be_variable(void) {
  tb_model m;
  kiln_model *model = NULL;
  rnn_model(&m, false, true);
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "input 4 is tensor 4 ('hidden'), the operator's state, which "
              "must be a variable tensor");
  rnn_model(&m, false, false);
  m.num_inputs = 2;
  m.inputs[1] = 4; /* a graph input is not a variable either */
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL, "must be a variable");
  rnn_model(&m, true, false);
  m.operators[0].inputs[4] = -1;
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "input 4 is the operator's state and may not be omitted");
  /* A variable's bytes must fit its shape like a constant's. */
  rnn_model(&m, true, true);
  m.buffers[4].size = sizeof initial - 4;
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL, "bytes but shape");
  /* No operator may write a variable. */
  rnn_model(&m, true, false);
  m.operators[0].outputs[0] = 4;
  m.outputs[0] = 4;
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "a constant, a variable or a graph input");
  CHECK(model == NULL);
}

/* The state follows the oracle over many invokes with changing inputs
 * (it lives outside the arena, which later steps reuse). */
static void test_many_steps(void) {
  tb_model m;
  rnn_model(&m, true, false);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&m, &model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) {
    float x[BATCH * IN], h[BATCH * UNITS];
    memset(h, 0, sizeof h);
    for (int t = 0; t < 20; t++) {
      kiln_test_fill(x, BATCH * IN, -1, 1);
      step(s, x, h, "step");
    }
  }
  kiln_session_free(s);
  kiln_model_free(model);
  CHECK_ERROR(kiln_session_reset_variables(NULL), KILN_ERR_INVALID_ARGUMENT,
              "NULL");
}

/* The state as a second graph output reads back what the RNN wrote; an
 * extra variable no operator reads costs nothing and breaks nothing. */
static void test_state_as_output(void) {
  tb_model m;
  rnn_model(&m, true, true);
  m.num_outputs = 2;
  m.outputs[1] = 4;
  m.tensors[6] = tensor("unused", 1000, 1000, 0);
  m.tensors[6].is_variable = true;
  m.num_tensors = 7;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&m, &model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) {
    float x[BATCH * IN], h[BATCH * UNITS], state[BATCH * UNITS];
    memcpy(h, initial, sizeof h);
    kiln_test_fill(x, BATCH * IN, -1, 1);
    CHECK_OK(kiln_session_get_output(s, 1, state, sizeof state));
    kiln_test_close(state, initial, BATCH * UNITS, 0, 0, "initial state");
    step(s, x, h, "step");
    CHECK_OK(kiln_session_get_output(s, 1, state, sizeof state));
    kiln_test_close(state, h, BATCH * UNITS, 1e-6f, 1e-5f, "state output");
  }
  kiln_session_free(s);
  kiln_model_free(model);
}

int main(void) {
  kiln_test_seed(909);
  kiln_test_fill(weights, UNITS * IN, -1, 1);
  kiln_test_fill(recurrent, UNITS * UNITS, -0.6f, 0.6f);
  kiln_test_fill(bias, UNITS, -0.5f, 0.5f);
  kiln_test_fill(initial, BATCH * UNITS, -0.9f, 0.9f);
  test_state_carries_and_resets(false);
  test_state_carries_and_resets(true);
  test_state_must_be_variable();
  test_many_steps();
  test_state_as_output();
  return kiln_test_finish("test_session_variables");
}
