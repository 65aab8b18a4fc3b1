/* test_control_flow.c - WHILE, IF, CALL_ONCE and resource variables on
 * models of several subgraphs built in C: results against the same
 * computation written out here, on random sizes, data and trip counts;
 * state carried between invokes and reset; and bad files (subgraph
 * indices out of range, recursion, operators whose inputs and outputs do
 * not match their subgraphs') refused with a message naming the operator
 * and the subgraph; and a loop that would not end, cancelled. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum {
  OP_WHILE,
  OP_LESS,
  OP_ADD,
  OP_MUL,
  OP_IF,
  OP_CALL_ONCE,
  OP_VAR_HANDLE,
  OP_READ,
  OP_ASSIGN,
  OP_CONCAT,
  OP_RESHAPE,
  OP_SLICE,
  OP_SUM,
  OP_WHERE
};

static tb_model main_graph, sub1, sub2;

static void opcodes(tb_model *m) {
  static const int32_t codes[] = {TFL_OP_WHILE,
                                  TFL_OP_LESS,
                                  TFL_OP_ADD,
                                  TFL_OP_MUL,
                                  TFL_OP_IF,
                                  TFL_OP_CALL_ONCE,
                                  TFL_OP_VAR_HANDLE,
                                  TFL_OP_READ_VARIABLE,
                                  TFL_OP_ASSIGN_VARIABLE,
                                  TFL_OP_CONCATENATION,
                                  TFL_OP_RESHAPE,
                                  TFL_OP_SLICE,
                                  TFL_OP_SUM,
                                  TFL_OP_WHERE};
  m->num_opcodes = (int)(sizeof codes / sizeof codes[0]);
  for (int i = 0; i < m->num_opcodes; i++)
    m->opcodes[i] =
        (tb_opcode){codes[i], (int8_t)(codes[i] < 127 ? codes[i] : 127), NULL};
}

/* A tensor of rank 0 (n == 0) or a vector of n elements. */
static void tensor(tb_model *m, int id, const char *name, int8_t type, int n,
                   uint32_t buffer) {
  tb_tensor *t = &m->tensors[id];
  memset(t, 0, sizeof *t);
  t->name = name;
  t->type = type;
  t->rank = n > 0 ? 1 : 0;
  t->shape[0] = n;
  t->buffer = buffer;
  if (id >= m->num_tensors) m->num_tensors = id + 1;
}

