/* tfs_proto.c - TF Serving's request messages read and ModelSpec written
 * (see tfs_proto.h). Field numbers follow tensorflow_serving/apis
 * model.proto, predict.proto, get_model_status.proto and
 * get_model_metadata.proto; a map field is a repeated entry message with
 * the key as field 1 and the value as field 2, the last entry of a key
 * winning as protobuf's parsers do. */
#include "serve/tfs_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/tensor_proto.h"

enum {
  SPEC_NAME = 1,
  SPEC_VERSION = 2, /* google.protobuf.Int64Value, whose value is field 1 */
  SPEC_SIGNATURE = 3,
  SPEC_LABEL = 4,
  PREDICT_SPEC = 1,
  PREDICT_INPUTS = 2,
  PREDICT_FILTER = 3,
  STATUS_SPEC = 1,
  METADATA_SPEC = 1,
  METADATA_FIELD = 2,
  ENTRY_KEY = 1,
  ENTRY_VALUE = 2,
};

serve_status *serve_tfs_read_string(const kiln_pb_reader *r,
                                    const kiln_pb_field *f, const char *field,
                                    char *out, size_t size) {
  if (f->wire_type != KILN_PB_LEN)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s at byte offset %zu is not a string", r->what,
                       field, f->offset);
  const uint8_t *bytes = f->bytes;
  size_t len = f->len;
  if (len >= size)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s at byte offset %zu is longer than %zu bytes",
                       r->what, field, f->offset, size - 1);
  if (len && memchr(bytes, 0, len))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s at byte offset %zu holds a NUL byte", r->what,
                       field, f->offset);
  if (len) memcpy(out, bytes, len);
  out[len] = '\0';
  return NULL;
}

/* A malloc'd copy of a string field (bounded by the request itself). */
static serve_status *dup_string(const kiln_pb_reader *r, const kiln_pb_field *f,
                                const char *field, char **out) {
  *out = NULL;
  if (f->wire_type != KILN_PB_LEN)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s at byte offset %zu is not a string", r->what,
                       field, f->offset);
  if (f->len && memchr(f->bytes, 0, f->len))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s at byte offset %zu holds a NUL byte", r->what,
                       field, f->offset);
  *out = malloc(f->len + 1);
  if (!*out) return serve_error(SERVE_INTERNAL, "out of memory");
  if (f->len) memcpy(*out, f->bytes, f->len);
  (*out)[f->len] = '\0';
  return NULL;
}

serve_status *serve_tfs_read_spec(const kiln_pb_reader *r,
                                  const kiln_pb_field *f, serve_tfs_spec *out) {
  memset(out, 0, sizeof *out);
  if (f->wire_type != KILN_PB_LEN)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: model_spec at byte offset %zu is not a message",
                       r->what, f->offset);
  kiln_pb_reader spec = kiln_pb_nested(r, f, "ModelSpec");
  kiln_pb_field g;
  bool more;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&spec, &g, &more)));
    if (!more) break;
    switch (g.number) {
      case SPEC_NAME:
        SERVE_TRY(serve_tfs_read_string(&spec, &g, "name", out->name,
                                        sizeof out->name));
        break;
      case SPEC_SIGNATURE:
        SERVE_TRY(serve_tfs_read_string(&spec, &g, "signature_name",
                                        out->signature, sizeof out->signature));
        break;
      case SPEC_LABEL:
        SERVE_TRY(serve_tfs_read_string(&spec, &g, "version_label", out->label,
                                        sizeof out->label));
        out->has_version = false; /* one of version and label: the last */
        break;
      case SPEC_VERSION: {
        if (g.wire_type != KILN_PB_LEN)
          return serve_error(SERVE_INVALID_ARGUMENT,
                             "ModelSpec: version at byte offset %zu is not an "
                             "Int64Value message",
                             g.offset);
        kiln_pb_reader value = kiln_pb_nested(&spec, &g, "Int64Value");
        kiln_pb_field h;
        out->version = 0; /* an empty Int64Value is 0 */
        for (;;) {
          SERVE_TRY(serve_from_pb(kiln_pb_next(&value, &h, &more)));
          if (!more) break;
          if (h.number == 1)
            SERVE_TRY(serve_from_pb(kiln_pb_int64(&value, &h, &out->version)));
        }
        out->has_version = true;
        out->label[0] = '\0';
        break;
      }
      default:
        break;
    }
  }
  return NULL;
}

void serve_tfs_predict_free(serve_tfs_predict *p) {
  for (int i = 0; i < p->num_inputs; i++) {
    free(p->input_names[i]);
    serve_tensor_release(&p->inputs[i]);
  }
  for (int i = 0; i < p->num_filters; i++) free(p->output_filter[i]);
  free(p->input_names);
  free(p->inputs);
  free(p->output_filter);
  memset(p, 0, sizeof *p);
}

/* One inputs entry: its name and tensor, replacing an earlier one of the
 * same name. */
