/* stablehlo_pad.c - STABLEHLO_PAD: pads each dimension with edge_padding_low
 * and edge_padding_high copies of padding_value (negative amounts crop) and
 * puts interior_padding values between neighbouring elements; a dimension
 * of n elements becomes low + n + (n - 1) * interior + high. Any fixed-size
 * type, moved as bytes; the amounts are StablehloPadOptions, so the shape
 * is known at load. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/movement.h"

kiln_status *kiln_shape_stablehlo_pad(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_pad_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "operand"));
  KILN_TRY(kiln_require_input(ctx, 1, "padding_value"));
  const kiln_tensor *in = ctx->inputs[0], *pad = ctx->inputs[1];
  char buf[KILN_DIMS_STR_SIZE];
  if (kiln_dtype_size(in->dtype) == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED, "input 0 (operand) has type %s",
                      kiln_dtype_name(in->dtype));
  if (pad->dtype != in->dtype || kiln_tensor_numel(pad) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (padding_value) must be one %s, is %s %s",
                      kiln_dtype_name(in->dtype), kiln_dtype_name(pad->dtype),
                      kiln_dims_str(pad->dims, pad->rank, buf, sizeof buf));
  if (a->rank != in->rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "the padding options have %d entries each but input 0 "
                      "(operand) has rank %d",
                      a->rank, in->rank);
  KILN_TRY(kiln_require_output_dtype(ctx, in->dtype));
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < in->rank; d++) {
    int64_t n = in->dims[d];
    int64_t spread = n == 0 ? 0 : n + (n - 1) * a->interior[d];
    dims[d] = a->low[d] + spread + a->high[d];
    if (dims[d] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "dimension %d of %lld elements padded by %lld low, "
                        "%lld high and %lld interior has size %lld",
                        d, (long long)n, (long long)a->low[d],
                        (long long)a->high[d], (long long)a->interior[d],
                        (long long)dims[d]);
  }
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_stablehlo_pad(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_pad_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  size_t es = kiln_dtype_size(in->dtype);
  int rank = in->rank;
  kiln_fill_elements(out->data, kiln_tensor_numel(out), ctx->inputs[1]->data,
                     es);
  int64_t out_stride[KILN_MAX_RANK], s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    out_stride[d] = s;
    s *= out->dims[d];
  }
  int64_t n = kiln_tensor_numel(in), index[KILN_MAX_RANK] = {0};
  const unsigned char *src = in->data;
  unsigned char *dst = out->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t at = 0;
    bool inside = true;
    for (int d = 0; d < rank && inside; d++) {
      int64_t o = a->low[d] + index[d] * (a->interior[d] + 1);
      inside = o >= 0 && o < out->dims[d];
      at += o * out_stride[d];
    }
    if (inside) memcpy(dst + (size_t)at * es, src + (size_t)i * es, es);
    for (int d = rank - 1; d >= 0; d--) {
      if (++index[d] < in->dims[d]) break;
      index[d] = 0;
    }
  }
  return NULL;
}
