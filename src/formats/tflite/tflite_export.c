/* tflite_export.c - kiln's .tflite writer (see tflite_export.h): values
 * become tensors (one per value, in value order, so a graph read back has
 * the same ids), constants become 16-byte aligned buffers, nodes become
 * operators with a deduplicated operator-code table, and the graph's inputs
 * and outputs get a "serving_default" signature. What TFLite cannot say (an
 * operator only kiln's passes make, a kiln-only fused activation, a dtype
 * TFLite lacks) fails with a message naming the node or value. */
#include "formats/tflite/tflite_export.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/custom_op.h"
#include "core/op_attrs.h"
#include "core/status.h"
#include "formats/tflite/flatbuffer_builder.h"
#include "formats/tflite/tflite_export_options.h"
#include "formats/tflite/tflite_import.h"
#include "formats/tflite/tflite_schema.h"

#define UNSUPPORTED(...) kiln_error(KILN_ERR_UNSUPPORTED, __VA_ARGS__)

/* Slots tflite_schema.h does not list (the reader needs none of them). */
enum { OPERATOR_CUSTOM_OPTIONS_FORMAT = 6 };

/* Constant data is aligned so that runtimes may use it in place. */
#define BUFFER_ALIGNMENT 16

/* One entry of the operator-code table. */
typedef struct opcode {
  int32_t code;
  const char *custom; /* the custom code of CUSTOM operators, else NULL */
  int32_t version;
} opcode;

typedef struct exporter {
  const kiln_graph *g;
  kiln_fbb b;
  const kiln_allocator *alloc;
  int32_t code_of[KILN_OP_COUNT]; /* BuiltinOperator of each op; -1: none */
  opcode *opcodes;
  int num_opcodes;
  int *node_opcode;       /* opcode index of each node */
  uint32_t *value_buffer; /* Model.buffers index of each value (0: none) */
  kiln_fbb_ref *refs;     /* scratch for vectors of references */
  uint32_t num_buffers;
  /* The integer LSTM's intermediate tensors, which the importer folds into
   * the node's attributes: written after the values, node_intermediates[i]
   * the first one of node i (-1: none). */
  int *node_intermediates;
  int num_intermediates;
} exporter;

/* ------------------------------------------------------ operator codes */

/* Inverts the importer's table: every builtin code it maps names one kiln
 * operator, so the table read backwards gives each operator its code. */
static void build_code_table(exporter *ex) {
  for (int op = 0; op < KILN_OP_COUNT; op++) ex->code_of[op] = -1;
  for (int32_t code = 0; kiln_tflite_op_name(code); code++) {
    const kiln_tflite_op *map = kiln_tflite_find_op(code);
    if (!map || code == TFL_OP_CUSTOM) continue;
    if (ex->code_of[map->op] < 0) ex->code_of[map->op] = code;
  }
}

static const char *custom_code(const kiln_node *n) {
  const kiln_custom_attrs *a = n->attrs;
  return a && a->node ? a->node->name : NULL;
}

/* Finds or adds the operator code of node `i`. */
static kiln_status *assign_opcode(exporter *ex, int i) {
  const kiln_node *n = &ex->g->nodes[i];
  const char *name = kiln_op_table[n->op].name;
  int32_t code;
  const char *custom = NULL;
  if (n->op == KILN_OP_CUSTOM) {
    code = TFL_OP_CUSTOM;
    custom = custom_code(n);
    if (!custom)
      return UNSUPPORTED("node %d (CUSTOM) has no custom operator record", i);
  } else if (n->op == KILN_OP_DENSIFY) {
    /* the importer expanded the sparse constant it reads, and LiteRT's
     * DENSIFY refuses a dense input */
    return UNSUPPORTED(
        "node %d (DENSIFY): its input is written dense (the writer writes "
        "no sparse tensors), which TFLite's DENSIFY refuses",
        i);
  } else {
    code = ex->code_of[n->op];
    if (code < 0)
      return UNSUPPORTED(
          "node %d (%s) has no TFLite form (an operator kiln's load-time "
          "passes make, or one no TFLite builtin matches)",
          i, name);
  }
  for (int k = 0; k < ex->num_opcodes; k++) {
    const opcode *o = &ex->opcodes[k];
    if (o->code == code &&
        ((!o->custom && !custom) ||
         (o->custom && custom && !strcmp(o->custom, custom)))) {
      ex->node_opcode[i] = k;
      return NULL;
    }
  }
  opcode *o = &ex->opcodes[ex->num_opcodes];
  o->code = code;
  o->custom = custom;
  /* kiln keeps no operator versions. LiteRT's kernels choose their
   * arithmetic from the tensors' types, and it registers every builtin at
   * version 1 but BROADCAST_TO (whose version 1 was withdrawn): the lowest
   * version registered is one every runtime runs. */
  o->version = code == TFL_OP_BROADCAST_TO ? 2 : 1;
  ex->node_opcode[i] = ex->num_opcodes++;
  return NULL;
}

