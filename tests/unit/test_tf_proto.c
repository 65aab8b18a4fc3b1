/* test_tf_proto.c - the saved_model.pb reader (formats/savedmodel/tf_proto)
 * and TensorProto decoding. SavedModels are written here field by field
 * with pb_wire's writer (every message kind the reader keeps, the ones it
 * skips, map keys given twice, packed and unpacked repeated scalars) and
 * read back against what was written; tensors of every supported dtype are
 * decoded from tensor_content and from their typed fields, with
 * TensorFlow's repeat-the-last-value rule checked against the test's own
 * expansion; and malformed input (every truncation, wrong wire types,
 * lengths and counts that lie, impossible shapes, deep nesting, random
 * bytes) must give a clear error, never a crash.
 *
 * Given `--dump PATH`, the binary is instead the C side of
 * tests/e2e/test_tf_proto.py: it prints what kiln reads from a real
 * saved_model.pb as one JSON object (signatures, op histogram, functions,
 * and every Const's decoded dtype, shape and a hash of its bytes). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/tf_proto.h"
#include "formats/savedmodel/tf_schema.h"
#include "harness.h"

/* ------------------------------------------------------ the --dump mode */

static void json_str(FILE *out, const char *data, size_t len) {
  fputc('"', out);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      fprintf(out, "\\u%04x", c); /* bytes, as Python's latin-1 decode */
    else
      fputc(c, out);
  }
  fputc('"', out);
}

static void json_view(FILE *out, kiln_tf_str s) {
  json_str(out, s.data, s.len);
}

/* FNV-1a, 64-bit: the e2e test hashes numpy's bytes the same way. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
#define FNV_START 14695981039346656037ull

static void json_shape(FILE *out, const kiln_tf_shape *shape) {
  if (shape->unknown_rank) {
    fputs("null", out);
    return;
  }
  fputc('[', out);
  for (size_t d = 0; d < shape->rank; d++)
    fprintf(out, "%s%lld", d ? "," : "", (long long)shape->dims[d]);
  fputc(']', out);
}

static void dump_args(FILE *out, const kiln_tf_signature_arg *args,
                      size_t count) {
  fputc('{', out);
  for (size_t i = 0; i < count; i++) {
    const kiln_tf_tensor_info *info = &args[i].info;
    fputs(i ? "," : "", out);
    json_view(out, args[i].key);
    fputs(":{\"name\":", out);
    json_view(out, info->name);
    fprintf(out, ",\"dtype\":%d,\"shape\":", info->dtype);
    if (info->has_shape)
      json_shape(out, &info->shape);
    else
      fputs("\"none\"", out);
    fputc('}', out);
  }
  fputc('}', out);
}

static void dump_fn_args(FILE *out, const kiln_tf_arg *args, size_t count) {
  fputc('[', out);
  for (size_t i = 0; i < count; i++) {
    fputs(i ? ",{\"name\":" : "{\"name\":", out);
    json_view(out, args[i].name);
    fprintf(out, ",\"type\":%d,\"type_attr\":", args[i].type);
    json_view(out, args[i].type_attr);
    fputs(",\"number_attr\":", out);
    json_view(out, args[i].number_attr);
    fputs(",\"type_list_attr\":", out);
    json_view(out, args[i].type_list_attr);
    fputc('}', out);
  }
  fputc(']', out);
}

/* One Const node's value: {"where","node","dtype","shape","hash"} or
 * {"where","node","error"}. */
static void dump_const(FILE *out, bool *first, kiln_tf_str where,
                       const kiln_tf_node *node) {
  const kiln_tf_attr_value *value = kiln_tf_node_attr(node, "value");
  fputs(*first ? "{\"where\":" : ",{\"where\":", out);
  *first = false;
  json_view(out, where);
  fputs(",\"node\":", out);
  json_view(out, node->name);
  if (!value || value->kind != KILN_TF_ATTR_TENSOR) {
    fputs(",\"error\":\"no tensor value\"}", out);
    return;
  }
  const kiln_tf_tensor *t = value->tensor;
  if (t->dtype == TF_DT_STRING) {
    kiln_tf_str *strings;
    int64_t count;
    kiln_status *status = kiln_tf_tensor_strings(t, 1u << 24, &strings, &count);
    if (status) {
      fputs(",\"error\":", out);
      json_str(out, kiln_status_message(status),
               strlen(kiln_status_message(status)));
      fputc('}', out);
      kiln_status_free(status);
      return;
    }
    uint64_t h = FNV_START;
    for (int64_t i = 0; i < count; i++) {
      uint64_t len = strings[i].len;
      unsigned char le[8];
      for (int b = 0; b < 8; b++) le[b] = (unsigned char)(len >> (8 * b));
      h = fnv1a(h, le, 8);
      h = fnv1a(h, strings[i].data, strings[i].len);
    }
    kiln_free(NULL, strings);
    fputs(",\"dtype\":\"string\",\"shape\":", out);
    json_shape(out, &t->shape);
    fprintf(out, ",\"hash\":\"%016llx\"}", (unsigned long long)h);
    return;
  }
  kiln_tf_decoded d;
  kiln_status *status = kiln_tf_tensor_decode(t, 0, &d);
  if (status) {
    fputs(",\"error\":", out);
    json_str(out, kiln_status_message(status),
             strlen(kiln_status_message(status)));
    fputc('}', out);
    kiln_status_free(status);
    return;
  }
  fprintf(out, ",\"dtype\":\"%s\",\"shape\":[", kiln_dtype_name(d.dtype));
  for (int i = 0; i < d.rank; i++)
    fprintf(out, "%s%lld", i ? "," : "", (long long)d.dims[i]);
  fprintf(out, "],\"hash\":\"%016llx\"}",
          (unsigned long long)fnv1a(FNV_START, d.data, d.nbytes));
  kiln_tf_decoded_free(&d);
}

static void dump_nodes_consts(FILE *out, bool *first, kiln_tf_str where,
                              const kiln_tf_node *nodes, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (kiln_tf_str_eq(nodes[i].op, "Const"))
      dump_const(out, first, where, &nodes[i]);
}

/* {"op": count} over the graph's own nodes, ops in first-seen order. */
static void dump_ops(FILE *out, const kiln_tf_graph *g) {
  fputc('{', out);
  bool first = true;
  for (size_t i = 0; i < g->node_count; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = g->nodes[j].op.len == g->nodes[i].op.len &&
             memcmp(g->nodes[j].op.data, g->nodes[i].op.data,
                    g->nodes[i].op.len) == 0;
    if (seen) continue;
    size_t n = 0;
    for (size_t j = i; j < g->node_count; j++)
      n += g->nodes[j].op.len == g->nodes[i].op.len &&
           memcmp(g->nodes[j].op.data, g->nodes[i].op.data,
                  g->nodes[i].op.len) == 0;
    fputs(first ? "" : ",", out);
    first = false;
    json_view(out, g->nodes[i].op);
    fprintf(out, ":%zu", n);
  }
  fputc('}', out);
}

static void dump_meta_graph(FILE *out, const kiln_tf_meta_graph *mg) {
  fputs("{\"tags\":[", out);
  for (size_t i = 0; i < mg->tag_count; i++) {
    fputs(i ? "," : "", out);
    json_view(out, mg->tags[i]);
  }
  fputs("],\"signatures\":{", out);
  for (size_t i = 0; i < mg->signature_count; i++) {
    const kiln_tf_signature *s = &mg->signatures[i];
    fputs(i ? "," : "", out);
    json_view(out, s->key);
    fputs(":{\"method_name\":", out);
    json_view(out, s->method_name);
    fputs(",\"inputs\":", out);
    dump_args(out, s->inputs, s->input_count);
    fputs(",\"outputs\":", out);
    dump_args(out, s->outputs, s->output_count);
    fputc('}', out);
  }
  const kiln_tf_graph *g = &mg->graph;
  fprintf(out, "},\"node_count\":%zu,\"producer\":%d,\"ops\":", g->node_count,
          (int)g->producer);
  dump_ops(out, g);
  fputs(",\"functions\":{", out);
  for (size_t i = 0; i < g->function_count; i++) {
    const kiln_tf_function *fn = &g->functions[i];
    fputs(i ? "," : "", out);
    json_view(out, fn->name);
    fputs(":{\"inputs\":", out);
    dump_fn_args(out, fn->inputs, fn->input_count);
    fputs(",\"outputs\":", out);
    dump_fn_args(out, fn->outputs, fn->output_count);
    fprintf(out, ",\"node_count\":%zu,\"attr_count\":%zu,\"ret\":{",
            fn->node_count, fn->attr_count);
    for (size_t r = 0; r < fn->ret_count; r++) {
      fputs(r ? "," : "", out);
      json_view(out, fn->ret[r].key);
      fputc(':', out);
      json_view(out, fn->ret[r].value);
    }
    fputs("}}", out);
  }
  fputs("},\"consts\":[", out);
  bool first = true;
  kiln_tf_str graph_name = {"", 0};
  dump_nodes_consts(out, &first, graph_name, g->nodes, g->node_count);
  for (size_t i = 0; i < g->function_count; i++)
    dump_nodes_consts(out, &first, g->functions[i].name, g->functions[i].nodes,
                      g->functions[i].node_count);
  fputs("]}", out);
}

