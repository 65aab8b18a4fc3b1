/* test_keras_config.c - the Keras config walk (formats/keras) on hand-made
 * configs, with made-up weights (kiln_keras_import_config): the graph it
 * builds for Sequential and Functional models (shared layers, nested
 * models, number arguments), and a clear error for each kind of bad
 * config. The numbers a Keras model computes are checked against Keras
 * itself in tests/e2e/test_keras_import.py. */
#include <stdio.h>
#include <string.h>

#include "core/graph.h"
#include "formats/keras/keras_import.h"
#include "harness.h"

static kiln_graph *import(const char *json) {
  kiln_graph *g = NULL;
  kiln_status *st = kiln_keras_import_config(json, strlen(json), "t", NULL, &g);
  if (st) {
    fprintf(stderr, "  import failed: %s\n", kiln_status_message(st));
    kiln_status_free(st);
  }
  return g;
}

static int count_op(const kiln_graph *g, kiln_op_type op) {
  int n = 0;
  for (int i = 0; i < g->num_nodes; i++) n += g->nodes[i].op == op;
  return n;
}

#define INPUT(name, shape)                             \
  "{\"class_name\": \"InputLayer\", \"name\": \"" name \
  "\", \"config\": "                                   \
  "{\"name\": \"" name "\", \"batch_shape\": " shape   \
  ", \"dtype\": \"float32\"}, \"inbound_nodes\": []}"