static kiln_fbb_ref write_opcodes(exporter *ex) {
  kiln_fbb *b = &ex->b;
  for (int k = 0; k < ex->num_opcodes; k++) {
    const opcode *o = &ex->opcodes[k];
    kiln_fbb_ref custom = o->custom ? kiln_fbb_string(b, o->custom) : 0;
    kiln_fbb_start(b);
    /* old readers look at the byte, which holds codes up to 127 */
    kiln_fbb_add_i8(b, TFL_OPCODE_DEPRECATED_BUILTIN_CODE,
                    (int8_t)(o->code < 127 ? o->code : 127));
    if (custom) kiln_fbb_add_ref(b, TFL_OPCODE_CUSTOM_CODE, custom);
    kiln_fbb_add_i32(b, TFL_OPCODE_VERSION, o->version);
    kiln_fbb_add_i32(b, TFL_OPCODE_BUILTIN_CODE, o->code);
    ex->refs[k] = kiln_fbb_end(b);
  }
  return kiln_fbb_ref_vector(b, ex->refs, (size_t)ex->num_opcodes);
}

/* ------------------------------------------------------------- buffers */

/* Whether the value's bytes go into a buffer: constants, and variables
 * that start from stored values. */
static bool has_bytes(const kiln_value *v) {
  return (v->is_constant || v->is_variable) && v->data && v->nbytes > 0;
}

/* A STRING constant in TFLite's packed layout: the count, count + 1
 * offsets from the buffer's start, then the bytes. */
static kiln_status *pack_strings(exporter *ex, const kiln_value *v,
                                 uint8_t **out, size_t *out_size) {
  const kiln_string *s = v->data;
  size_t count = v->nbytes / sizeof(kiln_string);
  size_t size = 4 * (count + 2);
  for (size_t i = 0; i < count; i++) {
    if (s[i].size > INT32_MAX - size)
      return UNSUPPORTED("its strings exceed TFLite's 2 GiB string buffer");
    size += s[i].size;
  }
  if (count > INT32_MAX) return UNSUPPORTED("it holds too many strings");
  uint8_t *bytes = kiln_malloc(ex->alloc, size);
  if (!bytes) return KILN_OOM();
  uint32_t at = (uint32_t)(4 * (count + 2));
  uint32_t header[2] = {(uint32_t)count, at};
  memcpy(bytes, &header[0], 4);
  for (size_t i = 0; i < count; i++) {
    memcpy(bytes + 4 * (i + 1), &at, 4);
    if (s[i].size) memcpy(bytes + at, s[i].data, s[i].size);
    at += (uint32_t)s[i].size;
  }
  memcpy(bytes + 4 * (count + 1), &at, 4);
  *out = bytes;
  *out_size = size;
  return NULL;
}