static serve_status *read_input(const kiln_pb_reader *r, const kiln_pb_field *f,
                                size_t max_fill, serve_tfs_predict *out,
                                int *cap) {
  if (f->wire_type != KILN_PB_LEN)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "PredictRequest: inputs at byte offset %zu is not a "
                       "map entry",
                       f->offset);
  kiln_pb_reader entry = kiln_pb_nested(r, f, "PredictRequest.inputs");
  kiln_pb_field g, value = {0};
  bool more, has_value = false;
  char *name = NULL;
  serve_status *st = NULL;
  while (!st) {
    st = serve_from_pb(kiln_pb_next(&entry, &g, &more));
    if (st || !more) break;
    if (g.number == ENTRY_KEY) {
      free(name);
      st = dup_string(&entry, &g, "key", &name);
    } else if (g.number == ENTRY_VALUE) {
      value = g;
      has_value = true;
    }
  }
  if (!st && !name && !(name = calloc(1, 1)))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  serve_tensor t = {0};
  if (!st) {
    char what[192];
    snprintf(what, sizeof what, "input '%.128s'", name);
    if (has_value) {
      st = serve_tensor_proto_read(&entry, &value, what, max_fill, &t);
    } else {
      /* An entry without a value holds an empty TensorProto: DT_INVALID. */
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "%s at byte offset %zu has no tensor", what, f->offset);
    }
  }
  if (st) {
    free(name);
    return st;
  }
  for (int i = 0; i < out->num_inputs; i++) {
    if (strcmp(out->input_names[i], name)) continue;
    serve_tensor_release(&out->inputs[i]);
    out->inputs[i] = t;
    free(name);
    return NULL;
  }
  if (out->num_inputs == *cap) {
    int grown = *cap ? *cap * 2 : 4;
    char **names = realloc(out->input_names, (size_t)grown * sizeof *names);
    if (names) out->input_names = names;
    serve_tensor *inputs =
        names ? realloc(out->inputs, (size_t)grown * sizeof *inputs) : NULL;
    if (!inputs) {
      free(name);
      serve_tensor_release(&t);
      return serve_error(SERVE_INTERNAL, "out of memory");
    }
    out->inputs = inputs;
    *cap = grown;
  }
  out->input_names[out->num_inputs] = name;
  out->inputs[out->num_inputs++] = t;
  return NULL;
}

static serve_status *add_filter(const kiln_pb_reader *r, const kiln_pb_field *f,
                                serve_tfs_predict *out) {
  char *name;
  SERVE_TRY(dup_string(r, f, "output_filter", &name));
  char **grown = realloc(out->output_filter,
                         (size_t)(out->num_filters + 1) * sizeof *grown);
  if (!grown) {
    free(name);
    return serve_error(SERVE_INTERNAL, "out of memory");
  }
  out->output_filter = grown;
  out->output_filter[out->num_filters++] = name;
  return NULL;
}

serve_status *serve_tfs_decode_predict(const uint8_t *data, size_t len,
                                       serve_tfs_predict *out) {
  memset(out, 0, sizeof *out);
  kiln_pb_reader r = kiln_pb_reader_make(data, len, "PredictRequest");
  size_t max_fill = len <= SIZE_MAX / 64 ? len * 64 : SIZE_MAX;
  if (max_fill < SERVE_TFS_MIN_FILL_BYTES) max_fill = SERVE_TFS_MIN_FILL_BYTES;
  kiln_pb_field f;
  bool more, has_spec = false;
  int cap = 0;
  serve_status *st = NULL;
  while (!st) {
    st = serve_from_pb(kiln_pb_next(&r, &f, &more));
    if (st || !more) break;
    if (f.number == PREDICT_SPEC) {
      st = serve_tfs_read_spec(&r, &f, &out->spec);
      has_spec = true;
    } else if (f.number == PREDICT_INPUTS) {
      st = read_input(&r, &f, max_fill, out, &cap);
    } else if (f.number == PREDICT_FILTER) {
      st = add_filter(&r, &f, out);
    }
  }
  if (!st && !has_spec)
    st = serve_error(SERVE_INVALID_ARGUMENT, "Missing ModelSpec");
  if (st) serve_tfs_predict_free(out);
  return st;
}

serve_status *serve_tfs_decode_status(const uint8_t *data, size_t len,
                                      serve_tfs_spec *out) {
  memset(out, 0, sizeof *out);
  kiln_pb_reader r = kiln_pb_reader_make(data, len, "GetModelStatusRequest");
  kiln_pb_field f;
  bool more, has_spec = false;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&r, &f, &more)));
    if (!more) break;
    if (f.number == STATUS_SPEC) {
      SERVE_TRY(serve_tfs_read_spec(&r, &f, out));
      has_spec = true;
    }
  }
  return has_spec ? NULL
                  : serve_error(SERVE_INVALID_ARGUMENT, "Missing ModelSpec");
}

serve_status *serve_tfs_decode_metadata(const uint8_t *data, size_t len,
                                        serve_tfs_spec *out) {
  memset(out, 0, sizeof *out);
  kiln_pb_reader r = kiln_pb_reader_make(data, len, "GetModelMetadataRequest");
  kiln_pb_field f;
  bool more, has_spec = false;
  int fields = 0;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&r, &f, &more)));
    if (!more) break;
    if (f.number == METADATA_SPEC) {
      SERVE_TRY(serve_tfs_read_spec(&r, &f, out));
      has_spec = true;
    } else if (f.number == METADATA_FIELD) {
      char name[64];
      SERVE_TRY(
          serve_tfs_read_string(&r, &f, "metadata_field", name, sizeof name));
      if (strcmp(name, "signature_def"))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "Metadata field %s is not supported; "
                           "signature_def is",
                           name);
      fields++;
    }
  }
  if (!has_spec)
    return serve_error(SERVE_INVALID_ARGUMENT, "Missing ModelSpec");
  if (!fields)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "GetModelMetadataRequest must specify at least one "
                       "metadata_field");
  return NULL;
}

void serve_tfs_write_spec(kiln_pb_writer *w, uint32_t number, const char *name,
                          int64_t version, const char *signature) {
  size_t spec = kiln_pb_begin(w, number);
  kiln_pb_put_string(w, SPEC_NAME, name);
  if (version > 0) {
    size_t value = kiln_pb_begin(w, SPEC_VERSION);
    kiln_pb_put_int64(w, 1, version);
    kiln_pb_end(w, value);
  }
  if (signature && signature[0])
    kiln_pb_put_string(w, SPEC_SIGNATURE, signature);
  kiln_pb_end(w, spec);
}
