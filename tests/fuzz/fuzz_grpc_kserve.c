/* fuzz_grpc_kserve.c - libFuzzer target for KServe v2's gRPC request
 * decoder (serve/kserve_proto.h): any bytes as a ModelInferRequest, each
 * decoded input as a tensor of its datatype (or FP32), and as the small
 * requests that name a model. Checks that what is accepted stays inside
 * the input (raw tensors borrow it), that a tensor's bytes match its
 * shape, and that every refusal is INVALID_ARGUMENT saying where. Seeds:
 * tests/fuzz/corpus/grpc_kserve/ (requests serialized by tritonclient's
 * service_pb2, from tests/fuzz/make_seeds.py). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/kserve_proto.h"
#include "serve/tensor_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(serve_status *st) {
  if (serve_status_code(st) != SERVE_INVALID_ARGUMENT &&
      serve_status_code(st) != SERVE_INTERNAL) /* out of memory */
    abort();
  const char *msg = serve_status_message(st);
  if (!strstr(msg, "byte offset") && !strstr(msg, "input '") &&
      !strstr(msg, "ModelInferRequest"))
    abort();
  serve_status_free(st);
}

static void check_input(const kserve_infer_request *req, int k,
                        const uint8_t *data, size_t size) {
  kiln_dtype dtype = serve_kserve_dtype_parse(req->inputs[k].datatype);
  if (dtype == KILN_DTYPE_INVALID) dtype = KILN_FLOAT32;
  serve_tensor t;
  serve_status *st = kserve_input_tensor(req, k, dtype, &t);
  if (st) {
    if (t.data) abort(); /* a refusal leaves nothing behind */
    check_refusal(st);
    return;
  }
  size_t count = 1;
  for (int d = 0; d < t.rank; d++) count *= (size_t)t.dims[d];
  if (t.rank != req->inputs[k].rank || !t.data ||
      t.nbytes != count * kiln_dtype_size(dtype))
    abort();
  if (t.borrowed) {
    const uint8_t *p = t.data;
    if (p < data || p + t.nbytes > data + size) abort();
  } else {
    /* Typed contents take a byte or more per element on the wire. */
    if (count > size) abort();
    /* Values outside a dtype are refused: booleans are 0 or 1. */
    for (size_t i = 0; dtype == KILN_BOOL && i < t.nbytes; i++)
      if (((uint8_t *)t.data)[i] > 1) abort();
  }
  serve_tensor_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kserve_infer_request req;
  serve_status *st = kserve_decode_infer_request(data, size, &req);
  if (st) {
    if (req.inputs || req.model_name) abort(); /* freed on error */
    check_refusal(st);
  } else {
    if (!req.model_name || !req.model_version || !req.id) abort();
    if (req.num_raw && req.num_raw != req.num_inputs) abort();
    for (int k = 0; k < req.num_inputs; k++) {
      if (!req.inputs[k].name || req.inputs[k].rank > KILN_MAX_RANK) abort();
      check_input(&req, k, data, size);
    }
    for (int k = 0; k < req.num_outputs; k++)
      if (!req.outputs[k]) abort();
    kserve_infer_request_free(&req);
  }
  static const kserve_request_kind kinds[] = {KSERVE_NAMED, KSERVE_REPOSITORY,
                                              KSERVE_INDEX};
  for (int i = 0; i < 3; i++) {
    kserve_model_request m;
    st = kserve_decode_model_request(data, size, kinds[i], "Request", &m);
    if (st) {
      if (m.base_path) abort();
      check_refusal(st);
      continue;
    }
    if (strlen(m.name) >= sizeof m.name || m.version < 0) abort();
    free(m.base_path);
  }
  return 0;
}