static kiln_status *write_buffer(exporter *ex, int id, kiln_fbb_ref *out) {
  const kiln_value *v = &ex->g->values[id];
  kiln_fbb *b = &ex->b;
  kiln_fbb_ref data;
  if (v->dtype == KILN_STRING) {
    uint8_t *packed = NULL;
    size_t size = 0;
    KILN_TRY(pack_strings(ex, v, &packed, &size));
    data = kiln_fbb_vector(b, packed, size, 1, BUFFER_ALIGNMENT);
    kiln_free(ex->alloc, packed);
  } else {
    size_t nbytes;
    KILN_TRY(kiln_value_nbytes(v, &nbytes));
    if (nbytes != v->nbytes)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "it holds %zu bytes but its shape needs %zu", v->nbytes,
                        nbytes);
    data = kiln_fbb_vector(b, v->data, v->nbytes, 1, BUFFER_ALIGNMENT);
  }
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_BUFFER_DATA, data);
  *out = kiln_fbb_end(b);
  return NULL;
}

/* Buffer 0 is the empty one TFLite requires; each value with bytes gets
 * its own after it. */
static kiln_status *write_buffers(exporter *ex, kiln_fbb_ref *out) {
  const kiln_graph *g = ex->g;
  kiln_fbb *b = &ex->b;
  kiln_fbb_ref *refs =
      kiln_calloc(ex->alloc, (size_t)g->num_values + 1, sizeof *refs);
  if (!refs) return KILN_OOM();
  kiln_fbb_start(b);
  refs[0] = kiln_fbb_end(b);
  uint32_t count = 1;
  for (int id = 0; id < g->num_values; id++) {
    if (!has_bytes(&g->values[id])) continue;
    kiln_status *st = write_buffer(ex, id, &refs[count]);
    if (st) {
      kiln_free(ex->alloc, refs);
      return kiln_status_wrap(st, "value %d ('%s')", id, g->values[id].name);
    }
    ex->value_buffer[id] = count++;
  }
  ex->num_buffers = count;
  *out = kiln_fbb_ref_vector(b, refs, count);
  kiln_free(ex->alloc, refs);
  return NULL;
}

/* ------------------------------------------------------------- tensors */

static kiln_fbb_ref write_quant(exporter *ex, const kiln_quant_info *q) {
  kiln_fbb *b = &ex->b;
  kiln_fbb_ref scale = kiln_fbb_vector_f32(b, q->scale, (size_t)q->count);
  kiln_fbb_ref zero = kiln_fbb_vector_i64(b, q->zero_point, (size_t)q->count);
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_QUANT_SCALE, scale);
  kiln_fbb_add_ref(b, TFL_QUANT_ZERO_POINT, zero);
  kiln_fbb_add_i32(b, TFL_QUANT_QUANTIZED_DIMENSION, q->axis);
  return kiln_fbb_end(b);
}

static kiln_status *write_tensor(exporter *ex, int id, kiln_fbb_ref *out) {
  const kiln_value *v = &ex->g->values[id];
  kiln_fbb *b = &ex->b;
  int type = kiln_tflite_type_of(v->dtype);
  if (type < 0)
    return UNSUPPORTED("its type %s has no TFLite form",
                       kiln_dtype_name(v->dtype));
  if (v->rank < 0 || v->rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "its rank is %d", v->rank);
  int32_t shape[KILN_MAX_RANK], signature[KILN_MAX_RANK];
  bool dynamic = false;
  for (int d = 0; d < v->rank; d++) {
    if (v->dims[d] < 0 || v->dims[d] > INT32_MAX)
      return UNSUPPORTED("dimension %d is %lld; TFLite's are int32", d,
                         (long long)v->dims[d]);
    shape[d] = (int32_t)v->dims[d];
    signature[d] = v->signature[d] < 0 ? -1 : shape[d];
    if (signature[d] < 0) dynamic = true;
  }
  if (v->quant.count < 0 ||
      (v->quant.count > 0 && (!v->quant.scale || !v->quant.zero_point)))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "its quantization has %d scales but no arrays",
                      v->quant.count);
  kiln_fbb_ref shape_ref = kiln_fbb_vector_i32(b, shape, (size_t)v->rank);
  kiln_fbb_ref sig_ref =
      dynamic ? kiln_fbb_vector_i32(b, signature, (size_t)v->rank) : 0;
  kiln_fbb_ref name = v->name ? kiln_fbb_string(b, v->name) : 0;
  kiln_fbb_ref quant = v->quant.count > 0 ? write_quant(ex, &v->quant) : 0;
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_TENSOR_SHAPE, shape_ref);
  kiln_fbb_add_i8(b, TFL_TENSOR_TYPE, (int8_t)type);
  kiln_fbb_add_u32(b, TFL_TENSOR_BUFFER, ex->value_buffer[id]);
  if (name) kiln_fbb_add_ref(b, TFL_TENSOR_NAME, name);
  if (quant) kiln_fbb_add_ref(b, TFL_TENSOR_QUANTIZATION, quant);
  if (v->is_variable) kiln_fbb_add_bool(b, TFL_TENSOR_IS_VARIABLE, true);
  if (sig_ref) kiln_fbb_add_ref(b, TFL_TENSOR_SHAPE_SIGNATURE, sig_ref);
  *out = kiln_fbb_end(b);
  return NULL;
}

