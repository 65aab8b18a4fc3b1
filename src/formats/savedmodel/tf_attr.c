/* tf_attr.c - the attribute side of saved_model.pb: AttrValue (a oneof of
 * scalars, a shape, a tensor, a list or a function reference, nesting
 * through lists and NameAttrLists up to TF_MAX_ATTR_DEPTH),
 * TensorShapeProto, and TensorProto, whose typed values are checked and
 * counted here but left in the file for tf_tensor.c to decode. */
#include <string.h>

#include "core/status.h"
#include "formats/savedmodel/tf_proto_internal.h"
#include "formats/savedmodel/tf_schema.h"

kiln_status *tf_parse_shape(kiln_tf_arena *arena, kiln_pb_reader r,
                            kiln_tf_shape *out) {
  memset(out, 0, sizeof *out);
  size_t rank;
  KILN_TRY(tf_count_field(r, TF_SHAPE_DIM, &rank));
  KILN_TRY(tf_arena_array(arena, rank, sizeof(int64_t), (void **)&out->dims));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number == TF_SHAPE_UNKNOWN_RANK) {
      KILN_TRY(kiln_pb_bool(&r, &f, &out->unknown_rank));
    } else if (f.number == TF_SHAPE_DIM) {
      kiln_pb_reader dim;
      KILN_TRY(tf_message(&r, &f, "TensorShapeProto.Dim", &dim));
      int64_t size = 0;
      for (;;) {
        kiln_pb_field d;
        KILN_TRY(kiln_pb_next(&dim, &d, &more));
        if (!more) break;
        if (d.number == TF_DIM_SIZE) KILN_TRY(kiln_pb_int64(&dim, &d, &size));
      }
      if (size < -1)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "TensorShapeProto: dim %zu at byte offset %zu is "
                          "%lld (only -1, unknown, may be negative)",
                          out->rank, f.offset, (long long)size);
      out->dims[out->rank++] = size;
    }
  }
  return NULL;
}

/* Checks a TensorProto value field's wire type and counts its values. */
static kiln_status *count_values(kiln_pb_reader r, uint32_t number,
                                 size_t *count) {
  int wire_type;
  switch (number) {
    case TF_TENSOR_FLOAT_VAL:
    case TF_TENSOR_SCOMPLEX_VAL:
      wire_type = KILN_PB_I32;
      break;
    case TF_TENSOR_DOUBLE_VAL:
    case TF_TENSOR_DCOMPLEX_VAL:
      wire_type = KILN_PB_I64;
      break;
    case TF_TENSOR_STRING_VAL:
      return tf_count_field(r, number, count); /* types checked by caller */
    default:
      wire_type = KILN_PB_VARINT;
  }
  return tf_scalars_count(r, number, wire_type, count);
}

kiln_status *tf_parse_tensor(kiln_tf_arena *arena, kiln_pb_reader r,
                             kiln_tf_tensor *out) {
  memset(out, 0, sizeof *out);
  out->message = r.data;
  out->message_len = r.size;
  out->offset = r.base;
  kiln_pb_reader walk = r;
  bool seen[18] = {false};
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&walk, &f, &more));
    if (!more) break;
    switch (f.number) {
      case TF_TENSOR_DTYPE: {
        int32_t dtype;
        KILN_TRY(kiln_pb_int32(&walk, &f, &dtype));
        out->dtype = dtype;
        break;
      }
      case TF_TENSOR_TENSOR_SHAPE: {
        kiln_pb_reader shape;
        KILN_TRY(tf_message(&walk, &f, "TensorShapeProto", &shape));
        KILN_TRY(tf_parse_shape(arena, shape, &out->shape));
        break;
      }
      case TF_TENSOR_CONTENT: {
        kiln_tf_str content;
        KILN_TRY(tf_str(&walk, &f, &content));
        out->has_content = true;
        out->content = (const uint8_t *)content.data;
        out->content_len = content.len;
        break;
      }
      case TF_TENSOR_STRING_VAL: {
        kiln_tf_str s;
        KILN_TRY(tf_str(&walk, &f, &s)); /* each must be bytes */
        seen[f.number] = true;
        break;
      }
      case TF_TENSOR_FLOAT_VAL:
      case TF_TENSOR_DOUBLE_VAL:
      case TF_TENSOR_INT_VAL:
      case TF_TENSOR_SCOMPLEX_VAL:
      case TF_TENSOR_INT64_VAL:
      case TF_TENSOR_BOOL_VAL:
      case TF_TENSOR_DCOMPLEX_VAL:
      case TF_TENSOR_HALF_VAL:
      case TF_TENSOR_UINT32_VAL:
      case TF_TENSOR_UINT64_VAL:
        seen[f.number] = true;
        break;
      default:
        break; /* version_number, resource and variant values, float8 */
    }
  }
  for (uint32_t n = 0; n < 18; n++)
    if (seen[n]) KILN_TRY(count_values(r, n, &out->value_counts[n]));
  return NULL;
}

