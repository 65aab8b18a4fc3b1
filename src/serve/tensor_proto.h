/* tensor_proto.h - TensorFlow's TensorProto message (tensor.proto) read
 * into and written from the server's tensors, for TF Serving's gRPC API.
 * A request's values come either as tensor_content (the elements' raw
 * little-endian bytes) or in the repeated field TF keeps for the dtype,
 * packed or one value per field; fewer values than elements are filled
 * with the last one as TF does (a single value stands for the whole
 * shape), none means zeros. Answers always carry tensor_content, which
 * TF's tf.make_ndarray reads for every dtype served. Errors are
 * INVALID_ARGUMENT naming the tensor, the field and the byte offset. */
#ifndef KILN_SERVE_TENSOR_PROTO_H
#define KILN_SERVE_TENSOR_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "formats/protobuf/pb_wire.h"
#include "serve/scheduler.h"
#include "serve/status.h"

/* TF's DataType enum (types.proto) for a kiln dtype, 0 (DT_INVALID) when
 * TF has none; and back, KILN_DTYPE_INVALID for what kiln does not
 * serve. */
int serve_tf_dtype_number(kiln_dtype dtype);
kiln_dtype serve_tf_dtype_from_number(uint64_t number);
/* "DT_STRING", ... for any of TF's numbers; "DT_<n>" style text is the
 * caller's when this returns NULL. */
const char *serve_tf_dtype_number_name(uint64_t number);

/* Reads the TensorProto in `field` (a LEN field read by `r`) into *out,
 * its data malloc'd. `what` names it in errors ("input 'x'"). A tensor
 * filled from fewer values than it has elements may take at most
 * max_fill_bytes (the caller's bound, from the request's size); every
 * other tensor is bounded by the bytes it was sent in. */
serve_status *serve_tensor_proto_read(const kiln_pb_reader *r,
                                      const kiln_pb_field *field,
                                      const char *what, size_t max_fill_bytes,
                                      serve_tensor *out);

/* Writes t as field `number` of the message being written (dtype, shape,
 * tensor_content); the size of its body as a TensorProto. */
size_t serve_tensor_proto_size(const serve_tensor *t);
void serve_tensor_proto_write(kiln_pb_writer *w, uint32_t number,
                              const serve_tensor *t);

/* The same as a bare TensorShapeProto field (TensorInfo's shape: -1 for a
 * dynamic dimension). */
void serve_tensor_shape_write(kiln_pb_writer *w, uint32_t number,
                              const int64_t *dims, int rank);

/* A protobuf wire error (kiln's INVALID_MODEL) as the client's mistake:
 * INVALID_ARGUMENT with the same words; frees k. */
serve_status *serve_from_pb(kiln_status *k);

#endif