/* Intermediate k of LSTM node i: a tensor without shape or data that
 * carries one scale and zero point (none when the scale is 0). The gates'
 * (0..3) are int16 when quantized, the hidden state's (4) int8, as TFLite's
 * quantizer makes them; LiteRT reads only their quantization. */
static kiln_fbb_ref write_intermediate(exporter *ex, int i, int k) {
  const kiln_node *n = &ex->g->nodes[i];
  const kiln_lstm_attrs *a = n->attrs;
  kiln_fbb *b = &ex->b;
  char name[64];
  snprintf(name, sizeof name, "node%d/intermediate%d", i, k);
  bool quantized = a->intermediate_scale[k] != 0.0f;
  int8_t type = (int8_t)(!quantized ? TFL_TYPE_FLOAT32
                         : k == 4   ? TFL_TYPE_INT8
                                    : TFL_TYPE_INT16);
  kiln_fbb_ref quant = 0;
  if (quantized) {
    int64_t zero = a->intermediate_zp[k];
    kiln_quant_info q = {1, &a->intermediate_scale[k], &zero, 0};
    quant = write_quant(ex, &q);
  }
  kiln_fbb_ref name_ref = kiln_fbb_string(b, name);
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, TFL_TENSOR_TYPE, type);
  kiln_fbb_add_ref(b, TFL_TENSOR_NAME, name_ref);
  if (quant) kiln_fbb_add_ref(b, TFL_TENSOR_QUANTIZATION, quant);
  return kiln_fbb_end(b);
}

static kiln_status *write_tensors(exporter *ex, kiln_fbb_ref *out) {
  const kiln_graph *g = ex->g;
  for (int id = 0; id < g->num_values; id++)
    KILN_TRY(kiln_status_wrap(write_tensor(ex, id, &ex->refs[id]),
                              "value %d ('%s')", id, g->values[id].name));
  int at = g->num_values;
  for (int i = 0; i < g->num_nodes; i++) {
    if (ex->node_intermediates[i] < 0) continue;
    const kiln_lstm_attrs *a = g->nodes[i].attrs;
    for (int k = 0; k < a->num_intermediates; k++)
      ex->refs[at++] = write_intermediate(ex, i, k);
  }
  *out = kiln_fbb_ref_vector(&ex->b, ex->refs, (size_t)at);
  return NULL;
}

/* Numbers the intermediate tensors of integer LSTM nodes. */
static kiln_status *assign_intermediates(exporter *ex, int i) {
  const kiln_node *n = &ex->g->nodes[i];
  ex->node_intermediates[i] = -1;
  if (n->op != KILN_OP_LSTM && n->op != KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM)
    return NULL;
  const kiln_lstm_attrs *a = n->attrs;
  if (a->num_intermediates <= 0) return NULL;
  if (a->num_intermediates > KILN_LSTM_INTERMEDIATES)
    return UNSUPPORTED(
        "node %d (%s) has %d intermediate tensors; kiln keeps the "
        "quantization of %d",
        i, kiln_op_table[n->op].name, a->num_intermediates,
        KILN_LSTM_INTERMEDIATES);
  if (ex->num_intermediates > INT32_MAX - ex->g->num_values - 8)
    return UNSUPPORTED("too many tensors");
  ex->node_intermediates[i] = ex->g->num_values + ex->num_intermediates;
  ex->num_intermediates += a->num_intermediates;
  return NULL;
}