/* Prints {"schema_version", "serving", "meta_graphs": [...]} or
 * {"error": message}; exits 0 either way (the message is what is
 * checked). */
static int dump_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return 2;
  }
  size_t cap = 1 << 16, size = 0;
  unsigned char *data = malloc(cap);
  for (size_t got; data && (got = fread(data + size, 1, cap - size, f)) > 0;) {
    size += got;
    if (size == cap) {
      unsigned char *grown = realloc(data, cap *= 2);
      if (!grown) free(data);
      data = grown;
    }
  }
  fclose(f);
  if (!data) return 2;
  kiln_tf_saved_model *model = NULL;
  kiln_status *status =
      kiln_tf_saved_model_parse(data, size, "saved_model.pb", &model);
  const kiln_tf_meta_graph *serving = NULL;
  if (!status) status = kiln_tf_pick_serving(model, "saved_model.pb", &serving);
  if (status) {
    fputs("{\"error\":", stdout);
    json_str(stdout, kiln_status_message(status),
             strlen(kiln_status_message(status)));
    fputs("}\n", stdout);
    kiln_status_free(status);
  } else {
    printf("{\"schema_version\":%lld,\"serving\":%zu,\"meta_graphs\":[",
           (long long)model->schema_version,
           (size_t)(serving - model->meta_graphs));
    for (size_t i = 0; i < model->meta_graph_count; i++) {
      fputs(i ? "," : "", stdout);
      dump_meta_graph(stdout, &model->meta_graphs[i]);
    }
    fputs("]}\n", stdout);
  }
  kiln_tf_saved_model_free(model);
  free(data);
  return 0;
}

/* ------------------------------------------------- writing test models */

static void put_shape(kiln_pb_writer *w, uint32_t number, int rank,
                      const int64_t *dims, bool unknown_rank) {
  size_t m = kiln_pb_begin(w, number);
  for (int d = 0; d < rank; d++) {
    size_t dim = kiln_pb_begin(w, TF_SHAPE_DIM);
    kiln_pb_put_int64(w, TF_DIM_SIZE, dims[d]);
    kiln_pb_put_string(w, 2, "dim_name"); /* Dim.name, skipped */
    kiln_pb_end(w, dim);
  }
  if (unknown_rank) kiln_pb_put_bool(w, TF_SHAPE_UNKNOWN_RANK, true);
  kiln_pb_end(w, m);
}

/* Opens an attr map entry with its key and returns the marks (entry,
 * value) to close with end_attr. */
static void begin_attr(kiln_pb_writer *w, uint32_t number, const char *key,
                       size_t marks[2]) {
  marks[0] = kiln_pb_begin(w, number);
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  marks[1] = kiln_pb_begin(w, TF_MAP_VALUE);
}

static void end_attr(kiln_pb_writer *w, size_t marks[2]) {
  kiln_pb_end(w, marks[1]);
  kiln_pb_end(w, marks[0]);
}

/* A TensorProto of float32 [2,3] in tensor_content, as a field. */
static const float CONST_VALUES[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 8.0f};

static void put_const_tensor(kiln_pb_writer *w, uint32_t number) {
  size_t t = kiln_pb_begin(w, number);
  kiln_pb_put_int64(w, TF_TENSOR_DTYPE, TF_DT_FLOAT);
  int64_t dims[2] = {2, 3};
  put_shape(w, TF_TENSOR_TENSOR_SHAPE, 2, dims, false);
  kiln_pb_put_int64(w, 3, 0); /* version_number, skipped */
  kiln_pb_put_bytes(w, TF_TENSOR_CONTENT, CONST_VALUES, sizeof CONST_VALUES);
  kiln_pb_end(w, t);
}

static void put_node(kiln_pb_writer *w, uint32_t number, const char *name,
                     const char *op, int inputs, const char *const *input) {
  size_t n = kiln_pb_begin(w, number);
  kiln_pb_put_string(w, TF_NODE_NAME, name);
  kiln_pb_put_string(w, TF_NODE_OP, op);
  for (int i = 0; i < inputs; i++)
    kiln_pb_put_string(w, TF_NODE_INPUT, input[i]);
  kiln_pb_put_string(w, TF_NODE_DEVICE, "/device:CPU:0");
  size_t a[2];
  begin_attr(w, TF_NODE_ATTR, "T", a);
  kiln_pb_put_int64(w, TF_ATTR_TYPE, TF_DT_FLOAT);
  end_attr(w, a);
  if (strcmp(op, "Const") == 0) {
    begin_attr(w, TF_NODE_ATTR, "value", a);
    put_const_tensor(w, TF_ATTR_TENSOR);
    end_attr(w, a);
    begin_attr(w, TF_NODE_ATTR, "dtype", a);
    kiln_pb_put_int64(w, TF_ATTR_TYPE, TF_DT_FLOAT);
    end_attr(w, a);
  }
  kiln_pb_end(w, n);
}

/* A node with one attribute of every AttrValue kind. */
static void put_attr_node(kiln_pb_writer *w) {
  size_t n = kiln_pb_begin(w, TF_GRAPH_NODE);
  kiln_pb_put_string(w, TF_NODE_NAME, "attrs");
  kiln_pb_put_string(w, TF_NODE_OP, "Fancy");
  size_t a[2];
  begin_attr(w, TF_NODE_ATTR, "s", a);
  kiln_pb_put_string(w, TF_ATTR_S, "SAME");
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "i", a);
  kiln_pb_put_int64(w, TF_ATTR_I, -7);
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "f", a);
  kiln_pb_put_float(w, TF_ATTR_F, 0.25f);
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "b", a);
  kiln_pb_put_bool(w, TF_ATTR_B, true);
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "shape", a);
  int64_t dims[3] = {-1, 4, 0};
  put_shape(w, TF_ATTR_SHAPE, 3, dims, false);
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "placeholder", a);
  kiln_pb_put_string(w, TF_ATTR_PLACEHOLDER, "T");
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "func", a);
  {
    size_t fn = kiln_pb_begin(w, TF_ATTR_FUNC);
    kiln_pb_put_string(w, TF_NAME_ATTR_LIST_NAME, "body_fn");
    size_t inner[2];
    begin_attr(w, TF_NAME_ATTR_LIST_ATTR, "k", inner);
    kiln_pb_put_int64(w, TF_ATTR_I, 3);
    end_attr(w, inner);
    kiln_pb_end(w, fn);
  }
  end_attr(w, a);
  begin_attr(w, TF_NODE_ATTR, "list", a);
  {
    size_t l = kiln_pb_begin(w, TF_ATTR_LIST);
    kiln_pb_put_string(w, TF_ATTR_S, "a");
    kiln_pb_put_string(w, TF_ATTR_S, "bc");
    /* i: one packed run, then one unpacked value, then packed again */
    size_t p = kiln_pb_begin(w, TF_ATTR_I);
    kiln_pb_put_varint(w, 1);
    kiln_pb_put_varint(w, (uint64_t)-2);
    kiln_pb_end(w, p);
    kiln_pb_put_int64(w, TF_ATTR_I, 300);
    p = kiln_pb_begin(w, TF_ATTR_I);
    kiln_pb_put_varint(w, (uint64_t)INT64_MIN);
    kiln_pb_end(w, p);
    kiln_pb_put_float(w, TF_ATTR_F, 1.5f);
    kiln_pb_put_float(w, TF_ATTR_F, -3.0f);
    p = kiln_pb_begin(w, TF_ATTR_B);
    kiln_pb_put_varint(w, 1);
    kiln_pb_put_varint(w, 0);
    kiln_pb_end(w, p);
    kiln_pb_put_int64(w, TF_ATTR_TYPE, TF_DT_INT64);
    kiln_pb_put_int64(w, TF_ATTR_TYPE, TF_DT_HALF);
    int64_t d1[1] = {5};
    put_shape(w, TF_ATTR_SHAPE, 1, d1, false);
    put_shape(w, TF_ATTR_SHAPE, 0, NULL, true);
    put_const_tensor(w, TF_ATTR_TENSOR);
    size_t fn = kiln_pb_begin(w, TF_LIST_FUNC);
    kiln_pb_put_string(w, TF_NAME_ATTR_LIST_NAME, "listed_fn");
    kiln_pb_end(w, fn);
    kiln_pb_end(w, l);
  }
  end_attr(w, a);
  /* a key given twice: the last wins */
  begin_attr(w, TF_NODE_ATTR, "i", a);
  kiln_pb_put_int64(w, TF_ATTR_I, 42);
  end_attr(w, a);
  kiln_pb_end(w, n);
}

