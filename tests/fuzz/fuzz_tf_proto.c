/* fuzz_tf_proto.c - libFuzzer target for the saved_model.pb reader
 * (formats/savedmodel/tf_proto) and TensorProto decoding: parses the input
 * as a saved_model.pb, picks the serving MetaGraphDef, checks that every
 * parsed view lies inside the input, and decodes every tensor attribute
 * (Consts' values and tensors in attr lists) of the graph and of every
 * function. Errors must say something; nothing may crash or leak. Seeds:
 * tests/fuzz/corpus/tf_proto/ (small SavedModels TensorFlow wrote, see
 * tests/fuzz/make_tf_proto_seeds.py).
 *
 *   CC=clang cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON
 *   cmake --build build-fuzz -t fuzz_tf_proto
 *   scripts/fuzz build-fuzz 60 fuzz_tf_proto
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/savedmodel/tf_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoding allocates at most this much per tensor here (libFuzzer's
 * malloc limit is far above it). */
enum { MAX_DECODE = 16 << 20 };

static const uint8_t *input;
static size_t input_size;

static void inside(const void *p, size_t len) {
  if (!len) return;
  const uint8_t *b = p;
  if (b < input || len > input_size ||
      b - input > (ptrdiff_t)(input_size - len))
    abort();
}

static void expect_message(kiln_status *status) {
  if (!status) return;
  if (!kiln_status_message(status)[0]) abort();
  kiln_status_free(status);
}

static void check_tensor(const kiln_tf_tensor *t) {
  inside(t->message, t->message_len);
  if (t->has_content) inside(t->content, t->content_len);
  kiln_tf_decoded d;
  kiln_status *status = kiln_tf_tensor_decode(t, MAX_DECODE, &d);
  if (status) {
    if (d.data) abort();
    expect_message(status);
  } else {
    if (!d.data || d.rank < 0 || d.rank > KILN_MAX_RANK ||
        d.nbytes != (size_t)d.count * kiln_dtype_size(d.dtype) ||
        d.nbytes > MAX_DECODE)
      abort();
    /* touch every byte (ASan checks the size) */
    uint8_t sum = 0;
    for (size_t i = 0; i < d.nbytes; i++) sum ^= ((uint8_t *)d.data)[i];
    if (d.dtype == KILN_BOOL && d.count == 1 && sum > 1) abort(); /* 0/1 */
    kiln_tf_decoded_free(&d);
  }
  kiln_tf_str *strings = NULL;
  int64_t count = 0;
  status = kiln_tf_tensor_strings(t, 1 << 16, &strings, &count);
  if (status) {
    expect_message(status);
  } else {
    for (int64_t i = 0; i < count; i++) inside(strings[i].data, strings[i].len);
    kiln_free(NULL, strings);
  }
}

static void check_attrs(const kiln_tf_attr *attrs, size_t count, int depth);

static void check_value(const kiln_tf_attr_value *v, int depth) {
  if (depth > 64) abort(); /* the reader caps nesting far below */
  if (v->kind == KILN_TF_ATTR_TENSOR) check_tensor(v->tensor);
  if (v->kind == KILN_TF_ATTR_FUNC)
    check_attrs(v->func->attrs, v->func->attr_count, depth + 1);
  if (v->kind != KILN_TF_ATTR_LIST) return;
  const kiln_tf_attr_list *l = v->list;
  for (size_t i = 0; i < l->s_count; i++) inside(l->s[i].data, l->s[i].len);
  for (size_t i = 0; i < l->tensor_count; i++) check_tensor(&l->tensor[i]);
  for (size_t i = 0; i < l->func_count; i++)
    check_attrs(l->func[i].attrs, l->func[i].attr_count, depth + 1);
}

static void check_attrs(const kiln_tf_attr *attrs, size_t count, int depth) {
  for (size_t i = 0; i < count; i++) {
    inside(attrs[i].name.data, attrs[i].name.len);
    check_value(&attrs[i].value, depth);
  }
}

static void check_nodes(const kiln_tf_node *nodes, size_t count) {
  for (size_t i = 0; i < count; i++) {
    inside(nodes[i].name.data, nodes[i].name.len);
    inside(nodes[i].op.data, nodes[i].op.len);
    for (size_t j = 0; j < nodes[i].input_count; j++)
      inside(nodes[i].inputs[j].data, nodes[i].inputs[j].len);
    check_attrs(nodes[i].attrs, nodes[i].attr_count, 0);
    (void)kiln_tf_node_attr(&nodes[i], "value");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input = data;
  input_size = size;
  kiln_tf_saved_model *model = NULL;
  kiln_status *status =
      kiln_tf_saved_model_parse(data, size, "fuzz.pb", &model);
  if (status) {
    if (model) abort();
    expect_message(status);
    return 0;
  }
  const kiln_tf_meta_graph *serving = NULL;
  expect_message(kiln_tf_pick_serving(model, "fuzz.pb", &serving));
  for (size_t g = 0; g < model->meta_graph_count; g++) {
    const kiln_tf_meta_graph *mg = &model->meta_graphs[g];
    for (size_t t = 0; t < mg->tag_count; t++)
      inside(mg->tags[t].data, mg->tags[t].len);
    for (size_t s = 0; s < mg->signature_count; s++) {
      const kiln_tf_signature *sig = &mg->signatures[s];
      for (size_t i = 0; i < sig->input_count; i++)
        inside(sig->inputs[i].info.name.data, sig->inputs[i].info.name.len);
    }
    (void)kiln_tf_find_signature(mg, "serving_default");
    const kiln_tf_graph *graph = &mg->graph;
    check_nodes(graph->nodes, graph->node_count);
    for (size_t f = 0; f < graph->function_count; f++) {
      const kiln_tf_function *fn = &graph->functions[f];
      if (kiln_tf_find_function(graph, fn->name) == NULL) abort();
      check_nodes(fn->nodes, fn->node_count);
      check_attrs(fn->attrs, fn->attr_count, 0);
    }
  }
  kiln_tf_saved_model_free(model);
  return 0;
}
