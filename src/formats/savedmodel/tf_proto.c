/* tf_proto.c - saved_model.pb's outer messages into the structs of
 * tf_proto.h: SavedModel, MetaGraphDef (tags, signatures, GraphDef; the
 * saver, collections, assets and object graph are skipped unread),
 * SignatureDef and TensorInfo, GraphDef, NodeDef, the FunctionDefLibrary
 * and FunctionDef with its OpDef signature; plus the lookups a later
 * GraphDef-to-IR step needs. Attributes and tensors are tf_attr.c's. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/savedmodel/tf_proto_internal.h"
#include "formats/savedmodel/tf_schema.h"

/* Allocates an array for every occurrence of field `number`. */
#define ALLOC_FOR_FIELD(arena, r, number, array, count)                        \
  do {                                                                         \
    size_t n_;                                                                 \
    KILN_TRY(tf_count_field((r), (number), &n_));                              \
    KILN_TRY(tf_arena_array((arena), n_, sizeof *(array), (void **)&(array))); \
    (count) = 0;                                                               \
  } while (0)

static kiln_status *parse_node(kiln_tf_arena *arena, kiln_pb_reader r,
                               kiln_tf_node *out) {
  memset(out, 0, sizeof *out);
  out->offset = r.base;
  ALLOC_FOR_FIELD(arena, r, TF_NODE_INPUT, out->inputs, out->input_count);
  KILN_TRY(tf_parse_attr_map(arena, r, TF_NODE_ATTR, 0, &out->attrs,
                             &out->attr_count));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    switch (f.number) {
      case TF_NODE_NAME:
        KILN_TRY(tf_str(&r, &f, &out->name));
        break;
      case TF_NODE_OP:
        KILN_TRY(tf_str(&r, &f, &out->op));
        break;
      case TF_NODE_DEVICE:
        KILN_TRY(tf_str(&r, &f, &out->device));
        break;
      case TF_NODE_INPUT:
        KILN_TRY(tf_str(&r, &f, &out->inputs[out->input_count++]));
        break;
      default:
        break;
    }
  }
}

/* A repeated NodeDef field, each error naming the node's index. */
static kiln_status *parse_nodes(kiln_tf_arena *arena, kiln_pb_reader r,
                                uint32_t number, const char *field,
                                kiln_tf_node **nodes, size_t *count) {
  size_t n;
  KILN_TRY(tf_count_field(r, number, &n));
  KILN_TRY(tf_arena_array(arena, n, sizeof **nodes, (void **)nodes));
  *count = 0;
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number != number) continue;
    kiln_pb_reader m;
    KILN_TRY(tf_message(&r, &f, "NodeDef", &m));
    size_t i = (*count)++;
    kiln_tf_node *node = &(*nodes)[i];
    kiln_status *status = parse_node(arena, m, node);
    if (status) {
      int len = (int)(node->name.len > 80 ? 80 : node->name.len);
      return kiln_status_wrap(status, "%s[%zu] '%.*s'", field, i, len,
                              len ? node->name.data : "");
    }
  }
}

static kiln_status *parse_arg(kiln_pb_reader r, kiln_tf_arg *out) {
  memset(out, 0, sizeof *out);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    switch (f.number) {
      case TF_ARG_NAME:
        KILN_TRY(tf_str(&r, &f, &out->name));
        break;
      case TF_ARG_TYPE: {
        int32_t type;
        KILN_TRY(kiln_pb_int32(&r, &f, &type));
        out->type = type;
        break;
      }
      case TF_ARG_TYPE_ATTR:
        KILN_TRY(tf_str(&r, &f, &out->type_attr));
        break;
      case TF_ARG_NUMBER_ATTR:
        KILN_TRY(tf_str(&r, &f, &out->number_attr));
        break;
      case TF_ARG_TYPE_LIST_ATTR:
        KILN_TRY(tf_str(&r, &f, &out->type_list_attr));
        break;
      default:
        break;
    }
  }
}