static tb_operator *op(tb_model *m, uint32_t code, int num_inputs,
                       const int32_t *inputs, int num_outputs,
                       const int32_t *outputs) {
  tb_operator *o = &m->operators[m->num_operators++];
  memset(o, 0, sizeof *o);
  o->opcode_index = code;
  o->num_inputs = num_inputs;
  if (num_inputs)
    memcpy(o->inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
  o->num_outputs = num_outputs;
  if (num_outputs)
    memcpy(o->outputs, outputs, sizeof(int32_t) * (size_t)num_outputs);
  return o;
}

static void subgraph_options(tb_operator *o, uint8_t type, int first,
                             int second) {
  o->options_type = type;
  o->num_options = second < -100 ? 1 : 2;
  o->options[0] = (tb_field){.slot = 0, .kind = 'i', .i = first};
  o->options[1] = (tb_field){.slot = 1, .kind = 'i', .i = second};
}

static void io(tb_model *m, int num_inputs, const int32_t *inputs,
               int num_outputs, const int32_t *outputs) {
  m->num_inputs = num_inputs;
  if (num_inputs)
    memcpy(m->inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
  m->num_outputs = num_outputs;
  if (num_outputs)
    memcpy(m->outputs, outputs, sizeof(int32_t) * (size_t)num_outputs);
}

static void reset_models(void) {
  memset(&main_graph, 0, sizeof main_graph);
  memset(&sub1, 0, sizeof sub1);
  memset(&sub2, 0, sizeof sub2);
  opcodes(&main_graph);
  main_graph.num_subgraphs = 2;
  main_graph.subgraphs[0] = &sub1;
  main_graph.subgraphs[1] = &sub2;
}

static kiln_status *load(kiln_model **out) {
  size_t size;
  uint8_t *bytes = tb_build(&main_graph, &size);
  *out = NULL;
  kiln_status *st = kiln_model_load_buffer(bytes, size, "cf.tflite", NULL, out);
  free(bytes);
  return st;
}

/* The built model loaded and a session made on it; NULL (the model freed)
 * when either fails, which the CHECKs have counted. */
static kiln_session *open_session(kiln_model **model) {
  kiln_session *s = NULL;
  CHECK_OK(load(model));
  if (*model) CHECK_OK(kiln_session_create(*model, NULL, &s));
  if (!s) {
    kiln_model_free(*model);
    *model = NULL;
  }
  return s;
}

/* ---------------------------------------------------------------- WHILE */

static int32_t zero = 0, one = 1;
static const int64_t scalar[1] = {0}; /* the dims of a rank-0 input */
static float scale, shift;

/* acc = x; i = 0; while (i < n) { i += 1; acc = acc * scale + shift }:
 * subgraph 1 is the condition, subgraph 2 the body, whose output 1 is its
 * input 1 passed straight through. */
static void while_model(int n) {
  reset_models();
  tb_model *m = &main_graph;
  tensor(m, 0, "x", TFL_TYPE_FLOAT32, n, 0);
  tensor(m, 1, "n", TFL_TYPE_INT32, 0, 0);
  tensor(m, 2, "zero", TFL_TYPE_INT32, 0, 1);
  tensor(m, 3, "i_out", TFL_TYPE_INT32, 0, 0);
  tensor(m, 4, "n_out", TFL_TYPE_INT32, 0, 0);
  tensor(m, 5, "acc_out", TFL_TYPE_FLOAT32, n, 0);
  tb_operator *w =
      op(m, OP_WHILE, 3, (int32_t[]){2, 1, 0}, 3, (int32_t[]){3, 4, 5});
  subgraph_options(w, TFL_OPT_WHILE, 1, 2);
  io(m, 2, (int32_t[]){0, 1}, 2, (int32_t[]){5, 3});
  m->num_buffers = 5;
  m->buffers[1] = (tb_buffer){.data = &zero, .size = sizeof zero};
  m->buffers[2] = (tb_buffer){.data = &one, .size = sizeof one};
  m->buffers[3] = (tb_buffer){.data = &scale, .size = sizeof scale};
  m->buffers[4] = (tb_buffer){.data = &shift, .size = sizeof shift};

  tensor(&sub1, 0, "i", TFL_TYPE_INT32, 0, 0);
  tensor(&sub1, 1, "n", TFL_TYPE_INT32, 0, 0);
  tensor(&sub1, 2, "acc", TFL_TYPE_FLOAT32, n, 0);
  tensor(&sub1, 3, "more", TFL_TYPE_BOOL, 0, 0);
  op(&sub1, OP_LESS, 2, (int32_t[]){0, 1}, 1, (int32_t[]){3});
  io(&sub1, 3, (int32_t[]){0, 1, 2}, 1, (int32_t[]){3});

  tensor(&sub2, 0, "i", TFL_TYPE_INT32, 0, 0);
  tensor(&sub2, 1, "n", TFL_TYPE_INT32, 0, 0);
  tensor(&sub2, 2, "acc", TFL_TYPE_FLOAT32, n, 0);
  tensor(&sub2, 3, "one", TFL_TYPE_INT32, 0, 2);
  tensor(&sub2, 4, "i1", TFL_TYPE_INT32, 0, 0);
  tensor(&sub2, 5, "scale", TFL_TYPE_FLOAT32, 0, 3);
  tensor(&sub2, 6, "scaled", TFL_TYPE_FLOAT32, n, 0);
  tensor(&sub2, 7, "shift", TFL_TYPE_FLOAT32, 0, 4);
  tensor(&sub2, 8, "acc1", TFL_TYPE_FLOAT32, n, 0);
  op(&sub2, OP_ADD, 2, (int32_t[]){0, 3}, 1, (int32_t[]){4});
  op(&sub2, OP_MUL, 2, (int32_t[]){2, 5}, 1, (int32_t[]){6});
  op(&sub2, OP_ADD, 2, (int32_t[]){6, 7}, 1, (int32_t[]){8});
  io(&sub2, 3, (int32_t[]){0, 1, 2}, 3, (int32_t[]){4, 1, 8});
}

static void test_while(void) {
  for (int trial = 0; trial < 6; trial++) {
    int n = kiln_test_int(1, 9);
    scale = kiln_test_uniform(-1.2f, 1.2f);
    shift = kiln_test_uniform(-1, 1);
    while_model(n);
    kiln_model *model = NULL;
    kiln_session *s = open_session(&model);
    if (!s) continue;
    float x[16], acc[16], got[16];
    kiln_test_fill(x, n, -2, 2);
    int64_t dims[1] = {n};
    /* Trip counts 0 (the body never runs) and up; invoking again on the
     * same session starts each loop from the inputs. */
    for (int32_t trips = 0; trips < 9; trips += kiln_test_int(1, 4)) {
      CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x,
                                      sizeof(float) * (size_t)n));
      CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, scalar, 0, &trips,
                                      sizeof trips));
      CHECK_OK(kiln_session_invoke(s));
      CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
      int32_t count = -1;
      CHECK_OK(kiln_session_get_output(s, 1, &count, sizeof count));
      CHECK(count == trips);
      memcpy(acc, x, sizeof(float) * (size_t)n);
      for (int k = 0; k < trips; k++)
        for (int j = 0; j < n; j++) {
          volatile float product = acc[j] * scale; /* rounded as MUL does */
          acc[j] = product + shift;
        }
      kiln_test_close(got, acc, n, 0, 1e-6f, "WHILE result");
    }
    kiln_session_free(s);
    kiln_model_free(model);
  }
}

