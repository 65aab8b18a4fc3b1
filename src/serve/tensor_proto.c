/* tensor_proto.c - TensorProto to and from serve_tensor (see
 * tensor_proto.h). Field numbers and the field each dtype keeps its values
 * in follow tensorflow/core/framework/tensor.proto, tensor_shape.proto and
 * types.proto. */
#include "serve/tensor_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TensorProto's fields. */
enum {
  TP_DTYPE = 1,
  TP_SHAPE = 2,
  TP_VERSION = 3,
  TP_CONTENT = 4,
  TP_FLOAT = 5,
  TP_DOUBLE = 6,
  TP_INT = 7,
  TP_STRING = 8,
  TP_SCOMPLEX = 9,
  TP_INT64 = 10,
  TP_BOOL = 11,
  TP_DCOMPLEX = 12,
  TP_HALF = 13,
  TP_RESOURCE = 14,
  TP_VARIANT = 15,
  TP_UINT32 = 16,
  TP_UINT64 = 17,
  TP_FLOAT8 = 18,
};
/* TensorShapeProto's and its Dim's. */
enum { SHAPE_DIM = 2, SHAPE_UNKNOWN_RANK = 3, DIM_SIZE = 1 };

/* Per dtype kiln serves: TF's number, the repeated field its values come
 * in, and the range an int_val-carried value must fit. */
static const struct {
  kiln_dtype dtype;
  int tf;
  uint32_t field;
  int64_t min, max; /* for varint fields */
} dtypes[] = {
    {KILN_FLOAT32, 1, TP_FLOAT, 0, 0},
    {KILN_FLOAT64, 2, TP_DOUBLE, 0, 0},
    {KILN_INT32, 3, TP_INT, INT32_MIN, INT32_MAX},
    {KILN_UINT8, 4, TP_INT, 0, UINT8_MAX},
    {KILN_INT16, 5, TP_INT, INT16_MIN, INT16_MAX},
    {KILN_INT8, 6, TP_INT, INT8_MIN, INT8_MAX},
    {KILN_INT64, 9, TP_INT64, INT64_MIN, INT64_MAX},
    {KILN_BOOL, 10, TP_BOOL, 0, 0},
    {KILN_UINT16, 17, TP_INT, 0, UINT16_MAX},
    {KILN_FLOAT16, 19, TP_HALF, 0, UINT16_MAX},
    {KILN_UINT32, 22, TP_UINT32, 0, 0},
    {KILN_UINT64, 23, TP_UINT64, 0, 0},
};
enum { NUM_DTYPES = sizeof dtypes / sizeof dtypes[0] };

static const char *const tf_names[] = {
    "DT_INVALID",  "DT_FLOAT",   "DT_DOUBLE", "DT_INT32",      "DT_UINT8",
    "DT_INT16",    "DT_INT8",    "DT_STRING", "DT_COMPLEX64",  "DT_INT64",
    "DT_BOOL",     "DT_QINT8",   "DT_QUINT8", "DT_QINT32",     "DT_BFLOAT16",
    "DT_QINT16",   "DT_QUINT16", "DT_UINT16", "DT_COMPLEX128", "DT_HALF",
    "DT_RESOURCE", "DT_VARIANT", "DT_UINT32", "DT_UINT64",
};

int serve_tf_dtype_number(kiln_dtype dtype) {
  for (int i = 0; i < NUM_DTYPES; i++)
    if (dtypes[i].dtype == dtype) return dtypes[i].tf;
  return 0;
}

kiln_dtype serve_tf_dtype_from_number(uint64_t number) {
  for (int i = 0; i < NUM_DTYPES; i++)
    if ((uint64_t)dtypes[i].tf == number) return dtypes[i].dtype;
  return KILN_DTYPE_INVALID;
}

const char *serve_tf_dtype_number_name(uint64_t number) {
  return number < sizeof tf_names / sizeof tf_names[0] ? tf_names[number]
                                                       : NULL;
}

static const char *field_name(uint32_t number) {
  static const char *const names[] = {
      NULL,
      "dtype",
      "tensor_shape",
      "version_number",
      "tensor_content",
      "float_val",
      "double_val",
      "int_val",
      "string_val",
      "scomplex_val",
      "int64_val",
      "bool_val",
      "dcomplex_val",
      "half_val",
      "resource_handle_val",
      "variant_val",
      "uint32_val",
      "uint64_val",
      "float8_val",
  };
  return number < sizeof names / sizeof names[0] && names[number]
             ? names[number]
             : "an unknown field";
}