/* OpDef: the name and the input and output ArgDefs. */
static kiln_status *parse_op_def(kiln_tf_arena *arena, kiln_pb_reader r,
                                 kiln_tf_function *out) {
  ALLOC_FOR_FIELD(arena, r, TF_OP_DEF_INPUT_ARG, out->inputs, out->input_count);
  ALLOC_FOR_FIELD(arena, r, TF_OP_DEF_OUTPUT_ARG, out->outputs,
                  out->output_count);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    kiln_pb_reader m;
    if (f.number == TF_OP_DEF_NAME) {
      KILN_TRY(tf_str(&r, &f, &out->name));
    } else if (f.number == TF_OP_DEF_INPUT_ARG) {
      KILN_TRY(tf_message(&r, &f, "OpDef.ArgDef", &m));
      KILN_TRY(parse_arg(m, &out->inputs[out->input_count++]));
    } else if (f.number == TF_OP_DEF_OUTPUT_ARG) {
      KILN_TRY(tf_message(&r, &f, "OpDef.ArgDef", &m));
      KILN_TRY(parse_arg(m, &out->outputs[out->output_count++]));
    }
  }
}

/* A map<string, string> entry. */
static kiln_status *parse_str_pair(kiln_pb_reader r, kiln_tf_str_pair *out) {
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number == TF_MAP_KEY) KILN_TRY(tf_str(&r, &f, &out->key));
    if (f.number == TF_MAP_VALUE) KILN_TRY(tf_str(&r, &f, &out->value));
  }
}

static kiln_status *parse_function(kiln_tf_arena *arena, kiln_pb_reader r,
                                   kiln_tf_function *out) {
  memset(out, 0, sizeof *out);
  ALLOC_FOR_FIELD(arena, r, TF_FUNCTION_RET, out->ret, out->ret_count);
  KILN_TRY(tf_parse_attr_map(arena, r, TF_FUNCTION_ATTR, 0, &out->attrs,
                             &out->attr_count));
  KILN_TRY(parse_nodes(arena, r, TF_FUNCTION_NODE_DEF, "node_def", &out->nodes,
                       &out->node_count));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    kiln_pb_reader m;
    if (f.number == TF_FUNCTION_SIGNATURE) {
      KILN_TRY(tf_message(&r, &f, "OpDef", &m));
      out->input_count = out->output_count = 0;
      KILN_TRY(parse_op_def(arena, m, out));
    } else if (f.number == TF_FUNCTION_RET) {
      KILN_TRY(tf_message(&r, &f, "ret map entry", &m));
      KILN_TRY(parse_str_pair(m, &out->ret[out->ret_count++]));
    }
  }
}

static kiln_status *parse_library(kiln_tf_arena *arena, kiln_pb_reader r,
                                  kiln_tf_graph *out) {
  ALLOC_FOR_FIELD(arena, r, TF_LIBRARY_FUNCTION, out->functions,
                  out->function_count);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number != TF_LIBRARY_FUNCTION) continue;
    kiln_pb_reader m;
    KILN_TRY(tf_message(&r, &f, "FunctionDef", &m));
    size_t i = out->function_count++;
    kiln_tf_function *fn = &out->functions[i];
    kiln_status *status = parse_function(arena, m, fn);
    if (status) {
      int len = (int)(fn->name.len > 120 ? 120 : fn->name.len);
      return kiln_status_wrap(status, "library.function[%zu] '%.*s'", i, len,
                              len ? fn->name.data : "");
    }
  }
}

static kiln_status *parse_versions(kiln_pb_reader r, kiln_tf_graph *out) {
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number == TF_VERSIONS_PRODUCER)
      KILN_TRY(kiln_pb_int32(&r, &f, &out->producer));
    if (f.number == TF_VERSIONS_MIN_CONSUMER)
      KILN_TRY(kiln_pb_int32(&r, &f, &out->min_consumer));
  }
}