/* ----------------------------------------------------------- operators */

static kiln_fbb_ref int_vector(exporter *ex, const int *ids, int count) {
  /* int and int32_t agree on every platform kiln builds for */
  _Static_assert(sizeof(int) == sizeof(int32_t), "int is 32 bits");
  return kiln_fbb_vector_i32(&ex->b, (const int32_t *)ids, (size_t)count);
}

static kiln_status *write_operator(exporter *ex, int i, kiln_fbb_ref *out) {
  const kiln_node *n = &ex->g->nodes[i];
  kiln_fbb *b = &ex->b;
  if (n->op == KILN_OP_CONV_2D && n->num_inputs > 3)
    return UNSUPPORTED(
        "it has %d inputs (a residual fused by kiln's passes); TFLite's "
        "CONV_2D takes 3",
        n->num_inputs);
  unsigned type;
  kiln_fbb_ref options;
  KILN_TRY(kiln_tflite_export_options(b, ex->g, n, &type, &options));
  /* An operator the importer reads options for must have written some:
   * leaving them out would make a file that means something else. */
  const kiln_tflite_op *map =
      n->op == KILN_OP_CUSTOM ? NULL : kiln_tflite_find_op(ex->code_of[n->op]);
  bool optional = n->op == KILN_OP_RESHAPE; /* new_shape may be absent */
  /* (after a builder failure the table is missing for that reason, which
   * kiln_fbb_finish reports) */
  if (map && map->parse && !options && !optional && !b->error)
    return kiln_error(KILN_ERR_INTERNAL, "the writer has no form for its %s",
                      map->options_name ? map->options_name : "options");
  kiln_fbb_ref custom = 0;
  if (n->op == KILN_OP_CUSTOM) {
    const kiln_custom_attrs *a = n->attrs;
    custom = kiln_fbb_vector(b, a->node->options, a->node->options_size, 1, 4);
  }
  kiln_fbb_ref inputs = int_vector(ex, n->inputs, n->num_inputs);
  kiln_fbb_ref outputs = int_vector(ex, n->outputs, n->num_outputs);
  kiln_fbb_ref intermediates = 0;
  if (ex->node_intermediates[i] >= 0) {
    int ids[KILN_LSTM_INTERMEDIATES];
    int count = ((const kiln_lstm_attrs *)n->attrs)->num_intermediates;
    for (int k = 0; k < count; k++) ids[k] = ex->node_intermediates[i] + k;
    intermediates = int_vector(ex, ids, count);
  }
  kiln_fbb_start(b);
  kiln_fbb_add_u32(b, TFL_OPERATOR_OPCODE_INDEX, (uint32_t)ex->node_opcode[i]);
  kiln_fbb_add_ref(b, TFL_OPERATOR_INPUTS, inputs);
  kiln_fbb_add_ref(b, TFL_OPERATOR_OUTPUTS, outputs);
  if (options && type >= TFL_OPT2_BASE) {
    kiln_fbb_add_u8(b, TFL_OPERATOR_BUILTIN_OPTIONS_2_TYPE,
                    (uint8_t)(type - TFL_OPT2_BASE));
    kiln_fbb_add_ref(b, TFL_OPERATOR_BUILTIN_OPTIONS_2, options);
  } else if (options) {
    kiln_fbb_add_u8(b, TFL_OPERATOR_BUILTIN_OPTIONS_TYPE, (uint8_t)type);
    kiln_fbb_add_ref(b, TFL_OPERATOR_BUILTIN_OPTIONS, options);
  }
  if (intermediates)
    kiln_fbb_add_ref(b, TFL_OPERATOR_INTERMEDIATES, intermediates);
  if (custom) {
    kiln_fbb_add_ref(b, TFL_OPERATOR_CUSTOM_OPTIONS, custom);
    kiln_fbb_add_i8(b, OPERATOR_CUSTOM_OPTIONS_FORMAT, 0); /* FLEXBUFFERS */
  }
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *write_operators(exporter *ex, kiln_fbb_ref *out) {
  const kiln_graph *g = ex->g;
  for (int i = 0; i < g->num_nodes; i++)
    KILN_TRY(kiln_status_wrap(write_operator(ex, i, &ex->refs[i]),
                              "node %d (%s)", i,
                              kiln_op_table[g->nodes[i].op].name));
  *out = kiln_fbb_ref_vector(&ex->b, ex->refs, (size_t)g->num_nodes);
  return NULL;
}

/* ----------------------------------------------------- subgraph, model */

static kiln_fbb_ref write_tensor_maps(exporter *ex, const int *ids,
                                      char *const *names, int count) {
  kiln_fbb *b = &ex->b;
  for (int i = 0; i < count; i++) {
    const char *name =
        names && names[i] ? names[i] : ex->g->values[ids[i]].name;
    kiln_fbb_ref s = kiln_fbb_string(b, name ? name : "");
    kiln_fbb_start(b);
    kiln_fbb_add_ref(b, TFL_TENSORMAP_NAME, s);
    kiln_fbb_add_u32(b, TFL_TENSORMAP_TENSOR_INDEX, (uint32_t)ids[i]);
    ex->refs[i] = kiln_fbb_end(b);
  }
  return kiln_fbb_ref_vector(b, ex->refs, (size_t)count);
}

static kiln_fbb_ref write_signature(exporter *ex) {
  const kiln_graph *g = ex->g;
  kiln_fbb *b = &ex->b;
  kiln_fbb_ref inputs =
      write_tensor_maps(ex, g->inputs, g->input_names, g->num_inputs);
  kiln_fbb_ref outputs =
      write_tensor_maps(ex, g->outputs, g->output_names, g->num_outputs);
  kiln_fbb_ref key = kiln_fbb_string(b, "serving_default");
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_SIGNATURE_INPUTS, inputs);
  kiln_fbb_add_ref(b, TFL_SIGNATURE_OUTPUTS, outputs);
  kiln_fbb_add_ref(b, TFL_SIGNATURE_KEY, key);
  kiln_fbb_add_u32(b, TFL_SIGNATURE_SUBGRAPH_INDEX, 0);
  kiln_fbb_ref sig = kiln_fbb_end(b);
  return kiln_fbb_ref_vector(b, &sig, 1);
}

