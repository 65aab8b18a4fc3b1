/* test_savedmodel_import.c - the SavedModel importer on saved_model.pb
 * images built here with pb_wire's writer (no TensorFlow, no variables):
 * the signature's inputs and outputs, a function call inlined with its
 * "node:out_arg:index" references and IdentityN, a MatMul by a constant
 * turned into FULLY_CONNECTED with transposed weights (checked against the
 * constant written), and bad graphs - an unsupported op, a cycle, a
 * missing input, endless recursion, an unfed Placeholder, an unbound
 * variable, an ambiguous signature, random damage - each a clear error. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/savedmodel_import.h"
#include "formats/savedmodel/tf_schema.h"
#include "harness.h"

typedef kiln_pb_writer W;

/* A map entry whose value is a message: begun, then ended by map_end. */
typedef struct {
  size_t entry, value;
} marks;

static marks map_begin(W *w, uint32_t field, const char *key) {
  marks m;
  m.entry = kiln_pb_begin(w, field);
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  m.value = kiln_pb_begin(w, TF_MAP_VALUE);
  return m;
}

static void map_end(W *w, marks m) {
  kiln_pb_end(w, m.value);
  kiln_pb_end(w, m.entry);
}

static void ret(W *w, const char *key, const char *value) {
  size_t e = kiln_pb_begin(w, TF_FUNCTION_RET);
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  kiln_pb_put_string(w, TF_MAP_VALUE, value);
  kiln_pb_end(w, e);
}

static void attr_type(W *w, const char *key, int type) {
  size_t e = kiln_pb_begin(w, TF_NODE_ATTR), v;
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  v = kiln_pb_begin(w, TF_MAP_VALUE);
  kiln_pb_put_int64(w, TF_ATTR_TYPE, type);
  kiln_pb_end(w, v);
  kiln_pb_end(w, e);
}

static void attr_func(W *w, const char *key, const char *fn) {
  size_t e = kiln_pb_begin(w, TF_NODE_ATTR), v, f;
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  v = kiln_pb_begin(w, TF_MAP_VALUE);
  f = kiln_pb_begin(w, TF_ATTR_FUNC);
  kiln_pb_put_string(w, TF_NAME_ATTR_LIST_NAME, fn);
  kiln_pb_end(w, f);
  kiln_pb_end(w, v);
  kiln_pb_end(w, e);
}

/* A float Const's "value": a [rows, cols] tensor. */
static void attr_matrix(W *w, int rows, int cols, const float *values) {
  size_t e = kiln_pb_begin(w, TF_NODE_ATTR), v, t, s;
  kiln_pb_put_string(w, TF_MAP_KEY, "value");
  v = kiln_pb_begin(w, TF_MAP_VALUE);
  t = kiln_pb_begin(w, TF_ATTR_TENSOR);
  kiln_pb_put_int64(w, TF_TENSOR_DTYPE, TF_DT_FLOAT);
  s = kiln_pb_begin(w, TF_TENSOR_TENSOR_SHAPE);
  int dims[2] = {rows, cols};
  for (int d = 0; d < 2; d++) {
    size_t dm = kiln_pb_begin(w, TF_SHAPE_DIM);
    kiln_pb_put_int64(w, TF_DIM_SIZE, dims[d]);
    kiln_pb_end(w, dm);
  }
  kiln_pb_end(w, s);
  kiln_pb_put_bytes(w, TF_TENSOR_CONTENT, values,
                    (size_t)rows * (size_t)cols * sizeof *values);
  kiln_pb_end(w, t);
  kiln_pb_end(w, v);
  kiln_pb_end(w, e);
}

/* Starts a NodeDef (field `field` of the enclosing message). */
static size_t node(W *w, uint32_t field, const char *name, const char *op,
                   const char *in0, const char *in1) {
  size_t m = kiln_pb_begin(w, field);
  kiln_pb_put_string(w, TF_NODE_NAME, name);
  kiln_pb_put_string(w, TF_NODE_OP, op);
  if (in0) kiln_pb_put_string(w, TF_NODE_INPUT, in0);
  if (in1) kiln_pb_put_string(w, TF_NODE_INPUT, in1);
  return m;
}

