/* tflite_import.c - builds kiln's graph from one subgraph of a TFLite model:
 * tensors (with their constants and quantization), operators, and the
 * graph's inputs and outputs named by the model's signature. */
#include "formats/tflite/tflite_import.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/custom_op.h"
#include "core/dtype_private.h"
#include "core/status.h"
#include "formats/tflite/tflite_schema.h"
#include "formats/tflite/tflite_sparsity.h"
#include "formats/tflite/tflite_strings.h"

#define INVALID(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

/* Per-tensor bookkeeping while importing. */
enum {
  TENSOR_RESOLVED = 1, /* its buffer has been read and checked */
  TENSOR_PRODUCED = 2, /* a graph input or an earlier operator's output */
  TENSOR_SPARSE = 4,   /* stored with SparsityParameters */
};

typedef struct importer {
  kiln_fb fb;
  kiln_graph *g;
  kiln_fb_table model, subgraph;
  kiln_fb_vector opcodes, buffers, tensors, operators;
  kiln_fb_vector graph_inputs, graph_outputs;
  int num_tensors, num_operators;
  uint32_t *tensor_buffer;  /* Model.buffers index of each tensor */
  uint8_t *flags;           /* TENSOR_* bits of each tensor */
  uint64_t decoded, budget; /* bytes copied out of the file, and the cap */
  uint64_t densified, dense_budget;   /* bytes of expanded sparse constants */
  const kiln_custom_resolver *custom; /* where custom codes are looked up */
  int subgraph_index;                 /* which subgraph is being read */
  int num_subgraphs;                  /* how many the file has */
} importer;

/* FlatBuffers may share a table or vector between many parents, so a small
 * file can describe a huge graph (thousands of operators pointing at one
 * list of a million inputs). Honest files store each list once; capping
 * what is copied out at a multiple of the file size keeps import time and
 * memory linear in the file without rejecting real models. */
static kiln_status *charge(importer *im, uint64_t bytes) {
  im->decoded += bytes;
  if (im->decoded <= im->budget) return NULL;
  return INVALID(
      "decoding would copy more than %llu bytes out of a %zu-byte file "
      "(tables shared many times over)",
      (unsigned long long)im->budget, im->fb.size);
}

bool kiln_tflite_detect(const void *data, size_t size) {
  return data && size >= 8 &&
         memcmp((const uint8_t *)data + 4, TFL_FILE_IDENTIFIER, 4) == 0;
}

/* ------------------------------------------------------------- tensors */

static kiln_dtype tensor_dtype(int8_t type) {
  switch (type) {
    case TFL_TYPE_FLOAT32:
      return KILN_FLOAT32;
    case TFL_TYPE_FLOAT16:
      return KILN_FLOAT16;
    case TFL_TYPE_INT32:
      return KILN_INT32;
    case TFL_TYPE_UINT8:
      return KILN_UINT8;
    case TFL_TYPE_INT64:
      return KILN_INT64;
    case TFL_TYPE_BOOL:
      return KILN_BOOL;
    case TFL_TYPE_INT16:
      return KILN_INT16;
    case TFL_TYPE_INT8:
      return KILN_INT8;
    case TFL_TYPE_FLOAT64:
      return KILN_FLOAT64;
    case TFL_TYPE_COMPLEX64:
      return KILN_COMPLEX64;
    case TFL_TYPE_UINT16:
      return KILN_UINT16;
    case TFL_TYPE_UINT32:
      return KILN_UINT32;
    case TFL_TYPE_UINT64:
      return KILN_UINT64;
    case TFL_TYPE_RESOURCE:
      return KILN_RESOURCE;
    case TFL_TYPE_STRING:
      return KILN_STRING;
  }
  return KILN_DTYPE_INVALID;
}

/* TensorType names kiln does not map, for messages. */
static const char *unsupported_type_name(int8_t type) {
  static const char *const names[] = {
      [TFL_TYPE_STRING] = "STRING",
      [TFL_TYPE_COMPLEX64] = "COMPLEX64",
      [TFL_TYPE_COMPLEX128] = "COMPLEX128",
      [TFL_TYPE_UINT64] = "UINT64",
      [TFL_TYPE_RESOURCE] = "RESOURCE",
      [TFL_TYPE_VARIANT] = "VARIANT",
      [TFL_TYPE_UINT32] = "UINT32",
      [TFL_TYPE_UINT16] = "UINT16",
      [TFL_TYPE_INT4] = "INT4",
      [TFL_TYPE_BFLOAT16] = "BFLOAT16",
      [TFL_TYPE_INT2] = "INT2",
      [TFL_TYPE_UINT4] = "UINT4",
  };
  if (type < 0 || (size_t)type >= sizeof names / sizeof names[0]) return NULL;
  return names[type];
}

static kiln_status *read_dtype(const kiln_fb_table *t, kiln_value *v) {
  int8_t type;
  KILN_TRY(kiln_fb_i8(t, TFL_TENSOR_TYPE, TFL_TYPE_FLOAT32, &type));
  v->dtype = tensor_dtype(type);
  if (v->dtype != KILN_DTYPE_INVALID) return NULL;
  const char *name = unsupported_type_name(type);
  if (name)
    return kiln_error(KILN_ERR_UNSUPPORTED, "type %s is not supported by kiln",
                      name);
  return kiln_error(KILN_ERR_UNSUPPORTED,
                    "unknown tensor type %d is not supported by kiln", type);
}

/* One dimension from shape (s, -1 when missing) and shape_signature (sig,
 * equal to s when the model has no signature). A dynamic dimension's
 * default size is the shape's when given, else 1. */
