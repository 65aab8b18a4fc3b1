/* test_stablehlo_subgraphs.c - the StableHLO operators that name other
 * subgraphs, on .tflite files built in C: STABLEHLO_REDUCE_WINDOW and
 * STABLEHLO_SCATTER with each body the importer recognizes (a TFLite or a
 * StableHLO binary operator; SCATTER's "return the update"), against the
 * computation written out here; STABLEHLO_CASE on every index, those out
 * of range included (the last branch runs); STABLEHLO_COMPOSITE running
 * its decomposition; and bad files refused at load with a message naming
 * the operator and the subgraph: bodies kiln does not know, subgraph
 * indices out of range, a CASE index that is not int32, branches and
 * decompositions whose inputs or outputs do not match. */
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum {
  OP_REDUCE_WINDOW,
  OP_SCATTER,
  OP_CASE,
  OP_COMPOSITE,
  OP_HLO_ADD,
  OP_HLO_MUL,
  OP_HLO_MAX,
  OP_ADD,
  OP_SUB,
  OP_MUL,
};

static tb_model main_graph, subs[8];

static void reset_models(int num_subgraphs) {
  static const int32_t codes[] = {TFL_OP_STABLEHLO_REDUCE_WINDOW,
                                  TFL_OP_STABLEHLO_SCATTER,
                                  TFL_OP_STABLEHLO_CASE,
                                  TFL_OP_STABLEHLO_COMPOSITE,
                                  TFL_OP_STABLEHLO_ADD,
                                  TFL_OP_STABLEHLO_MULTIPLY,
                                  TFL_OP_STABLEHLO_MAXIMUM,
                                  TFL_OP_ADD,
                                  TFL_OP_SUB,
                                  TFL_OP_MUL};
  memset(&main_graph, 0, sizeof main_graph);
  memset(subs, 0, sizeof subs);
  tb_model *m = &main_graph;
  m->num_opcodes = (int)(sizeof codes / sizeof codes[0]);
  for (int i = 0; i < m->num_opcodes; i++)
    m->opcodes[i] =
        (tb_opcode){codes[i], (int8_t)(codes[i] < 127 ? codes[i] : 127), NULL};
  m->num_subgraphs = num_subgraphs;
  for (int i = 0; i < num_subgraphs; i++) m->subgraphs[i] = &subs[i];
}

