/* tensor_json.h - tensors to and from JSON as TF Serving's REST API and
 * KServe v2 write them: nested lists shaped like the tensor, values typed
 * by the tensor's dtype, and floats (32 and 64 bits) written in the
 * shortest form that reads back to the same value. */
#ifndef KILN_SERVE_TENSOR_JSON_H
#define KILN_SERVE_TENSOR_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "serve/buf.h"
#include "serve/scheduler.h"
#include "serve/status.h"

/* json_loadb, but taking TF Serving's bare NaN, Inf and Infinity (each
 * with an optional '-') outside strings as numbers: float tensors read
 * from the result (serve_json_to_tensor) get those values. An error's
 * column counts in the text after each such token was quoted. */
json_t *serve_json_loadb(const char *text, size_t len, size_t flags,
                         json_error_t *error);

/* Checks a shape a request gives: dimensions not negative, the bytes
 * countable, and, for a shape without values, at most
 * SERVE_MAX_EMPTY_LISTS lists before its first 0 (its JSON form holds one
 * per index; [2^40, 0] would answer with terabytes of "[]"). Sets *count
 * to its number of elements. */
enum { SERVE_MAX_EMPTY_LISTS = 1 << 20 };
serve_status *serve_check_shape(const int64_t *dims, int rank, kiln_dtype dtype,
                                const char *what, int64_t *count);

/* Reads a JSON value shaped like a tensor (nested lists, or a scalar) of
 * `dtype` into *out (its data malloc'd). `what` names the value in
 * errors ("input 'x'"). With flat_dims (KServe's flat "data"), the lists
 * may be flat or nested and the shape is flat_dims; else the shape is the
 * nesting. */
serve_status *serve_json_to_tensor(const json_t *value, kiln_dtype dtype,
                                   const char *what, const int64_t *flat_dims,
                                   int flat_rank, serve_tensor *out);

/* Stacks n tensors of one shape into one with a leading dimension n
 * (TF Serving's row format). */
serve_status *serve_stack_tensors(const serve_tensor *parts, int n,
                                  const char *what, serve_tensor *out);

/* {"b64": "..."}: the decoded bytes as the element bytes of a tensor of
 * `dtype` shaped `dims` (rank dims). */
serve_status *serve_b64_to_tensor(const char *text, kiln_dtype dtype,
                                  const int64_t *dims, int rank,
                                  const char *what, serve_tensor *out);
/* Whether v is TF Serving's binary form {"b64": string}. */
bool serve_json_is_b64(const json_t *v);

/* Writes elements [begin, begin + count) of t as nested lists shaped by
 * dims[first_dim..rank) (first_dim 1: one row of a batch), or all of
 * them as one flat list when flat. */
void serve_tensor_to_json(serve_buf *b, const serve_tensor *t, int first_dim,
                          int64_t row, bool flat);

/* One float32 in the shortest text that reads back to it; NaN and the
 * infinities as TF Serving writes them. */
void serve_write_float(serve_buf *b, float value);

/* KServe v2 datatype names ("FP32", ...) and back (INVALID when unknown). */
const char *serve_kserve_dtype(kiln_dtype dtype);
kiln_dtype serve_kserve_dtype_parse(const char *name);
/* TF's DataType enum names ("DT_FLOAT", ...), for signature metadata. */
const char *serve_tf_dtype(kiln_dtype dtype);

#endif