static kiln_status *parse_attr_value(kiln_tf_arena *arena, kiln_pb_reader r,
                                     int depth, kiln_tf_attr_value *out);

/* NameAttrList: a function name and its attrs. */
static kiln_status *parse_func(kiln_tf_arena *arena, kiln_pb_reader r,
                               int depth, kiln_tf_func *out) {
  memset(out, 0, sizeof *out);
  KILN_TRY(tf_parse_attr_map(arena, r, TF_NAME_ATTR_LIST_ATTR, depth,
                             &out->attrs, &out->attr_count));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number == TF_NAME_ATTR_LIST_NAME)
      KILN_TRY(tf_str(&r, &f, &out->name));
  }
}

/* Allocates and fills one repeated scalar member of a ListValue. */
static kiln_status *list_scalars(kiln_tf_arena *arena, kiln_pb_reader r,
                                 uint32_t number, int wire_type, size_t size,
                                 void **array, size_t *count) {
  KILN_TRY(tf_scalars_count(r, number, wire_type, count));
  KILN_TRY(tf_arena_array(arena, *count, size, array));
  tf_scalars it = tf_scalars_make(r, number, wire_type);
  for (size_t i = 0; i < *count; i++) {
    uint64_t raw;
    bool more;
    KILN_TRY(tf_scalars_next(&it, &raw, &more));
    unsigned char *at = (unsigned char *)*array + i * size;
    if (number == TF_ATTR_I) {
      int64_t v = (int64_t)raw;
      memcpy(at, &v, size);
    } else if (number == TF_ATTR_F) {
      uint32_t bits = (uint32_t)raw;
      memcpy(at, &bits, size);
    } else if (number == TF_ATTR_B) {
      bool v = raw != 0;
      memcpy(at, &v, size);
    } else { /* type: an enum, so an int32 */
      int64_t v = (int64_t)raw;
      if (v < INT32_MIN || v > INT32_MAX)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "%s: list type %zu holds %lld, outside int32", r.what,
                          i, (long long)v);
      int t = (int)v;
      memcpy(at, &t, size);
    }
  }
  return NULL;
}

static kiln_status *parse_list(kiln_tf_arena *arena, kiln_pb_reader r,
                               int depth, kiln_tf_attr_list *out) {
  memset(out, 0, sizeof *out);
  KILN_TRY(list_scalars(arena, r, TF_ATTR_I, KILN_PB_VARINT, sizeof(int64_t),
                        (void **)&out->i, &out->i_count));
  KILN_TRY(list_scalars(arena, r, TF_ATTR_F, KILN_PB_I32, sizeof(float),
                        (void **)&out->f, &out->f_count));
  KILN_TRY(list_scalars(arena, r, TF_ATTR_B, KILN_PB_VARINT, sizeof(bool),
                        (void **)&out->b, &out->b_count));
  KILN_TRY(list_scalars(arena, r, TF_ATTR_TYPE, KILN_PB_VARINT, sizeof(int),
                        (void **)&out->type, &out->type_count));
  size_t s = 0, shapes = 0, tensors = 0, funcs = 0;
  KILN_TRY(tf_count_field(r, TF_ATTR_S, &s));
  KILN_TRY(tf_count_field(r, TF_ATTR_SHAPE, &shapes));
  KILN_TRY(tf_count_field(r, TF_ATTR_TENSOR, &tensors));
  KILN_TRY(tf_count_field(r, TF_LIST_FUNC, &funcs));
  KILN_TRY(tf_arena_array(arena, s, sizeof *out->s, (void **)&out->s));
  KILN_TRY(
      tf_arena_array(arena, shapes, sizeof *out->shape, (void **)&out->shape));
  KILN_TRY(tf_arena_array(arena, tensors, sizeof *out->tensor,
                          (void **)&out->tensor));
  KILN_TRY(
      tf_arena_array(arena, funcs, sizeof *out->func, (void **)&out->func));
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    kiln_pb_reader m;
    switch (f.number) {
      case TF_ATTR_S:
        KILN_TRY(tf_str(&r, &f, &out->s[out->s_count++]));
        break;
      case TF_ATTR_SHAPE:
        KILN_TRY(tf_message(&r, &f, "TensorShapeProto", &m));
        KILN_TRY(tf_parse_shape(arena, m, &out->shape[out->shape_count++]));
        break;
      case TF_ATTR_TENSOR:
        KILN_TRY(tf_message(&r, &f, "TensorProto", &m));
        KILN_TRY(tf_parse_tensor(arena, m, &out->tensor[out->tensor_count++]));
        break;
      case TF_LIST_FUNC:
        KILN_TRY(tf_message(&r, &f, "NameAttrList", &m));
        KILN_TRY(parse_func(arena, m, depth, &out->func[out->func_count++]));
        break;
      default:
        break;
    }
  }
}

