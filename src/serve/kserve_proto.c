/* kserve_proto.c - KServe v2 gRPC messages to and from bytes (see
 * kserve_proto.h). */
#include "serve/kserve_proto.h"

#include <stdlib.h>
#include <string.h>

#include "serve/api_common.h"
#include "serve/tensor_json.h"

/* ModelInferRequest's fields. */
enum {
  REQ_MODEL_NAME = 1,
  REQ_MODEL_VERSION = 2,
  REQ_ID = 3,
  REQ_PARAMETERS = 4,
  REQ_INPUTS = 5,
  REQ_OUTPUTS = 6,
  REQ_RAW_INPUT_CONTENTS = 7,
};
/* InferInputTensor's (and InferOutputTensor's: the same first five). */
enum {
  TENSOR_NAME = 1,
  TENSOR_DATATYPE = 2,
  TENSOR_SHAPE = 3,
  TENSOR_PARAMETERS = 4,
  TENSOR_CONTENTS = 5,
};
/* ModelInferResponse's. */
enum {
  RESP_MODEL_NAME = 1,
  RESP_MODEL_VERSION = 2,
  RESP_ID = 3,
  RESP_OUTPUTS = 5,
  RESP_RAW_OUTPUT_CONTENTS = 6,
};
/* A map entry's (parameters), and InferParameter's. */
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { PARAM_INT64 = 2, PARAM_STRING = 3, PARAM_UINT64 = 5 };

serve_status *kserve_pb_error(kiln_status *status) {
  if (!status) return NULL;
  serve_status *st =
      serve_error(SERVE_INVALID_ARGUMENT, "%s", kiln_status_message(status));
  kiln_status_free(status);
  return st;
}

#define PB_TRY(expr) SERVE_TRY(kserve_pb_error(expr))

/* Checks that a field holds a nested message (wire type LEN) before a
 * reader walks it. */
static kiln_status *expect_message(const kiln_pb_reader *r,
                                   const kiln_pb_field *f) {
  const uint8_t *bytes;
  size_t len;
  return kiln_pb_bytes(r, f, &bytes, &len);
}

/* A string field as a malloc'd C string; a NUL inside is refused (names
 * are looked up as C strings: "a\0b" must not find "a"). */
static serve_status *read_string(const kiln_pb_reader *r,
                                 const kiln_pb_field *f, const char *field,
                                 char **out) {
  const uint8_t *bytes;
  size_t len;
  PB_TRY(kiln_pb_bytes(r, f, &bytes, &len));
  if (memchr(bytes, '\0', len))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s.%s at byte offset %zu holds a NUL byte", r->what,
                       field, f->offset);
  char *s = malloc(len + 1);
  if (!s) return serve_error(SERVE_INTERNAL, "out of memory");
  memcpy(s, bytes, len);
  s[len] = '\0';
  free(*out); /* a repeated singular field: the last one wins */
  *out = s;
  return NULL;
}

/* Empty strings for the fields a message left out. */
static serve_status *default_string(char **s) {
  if (!*s && !(*s = calloc(1, 1)))
    return serve_error(SERVE_INTERNAL, "out of memory");
  return NULL;
}

/* ------------------------------------------------------ tensor metadata */

/* Appends the values of a repeated int64 field (packed or not) to dims. */
static serve_status *read_dims(const kiln_pb_reader *r, const kiln_pb_field *f,
                               const char *what, int64_t *dims, int *rank) {
  if (f->wire_type != KILN_PB_LEN) {
    int64_t v;
    PB_TRY(kiln_pb_int64(r, f, &v));
    if (*rank >= KILN_MAX_RANK)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: shape at byte offset %zu has more than %d "
                         "dimensions",
                         what, f->offset, KILN_MAX_RANK);
    dims[(*rank)++] = v;
    return NULL;
  }
  kiln_pb_reader p = kiln_pb_nested(r, f, r->what);
  while (p.pos < p.size) {
    uint64_t v;
    PB_TRY(kiln_pb_read_varint(&p, &v));
    if (*rank >= KILN_MAX_RANK)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: shape at byte offset %zu has more than %d "
                         "dimensions",
                         what, f->offset, KILN_MAX_RANK);
    dims[(*rank)++] = (int64_t)v;
  }
  return NULL;
}