static void put_arg(kiln_pb_writer *w, uint32_t number, const char *name,
                    int type, const char *type_attr, const char *number_attr,
                    const char *type_list_attr) {
  size_t a = kiln_pb_begin(w, number);
  kiln_pb_put_string(w, TF_ARG_NAME, name);
  kiln_pb_put_string(w, 2, "described"); /* description, skipped */
  if (type) kiln_pb_put_int64(w, TF_ARG_TYPE, type);
  if (type_attr) kiln_pb_put_string(w, TF_ARG_TYPE_ATTR, type_attr);
  if (number_attr) kiln_pb_put_string(w, TF_ARG_NUMBER_ATTR, number_attr);
  if (type_list_attr)
    kiln_pb_put_string(w, TF_ARG_TYPE_LIST_ATTR, type_list_attr);
  kiln_pb_end(w, a);
}

static void put_function(kiln_pb_writer *w) {
  size_t fn = kiln_pb_begin(w, TF_LIBRARY_FUNCTION);
  size_t sig = kiln_pb_begin(w, TF_FUNCTION_SIGNATURE);
  kiln_pb_put_string(w, TF_OP_DEF_NAME, "__inference_f_12");
  put_arg(w, TF_OP_DEF_INPUT_ARG, "x", 0, "T", NULL, NULL);
  put_arg(w, TF_OP_DEF_INPUT_ARG, "xs", 0, NULL, "N", "Tlist");
  put_arg(w, TF_OP_DEF_OUTPUT_ARG, "identity", TF_DT_FLOAT, NULL, NULL, NULL);
  kiln_pb_end(w, sig);
  const char *mul_in[2] = {"x", "c:output:0"};
  put_node(w, TF_FUNCTION_NODE_DEF, "c", "Const", 0, NULL);
  put_node(w, TF_FUNCTION_NODE_DEF, "mul", "Mul", 2, mul_in);
  size_t ret = kiln_pb_begin(w, TF_FUNCTION_RET);
  kiln_pb_put_string(w, TF_MAP_KEY, "identity");
  kiln_pb_put_string(w, TF_MAP_VALUE, "mul:z:0");
  kiln_pb_end(w, ret);
  size_t ctl = kiln_pb_begin(w, 6); /* control_ret, skipped */
  kiln_pb_put_string(w, TF_MAP_KEY, "k");
  kiln_pb_end(w, ctl);
  size_t a[2];
  begin_attr(w, TF_FUNCTION_ATTR, "_noinline", a);
  kiln_pb_put_bool(w, TF_ATTR_B, true);
  end_attr(w, a);
  kiln_pb_end(w, fn);
  size_t grad = kiln_pb_begin(w, 2); /* a GradientDef, skipped */
  kiln_pb_put_string(w, 1, "__inference_f_12");
  kiln_pb_end(w, grad);
}

static void put_tensor_info(kiln_pb_writer *w, const char *key,
                            const char *name, int dtype, int rank,
                            const int64_t *dims, bool unknown_rank) {
  size_t e = kiln_pb_begin(w, TF_SIGNATURE_INPUTS);
  kiln_pb_put_string(w, TF_MAP_KEY, key);
  size_t v = kiln_pb_begin(w, TF_MAP_VALUE);
  kiln_pb_put_string(w, TF_TENSOR_INFO_NAME, name);
  kiln_pb_put_int64(w, TF_TENSOR_INFO_DTYPE, dtype);
  put_shape(w, TF_TENSOR_INFO_TENSOR_SHAPE, rank, dims, unknown_rank);
  kiln_pb_end(w, v);
  kiln_pb_end(w, e);
}

/* The test's SavedModel: a "serve" MetaGraphDef with a graph, a library
 * and two signatures, and a second one tagged "train" with nothing else;
 * fields the reader skips are put in between. */
static kiln_pb_writer make_saved_model(void) {
  kiln_pb_writer w = {0};
  kiln_pb_put_int64(&w, TF_SAVED_MODEL_SCHEMA_VERSION, 1);
  size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
  {
    size_t info = kiln_pb_begin(&w, TF_META_GRAPH_META_INFO_DEF);
    kiln_pb_put_string(&w, 1, "meta version"); /* skipped */
    kiln_pb_put_string(&w, TF_META_INFO_TAGS, "serve");
    kiln_pb_put_string(&w, 5, "2.21.0"); /* tensorflow_version, skipped */
    kiln_pb_end(&w, info);
    size_t g = kiln_pb_begin(&w, TF_META_GRAPH_GRAPH_DEF);
    put_node(&w, TF_GRAPH_NODE, "x", "Placeholder", 0, NULL);
    const char *add_in[3] = {"x", "c:0", "^init"};
    put_node(&w, TF_GRAPH_NODE, "c", "Const", 0, NULL);
    put_node(&w, TF_GRAPH_NODE, "add", "AddV2", 3, add_in);
    put_attr_node(&w);
    size_t lib = kiln_pb_begin(&w, TF_GRAPH_LIBRARY);
    put_function(&w);
    kiln_pb_end(&w, lib);
    size_t v = kiln_pb_begin(&w, TF_GRAPH_VERSIONS);
    kiln_pb_put_int64(&w, TF_VERSIONS_PRODUCER, 1987);
    kiln_pb_put_int64(&w, TF_VERSIONS_MIN_CONSUMER, 12);
    kiln_pb_end(&w, v);
    kiln_pb_end(&w, g);
    size_t saver = kiln_pb_begin(&w, 3); /* saver_def, skipped */
    kiln_pb_put_string(&w, 1, "save/Const:0");
    kiln_pb_end(&w, saver);
    size_t coll = kiln_pb_begin(&w, 4); /* collection_def, skipped */
    kiln_pb_put_string(&w, 1, "variables");
    kiln_pb_put_bytes(&w, 2, "\x0a\x03\x0a\x01z", 5);
    kiln_pb_end(&w, coll);
    size_t sd = kiln_pb_begin(&w, TF_META_GRAPH_SIGNATURE_DEF);
    kiln_pb_put_string(&w, TF_MAP_KEY, "serving_default");
    size_t def = kiln_pb_begin(&w, TF_MAP_VALUE);
    int64_t in_dims[2] = {-1, 3};
    put_tensor_info(&w, "x", "serving_default_x:0", TF_DT_FLOAT, 2, in_dims,
                    false);
    put_tensor_info(&w, "ids", "serving_default_ids:0", TF_DT_INT64, 0, NULL,
                    true);
    size_t out = kiln_pb_begin(&w, TF_SIGNATURE_OUTPUTS);
    kiln_pb_put_string(&w, TF_MAP_KEY, "y");
    size_t ov = kiln_pb_begin(&w, TF_MAP_VALUE);
    kiln_pb_put_string(&w, TF_TENSOR_INFO_NAME, "StatefulPartitionedCall:0");
    kiln_pb_put_int64(&w, TF_TENSOR_INFO_DTYPE, TF_DT_FLOAT);
    kiln_pb_end(&w, ov);
    kiln_pb_end(&w, out);
    kiln_pb_put_string(&w, TF_SIGNATURE_METHOD_NAME,
                       "tensorflow/serving/predict");
    kiln_pb_end(&w, def);
    kiln_pb_end(&w, sd);
    sd = kiln_pb_begin(&w, TF_META_GRAPH_SIGNATURE_DEF);
    kiln_pb_put_string(&w, TF_MAP_KEY, "other");
    def = kiln_pb_begin(&w, TF_MAP_VALUE);
    kiln_pb_end(&w, def);
    kiln_pb_end(&w, sd);
    size_t asset = kiln_pb_begin(&w, 6); /* asset_file_def, skipped */
    kiln_pb_put_string(&w, 2, "vocab.txt");
    kiln_pb_end(&w, asset);
    size_t object = kiln_pb_begin(&w, 7); /* object_graph_def, skipped */
    kiln_pb_put_bytes(&w, 1, "\x12\x00", 2);
    kiln_pb_end(&w, object);
  }
  kiln_pb_end(&w, mg);
  mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
  size_t info = kiln_pb_begin(&w, TF_META_GRAPH_META_INFO_DEF);
  kiln_pb_put_string(&w, TF_META_INFO_TAGS, "train");
  kiln_pb_put_string(&w, TF_META_INFO_TAGS, "gpu");
  kiln_pb_end(&w, info);
  kiln_pb_end(&w, mg);
  return w;
}

