/* tf_proto.h - a SavedModel's saved_model.pb read into C structs: the
 * SavedModel, its MetaGraphDefs (tags, signatures, GraphDef), the GraphDef's
 * nodes and function library, and every NodeDef's attributes down to
 * TensorProtos. A later step maps the graph to kiln's IR; this file only
 * reads, checking every length and count against the bytes there are.
 *
 * Zero-copy: every kiln_tf_str and a tensor's tensor_content point into
 * the caller's buffer, which must outlive the parsed model. Arrays are
 * counted first and then allocated exactly, all from one arena that
 * kiln_tf_saved_model_free releases at once, so no struct is freed alone.
 *
 * Protobuf's own rules that matter here: a repeated scalar may come packed
 * or one field per value (both are read); a map is a repeated entry
 * message (key 1, value 2), and a key given twice keeps the last (the find
 * helpers search from the end); unknown fields are skipped. One departure:
 * a singular message field given twice keeps the last one whole where
 * Google's parsers would merge the two (TensorFlow never writes one twice).
 */
#ifndef KILN_FORMATS_SAVEDMODEL_TF_PROTO_H
#define KILN_FORMATS_SAVEDMODEL_TF_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

/* A view of bytes in the caller's buffer; not NUL-terminated. */
typedef struct kiln_tf_str {
  const char *data;
  size_t len;
} kiln_tf_str;

/* Whether s holds exactly the C string c. */
bool kiln_tf_str_eq(kiln_tf_str s, const char *c);

/* TensorShapeProto: dims of -1 are unknown; unknown_rank means no dims. */
typedef struct kiln_tf_shape {
  int64_t *dims;
  size_t rank;
  bool unknown_rank;
} kiln_tf_shape;

/* TensorProto, undecoded: its typed values stay in the file and are read
 * by kiln_tf_tensor_decode (tf_tensor.c). Parsing has already checked
 * every field's wire type and counted the values of each typed field. */
typedef struct kiln_tf_tensor {
  int dtype; /* TensorFlow's DataType code */
  kiln_tf_shape shape;
  bool has_content;
  const uint8_t *content; /* tensor_content */
  size_t content_len;
  /* Values in each repeated value field, indexed by its field number
   * (TF_TENSOR_FLOAT_VAL .. TF_TENSOR_UINT64_VAL in tf_schema.h); a
   * complex field counts floats, two per element. */
  size_t value_counts[18];
  /* The TensorProto's own bytes and their offset in the file. */
  const uint8_t *message;
  size_t message_len;
  size_t offset;
} kiln_tf_tensor;

typedef struct kiln_tf_attr kiln_tf_attr;
typedef struct kiln_tf_attr_list kiln_tf_attr_list;

/* NameAttrList: a function name with attributes. */
typedef struct kiln_tf_func {
  kiln_tf_str name;
  kiln_tf_attr *attrs;
  size_t attr_count;
} kiln_tf_func;

typedef enum kiln_tf_attr_kind {
  KILN_TF_ATTR_NONE = 0, /* no value field was set */
  KILN_TF_ATTR_S,
  KILN_TF_ATTR_I,
  KILN_TF_ATTR_F,
  KILN_TF_ATTR_B,
  KILN_TF_ATTR_TYPE,
  KILN_TF_ATTR_SHAPE,
  KILN_TF_ATTR_TENSOR,
  KILN_TF_ATTR_LIST,
  KILN_TF_ATTR_FUNC,
  KILN_TF_ATTR_PLACEHOLDER, /* s holds the placeholder's name */
} kiln_tf_attr_kind;

/* AttrValue, a oneof: `kind` says which member was set last. */
typedef struct kiln_tf_attr_value {
  kiln_tf_attr_kind kind;
  kiln_tf_str s;
  int64_t i;
  float f;
  bool b;
  int type; /* a DataType code */
  kiln_tf_shape shape;
  kiln_tf_tensor *tensor;
  kiln_tf_attr_list *list;
  kiln_tf_func *func;
} kiln_tf_attr_value;

