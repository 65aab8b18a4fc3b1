/* tf_tensor.c - a TensorProto's values into a dense little-endian array of
 * a kiln dtype. TensorFlow stores a tensor either as raw bytes
 * (tensor_content, host order, which kiln takes as little-endian) or in the
 * repeated field of its dtype (float_val, int_val, half_val ...), where
 * fewer values than elements mean "repeat the last value" and none at all
 * mean zeros: that is how constant folding writes a large uniform tensor in
 * a few bytes, so the element count is checked against a cap before the
 * array is allocated. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/savedmodel/tf_proto_internal.h"
#include "formats/savedmodel/tf_schema.h"

/* How each supported DataType is stored: its kiln dtype, the repeated
 * field that holds it, that field's wire type, and the bytes one element
 * takes in tensor_content (bfloat16's 2, though kiln widens it to 4). */
typedef struct dtype_info {
  int tf;
  const char *name;
  kiln_dtype kiln;
  uint32_t field;
  int wire_type;
  size_t content_size;
} dtype_info;

static const dtype_info DTYPES[] = {
    {TF_DT_FLOAT, "DT_FLOAT", KILN_FLOAT32, TF_TENSOR_FLOAT_VAL, KILN_PB_I32,
     4},
    {TF_DT_DOUBLE, "DT_DOUBLE", KILN_FLOAT64, TF_TENSOR_DOUBLE_VAL, KILN_PB_I64,
     8},
    {TF_DT_INT32, "DT_INT32", KILN_INT32, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 4},
    {TF_DT_UINT8, "DT_UINT8", KILN_UINT8, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 1},
    {TF_DT_INT16, "DT_INT16", KILN_INT16, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 2},
    {TF_DT_INT8, "DT_INT8", KILN_INT8, TF_TENSOR_INT_VAL, KILN_PB_VARINT, 1},
    {TF_DT_COMPLEX64, "DT_COMPLEX64", KILN_COMPLEX64, TF_TENSOR_SCOMPLEX_VAL,
     KILN_PB_I32, 8},
    {TF_DT_INT64, "DT_INT64", KILN_INT64, TF_TENSOR_INT64_VAL, KILN_PB_VARINT,
     8},
    {TF_DT_BOOL, "DT_BOOL", KILN_BOOL, TF_TENSOR_BOOL_VAL, KILN_PB_VARINT, 1},
    {TF_DT_BFLOAT16, "DT_BFLOAT16", KILN_FLOAT32, TF_TENSOR_HALF_VAL,
     KILN_PB_VARINT, 2},
    {TF_DT_UINT16, "DT_UINT16", KILN_UINT16, TF_TENSOR_INT_VAL, KILN_PB_VARINT,
     2},
    {TF_DT_HALF, "DT_HALF", KILN_FLOAT16, TF_TENSOR_HALF_VAL, KILN_PB_VARINT,
     2},
    {TF_DT_UINT32, "DT_UINT32", KILN_UINT32, TF_TENSOR_UINT32_VAL,
     KILN_PB_VARINT, 4},
    {TF_DT_UINT64, "DT_UINT64", KILN_UINT64, TF_TENSOR_UINT64_VAL,
     KILN_PB_VARINT, 8},
};

/* Names of DataTypes kiln does not hold, for errors. */
static const struct {
  int tf;
  const char *name;
} OTHER_NAMES[] = {
    {TF_DT_INVALID, "DT_INVALID"},
    {TF_DT_STRING, "DT_STRING"},
    {11, "DT_QINT8"},
    {12, "DT_QUINT8"},
    {13, "DT_QINT32"},
    {15, "DT_QINT16"},
    {16, "DT_QUINT16"},
    {18, "DT_COMPLEX128"},
    {TF_DT_RESOURCE, "DT_RESOURCE"},
    {TF_DT_VARIANT, "DT_VARIANT"},
};

static const dtype_info *find_dtype(int tf_dtype) {
  int plain =
      tf_dtype > TF_DT_REF_OFFSET ? tf_dtype - TF_DT_REF_OFFSET : tf_dtype;
  for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
    if (DTYPES[i].tf == plain) return &DTYPES[i];
  return NULL;
}

const char *kiln_tf_dtype_name(int tf_dtype, char buf[16]) {
  bool ref = tf_dtype > TF_DT_REF_OFFSET;
  int plain = ref ? tf_dtype - TF_DT_REF_OFFSET : tf_dtype;
  const char *name = NULL;
  const dtype_info *info = find_dtype(plain);
  if (info) name = info->name;
  for (size_t i = 0; !name && i < sizeof OTHER_NAMES / sizeof OTHER_NAMES[0];
       i++)
    if (OTHER_NAMES[i].tf == plain) name = OTHER_NAMES[i].name;
  if (name && !ref) return name;
  if (name)
    snprintf(buf, 16, "%.11s_REF", name);
  else
    snprintf(buf, 16, "DT_%d", tf_dtype);
  return buf;
}