/* ----------------------------------------------------------- the tests */

static kiln_status *parse(const kiln_pb_writer *w, kiln_tf_saved_model **out) {
  return kiln_tf_saved_model_parse(w->data, w->len, "test.pb", out);
}

static bool floats_are(const float *got, const float *want, size_t n) {
  return memcmp(got, want, n * sizeof *got) == 0;
}

static void check_const_node(const kiln_tf_node *node) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(node, "value");
  CHECK(v && v->kind == KILN_TF_ATTR_TENSOR);
  if (!v || v->kind != KILN_TF_ATTR_TENSOR) return;
  kiln_tf_decoded d;
  CHECK_OK(kiln_tf_tensor_decode(v->tensor, 0, &d));
  CHECK(d.dtype == KILN_FLOAT32 && d.rank == 2 && d.dims[0] == 2 &&
        d.dims[1] == 3 && d.count == 6 && d.nbytes == 24);
  if (d.data) CHECK(floats_are(d.data, CONST_VALUES, 6));
  kiln_tf_decoded_free(&d);
  const kiln_tf_attr_value *dtype = kiln_tf_node_attr(node, "dtype");
  CHECK(dtype && dtype->kind == KILN_TF_ATTR_TYPE &&
        dtype->type == TF_DT_FLOAT);
}

static void check_attr_node(const kiln_tf_node *node) {
  CHECK(kiln_tf_str_eq(node->op, "Fancy") && node->input_count == 0);
  const kiln_tf_attr_value *v = kiln_tf_node_attr(node, "s");
  CHECK(v && v->kind == KILN_TF_ATTR_S && kiln_tf_str_eq(v->s, "SAME"));
  v = kiln_tf_node_attr(node, "i");
  CHECK(v && v->kind == KILN_TF_ATTR_I && v->i == 42); /* the last "i" */
  v = kiln_tf_node_attr(node, "f");
  CHECK(v && v->kind == KILN_TF_ATTR_F && v->f == 0.25f);
  v = kiln_tf_node_attr(node, "b");
  CHECK(v && v->kind == KILN_TF_ATTR_B && v->b);
  v = kiln_tf_node_attr(node, "shape");
  CHECK(v && v->kind == KILN_TF_ATTR_SHAPE && v->shape.rank == 3 &&
        v->shape.dims[0] == -1 && v->shape.dims[1] == 4 &&
        v->shape.dims[2] == 0 && !v->shape.unknown_rank);
  v = kiln_tf_node_attr(node, "placeholder");
  CHECK(v && v->kind == KILN_TF_ATTR_PLACEHOLDER && kiln_tf_str_eq(v->s, "T"));
  v = kiln_tf_node_attr(node, "func");
  CHECK(v && v->kind == KILN_TF_ATTR_FUNC &&
        kiln_tf_str_eq(v->func->name, "body_fn") && v->func->attr_count == 1);
  if (v && v->kind == KILN_TF_ATTR_FUNC) {
    const kiln_tf_attr_value *k =
        kiln_tf_find_attr(v->func->attrs, v->func->attr_count, "k");
    CHECK(k && k->kind == KILN_TF_ATTR_I && k->i == 3);
  }
  CHECK(kiln_tf_node_attr(node, "missing") == NULL);
  v = kiln_tf_node_attr(node, "list");
  CHECK(v && v->kind == KILN_TF_ATTR_LIST);
  if (!v || v->kind != KILN_TF_ATTR_LIST) return;
  const kiln_tf_attr_list *l = v->list;
  CHECK(l->s_count == 2 && kiln_tf_str_eq(l->s[0], "a") &&
        kiln_tf_str_eq(l->s[1], "bc"));
  CHECK(l->i_count == 4 && l->i[0] == 1 && l->i[1] == -2 && l->i[2] == 300 &&
        l->i[3] == INT64_MIN);
  CHECK(l->f_count == 2 && l->f[0] == 1.5f && l->f[1] == -3.0f);
  CHECK(l->b_count == 2 && l->b[0] && !l->b[1]);
  CHECK(l->type_count == 2 && l->type[0] == TF_DT_INT64 &&
        l->type[1] == TF_DT_HALF);
  CHECK(l->shape_count == 2 && l->shape[0].rank == 1 &&
        l->shape[0].dims[0] == 5 && l->shape[1].unknown_rank);
  CHECK(l->tensor_count == 1 && l->tensor[0].dtype == TF_DT_FLOAT &&
        l->tensor[0].has_content && l->tensor[0].content_len == 24);
  CHECK(l->func_count == 1 && kiln_tf_str_eq(l->func[0].name, "listed_fn"));
}

static void check_function(const kiln_tf_graph *g) {
  CHECK(g->function_count == 1);
  kiln_tf_str name = {"__inference_f_12", strlen("__inference_f_12")};
  const kiln_tf_function *fn = kiln_tf_find_function(g, name);
  CHECK(fn != NULL);
  kiln_tf_str other = {"__inference_f_1", strlen("__inference_f_1")};
  CHECK(kiln_tf_find_function(g, other) == NULL);
  if (!fn) return;
  CHECK(fn->input_count == 2 && fn->output_count == 1);
  if (fn->input_count == 2) {
    CHECK(kiln_tf_str_eq(fn->inputs[0].name, "x") &&
          kiln_tf_str_eq(fn->inputs[0].type_attr, "T") &&
          fn->inputs[0].type == 0);
    CHECK(kiln_tf_str_eq(fn->inputs[1].number_attr, "N") &&
          kiln_tf_str_eq(fn->inputs[1].type_list_attr, "Tlist"));
  }
  if (fn->output_count == 1)
    CHECK(kiln_tf_str_eq(fn->outputs[0].name, "identity") &&
          fn->outputs[0].type == TF_DT_FLOAT &&
          fn->outputs[0].type_attr.len == 0);
  CHECK(fn->node_count == 2 && fn->ret_count == 1 && fn->attr_count == 1);
  if (fn->node_count == 2) {
    check_const_node(&fn->nodes[0]);
    CHECK(fn->nodes[1].input_count == 2 &&
          kiln_tf_str_eq(fn->nodes[1].inputs[1], "c:output:0"));
  }
  if (fn->ret_count == 1)
    CHECK(kiln_tf_str_eq(fn->ret[0].key, "identity") &&
          kiln_tf_str_eq(fn->ret[0].value, "mul:z:0"));
  const kiln_tf_attr_value *noinline =
      kiln_tf_find_attr(fn->attrs, fn->attr_count, "_noinline");
  CHECK(noinline && noinline->kind == KILN_TF_ATTR_B && noinline->b);
}