/* A body whose shapes follow its counter, as the converter's LSTM bodies
 * do: total += sum(x[0:i]) for i = start .. n-1. The SLICE's size is the
 * counter, so the body prepares again every round; the start is either a
 * constant (the body prepares at prepare too) or a graph input (known
 * only at invoke). */
static int32_t slice_begin = 0, axis0 = 0, shape1 = 1;
static float fzero = 0.0f;

static void prefix_model(int n, bool start_is_input) {
  reset_models();
  tb_model *m = &main_graph;
  tensor(m, 0, "x", TFL_TYPE_FLOAT32, n, 0);
  tensor(m, 1, "n", TFL_TYPE_INT32, 0, 0);
  tensor(m, 2, "start", TFL_TYPE_INT32, 0, start_is_input ? 0 : 2);
  tensor(m, 3, "fzero", TFL_TYPE_FLOAT32, 0, 3);
  tensor(m, 4, "i_out", TFL_TYPE_INT32, 0, 0);
  tensor(m, 5, "n_out", TFL_TYPE_INT32, 0, 0);
  tensor(m, 6, "x_out", TFL_TYPE_FLOAT32, n, 0);
  tensor(m, 7, "total", TFL_TYPE_FLOAT32, 0, 0);
  subgraph_options(
      op(m, OP_WHILE, 4, (int32_t[]){2, 1, 0, 3}, 4, (int32_t[]){4, 5, 6, 7}),
      TFL_OPT_WHILE, 1, 2);
  if (start_is_input)
    io(m, 3, (int32_t[]){0, 1, 2}, 1, (int32_t[]){7});
  else
    io(m, 2, (int32_t[]){0, 1}, 1, (int32_t[]){7});
  m->num_buffers = 7;
  m->buffers[1] = (tb_buffer){.data = &one, .size = sizeof one};
  m->buffers[2] = (tb_buffer){.data = &one, .size = sizeof one};
  m->buffers[3] = (tb_buffer){.data = &fzero, .size = sizeof fzero};
  m->buffers[4] = (tb_buffer){.data = &shape1, .size = sizeof shape1};
  m->buffers[5] = (tb_buffer){.data = &slice_begin, .size = sizeof slice_begin};
  m->buffers[6] = (tb_buffer){.data = &axis0, .size = sizeof axis0};

  tensor(&sub1, 0, "i", TFL_TYPE_INT32, 0, 0);
  tensor(&sub1, 1, "n", TFL_TYPE_INT32, 0, 0);
  tensor(&sub1, 2, "x", TFL_TYPE_FLOAT32, n, 0);
  tensor(&sub1, 3, "total", TFL_TYPE_FLOAT32, 0, 0);
  tensor(&sub1, 4, "more", TFL_TYPE_BOOL, 0, 0);
  op(&sub1, OP_LESS, 2, (int32_t[]){0, 1}, 1, (int32_t[]){4});
  io(&sub1, 4, (int32_t[]){0, 1, 2, 3}, 1, (int32_t[]){4});

  tb_model *b = &sub2;
  tensor(b, 0, "i", TFL_TYPE_INT32, 0, 0);
  tensor(b, 1, "n", TFL_TYPE_INT32, 0, 0);
  tensor(b, 2, "x", TFL_TYPE_FLOAT32, n, 0);
  tensor(b, 3, "total", TFL_TYPE_FLOAT32, 0, 0);
  tensor(b, 4, "one", TFL_TYPE_INT32, 0, 1);
  tensor(b, 5, "i1", TFL_TYPE_INT32, 0, 0);
  tensor(b, 6, "shape1", TFL_TYPE_INT32, 1, 4);
  tensor(b, 7, "size", TFL_TYPE_INT32, 1, 0);
  tensor(b, 8, "begin", TFL_TYPE_INT32, 1, 5);
  tensor(b, 9, "part", TFL_TYPE_FLOAT32, 1, 0);
  b->tensors[9].has_signature = true;
  b->tensors[9].sig_rank = 1;
  b->tensors[9].signature[0] = -1;
  tensor(b, 10, "axis", TFL_TYPE_INT32, 1, 6);
  tensor(b, 11, "part_sum", TFL_TYPE_FLOAT32, 0, 0);
  tensor(b, 12, "total1", TFL_TYPE_FLOAT32, 0, 0);
  op(b, OP_ADD, 2, (int32_t[]){0, 4}, 1, (int32_t[]){5});
  op(b, OP_RESHAPE, 2, (int32_t[]){0, 6}, 1, (int32_t[]){7});
  op(b, OP_SLICE, 3, (int32_t[]){2, 8, 7}, 1, (int32_t[]){9});
  op(b, OP_SUM, 2, (int32_t[]){9, 10}, 1, (int32_t[]){11});
  op(b, OP_ADD, 2, (int32_t[]){3, 11}, 1, (int32_t[]){12});
  io(b, 4, (int32_t[]){0, 1, 2, 3}, 4, (int32_t[]){5, 1, 2, 12});
}