static serve_status *decode_input(const kiln_pb_reader *req,
                                  const kiln_pb_field *field, int k,
                                  kserve_input *in) {
  in->offset = field->offset;
  kiln_pb_reader r = kiln_pb_nested(req, field, "InferInputTensor");
  char what[64];
  snprintf(what, sizeof what, "ModelInferRequest.inputs[%d]", k);
  kiln_pb_field f;
  bool more;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    switch (f.number) {
      case TENSOR_NAME:
        SERVE_TRY(read_string(&r, &f, "name", &in->name));
        break;
      case TENSOR_DATATYPE:
        SERVE_TRY(read_string(&r, &f, "datatype", &in->datatype));
        break;
      case TENSOR_SHAPE:
        SERVE_TRY(read_dims(&r, &f, what, in->dims, &in->rank));
        break;
      case TENSOR_CONTENTS: {
        size_t len;
        PB_TRY(kiln_pb_bytes(&r, &f, &in->contents, &len));
        in->contents_len = len;
        in->contents_offset = r.base + (size_t)(f.bytes - r.data);
        break;
      }
      default: /* parameters and fields of later versions */
        break;
    }
  }
  SERVE_TRY(default_string(&in->name));
  SERVE_TRY(default_string(&in->datatype));
  for (int d = 0; d < in->rank; d++)
    if (in->dims[d] < 0)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s' (byte offset %zu): shape has a negative "
                         "dimension %lld",
                         in->name, in->offset, (long long)in->dims[d]);
  return NULL;
}

/* parameters["timeout"]: an int64 or uint64 InferParameter. */
static serve_status *decode_parameter(const kiln_pb_reader *req,
                                      const kiln_pb_field *field,
                                      int64_t *timeout_us) {
  kiln_pb_reader r = kiln_pb_nested(req, field, "ModelInferRequest.parameters");
  kiln_pb_field f;
  bool more, is_timeout = false;
  const kiln_pb_field *value = NULL;
  kiln_pb_field value_field;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number == ENTRY_KEY) {
      const uint8_t *key;
      size_t len;
      PB_TRY(kiln_pb_bytes(&r, &f, &key, &len));
      is_timeout = len == 7 && !memcmp(key, "timeout", 7);
    } else if (f.number == ENTRY_VALUE) {
      PB_TRY(expect_message(&r, &f));
      value_field = f;
      value = &value_field;
    }
  }
  if (!is_timeout || !value) return NULL;
  kiln_pb_reader v = kiln_pb_nested(&r, value, "InferParameter");
  for (;;) {
    PB_TRY(kiln_pb_next(&v, &f, &more));
    if (!more) break;
    if (f.number == PARAM_INT64 || f.number == PARAM_UINT64) {
      int64_t t;
      PB_TRY(kiln_pb_int64(&v, &f, &t));
      if (t < 0)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "ModelInferRequest.parameters[\"timeout\"] at "
                           "byte offset %zu is negative",
                           f.offset);
      *timeout_us = t;
    }
  }
  return NULL;
}

/* InferRequestedOutputTensor: its name. */
static serve_status *decode_output(const kiln_pb_reader *req,
                                   const kiln_pb_field *field, char **name) {
  kiln_pb_reader r = kiln_pb_nested(req, field, "InferRequestedOutputTensor");
  kiln_pb_field f;
  bool more;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number == TENSOR_NAME) SERVE_TRY(read_string(&r, &f, "name", name));
  }
  return default_string(name);
}

