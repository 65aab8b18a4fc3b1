/* kserve_proto.h - KServe v2's gRPC messages (the Open Inference
 * Protocol's inference.GRPCInferenceService, as Triton serves it) read
 * and written with the schema-free wire codec (formats/protobuf/pb_wire.h):
 * ModelInferRequest into a plain struct whose tensor bytes point into the
 * request, its inputs into serve_tensors (typed contents or raw bytes),
 * ModelInferResponse from a job's outputs, and the small requests that
 * name a model. Field numbers are those of kserve's grpc_predict_v2.proto
 * and Triton's grpc_service.proto.
 *
 * Every allocation is bounded by the request's size: counts are taken in
 * a first pass over the bytes, and a tensor's element count is checked
 * against the bytes that carry it before its buffer is made. Errors are
 * INVALID_ARGUMENT naming the field (and the input) and the byte offset. */
#ifndef KILN_SERVE_KSERVE_PROTO_H
#define KILN_SERVE_KSERVE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/protobuf/pb_wire.h"
#include "serve/scheduler.h"
#include "serve/status.h"

/* One ModelInferRequest.InferInputTensor. */
typedef struct kserve_input {
  char *name, *datatype; /* malloc'd, NUL-terminated ("" when absent) */
  int rank;
  int64_t dims[KILN_MAX_RANK];
  /* Its InferTensorContents message (NULL when absent), and where it
   * starts in the request (for errors). */
  const uint8_t *contents;
  size_t contents_len, contents_offset;
  size_t offset; /* of the InferInputTensor field */
} kserve_input;

typedef struct kserve_infer_request {
  char *model_name, *model_version, *id; /* malloc'd ("" when absent) */
  kserve_input *inputs;
  int num_inputs;
  char **outputs; /* the requested outputs' names */
  int num_outputs;
  /* raw_input_contents: one per input, in the order of `inputs`. */
  const uint8_t **raw;
  size_t *raw_len, *raw_offset;
  int num_raw;
  /* parameters["timeout"] (µs, as REST reads it); 0: none. */
  int64_t timeout_us;
} kserve_infer_request;

/* Decodes a ModelInferRequest. The struct points into `data`, which must
 * outlive it. On error the struct is freed and zeroed. */
serve_status *kserve_decode_infer_request(const uint8_t *data, size_t size,
                                          kserve_infer_request *out);
void kserve_infer_request_free(kserve_infer_request *r);

/* Input k as a tensor of `dtype` (the model's; the request's datatype is
 * checked against it first): raw_input_contents[k] borrowed without a
 * copy when the request has raw contents, else the typed field of its
 * contents that the datatype uses, copied (FP16 and BF16 travel only
 * raw). Errors name the input. */
serve_status *kserve_input_tensor(const kserve_infer_request *r, int k,
                                  kiln_dtype dtype, serve_tensor *out);

/* One output of a ModelInferResponse. */
typedef struct kserve_output {
  const char *name;
  const serve_tensor *tensor;
} kserve_output;

/* Writes a ModelInferResponse: the outputs' metadata, and their bytes as
 * raw_output_contents (as Triton answers). id NULL or "": none. */
void kserve_encode_infer_response(kiln_pb_writer *w, const char *model_name,
                                  int64_t version, const char *id,
                                  const kserve_output *outputs,
                                  int num_outputs);

/* The requests that name a model (ModelReady, ModelMetadata, ModelConfig,
 * ModelStatistics: field 1 name, 2 version) and the repository's load and
 * unload (2 model_name, 3 parameters, of which "base_path" is read). */
typedef struct kserve_model_request {
  char name[128];
  int64_t version; /* 0: the newest */
  char *base_path; /* malloc'd, or NULL */
  bool ready;      /* RepositoryIndexRequest.ready */
} kserve_model_request;

typedef enum kserve_request_kind {
  KSERVE_NAMED,      /* ModelReady, ModelMetadata, ... */
  KSERVE_REPOSITORY, /* RepositoryModelLoad / Unload */
  KSERVE_INDEX,      /* RepositoryIndex */
} kserve_request_kind;

serve_status *kserve_decode_model_request(const uint8_t *data, size_t size,
                                          kserve_request_kind kind,
                                          const char *what,
                                          kserve_model_request *out);

/* A pb_wire error as INVALID_ARGUMENT (frees it). */
serve_status *kserve_pb_error(kiln_status *status);

/* Triton's model_config.proto DataType enum value of a dtype (TYPE_FP32
 * is 11); 0 (TYPE_INVALID) when it has none. */
int kserve_config_dtype(kiln_dtype dtype);

#endif