static kiln_status *read_dim(int d, int32_t s, int32_t sig, kiln_value *v) {
  if (s < -1 || sig < -1)
    return INVALID("dimension %d is negative (shape %d, shape_signature %d)", d,
                   s, sig);
  if (sig >= 0 && s >= 0 && s != sig)
    return INVALID(
        "dimension %d is %d in its shape but %d in its "
        "shape_signature",
        d, s, sig);
  v->signature[d] = sig;
  v->dims[d] = sig >= 0 ? sig : (s >= 0 ? s : 1);
  return NULL;
}

static kiln_status *read_shape(const kiln_fb_table *t, kiln_value *v) {
  kiln_fb_vector shape, sig;
  bool has_sig;
  KILN_TRY(kiln_fb_vector_field(t, TFL_TENSOR_SHAPE, 4, &shape, NULL));
  KILN_TRY(
      kiln_fb_vector_field(t, TFL_TENSOR_SHAPE_SIGNATURE, 4, &sig, &has_sig));
  /* An empty signature says nothing; an empty shape beside a signature
   * means the shape is missing. */
  if (has_sig && sig.length == 0 && shape.length != 0) has_sig = false;
  uint32_t rank = has_sig ? sig.length : shape.length;
  if (has_sig && shape.length != 0 && shape.length != sig.length)
    return INVALID("its shape has %u dimensions but its shape_signature %u",
                   shape.length, sig.length);
  if (rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%u dimensions; kiln supports up to %d", rank,
                      KILN_MAX_RANK);
  v->rank = (int)rank;
  for (uint32_t d = 0; d < rank; d++) {
    int32_t s = d < shape.length ? kiln_fb_vec_i32(&shape, d) : -1;
    int32_t signature = has_sig ? kiln_fb_vec_i32(&sig, d) : s;
    KILN_TRY(read_dim((int)d, s, signature, v));
  }
  return NULL;
}

/* Checks TFLite's rules: as many zero points as scales, and one scale or
 * one per element of the quantized dimension. */
static kiln_status *check_quant(const kiln_value *v, uint32_t scales,
                                bool has_zero_points, uint32_t zero_points,
                                int32_t axis) {
  if (!has_zero_points)
    return INVALID("%u quantization scales but no zero points", scales);
  if (zero_points != scales)
    return INVALID("%u quantization scales but %u zero points", scales,
                   zero_points);
  if (axis < 0 || (v->rank > 0 && axis >= v->rank))
    return INVALID("quantized_dimension %d is outside its %d dimensions", axis,
                   v->rank);
  if (scales != 1 && v->rank > 0 && v->signature[axis] >= 0 &&
      (int64_t)scales != v->dims[axis])
    return INVALID(
        "%u quantization scales; per-axis quantization needs "
        "%lld, the size of dimension %d",
        scales, (long long)v->dims[axis], axis);
  if (scales != 1 && v->rank == 0)
    return INVALID("a scalar with %u quantization scales", scales);
  return NULL;
}

/* The range of a quantized activation or weight type; false for others. */
static bool zero_point_range(kiln_dtype t, int64_t *lo, int64_t *hi) {
  switch (t) {
    case KILN_INT8:
      *lo = INT8_MIN, *hi = INT8_MAX;
      return true;
    case KILN_UINT8:
      *lo = 0, *hi = UINT8_MAX;
      return true;
    case KILN_INT16:
      *lo = INT16_MIN, *hi = INT16_MAX;
      return true;
    default:
      return false;
  }
}

/* The scales of int8 / uint8 / int16 tensors must be positive and finite
 * (a zero scale would divide by zero in the kernels; the converter never
 * writes one) and their zero points representable in the type. Other
 * tensors' parameters (float, int32 biases) are read by no kernel. */
static kiln_status *check_quant_values(const kiln_value *v) {
  int64_t lo = 0, hi = 0;
  if (!zero_point_range(v->dtype, &lo, &hi)) return NULL;
  for (int i = 0; i < v->quant.count; i++) {
    float s = v->quant.scale[i];
    if (!(s > 0.0f) || !(s < INFINITY))
      return INVALID(
          "quantization scale %d is %g; scales must be positive and "
          "finite",
          i, (double)s);
    int64_t zp = v->quant.zero_point[i];
    if (zp < lo || zp > hi)
      return INVALID("quantization zero point %d is %lld, outside %s's range",
                     i, (long long)zp, kiln_dtype_name(v->dtype));
  }
  return NULL;
}

static kiln_status *read_quant(importer *im, const kiln_fb_table *t,
                               kiln_value *v) {
  kiln_fb_table q;
  kiln_fb_vector scale, zero_point;
  bool has_zero_points;
  uint8_t details;
  int32_t axis;
  KILN_TRY(kiln_fb_table_field(t, TFL_TENSOR_QUANTIZATION,
                               "QuantizationParameters", &q, NULL));
  KILN_TRY(kiln_fb_u8(&q, TFL_QUANT_DETAILS_TYPE, 0, &details));
  if (details != TFL_QUANT_DETAILS_NONE)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "custom quantization (details type %u) is not "
                      "supported by kiln",
                      details);
  KILN_TRY(kiln_fb_vector_field(&q, TFL_QUANT_SCALE, 4, &scale, NULL));
  if (scale.length == 0) return NULL; /* not quantized */
  KILN_TRY(kiln_fb_vector_field(&q, TFL_QUANT_ZERO_POINT, 8, &zero_point,
                                &has_zero_points));
  KILN_TRY(kiln_fb_i32(&q, TFL_QUANT_QUANTIZED_DIMENSION, 0, &axis));
  KILN_TRY(
      check_quant(v, scale.length, has_zero_points, zero_point.length, axis));
  KILN_TRY(charge(im, (uint64_t)scale.length * 12));
  float *scales = kiln_calloc(im->g->alloc, scale.length, sizeof(float));
  v->quant.scale = scales;
  int64_t *zeros = kiln_calloc(im->g->alloc, scale.length, sizeof(int64_t));
  v->quant.zero_point = zeros;
  if (!scales || !zeros) return KILN_OOM();
  for (uint32_t i = 0; i < scale.length; i++) {
    scales[i] = kiln_fb_vec_f32(&scale, i);
    zeros[i] = kiln_fb_vec_i64(&zero_point, i);
  }
  v->quant.count = (int)scale.length;
  v->quant.axis = axis;
  return check_quant_values(v);
}