void kserve_infer_request_free(kserve_infer_request *r) {
  free(r->model_name);
  free(r->model_version);
  free(r->id);
  for (int k = 0; k < r->num_inputs; k++) {
    free(r->inputs[k].name);
    free(r->inputs[k].datatype);
  }
  free(r->inputs);
  for (int k = 0; k < r->num_outputs; k++) free(r->outputs[k]);
  free(r->outputs);
  free(r->raw);
  free(r->raw_len);
  free(r->raw_offset);
  memset(r, 0, sizeof *r);
}

static serve_status *decode_infer_request(const uint8_t *data, size_t size,
                                          kserve_infer_request *out) {
  /* First pass: how many inputs, outputs and raw contents, so each array
   * is allocated once at its exact size (each field takes 2 bytes or more,
   * so the sizes are bounded by the request's). */
  kiln_pb_reader r = kiln_pb_reader_make(data, size, "ModelInferRequest");
  kiln_pb_field f;
  bool more;
  size_t inputs = 0, outputs = 0, raw = 0;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    inputs += f.number == REQ_INPUTS;
    outputs += f.number == REQ_OUTPUTS;
    raw += f.number == REQ_RAW_INPUT_CONTENTS;
  }
  if (inputs > 4096 || outputs > 4096 || raw > 4096)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "ModelInferRequest: more than 4096 inputs, outputs or "
                       "raw_input_contents");
  out->inputs = calloc(inputs + 1, sizeof *out->inputs);
  out->outputs = calloc(outputs + 1, sizeof *out->outputs);
  out->raw = calloc(raw + 1, sizeof *out->raw);
  out->raw_len = calloc(raw + 1, sizeof *out->raw_len);
  out->raw_offset = calloc(raw + 1, sizeof *out->raw_offset);
  if (!out->inputs || !out->outputs || !out->raw || !out->raw_len ||
      !out->raw_offset)
    return serve_error(SERVE_INTERNAL, "out of memory");

  r = kiln_pb_reader_make(data, size, "ModelInferRequest");
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    switch (f.number) {
      case REQ_MODEL_NAME:
        SERVE_TRY(read_string(&r, &f, "model_name", &out->model_name));
        break;
      case REQ_MODEL_VERSION:
        SERVE_TRY(read_string(&r, &f, "model_version", &out->model_version));
        break;
      case REQ_ID:
        SERVE_TRY(read_string(&r, &f, "id", &out->id));
        break;
      case REQ_PARAMETERS: {
        PB_TRY(expect_message(&r, &f));
        SERVE_TRY(decode_parameter(&r, &f, &out->timeout_us));
        break;
      }
      case REQ_INPUTS: {
        PB_TRY(expect_message(&r, &f));
        int k = out->num_inputs++;
        SERVE_TRY(decode_input(&r, &f, k, &out->inputs[k]));
        break;
      }
      case REQ_OUTPUTS: {
        PB_TRY(expect_message(&r, &f));
        int k = out->num_outputs++;
        SERVE_TRY(decode_output(&r, &f, &out->outputs[k]));
        break;
      }
      case REQ_RAW_INPUT_CONTENTS: {
        int k = out->num_raw;
        PB_TRY(kiln_pb_bytes(&r, &f, &out->raw[k], &out->raw_len[k]));
        out->raw_offset[k] = f.offset;
        out->num_raw++;
        break;
      }
      default:
        break;
    }
  }
  SERVE_TRY(default_string(&out->model_name));
  SERVE_TRY(default_string(&out->model_version));
  SERVE_TRY(default_string(&out->id));
  if (out->num_raw && out->num_raw != out->num_inputs)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "ModelInferRequest has %d raw_input_contents (the "
                       "first at byte offset %zu) for %d inputs: give raw "
                       "contents for every input or for none",
                       out->num_raw, out->raw_offset[0], out->num_inputs);
  for (int k = 0; out->num_raw && k < out->num_inputs; k++)
    if (out->inputs[k].contents)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s' (byte offset %zu) has contents while the "
                         "request has raw_input_contents: give one or the "
                         "other",
                         out->inputs[k].name, out->inputs[k].offset);
  return NULL;
}