static void test_counter_shaped_body(void) {
  for (int variant = 0; variant < 2; variant++) {
    int n = kiln_test_int(2, 10);
    prefix_model(n, variant == 1);
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    CHECK_OK(load(&model));
    if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
    for (int trial = 0; s && trial < 4; trial++) {
      float x[16], got = 0.0f;
      kiln_test_fill(x, n, -2, 2);
      int32_t limit = kiln_test_int(0, n), start = kiln_test_int(1, 2);
      if (variant == 0) start = 1;
      int64_t dims[1] = {n};
      CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x,
                                      sizeof(float) * (size_t)n));
      CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, scalar, 0, &limit,
                                      sizeof limit));
      if (variant == 1)
        CHECK_OK(kiln_session_set_input(s, 2, KILN_INT32, scalar, 0, &start,
                                        sizeof start));
      CHECK_OK(kiln_session_invoke(s));
      CHECK_OK(kiln_session_get_output(s, 0, &got, sizeof got));
      float total = 0.0f;
      for (int i = start; i < limit; i++) {
        float part = 0.0f;
        for (int j = 0; j < i; j++) part += x[j];
        total += part;
      }
      kiln_test_close(&got, &total, 1, 1e-6f, 1e-6f,
                      variant ? "counter-shaped body, start at invoke"
                              : "counter-shaped body");
    }
    kiln_session_free(s);
    kiln_model_free(model);
  }
}

/* ------------------------------------------------------------------- IF */

static float two_f = 2.0f, three_f = 3.0f;

/* y = c ? x * 2 : x + 3, the branches subgraphs 1 and 2. */
static void if_model(int n) {
  reset_models();
  tb_model *m = &main_graph;
  tensor(m, 0, "c", TFL_TYPE_BOOL, 0, 0);
  tensor(m, 1, "x", TFL_TYPE_FLOAT32, n, 0);
  tensor(m, 2, "y", TFL_TYPE_FLOAT32, n, 0);
  tb_operator *o = op(m, OP_IF, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  subgraph_options(o, TFL_OPT_IF, 1, 2);
  io(m, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  m->num_buffers = 3;
  m->buffers[1] = (tb_buffer){.data = &two_f, .size = sizeof two_f};
  m->buffers[2] = (tb_buffer){.data = &three_f, .size = sizeof three_f};
  tb_model *branches[2] = {&sub1, &sub2};
  for (int b = 0; b < 2; b++) {
    tensor(branches[b], 0, "x", TFL_TYPE_FLOAT32, n, 0);
    tensor(branches[b], 1, b ? "three" : "two", TFL_TYPE_FLOAT32, 0,
           (uint32_t)b + 1);
    tensor(branches[b], 2, "y", TFL_TYPE_FLOAT32, n, 0);
    op(branches[b], b ? OP_ADD : OP_MUL, 2, (int32_t[]){0, 1}, 1,
       (int32_t[]){2});
    io(branches[b], 1, (int32_t[]){0}, 1, (int32_t[]){2});
  }
}

static void test_if(void) {
  int n = kiln_test_int(1, 12);
  if_model(n);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  for (int trial = 0; s && trial < 6; trial++) {
    float x[16], want[16], got[16];
    kiln_test_fill(x, n, -5, 5);
    uint8_t c = (uint8_t)kiln_test_int(0, 1);
    for (int j = 0; j < n; j++) want[j] = c ? x[j] * 2.0f : x[j] + 3.0f;
    int64_t dims[1] = {n};
    CHECK_OK(kiln_session_set_input(s, 0, KILN_BOOL, scalar, 0, &c, 1));
    CHECK_OK(kiln_session_set_input(s, 1, KILN_FLOAT32, dims, 1, x,
                                    sizeof(float) * (size_t)n));
    CHECK_OK(kiln_session_invoke(s));
    CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
    kiln_test_close(got, want, n, 0, 0, c ? "IF then" : "IF else");
  }
  kiln_session_free(s);
  kiln_model_free(model);
}

/* ------------------------------------------------------------ variables */

static float initial[16];

/* CALL_ONCE runs subgraph 1, which assigns `initial` to variable "acc";
 * then every invoke reads it, adds x, assigns the sum back and returns
 * it. Without the CALL_ONCE the first read finds nothing assigned. */
static void variable_model(int n, bool with_init) {
  reset_models();
  main_graph.num_subgraphs = 1;
  tb_model *m = &main_graph;
  tensor(m, 0, "x", TFL_TYPE_FLOAT32, n, 0);
  tensor(m, 1, "handle", TFL_TYPE_RESOURCE, 0, 0);
  tensor(m, 2, "value", TFL_TYPE_FLOAT32, n, 0);
  tensor(m, 3, "sum", TFL_TYPE_FLOAT32, n, 0);
  if (with_init) {
    tb_operator *o = op(m, OP_CALL_ONCE, 0, NULL, 0, NULL);
    subgraph_options(o, TFL_OPT_CALL_ONCE, 1, -1000);
  }
  tb_operator *h = op(m, OP_VAR_HANDLE, 0, NULL, 1, (int32_t[]){1});
  h->options_type = TFL_OPT_VAR_HANDLE;
  h->num_options = 1;
  h->options[0] =
      (tb_field){.slot = TFL_VAR_HANDLE_SHARED_NAME, .kind = 's', .s = "acc"};
  op(m, OP_READ, 1, (int32_t[]){1}, 1, (int32_t[]){2});
  op(m, OP_ADD, 2, (int32_t[]){2, 0}, 1, (int32_t[]){3});
  op(m, OP_ASSIGN, 2, (int32_t[]){1, 3}, 0, NULL);
  io(m, 1, (int32_t[]){0}, 1, (int32_t[]){3});
  m->num_buffers = 2;
  m->buffers[1] =
      (tb_buffer){.data = initial, .size = sizeof(float) * (size_t)n};

  tensor(&sub1, 0, "handle", TFL_TYPE_RESOURCE, 0, 0);
  tensor(&sub1, 1, "initial", TFL_TYPE_FLOAT32, n, 1);
  tb_operator *h1 = op(&sub1, OP_VAR_HANDLE, 0, NULL, 1, (int32_t[]){0});
  *h1 = *h;
  h1->outputs[0] = 0;
  op(&sub1, OP_ASSIGN, 2, (int32_t[]){0, 1}, 0, NULL);
  io(&sub1, 0, NULL, 0, NULL);
}

static void invoke_sum(kiln_session *s, const float *x, int n, float *state,
                       const char *what) {
  float got[16];
  int64_t dims[1] = {n};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x,
                                  sizeof(float) * (size_t)n));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
  for (int j = 0; j < n; j++) state[j] += x[j];
  kiln_test_close(got, state, n, 0, 0, what);
}