serve_status *serve_from_pb(kiln_status *k) {
  if (!k) return NULL;
  serve_status *s =
      serve_error(SERVE_INVALID_ARGUMENT, "%s", kiln_status_message(k));
  kiln_status_free(k);
  return s;
}

/* An error about field f of the tensor `what`. */
#define FIELD_ERROR(what, f, fmt, ...)                                 \
  serve_error(SERVE_INVALID_ARGUMENT,                                  \
              "%s: %s (field %u) at byte offset %zu"                   \
              ": " fmt,                                                \
              what, field_name((f)->number), (f)->number, (f)->offset, \
              __VA_ARGS__)

static serve_status *read_shape(const kiln_pb_reader *r, const kiln_pb_field *f,
                                const char *what, serve_tensor *out) {
  if (f->wire_type != KILN_PB_LEN)
    return FIELD_ERROR(what, f, "%s", "a TensorShapeProto message expected");
  kiln_pb_reader shape = kiln_pb_nested(r, f, "TensorShapeProto");
  kiln_pb_field g;
  bool more;
  out->rank = 0;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&shape, &g, &more)));
    if (!more) return NULL;
    if (g.number == SHAPE_UNKNOWN_RANK && g.wire_type == KILN_PB_VARINT &&
        g.value)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: tensor_shape.unknown_rank at byte offset %zu: "
                         "a request tensor needs a known shape",
                         what, g.offset);
    if (g.number != SHAPE_DIM) continue;
    if (g.wire_type != KILN_PB_LEN)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: tensor_shape.dim at byte offset %zu is not a "
                         "message",
                         what, g.offset);
    if (out->rank == KILN_MAX_RANK)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: tensor_shape.dim at byte offset %zu: more than "
                         "%d dimensions",
                         what, g.offset, KILN_MAX_RANK);
    kiln_pb_reader dim = kiln_pb_nested(&shape, &g, "TensorShapeProto.Dim");
    kiln_pb_field h;
    int64_t size = 0;
    for (;;) {
      SERVE_TRY(serve_from_pb(kiln_pb_next(&dim, &h, &more)));
      if (!more) break;
      if (h.number == DIM_SIZE)
        SERVE_TRY(serve_from_pb(kiln_pb_int64(&dim, &h, &size)));
    }
    if (size < 0)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: tensor_shape.dim at byte offset %zu has size "
                         "%lld; a request tensor needs every size",
                         what, g.offset, (long long)size);
    out->dims[out->rank++] = size;
  }
}

/* Elements of the shape, false when their bytes overflow. */
static bool count_elements(const serve_tensor *t, size_t elem, size_t *count) {
  size_t n = 1;
  bool zero = false;
  for (int d = 0; d < t->rank; d++) zero |= t->dims[d] == 0;
  if (zero) {
    *count = 0;
    return true;
  }
  for (int d = 0; d < t->rank; d++) {
    uint64_t size = (uint64_t)t->dims[d];
    if (size > SIZE_MAX / elem / n) return false;
    n *= (size_t)size;
  }
  *count = n;
  return true;
}

/* Wire form of one value of the field: its wire type, and for fixed-size
 * ones the byte count. */
static int value_wire_type(uint32_t field) {
  return field == TP_FLOAT    ? KILN_PB_I32
         : field == TP_DOUBLE ? KILN_PB_I64
                              : KILN_PB_VARINT;
}

/* Values a field holds (packed or one). */
static serve_status *count_values(const kiln_pb_reader *r,
                                  const kiln_pb_field *f, const char *what,
                                  size_t *n) {
  int wire = value_wire_type(f->number);
  if (f->wire_type == wire) {
    *n = 1;
    return NULL;
  }
  if (f->wire_type != KILN_PB_LEN)
    return FIELD_ERROR(what, f, "wire type %d; %d or packed (2) expected",
                       f->wire_type, wire);
  if (wire == KILN_PB_VARINT)
    return serve_from_pb(kiln_pb_packed_varints(r, f, n));
  size_t size = wire == KILN_PB_I32 ? 4 : 8;
  if (f->len % size)
    return FIELD_ERROR(what, f, "packed %zu bytes, not a multiple of %zu",
                       f->len, size);
  *n = f->len / size;
  return NULL;
}