#define TENSOR(layer, node)                                                 \
  "{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": " \
  "[\"" layer "\", " #node ", 0]}}"
#define DENSE(name, units, args)                  \
  "{\"class_name\": \"Dense\", \"name\": \"" name \
  "\", \"config\": "                              \
  "{\"name\": \"" name "\", \"units\": " #units   \
  ", \"activation\": \"relu\"}, \"inbound_nodes\": [" args "]}"
#define CALL(args) "{\"args\": [" args "], \"kwargs\": {}}"
#define FUNCTIONAL(layers, ins, outs)                               \
  "{\"class_name\": \"Functional\", \"config\": {\"name\": \"m\", " \
  "\"layers\": [" layers "], \"input_layers\": " ins                \
  ", \"output_layers\": " outs "}}"

static void test_sequential(void) {
  kiln_graph *g = import(
      "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", "
      "\"layers\": [" INPUT("x", "[null, 6]") ", "
      "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": "
      "3}}, {\"class_name\": \"Softmax\", \"config\": {\"name\": \"p\"}}]}}");
  CHECK(g != NULL);
  if (!g) return;
  CHECK(g->num_inputs == 1 && g->num_outputs == 1);
  const kiln_value *in = &g->values[g->inputs[0]];
  CHECK(in->rank == 2 && in->signature[0] == -1 && in->dims[1] == 6);
  const kiln_value *out = &g->values[g->outputs[0]];
  CHECK(strcmp(out->name, "p") == 0);
  CHECK(out->rank == 2 && out->dims[1] == 3 && out->signature[0] == -1);
  CHECK(count_op(g, KILN_OP_FULLY_CONNECTED) == 1);
  CHECK(count_op(g, KILN_OP_SOFTMAX) == 1);
  kiln_graph_free(g);
}

static void test_functional_shared_and_scalar(void) {
  /* "shared" is called on both inputs; "plus" adds a number to a tensor
   * (what `x + 3.0` writes); layers are listed out of order. */
  kiln_graph *g = import(FUNCTIONAL(
      "{\"class_name\": \"Add\", \"name\": \"plus\", \"config\": {\"name\": "
      "\"plus\"}, \"inbound_nodes\": [" CALL(TENSOR(
          "shared",
          1) ", 3.0") "]}," DENSE("shared", 4,
                                  CALL(TENSOR("a", 0)) "," CALL(TENSOR(
                                      "b",
                                      0))) "," INPUT("a",
                                                     "[null, 5]") "," INPUT("b",
                                                                            "[2"
                                                                            ", "
                                                                            "5"
                                                                            "]"),
      "[[\"a\", 0, 0], [\"b\", 0, 0]]",
      "[[\"shared\", 0, 0], [\"plus\", 0, 0]]"));
  CHECK(g != NULL);
  if (!g) return;
  CHECK(g->num_inputs == 2 && g->num_outputs == 2);
  CHECK(count_op(g, KILN_OP_FULLY_CONNECTED) == 2);
  CHECK(count_op(g, KILN_OP_ADD) == 1);
  const kiln_value *second = &g->values[g->outputs[1]];
  CHECK(second->dims[0] == 2 && second->dims[1] == 4);
  CHECK(strcmp(second->name, "plus") == 0);
  kiln_graph_free(g);
}

static void test_nested_model(void) {
  kiln_graph *g = import(FUNCTIONAL(
      INPUT("x",
            "[null, 8]") ","
                         "{\"class_name\": \"Sequential\", \"name\": "
                         "\"inner\", \"config\": "
                         "{\"name\": \"inner\", \"layers\": [" INPUT(
                             "i",
                             "[null, 8]") ","
                                          "{\"class_name\": \"Dense\", "
                                          "\"config\": {\"name\": \"d\", "
                                          "\"units\": "
                                          "2}}]}, \"inbound_nodes\": [" CALL(
                                              TENSOR("x", 0)) "]}",
      "[[\"x\", 0, 0]]", "[[\"inner\", 0, 0]]"));
  CHECK(g != NULL);
  if (!g) return;
  CHECK(g->num_inputs == 1 && count_op(g, KILN_OP_FULLY_CONNECTED) == 1);
  CHECK(g->values[g->outputs[0]].dims[1] == 2);
  kiln_graph_free(g);
}

/* A MultiHeadAttention "mha" (`heads` heads, key_dim 4, value_dim 3) with more
 * config fields `extra` and call node `call`, on input "q" of `shape` (and
 * "kv" [null, 5, 6]); the model outputs its call's outputs `outs`. */
#define MHA_MODEL(heads, extra, shape, call, outs) \
  FUNCTIONAL(INPUT("q", shape) "," INPUT("kv", "[null, 5, 6]") ","           \
             "{\"class_name\": \"MultiHeadAttention\", \"name\": \"mha\", "  \
             "\"config\": {\"name\": \"mha\", \"num_heads\": " #heads         \
             ", \"key_dim\": 4, \"value_dim\": 3" extra "}, \"inbound_nodes\": [" call "]}", \
             "[[\"q\", 0, 0], [\"kv\", 0, 0]]", outs)

static void test_multi_head_attention(void) {
  /* Cross attention with value and key by keyword, the scores returned:
   * each projection a FULLY_CONNECTED, the scores two BATCH_MATMULs around
   * a SOFTMAX, the batch left unknown. */
  kiln_graph *g = import(MHA_MODEL(
      2, ", \"output_shape\": [7], \"attention_axes\": [1]", "[null, 8, 6]",
      "{\"args\": [" TENSOR("q", 0) "], \"kwargs\": {\"value\": " TENSOR(
          "kv", 0) ", \"key\": " TENSOR("kv", 0) ", \"return_attention_scores"
                                                 "\": true}}",
      "[[\"mha\", 0, 0], [\"mha\", 0, 1]]"));
  CHECK(g != NULL);
  if (!g) return;
  CHECK(count_op(g, KILN_OP_FULLY_CONNECTED) == 4);
  CHECK(count_op(g, KILN_OP_BATCH_MATMUL) == 2);
  CHECK(count_op(g, KILN_OP_SOFTMAX) == 1);
  const kiln_value *y = &g->values[g->outputs[0]];
  CHECK(y->rank == 3 && y->dims[1] == 8 && y->dims[2] == 7);
  CHECK(y->signature[0] == -1 && strcmp(y->name, "mha") == 0);
  const kiln_value *p = &g->values[g->outputs[1]];
  CHECK(p->rank == 4 && p->dims[1] == 2 && p->dims[2] == 8 && p->dims[3] == 5);
  kiln_graph_free(g);
  /* Self attention with the causal mask: an ADD of the mask constant. */
  g = import(MHA_MODEL(2, "", "[null, 5, 6]",
                       "{\"args\": [" TENSOR("q", 0) ", " TENSOR(
                           "q", 0) "], \"kwargs\": {\"use_causal_mask\": "
                                   "true}}",
                       "[[\"mha\", 0, 0]]"));
  CHECK(g != NULL);
  if (!g) return;
  CHECK(count_op(g, KILN_OP_ADD) == 1);
  CHECK(g->values[g->outputs[0]].dims[2] == 6);
  kiln_graph_free(g);
}

static void expect_error(const char *json, kiln_status_code code,
                         const char *needle) {
  kiln_graph *g = (kiln_graph *)1;
  CHECK_ERROR(kiln_keras_import_config(json, strlen(json), "t", NULL, &g), code,
              needle);
  CHECK(g == NULL);
}

static void test_bad_configs(void) {
  expect_error("{\"class_name\": ", KILN_ERR_INVALID_MODEL, "JSON");
  expect_error("[]", KILN_ERR_INVALID_MODEL, "JSON object");
  expect_error("{\"class_name\": \"MyModel\", \"config\": {}}",
               KILN_ERR_UNSUPPORTED, "MyModel");
  expect_error(
      FUNCTIONAL(
          INPUT("x",
                "[null, 4]") ","
                             "{\"class_name\": \"Lambda\", \"name\": \"twice\","
                             " \"config\": {\"name\": \"twice\"}, "
                             "\"inbound_nodes\": [" CALL(TENSOR("x", 0)) "]}",
          "[[\"x\", 0, 0]]", "[[\"twice\", 0, 0]]"),
      KILN_ERR_UNSUPPORTED, "'twice' is a Lambda");
  expect_error(
      FUNCTIONAL(
          INPUT("x",
                "[null, 4]") ","
                             "{\"class_name\": \"MyLayer\", \"name\": \"mine\","
                             " \"config\": {\"name\": \"mine\"}, "
                             "\"inbound_nodes\": [" CALL(TENSOR("x", 0)) "]}",
          "[[\"x\", 0, 0]]", "[[\"mine\", 0, 0]]"),
      KILN_ERR_UNSUPPORTED, "class 'MyLayer'");
  expect_error(
      FUNCTIONAL(
          INPUT(
              "x",
              "[null, 8, 8, 3]") ","
                                 "{\"class_name\": \"Conv2D\", \"name\": \"c\","
                                 " \"config\": {\"name\": \"c\", \"filters\": "
                                 "2, "
                                 "\"kernel_size\": 3, \"data_format\": "
                                 "\"channels_first\"}, \"inbound_nodes\": "
                                 "[" CALL(TENSOR("x", 0)) "]}",
          "[[\"x\", 0, 0]]", "[[\"c\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "channels_first");
  /* A reference to a layer the model lacks. */
  expect_error(FUNCTIONAL(INPUT("x", "[null, 4]") "," DENSE(
                              "d", 2, CALL(TENSOR("ghost", 0))),
                          "[[\"x\", 0, 0]]", "[[\"d\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "'ghost'");
  /* Two layers feeding each other: never computable. */
  expect_error(
      FUNCTIONAL(
          INPUT("x", "[null, 4]") "," DENSE(
              "a", 4, CALL(TENSOR("b", 0))) "," DENSE("b", 4,
                                                      CALL(TENSOR("a", 0))),
          "[[\"x\", 0, 0]]", "[[\"b\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "cannot be computed");
  expect_error(FUNCTIONAL(INPUT("x", "[null, 4]") "," DENSE(
                              "x", 4, CALL(TENSOR("x", 0))),
                          "[[\"x\", 0, 0]]", "[[\"x\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "two layers are named 'x'");
  expect_error(FUNCTIONAL(INPUT("x", "[null, 1, 1, 1, 1, 1, 1, 1, 1]"),
                          "[[\"x\", 0, 0]]", "[[\"x\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "rank 9");
  expect_error(FUNCTIONAL(INPUT("x", "[null, 99999999999]"), "[[\"x\", 0, 0]]",
                          "[[\"x\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "dimension 1");
  /* Weights sized past any real layer are refused before allocation. */
  expect_error(FUNCTIONAL(INPUT("x", "[null, 4096]") "," DENSE(
                              "d", 65536, CALL(TENSOR("x", 0))),
                          "[[\"x\", 0, 0]]", "[[\"d\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "2^20");
  expect_error(FUNCTIONAL(INPUT("x", "[null, 4]") "," DENSE(
                              "d", -3, CALL(TENSOR("x", 0))),
                          "[[\"x\", 0, 0]]", "[[\"d\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "units");
  /* MultiHeadAttention beyond what kiln builds: a clear refusal. */
#define QV CALL(TENSOR("q", 0) ", " TENSOR("kv", 0))
  expect_error(MHA_MODEL(2, ", \"attention_axes\": [1, 2]", "[null, 8, 6]", QV,
                         "[[\"mha\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "attention_axes");
  expect_error(MHA_MODEL(2, "", "[null, 2, 8, 6]", QV, "[[\"mha\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "query has rank 4");
  expect_error(
      MHA_MODEL(
          2, "", "[null, 8, 6]",
          "{\"args\": [" TENSOR("q", 0) ", " TENSOR(
              "kv", 0) "], \"kwargs\": {\"attention_mask\": " TENSOR("kv",
                                                                     0) "}}",
          "[[\"mha\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "attention masks");
  expect_error(MHA_MODEL(2, "", "[null, 8, 6]", CALL(TENSOR("q", 0)),
                         "[[\"mha\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "no value");
  expect_error(MHA_MODEL(0, "", "[null, 8, 6]", QV, "[[\"mha\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "num_heads = 0");
  expect_error(MHA_MODEL(2, ", \"use_gate\": true", "[null, 8, 6]", QV,
                         "[[\"mha\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "use_gate");
  expect_error(MHA_MODEL(2, "", "[null, null, 6]", QV, "[[\"mha\", 0, 0]]"),
               KILN_ERR_INVALID_MODEL, "unknown sequence length");
  expect_error(
      MHA_MODEL(2, "", "[null, 16777216, 6]",
                CALL(TENSOR("q", 0) ", " TENSOR("q", 0)), "[[\"mha\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "attention scores");
#undef QV
  /* The operation layers and LayerNormalization's axes. */
  expect_error(
      FUNCTIONAL(INPUT("x", "[null, 4, 5]") ","
                                            "{\"class_name\": "
                                            "\"Transpose\", \"name\": "
                                            "\"t\", \"config\": "
                                            "{\"name\": \"t\", "
                                            "\"axes\": [0, 2, 2]}, "
                                            "\"inbound_nodes\": "
                                            "[" CALL(TENSOR("x", 0)) "]}",
                 "[[\"x\", 0, 0]]", "[[\"t\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "permutation");
  expect_error(
      FUNCTIONAL(INPUT("x", "[null, 4, 5]") ","
                                            "{\"class_name\": "
                                            "\"LayerNormalization\", "
                                            "\"name\": \"n\", "
                                            "\"config\": {\"name\": "
                                            "\"n\", \"axis\": [2, "
                                            "1]}, \"inbound_nodes\": "
                                            "[" CALL(TENSOR("x", 0)) "]}",
                 "[[\"x\", 0, 0]]", "[[\"n\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "ascending axes");
  expect_error(
      FUNCTIONAL(INPUT("x", "[null, 4, 5]") ","
                                            "{\"class_name\": "
                                            "\"Mean\", \"name\": "
                                            "\"m\", \"config\": "
                                            "{\"name\": \"m\", "
                                            "\"axis\": null}, "
                                            "\"inbound_nodes\": "
                                            "[" CALL(TENSOR("x", 0)) "]}",
                 "[[\"x\", 0, 0]]", "[[\"m\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "batch axis");
  /* Masks are not carried: a masking Embedding is refused, not ignored. */
  expect_error(
      FUNCTIONAL(
          INPUT("x",
                "[null, 4]") ","
                             "{\"class_name\": \"Embedding\", \"name\": \"e\","
                             " \"config\": {\"name\": \"e\", \"input_dim\": 9,"
                             " \"output_dim\": 3, \"mask_zero\": true}, "
                             "\"inbound_nodes\": [" CALL(TENSOR("x", 0)) "]}",
          "[[\"x\", 0, 0]]", "[[\"e\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "mask_zero");
  /* An output that is an input as it is. */
  expect_error(
      FUNCTIONAL(INPUT("x", "[null, 4]"), "[[\"x\", 0, 0]]", "[[\"x\", 0, 0]]"),
      KILN_ERR_INVALID_MODEL, "input 'x' itself");
}

int main(void) {
  kiln_graph *probe = NULL;
  kiln_status *st = kiln_keras_import_config("{}", 2, "t", NULL, &probe);
  if (st && kiln_status_get_code(st) == KILN_ERR_UNSUPPORTED &&
      strstr(kiln_status_message(st), "without Keras support")) {
    printf("test_keras_config: skipped (built without Keras support)\n");
    kiln_status_free(st);
    return 0;
  }
  if (st) kiln_status_free(st);
  kiln_graph_free(probe);
  test_sequential();
  test_functional_shared_and_scalar();
  test_nested_model();
  test_multi_head_attention();
  test_bad_configs();
  return kiln_test_finish("test_keras_config");
}