/* A tensor of `rank` dims (d0, d1) of `type`. */
static void tensor(tb_model *m, int id, int8_t type, int rank, int d0, int d1,
                   uint32_t buffer) {
  tb_tensor *t = &m->tensors[id];
  memset(t, 0, sizeof *t);
  t->type = type;
  t->rank = rank;
  t->shape[0] = d0;
  t->shape[1] = d1;
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
  memcpy(o->inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
  o->num_outputs = num_outputs;
  memcpy(o->outputs, outputs, sizeof(int32_t) * (size_t)num_outputs);
  return o;
}

static void io(tb_model *m, int num_inputs, const int32_t *inputs,
               int num_outputs, const int32_t *outputs) {
  m->num_inputs = num_inputs;
  memcpy(m->inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
  m->num_outputs = num_outputs;
  memcpy(m->outputs, outputs, sizeof(int32_t) * (size_t)num_outputs);
}

static tb_field longs(int slot, int count, const int32_t *values) {
  tb_field f = {.slot = slot, .kind = 'l', .vec_len = count};
  memcpy(f.vec, values, sizeof(int32_t) * (size_t)count);
  return f;
}

/* A body: two float scalars in, `code` applied (-1: no operator, the body
 * returns input `pass`), one out. */
static void scalar_body(tb_model *b, int code, int pass) {
  tensor(b, 0, TFL_TYPE_FLOAT32, 0, 0, 0, 0);
  tensor(b, 1, TFL_TYPE_FLOAT32, 0, 0, 0, 0);
  tensor(b, 2, TFL_TYPE_FLOAT32, 0, 0, 0, 0);
  if (code < 0) {
    io(b, 2, (int32_t[]){0, 1}, 1, (int32_t[]){pass});
    return;
  }
  op(b, (uint32_t)code, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  io(b, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
}

static kiln_status *load(kiln_model **out) {
  size_t size;
  uint8_t *bytes = tb_build(&main_graph, &size);
  *out = NULL;
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "shlo.tflite", NULL, out);
  free(bytes);
  return st;
}

static void expect_refused(kiln_status_code code, const char *needle) {
  kiln_model *model = NULL;
  CHECK_ERROR(load(&model), code, needle);
  kiln_model_free(model);
}

/* Loads the model and a session for it; NULL (with a failed check) when
 * either fails. */
static kiln_session *open_session(kiln_model **model) {
  kiln_session *s = NULL;
  CHECK_OK(load(model));
  if (*model) CHECK_OK(kiln_session_create(*model, NULL, &s));
  return s;
}

static void close_session(kiln_session *s, kiln_model *model) {
  kiln_session_free(s);
  kiln_model_free(model);
}

/* --------------------------------------------------------- REDUCE_WINDOW */

static float init_value;

/* y = reduce_window(x [n], window 2, stride 1) with body `code`. */
static void reduce_window_model(int n, int code, int body_index) {
  reset_models(1);
  tb_model *m = &main_graph;
  tensor(m, 0, TFL_TYPE_FLOAT32, 1, n, 0, 0);
  tensor(m, 1, TFL_TYPE_FLOAT32, 0, 0, 0, 1);
  tensor(m, 2, TFL_TYPE_FLOAT32, 1, n - 1, 0, 0);
  tb_operator *o =
      op(m, OP_REDUCE_WINDOW, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  o->options_type = TFL_OPT_STABLEHLO_REDUCE_WINDOW - TFL_OPT2_BASE;
  o->options_2 = true;
  o->num_options = 3;
  o->options[0] = longs(TFL_HLO_RW_WINDOW_DIMENSIONS, 1, (int32_t[]){2});
  o->options[1] = longs(TFL_HLO_RW_WINDOW_STRIDES, 1, (int32_t[]){1});
  o->options[2] = (tb_field){
      .slot = TFL_HLO_RW_BODY_SUBGRAPH, .kind = 'i', .i = body_index};
  io(m, 1, (int32_t[]){0}, 1, (int32_t[]){2});
  m->num_buffers = 2;
  m->buffers[1] = (tb_buffer){.data = &init_value, .size = sizeof init_value};
  scalar_body(&subs[0], code, 0);
}

static void test_reduce_window(void) {
  static const int bodies[] = {OP_ADD, OP_HLO_ADD, OP_MUL, OP_HLO_MAX};
  for (int b = 0; b < 4; b++) {
    int n = kiln_test_int(2, 12);
    init_value = bodies[b] == OP_MUL ? 1.0f : kiln_test_uniform(-1, 1);
    reduce_window_model(n, bodies[b], 1);
    kiln_model *model = NULL;
    kiln_session *s = open_session(&model);
    if (!s) {
      kiln_model_free(model);
      continue;
    }
    float x[12], got[12], want[12];
    kiln_test_fill(x, n, -2, 2);
    int64_t dims[1] = {n};
    CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x,
                                    sizeof(float) * (size_t)n));
    CHECK_OK(kiln_session_invoke(s));
    CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
    for (int i = 0; i + 1 < n; i++) {
      volatile float acc = init_value; /* rounded step by step */
      for (int k = 0; k < 2; k++) {
        float v = x[i + k];
        if (bodies[b] == OP_MUL) acc = acc * v;
        if (bodies[b] == OP_HLO_MAX) acc = acc >= v ? acc : v;
        if (bodies[b] == OP_ADD || bodies[b] == OP_HLO_ADD) acc = acc + v;
      }
      want[i] = acc;
    }
    kiln_test_close(got, want, n - 1, 0, 0, "REDUCE_WINDOW result");
    close_session(s, model);
  }
}

static void test_reduce_window_refused(void) {
  reduce_window_model(4, OP_SUB, 1);
  expect_refused(KILN_ERR_UNSUPPORTED, "body subgraph 1 is SUB");
  reduce_window_model(4, OP_ADD, 5);
  expect_refused(KILN_ERR_INVALID_MODEL, "body subgraph 5 is out of range");
  /* two operators: x + y, then + y again */
  reduce_window_model(4, OP_ADD, 1);
  tensor(&subs[0], 3, TFL_TYPE_FLOAT32, 0, 0, 0, 0);
  op(&subs[0], OP_ADD, 2, (int32_t[]){2, 1}, 1, (int32_t[]){3});
  subs[0].outputs[0] = 3;
  expect_refused(KILN_ERR_UNSUPPORTED, "it has 2 operators");
  /* one ADD, but of input 0 with itself */
  reduce_window_model(4, OP_ADD, 1);
  subs[0].operators[0].inputs[1] = 0;
  expect_refused(KILN_ERR_UNSUPPORTED, "combining the body's two inputs");
  /* a missing window */
  reduce_window_model(4, OP_ADD, 1);
  main_graph.operators[0].options[0].vec_len = 0;
  expect_refused(KILN_ERR_INVALID_MODEL, "window_dimensions has 0 entries");
}

/* --------------------------------------------------------------- SCATTER */

/* out = operand [5, 3] with rows idx [2, 1] replaced (or combined by
 * `code`) by updates [2, 3]. */
static void scatter_model(int code, int pass) {
  reset_models(1);
  tb_model *m = &main_graph;
  tensor(m, 0, TFL_TYPE_FLOAT32, 2, 5, 3, 0);
  tensor(m, 1, TFL_TYPE_INT32, 2, 2, 1, 0);
  tensor(m, 2, TFL_TYPE_FLOAT32, 2, 2, 3, 0);
  tensor(m, 3, TFL_TYPE_FLOAT32, 2, 5, 3, 0);
  tb_operator *o =
      op(m, OP_SCATTER, 3, (int32_t[]){0, 1, 2}, 1, (int32_t[]){3});
  o->options_type = TFL_OPT_STABLEHLO_SCATTER - TFL_OPT2_BASE;
  o->options_2 = true;
  o->num_options = 5;
  o->options[0] = longs(TFL_HLO_SCATTER_UPDATE_WINDOW_DIMS, 1, (int32_t[]){1});
  o->options[1] =
      longs(TFL_HLO_SCATTER_INSERTED_WINDOW_DIMS, 1, (int32_t[]){0});
  o->options[2] =
      longs(TFL_HLO_SCATTER_DIMS_TO_OPERAND_DIMS, 1, (int32_t[]){0});
  o->options[3] =
      (tb_field){.slot = TFL_HLO_SCATTER_INDEX_VECTOR_DIM, .kind = 'q', .i = 1};
  o->options[4] = (tb_field){
      .slot = TFL_HLO_SCATTER_UPDATE_COMPUTATION, .kind = 'i', .i = 1};
  io(m, 3, (int32_t[]){0, 1, 2}, 1, (int32_t[]){3});
  scalar_body(&subs[0], code, pass);
}

static void test_scatter(void) {
  static const int bodies[] = {-1, OP_HLO_ADD, OP_HLO_MUL, OP_HLO_MAX};
  for (int b = 0; b < 4; b++) {
    scatter_model(bodies[b], 1);
    kiln_model *model = NULL;
    kiln_session *s = open_session(&model);
    if (!s) {
      kiln_model_free(model);
      continue;
    }
    float x[15], u[6], got[15], want[15];
    kiln_test_fill(x, 15, -2, 2);
    kiln_test_fill(u, 6, -2, 2);
    int32_t rows[2] = {kiln_test_int(0, 4), kiln_test_int(0, 4)};
    int64_t xd[2] = {5, 3}, id[2] = {2, 1}, ud[2] = {2, 3};
    CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, xd, 2, x, sizeof x));
    CHECK_OK(
        kiln_session_set_input(s, 1, KILN_INT32, id, 2, rows, sizeof rows));
    CHECK_OK(kiln_session_set_input(s, 2, KILN_FLOAT32, ud, 2, u, sizeof u));
    CHECK_OK(kiln_session_invoke(s));
    CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
    memcpy(want, x, sizeof want);
    for (int k = 0; k < 2; k++) /* in order: a repeated row combines twice */
      for (int c = 0; c < 3; c++) {
        float *w = &want[rows[k] * 3 + c], v = u[k * 3 + c];
        if (bodies[b] < 0) *w = v;
        if (bodies[b] == OP_HLO_ADD) *w = *w + v;
        if (bodies[b] == OP_HLO_MUL) *w = *w * v;
        if (bodies[b] == OP_HLO_MAX) *w = *w < v ? v : *w;
      }
    kiln_test_close(got, want, 15, 0, 0, "SCATTER result");
    close_session(s, model);
  }
}