static kiln_status *parse_graph(kiln_tf_arena *arena, kiln_pb_reader r,
                                kiln_tf_graph *out) {
  memset(out, 0, sizeof *out);
  KILN_TRY(parse_nodes(arena, r, TF_GRAPH_NODE, "node", &out->nodes,
                       &out->node_count));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    kiln_pb_reader m;
    if (f.number == TF_GRAPH_LIBRARY) {
      KILN_TRY(tf_message(&r, &f, "FunctionDefLibrary", &m));
      KILN_TRY(parse_library(arena, m, out));
    } else if (f.number == TF_GRAPH_VERSIONS) {
      KILN_TRY(tf_message(&r, &f, "VersionDef", &m));
      KILN_TRY(parse_versions(m, out));
    }
  }
}

static kiln_status *parse_tensor_info(kiln_tf_arena *arena, kiln_pb_reader r,
                                      kiln_tf_tensor_info *out) {
  memset(out, 0, sizeof *out);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    switch (f.number) {
      case TF_TENSOR_INFO_NAME:
        KILN_TRY(tf_str(&r, &f, &out->name));
        out->encoded_otherwise = false; /* a oneof: the last one counts */
        break;
      case TF_TENSOR_INFO_COO_SPARSE:
      case TF_TENSOR_INFO_COMPOSITE_TENSOR: {
        kiln_pb_reader skipped;
        KILN_TRY(tf_message(&r, &f, "TensorInfo encoding", &skipped));
        out->name.data = NULL;
        out->name.len = 0;
        out->encoded_otherwise = true;
        break;
      }
      case TF_TENSOR_INFO_DTYPE: {
        int32_t dtype;
        KILN_TRY(kiln_pb_int32(&r, &f, &dtype));
        out->dtype = dtype;
        break;
      }
      case TF_TENSOR_INFO_TENSOR_SHAPE: {
        kiln_pb_reader m;
        KILN_TRY(tf_message(&r, &f, "TensorShapeProto", &m));
        KILN_TRY(tf_parse_shape(arena, m, &out->shape));
        out->has_shape = true;
        break;
      }
      default:
        break;
    }
  }
}

/* A SignatureDef's inputs or outputs map. */
static kiln_status *parse_signature_args(kiln_tf_arena *arena, kiln_pb_reader r,
                                         uint32_t number,
                                         kiln_tf_signature_arg **args,
                                         size_t *count) {
  size_t n;
  KILN_TRY(tf_count_field(r, number, &n));
  KILN_TRY(tf_arena_array(arena, n, sizeof **args, (void **)args));
  *count = 0;
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number != number) continue;
    kiln_pb_reader entry;
    KILN_TRY(tf_message(&r, &f, "TensorInfo map entry", &entry));
    kiln_tf_signature_arg *arg = &(*args)[(*count)++];
    for (;;) {
      kiln_pb_field e;
      KILN_TRY(kiln_pb_next(&entry, &e, &more));
      if (!more) break;
      kiln_pb_reader m;
      if (e.number == TF_MAP_KEY) KILN_TRY(tf_str(&entry, &e, &arg->key));
      if (e.number == TF_MAP_VALUE) {
        KILN_TRY(tf_message(&entry, &e, "TensorInfo", &m));
        KILN_TRY(parse_tensor_info(arena, m, &arg->info));
      }
    }
  }
}

static kiln_status *parse_signature(kiln_tf_arena *arena, kiln_pb_reader r,
                                    kiln_tf_signature *out) {
  KILN_TRY(parse_signature_args(arena, r, TF_SIGNATURE_INPUTS, &out->inputs,
                                &out->input_count));
  KILN_TRY(parse_signature_args(arena, r, TF_SIGNATURE_OUTPUTS, &out->outputs,
                                &out->output_count));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number == TF_SIGNATURE_METHOD_NAME)
      KILN_TRY(tf_str(&r, &f, &out->method_name));
  }
}

