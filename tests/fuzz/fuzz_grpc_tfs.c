/* fuzz_grpc_tfs.c - libFuzzer target for TF Serving's gRPC request
 * decoding: any bytes as a PredictRequest (and as the status and metadata
 * requests), no server. What decodes must describe itself consistently
 * (each tensor's bytes match its dtype and shape) and write back as a
 * TensorProto that reads back to the same tensor. Seeds:
 * tests/fuzz/corpus/grpc_tfs/ (requests serialized by TF Serving's Python
 * client; tests/fuzz/make_grpc_seeds.py). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/tensor_proto.h"
#include "serve/tfs_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const serve_tensor *t) {
  size_t count = 1;
  for (int d = 0; d < t->rank; d++) count *= (size_t)t->dims[d];
  if (t->nbytes != count * kiln_dtype_size(t->dtype)) abort();
  kiln_pb_writer w = {0};
  serve_tensor_proto_write(&w, 1, t);
  if (w.failed) {
    kiln_pb_writer_free(&w);
    return;
  }
  kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "Outer");
  kiln_pb_field f;
  bool more;
  kiln_status *k = kiln_pb_next(&r, &f, &more);
  if (k || !more) abort();
  serve_tensor back;
  serve_status *st = serve_tensor_proto_read(&r, &f, "x", 0, &back);
  if (st || back.dtype != t->dtype || back.rank != t->rank ||
      back.nbytes != t->nbytes ||
      (t->nbytes && memcmp(back.data, t->data, t->nbytes)))
    abort();
  for (int d = 0; d < t->rank; d++)
    if (back.dims[d] != t->dims[d]) abort();
  serve_tensor_release(&back);
  kiln_pb_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  serve_tfs_predict p;
  serve_status *st = serve_tfs_decode_predict(data, size, &p);
  if (!st) {
    for (int i = 0; i < p.num_inputs; i++) check_round_trip(&p.inputs[i]);
    serve_tfs_predict_free(&p);
  }
  serve_status_free(st);
  serve_tfs_spec spec;
  serve_status_free(serve_tfs_decode_status(data, size, &spec));
  serve_status_free(serve_tfs_decode_metadata(data, size, &spec));
  return 0;
}