static void test_parse(void) {
  kiln_pb_writer w = make_saved_model();
  CHECK(!w.failed);
  kiln_tf_saved_model *m = NULL;
  CHECK_OK(parse(&w, &m));
  if (!m) {
    kiln_pb_writer_free(&w);
    return;
  }
  CHECK(m->schema_version == 1 && m->meta_graph_count == 2);
  const kiln_tf_meta_graph *mg = NULL;
  CHECK_OK(kiln_tf_pick_serving(m, "test.pb", &mg));
  CHECK(mg == &m->meta_graphs[0]);
  CHECK(m->meta_graphs[1].tag_count == 2 &&
        kiln_tf_str_eq(m->meta_graphs[1].tags[1], "gpu") &&
        m->meta_graphs[1].graph.node_count == 0);
  if (mg) {
    CHECK(mg->tag_count == 1 && kiln_tf_str_eq(mg->tags[0], "serve"));
    const kiln_tf_graph *g = &mg->graph;
    CHECK(g->producer == 1987 && g->min_consumer == 12);
    CHECK(g->node_count == 4);
    if (g->node_count == 4) {
      const kiln_tf_node *add = &g->nodes[2];
      CHECK(kiln_tf_str_eq(add->name, "add") &&
            kiln_tf_str_eq(add->op, "AddV2") &&
            kiln_tf_str_eq(add->device, "/device:CPU:0"));
      CHECK(add->input_count == 3 && kiln_tf_str_eq(add->inputs[0], "x") &&
            kiln_tf_str_eq(add->inputs[1], "c:0") &&
            kiln_tf_str_eq(add->inputs[2], "^init"));
      /* zero-copy: the views point into the buffer */
      CHECK((const uint8_t *)add->name.data > w.data &&
            (const uint8_t *)add->name.data < w.data + w.len);
      check_const_node(&g->nodes[1]);
      check_attr_node(&g->nodes[3]);
    }
    check_function(g);
    CHECK(mg->signature_count == 2);
    const kiln_tf_signature *s = kiln_tf_find_signature(mg, "serving_default");
    CHECK(s != NULL && kiln_tf_find_signature(mg, "serving") == NULL);
    if (s) {
      CHECK(kiln_tf_str_eq(s->method_name, "tensorflow/serving/predict"));
      CHECK(s->input_count == 2 && s->output_count == 1);
      if (s->input_count == 2) {
        const kiln_tf_tensor_info *x = &s->inputs[0].info;
        CHECK(kiln_tf_str_eq(s->inputs[0].key, "x") &&
              kiln_tf_str_eq(x->name, "serving_default_x:0") &&
              x->dtype == TF_DT_FLOAT && x->has_shape && x->shape.rank == 2 &&
              x->shape.dims[0] == -1 && x->shape.dims[1] == 3);
        const kiln_tf_tensor_info *ids = &s->inputs[1].info;
        CHECK(ids->dtype == TF_DT_INT64 && ids->shape.unknown_rank &&
              ids->shape.rank == 0);
      }
      if (s->output_count == 1)
        CHECK(!s->outputs[0].info.has_shape &&
              kiln_tf_str_eq(s->outputs[0].info.name,
                             "StatefulPartitionedCall:0"));
    }
    const kiln_tf_signature *other = kiln_tf_find_signature(mg, "other");
    CHECK(other && other->input_count == 0 && other->method_name.len == 0);
  }
  kiln_tf_saved_model_free(m);
  kiln_pb_writer_free(&w);
}

/* A SavedModel of MetaGraphDefs with the given tags (';' between graphs,
 * ',' between tags). */
static kiln_pb_writer tagged_model(const char *spec) {
  kiln_pb_writer w = {0};
  char copy[128];
  snprintf(copy, sizeof copy, "%s", spec);
  char *graph_save, *tag_save;
  for (char *g = strtok_r(copy, ";", &graph_save); g;
       g = strtok_r(NULL, ";", &graph_save)) {
    size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
    size_t info = kiln_pb_begin(&w, TF_META_GRAPH_META_INFO_DEF);
    for (char *t = strtok_r(g, ",", &tag_save); t;
         t = strtok_r(NULL, ",", &tag_save))
      if (strcmp(t, "-") != 0) kiln_pb_put_string(&w, TF_META_INFO_TAGS, t);
    kiln_pb_end(&w, info);
    kiln_pb_end(&w, mg);
  }
  return w;
}

/* A TensorInfo's name and sparse encodings are a oneof: the last given
 * counts. */
static void test_tensor_info_oneof(void) {
  for (int sparse_last = 0; sparse_last <= 1; sparse_last++) {
    kiln_pb_writer w = {0};
    size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
    size_t sd = kiln_pb_begin(&w, TF_META_GRAPH_SIGNATURE_DEF);
    kiln_pb_put_string(&w, TF_MAP_KEY, "s");
    size_t def = kiln_pb_begin(&w, TF_MAP_VALUE);
    size_t e = kiln_pb_begin(&w, TF_SIGNATURE_INPUTS);
    kiln_pb_put_string(&w, TF_MAP_KEY, "in");
    size_t v = kiln_pb_begin(&w, TF_MAP_VALUE);
    if (sparse_last) kiln_pb_put_string(&w, TF_TENSOR_INFO_NAME, "dense:0");
    size_t coo = kiln_pb_begin(&w, TF_TENSOR_INFO_COO_SPARSE);
    kiln_pb_put_string(&w, 1, "values:0");
    kiln_pb_end(&w, coo);
    if (!sparse_last) kiln_pb_put_string(&w, TF_TENSOR_INFO_NAME, "dense:0");
    kiln_pb_end(&w, v);
    kiln_pb_end(&w, e);
    kiln_pb_end(&w, def);
    kiln_pb_end(&w, sd);
    kiln_pb_end(&w, mg);
    kiln_tf_saved_model *m = NULL;
    CHECK_OK(parse(&w, &m));
    if (m) {
      const kiln_tf_signature *s = kiln_tf_find_signature(m->meta_graphs, "s");
      CHECK(s && s->input_count == 1);
      if (s && s->input_count == 1) {
        const kiln_tf_tensor_info *info = &s->inputs[0].info;
        CHECK(info->encoded_otherwise == (bool)sparse_last);
        CHECK(kiln_tf_str_eq(info->name, sparse_last ? "" : "dense:0"));
      }
    }
    kiln_tf_saved_model_free(m);
    kiln_pb_writer_free(&w);
  }
}