static void test_variables(void) {
  int n = kiln_test_int(1, 12);
  kiln_test_fill(initial, n, -3, 3);
  variable_model(n, true);
  kiln_model *model = NULL;
  kiln_session *a = NULL, *b = NULL;
  CHECK_OK(load(&model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &a));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &b));
  if (a && b) {
    float x[16], state_a[16], state_b[16];
    memcpy(state_a, initial, sizeof state_a);
    memcpy(state_b, initial, sizeof state_b);
    kiln_test_fill(x, n, -1, 1);
    invoke_sum(a, x, n, state_a, "first invoke");
    invoke_sum(a, x, n, state_a, "second invoke carries the variable");
    invoke_sum(b, x, n, state_b, "another session has its own variable");
    invoke_sum(a, x, n, state_a, "third invoke");
    CHECK_OK(kiln_session_reset_variables(a));
    memcpy(state_a, initial, sizeof state_a);
    invoke_sum(a, x, n, state_a, "after reset CALL_ONCE runs again");
    CHECK_OK(kiln_session_prepare(b));
    memcpy(state_b, initial, sizeof state_b);
    invoke_sum(b, x, n, state_b, "after prepare");
  }
  kiln_session_free(a);
  kiln_session_free(b);
  kiln_model_free(model);

  /* Nothing assigns the variable before the first read. */
  variable_model(n, false);
  CHECK_OK(load(&model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &a));
  if (a) {
    float x[16] = {0};
    int64_t dims[1] = {n};
    CHECK_OK(kiln_session_set_input(a, 0, KILN_FLOAT32, dims, 1, x,
                                    sizeof(float) * (size_t)n));
    CHECK_ERROR(kiln_session_invoke(a), KILN_ERR_RUNTIME,
                "operator 1 (READ_VARIABLE): variable 'acc' is read before "
                "anything assigned it");
  }
  kiln_session_free(a);
  kiln_model_free(model);
}

/* ------------------------------------------------------------ bad files */

static void check_refused(kiln_status_code code, const char *needle) {
  kiln_model *model = NULL;
  CHECK_ERROR(load(&model), code, needle);
  CHECK(model == NULL);
  kiln_model_free(model);
}

