/* tfs_proto.h - TF Serving's gRPC request messages (tensorflow_serving
 * apis protos) decoded into plain structs, and the ModelSpec every
 * answer carries, written. The handlers in grpc_tfs.c run these on the
 * bytes a call brings; the fuzz target runs them alone. Every error is
 * INVALID_ARGUMENT naming the field and its byte offset. */
#ifndef KILN_SERVE_TFS_PROTO_H
#define KILN_SERVE_TFS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/protobuf/pb_wire.h"
#include "serve/scheduler.h"
#include "serve/status.h"

/* ModelSpec: which model, version (or label) and signature. */
typedef struct serve_tfs_spec {
  char name[128];
  bool has_version;
  int64_t version; /* when has_version (may be 0 or negative: unknown) */
  char label[128]; /* "": none */
  char signature[128];
} serve_tfs_spec;

/* PredictRequest: named tensors, and the outputs wanted. */
typedef struct serve_tfs_predict {
  serve_tfs_spec spec;
  int num_inputs;
  char **input_names; /* malloc'd, NUL-terminated */
  serve_tensor *inputs;
  int num_filters;
  char **output_filter;
} serve_tfs_predict;

/* A request's tensors filled from fewer values than elements (one value
 * for a whole shape) may take at most this many bytes, or 64 times the
 * request's size when that is more: a few bytes never ask for gigabytes. */
enum { SERVE_TFS_MIN_FILL_BYTES = 1 << 20 };

serve_status *serve_tfs_decode_predict(const uint8_t *data, size_t len,
                                       serve_tfs_predict *out);
void serve_tfs_predict_free(serve_tfs_predict *p);

/* GetModelStatusRequest and GetModelMetadataRequest (whose metadata_field
 * must be "signature_def" alone). */
serve_status *serve_tfs_decode_status(const uint8_t *data, size_t len,
                                      serve_tfs_spec *out);
serve_status *serve_tfs_decode_metadata(const uint8_t *data, size_t len,
                                        serve_tfs_spec *out);

/* Writes a ModelSpec as field `number`: the name, the version that
 * answered (none when 0) and the signature. */
void serve_tfs_write_spec(kiln_pb_writer *w, uint32_t number, const char *name,
                          int64_t version, const char *signature);

/* Reads a string field into a fixed buffer (NUL bytes and overlong text
 * refused, naming `field` and the offset). */
serve_status *serve_tfs_read_string(const kiln_pb_reader *r,
                                    const kiln_pb_field *f, const char *field,
                                    char *out, size_t size);

/* Reads a ModelSpec message field. */
serve_status *serve_tfs_read_spec(const kiln_pb_reader *r,
                                  const kiln_pb_field *f, serve_tfs_spec *out);

#endif