/* Stores raw value v as element i of out, checking its range. */
static serve_status *store(const kiln_pb_field *f, const char *what, int d,
                           uint64_t v, uint8_t *data, size_t i) {
  kiln_dtype dtype = dtypes[d].dtype;
  size_t elem = kiln_dtype_size(dtype);
  uint8_t *at = data + i * elem;
  switch (dtype) {
    case KILN_FLOAT32: {
      uint32_t bits = (uint32_t)v;
      memcpy(at, &bits, 4);
      return NULL;
    }
    case KILN_FLOAT64:
    case KILN_UINT64:
    case KILN_INT64:
      memcpy(at, &v, 8);
      return NULL;
    case KILN_BOOL:
      *at = v != 0;
      return NULL;
    case KILN_UINT32:
      if (v > UINT32_MAX)
        return FIELD_ERROR(what, f, "value %llu is outside uint32",
                           (unsigned long long)v);
      {
        uint32_t u = (uint32_t)v;
        memcpy(at, &u, 4);
      }
      return NULL;
    default:
      break;
  }
  /* int_val and half_val: int32 on the wire (negatives sign-extended to
   * 64 bits), holding a narrower type. */
  int64_t s = (int64_t)v;
  if (s < dtypes[d].min || s > dtypes[d].max)
    return FIELD_ERROR(what, f, "value %lld is outside %s", (long long)s,
                       kiln_dtype_name(dtype));
  switch (elem) {
    case 1: {
      uint8_t b = (uint8_t)s;
      memcpy(at, &b, 1);
      break;
    }
    case 2: {
      uint16_t h = (uint16_t)s;
      memcpy(at, &h, 2);
      break;
    }
    default: {
      uint32_t w = (uint32_t)s;
      memcpy(at, &w, 4);
      break;
    }
  }
  return NULL;
}

/* Reads the values of field f from element *next on. */
static serve_status *read_values(const kiln_pb_reader *r,
                                 const kiln_pb_field *f, const char *what,
                                 int d, uint8_t *data, size_t *next) {
  int wire = value_wire_type(f->number);
  if (f->wire_type == wire) return store(f, what, d, f->value, data, (*next)++);
  kiln_pb_reader packed = kiln_pb_nested(r, f, NULL);
  while (packed.pos < packed.size) {
    uint64_t v = 0;
    if (wire == KILN_PB_VARINT) {
      SERVE_TRY(serve_from_pb(kiln_pb_read_varint(&packed, &v)));
    } else {
      size_t size = wire == KILN_PB_I32 ? 4 : 8;
      for (size_t k = 0; k < size; k++)
        v |= (uint64_t)packed.data[packed.pos + k] << (8 * k);
      packed.pos += size;
    }
    SERVE_TRY(store(f, what, d, v, data, (*next)++));
  }
  return NULL;
}

static bool is_value_field(uint32_t number) {
  return number >= TP_FLOAT && number <= TP_FLOAT8;
}