static void test_bad_files(void) {
  int n = 3;
  while_model(n);
  main_graph.operators[0].options[1].i = 7;
  check_refused(KILN_ERR_INVALID_MODEL,
                "subgraph 0: operator 0 (WHILE): body_subgraph_index 7 is out "
                "of range (the model has 3 subgraphs)");
  while_model(n);
  main_graph.operators[0].options[0].i = -1;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (WHILE): WhileOptions: cond_subgraph_index is -1");
  /* Subgraph 0 calling itself, and the body calling itself. */
  while_model(n);
  main_graph.operators[0].options[1].i = 0;
  check_refused(KILN_ERR_INVALID_MODEL,
                "subgraph 0: operator 0 (WHILE): body_subgraph_index 0 calls "
                "subgraph 0 again while it runs (recursion is not supported)");
  while_model(n);
  tensor(&sub2, 9, "i2", TFL_TYPE_INT32, 0, 0);
  tensor(&sub2, 10, "n2", TFL_TYPE_INT32, 0, 0);
  tensor(&sub2, 11, "acc2", TFL_TYPE_FLOAT32, n, 0);
  subgraph_options(
      op(&sub2, OP_WHILE, 3, (int32_t[]){4, 1, 8}, 3, (int32_t[]){9, 10, 11}),
      TFL_OPT_WHILE, 1, 2);
  sub2.outputs[2] = 11;
  check_refused(KILN_ERR_INVALID_MODEL,
                "subgraph 2: operator 3 (WHILE): body_subgraph_index 2 calls "
                "subgraph 2 again");
  /* Inputs and outputs that do not match the subgraphs'. */
  while_model(n);
  sub1.num_inputs = 2;
  check_refused(KILN_ERR_INVALID_MODEL,
                "subgraph 0: operator 0 (WHILE): subgraph 1 has 2 inputs; the "
                "operator needs 3");
  while_model(n);
  sub2.num_outputs = 2;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (WHILE): subgraph 2 has 2 outputs; the operator "
                "needs 3");
  while_model(n);
  main_graph.operators[0].num_outputs = 2;
  main_graph.operators[0].outputs[1] = 5;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (WHILE): has 3 inputs but 2 outputs");
  while_model(n);
  sub1.tensors[2].type = TFL_TYPE_INT32;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (WHILE): input 2 is float32 but input 2 of "
                "subgraph 1 is int32");
  while_model(n);
  sub2.tensors[8].type = TFL_TYPE_INT32;
  check_refused(KILN_ERR_INVALID_MODEL,
                "output 2 is float32 but output 2 of subgraph 2 is int32");
  while_model(n);
  sub1.tensors[3].type = TFL_TYPE_INT32;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (WHILE): the output of cond subgraph 1 is int32, "
                "not bool");
  /* An IF whose branch takes another number of inputs, and whose
   * condition is not a bool. */
  if_model(n);
  main_graph.operators[0].num_inputs = 3;
  main_graph.operators[0].inputs[2] = 1;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (IF): subgraph 1 has 1 inputs; the operator needs "
                "2");
  if_model(n);
  main_graph.tensors[0].type = TFL_TYPE_INT32;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (IF): the condition (input 0) is int32, not bool");
  /* A CALL_ONCE initializer must take and give nothing. */
  variable_model(n, true);
  sub1.num_outputs = 1;
  sub1.outputs[0] = 1;
  check_refused(KILN_ERR_INVALID_MODEL,
                "operator 0 (CALL_ONCE): init subgraph 1 has 0 inputs and 1 "
                "outputs");
  /* A failing subgraph names itself. */
  while_model(n);
  sub2.operators[0].inputs[1] = 12;
  check_refused(KILN_ERR_INVALID_MODEL, "subgraph 2: operator 0 (ADD)");
}

/* ---- allocations counted through the embedder's allocator ---- */
static long allocations;

static void *count_allocate(void *context, size_t size) {
  (void)context;
  allocations++;
  return malloc(size ? size : 1);
}
static void *count_reallocate(void *context, void *pointer, size_t size) {
  (void)context;
  allocations++;
  return realloc(pointer, size ? size : 1);
}
static void count_release(void *context, void *pointer) {
  (void)context;
  free(pointer);
}

/* Invokes the loaded model `times` times on zero inputs (n from `trips`)
 * and returns how many allocations the invokes made. */
static long invoke_allocations(int times, int32_t trips) {
  kiln_allocator counter = {NULL, count_allocate, count_reallocate,
                            count_release};
  kiln_options options = kiln_options_default();
  options.allocator = &counter;
  size_t size;
  uint8_t *bytes = tb_build(&main_graph, &size);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  long made = -1;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "cf.tflite", &options, &model));
  free(bytes);
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) {
    kiln_tensor_info info;
    for (int i = 0; i < kiln_model_num_inputs(model); i++) {
      CHECK_OK(kiln_session_input_info(s, i, &info));
      void *data;
      size_t nbytes;
      CHECK_OK(kiln_session_input_buffer(s, i, &data, &nbytes));
      memset(data, 0, nbytes);
      if (info.dtype == KILN_INT32 && nbytes == sizeof trips)
        memcpy(data, &trips, sizeof trips);
    }
    CHECK_OK(kiln_session_invoke(s)); /* CALL_ONCE's first run */
    allocations = 0;
    for (int k = 0; k < times; k++) CHECK_OK(kiln_session_invoke(s));
    made = allocations;
  }
  kiln_session_free(s);
  kiln_model_free(model);
  return made;
}