/* Everything about a tensor except its constant data (see
 * resolve_constant), which is read once we know who uses it. */
static kiln_status *read_tensor_fields(importer *im, const kiln_fb_table *t,
                                       int id) {
  kiln_value *v = &im->g->values[id];
  KILN_TRY(read_dtype(t, v));
  KILN_TRY(read_shape(t, v));
  KILN_TRY(read_quant(im, t, v));
  if (kiln_fb_has_field(t, TFL_TENSOR_SPARSITY)) im->flags[id] |= TENSOR_SPARSE;
  KILN_TRY(kiln_fb_bool(t, TFL_TENSOR_IS_VARIABLE, false, &v->is_variable));
  return kiln_fb_u32(t, TFL_TENSOR_BUFFER, 0, &im->tensor_buffer[id]);
}

static kiln_status *read_tensor(importer *im, int index) {
  kiln_fb_table t;
  const char *name;
  char fallback[32];
  int id;
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vec_table(&im->tensors, (uint32_t)index, "Tensor", &t),
      "tensor %d", index));
  KILN_TRY(kiln_status_wrap(kiln_fb_string_field(&t, TFL_TENSOR_NAME, &name),
                            "tensor %d", index));
  if (!name) {
    snprintf(fallback, sizeof fallback, "tensor_%d", index);
    name = fallback;
  }
  KILN_TRY(charge(im, sizeof(kiln_value) + strlen(name) + 1));
  KILN_TRY(kiln_graph_add_value(im->g, name, &id));
  KILN_TRY(kiln_status_wrap(read_tensor_fields(im, &t, id), "tensor %d ('%s')",
                            index, name));
  /* Catches dimension products that overflow before anyone multiplies;
   * the message names the tensor already. */
  size_t nbytes;
  return kiln_value_nbytes(&im->g->values[id], &nbytes);
}

static kiln_status *read_tensors(importer *im) {
  for (int i = 0; i < im->num_tensors; i++) KILN_TRY(read_tensor(im, i));
  return NULL;
}

/* ----------------------------------------------------------- constants */

/* The bytes of buffer `index`: the inline data vector, or (for models over
 * 2 GB) `size` bytes at file offset `offset`; 0 and 1 are offsets that mean
 * "not stored outside". No bytes for buffer 0, the empty sentinel. */
static kiln_status *buffer_bytes(importer *im, uint32_t index,
                                 const uint8_t **out, uint64_t *out_size) {
  kiln_fb_table b;
  kiln_fb_vector data;
  uint64_t offset, size;
  *out = NULL;
  *out_size = 0;
  if (index == 0) return NULL;
  if (index >= im->buffers.length)
    return INVALID("buffer %u does not exist (the model has %u buffers)", index,
                   im->buffers.length);
  KILN_TRY(kiln_fb_vec_table(&im->buffers, index, "Buffer", &b));
  KILN_TRY(kiln_fb_vector_field(&b, TFL_BUFFER_DATA, 1, &data, NULL));
  if (data.length) {
    *out = kiln_fb_vec_data(&data);
    *out_size = data.length;
    return NULL;
  }
  KILN_TRY(kiln_fb_u64(&b, TFL_BUFFER_OFFSET, 0, &offset));
  KILN_TRY(kiln_fb_u64(&b, TFL_BUFFER_SIZE, 0, &size));
  if (offset <= 1 || size == 0) return NULL;
  if (offset > im->fb.size || size > im->fb.size - offset)
    return INVALID(
        "buffer %u ends past the file (offset %llu, size %llu, "
        "file %zu bytes)",
        index, (unsigned long long)offset, (unsigned long long)size,
        im->fb.size);
  *out = im->fb.buf + offset;
  *out_size = size;
  return NULL;
}

/* "[1,224,224,3]" for messages. */
static void format_dims(const kiln_value *v, char *text, size_t size) {
  size_t used = (size_t)snprintf(text, size, "[");
  for (int d = 0; d < v->rank && used < size; d++)
    used += (size_t)snprintf(text + used, size - used, "%s%lld", d ? "," : "",
                             (long long)v->dims[d]);
  if (used < size) snprintf(text + used, size - used, "]");
}

/* Points the value at its bytes, copying them when they are not aligned
 * for the element type (kernels load elements directly; a writer or the
 * address the caller loaded the file at may leave them misaligned). */
static kiln_status *set_constant(importer *im, kiln_value *v,
                                 const uint8_t *bytes, size_t nbytes) {
  v->is_constant = true;
  v->nbytes = nbytes;
  v->data = bytes;
  if ((uintptr_t)bytes % kiln_dtype_size(v->dtype) == 0) return NULL;
  KILN_TRY(charge(im, nbytes));
  v->owned_data = kiln_malloc(im->g->alloc, nbytes);
  if (!v->owned_data) return KILN_OOM();
  memcpy(v->owned_data, bytes, nbytes);
  v->data = v->owned_data;
  return NULL;
}

/* A STRING constant: its packed buffer checked and turned into views that
 * point into the model's bytes (tflite_strings.c). The views are the
 * value's data, so kernels and sessions see an array of kiln_string. */
