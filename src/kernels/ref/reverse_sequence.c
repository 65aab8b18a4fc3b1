/* reverse_sequence.c - REVERSE_SEQUENCE (tf.reverse_sequence) as TFLite
 * runs it: for each index b along batch_dim, the first seq_lengths[b]
 * elements along seq_dim come out in reverse order and the rest are
 * copied. Types are TFLite's (float32, uint8, int16, int32, int64), moved
 * as bytes, so a quantized tensor needs the output's quantization equal to
 * the input's. seq_lengths (int32 or int64, one per batch index) is read
 * at invoke; a length below 0 or above the sequence dimension is an error
 * there (TFLite checks only the first), and at prepare when it is known
 * then. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"

static const kiln_dtype_mask kSequenceDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT16) |
    KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64);

/* Every length within [0, dims[seq_dim]]; `code` is INVALID_MODEL at
 * prepare and RUNTIME at invoke. */
static kiln_status *check_lengths(const kiln_op_ctx *ctx,
                                  kiln_status_code code) {
  const kiln_reverse_sequence_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *lens = ctx->inputs[1];
  const int64_t limit = in->dims[a->seq_dim];
  for (int64_t b = 0; b < lens->dims[0]; b++) {
    int64_t len = kiln_tensor_int(lens, b);
    if (len < 0 || len > limit)
      return kiln_error(code,
                        "input 1 (seq_lengths) element %lld is %lld; it must "
                        "be within 0..%lld (dimension %d, seq_dim, of input "
                        "0)",
                        (long long)b, (long long)len, (long long)limit,
                        a->seq_dim);
  }
  return NULL;
}

kiln_status *kiln_shape_reverse_sequence(const kiln_op_ctx *ctx) {
  const kiln_reverse_sequence_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  KILN_TRY(kiln_require_index_input(ctx, 1, "seq_lengths"));
  const kiln_tensor *in = ctx->inputs[0], *lens = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype_in(in, kSequenceDtypes, "input 0 (input)"));
  KILN_TRY(kiln_require_dtype(out, in->dtype, "output 0"));
  KILN_TRY(kiln_require_same_quant(in, out, "input 0 (input)"));
  char buf[KILN_DIMS_STR_SIZE];
  kiln_dims_str(in->dims, in->rank, buf, sizeof buf);
  if (a->seq_dim < 0 || a->batch_dim < 0 || a->seq_dim >= in->rank ||
      a->batch_dim >= in->rank || a->seq_dim == a->batch_dim)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "seq_dim %d and batch_dim %d must be two different "
                      "dimensions of input 0 (input), shape %s",
                      a->seq_dim, a->batch_dim, buf);
  if (lens->rank != 1 || lens->dims[0] != in->dims[a->batch_dim]) {
    char lb[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (seq_lengths) has shape %s; expected [%lld], "
                      "one length per index of dimension %d (batch_dim) of "
                      "input 0 shape %s",
                      kiln_dims_str(lens->dims, lens->rank, lb, sizeof lb),
                      (long long)in->dims[a->batch_dim], a->batch_dim, buf);
  }
  if (lens->data) KILN_TRY(check_lengths(ctx, KILN_ERR_INVALID_MODEL));
  kiln_set_shape(out, in->dims, in->rank);
  return NULL;
}

/* The input is walked in blocks: the dimensions up to the later of
 * seq_dim and batch_dim are indexed one by one, and everything after them
 * is one contiguous block of `block` bytes, copied whole. */
kiln_status *kiln_ref_reverse_sequence(const kiln_op_ctx *ctx) {
  const kiln_reverse_sequence_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *lens = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  if (kiln_tensor_numel(in) == 0) return NULL;
  KILN_TRY(check_lengths(ctx, KILN_ERR_RUNTIME));
  const int last = a->seq_dim > a->batch_dim ? a->seq_dim : a->batch_dim;
  const size_t block = kiln_dtype_size(in->dtype) *
                       (size_t)kiln_dims_product(in->dims, last + 1, in->rank);
  /* Strides, in blocks, of the indexed dimensions 0..last. */
  int64_t strides[KILN_MAX_RANK];
  int64_t stride = 1;
  for (int k = last; k >= 0; k--) {
    strides[k] = stride;
    stride *= in->dims[k];
  }
  const int64_t blocks = stride;
  int64_t index[KILN_MAX_RANK] = {0};
  const char *src = in->data;
  char *dst = out->data;
  for (int64_t i = 0; i < blocks; i++) {
    const int64_t s = index[a->seq_dim];
    const int64_t len = kiln_tensor_int(lens, index[a->batch_dim]);
    int64_t from = i;
    if (s < len) from += (len - 1 - 2 * s) * strides[a->seq_dim];
    memcpy(dst + (size_t)i * block, src + (size_t)from * block, block);
    for (int k = last; k >= 0 && ++index[k] == in->dims[k]; k--) index[k] = 0;
  }
  return NULL;
}