/* Loops that keep their shapes, IF and variables allocate nothing at
 * invoke; a loop whose body follows its counter prepares every round. */
static void test_invoke_allocates_nothing(void) {
  while_model(5);
  CHECK(invoke_allocations(3, 6) == 0);
  if_model(5);
  CHECK(invoke_allocations(3, 0) == 0);
  variable_model(5, true);
  CHECK(invoke_allocations(3, 0) == 0);
  prefix_model(5, false);
  CHECK(invoke_allocations(1, 4) > 0);
}

/* Subgraph k (1..levels) passes a bool through and runs two WHILEs whose
 * cond and body are both subgraph k + 1; the main graph runs one on
 * subgraph 1. No recursion, but each level quadruples the sessions a
 * session would make: refused at load past the budget. `back` makes the
 * last level call subgraph 1 instead (indirect recursion). */
static tb_model levels_models[8];

static void fanout_model(int levels, bool back) {
  reset_models();
  main_graph.num_subgraphs = levels;
  tensor(&main_graph, 0, "b", TFL_TYPE_BOOL, 0, 0);
  tensor(&main_graph, 1, "b1", TFL_TYPE_BOOL, 0, 0);
  subgraph_options(
      op(&main_graph, OP_WHILE, 1, (int32_t[]){0}, 1, (int32_t[]){1}),
      TFL_OPT_WHILE, 1, 1);
  io(&main_graph, 1, (int32_t[]){0}, 1, (int32_t[]){1});
  for (int k = 1; k <= levels; k++) {
    tb_model *m = &levels_models[k - 1];
    memset(m, 0, sizeof *m);
    main_graph.subgraphs[k - 1] = m;
    tensor(m, 0, "b", TFL_TYPE_BOOL, 0, 0);
    io(m, 1, (int32_t[]){0}, 1, (int32_t[]){0});
    int next = k < levels ? k + 1 : (back ? 1 : 0);
    if (!next) continue;
    tensor(m, 1, "b1", TFL_TYPE_BOOL, 0, 0);
    tensor(m, 2, "b2", TFL_TYPE_BOOL, 0, 0);
    subgraph_options(op(m, OP_WHILE, 1, (int32_t[]){0}, 1, (int32_t[]){1}),
                     TFL_OPT_WHILE, next, next);
    subgraph_options(op(m, OP_WHILE, 1, (int32_t[]){1}, 1, (int32_t[]){2}),
                     TFL_OPT_WHILE, next, next);
  }
}

static void test_call_budget(void) {
  kiln_model *model = NULL;
  fanout_model(6, false); /* subgraph 1 alone: 1 + 4 * 341 = 1365 */
  check_refused(KILN_ERR_UNSUPPORTED,
                "cf.tflite: subgraph 1 calls subgraphs so many times over");
  fanout_model(5, false); /* 1 + 2 * 341 = 683 in all */
  CHECK_OK(load(&model));
  kiln_model_free(model);
  fanout_model(3, true);
  check_refused(KILN_ERR_INVALID_MODEL,
                "subgraph 3: operator 0 (WHILE): cond_subgraph_index 1 calls "
                "subgraph 1 again while it runs");
}

/* An error inside a subgraph names the calling operator, the subgraph
 * and the operator there, once each. */
static void test_error_inside_subgraph(void) {
  if_model(4);
  sub1.tensors[1].type = TFL_TYPE_INT32; /* x * 2 with an int32 2 */
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (model)
    CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
                "cf.tflite: operator 0 (IF): in then subgraph 1: operator 0 "
                "(MUL): ");
  CHECK(s == NULL);
  kiln_model_free(model);
}

/* A body that grows a loop variable (acc1 concatenated with itself) is
 * refused at prepare, naming the variable and both shapes. */
static void test_shape_changing_loop(void) {
  while_model(4);
  tensor(&sub2, 9, "grown", TFL_TYPE_FLOAT32, 8, 0);
  tb_operator *c =
      op(&sub2, OP_CONCAT, 2, (int32_t[]){8, 8}, 1, (int32_t[]){9});
  c->options_type = TFL_OPT_CONCATENATION;
  c->num_options = 1;
  c->options[0] = (tb_field){.slot = TFL_CONCAT_AXIS, .kind = 'i', .i = 0};
  sub2.outputs[2] = 9;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (model)
    CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_UNSUPPORTED,
                "operator 0 (WHILE): body subgraph 2 changes loop variable 2 "
                "from shape [4] to [8]");
  CHECK(s == NULL);
  kiln_model_free(model);
}