static void test_pick_serving(void) {
  struct {
    const char *spec;
    int want; /* index, or -1 for an error */
    const char *needle;
  } cases[] = {
      {"-", 0, NULL},
      {"train", 0, NULL},
      {"train;serve,gpu", 1, NULL},
      {"train;tpu", -1,
       "no MetaGraphDef is tagged \"serve\" among 2 (tags: "
       "[train], [tpu])"},
      {"serve;serve,gpu", -1, "more than one"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kiln_pb_writer w = tagged_model(cases[i].spec);
    kiln_tf_saved_model *m = NULL;
    CHECK_OK(parse(&w, &m));
    if (m) {
      const kiln_tf_meta_graph *mg = NULL;
      if (cases[i].want >= 0) {
        CHECK_OK(kiln_tf_pick_serving(m, "x.pb", &mg));
        CHECK(mg == &m->meta_graphs[cases[i].want]);
      } else {
        CHECK_ERROR(kiln_tf_pick_serving(m, "x.pb", &mg),
                    KILN_ERR_INVALID_MODEL, cases[i].needle);
        CHECK(mg == NULL);
      }
    }
    kiln_tf_saved_model_free(m);
    kiln_pb_writer_free(&w);
  }
}

/* ------------------------------------------------------ tensor decoding */

/* A TensorProto message (not a field): dtype, shape, then whatever the
 * caller appends. */
static void tensor_head(kiln_pb_writer *w, int dtype, int rank,
                        const int64_t *dims) {
  memset(w, 0, sizeof *w);
  kiln_pb_put_int64(w, TF_TENSOR_DTYPE, dtype);
  put_shape(w, TF_TENSOR_TENSOR_SHAPE, rank, dims, false);
}

/* Parses w as a TensorProto inside a one-node SavedModel and decodes it. */
static kiln_status *decode_message(const kiln_pb_writer *t, size_t max_bytes,
                                   kiln_tf_decoded *out) {
  memset(out, 0, sizeof *out);
  kiln_pb_writer w = {0};
  size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
  size_t g = kiln_pb_begin(&w, TF_META_GRAPH_GRAPH_DEF);
  size_t n = kiln_pb_begin(&w, TF_GRAPH_NODE);
  kiln_pb_put_string(&w, TF_NODE_OP, "Const");
  size_t a[2];
  begin_attr(&w, TF_NODE_ATTR, "value", a);
  kiln_pb_put_bytes(&w, TF_ATTR_TENSOR, t->data, t->len);
  end_attr(&w, a);
  kiln_pb_end(&w, n);
  kiln_pb_end(&w, g);
  kiln_pb_end(&w, mg);
  kiln_tf_saved_model *m = NULL;
  kiln_status *status = parse(&w, &m);
  if (!status) {
    const kiln_tf_attr_value *v =
        kiln_tf_node_attr(&m->meta_graphs[0].graph.nodes[0], "value");
    status = kiln_tf_tensor_decode(v->tensor, max_bytes, out);
  }
  kiln_tf_saved_model_free(m);
  kiln_pb_writer_free(&w);
  return status;
}

/* How one dtype's values are written to its typed field and how each is
 * expected to land in the dense output. */
typedef struct {
  int tf;
  kiln_dtype kiln;
  uint32_t field;
  int wire;       /* of one unpacked value */
  size_t content; /* bytes per element in tensor_content */
} dtype_case;

static const dtype_case DTYPE_CASES[] = {
    {TF_DT_FLOAT, KILN_FLOAT32, TF_TENSOR_FLOAT_VAL, KILN_PB_I32, 4},
    {TF_DT_DOUBLE, KILN_FLOAT64, TF_TENSOR_DOUBLE_VAL, KILN_PB_I64, 8},
    {TF_DT_INT32, KILN_INT32, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 4},
    {TF_DT_UINT8, KILN_UINT8, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 1},
    {TF_DT_INT16, KILN_INT16, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 2},
    {TF_DT_INT8, KILN_INT8, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 1},
    {TF_DT_INT64, KILN_INT64, TF_TENSOR_INT64_VAL, KILN_PB_VARINT, 8},
    {TF_DT_BOOL, KILN_BOOL, TF_TENSOR_BOOL_VAL, KILN_PB_VARINT, 1},
    {TF_DT_BFLOAT16, KILN_FLOAT32, TF_TENSOR_HALF_VAL, KILN_PB_VARINT, 2},
    {TF_DT_UINT16, KILN_UINT16, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 2},
    {TF_DT_HALF, KILN_FLOAT16, TF_TENSOR_HALF_VAL, KILN_PB_VARINT, 2},
    {TF_DT_UINT32, KILN_UINT32, TF_TENSOR_UINT32_VAL, KILN_PB_VARINT, 4},
    {TF_DT_UINT64, KILN_UINT64, TF_TENSOR_UINT64_VAL, KILN_PB_VARINT, 8},
    {TF_DT_COMPLEX64, KILN_COMPLEX64, TF_TENSOR_SCOMPLEX_VAL, KILN_PB_I32, 8},
    {TF_DT_FLOAT + TF_DT_REF_OFFSET, KILN_FLOAT32, TF_TENSOR_FLOAT_VAL,
     KILN_PB_I32, 4},
};

/* A random value for the field as its wire form (raw), and the bytes it
 * decodes to (written to `want`, the kiln element or half of a complex). */
static uint64_t random_value(const dtype_case *c, unsigned char *want) {
  uint32_t r = kiln_test_rand();
  switch (c->kiln) {
    case KILN_FLOAT32:
      if (c->tf == TF_DT_BFLOAT16) {
        uint32_t bits = (r & 0xffff) << 16;
        memcpy(want, &bits, 4);
        return r & 0xffff;
      }
      /* fall through */
    case KILN_COMPLEX64: {
      float f = kiln_test_uniform(-100, 100);
      memcpy(want, &f, 4);
      uint32_t bits;
      memcpy(&bits, &f, 4);
      return bits;
    }
    case KILN_FLOAT64: {
      double d = kiln_test_uniform(-100, 100) / 7.0;
      memcpy(want, &d, 8);
      uint64_t bits;
      memcpy(&bits, &d, 8);
      return bits;
    }
    case KILN_INT32: {
      int32_t v = (int32_t)r;
      memcpy(want, &v, 4);
      return (uint64_t)(int64_t)v; /* negative: sign-extended, 10 bytes */
    }
    case KILN_INT8: {
      int8_t v = (int8_t)r;
      memcpy(want, &v, 1);
      return (uint64_t)(int64_t)v;
    }
    case KILN_INT16: {
      int16_t v = (int16_t)r;
      memcpy(want, &v, 2);
      return (uint64_t)(int64_t)v;
    }
    case KILN_UINT8:
      *want = (unsigned char)r;
      return (unsigned char)r;
    case KILN_UINT16:
    case KILN_FLOAT16: {
      uint16_t v = (uint16_t)r;
      memcpy(want, &v, 2);
      return v;
    }
    case KILN_UINT32:
      memcpy(want, &r, 4);
      return r;
    case KILN_INT64:
    case KILN_UINT64: {
      uint64_t v = (uint64_t)r << 32 | kiln_test_rand();
      memcpy(want, &v, 8);
      return v;
    }
    default: /* BOOL */
      *want = r & 1;
      return r & 1;
  }
}

static void put_value(kiln_pb_writer *w, const dtype_case *c, uint64_t raw,
                      bool packed_wire) {
  if (packed_wire) { /* inside a packed run: bare */
    if (c->wire == KILN_PB_VARINT) {
      kiln_pb_put_varint(w, raw);
    } else {
      unsigned char b[8];
      size_t n = c->wire == KILN_PB_I32 ? 4 : 8;
      for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(raw >> (8 * i));
      kiln_pb_put_raw(w, b, n);
    }
    return;
  }
  if (c->wire == KILN_PB_VARINT) {
    kiln_pb_put_uint64(w, c->field, raw);
  } else if (c->wire == KILN_PB_I32) {
    uint32_t bits = (uint32_t)raw;
    float f;
    memcpy(&f, &bits, 4);
    kiln_pb_put_float(w, c->field, f);
  } else {
    double d;
    memcpy(&d, &raw, 8);
    kiln_pb_put_double(w, c->field, d);
  }
}

/* Each dtype from typed values: random shapes, a random number of values
 * (0, 1, all, or some), packed and unpacked runs mixed; the expected
 * array repeats the last value (zeros when none). */
static void test_decode_values(void) {
  for (size_t ci = 0; ci < sizeof DTYPE_CASES / sizeof DTYPE_CASES[0]; ci++) {
    const dtype_case *c = &DTYPE_CASES[ci];
    size_t elem = kiln_dtype_size(c->kiln);
    size_t per = c->kiln == KILN_COMPLEX64 ? 2 : 1; /* values per element */
    for (int trial = 0; trial < 12; trial++) {
      int rank = kiln_test_int(0, 3);
      int64_t dims[3], count = 1;
      for (int d = 0; d < rank; d++) {
        dims[d] = kiln_test_int(trial == 11 ? 0 : 1, 4);
        count *= dims[d];
      }
      int64_t given = trial % 4 == 0   ? 0
                      : trial % 4 == 1 ? (count ? 1 : 0)
                      : trial % 4 == 2 ? count
                                       : kiln_test_int(0, (int)count);
      unsigned char *want = calloc((size_t)(count ? count : 1), elem);
      kiln_pb_writer t;
      tensor_head(&t, c->tf, rank, dims);
      size_t mark = 0;
      bool packed = false;
      for (int64_t i = 0; i < given * (int64_t)per; i++) {
        if (kiln_test_int(0, 3) == 0) { /* switch packed <-> unpacked */
          if (packed) kiln_pb_end(&t, mark);
          packed = !packed;
          if (packed) mark = kiln_pb_begin(&t, c->field);
        }
        uint64_t raw = random_value(c, want + (size_t)i * (elem / per));
        put_value(&t, c, raw, packed);
      }
      if (packed) kiln_pb_end(&t, mark);
      for (int64_t i = given; given && i < count; i++)
        memcpy(want + i * elem, want + (given - 1) * elem, elem);
      kiln_tf_decoded d;
      CHECK_OK(decode_message(&t, 0, &d));
      CHECK(d.data != NULL && d.dtype == c->kiln && d.tf_dtype == c->tf &&
            d.rank == rank && d.count == count &&
            d.nbytes == (size_t)count * elem);
      for (int i = 0; d.data && i < rank; i++) CHECK(d.dims[i] == dims[i]);
      if (d.data && d.nbytes == (size_t)count * elem && count)
        CHECK(memcmp(d.data, want, d.nbytes) == 0);
      kiln_tf_decoded_free(&d);
      /* one value too many is refused */
      for (size_t k = 0; k < per; k++) {
        unsigned char scratch[8];
        put_value(&t, c, random_value(c, scratch), false);
      }
      for (int64_t i = given + 1; i <= count; i++)
        for (size_t k = 0; k < per; k++) {
          unsigned char scratch[8];
          put_value(&t, c, random_value(c, scratch), false);
        }
      CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_INVALID_MODEL,
                  "values for");
      kiln_pb_writer_free(&t);
      free(want);
    }
  }
}