serve_status *kserve_decode_infer_request(const uint8_t *data, size_t size,
                                          kserve_infer_request *out) {
  memset(out, 0, sizeof *out);
  serve_status *st = decode_infer_request(data, size, out);
  if (st) kserve_infer_request_free(out);
  return st;
}

/* ------------------------------------------------------------- tensors */

/* Which InferTensorContents field carries a dtype, and how each element
 * travels. */
typedef struct contents_field {
  uint32_t number;
  const char *name;
  int wire_type; /* of one element: VARINT, I32 or I64 */
} contents_field;

static const contents_field contents_fields[] = {
    {1, "bool_contents", KILN_PB_VARINT},
    {2, "int_contents", KILN_PB_VARINT},
    {3, "int64_contents", KILN_PB_VARINT},
    {4, "uint_contents", KILN_PB_VARINT},
    {5, "uint64_contents", KILN_PB_VARINT},
    {6, "fp32_contents", KILN_PB_I32},
    {7, "fp64_contents", KILN_PB_I64},
    {8, "bytes_contents", KILN_PB_LEN},
};

static const contents_field *field_for(kiln_dtype dtype) {
  switch (dtype) {
    case KILN_BOOL:
      return &contents_fields[0];
    case KILN_INT8:
    case KILN_INT16:
    case KILN_INT32:
      return &contents_fields[1];
    case KILN_INT64:
      return &contents_fields[2];
    case KILN_UINT8:
    case KILN_UINT16:
    case KILN_UINT32:
      return &contents_fields[3];
    case KILN_UINT64:
      return &contents_fields[4];
    case KILN_FLOAT32:
      return &contents_fields[5];
    case KILN_FLOAT64:
      return &contents_fields[6];
    default:
      return NULL; /* FP16, BF16: raw only */
  }
}

/* Counts the elements of `cf` in a contents message, refusing the fields
 * of other types. */
static serve_status *count_contents(const kiln_pb_reader *c,
                                    const contents_field *cf, const char *name,
                                    int64_t *count) {
  kiln_pb_reader r = *c;
  kiln_pb_field f;
  bool more;
  uint64_t n = 0;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number < 1 || f.number > 8) continue;
    if (f.number != cf->number)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s': contents.%s at byte offset %zu, but its "
                         "datatype travels in %s",
                         name, contents_fields[f.number - 1].name, f.offset,
                         cf->name);
    if (f.wire_type == cf->wire_type) {
      n++;
    } else if (f.wire_type == KILN_PB_LEN) { /* packed */
      size_t k;
      if (cf->wire_type == KILN_PB_VARINT) {
        PB_TRY(kiln_pb_packed_varints(&r, &f, &k));
      } else {
        size_t width = cf->wire_type == KILN_PB_I32 ? 4 : 8;
        if (f.len % width)
          return serve_error(SERVE_INVALID_ARGUMENT,
                             "input '%s': contents.%s at byte offset %zu has "
                             "%zu bytes, not a multiple of %zu",
                             name, cf->name, f.offset, f.len, width);
        k = f.len / width;
      }
      n += k;
    } else {
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s': contents.%s at byte offset %zu has wire "
                         "type %d",
                         name, cf->name, f.offset, f.wire_type);
    }
  }
  *count = (int64_t)n;
  return NULL;
}

/* Stores one value read from the wire as element i of dtype, refusing a
 * value outside the dtype's range. */