kiln_status *kiln_tf_dtype_to_kiln(int tf_dtype, kiln_dtype *out) {
  const dtype_info *info = find_dtype(tf_dtype);
  if (!info) {
    char buf[16];
    *out = KILN_DTYPE_INVALID;
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "TensorFlow type %s (%d) has no kiln dtype",
                      kiln_tf_dtype_name(tf_dtype, buf), tf_dtype);
  }
  *out = info->kiln;
  return NULL;
}

void kiln_tf_decoded_free(kiln_tf_decoded *decoded) {
  if (!decoded) return;
  kiln_free(NULL, decoded->data);
  decoded->data = NULL;
}

/* The tensor's shape as a full one of rank <= KILN_MAX_RANK, and its
 * element count, or an error naming what is missing. */
static kiln_status *full_shape(const kiln_tf_tensor *t, int *rank,
                               int64_t *dims, int64_t *count) {
  if (t->shape.unknown_rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: the shape's rank is "
                      "unknown",
                      t->offset);
  if (t->shape.rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "TensorProto at byte offset %zu: rank %zu is above "
                      "kiln's %d",
                      t->offset, t->shape.rank, KILN_MAX_RANK);
  int64_t n = 1;
  for (size_t d = 0; d < t->shape.rank; d++) {
    int64_t size = t->shape.dims[d];
    if (size < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "TensorProto at byte offset %zu: dim %zu is %lld; a "
                        "tensor's shape must be fully known",
                        t->offset, d, (long long)size);
    dims[d] = size;
    if (size && n > INT64_MAX / size)
      n = INT64_MAX; /* caught by the cap */
    else
      n *= size;
  }
  *rank = (int)t->shape.rank;
  *count = n;
  return NULL;
}

/* Stores one value read from the typed field as element i. */
static kiln_status *store(const dtype_info *info, const kiln_tf_tensor *t,
                          uint64_t raw, unsigned char *at) {
  int64_t s = (int64_t)raw;
  if (info->field == TF_TENSOR_INT_VAL || info->field == TF_TENSOR_HALF_VAL) {
    /* int32 fields: Google's writers sign-extend, so anything outside
     * int32 was not written by them */
    if (s < INT32_MIN || s > INT32_MAX)
      return kiln_error(
          KILN_ERR_INVALID_MODEL,
          "TensorProto at byte offset %zu: %s value %lld is "
          "outside int32",
          t->offset, info->field == TF_TENSOR_INT_VAL ? "int_val" : "half_val",
          (long long)s);
  }
  if (info->field == TF_TENSOR_UINT32_VAL && raw > UINT32_MAX)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: uint32_val value %llu "
                      "is outside uint32",
                      t->offset, (unsigned long long)raw);
  switch (info->kiln) {
    case KILN_FLOAT32:
      if (info->tf == TF_DT_BFLOAT16) {
        /* half_val holds the 16 bits; they are float32's upper half */
        uint32_t bits = (uint32_t)(raw & 0xffff) << 16;
        memcpy(at, &bits, 4);
      } else {
        uint32_t bits = (uint32_t)raw;
        memcpy(at, &bits, 4);
      }
      break;
    case KILN_COMPLEX64: { /* one float of the pair */
      uint32_t bits = (uint32_t)raw;
      memcpy(at, &bits, 4);
      break;
    }
    case KILN_FLOAT64:
    case KILN_INT64:
    case KILN_UINT64:
      memcpy(at, &raw, 8);
      break;
    case KILN_INT32:
    case KILN_UINT32: {
      uint32_t v = (uint32_t)raw;
      memcpy(at, &v, 4);
      break;
    }
    case KILN_INT16:
    case KILN_UINT16:
    case KILN_FLOAT16: { /* TensorFlow narrows int_val with a plain cast */
      uint16_t v = (uint16_t)raw;
      memcpy(at, &v, 2);
      break;
    }
    case KILN_BOOL:
      *at = raw != 0;
      break;
    default: /* INT8, UINT8 */
      *at = (unsigned char)raw;
      break;
  }
  return NULL;
}

static kiln_status *from_content(const dtype_info *info,
                                 const kiln_tf_tensor *t, kiln_tf_decoded *d) {
  size_t want = (size_t)d->count * info->content_size;
  if (t->content_len != want)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: tensor_content holds "
                      "%zu bytes; %s of %lld elements takes %zu",
                      t->offset, t->content_len, info->name,
                      (long long)d->count, want);
  unsigned char *out = d->data;
  if (info->tf == TF_DT_BFLOAT16) {
    for (int64_t i = 0; i < d->count; i++) {
      uint32_t bits = (uint32_t)t->content[2 * i] << 16 |
                      (uint32_t)t->content[2 * i + 1] << 24;
      memcpy(out + 4 * i, &bits, 4);
    }
  } else if (info->kiln == KILN_BOOL) {
    for (int64_t i = 0; i < d->count; i++) out[i] = t->content[i] != 0;
  } else if (want) {
    memcpy(out, t->content, want);
  }
  return NULL;
}