/* Each dtype from tensor_content: the bytes as they are (bfloat16 widened,
 * bool normalized to 0/1), and a size off by one byte refused. */
static void test_decode_content(void) {
  for (size_t ci = 0; ci < sizeof DTYPE_CASES / sizeof DTYPE_CASES[0]; ci++) {
    const dtype_case *c = &DTYPE_CASES[ci];
    int64_t dims[2] = {kiln_test_int(1, 5), kiln_test_int(1, 5)};
    int64_t count = dims[0] * dims[1];
    size_t n = (size_t)count * c->content;
    unsigned char *content = malloc(n);
    for (size_t i = 0; i < n; i++) content[i] = (unsigned char)kiln_test_rand();
    size_t elem = kiln_dtype_size(c->kiln);
    unsigned char *want = malloc((size_t)count * elem);
    for (int64_t i = 0; i < count; i++) {
      if (c->tf == TF_DT_BFLOAT16) {
        unsigned char w4[4] = {0, 0, content[2 * i], content[2 * i + 1]};
        memcpy(want + 4 * i, w4, 4);
      } else if (c->kiln == KILN_BOOL) {
        want[i] = content[i] != 0;
      } else {
        memcpy(want + i * elem, content + i * elem, elem);
      }
    }
    kiln_pb_writer t;
    tensor_head(&t, c->tf, 2, dims);
    kiln_pb_writer bad;
    tensor_head(&bad, c->tf, 2, dims);
    kiln_pb_put_bytes(&bad, TF_TENSOR_CONTENT, content, n - 1);
    /* a typed value next to the content is ignored, as TensorFlow does */
    unsigned char scratch[8];
    put_value(&t, c, random_value(c, scratch), false);
    kiln_pb_put_bytes(&t, TF_TENSOR_CONTENT, content, n);
    kiln_tf_decoded d;
    CHECK_OK(decode_message(&t, 0, &d));
    CHECK(d.data && d.count == count && d.nbytes == (size_t)count * elem);
    if (d.data && d.nbytes == (size_t)count * elem)
      CHECK(memcmp(d.data, want, d.nbytes) == 0);
    kiln_tf_decoded_free(&d);
    CHECK_ERROR(decode_message(&bad, 0, &d), KILN_ERR_INVALID_MODEL,
                "tensor_content holds");
    kiln_pb_writer_free(&t);
    kiln_pb_writer_free(&bad);
    free(content);
    free(want);
  }
}

/* The shapes and types decoding refuses, before allocating. */
static void test_decode_refusals(void) {
  kiln_tf_decoded d;
  kiln_pb_writer t;
  int64_t unknown[2] = {-1, 3};
  tensor_head(&t, TF_DT_FLOAT, 2, unknown);
  kiln_pb_put_float(&t, TF_TENSOR_FLOAT_VAL, 1.0f);
  CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_INVALID_MODEL,
              "dim 0 is -1; a tensor's shape must be fully known");
  kiln_pb_writer_free(&t);

  int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  tensor_head(&t, TF_DT_FLOAT, 2, huge);
  kiln_pb_put_float(&t, TF_TENSOR_FLOAT_VAL, 1.0f);
  CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_INVALID_MODEL,
              "exceed the 1073741824-byte limit");
  kiln_pb_writer_free(&t);

  int64_t overflow[3] = {INT64_MAX, INT64_MAX, 0}; /* zero elements */
  tensor_head(&t, TF_DT_INT8, 3, overflow);
  CHECK_OK(decode_message(&t, 0, &d));
  CHECK(d.count == 0 && d.nbytes == 0 && d.data != NULL);
  kiln_tf_decoded_free(&d);
  kiln_pb_writer_free(&t);

  int64_t medium[1] = {1000};
  tensor_head(&t, TF_DT_INT64, 1, medium);
  CHECK_ERROR(decode_message(&t, 7999, &d), KILN_ERR_INVALID_MODEL,
              "exceed the 7999-byte limit");
  CHECK_OK(decode_message(&t, 8000, &d));
  kiln_tf_decoded_free(&d);
  kiln_pb_writer_free(&t);

  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  tensor_head(&t, TF_DT_FLOAT, 9, nine);
  CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_UNSUPPORTED,
              "rank 9 is above kiln's 8");
  kiln_pb_writer_free(&t);

  memset(&t, 0, sizeof t);
  kiln_pb_put_int64(&t, TF_TENSOR_DTYPE, TF_DT_FLOAT);
  put_shape(&t, TF_TENSOR_TENSOR_SHAPE, 0, NULL, true);
  CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_INVALID_MODEL,
              "rank is unknown");
  kiln_pb_writer_free(&t);

  struct {
    int dtype;
    const char *name;
  } unsupported[] = {{TF_DT_RESOURCE, "DT_RESOURCE (20)"},
                     {TF_DT_STRING, "DT_STRING (7)"},
                     {18, "DT_COMPLEX128"},
                     {TF_DT_VARIANT + TF_DT_REF_OFFSET, "DT_VARIANT_REF (121)"},
                     {77, "DT_77"},
                     {0, "DT_INVALID"}};
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
    tensor_head(&t, unsupported[i].dtype, 0, NULL);
    CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_UNSUPPORTED,
                unsupported[i].name);
    kiln_pb_writer_free(&t);
  }

  /* an int_val outside int32 (a 5-byte varint Google would truncate) */
  tensor_head(&t, TF_DT_INT32, 0, NULL);
  kiln_pb_put_uint64(&t, TF_TENSOR_INT_VAL, 0xffffffffu);
  CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_INVALID_MODEL,
              "int_val value 4294967295 is outside int32");
  kiln_pb_writer_free(&t);
  tensor_head(&t, TF_DT_COMPLEX64, 0, NULL);
  kiln_pb_put_float(&t, TF_TENSOR_SCOMPLEX_VAL, 1.0f);
  CHECK_ERROR(decode_message(&t, 0, &d), KILN_ERR_INVALID_MODEL,
              "not whole (real, imaginary) pairs");
  kiln_pb_writer_free(&t);
}

static void test_strings(void) {
  int64_t dims[1] = {4};
  kiln_pb_writer w = {0};
  size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
  size_t g = kiln_pb_begin(&w, TF_META_GRAPH_GRAPH_DEF);
  size_t n = kiln_pb_begin(&w, TF_GRAPH_NODE);
  size_t a[2];
  begin_attr(&w, TF_NODE_ATTR, "value", a);
  size_t t = kiln_pb_begin(&w, TF_ATTR_TENSOR);
  kiln_pb_put_int64(&w, TF_TENSOR_DTYPE, TF_DT_STRING);
  put_shape(&w, TF_TENSOR_TENSOR_SHAPE, 1, dims, false);
  kiln_pb_put_string(&w, TF_TENSOR_STRING_VAL, "first");
  kiln_pb_put_bytes(&w, TF_TENSOR_STRING_VAL, "\0last", 5);
  kiln_pb_end(&w, t);
  end_attr(&w, a);
  kiln_pb_end(&w, n);
  kiln_pb_end(&w, g);
  kiln_pb_end(&w, mg);
  kiln_tf_saved_model *m = NULL;
  CHECK_OK(parse(&w, &m));
  if (m) {
    const kiln_tf_tensor *tensor =
        kiln_tf_node_attr(&m->meta_graphs[0].graph.nodes[0], "value")->tensor;
    CHECK(tensor->value_counts[TF_TENSOR_STRING_VAL] == 2);
    kiln_tf_str *s = NULL;
    int64_t count = 0;
    CHECK_OK(kiln_tf_tensor_strings(tensor, 100, &s, &count));
    CHECK(count == 4 && s && kiln_tf_str_eq(s[0], "first") && s[1].len == 5 &&
          memcmp(s[3].data, "\0last", 5) == 0);
    kiln_free(NULL, s);
    CHECK_ERROR(kiln_tf_tensor_strings(tensor, 3, &s, &count),
                KILN_ERR_INVALID_MODEL, "2 strings for 4 elements");
    kiln_tf_decoded d;
    CHECK_ERROR(kiln_tf_tensor_decode(tensor, 0, &d), KILN_ERR_UNSUPPORTED,
                "DT_STRING");
  }
  kiln_tf_saved_model_free(m);
  kiln_pb_writer_free(&w);
}

/* --------------------------------------------------------- bad input */