static kiln_status *string_constant(importer *im, kiln_value *v,
                                    const uint8_t *bytes, uint64_t size) {
  if (v->is_variable)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "a STRING variable tensor is not supported by kiln");
  size_t nbytes;
  KILN_TRY(kiln_value_nbytes(v, &nbytes));
  int64_t count = (int64_t)(nbytes / sizeof(kiln_string));
  /* Each string takes at least its 4-byte offset in the buffer, so a
   * count the buffer cannot hold is refused before allocating views. */
  if ((uint64_t)count > size / 4)
    return INVALID(
        "STRING buffer %llu bytes long cannot hold the %lld "
        "strings of its shape",
        (unsigned long long)size, (long long)count);
  KILN_TRY(charge(im, nbytes));
  v->owned_data = kiln_calloc(im->g->alloc, nbytes ? nbytes : 1, 1);
  if (!v->owned_data) return KILN_OOM();
  KILN_TRY(kiln_tflite_string_views(bytes, size, count, v->owned_data));
  v->is_constant = true;
  v->nbytes = nbytes;
  v->data = v->owned_data;
  return NULL;
}

/* Expands sparse constant `id` from its stored values into graph-owned
 * memory. A few stored values may stand for a huge dense tensor, so the
 * expanded bytes of all of them are capped at a multiple of the file size
 * (generous: a 2%-dense tensor filling the file still fits). */
static kiln_status *densify_constant(importer *im, int id, const uint8_t *bytes,
                                     uint64_t size) {
  kiln_value *v = &im->g->values[id];
  kiln_fb_table tensor, sparsity;
  size_t nbytes;
  KILN_TRY(kiln_value_nbytes(v, &nbytes));
  if (nbytes > im->dense_budget - im->densified)
    return INVALID(
        "expanding its sparse storage would take %zu bytes; the sparse "
        "tensors of a %zu-byte file may take %llu in all",
        nbytes, im->fb.size, (unsigned long long)im->dense_budget);
  im->densified += nbytes;
  KILN_TRY(kiln_fb_vec_table(&im->tensors, (uint32_t)id, "Tensor", &tensor));
  KILN_TRY(kiln_fb_table_field(&tensor, TFL_TENSOR_SPARSITY,
                               "SparsityParameters", &sparsity, NULL));
  v->owned_data = kiln_calloc(im->g->alloc, nbytes ? nbytes : 1, 1);
  if (!v->owned_data) return KILN_OOM();
  KILN_TRY(kiln_status_wrap(
      kiln_tflite_densify(&sparsity, v, bytes, size, v->owned_data),
      "sparsity"));
  v->is_constant = true;
  v->nbytes = nbytes;
  v->data = v->owned_data;
  return NULL;
}

/* Reads and checks the buffer of tensor `id` once. An operator input with
 * no data, no producer and no elements is an empty constant (converters
 * store those without bytes). A variable's bytes are its initial value, not
 * a constant: sessions copy them into their own state. */
static kiln_status *resolve_constant(importer *im, int id, bool is_input) {
  if (im->flags[id] & TENSOR_RESOLVED) return NULL;
  im->flags[id] |= TENSOR_RESOLVED;
  kiln_value *v = &im->g->values[id];
  uint32_t index = im->tensor_buffer[id];
  const uint8_t *bytes;
  uint64_t size;
  size_t nbytes;
  KILN_TRY(buffer_bytes(im, index, &bytes, &size));
  KILN_TRY(kiln_value_nbytes(v, &nbytes));
  if (v->dtype == KILN_STRING && (bytes || v->is_variable)) {
    if (im->flags[id] & TENSOR_SPARSE)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "a sparse STRING tensor is not supported by kiln");
    return string_constant(im, v, bytes, size);
  }
  if (im->flags[id] & TENSOR_SPARSE) {
    if (!bytes && (im->flags[id] & TENSOR_PRODUCED))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "sparsity parameters on a tensor computed at run time "
                        "(kiln expands sparse constants only)");
    return densify_constant(im, id, bytes, size);
  }
  if (!bytes) {
    if (is_input && nbytes == 0 && !v->is_variable &&
        !(im->flags[id] & TENSOR_PRODUCED)) {
      v->is_constant = true;
      v->data = im->fb.buf; /* any non-NULL pointer: nothing is read */
    }
    return NULL;
  }
  if (size != nbytes) {
    char dims[128];
    format_dims(v, dims, sizeof dims);
    return INVALID("buffer %u holds %llu bytes but shape %s of %s needs %zu",
                   index, (unsigned long long)size, dims,
                   kiln_dtype_name(v->dtype), nbytes);
  }
  KILN_TRY(set_constant(im, v, bytes, nbytes));
  if (v->is_variable) v->is_constant = false;
  return NULL;
}

/* Constants no operator reads (graph outputs, leftovers) still get their
 * buffers checked. */
static kiln_status *resolve_remaining(importer *im) {
  for (int id = 0; id < im->num_tensors; id++)
    KILN_TRY(kiln_status_wrap(resolve_constant(im, id, false),
                              "tensor %d ('%s')", id, im->g->values[id].name));
  return NULL;
}

/* ----------------------------------------------------------- operators */

/* The builtin code (and custom name) of the operator code `op` uses. */
static kiln_status *read_opcode(importer *im, const kiln_fb_table *op,
                                int32_t *code, const char **custom) {
  uint32_t opcode_index;
  kiln_fb_table table;
  int8_t deprecated_code;
  KILN_TRY(kiln_fb_u32(op, TFL_OPERATOR_OPCODE_INDEX, 0, &opcode_index));
  if (opcode_index >= im->opcodes.length)
    return INVALID(
        "opcode index %u does not exist (the model has %u "
        "operator codes)",
        opcode_index, im->opcodes.length);
  KILN_TRY(
      kiln_fb_vec_table(&im->opcodes, opcode_index, "OperatorCode", &table));
  KILN_TRY(kiln_fb_i8(&table, TFL_OPCODE_DEPRECATED_BUILTIN_CODE, 0,
                      &deprecated_code));
  KILN_TRY(kiln_fb_i32(&table, TFL_OPCODE_BUILTIN_CODE, 0, code));
  /* Codes past 127 live only in builtin_code; older files only fill the
   * deprecated byte. */
  if (deprecated_code > *code) *code = deprecated_code;
  return kiln_fb_string_field(&table, TFL_OPCODE_CUSTOM_CODE, custom);
}

