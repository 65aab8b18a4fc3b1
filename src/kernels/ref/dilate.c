/* dilate.c - DILATE: spreads the input's elements `dilations[d]` apart
 * along each dimension d, filling the gaps with padding_value; a dimension
 * of n elements becomes (n - 1) * dilation + 1. Inputs: input (any
 * fixed-size type, moved as bytes), dilations int32 [rank] (known at
 * prepare: they fix the output shape; each >= 1) and padding_value (a
 * scalar of the input's type). */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/movement.h"

kiln_status *kiln_shape_dilate(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  KILN_TRY(kiln_require_known(ctx, 1, "dilations"));
  KILN_TRY(kiln_require_input(ctx, 2, "padding_value"));
  const kiln_tensor *in = ctx->inputs[0], *dil = ctx->inputs[1],
                    *pad = ctx->inputs[2];
  char buf[KILN_DIMS_STR_SIZE];
  if (in->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) must have rank 1 or more");
  if (kiln_dtype_size(in->dtype) == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED, "input 0 (input) has type %s",
                      kiln_dtype_name(in->dtype));
  KILN_TRY(kiln_require_dtype(dil, KILN_INT32, "input 1 (dilations)"));
  if (dil->rank != 1 || dil->dims[0] != in->rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (dilations) must have shape [%d] (one per "
                      "input dimension), has %s",
                      in->rank,
                      kiln_dims_str(dil->dims, dil->rank, buf, sizeof buf));
  if (pad->dtype != in->dtype || kiln_tensor_numel(pad) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (padding_value) must be one %s, is %s %s",
                      kiln_dtype_name(in->dtype), kiln_dtype_name(pad->dtype),
                      kiln_dims_str(pad->dims, pad->rank, buf, sizeof buf));
  KILN_TRY(kiln_require_output_dtype(ctx, in->dtype));
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < in->rank; d++) {
    int64_t f = kiln_tensor_int(dil, d);
    if (f < 1 || f > INT32_MAX)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input 1 (dilations) element %d is %lld; it must be "
                        ">= 1",
                        d, (long long)f);
    if (in->dims[d] < 1)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input 0 (input) dimension %d is empty; a dilated "
                        "empty dimension has no size",
                        d);
    if (in->dims[d] - 1 > (INT32_MAX - 1) / f)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "dimension %d dilated by %lld exceeds %d elements", d,
                        (long long)f, INT32_MAX);
    dims[d] = (in->dims[d] - 1) * f + 1;
  }
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_dilate(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *dil = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  size_t es = kiln_dtype_size(in->dtype);
  int rank = in->rank;
  kiln_fill_elements(out->data, kiln_tensor_numel(out), ctx->inputs[2]->data,
                     es);
  /* step[d]: output elements between neighbours along input dimension d */
  int64_t step[KILN_MAX_RANK], index[KILN_MAX_RANK] = {0};
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; d--) {
    step[d] = stride * kiln_tensor_int(dil, d);
    stride *= out->dims[d];
  }
  int64_t n = kiln_tensor_numel(in), pos = 0;
  const unsigned char *src = in->data;
  unsigned char *dst = out->data;
  for (int64_t i = 0; i < n; i++) {
    memcpy(dst + (size_t)pos * es, src + (size_t)i * es, es);
    for (int d = rank - 1; d >= 0; d--) {
      pos += step[d];
      if (++index[d] < in->dims[d]) break;
      pos -= step[d] * in->dims[d];
      index[d] = 0;
    }
  }
  return NULL;
}