static kiln_status *parse_meta_info(kiln_tf_arena *arena, kiln_pb_reader r,
                                    kiln_tf_meta_graph *out) {
  ALLOC_FOR_FIELD(arena, r, TF_META_INFO_TAGS, out->tags, out->tag_count);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number == TF_META_INFO_TAGS)
      KILN_TRY(tf_str(&r, &f, &out->tags[out->tag_count++]));
  }
}

static kiln_status *parse_meta_graph(kiln_tf_arena *arena, kiln_pb_reader r,
                                     kiln_tf_meta_graph *out) {
  memset(out, 0, sizeof *out);
  ALLOC_FOR_FIELD(arena, r, TF_META_GRAPH_SIGNATURE_DEF, out->signatures,
                  out->signature_count);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    kiln_pb_reader m;
    switch (f.number) {
      case TF_META_GRAPH_META_INFO_DEF:
        KILN_TRY(tf_message(&r, &f, "MetaInfoDef", &m));
        KILN_TRY(parse_meta_info(arena, m, out));
        break;
      case TF_META_GRAPH_GRAPH_DEF:
        KILN_TRY(tf_message(&r, &f, "GraphDef", &m));
        KILN_TRY(
            kiln_status_wrap(parse_graph(arena, m, &out->graph), "graph_def"));
        break;
      case TF_META_GRAPH_SIGNATURE_DEF: {
        KILN_TRY(tf_message(&r, &f, "signature_def map entry", &m));
        kiln_tf_signature *sig = &out->signatures[out->signature_count++];
        memset(sig, 0, sizeof *sig);
        for (;;) {
          kiln_pb_field e;
          KILN_TRY(kiln_pb_next(&m, &e, &more));
          if (!more) break;
          kiln_pb_reader def;
          if (e.number == TF_MAP_KEY) KILN_TRY(tf_str(&m, &e, &sig->key));
          if (e.number == TF_MAP_VALUE) {
            KILN_TRY(tf_message(&m, &e, "SignatureDef", &def));
            KILN_TRY(kiln_status_wrap(
                parse_signature(arena, def, sig), "signature_def '%.*s'",
                (int)(sig->key.len > 80 ? 80 : sig->key.len),
                sig->key.len ? sig->key.data : ""));
          }
        }
        break;
      }
      default:
        break;
    }
  }
}

static kiln_status *parse_saved_model(kiln_tf_arena *arena, kiln_pb_reader r,
                                      kiln_tf_saved_model *out) {
  ALLOC_FOR_FIELD(arena, r, TF_SAVED_MODEL_META_GRAPHS, out->meta_graphs,
                  out->meta_graph_count);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number == TF_SAVED_MODEL_SCHEMA_VERSION) {
      KILN_TRY(kiln_pb_int64(&r, &f, &out->schema_version));
    } else if (f.number == TF_SAVED_MODEL_META_GRAPHS) {
      kiln_pb_reader m;
      KILN_TRY(tf_message(&r, &f, "MetaGraphDef", &m));
      size_t i = out->meta_graph_count++;
      KILN_TRY(
          kiln_status_wrap(parse_meta_graph(arena, m, &out->meta_graphs[i]),
                           "meta_graphs[%zu]", i));
    }
  }
}