/* Finds what operator `op` is, failing for operators kiln lacks. A custom
 * one gives its registration in *out_custom (else NULL). */
/* Why a builtin kiln knows is refused, where a reason helps ("" else). */
static const char *refusal_reason(int32_t code) {
  if (code == TFL_OP_SKIP_GRAM)
    return ": its output's length is the number of n-grams in its input "
           "text, known only at invoke, and kiln sizes outputs at prepare";
  return "";
}

static kiln_status *operator_kind(importer *im, const kiln_fb_table *op,
                                  int index, const kiln_tflite_op **out_map,
                                  const char **out_name,
                                  const kiln_custom_op **out_custom) {
  int32_t code;
  const char *custom;
  *out_custom = NULL;
  KILN_TRY(kiln_status_wrap(read_opcode(im, op, &code, &custom), "operator %d",
                            index));
  if (code == TFL_OP_CUSTOM) {
    *out_custom = kiln_custom_resolve(im->custom, custom);
    if (!*out_custom)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "operator %d (custom op '%s') is not supported by "
                        "kiln: no custom operator of that name is registered",
                        index, custom ? custom : "");
    /* kiln's CUSTOM, whose attributes custom_node fills. */
    *out_map = kiln_tflite_find_op(TFL_OP_CUSTOM);
    *out_name = (*out_custom)->name;
    return NULL;
  }
  *out_name = kiln_tflite_op_name(code);
  *out_map = kiln_tflite_find_op(code);
  if (!*out_name)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "operator %d (builtin code %d) is not supported by kiln",
                      index, code);
  if (!*out_map)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "operator %d (%s) is not supported by kiln%s", index,
                      *out_name, refusal_reason(code));
  return NULL;
}

/* Copies tensor ids out of an operator's vector, checking their range;
 * -1 (an omitted optional input) is kept. */
static kiln_status *read_ids(importer *im, const kiln_fb_vector *vec,
                             const char *what, bool allow_omitted, int *ids) {
  for (uint32_t i = 0; i < vec->length; i++) {
    int32_t id = kiln_fb_vec_i32(vec, i);
    if ((id == -1 && allow_omitted) || (id >= 0 && id < im->num_tensors)) {
      ids[i] = id;
      continue;
    }
    return INVALID(
        "%s %u is tensor %d, which does not exist (the subgraph "
        "has %d tensors)",
        what, i, id, im->num_tensors);
  }
  return NULL;
}

static kiln_status *resolve_inputs(importer *im, const int *ids, int count) {
  for (int i = 0; i < count; i++) {
    if (ids[i] < 0) continue;
    KILN_TRY(kiln_status_wrap(resolve_constant(im, ids[i], true),
                              "input %d is tensor %d ('%s')", i, ids[i],
                              im->g->values[ids[i]].name));
  }
  return NULL;
}

/* An operator's input and output tensor ids. */
typedef struct operator_ids {
  kiln_fb_vector inputs, outputs;
  int *ids; /* inputs, then outputs */
} operator_ids;

static kiln_status *alloc_ids(importer *im, const kiln_fb_table *op,
                              operator_ids *out) {
  KILN_TRY(
      kiln_fb_vector_field(op, TFL_OPERATOR_INPUTS, 4, &out->inputs, NULL));
  KILN_TRY(
      kiln_fb_vector_field(op, TFL_OPERATOR_OUTPUTS, 4, &out->outputs, NULL));
  /* Both lengths are at most the buffer size over 4; capping their sum
   * keeps every int conversion below exact. */
  size_t count = (size_t)out->inputs.length + out->outputs.length;
  if (count > INT_MAX / 2) return INVALID("has %zu inputs and outputs", count);
  KILN_TRY(charge(im, sizeof(kiln_node) + count * sizeof(int)));
  out->ids = kiln_calloc(im->g->alloc, count ? count : 1, sizeof(int));
  return out->ids ? NULL : KILN_OOM();
}

/* Recurrent operators write their state inputs: those must be variables,
 * which sessions own, never constants (mapped read-only from the file) or
 * other operators' results. */
static kiln_status *check_state_inputs(importer *im, kiln_op_type op,
                                       const int *ids, int count) {
  for (int i = 0; i < count; i++) {
    if (!kiln_tflite_is_state_input(op, i)) continue;
    if (ids[i] < 0)
      return INVALID("input %d is the operator's state and may not be omitted",
                     i);
    if (!im->g->values[ids[i]].is_variable)
      return INVALID(
          "input %d is tensor %d ('%s'), the operator's state, which must be "
          "a variable tensor (is_variable)",
          i, ids[i], im->g->values[ids[i]].name);
  }
  return NULL;
}

/* STRING tensors reach only the operators that treat their elements as
 * what they are (core/ops.c, kiln_op_takes_strings). */
static kiln_status *check_string_tensors(importer *im, kiln_op_type op,
                                         const int *ids, int count) {
  if (kiln_op_takes_strings(op)) return NULL;
  for (int i = 0; i < count; i++) {
    if (ids[i] < 0 || im->g->values[ids[i]].dtype != KILN_STRING) continue;
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "tensor %d ('%s') is a STRING, which kiln's %s does "
                      "not take (STRING tensors run through HASHTABLE_FIND, "
                      "HASHTABLE_IMPORT, RESHAPE and control flow)",
                      ids[i], im->g->values[ids[i]].name,
                      kiln_op_table[op].name);
  }
  return NULL;
}