static serve_status *store(void *data, int64_t i, kiln_dtype dtype,
                           uint64_t bits, const char *name,
                           const contents_field *cf, size_t offset) {
  int64_t s = (int64_t)bits;
  bool ok = true;
  switch (dtype) {
    case KILN_BOOL:
      ok = bits <= 1;
      ((uint8_t *)data)[i] = (uint8_t)bits;
      break;
    case KILN_INT8:
      ok = s >= INT8_MIN && s <= INT8_MAX;
      ((int8_t *)data)[i] = (int8_t)s;
      break;
    case KILN_INT16:
      ok = s >= INT16_MIN && s <= INT16_MAX;
      ((int16_t *)data)[i] = (int16_t)s;
      break;
    case KILN_INT32:
      ok = s >= INT32_MIN && s <= INT32_MAX;
      ((int32_t *)data)[i] = (int32_t)s;
      break;
    case KILN_INT64:
      ((int64_t *)data)[i] = s;
      break;
    case KILN_UINT8:
      ok = bits <= UINT8_MAX;
      ((uint8_t *)data)[i] = (uint8_t)bits;
      break;
    case KILN_UINT16:
      ok = bits <= UINT16_MAX;
      ((uint16_t *)data)[i] = (uint16_t)bits;
      break;
    case KILN_UINT32:
      ok = bits <= UINT32_MAX;
      ((uint32_t *)data)[i] = (uint32_t)bits;
      break;
    case KILN_UINT64:
      ((uint64_t *)data)[i] = bits;
      break;
    case KILN_FLOAT32: {
      uint32_t b = (uint32_t)bits;
      memcpy((char *)data + 4 * i, &b, 4);
      break;
    }
    case KILN_FLOAT64:
      memcpy((char *)data + 8 * i, &bits, 8);
      break;
    default:
      ok = false;
  }
  if (!ok)
    return serve_error(
        SERVE_INVALID_ARGUMENT,
        "input '%s': contents.%s value %lld at byte offset %zu "
        "is outside %s",
        name, cf->name,
        dtype == KILN_BOOL || cf->number >= 4 ? (long long)bits : (long long)s,
        offset, serve_kserve_dtype(dtype));
  return NULL;
}

static serve_status *fill_contents(const kiln_pb_reader *c,
                                   const contents_field *cf, kiln_dtype dtype,
                                   const char *name, void *data,
                                   int64_t count) {
  kiln_pb_reader r = *c;
  kiln_pb_field f;
  bool more;
  int64_t i = 0;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number != cf->number) continue;
    if (i >= count) break; /* counted before: never reached */
    if (f.wire_type != KILN_PB_LEN) {
      SERVE_TRY(store(data, i++, dtype, f.value, name, cf, f.offset));
      continue;
    }
    kiln_pb_reader p = kiln_pb_nested(&r, &f, r.what);
    while (p.pos < p.size && i < count) {
      size_t at = p.base + p.pos;
      uint64_t bits = 0;
      if (cf->wire_type == KILN_PB_VARINT) {
        PB_TRY(kiln_pb_read_varint(&p, &bits));
      } else {
        size_t width = cf->wire_type == KILN_PB_I32 ? 4 : 8;
        for (size_t b = 0; b < width; b++)
          bits |= (uint64_t)p.data[p.pos + b] << (8 * b);
        p.pos += width;
      }
      SERVE_TRY(store(data, i++, dtype, bits, name, cf, at));
    }
  }
  return NULL;
}

static void shape_text(const kserve_input *in, char *out, size_t size) {
  size_t n = (size_t)snprintf(out, size, "[");
  for (int d = 0; d < in->rank && n < size; d++)
    n += (size_t)snprintf(out + n, size - n, "%s%lld", d ? "," : "",
                          (long long)in->dims[d]);
  if (n < size) snprintf(out + n, size - n, "]");
}

