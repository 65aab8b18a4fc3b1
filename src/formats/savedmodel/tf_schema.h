/* tf_schema.h - field numbers of the TensorFlow protobuf messages a
 * SavedModel's saved_model.pb holds, and TensorFlow's DataType codes. The
 * numbers come from TensorFlow's .proto files (tensorflow/core/protobuf/
 * saved_model.proto, meta_graph.proto; tensorflow/core/framework/graph,
 * node_def, attr_value, tensor, tensor_shape, types, function, op_def and
 * versions .proto); only the fields kiln reads are named. */
#ifndef KILN_FORMATS_SAVEDMODEL_TF_SCHEMA_H
#define KILN_FORMATS_SAVEDMODEL_TF_SCHEMA_H

enum {
  /* SavedModel */
  TF_SAVED_MODEL_SCHEMA_VERSION = 1,
  TF_SAVED_MODEL_META_GRAPHS = 2,

  /* MetaGraphDef (saver_def 3, collection_def 4, asset_file_def 6 and
   * object_graph_def 7 are skipped) */
  TF_META_GRAPH_META_INFO_DEF = 1,
  TF_META_GRAPH_GRAPH_DEF = 2,
  TF_META_GRAPH_SIGNATURE_DEF = 5,
  /* MetaGraphDef.MetaInfoDef */
  TF_META_INFO_TAGS = 4,

  /* SignatureDef (defaults 4 is skipped) */
  TF_SIGNATURE_INPUTS = 1,
  TF_SIGNATURE_OUTPUTS = 2,
  TF_SIGNATURE_METHOD_NAME = 3,
  /* TensorInfo: name is one case of a oneof whose others are sparse and
   * composite encodings */
  TF_TENSOR_INFO_NAME = 1,
  TF_TENSOR_INFO_DTYPE = 2,
  TF_TENSOR_INFO_TENSOR_SHAPE = 3,
  TF_TENSOR_INFO_COO_SPARSE = 4,
  TF_TENSOR_INFO_COMPOSITE_TENSOR = 5,

  /* Every protobuf map entry is a message with these two fields. */
  TF_MAP_KEY = 1,
  TF_MAP_VALUE = 2,

  /* GraphDef (version 3 is deprecated, debug_info 5 skipped) */
  TF_GRAPH_NODE = 1,
  TF_GRAPH_LIBRARY = 2,
  TF_GRAPH_VERSIONS = 4,
  /* VersionDef */
  TF_VERSIONS_PRODUCER = 1,
  TF_VERSIONS_MIN_CONSUMER = 2,

  /* NodeDef */
  TF_NODE_NAME = 1,
  TF_NODE_OP = 2,
  TF_NODE_INPUT = 3,
  TF_NODE_DEVICE = 4,
  TF_NODE_ATTR = 5,

  /* AttrValue: a oneof */
  TF_ATTR_LIST = 1,
  TF_ATTR_S = 2,
  TF_ATTR_I = 3,
  TF_ATTR_F = 4,
  TF_ATTR_B = 5,
  TF_ATTR_TYPE = 6,
  TF_ATTR_SHAPE = 7,
  TF_ATTR_TENSOR = 8,
  TF_ATTR_PLACEHOLDER = 9,
  TF_ATTR_FUNC = 10,
  /* AttrValue.ListValue: s..tensor share AttrValue's numbers; func is 9 */
  TF_LIST_FUNC = 9,
  /* NameAttrList */
  TF_NAME_ATTR_LIST_NAME = 1,
  TF_NAME_ATTR_LIST_ATTR = 2,

  /* TensorShapeProto and its Dim */
  TF_SHAPE_DIM = 2,
  TF_SHAPE_UNKNOWN_RANK = 3,
  TF_DIM_SIZE = 1,

  /* TensorProto */
  TF_TENSOR_DTYPE = 1,
  TF_TENSOR_TENSOR_SHAPE = 2,
  TF_TENSOR_CONTENT = 4,
  TF_TENSOR_FLOAT_VAL = 5,
  TF_TENSOR_DOUBLE_VAL = 6,
  TF_TENSOR_INT_VAL = 7,
  TF_TENSOR_STRING_VAL = 8,
  TF_TENSOR_SCOMPLEX_VAL = 9,
  TF_TENSOR_INT64_VAL = 10,
  TF_TENSOR_BOOL_VAL = 11,
  TF_TENSOR_DCOMPLEX_VAL = 12,
  TF_TENSOR_HALF_VAL = 13,
  TF_TENSOR_UINT32_VAL = 16,
  TF_TENSOR_UINT64_VAL = 17,

  /* FunctionDefLibrary (gradient 2 and registered_gradients 3 skipped) */
  TF_LIBRARY_FUNCTION = 1,
  /* FunctionDef (arg_attr 7, resource_arg_unique_id 8 and control_ret 6
   * skipped) */
  TF_FUNCTION_SIGNATURE = 1,
  TF_FUNCTION_NODE_DEF = 3,
  TF_FUNCTION_RET = 4,
  TF_FUNCTION_ATTR = 5,
  /* OpDef */
  TF_OP_DEF_NAME = 1,
  TF_OP_DEF_INPUT_ARG = 2,
  TF_OP_DEF_OUTPUT_ARG = 3,
  /* OpDef.ArgDef */
  TF_ARG_NAME = 1,
  TF_ARG_TYPE = 3,
  TF_ARG_TYPE_ATTR = 4,
  TF_ARG_NUMBER_ATTR = 5,
  TF_ARG_TYPE_LIST_ATTR = 6,
};

/* TensorFlow's DataType enum (types.proto); a _REF variant is the plain
 * code plus TF_DT_REF_OFFSET. */
enum {
  TF_DT_INVALID = 0,
  TF_DT_FLOAT = 1,
  TF_DT_DOUBLE = 2,
  TF_DT_INT32 = 3,
  TF_DT_UINT8 = 4,
  TF_DT_INT16 = 5,
  TF_DT_INT8 = 6,
  TF_DT_STRING = 7,
  TF_DT_COMPLEX64 = 8,
  TF_DT_INT64 = 9,
  TF_DT_BOOL = 10,
  TF_DT_BFLOAT16 = 14,
  TF_DT_UINT16 = 17,
  TF_DT_HALF = 19,
  TF_DT_RESOURCE = 20,
  TF_DT_VARIANT = 21,
  TF_DT_UINT32 = 22,
  TF_DT_UINT64 = 23,
  TF_DT_REF_OFFSET = 100,
};

#endif