/* A CUSTOM node's record: its registration, a copy of its custom_options
 * bytes, and the state the registration's init makes of them. */
static kiln_status *custom_node(importer *im, const kiln_fb_table *op,
                                const kiln_custom_op *reg, kiln_node *node) {
  kiln_fb_vector options;
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vector_field(op, TFL_OPERATOR_CUSTOM_OPTIONS, 1, &options, NULL),
      "custom_options"));
  KILN_TRY(charge(im, sizeof(kiln_custom_node) + options.length));
  kiln_custom_attrs *attrs = node->attrs;
  return kiln_custom_node_create(im->g, reg, kiln_fb_vec_data(&options),
                                 options.length, &attrs->node);
}

/* The integer LSTM's intermediate tensors: their quantization goes into
 * the node's attributes (the kernel derives its gate and hidden scales
 * from them); the tensors themselves hold no data kiln needs. */
static kiln_status *read_lstm_intermediates(importer *im,
                                            const kiln_fb_table *op,
                                            kiln_lstm_attrs *a) {
  kiln_fb_vector vec;
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vector_field(op, TFL_OPERATOR_INTERMEDIATES, 4, &vec, NULL),
      "intermediates"));
  a->num_intermediates = vec.length > INT_MAX ? INT_MAX : (int)vec.length;
  for (uint32_t i = 0; i < vec.length && i < KILN_LSTM_INTERMEDIATES; i++) {
    int32_t id = kiln_fb_vec_i32(&vec, i);
    if (id < 0 || id >= im->num_tensors)
      return INVALID(
          "intermediate %u is tensor %d, which does not exist (the subgraph "
          "has %d tensors)",
          i, id, im->num_tensors);
    const kiln_value *v = &im->g->values[id];
    if (v->quant.count < 1) continue;
    if (v->quant.zero_point[0] < INT32_MIN ||
        v->quant.zero_point[0] > INT32_MAX)
      return INVALID("intermediate %u (tensor %d) has zero point %lld", i, id,
                     (long long)v->quant.zero_point[0]);
    a->intermediate_scale[i] = v->quant.scale[0];
    a->intermediate_zp[i] = (int32_t)v->quant.zero_point[0];
  }
  return NULL;
}

/* Reads ids, constants and options of an operator into a new node. */
static kiln_status *build_node(importer *im, const kiln_fb_table *op, int index,
                               const kiln_tflite_op *map,
                               const kiln_custom_op *custom,
                               const operator_ids *io) {
  int num_inputs = (int)io->inputs.length;
  int num_outputs = (int)io->outputs.length;
  int *input_ids = io->ids, *output_ids = io->ids + num_inputs;
  kiln_node *node;
  /* CONV_2D's input 3, a residual added before the activation, is kiln's
   * own (passes/fuse_residual.c); TFLite's has input, filter and bias, and
   * a fourth would be taken for a residual. */
  if (map->op == KILN_OP_CONV_2D && num_inputs > 3)
    return INVALID("has %d inputs; CONV_2D takes at most 3", num_inputs);
  KILN_TRY(read_ids(im, &io->inputs, "input", true, input_ids));
  KILN_TRY(read_ids(im, &io->outputs, "output", false, output_ids));
  KILN_TRY(resolve_inputs(im, input_ids, num_inputs));
  KILN_TRY(check_state_inputs(im, map->op, input_ids, num_inputs));
  KILN_TRY(
      check_string_tensors(im, map->op, io->ids, num_inputs + num_outputs));
  KILN_TRY(kiln_graph_add_node(im->g, map->op, input_ids, num_inputs,
                               output_ids, num_outputs, index, &node));
  KILN_TRY(kiln_tflite_read_options(map, op, node->attrs));
  if (map->op == KILN_OP_LSTM ||
      map->op == KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM)
    KILN_TRY(read_lstm_intermediates(im, op, node->attrs));
  if (custom) KILN_TRY(custom_node(im, op, custom, node));
  for (int i = 0; i < num_outputs; i++)
    im->flags[output_ids[i]] |= TENSOR_PRODUCED;
  return NULL;
}

static kiln_status *read_operator(importer *im, int index) {
  kiln_fb_table op;
  const kiln_tflite_op *map = NULL;
  const char *name = NULL;
  const kiln_custom_op *custom = NULL;
  operator_ids io;
  memset(&io, 0, sizeof io);
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vec_table(&im->operators, (uint32_t)index, "Operator", &op),
      "operator %d", index));
  KILN_TRY(operator_kind(im, &op, index, &map, &name, &custom));
  im->g->source_ops[index] = kiln_strdup(im->g->alloc, name);
  if (!im->g->source_ops[index]) return KILN_OOM();
  kiln_status *st = alloc_ids(im, &op, &io);
  if (!st) st = build_node(im, &op, index, map, custom, &io);
  kiln_free(im->g->alloc, io.ids);
  if (custom)
    return kiln_status_wrap(st, "operator %d (custom op '%s')", index, name);
  return kiln_status_wrap(st, "operator %d (%s)", index, name);
}

static kiln_status *read_operators(importer *im) {
  kiln_graph *g = im->g;
  g->source_ops =
      kiln_calloc(g->alloc, (size_t)im->num_operators + 1, sizeof(char *));
  if (!g->source_ops) return KILN_OOM();
  g->num_source_ops = im->num_operators; /* entries fill in as we go */
  for (int i = 0; i < im->num_operators; i++) KILN_TRY(read_operator(im, i));
  return NULL;
}

/* ---------------------------------------------------- inputs / outputs */