static kiln_status *parse_attr_value(kiln_tf_arena *arena, kiln_pb_reader r,
                                     int depth, kiln_tf_attr_value *out) {
  memset(out, 0, sizeof *out);
  if (depth > TF_MAX_ATTR_DEPTH)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "AttrValue at byte offset %zu is nested more than %d "
                      "deep (lists and functions inside attributes)",
                      r.base, TF_MAX_ATTR_DEPTH);
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    kiln_pb_reader m;
    switch (f.number) {
      case TF_ATTR_S:
        KILN_TRY(tf_str(&r, &f, &out->s));
        out->kind = KILN_TF_ATTR_S;
        break;
      case TF_ATTR_PLACEHOLDER:
        KILN_TRY(tf_str(&r, &f, &out->s));
        out->kind = KILN_TF_ATTR_PLACEHOLDER;
        break;
      case TF_ATTR_I:
        KILN_TRY(kiln_pb_int64(&r, &f, &out->i));
        out->kind = KILN_TF_ATTR_I;
        break;
      case TF_ATTR_F:
        KILN_TRY(kiln_pb_float(&r, &f, &out->f));
        out->kind = KILN_TF_ATTR_F;
        break;
      case TF_ATTR_B:
        KILN_TRY(kiln_pb_bool(&r, &f, &out->b));
        out->kind = KILN_TF_ATTR_B;
        break;
      case TF_ATTR_TYPE: {
        int32_t type;
        KILN_TRY(kiln_pb_int32(&r, &f, &type));
        out->type = type;
        out->kind = KILN_TF_ATTR_TYPE;
        break;
      }
      case TF_ATTR_SHAPE:
        KILN_TRY(tf_message(&r, &f, "TensorShapeProto", &m));
        KILN_TRY(tf_parse_shape(arena, m, &out->shape));
        out->kind = KILN_TF_ATTR_SHAPE;
        break;
      case TF_ATTR_TENSOR:
        KILN_TRY(tf_message(&r, &f, "TensorProto", &m));
        KILN_TRY(tf_arena_array(arena, 1, sizeof *out->tensor,
                                (void **)&out->tensor));
        KILN_TRY(tf_parse_tensor(arena, m, out->tensor));
        out->kind = KILN_TF_ATTR_TENSOR;
        break;
      case TF_ATTR_LIST:
        KILN_TRY(tf_message(&r, &f, "AttrValue.ListValue", &m));
        KILN_TRY(
            tf_arena_array(arena, 1, sizeof *out->list, (void **)&out->list));
        KILN_TRY(parse_list(arena, m, depth, out->list));
        out->kind = KILN_TF_ATTR_LIST;
        break;
      case TF_ATTR_FUNC:
        KILN_TRY(tf_message(&r, &f, "NameAttrList", &m));
        KILN_TRY(
            tf_arena_array(arena, 1, sizeof *out->func, (void **)&out->func));
        KILN_TRY(parse_func(arena, m, depth, out->func));
        out->kind = KILN_TF_ATTR_FUNC;
        break;
      default:
        break;
    }
  }
}

kiln_status *tf_parse_attr_map(kiln_tf_arena *arena, kiln_pb_reader r,
                               uint32_t number, int depth, kiln_tf_attr **attrs,
                               size_t *count) {
  size_t n;
  KILN_TRY(tf_count_field(r, number, &n));
  KILN_TRY(tf_arena_array(arena, n, sizeof **attrs, (void **)attrs));
  *count = 0;
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) return NULL;
    if (f.number != number) continue;
    kiln_pb_reader entry;
    KILN_TRY(tf_message(&r, &f, "attr map entry", &entry));
    kiln_tf_attr *attr = &(*attrs)[(*count)++];
    for (;;) {
      kiln_pb_field e;
      KILN_TRY(kiln_pb_next(&entry, &e, &more));
      if (!more) break;
      if (e.number == TF_MAP_KEY) {
        KILN_TRY(tf_str(&entry, &e, &attr->name));
      } else if (e.number == TF_MAP_VALUE) {
        kiln_pb_reader value;
        KILN_TRY(tf_message(&entry, &e, "AttrValue", &value));
        kiln_status *status =
            parse_attr_value(arena, value, depth + 1, &attr->value);
        if (status)
          return kiln_status_wrap(
              status, "attr '%.*s'",
              (int)(attr->name.len > 64 ? 64 : attr->name.len),
              attr->name.data ? attr->name.data : "");
      }
    }
  }
}