/* AttrValue.ListValue: each member a (possibly empty) array. */
struct kiln_tf_attr_list {
  kiln_tf_str *s;
  size_t s_count;
  int64_t *i;
  size_t i_count;
  float *f;
  size_t f_count;
  bool *b;
  size_t b_count;
  int *type;
  size_t type_count;
  kiln_tf_shape *shape;
  size_t shape_count;
  kiln_tf_tensor *tensor;
  size_t tensor_count;
  kiln_tf_func *func;
  size_t func_count;
};

/* One entry of an attr map. */
struct kiln_tf_attr {
  kiln_tf_str name;
  kiln_tf_attr_value value;
};

/* NodeDef. Inputs stay strings as written: "node", "node:1", the
 * function-body form "node:output_arg:index", or "^node" (control). */
typedef struct kiln_tf_node {
  kiln_tf_str name;
  kiln_tf_str op;
  kiln_tf_str device;
  kiln_tf_str *inputs;
  size_t input_count;
  kiln_tf_attr *attrs;
  size_t attr_count;
  size_t offset; /* of the NodeDef's bytes in the file */
} kiln_tf_node;

/* OpDef.ArgDef: a function argument or result. `type` is a DataType code
 * (0 when one of the *_attr names gives the type instead). */
typedef struct kiln_tf_arg {
  kiln_tf_str name;
  int type;
  kiln_tf_str type_attr;
  kiln_tf_str number_attr;
  kiln_tf_str type_list_attr;
} kiln_tf_arg;

/* A map<string, string> entry (FunctionDef.ret). */
typedef struct kiln_tf_str_pair {
  kiln_tf_str key;
  kiln_tf_str value;
} kiln_tf_str_pair;

/* FunctionDef: the signature's name and args, attributes, body and the
 * map from each output_arg name to the body tensor that gives it. */
typedef struct kiln_tf_function {
  kiln_tf_str name;
  kiln_tf_arg *inputs;
  size_t input_count;
  kiln_tf_arg *outputs;
  size_t output_count;
  kiln_tf_attr *attrs;
  size_t attr_count;
  kiln_tf_node *nodes;
  size_t node_count;
  kiln_tf_str_pair *ret;
  size_t ret_count;
} kiln_tf_function;

/* GraphDef with its FunctionDefLibrary and VersionDef. */
typedef struct kiln_tf_graph {
  kiln_tf_node *nodes;
  size_t node_count;
  kiln_tf_function *functions;
  size_t function_count;
  int32_t producer;
  int32_t min_consumer;
} kiln_tf_graph;

/* TensorInfo. `name` is empty for a sparse or composite tensor, which
 * `encoded_otherwise` marks. */
typedef struct kiln_tf_tensor_info {
  kiln_tf_str name;
  int dtype;
  bool has_shape;
  kiln_tf_shape shape;
  bool encoded_otherwise;
} kiln_tf_tensor_info;

/* One entry of a SignatureDef's inputs or outputs map. */
typedef struct kiln_tf_signature_arg {
  kiln_tf_str key;
  kiln_tf_tensor_info info;
} kiln_tf_signature_arg;

/* One entry of MetaGraphDef.signature_def: the key ("serving_default")
 * and its SignatureDef. */
typedef struct kiln_tf_signature {
  kiln_tf_str key;
  kiln_tf_signature_arg *inputs;
  size_t input_count;
  kiln_tf_signature_arg *outputs;
  size_t output_count;
  kiln_tf_str method_name;
} kiln_tf_signature;

typedef struct kiln_tf_meta_graph {
  kiln_tf_str *tags;
  size_t tag_count;
  kiln_tf_graph graph;
  kiln_tf_signature *signatures;
  size_t signature_count;
} kiln_tf_meta_graph;

typedef struct kiln_tf_arena kiln_tf_arena;