kiln_status *kiln_tf_saved_model_parse(const void *data, size_t size,
                                       const char *file,
                                       kiln_tf_saved_model **out) {
  *out = NULL;
  if (!file) file = "saved_model.pb";
  if (size == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: the file is empty (no SavedModel message)", file);
  kiln_tf_saved_model *model = kiln_calloc(NULL, 1, sizeof *model);
  if (!model) return KILN_OOM();
  model->arena = tf_arena_new();
  if (!model->arena) {
    kiln_free(NULL, model);
    return KILN_OOM();
  }
  kiln_pb_reader r = kiln_pb_reader_make(data, size, "SavedModel");
  kiln_status *status = parse_saved_model(model->arena, r, model);
  if (!status && model->meta_graph_count == 0)
    status = kiln_error(KILN_ERR_INVALID_MODEL,
                        "SavedModel: no meta_graphs (is this a "
                        "saved_model.pb?)");
  if (status) {
    kiln_tf_saved_model_free(model);
    return kiln_status_wrap(status, "%s", file);
  }
  *out = model;
  return NULL;
}

void kiln_tf_saved_model_free(kiln_tf_saved_model *model) {
  if (!model) return;
  tf_arena_free(model->arena);
  kiln_free(NULL, model);
}

/* ------------------------------------------------------------ lookups */

static bool str_same(kiln_tf_str a, kiln_tf_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

const kiln_tf_attr_value *kiln_tf_find_attr(const kiln_tf_attr *attrs,
                                            size_t count, const char *name) {
  for (size_t i = count; i-- > 0;)
    if (kiln_tf_str_eq(attrs[i].name, name)) return &attrs[i].value;
  return NULL;
}

const kiln_tf_attr_value *kiln_tf_node_attr(const kiln_tf_node *node,
                                            const char *name) {
  return kiln_tf_find_attr(node->attrs, node->attr_count, name);
}

const kiln_tf_function *kiln_tf_find_function(const kiln_tf_graph *graph,
                                              kiln_tf_str name) {
  for (size_t i = graph->function_count; i-- > 0;)
    if (str_same(graph->functions[i].name, name)) return &graph->functions[i];
  return NULL;
}

const kiln_tf_signature *kiln_tf_find_signature(const kiln_tf_meta_graph *mg,
                                                const char *key) {
  for (size_t i = mg->signature_count; i-- > 0;)
    if (kiln_tf_str_eq(mg->signatures[i].key, key)) return &mg->signatures[i];
  return NULL;
}

static bool has_tag(const kiln_tf_meta_graph *mg, const char *tag) {
  for (size_t i = 0; i < mg->tag_count; i++)
    if (kiln_tf_str_eq(mg->tags[i], tag)) return true;
  return false;
}

/* "[serve, gpu], [train]" into buf, cut short with "..." if it is full. */
static void list_tags(const kiln_tf_saved_model *model, char *buf,
                      size_t size) {
  size_t at = 0;
  buf[0] = '\0';
  for (size_t g = 0; g < model->meta_graph_count && at < size; g++) {
    const kiln_tf_meta_graph *mg = &model->meta_graphs[g];
    at += (size_t)snprintf(buf + at, size - at, "%s[", g ? ", " : "");
    for (size_t t = 0; t < mg->tag_count && at < size; t++) {
      int len = (int)(mg->tags[t].len > 40 ? 40 : mg->tags[t].len);
      at += (size_t)snprintf(buf + at, size - at, "%s%.*s", t ? ", " : "", len,
                             len ? mg->tags[t].data : "");
    }
    if (at < size) at += (size_t)snprintf(buf + at, size - at, "]");
  }
  if (at >= size && size > 4) memcpy(buf + size - 4, "...", 4);
}

kiln_status *kiln_tf_pick_serving(const kiln_tf_saved_model *model,
                                  const char *file,
                                  const kiln_tf_meta_graph **out) {
  *out = NULL;
  if (!file) file = "saved_model.pb";
  const kiln_tf_meta_graph *found = NULL;
  size_t tagged = 0;
  for (size_t g = 0; g < model->meta_graph_count; g++)
    if (has_tag(&model->meta_graphs[g], "serve")) {
      found = &model->meta_graphs[g];
      tagged++;
    }
  if (tagged == 0 && model->meta_graph_count == 1) found = model->meta_graphs;
  if (found && tagged <= 1) {
    *out = found;
    return NULL;
  }
  char tags[512];
  list_tags(model, tags, sizeof tags);
  if (model->meta_graph_count == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s: no MetaGraphDef", file);
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: %s MetaGraphDef is tagged \"serve\" among %zu (tags: "
                    "%s)",
                    file, tagged ? "more than one" : "no",
                    model->meta_graph_count, tags);
}