/* Every prefix of a valid file parses or fails cleanly; cuts inside a
 * message must fail with a byte offset. */
static void test_truncated(void) {
  kiln_pb_writer w = make_saved_model();
  int refused = 0;
  for (size_t len = 0; len < w.len; len++) {
    unsigned char *copy = malloc(len ? len : 1); /* ASan sees overreads */
    memcpy(copy, w.data, len);
    kiln_tf_saved_model *m = NULL;
    kiln_status *status = kiln_tf_saved_model_parse(copy, len, "cut.pb", &m);
    if (status) {
      refused++;
      CHECK(kiln_status_get_code(status) == KILN_ERR_INVALID_MODEL);
      CHECK(strncmp(kiln_status_message(status), "cut.pb: ", 8) == 0);
      kiln_status_free(status);
      CHECK(m == NULL);
    }
    kiln_tf_saved_model_free(m);
    free(copy);
  }
  /* only cuts between the top-level fields can parse */
  CHECK(refused >= (int)w.len - 4);
  kiln_pb_writer_free(&w);
}

/* A SavedModel holding one NodeDef whose bytes are given. */
static kiln_status *parse_node_bytes(const kiln_pb_writer *node) {
  kiln_pb_writer w = {0};
  size_t mg = kiln_pb_begin(&w, TF_SAVED_MODEL_META_GRAPHS);
  size_t g = kiln_pb_begin(&w, TF_META_GRAPH_GRAPH_DEF);
  kiln_pb_put_bytes(&w, TF_GRAPH_NODE, node->data, node->len);
  kiln_pb_end(&w, g);
  kiln_pb_end(&w, mg);
  kiln_tf_saved_model *m = NULL;
  kiln_status *status = parse(&w, &m);
  kiln_tf_saved_model_free(m);
  kiln_pb_writer_free(&w);
  return status;
}

static void test_bad_input(void) {
  kiln_tf_saved_model *m = NULL;
  CHECK_ERROR(kiln_tf_saved_model_parse("", 0, "empty.pb", &m),
              KILN_ERR_INVALID_MODEL, "empty.pb: the file is empty");
  /* a valid message with no meta graphs */
  CHECK_ERROR(kiln_tf_saved_model_parse("\x08\x01", 2, "v.pb", &m),
              KILN_ERR_INVALID_MODEL, "no meta_graphs");

  /* wrong wire types: a name as a varint, a dtype as bytes */
  kiln_pb_writer n = {0};
  kiln_pb_put_uint64(&n, TF_NODE_NAME, 5);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "graph_def: node[0] '': NodeDef: field 1 at byte offset 6 has "
              "wire type 0; a length-delimited value expected");
  kiln_pb_writer_free(&n);
  size_t a[2];
  begin_attr(&n, TF_NODE_ATTR, "value", a);
  size_t t = kiln_pb_begin(&n, TF_ATTR_TENSOR);
  kiln_pb_put_string(&n, TF_TENSOR_DTYPE, "float");
  kiln_pb_end(&n, t);
  end_attr(&n, a);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "attr 'value': TensorProto: field 1");
  kiln_pb_writer_free(&n);
  /* float_val as a varint */
  begin_attr(&n, TF_NODE_ATTR, "value", a);
  t = kiln_pb_begin(&n, TF_ATTR_TENSOR);
  kiln_pb_put_uint64(&n, TF_TENSOR_FLOAT_VAL, 3);
  kiln_pb_end(&n, t);
  end_attr(&n, a);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "field 5 at byte offset");
  kiln_pb_writer_free(&n);

  /* counts that lie: a packed float run of 7 bytes, a packed varint run
   * ending inside a varint, an input length past its message */
  begin_attr(&n, TF_NODE_ATTR, "value", a);
  t = kiln_pb_begin(&n, TF_ATTR_TENSOR);
  kiln_pb_put_bytes(&n, TF_TENSOR_FLOAT_VAL, "1234567", 7);
  kiln_pb_end(&n, t);
  end_attr(&n, a);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "packed field 5 holds a partial 4-byte value");
  kiln_pb_writer_free(&n);
  begin_attr(&n, TF_NODE_ATTR, "list", a);
  t = kiln_pb_begin(&n, TF_ATTR_LIST);
  kiln_pb_put_bytes(&n, TF_ATTR_I, "\x01\x80", 2);
  kiln_pb_end(&n, t);
  end_attr(&n, a);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "a varint runs past the end");
  kiln_pb_writer_free(&n);
  kiln_pb_put_key(&n, TF_NODE_INPUT, KILN_PB_LEN);
  kiln_pb_put_varint(&n, 1000000); /* 1 MB input in a 5-byte node */
  kiln_pb_put_raw(&n, "abc", 3);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "a length-delimited field runs past the end");
  kiln_pb_writer_free(&n);
  /* a dim below -1 */
  begin_attr(&n, TF_NODE_ATTR, "shape", a);
  int64_t dims[2] = {3, -2};
  put_shape(&n, TF_ATTR_SHAPE, 2, dims, false);
  end_attr(&n, a);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
              "dim 1 at byte offset");
  kiln_pb_writer_free(&n);
  /* a group (wire type 3) */
  kiln_pb_put_key(&n, TF_NODE_OP, 3);
  CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL, "groups");
  kiln_pb_writer_free(&n);

  /* AttrValues nested through list.func.attr: 16 levels read, 17 not */
  for (int depth = 16; depth <= 17; depth++) {
    size_t marks[4 * 17];
    int k = 0;
    for (int level = 0; level < depth; level++) {
      marks[k++] =
          kiln_pb_begin(&n, level ? TF_NAME_ATTR_LIST_ATTR : TF_NODE_ATTR);
      kiln_pb_put_string(&n, TF_MAP_KEY, "deep");
      marks[k++] = kiln_pb_begin(&n, TF_MAP_VALUE);
      if (level + 1 < depth) {
        marks[k++] = kiln_pb_begin(&n, TF_ATTR_LIST);
        marks[k++] = kiln_pb_begin(&n, TF_LIST_FUNC);
      } else {
        kiln_pb_put_int64(&n, TF_ATTR_I, 1);
      }
    }
    while (k) kiln_pb_end(&n, marks[--k]);
    if (depth == 16)
      CHECK_OK(parse_node_bytes(&n));
    else
      CHECK_ERROR(parse_node_bytes(&n), KILN_ERR_INVALID_MODEL,
                  "is nested more than 16 deep");
    kiln_pb_writer_free(&n);
  }

  /* random bytes and random flips of a valid file */
  kiln_pb_writer good = make_saved_model();
  unsigned char *buf = malloc(good.len);
  for (int trial = 0; trial < 3000; trial++) {
    size_t len;
    if (trial < 500) {
      len = (size_t)kiln_test_int(1, 300);
      for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)kiln_test_rand();
    } else {
      len = good.len;
      memcpy(buf, good.data, len);
      for (int flips = kiln_test_int(1, 4); flips > 0; flips--)
        buf[kiln_test_int(0, (int)len - 1)] = (unsigned char)kiln_test_rand();
    }
    m = NULL;
    kiln_status *status = kiln_tf_saved_model_parse(buf, len, "r.pb", &m);
    if (status) {
      CHECK(m == NULL &&
            strncmp(kiln_status_message(status), "r.pb: ", 6) == 0);
      kiln_status_free(status);
      continue;
    }
    /* what parses must decode or refuse each Const cleanly */
    for (size_t g = 0; g < m->meta_graph_count; g++)
      for (size_t i = 0; i < m->meta_graphs[g].graph.node_count; i++) {
        const kiln_tf_attr_value *v =
            kiln_tf_node_attr(&m->meta_graphs[g].graph.nodes[i], "value");
        if (!v || v->kind != KILN_TF_ATTR_TENSOR) continue;
        kiln_tf_decoded d;
        kiln_status_free(kiln_tf_tensor_decode(v->tensor, 1 << 20, &d));
        kiln_tf_decoded_free(&d);
      }
    kiln_tf_saved_model_free(m);
  }
  free(buf);
  kiln_pb_writer_free(&good);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--dump") == 0) return dump_file(argv[2]);
  kiln_test_seed(0x7f9a0b1c);
  test_parse();
  test_tensor_info_oneof();
  test_pick_serving();
  test_decode_values();
  test_decode_content();
  test_decode_refusals();
  test_strings();
  test_truncated();
  test_bad_input();
  return kiln_test_finish("test_tf_proto");
}