static kiln_status *write_model(exporter *ex, kiln_fbb_ref *out) {
  const kiln_graph *g = ex->g;
  kiln_fbb *b = &ex->b;
  kiln_fbb_ref buffers = 0, tensors = 0, operators = 0;
  /* Buffers first: the big constant data ends up at the file's end. */
  KILN_TRY(write_buffers(ex, &buffers));
  KILN_TRY(write_tensors(ex, &tensors));
  KILN_TRY(write_operators(ex, &operators));
  kiln_fbb_ref opcodes = write_opcodes(ex);
  kiln_fbb_ref inputs = int_vector(ex, g->inputs, g->num_inputs);
  kiln_fbb_ref outputs = int_vector(ex, g->outputs, g->num_outputs);
  kiln_fbb_ref sub_name = kiln_fbb_string(b, "main");
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_SUBGRAPH_TENSORS, tensors);
  kiln_fbb_add_ref(b, TFL_SUBGRAPH_INPUTS, inputs);
  kiln_fbb_add_ref(b, TFL_SUBGRAPH_OUTPUTS, outputs);
  kiln_fbb_add_ref(b, TFL_SUBGRAPH_OPERATORS, operators);
  kiln_fbb_add_ref(b, TFL_SUBGRAPH_NAME, sub_name);
  kiln_fbb_ref subgraph = kiln_fbb_end(b);
  kiln_fbb_ref subgraphs = kiln_fbb_ref_vector(b, &subgraph, 1);
  kiln_fbb_ref signatures = write_signature(ex);
  kiln_fbb_ref description = kiln_fbb_string(b, "kiln " KILN_VERSION);
  kiln_fbb_start(b);
  kiln_fbb_add_u32(b, TFL_MODEL_VERSION, TFL_SCHEMA_VERSION);
  kiln_fbb_add_ref(b, TFL_MODEL_OPERATOR_CODES, opcodes);
  kiln_fbb_add_ref(b, TFL_MODEL_SUBGRAPHS, subgraphs);
  kiln_fbb_add_ref(b, TFL_MODEL_DESCRIPTION, description);
  kiln_fbb_add_ref(b, TFL_MODEL_BUFFERS, buffers);
  kiln_fbb_add_ref(b, TFL_MODEL_SIGNATURE_DEFS, signatures);
  *out = kiln_fbb_end(b);
  return NULL;
}

