/* pad.c - PAD, PADV2 (constant padding) and MIRROR_PAD. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* Paddings beyond this could not be allocated; refusing them early keeps
 * before + dim + after from overflowing. */
#define MAX_PAD ((int64_t)1 << 48)

/* The data input's paddings: input 1, a known [rank, 2] int tensor. */
kiln_status *kiln_pad_read_paddings(const kiln_op_ctx *ctx, int64_t *before,
                                    int64_t *after) {
  KILN_TRY(kiln_require_known(ctx, 1, "paddings"));
  const kiln_tensor *in = ctx->inputs[0], *pads = ctx->inputs[1];
  char buf[KILN_DIMS_STR_SIZE], inbuf[KILN_DIMS_STR_SIZE];
  if (pads->dtype != KILN_INT32 && pads->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 1 (paddings) has type %s; expected int32 or int64",
                      kiln_dtype_name(pads->dtype));
  if (pads->rank != 2 || pads->dims[0] != in->rank || pads->dims[1] != 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (paddings) has shape %s; expected [%d,2] for "
                      "input shape %s",
                      kiln_dims_str(pads->dims, pads->rank, buf, sizeof buf),
                      in->rank,
                      kiln_dims_str(in->dims, in->rank, inbuf, sizeof inbuf));
  for (int k = 0; k < in->rank; k++) {
    before[k] = kiln_tensor_int(pads, 2 * k);
    after[k] = kiln_tensor_int(pads, 2 * k + 1);
    if (before[k] < 0 || after[k] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "paddings for axis %d are [%lld,%lld]; negative "
                        "padding is not allowed",
                        k, (long long)before[k], (long long)after[k]);
    if (before[k] > MAX_PAD || after[k] > MAX_PAD)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "paddings for axis %d are [%lld,%lld]; too large", k,
                        (long long)before[k], (long long)after[k]);
  }
  return NULL;
}

/* PADV2's optional constant_values: one element of the data's dtype. */
static const kiln_tensor *constant_input(const kiln_op_ctx *ctx) {
  return ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
}

static kiln_status *check_constant(const kiln_op_ctx *ctx) {
  const kiln_tensor *value = constant_input(ctx);
  if (!value) return NULL;
  if (value->dtype != ctx->inputs[0]->dtype || kiln_tensor_numel(value) != 1) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (constant_values) is %s %s; expected one %s "
                      "value",
                      kiln_dtype_name(value->dtype),
                      kiln_dims_str(value->dims, value->rank, buf, sizeof buf),
                      kiln_dtype_name(ctx->inputs[0]->dtype));
  }
  return NULL;
}

kiln_status *kiln_shape_pad(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 3));
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t before[KILN_MAX_RANK], after[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  KILN_TRY(kiln_pad_read_paddings(ctx, before, after));
  KILN_TRY(check_constant(ctx));
  for (int k = 0; k < in->rank; k++)
    dims[k] = before[k] + in->dims[k] + after[k];
  KILN_TRY(kiln_check_shape(dims, in->rank, in->dtype, "paddings"));
  kiln_set_shape(out, dims, in->rank);
  return NULL;
}

/* The padding element: constant_values when given, else zero, which for a
 * quantized tensor is its zero point (TFLite pads with real 0). */
void kiln_pad_value(const kiln_op_ctx *ctx, unsigned char *value) {
  const kiln_tensor *given = constant_input(ctx), *out = ctx->outputs[0];
  if (given) {
    size_t elem = kiln_dtype_size(out->dtype);
    memset(value, 0, elem);
    memcpy(value, given->data, elem);
    return;
  }
  kiln_zero_element(out, value);
}

kiln_status *kiln_ref_pad(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  size_t elem = kiln_dtype_size(in->dtype);
  int64_t before[KILN_MAX_RANK], after[KILN_MAX_RANK];
  KILN_TRY(kiln_pad_read_paddings(ctx, before, after));
  unsigned char value[16];
  kiln_pad_value(ctx, value);
  kiln_fill_elements(out->data, kiln_tensor_numel(out), value, elem);
  if (kiln_tensor_numel(in) == 0) return NULL;
  /* Then the input goes into the interior, a strided window of the output. */
  kiln_copy_plan plan = {.rank = in->rank};
  int64_t out_strides[KILN_MAX_RANK];
  kiln_dense_strides(out->dims, out->rank, out_strides);
  kiln_dense_strides(in->dims, in->rank, plan.src_strides);
  int64_t offset = 0;
  for (int k = 0; k < in->rank; k++) {
    plan.counts[k] = in->dims[k];
    plan.dst_strides[k] = out_strides[k];
    offset += before[k] * out_strides[k];
  }
  kiln_strided_copy((char *)out->data + (size_t)offset * elem, in->data, elem,
                    &plan);
  return NULL;
}