static void tensor_info(W *w, uint32_t field, const char *key, const char *name,
                        bool with_shape) {
  size_t v;
  size_t e = kiln_pb_begin(w, field);
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  v = kiln_pb_begin(w, TF_MAP_VALUE);
  kiln_pb_put_string(w, TF_TENSOR_INFO_NAME, name);
  kiln_pb_put_int64(w, TF_TENSOR_INFO_DTYPE, TF_DT_FLOAT);
  if (with_shape) {
    size_t s = kiln_pb_begin(w, TF_TENSOR_INFO_TENSOR_SHAPE);
    int64_t dims[2] = {-1, 4};
    for (int d = 0; d < 2; d++) {
      size_t dm = kiln_pb_begin(w, TF_SHAPE_DIM);
      kiln_pb_put_int64(w, TF_DIM_SIZE, dims[d]);
      kiln_pb_end(w, dm);
    }
    kiln_pb_end(w, s);
  }
  kiln_pb_end(w, v);
  kiln_pb_end(w, e);
}

static void arg(W *w, uint32_t field, const char *name) {
  size_t a = kiln_pb_begin(w, field);
  kiln_pb_put_string(w, TF_ARG_NAME, name);
  kiln_pb_put_int64(w, TF_ARG_TYPE, TF_DT_FLOAT);
  kiln_pb_end(w, a);
}

typedef enum {
  GOOD,
  UNSUPPORTED_OP,
  CYCLE,
  MISSING_INPUT,
  RECURSION,
  UNFED_PLACEHOLDER,
  UNBOUND_VARIABLE,
  TWO_SIGNATURES,
} variant;

static float weights[12];

/* serving_default(x [-1, 4]) = {a: x @ w, b: relu(x @ w)} through a call
 * of "body"; each variant breaks one thing. */