/* Constants are written as their bytes in memory, which TFLite reads as
 * little-endian. */
static bool little_endian(void) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

static kiln_status *export_graph(exporter *ex, void **out_bytes,
                                 size_t *out_size) {
  const kiln_graph *g = ex->g;
  if (!little_endian())
    return UNSUPPORTED("the TFLite writer runs on little-endian hosts only");
  KILN_TRY(kiln_graph_validate(g, "the graph to write"));
  ex->node_intermediates =
      kiln_calloc(ex->alloc, (size_t)g->num_nodes + 1, sizeof(int));
  if (!ex->node_intermediates) return KILN_OOM();
  for (int i = 0; i < g->num_nodes; i++) KILN_TRY(assign_intermediates(ex, i));
  size_t most = (size_t)g->num_values + (size_t)ex->num_intermediates;
  if ((size_t)g->num_nodes > most) most = (size_t)g->num_nodes;
  if ((size_t)g->num_inputs > most) most = (size_t)g->num_inputs;
  if ((size_t)g->num_outputs > most) most = (size_t)g->num_outputs;
  ex->refs = kiln_calloc(ex->alloc, most + 1, sizeof *ex->refs);
  ex->opcodes =
      kiln_calloc(ex->alloc, (size_t)g->num_nodes + 1, sizeof *ex->opcodes);
  ex->node_opcode =
      kiln_calloc(ex->alloc, (size_t)g->num_nodes + 1, sizeof(int));
  ex->value_buffer =
      kiln_calloc(ex->alloc, (size_t)g->num_values + 1, sizeof(uint32_t));
  if (!ex->refs || !ex->opcodes || !ex->node_opcode || !ex->value_buffer)
    return KILN_OOM();
  build_code_table(ex);
  for (int i = 0; i < g->num_nodes; i++) KILN_TRY(assign_opcode(ex, i));
  kiln_fbb_ref model;
  KILN_TRY(write_model(ex, &model));
  return kiln_fbb_finish(&ex->b, model, TFL_FILE_IDENTIFIER, out_bytes,
                         out_size);
}

kiln_status *kiln_tflite_export(const kiln_graph *g, const kiln_allocator *a,
                                void **out_bytes, size_t *out_size) {
  if (!out_bytes || !out_size)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_tflite_export: NULL output pointer");
  *out_bytes = NULL;
  *out_size = 0;
  if (!g)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_tflite_export: no graph");
  exporter ex;
  memset(&ex, 0, sizeof ex);
  ex.g = g;
  ex.alloc = a;
  kiln_fbb_init(&ex.b, a);
  kiln_status *st = export_graph(&ex, out_bytes, out_size);
  kiln_free(a, ex.refs);
  kiln_free(a, ex.opcodes);
  kiln_free(a, ex.node_opcode);
  kiln_free(a, ex.value_buffer);
  kiln_free(a, ex.node_intermediates);
  kiln_fbb_release(&ex.b);
  return st;
}