/* The TensorMaps of the first signature of this subgraph, if any. */
static kiln_status *find_signature(importer *im, bool *found,
                                   kiln_fb_vector *inputs,
                                   kiln_fb_vector *outputs) {
  kiln_fb_vector sigs;
  *found = false;
  KILN_TRY(kiln_fb_vector_field(&im->model, TFL_MODEL_SIGNATURE_DEFS, 4, &sigs,
                                NULL));
  for (uint32_t i = 0; i < sigs.length; i++) {
    kiln_fb_table sig;
    uint32_t subgraph;
    KILN_TRY(kiln_fb_vec_table(&sigs, i, "SignatureDef", &sig));
    KILN_TRY(kiln_fb_u32(&sig, TFL_SIGNATURE_SUBGRAPH_INDEX, 0, &subgraph));
    if (subgraph != (uint32_t)im->subgraph_index) continue;
    KILN_TRY(kiln_fb_vector_field(&sig, TFL_SIGNATURE_INPUTS, 4, inputs, NULL));
    KILN_TRY(
        kiln_fb_vector_field(&sig, TFL_SIGNATURE_OUTPUTS, 4, outputs, NULL));
    *found = true;
    return NULL;
  }
  return NULL;
}

/* Signature keys by tensor id (the first entry naming a tensor wins), so
 * naming the inputs and outputs is one pass over each TensorMap list. */
static kiln_status *signature_names(importer *im, const kiln_fb_vector *maps,
                                    const char **by_tensor) {
  for (uint32_t i = 0; i < maps->length; i++) {
    kiln_fb_table map;
    uint32_t tensor;
    const char *name;
    KILN_TRY(kiln_fb_vec_table(maps, i, "TensorMap", &map));
    KILN_TRY(kiln_fb_u32(&map, TFL_TENSORMAP_TENSOR_INDEX, 0, &tensor));
    KILN_TRY(kiln_fb_string_field(&map, TFL_TENSORMAP_NAME, &name));
    if (tensor < (uint32_t)im->num_tensors && !by_tensor[tensor])
      by_tensor[tensor] = name;
  }
  return NULL;
}

/* Ids and user-facing names of the subgraph's inputs or outputs: the
 * signature key of each tensor, else its name. */
static kiln_status *read_io_list(importer *im, const kiln_fb_vector *list,
                                 const kiln_fb_vector *maps, const char *what,
                                 const char **by_tensor, int *ids,
                                 const char **names) {
  KILN_TRY(read_ids(im, list, what, false, ids));
  memset((void *)by_tensor, 0, sizeof(char *) * (size_t)im->num_tensors);
  if (maps)
    KILN_TRY(kiln_status_wrap(signature_names(im, maps, by_tensor),
                              "signature %ss", what));
  for (uint32_t i = 0; i < list->length; i++) {
    names[i] = by_tensor[ids[i]];
    if (!names[i]) names[i] = im->g->values[ids[i]].name;
  }
  return NULL;
}

static kiln_status *read_io(importer *im) {
  kiln_fb_vector sig_inputs, sig_outputs;
  bool has_sig;
  KILN_TRY(
      kiln_status_wrap(find_signature(im, &has_sig, &sig_inputs, &sig_outputs),
                       "signature_defs"));
  size_t num_in = im->graph_inputs.length, num_out = im->graph_outputs.length;
  size_t count = num_in + num_out + 1;
  int *ids = kiln_calloc(im->g->alloc, count, sizeof(int));
  const char **names = kiln_calloc(im->g->alloc, count, sizeof(char *));
  const char **by_tensor =
      kiln_calloc(im->g->alloc, (size_t)im->num_tensors + 1, sizeof(char *));
  kiln_status *st = (!ids || !names || !by_tensor) ? KILN_OOM() : NULL;
  if (!st)
    st = read_io_list(im, &im->graph_inputs, has_sig ? &sig_inputs : NULL,
                      "graph input", by_tensor, ids, names);
  if (!st)
    st = read_io_list(im, &im->graph_outputs, has_sig ? &sig_outputs : NULL,
                      "graph output", by_tensor, ids + num_in, names + num_in);
  if (!st)
    st = kiln_graph_set_io(im->g, ids, names, (int)num_in, ids + num_in,
                           names + num_in, (int)num_out);
  kiln_free(im->g->alloc, ids);
  kiln_free(im->g->alloc, (void *)names);
  kiln_free(im->g->alloc, (void *)by_tensor);
  return st;
}

/* Graph inputs count as produced before the first operator runs. */
static void mark_graph_inputs(importer *im) {
  for (uint32_t i = 0; i < im->graph_inputs.length; i++) {
    int32_t id = kiln_fb_vec_i32(&im->graph_inputs, i);
    if (id >= 0 && id < im->num_tensors) im->flags[id] |= TENSOR_PRODUCED;
  }
}

/* --------------------------------------------------------------- model */