/* Values sized at invoke (ARCHITECTURE.md, "Outputs sized at invoke") do not
 * cross an IF: its outputs are planned in the parent from the branches'
 * shapes, and its branches are prepared for its inputs' shapes. */
static void test_sized_at_invoke_at_if(void) {
  int n = 5;
  for (int into = 0; into < 2; into++) {
    reset_models();
    tb_model *m = &main_graph;
    tensor(m, 0, "c", TFL_TYPE_BOOL, 0, 0);
    tensor(m, 1, "x", TFL_TYPE_FLOAT32, n, 0);
    tensor(m, 2, into ? "w" : "y", TFL_TYPE_INT64, 1, 0);
    tensor(m, 3, "y", TFL_TYPE_INT64, 1, 0);
    if (into) op(m, OP_WHERE, 1, (int32_t[]){1}, 1, (int32_t[]){2});
    tb_operator *o = op(m, OP_IF, 2, (int32_t[]){0, into ? 2 : 1}, 1,
                        (int32_t[]){into ? 3 : 2});
    subgraph_options(o, TFL_OPT_IF, 1, 2);
    io(m, 2, (int32_t[]){0, 1}, 1, (int32_t[]){into ? 3 : 2});
    m->num_buffers = 1;
    tb_model *branches[2] = {&sub1, &sub2};
    for (int b = 0; b < 2; b++) {
      /* into: pass the WHERE's rows through; else WHERE(x) in the branch */
      tensor(branches[b], 0, "x", into ? TFL_TYPE_INT64 : TFL_TYPE_FLOAT32,
             into ? 1 : n, 0);
      tensor(branches[b], 1, "w", TFL_TYPE_INT64, 1, 0);
      if (!into)
        op(branches[b], OP_WHERE, 1, (int32_t[]){0}, 1, (int32_t[]){1});
      io(branches[b], 1, (int32_t[]){0}, 1, (int32_t[]){into ? 0 : 1});
    }
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    CHECK_OK(load(&model));
    if (!model) continue;
    CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_UNSUPPORTED,
                into ? "operator 1 (IF): input 1 is sized at invoke"
                     : "operator 0 (IF): output 0 of then subgraph 1 is sized "
                       "at invoke");
    CHECK(s == NULL);
    kiln_model_free(model);
  }
}

/* ---- cancellation: a loop that would run for billions of rounds ---- */
static int checks_left;
static int stop_after_budget(void *context) {
  (void)context;
  return --checks_left < 0;
}

static void *cancel_soon(void *session) {
  struct timespec pause = {0, 20 * 1000 * 1000};
  nanosleep(&pause, NULL);
  kiln_session_cancel(session);
  return NULL;
}

static void set_loop_inputs(kiln_session *s, int32_t trips) {
  float x[4] = {0};
  int64_t dims[1] = {4};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x, sizeof x));
  CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, scalar, 0, &trips,
                                  sizeof trips));
}

/* A WHILE that never ends in practice stops with KILN_ERR_CANCELLED, by
 * the caller's check or by kiln_session_cancel from another thread, and
 * the next invoke runs normally. */
static void test_cancel(void) {
  scale = 1.0f;
  shift = 0.0f;
  while_model(4);
  kiln_model *model = NULL;
  kiln_session *s = open_session(&model);
  if (!s) return;
  set_loop_inputs(s, INT32_MAX);
  checks_left = 1000;
  CHECK_OK(kiln_session_set_cancel_check(s, stop_after_budget, NULL));
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_CANCELLED, "cancelled");
  CHECK(checks_left == -1);
  CHECK_OK(kiln_session_set_cancel_check(s, NULL, NULL));

  kiln_session_cancel(s); /* before the invoke: dropped when it starts */
  set_loop_inputs(s, 3);
  CHECK_OK(kiln_session_invoke(s));
  int32_t count = -1;
  CHECK_OK(kiln_session_get_output(s, 1, &count, sizeof count));
  CHECK(count == 3);

  set_loop_inputs(s, INT32_MAX);
  pthread_t canceller;
  CHECK(pthread_create(&canceller, NULL, cancel_soon, s) == 0);
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_CANCELLED, "cancelled");
  pthread_join(canceller, NULL);
  set_loop_inputs(s, 2);
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 1, &count, sizeof count));
  CHECK(count == 2);
  kiln_session_free(s);
  kiln_model_free(model);
}

int main(void) {
  kiln_test_seed(0xc0f1);
  test_while();
  test_counter_shaped_body();
  test_if();
  test_variables();
  test_bad_files();
  test_invoke_allocates_nothing();
  test_error_inside_subgraph();
  test_call_budget();
  test_shape_changing_loop();
  test_sized_at_invoke_at_if();
  test_cancel();
  return kiln_test_finish("test_control_flow");
}