serve_status *serve_tensor_proto_read(const kiln_pb_reader *r,
                                      const kiln_pb_field *field,
                                      const char *what, size_t max_fill_bytes,
                                      serve_tensor *out) {
  memset(out, 0, sizeof *out);
  if (field->wire_type != KILN_PB_LEN)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s at byte offset %zu is not a TensorProto message",
                       what, field->offset);
  kiln_pb_reader tp = kiln_pb_nested(r, field, "TensorProto");
  kiln_pb_field f;
  bool more;
  uint64_t tf_dtype = 0;
  const kiln_pb_field *content = NULL;
  kiln_pb_field content_field;
  /* First pass: dtype, shape and content, wherever they come. */
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&tp, &f, &more)));
    if (!more) break;
    if (f.number == TP_DTYPE) {
      SERVE_TRY(serve_from_pb(kiln_pb_uint64(&tp, &f, &tf_dtype)));
    } else if (f.number == TP_SHAPE) {
      SERVE_TRY(read_shape(&tp, &f, what, out));
    } else if (f.number == TP_CONTENT) {
      if (f.wire_type != KILN_PB_LEN)
        return FIELD_ERROR(what, &f, "%s", "bytes expected");
      content_field = f;
      content = &content_field;
    }
  }
  int d = 0;
  while (d < NUM_DTYPES && (uint64_t)dtypes[d].tf != tf_dtype) d++;
  if (d == NUM_DTYPES) {
    const char *name = serve_tf_dtype_number_name(tf_dtype);
    if (name)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s has dtype %s, which kiln does not serve", what,
                         name);
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s has dtype %llu, which is not a TF DataType kiln "
                       "serves",
                       what, (unsigned long long)tf_dtype);
  }
  out->dtype = dtypes[d].dtype;
  size_t elem = kiln_dtype_size(out->dtype), count;
  if (!count_elements(out, elem, &count))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: its shape has more elements than memory holds",
                       what);
  size_t bytes = count * elem;
  /* Second pass: the values' count, each in the dtype's own field. */
  size_t values = 0;
  const kiln_pb_field *first_value = NULL;
  kiln_pb_field first_value_field;
  tp.pos = 0;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&tp, &f, &more)));
    if (!more) break;
    if (!is_value_field(f.number)) continue;
    if (f.number != dtypes[d].field)
      return FIELD_ERROR(what, &f, "%s values are kept in %s",
                         tf_names[dtypes[d].tf], field_name(dtypes[d].field));
    size_t n;
    SERVE_TRY(count_values(&tp, &f, what, &n));
    if (n && !first_value) {
      first_value_field = f;
      first_value = &first_value_field;
    }
    values += n;
  }
  if (content && first_value)
    return FIELD_ERROR(what, first_value, "%s",
                       "values come in both tensor_content and a typed "
                       "field; send one");
  if (content) {
    if (content->len != bytes)
      return FIELD_ERROR(
          what, content, "%zu bytes, but %zu elements of %s take %zu",
          content->len, count, kiln_dtype_name(out->dtype), bytes);
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) return serve_error(SERVE_INTERNAL, "out of memory");
    memcpy(out->data, content->bytes, bytes);
    out->nbytes = bytes;
    return NULL;
  }
  if (values > count)
    return FIELD_ERROR(what, first_value,
                       "%zu values for a shape of %zu elements", values, count);
  if (values < count && bytes > max_fill_bytes)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: filling %zu elements from %zu values takes %zu "
                       "bytes, more than a request of this size may ask for "
                       "(%zu); send the values",
                       what, count, values, bytes, max_fill_bytes);
  out->data = calloc(1, bytes ? bytes : 1);
  if (!out->data) return serve_error(SERVE_INTERNAL, "out of memory");
  out->nbytes = bytes;
  size_t next = 0;
  tp.pos = 0;
  serve_status *st = NULL;
  while (!st) {
    st = serve_from_pb(kiln_pb_next(&tp, &f, &more));
    if (st || !more) break;
    if (f.number == dtypes[d].field)
      st = read_values(&tp, &f, what, d, out->data, &next);
  }
  if (st) {
    free(out->data);
    out->data = NULL;
    return st;
  }
  /* TF fills the rest with the last value given (zeros when none). */
  uint8_t *data = out->data;
  for (size_t i = values; values && i < count; i++)
    memcpy(data + i * elem, data + (values - 1) * elem, elem);
  return NULL;
}

/* Bytes of a TensorShapeProto's body. */
static size_t shape_size(const int64_t *dims, int rank) {
  size_t n = 0;
  for (int d = 0; d < rank; d++) {
    size_t dim = 1 + kiln_pb_varint_size((uint64_t)dims[d]);
    n += 1 + kiln_pb_varint_size(dim) + dim;
  }
  return n;
}

void serve_tensor_shape_write(kiln_pb_writer *w, uint32_t number,
                              const int64_t *dims, int rank) {
  kiln_pb_put_key(w, number, KILN_PB_LEN);
  kiln_pb_put_varint(w, shape_size(dims, rank));
  for (int d = 0; d < rank; d++) {
    kiln_pb_put_key(w, SHAPE_DIM, KILN_PB_LEN);
    kiln_pb_put_varint(w, 1 + kiln_pb_varint_size((uint64_t)dims[d]));
    kiln_pb_put_int64(w, DIM_SIZE, dims[d]);
  }
}

size_t serve_tensor_proto_size(const serve_tensor *t) {
  size_t shape = shape_size(t->dims, t->rank);
  size_t n = 1 + kiln_pb_varint_size((uint64_t)serve_tf_dtype_number(t->dtype));
  n += 1 + kiln_pb_varint_size(shape) + shape;
  if (t->nbytes) n += 1 + kiln_pb_varint_size(t->nbytes) + t->nbytes;
  return n;
}

/* The length is known beforehand, so a large tensor_content is copied
 * once, never moved by a nesting's length. */
void serve_tensor_proto_write(kiln_pb_writer *w, uint32_t number,
                              const serve_tensor *t) {
  kiln_pb_put_key(w, number, KILN_PB_LEN);
  kiln_pb_put_varint(w, serve_tensor_proto_size(t));
  kiln_pb_put_uint64(w, TP_DTYPE, (uint64_t)serve_tf_dtype_number(t->dtype));
  serve_tensor_shape_write(w, TP_SHAPE, t->dims, t->rank);
  if (t->nbytes) kiln_pb_put_bytes(w, TP_CONTENT, t->data, t->nbytes);
}