static kiln_status *check_identifier(const kiln_fb *fb) {
  if (fb->size < 8)
    return INVALID("the file is too small to be a TFLite model (%zu bytes)",
                   fb->size);
  if (kiln_tflite_detect(fb->buf, fb->size)) return NULL;
  char shown[5];
  for (int i = 0; i < 4; i++) {
    uint8_t c = fb->buf[4 + i];
    shown[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  shown[4] = '\0';
  return INVALID(
      "not a TFLite model: the file identifier at bytes 4..7 is "
      "'%s', not '" TFL_FILE_IDENTIFIER "'",
      shown);
}

/* A vector length used as an int count. */
static kiln_status *count_of(const kiln_fb_vector *v, const char *what,
                             int *out) {
  if (v->length > INT_MAX / 2)
    return INVALID("the model has %u %s, more than kiln handles", v->length,
                   what);
  *out = (int)v->length;
  return NULL;
}

static kiln_status *read_subgraph_fields(importer *im) {
  const kiln_fb_table *sg = &im->subgraph;
  KILN_TRY(
      kiln_fb_vector_field(sg, TFL_SUBGRAPH_TENSORS, 4, &im->tensors, NULL));
  KILN_TRY(kiln_fb_vector_field(sg, TFL_SUBGRAPH_OPERATORS, 4, &im->operators,
                                NULL));
  KILN_TRY(kiln_fb_vector_field(sg, TFL_SUBGRAPH_INPUTS, 4, &im->graph_inputs,
                                NULL));
  return kiln_fb_vector_field(sg, TFL_SUBGRAPH_OUTPUTS, 4, &im->graph_outputs,
                              NULL);
}

static kiln_status *read_subgraph(importer *im) {
  kiln_fb_vector subgraphs;
  int index = im->subgraph_index;
  KILN_TRY(kiln_fb_vector_field(&im->model, TFL_MODEL_SUBGRAPHS, 4, &subgraphs,
                                NULL));
  if (subgraphs.length == 0) return INVALID("the model has no subgraphs");
  KILN_TRY(count_of(&subgraphs, "subgraphs", &im->num_subgraphs));
  if (index >= im->num_subgraphs)
    return INVALID("subgraph %d does not exist (the model has %d)", index,
                   im->num_subgraphs);
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vec_table(&subgraphs, (uint32_t)index, "SubGraph", &im->subgraph),
      "subgraph %d", index));
  KILN_TRY(kiln_status_wrap(read_subgraph_fields(im), "subgraph %d", index));
  KILN_TRY(count_of(&im->tensors, "tensors", &im->num_tensors));
  return count_of(&im->operators, "operators", &im->num_operators);
}

static kiln_status *read_model(importer *im) {
  uint32_t version;
  KILN_TRY(check_identifier(&im->fb));
  KILN_TRY(kiln_fb_root(&im->fb, "Model", &im->model));
  KILN_TRY(kiln_fb_u32(&im->model, TFL_MODEL_VERSION, 0, &version));
  if (version != TFL_SCHEMA_VERSION)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "TFLite schema version %u is not supported (kiln reads "
                      "version %d)",
                      version, TFL_SCHEMA_VERSION);
  KILN_TRY(kiln_fb_vector_field(&im->model, TFL_MODEL_OPERATOR_CODES, 4,
                                &im->opcodes, NULL));
  KILN_TRY(kiln_fb_vector_field(&im->model, TFL_MODEL_BUFFERS, 4, &im->buffers,
                                NULL));
  return read_subgraph(im);
}

static kiln_status *import_graph(importer *im) {
  KILN_TRY(read_model(im));
  size_t count = (size_t)im->num_tensors + 1;
  im->tensor_buffer = kiln_calloc(im->g->alloc, count, sizeof(uint32_t));
  im->flags = kiln_calloc(im->g->alloc, count, 1);
  if (!im->tensor_buffer || !im->flags) return KILN_OOM();
  KILN_TRY(read_tensors(im));
  mark_graph_inputs(im);
  KILN_TRY(read_operators(im));
  KILN_TRY(resolve_remaining(im));
  return read_io(im);
}

kiln_status *kiln_tflite_import(const void *data, size_t size,
                                const char *source_name,
                                const kiln_allocator *alloc,
                                kiln_graph **out_graph) {
  return kiln_tflite_import_with_ops(data, size, source_name, alloc, NULL,
                                     out_graph);
}

kiln_status *kiln_tflite_import_with_ops(const void *data, size_t size,
                                         const char *source_name,
                                         const kiln_allocator *alloc,
                                         const kiln_custom_resolver *custom,
                                         kiln_graph **out_graph) {
  uint64_t decoded = 0;
  int count = 0;
  return kiln_tflite_import_subgraph(data, size, source_name, alloc, custom, 0,
                                     &decoded, out_graph, &count);
}

kiln_status *kiln_tflite_import_subgraph(
    const void *data, size_t size, const char *source_name,
    const kiln_allocator *alloc, const kiln_custom_resolver *custom, int index,
    uint64_t *decoded, kiln_graph **out_graph, int *out_num_subgraphs) {
  const char *source = source_name ? source_name : "<memory>";
  if (!out_graph || !decoded || !out_num_subgraphs)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_tflite_import: out_graph is required");
  *out_graph = NULL;
  if (!data)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: kiln_tflite_import: data is NULL", source);
  importer im;
  memset(&im, 0, sizeof im);
  im.fb.buf = data;
  im.fb.size = size;
  im.custom = custom;
  im.subgraph_index = index;
  /* One budget for the whole file: subgraphs share tables like anything
   * else. */
  im.decoded = *decoded;
  im.budget =
      size > UINT64_MAX / 32 ? UINT64_MAX : 16 * (uint64_t)size + (1u << 20);
  im.dense_budget =
      size > UINT64_MAX / 128 ? UINT64_MAX : 64 * (uint64_t)size + (16u << 20);
  im.g = kiln_graph_create(alloc);
  if (!im.g) return kiln_status_wrap(KILN_OOM(), "%s", source);
  kiln_status *st = import_graph(&im);
  if (st && index != 0) st = kiln_status_wrap(st, "subgraph %d", index);
  st = kiln_status_wrap(st, "%s", source);
  /* validate prefixes the source itself. */
  if (!st && index == 0) st = kiln_graph_validate(im.g, source);
  if (!st && index != 0) {
    char where[512];
    snprintf(where, sizeof where, "%s: subgraph %d", source, index);
    st = kiln_graph_validate(im.g, where);
  }
  kiln_free(im.g->alloc, im.tensor_buffer);
  kiln_free(im.g->alloc, im.flags);
  *decoded = im.decoded;
  *out_num_subgraphs = im.num_subgraphs;
  if (st) {
    kiln_graph_free(im.g);
    return st;
  }
  *out_graph = im.g;
  return NULL;
}