/* ------------------------------------------------------------- MIRROR_PAD */

/* REFLECT mirrors around the edge element, so at most dim-1 elements can be
 * mirrored; SYMMETRIC repeats the edge, so at most dim. */
static kiln_status *check_mirror_limits(const kiln_op_ctx *ctx,
                                        const int64_t *before,
                                        const int64_t *after) {
  const kiln_mirror_pad_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  if (attrs->mode != KILN_MIRROR_REFLECT &&
      attrs->mode != KILN_MIRROR_SYMMETRIC)
    return kiln_error(KILN_ERR_INVALID_MODEL, "mirror pad mode %d is unknown",
                      (int)attrs->mode);
  bool reflect = attrs->mode == KILN_MIRROR_REFLECT;
  for (int k = 0; k < in->rank; k++) {
    int64_t limit = reflect ? in->dims[k] - 1 : in->dims[k];
    if ((before[k] && before[k] > limit) || (after[k] && after[k] > limit)) {
      char buf[KILN_DIMS_STR_SIZE];
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s mirror padding [%lld,%lld] on axis %d of input "
                        "shape %s is too large: at most %lld per side",
                        reflect ? "REFLECT" : "SYMMETRIC", (long long)before[k],
                        (long long)after[k], k,
                        kiln_dims_str(in->dims, in->rank, buf, sizeof buf),
                        (long long)limit);
    }
  }
  return NULL;
}

/* The op table gives MIRROR_PAD kiln_shape_pad, which cannot tell the ops
 * apart; this is the shape function it should name. */
kiln_status *kiln_shape_mirror_pad(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_pad(ctx));
  int64_t before[KILN_MAX_RANK], after[KILN_MAX_RANK];
  KILN_TRY(kiln_pad_read_paddings(ctx, before, after));
  return check_mirror_limits(ctx, before, after);
}

/* Along one axis the output has three spans: the mirrored head (read
 * backwards), the input itself, the mirrored tail (read backwards). REFLECT
 * skips the edge element, so its mirrors start `shift` = 1 further in. */
typedef struct mirror_span {
  int64_t count, src_start, step, dst_start;
} mirror_span;

static mirror_span span_of(int part, int64_t before, int64_t dim, int64_t after,
                           int64_t shift) {
  switch (part) {
    case 0:
      return (mirror_span){before, before - 1 + shift, -1, 0};
    case 1:
      return (mirror_span){dim, 0, 1, before};
    default:
      return (mirror_span){after, dim - 1 - shift, -1, before + dim};
  }
}

/* Copies region `code` (a base-3 digit per axis picks its span) as one
 * strided copy; 3^rank regions tile the output. */
static void copy_region(const kiln_tensor *in, kiln_tensor *out, int64_t code,
                        const int64_t *before, const int64_t *after,
                        int64_t shift) {
  int64_t in_strides[KILN_MAX_RANK], out_strides[KILN_MAX_RANK];
  kiln_dense_strides(in->dims, in->rank, in_strides);
  kiln_dense_strides(out->dims, out->rank, out_strides);
  kiln_copy_plan plan = {.rank = in->rank};
  int64_t src = 0, dst = 0;
  for (int k = 0; k < in->rank; k++, code /= 3) {
    mirror_span span =
        span_of((int)(code % 3), before[k], in->dims[k], after[k], shift);
    if (span.count == 0) return; /* empty: its start may lie outside */
    plan.counts[k] = span.count;
    plan.src_strides[k] = span.step * in_strides[k];
    plan.dst_strides[k] = out_strides[k];
    src += span.src_start * in_strides[k];
    dst += span.dst_start * out_strides[k];
  }
  ptrdiff_t elem = (ptrdiff_t)kiln_dtype_size(in->dtype);
  kiln_strided_copy((char *)out->data + dst * elem,
                    (const char *)in->data + src * elem, (size_t)elem, &plan);
}

kiln_status *kiln_ref_mirror_pad(const kiln_op_ctx *ctx) {
  const kiln_mirror_pad_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  int64_t before[KILN_MAX_RANK], after[KILN_MAX_RANK];
  KILN_TRY(kiln_pad_read_paddings(ctx, before, after));
  int64_t shift = attrs->mode == KILN_MIRROR_REFLECT ? 1 : 0, regions = 1;
  for (int k = 0; k < in->rank; k++) regions *= 3;
  for (int64_t code = 0; code < regions; code++)
    copy_region(in, ctx->outputs[0], code, before, after, shift);
  return NULL;
}