static kiln_status *from_values(const dtype_info *info, const kiln_tf_tensor *t,
                                kiln_tf_decoded *d) {
  /* complex elements are float pairs: values count floats */
  size_t per_element = info->kiln == KILN_COMPLEX64 ? 2 : 1;
  size_t values = t->value_counts[info->field];
  size_t value_size = kiln_dtype_size(info->kiln) / per_element;
  if (values % per_element)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: %s holds %zu floats, "
                      "not whole (real, imaginary) pairs",
                      t->offset, info->name, values);
  if (values / per_element > (uint64_t)d->count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: %zu values for %lld "
                      "elements of %s",
                      t->offset, values / per_element, (long long)d->count,
                      info->name);
  kiln_pb_reader r = {t->message, t->message_len, 0, t->offset, "TensorProto"};
  tf_scalars it = tf_scalars_make(r, info->field, info->wire_type);
  unsigned char *out = d->data;
  for (size_t i = 0; i < values; i++) {
    uint64_t raw;
    bool more;
    KILN_TRY(tf_scalars_next(&it, &raw, &more));
    if (!more) /* parsing counted them, so the file cannot have shrunk */
      return kiln_error(KILN_ERR_INTERNAL, "TensorProto: values changed");
    KILN_TRY(store(info, t, raw, out + i * value_size));
  }
  /* The rest repeat the last element; with no values they stay zero. */
  size_t element = value_size * per_element;
  size_t given = values / per_element;
  if (given)
    for (size_t i = given; i < (size_t)d->count; i++)
      memcpy(out + i * element, out + (given - 1) * element, element);
  return NULL;
}

kiln_status *kiln_tf_tensor_decode(const kiln_tf_tensor *t, size_t max_bytes,
                                   kiln_tf_decoded *out) {
  memset(out, 0, sizeof *out);
  out->tf_dtype = t->dtype;
  if (!max_bytes) max_bytes = KILN_TF_TENSOR_MAX_BYTES;
  const dtype_info *info = find_dtype(t->dtype);
  if (!info) {
    kiln_dtype unused;
    return kiln_status_wrap(kiln_tf_dtype_to_kiln(t->dtype, &unused),
                            "TensorProto at byte offset %zu", t->offset);
  }
  KILN_TRY(full_shape(t, &out->rank, out->dims, &out->count));
  size_t size = kiln_dtype_size(info->kiln);
  if ((uint64_t)out->count > max_bytes / size)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: %lld elements of %s "
                      "exceed the %zu-byte limit for one constant",
                      t->offset, (long long)out->count, info->name, max_bytes);
  out->dtype = info->kiln;
  out->nbytes = (size_t)out->count * size;
  out->data = kiln_calloc(NULL, out->nbytes ? out->nbytes : 1, 1);
  if (!out->data) return KILN_OOM();
  kiln_status *status =
      t->has_content ? from_content(info, t, out) : from_values(info, t, out);
  if (status) kiln_tf_decoded_free(out);
  return status;
}

kiln_status *kiln_tf_tensor_strings(const kiln_tf_tensor *t, size_t max_count,
                                    kiln_tf_str **out, int64_t *count) {
  *out = NULL;
  *count = 0;
  int plain =
      t->dtype > TF_DT_REF_OFFSET ? t->dtype - TF_DT_REF_OFFSET : t->dtype;
  if (plain != TF_DT_STRING)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: not a DT_STRING tensor",
                      t->offset);
  if (t->has_content)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "TensorProto at byte offset %zu: a DT_STRING tensor in "
                      "tensor_content form is not read (string_val is)",
                      t->offset);
  int rank;
  int64_t dims[KILN_MAX_RANK], n;
  KILN_TRY(full_shape(t, &rank, dims, &n));
  size_t values = t->value_counts[TF_TENSOR_STRING_VAL];
  if ((uint64_t)n > max_count || values > (uint64_t)n)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "TensorProto at byte offset %zu: %zu strings for %lld "
                      "elements (at most %zu read)",
                      t->offset, values, (long long)n, max_count);
  kiln_tf_str *views = kiln_calloc(NULL, n ? (size_t)n : 1, sizeof *views);
  if (!views) return KILN_OOM();
  kiln_pb_reader r = {t->message, t->message_len, 0, t->offset, "TensorProto"};
  size_t i = 0;
  for (;;) {
    kiln_pb_field f;
    bool more;
    kiln_status *status = kiln_pb_next(&r, &f, &more);
    if (!status && more && f.number == TF_TENSOR_STRING_VAL && i < values)
      status = tf_str(&r, &f, &views[i++]);
    if (status) {
      kiln_free(NULL, views);
      return status;
    }
    if (!more) break;
  }
  for (size_t j = i; i && j < (size_t)n; j++) views[j] = views[i - 1];
  *out = views;
  *count = n;
  return NULL;
}