static void test_scatter_refused(void) {
  scatter_model(-1, 0); /* returns the operand's value: not LiteRT's replace */
  expect_refused(KILN_ERR_UNSUPPORTED, "it has 0 operators");
  scatter_model(OP_ADD, 0); /* LiteRT's scatter takes only StableHLO forms */
  expect_refused(KILN_ERR_UNSUPPORTED, "update computation subgraph 1 is ADD");
}

/* ------------------------------------------------------------------ CASE */

/* y = branch[index](x), branch b (subgraph b + 1) computing x + x, x * x
 * or max(x, x) as b % 3 is 0, 1 or 2. More branches than two per node
 * make the session number its child slots beyond the usual two. */
static int branch_code(int b) {
  static const int codes[3] = {OP_HLO_ADD, OP_HLO_MUL, OP_HLO_MAX};
  return codes[b % 3];
}

static void case_model(int n, int branches) {
  reset_models(branches);
  tb_model *m = &main_graph;
  tensor(m, 0, TFL_TYPE_INT32, 0, 0, 0, 0);
  tensor(m, 1, TFL_TYPE_FLOAT32, 1, n, 0, 0);
  tensor(m, 2, TFL_TYPE_FLOAT32, 1, n, 0, 0);
  tb_operator *o = op(m, OP_CASE, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  o->options_type = TFL_OPT_STABLEHLO_CASE - TFL_OPT2_BASE;
  o->options_2 = true;
  o->num_options = 1;
  o->options[0] = (tb_field){
      .slot = TFL_HLO_CASE_BRANCHES, .kind = 'v', .vec_len = branches};
  io(m, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  for (int b = 0; b < branches; b++) {
    o->options[0].vec[b] = b + 1;
    tensor(&subs[b], 0, TFL_TYPE_FLOAT32, 1, n, 0, 0);
    tensor(&subs[b], 1, TFL_TYPE_FLOAT32, 1, n, 0, 0);
    op(&subs[b], (uint32_t)branch_code(b), 2, (int32_t[]){0, 0}, 1,
       (int32_t[]){1});
    io(&subs[b], 1, (int32_t[]){0}, 1, (int32_t[]){1});
  }
}

static void test_case(void) {
  for (int branches = 1; branches <= 8; branches += 7) {
    int n = kiln_test_int(1, 8);
    case_model(n, branches);
    kiln_model *model = NULL;
    kiln_session *s = open_session(&model);
    if (!s) {
      kiln_model_free(model);
      continue;
    }
    float x[8], got[8], want[8];
    int64_t dims[1] = {n}, scalar[1] = {0};
    for (int32_t index = -3; index <= branches + 2; index++) {
      kiln_test_fill(x, n, -3, 3);
      CHECK_OK(kiln_session_set_input(s, 0, KILN_INT32, scalar, 0, &index,
                                      sizeof index));
      CHECK_OK(kiln_session_set_input(s, 1, KILN_FLOAT32, dims, 1, x,
                                      sizeof(float) * (size_t)n));
      CHECK_OK(kiln_session_invoke(s));
      CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
      /* out of range: the last branch */
      int b = index >= 0 && index < branches ? index : branches - 1;
      for (int i = 0; i < n; i++)
        want[i] = branch_code(b) == OP_HLO_ADD   ? x[i] + x[i]
                  : branch_code(b) == OP_HLO_MUL ? x[i] * x[i]
                                                 : x[i];
      kiln_test_close(got, want, n, 0, 0, "CASE result");
    }
    close_session(s, model);
  }
}

static void test_case_refused(void) {
  case_model(4, 3);
  main_graph.operators[0].options[0].vec[1] = 7;
  expect_refused(KILN_ERR_INVALID_MODEL, "entry 7 is out of range");
  case_model(4, 3);
  main_graph.tensors[0].type = TFL_TYPE_FLOAT32;
  expect_refused(KILN_ERR_INVALID_MODEL, "the index (input 0) is float32");
  case_model(4, 3);
  subs[1].tensors[1].type = TFL_TYPE_INT32; /* branch 2 gives int32 */
  expect_refused(KILN_ERR_INVALID_MODEL, "output 0 of subgraph 2 is int32");
  case_model(4, 3);
  main_graph.operators[0].options[0].vec_len = 0;
  expect_refused(KILN_ERR_INVALID_MODEL, "branch_subgraph_indices has 0");
  /* branch 3 gives a constant of 5 elements where the others give 4: the
   * file loads, the session refuses (LiteRT would resize the output) */
  static const float five[5] = {1, 2, 3, 4, 5};
  case_model(4, 3);
  main_graph.num_buffers = 2;
  main_graph.buffers[1] = (tb_buffer){.data = five, .size = sizeof five};
  tb_model *b = &subs[2];
  b->num_operators = 0;
  tensor(b, 1, TFL_TYPE_FLOAT32, 1, 5, 0, 1);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (model)
    CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_UNSUPPORTED,
                "branch subgraph 1 gives output 0 shape [4] but branch "
                "subgraph 3 gives [5]");
  close_session(s, model);
}

/* ------------------------------------------------------------- COMPOSITE */

/* z = (x + y) * x, computed by decomposition subgraph 1. */
static void composite_model(int n) {
  reset_models(1);
  tb_model *m = &main_graph;
  for (int i = 0; i < 3; i++) tensor(m, i, TFL_TYPE_FLOAT32, 1, n, 0, 0);
  tb_operator *o = op(m, OP_COMPOSITE, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  o->options_type = TFL_OPT_STABLEHLO_COMPOSITE - TFL_OPT2_BASE;
  o->options_2 = true;
  o->num_options = 3;
  o->options[0] =
      (tb_field){.slot = TFL_HLO_COMPOSITE_NAME, .kind = 's', .s = "t.am"};
  o->options[1] =
      (tb_field){.slot = TFL_HLO_COMPOSITE_DECOMPOSITION, .kind = 'i', .i = 1};
  o->options[2] =
      (tb_field){.slot = TFL_HLO_COMPOSITE_VERSION, .kind = 'i', .i = 3};
  io(m, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  tb_model *d = &subs[0];
  for (int i = 0; i < 4; i++) tensor(d, i, TFL_TYPE_FLOAT32, 1, n, 0, 0);
  op(d, OP_ADD, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  op(d, OP_MUL, 2, (int32_t[]){2, 0}, 1, (int32_t[]){3});
  io(d, 2, (int32_t[]){0, 1}, 1, (int32_t[]){3});
}

static void test_composite(void) {
  int n = kiln_test_int(1, 8);
  composite_model(n);
  kiln_model *model = NULL;
  kiln_session *s = open_session(&model);
  if (!s) {
    kiln_model_free(model);
    return;
  }
  float x[8], y[8], got[8], want[8];
  kiln_test_fill(x, n, -3, 3);
  kiln_test_fill(y, n, -3, 3);
  int64_t dims[1] = {n};
  size_t bytes = sizeof(float) * (size_t)n;
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x, bytes));
  CHECK_OK(kiln_session_set_input(s, 1, KILN_FLOAT32, dims, 1, y, bytes));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
  for (int i = 0; i < n; i++) {
    volatile float sum = x[i] + y[i];
    want[i] = sum * x[i];
  }
  kiln_test_close(got, want, n, 0, 0, "COMPOSITE result");
  close_session(s, model);

  composite_model(4);
  main_graph.operators[0].num_inputs = 3; /* x, y, y for a 2-input body */
  main_graph.operators[0].inputs[2] = 1;
  expect_refused(KILN_ERR_INVALID_MODEL, "subgraph 1 has 2 inputs");
  composite_model(4);
  main_graph.operators[0].options[1].i = 2;
  expect_refused(KILN_ERR_INVALID_MODEL,
                 "decomposition_subgraph_index 2 is out of range");
}

/* ------------------------------------------------------- out of memory */

/* Loads, opens a session and invokes (inputs as allocated, zeros) with
 * allocation number `fail_at` failing; returns whether all went well. */
static bool run_with_failure(const uint8_t *bytes, size_t size, long fail_at,
                             kiln_test_allocator *counter) {
  kiln_options options = kiln_options_default();
  options.allocator = kiln_test_allocator_init(counter, fail_at);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "oom.tflite", &options, &model);
  if (!st) st = kiln_session_create(model, &options, &s);
  if (!st) st = kiln_session_invoke(s);
  if (st) CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
  bool ok = st == NULL;
  kiln_status_free(st);
  kiln_session_free(s);
  kiln_model_free(model);
  return ok;
}

/* Every allocation of loading and running each model fails in turn: a
 * clean OUT_OF_MEMORY each time and nothing left allocated (the session's
 * child slots, a body read only to be looked at). */
static void test_out_of_memory(void) {
  for (int which = 0; which < 4; which++) {
    if (which == 0) reduce_window_model(5, OP_HLO_ADD, 1);
    if (which == 1) scatter_model(OP_HLO_MAX, 1);
    if (which == 2) case_model(3, 7);
    if (which == 3) composite_model(3);
    size_t size;
    uint8_t *bytes = tb_build(&main_graph, &size);
    kiln_test_allocator counter;
    /* a failure point never reached counts the calls */
    CHECK(run_with_failure(bytes, size, 1L << 40, &counter));
    long calls = counter.calls;
    CHECK(counter.live == 0);
    for (long k = 0; k < calls; k++) {
      run_with_failure(bytes, size, k, &counter);
      CHECK(counter.live == 0);
    }
    free(bytes);
  }
}

int main(void) {
  kiln_test_seed(20261207);
  test_reduce_window();
  test_reduce_window_refused();
  test_scatter();
  test_scatter_refused();
  test_case();
  test_case_refused();
  test_composite();
  test_out_of_memory();
  return kiln_test_finish("test_stablehlo_subgraphs");
}