static W build(variant v) {
  W w = {0};
  kiln_pb_put_int64(&w, TF_SAVED_MODEL_SCHEMA_VERSION, 1);
  size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
  size_t info = kiln_pb_begin(&w, TF_META_GRAPH_META_INFO_DEF);
  kiln_pb_put_string(&w, TF_META_INFO_TAGS, "serve");
  kiln_pb_end(&w, info);
  size_t graph = kiln_pb_begin(&w, TF_META_GRAPH_GRAPH_DEF), n;
  n = node(&w, TF_GRAPH_NODE, "serving_default_x", "Placeholder", NULL, NULL);
  attr_type(&w, "dtype", TF_DT_FLOAT);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "w", "Const", NULL, NULL);
  attr_matrix(&w, 4, 3, weights);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "call", "StatefulPartitionedCall",
           "serving_default_x", v == UNFED_PLACEHOLDER ? "stray" : "w");
  kiln_pb_put_string(&w, TF_NODE_INPUT, "^w"); /* control: ignored */
  attr_func(&w, "f", "body");
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "stray", "Placeholder", NULL, NULL);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "loop_a", "Identity", "loop_b", NULL);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "loop_b", "Identity", "loop_a:0", NULL);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "handle", "VarHandleOp", NULL, NULL);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "read", "ReadVariableOp", "handle", NULL);
  kiln_pb_end(&w, n);
  n = node(&w, TF_GRAPH_NODE, "lost", "Identity", "nope:0", NULL);
  kiln_pb_end(&w, n);
  /* The library: body(x, w) -> (out0 = x @ w, out1 = relu(x @ w)). */
  size_t lib = kiln_pb_begin(&w, TF_GRAPH_LIBRARY);
  size_t fn = kiln_pb_begin(&w, TF_LIBRARY_FUNCTION);
  size_t sig = kiln_pb_begin(&w, TF_FUNCTION_SIGNATURE);
  kiln_pb_put_string(&w, TF_OP_DEF_NAME, "body");
  arg(&w, TF_OP_DEF_INPUT_ARG, "x");
  arg(&w, TF_OP_DEF_INPUT_ARG, "kernel");
  arg(&w, TF_OP_DEF_OUTPUT_ARG, "out0");
  arg(&w, TF_OP_DEF_OUTPUT_ARG, "out1");
  kiln_pb_end(&w, sig);
  n = node(&w, TF_FUNCTION_NODE_DEF, "mm", "MatMul", "x", "kernel");
  kiln_pb_end(&w, n);
  n = node(&w, TF_FUNCTION_NODE_DEF, "r",
           v == UNSUPPORTED_OP ? "Cumprod" : "Relu", "mm:product:0", NULL);
  kiln_pb_end(&w, n);
  n = node(&w, TF_FUNCTION_NODE_DEF, "both", "IdentityN", "r:activations:0",
           "mm:product:0");
  kiln_pb_end(&w, n);
  if (v == RECURSION) {
    n = node(&w, TF_FUNCTION_NODE_DEF, "again", "PartitionedCall", "x",
             "kernel");
    attr_func(&w, "f", "body");
    kiln_pb_end(&w, n);
  }
  ret(&w, "out0", v == RECURSION ? "again:output:0" : "both:output:1");
  ret(&w, "out1", "both:output:0");
  kiln_pb_end(&w, fn);
  kiln_pb_end(&w, lib);
  kiln_pb_end(&w, graph);
  /* Signatures. */
  const char *key = v == TWO_SIGNATURES ? "first" : "serving_default";
  marks s = map_begin(&w, TF_META_GRAPH_SIGNATURE_DEF, key);
  tensor_info(&w, TF_SIGNATURE_INPUTS, "x", "serving_default_x:0", true);
  const char *a = "call:0";
  if (v == CYCLE) a = "loop_a:0";
  if (v == MISSING_INPUT) a = "lost:0";
  if (v == UNBOUND_VARIABLE) a = "read:0";
  if (v == RECURSION) a = "call:0";
  tensor_info(&w, TF_SIGNATURE_OUTPUTS, "a", a, false);
  tensor_info(&w, TF_SIGNATURE_OUTPUTS, "b", "call:1", false);
  map_end(&w, s);
  if (v == TWO_SIGNATURES) {
    s = map_begin(&w, TF_META_GRAPH_SIGNATURE_DEF, "second");
    tensor_info(&w, TF_SIGNATURE_INPUTS, "x", "serving_default_x:0", true);
    tensor_info(&w, TF_SIGNATURE_OUTPUTS, "a", "call:0", false);
    map_end(&w, s);
  }
  kiln_pb_end(&w, mg);
  CHECK(!w.failed);
  return w;
}

static kiln_status *import(variant v, kiln_graph **g) {
  W w = build(v);
  kiln_status *st =
      kiln_savedmodel_import_with_bundle(w.data, w.len, NULL, "sm", NULL, g);
  kiln_pb_writer_free(&w);
  return st;
}

static const kiln_node *producer(const kiln_graph *g, int value) {
  for (int i = 0; i < g->num_nodes; i++)
    for (int k = 0; k < g->nodes[i].num_outputs; k++)
      if (g->nodes[i].outputs[k] == value) return &g->nodes[i];
  return NULL;
}