serve_status *kserve_input_tensor(const kserve_infer_request *r, int k,
                                  kiln_dtype dtype, serve_tensor *out) {
  memset(out, 0, sizeof *out);
  const kserve_input *in = &r->inputs[k];
  if (serve_kserve_dtype_parse(in->datatype) != dtype)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "input '%s': datatype %s, but the model takes %s",
                       in->name, in->datatype[0] ? in->datatype : "(none)",
                       serve_kserve_dtype(dtype));
  size_t elem = kiln_dtype_size(dtype);
  /* The element count, refused once it could not fit in memory (the bytes
   * that carry it are compared next, before anything is allocated). */
  int64_t count = 1;
  for (int d = 0; d < in->rank; d++)
    if (__builtin_mul_overflow(count, in->dims[d], &count) ||
        count > (int64_t)(SIZE_MAX / 16)) {
      char shape[160];
      shape_text(in, shape, sizeof shape);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s': shape %s has too many elements", in->name,
                         shape);
    }
  size_t nbytes = (size_t)count * elem;
  out->dtype = dtype;
  out->rank = in->rank;
  memcpy(out->dims, in->dims, sizeof out->dims);
  if (r->num_raw) {
    if (r->raw_len[k] != nbytes) {
      char shape[160];
      shape_text(in, shape, sizeof shape);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s': raw_input_contents[%d] (byte offset "
                         "%zu) has %zu bytes, but shape %s of %s takes %zu",
                         in->name, k, r->raw_offset[k], r->raw_len[k], shape,
                         in->datatype, nbytes);
    }
    /* Borrowed: the request outlives the job (it is answered from the
     * job's done callback), so a large tensor is not copied. */
    out->data = (void *)r->raw[k];
    out->nbytes = nbytes;
    out->borrowed = true;
    return NULL;
  }
  const contents_field *cf = field_for(dtype);
  if (!cf)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "input '%s': %s tensors travel only in "
                       "raw_input_contents",
                       in->name, in->datatype);
  kiln_pb_reader c = {in->contents, in->contents_len, 0, in->contents_offset,
                      "InferTensorContents"};
  if (!in->contents) c.size = 0;
  int64_t have = 0;
  SERVE_TRY(count_contents(&c, cf, in->name, &have));
  if (have != count) {
    char shape[160];
    shape_text(in, shape, sizeof shape);
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "input '%s': contents (byte offset %zu) hold %lld "
                       "values, but shape %s takes %lld",
                       in->name,
                       in->contents ? in->contents_offset : in->offset,
                       (long long)have, shape, (long long)count);
  }
  out->data = malloc(nbytes ? nbytes : 1);
  if (!out->data) return serve_error(SERVE_INTERNAL, "out of memory");
  out->nbytes = nbytes;
  serve_status *st = fill_contents(&c, cf, dtype, in->name, out->data, count);
  if (st) serve_tensor_release(out);
  return st;
}

/* ------------------------------------------------------------ response */

void kserve_encode_infer_response(kiln_pb_writer *w, const char *model_name,
                                  int64_t version, const char *id,
                                  const kserve_output *outputs,
                                  int num_outputs) {
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)version);
  kiln_pb_put_string(w, RESP_MODEL_NAME, model_name);
  kiln_pb_put_string(w, RESP_MODEL_VERSION, text);
  if (id && id[0]) kiln_pb_put_string(w, RESP_ID, id);
  for (int o = 0; o < num_outputs; o++) {
    const serve_tensor *t = outputs[o].tensor;
    size_t mark = kiln_pb_begin(w, RESP_OUTPUTS);
    kiln_pb_put_string(w, TENSOR_NAME, outputs[o].name);
    kiln_pb_put_string(w, TENSOR_DATATYPE, serve_kserve_dtype(t->dtype));
    size_t shape = kiln_pb_begin(w, TENSOR_SHAPE);
    for (int d = 0; d < t->rank; d++)
      kiln_pb_put_varint(w, (uint64_t)t->dims[d]);
    kiln_pb_end(w, shape);
    kiln_pb_end(w, mark);
  }
  for (int o = 0; o < num_outputs; o++)
    kiln_pb_put_bytes(w, RESP_RAW_OUTPUT_CONTENTS, outputs[o].tensor->data,
                      outputs[o].tensor->nbytes);
}

/* ------------------------------------------------------ small requests */