typedef struct kiln_tf_saved_model {
  int64_t schema_version;
  kiln_tf_meta_graph *meta_graphs;
  size_t meta_graph_count;
  kiln_tf_arena *arena; /* owns every array above */
} kiln_tf_saved_model;

/* Parses a saved_model.pb image of `size` bytes. `file` names it in
 * errors ("saved_model.pb: GraphDef.node[3]: NodeDef: ... at byte offset
 * N"). On success *out must be freed with kiln_tf_saved_model_free; `data`
 * must stay alive and unchanged as long as *out is used. */
kiln_status *kiln_tf_saved_model_parse(const void *data, size_t size,
                                       const char *file,
                                       kiln_tf_saved_model **out);
void kiln_tf_saved_model_free(kiln_tf_saved_model *model);

/* Lookups; each returns NULL when nothing matches. Map keys given twice
 * resolve to the last, as protobuf's maps do. */
const kiln_tf_attr_value *kiln_tf_node_attr(const kiln_tf_node *node,
                                            const char *name);
const kiln_tf_attr_value *kiln_tf_find_attr(const kiln_tf_attr *attrs,
                                            size_t count, const char *name);
const kiln_tf_function *kiln_tf_find_function(const kiln_tf_graph *graph,
                                              kiln_tf_str name);
const kiln_tf_signature *kiln_tf_find_signature(const kiln_tf_meta_graph *mg,
                                                const char *key);

/* The MetaGraphDef to serve: the one tagged "serve", else the only one.
 * Errors (naming `file` and every MetaGraphDef's tags) when there are
 * none, several are tagged "serve", or there are several and none is. */
kiln_status *kiln_tf_pick_serving(const kiln_tf_saved_model *model,
                                  const char *file,
                                  const kiln_tf_meta_graph **out);

/* ------------------------------------------------- tensor decoding */

/* The most bytes kiln_tf_tensor_decode allocates unless told otherwise. */
#define KILN_TF_TENSOR_MAX_BYTES ((size_t)1 << 30)

/* A TensorProto's values as a dense little-endian array of a kiln dtype.
 * DT_BFLOAT16 is widened to float32 (exactly: bfloat16 is float32's top
 * half); the TensorFlow code stays in tf_dtype. */
typedef struct kiln_tf_decoded {
  kiln_dtype dtype;
  int tf_dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  int64_t count; /* elements */
  size_t nbytes;
  void *data; /* kiln_malloc'd (never NULL on success); free with
                 kiln_tf_decoded_free */
} kiln_tf_decoded;

/* The kiln dtype for a TensorFlow DataType code (_REF variants too), or an
 * error naming the TensorFlow type when kiln has none (string included:
 * see kiln_tf_tensor_strings). */
kiln_status *kiln_tf_dtype_to_kiln(int tf_dtype, kiln_dtype *out);
/* TensorFlow's name for a DataType code ("DT_FLOAT"), or "DT_<number>". */
const char *kiln_tf_dtype_name(int tf_dtype, char buf[16]);

/* Decodes a tensor: from tensor_content when present (its size must match
 * the shape exactly), else from the typed field for its dtype, where
 * TensorFlow's rule applies: fewer values than elements repeat the last
 * one, and no values at all mean zeros. The shape must be fully known with
 * rank <= KILN_MAX_RANK and at most max_bytes of data (0: the default
 * KILN_TF_TENSOR_MAX_BYTES), checked before anything is allocated. String
 * tensors are refused here. */
kiln_status *kiln_tf_tensor_decode(const kiln_tf_tensor *tensor,
                                   size_t max_bytes, kiln_tf_decoded *out);
void kiln_tf_decoded_free(kiln_tf_decoded *decoded);

/* A DT_STRING tensor's elements as views into the file (string_val, with
 * the same repeat-the-last rule), in a kiln_malloc'd array of *count views
 * the caller frees with kiln_free(NULL, ...). */
kiln_status *kiln_tf_tensor_strings(const kiln_tf_tensor *tensor,
                                    size_t max_count, kiln_tf_str **out,
                                    int64_t *count);

#endif