static void test_good_graph(void) {
  kiln_test_fill(weights, 12, -1.0f, 1.0f);
  kiln_graph *g = NULL;
  CHECK_OK(import(GOOD, &g));
  if (!g) return;
  CHECK(g->num_inputs == 1 && strcmp(g->input_names[0], "x") == 0);
  const kiln_value *x = &g->values[g->inputs[0]];
  CHECK(x->rank == 2 && x->signature[0] == -1 && x->dims[1] == 4);
  CHECK(g->num_outputs == 2);
  if (g->num_outputs == 2) {
    CHECK(strcmp(g->output_names[0], "a") == 0);
    CHECK(strcmp(g->output_names[1], "b") == 0);
    const kiln_node *fc = producer(g, g->outputs[0]);
    const kiln_node *relu = producer(g, g->outputs[1]);
    CHECK(fc && fc->op == KILN_OP_FULLY_CONNECTED);
    CHECK(relu && relu->op == KILN_OP_RELU);
    if (fc && relu) {
      CHECK(relu->inputs[0] == g->outputs[0]);
      CHECK(fc->inputs[0] == g->inputs[0]);
      const kiln_value *wt = &g->values[fc->inputs[1]];
      CHECK(wt->is_constant && wt->rank == 2 && wt->dims[0] == 3 &&
            wt->dims[1] == 4);
      /* FULLY_CONNECTED's [N, K] is MatMul's [K, N] transposed. */
      float want[12];
      for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++) want[j * 4 + k] = weights[k * 3 + j];
      if (wt->is_constant)
        CHECK(kiln_test_close(wt->data, want, 12, 0, 0, "weights"));
    }
    const kiln_value *a = &g->values[g->outputs[0]];
    CHECK(a->rank == 2 && a->dims[1] == 3 && a->signature[0] == -1);
  }
  kiln_graph_free(g);
}

static void test_bad_graphs(void) {
  static const struct {
    variant v;
    kiln_status_code code;
    const char *needle;
  } cases[] = {
      {UNSUPPORTED_OP, KILN_ERR_UNSUPPORTED,
       "sm: node 'r' (op Cumprod) is not supported"},
      {CYCLE, KILN_ERR_INVALID_MODEL, "depends on itself"},
      {MISSING_INPUT, KILN_ERR_INVALID_MODEL, "input 'nope:0' names no node"},
      {RECURSION, KILN_ERR_INVALID_MODEL, "nest deeper than 32"},
      {UNFED_PLACEHOLDER, KILN_ERR_INVALID_MODEL,
       "node 'stray' (op Placeholder): is not an input of the serving "
       "signature"},
      {UNBOUND_VARIABLE, KILN_ERR_INVALID_MODEL,
       "reads a variable no function call binds"},
      {TWO_SIGNATURES, KILN_ERR_INVALID_MODEL,
       "no serving_default signature, and 2 others"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kiln_graph *g = NULL;
    CHECK_ERROR(import(cases[i].v, &g), cases[i].code, cases[i].needle);
    CHECK(g == NULL);
  }
}

/* Damaged images: flipped bytes and truncations give a status or a graph,
 * never a crash (run under ASan). */
static void test_random_damage(void) {
  W good = build(GOOD);
  uint8_t *copy = malloc(good.len);
  int errors = 0, graphs = 0;
  for (int trial = 0; trial < 400 && copy; trial++) {
    memcpy(copy, good.data, good.len);
    size_t len = good.len;
    if (trial % 4 == 0) {
      len = (size_t)kiln_test_int(0, (int)good.len - 1);
    } else {
      int flips = kiln_test_int(1, 4);
      for (int f = 0; f < flips; f++)
        copy[kiln_test_int(0, (int)good.len - 1)] ^=
            (uint8_t)(1u << kiln_test_int(0, 7));
    }
    kiln_graph *g = NULL;
    kiln_status *st =
        kiln_savedmodel_import_with_bundle(copy, len, NULL, "sm", NULL, &g);
    if (st) {
      errors++;
      CHECK(g == NULL && strlen(kiln_status_message(st)) > 0);
      kiln_status_free(st);
    } else {
      graphs++;
      kiln_graph_free(g);
    }
  }
  CHECK(errors > 0);
  free(copy);
  kiln_pb_writer_free(&good);
}

int main(void) {
  kiln_test_seed(0x5a7ed30d);
  test_good_graph();
  test_bad_graphs();
  test_random_damage();
  return kiln_test_finish("test_savedmodel_import");
}