/* RepositoryModelLoadRequest.parameters: base_path's string_param. */
static serve_status *decode_load_parameter(const kiln_pb_reader *req,
                                           const kiln_pb_field *field,
                                           char **base_path) {
  kiln_pb_reader r = kiln_pb_nested(req, field, "parameters");
  kiln_pb_field f, value = {0};
  bool more, is_base_path = false, has_value = false;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    const uint8_t *bytes;
    size_t len;
    if (f.number == ENTRY_KEY) {
      PB_TRY(kiln_pb_bytes(&r, &f, &bytes, &len));
      is_base_path = len == 9 && !memcmp(bytes, "base_path", 9);
    } else if (f.number == ENTRY_VALUE) {
      PB_TRY(kiln_pb_bytes(&r, &f, &bytes, &len));
      value = f;
      has_value = true;
    }
  }
  if (!is_base_path || !has_value) return NULL;
  kiln_pb_reader v = kiln_pb_nested(&r, &value, "ModelRepositoryParameter");
  for (;;) {
    PB_TRY(kiln_pb_next(&v, &f, &more));
    if (!more) break;
    if (f.number == PARAM_STRING)
      SERVE_TRY(read_string(&v, &f, "string_param", base_path));
  }
  return NULL;
}

static serve_status *decode_model_request(const uint8_t *data, size_t size,
                                          kserve_request_kind kind,
                                          const char *what,
                                          kserve_model_request *out) {
  kiln_pb_reader r = kiln_pb_reader_make(data, size, what);
  kiln_pb_field f;
  bool more;
  /* ModelReady & co. name the model in field 1 and the version in 2; the
   * repository's load and unload name it in 2 (1 is the repository). */
  uint32_t name_field = kind == KSERVE_REPOSITORY ? 2 : 1;
  for (;;) {
    PB_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (kind != KSERVE_INDEX && f.number == name_field) {
      char *name = NULL;
      SERVE_TRY(read_string(&r, &f, "name", &name));
      size_t n = strlen(name);
      if (n >= sizeof out->name) {
        free(name);
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: the model name at byte offset %zu is longer "
                           "than %zu bytes",
                           what, f.offset, sizeof out->name - 1);
      }
      memcpy(out->name, name, n + 1);
      free(name);
    } else if (kind == KSERVE_NAMED && f.number == 2) {
      const uint8_t *text;
      size_t len;
      PB_TRY(kiln_pb_bytes(&r, &f, &text, &len));
      out->version = 0;
      if (len && !serve_parse_version((const char *)text, len, &out->version))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: the version at byte offset %zu is not a "
                           "positive integer",
                           what, f.offset);
    } else if (kind == KSERVE_REPOSITORY && f.number == 3) {
      PB_TRY(expect_message(&r, &f));
      SERVE_TRY(decode_load_parameter(&r, &f, &out->base_path));
    } else if (kind == KSERVE_INDEX && f.number == 2) {
      PB_TRY(kiln_pb_bool(&r, &f, &out->ready));
    }
  }
  return NULL;
}

serve_status *kserve_decode_model_request(const uint8_t *data, size_t size,
                                          kserve_request_kind kind,
                                          const char *what,
                                          kserve_model_request *out) {
  memset(out, 0, sizeof *out);
  serve_status *st = decode_model_request(data, size, kind, what, out);
  if (st) {
    free(out->base_path);
    out->base_path = NULL;
  }
  return st;
}

int kserve_config_dtype(kiln_dtype dtype) {
  switch (dtype) {
    case KILN_BOOL:
      return 1;
    case KILN_UINT8:
      return 2;
    case KILN_UINT16:
      return 3;
    case KILN_UINT32:
      return 4;
    case KILN_UINT64:
      return 5;
    case KILN_INT8:
      return 6;
    case KILN_INT16:
      return 7;
    case KILN_INT32:
      return 8;
    case KILN_INT64:
      return 9;
    case KILN_FLOAT16:
      return 10;
    case KILN_FLOAT32:
      return 11;
    case KILN_FLOAT64:
      return 12;
    case KILN_STRING:
      return 13;
    default:
      return 0;
  }
}
