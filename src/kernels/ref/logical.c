/* logical.c - reference kernels of the bool operators added for issue 9:
 * LOGICAL_AND and LOGICAL_OR (broadcasting), LOGICAL_NOT, and SELECT, the
 * first version of select, whose condition either has the values' shape,
 * is a scalar, or is 1-D over their first dimension (choosing whole rows);
 * SELECT_V2 (binary.c) broadcasts instead. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

#define BOOL_ONLY KILN_DT(KILN_BOOL)

kiln_status *kiln_shape_logical_binary(const kiln_op_ctx *ctx) {
  return kiln_shape_broadcast2(ctx, BOOL_ONLY, KILN_BOOL);
}

kiln_status *kiln_shape_logical_not(const kiln_op_ctx *ctx) {
  return kiln_shape_map(ctx, BOOL_ONLY, KILN_BOOL);
}

/* Any non-zero byte reads as true, so a malformed bool cannot make the
 * output hold a value other than 0 or 1. */
static kiln_status *run_logical(const kiln_op_ctx *ctx, bool is_and) {
  const kiln_tensor *in[2] = {ctx->inputs[0], ctx->inputs[1]};
  const uint8_t *a = in[0]->data, *b = in[1]->data;
  uint8_t *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk w;
  kiln_bcast_walk_init(&w, in, 2, ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&w)) {
    bool x = a[w.offset[0]] != 0, y = b[w.offset[1]] != 0;
    out[i] = is_and ? (x && y) : (x || y);
  }
  return NULL;
}

kiln_status *kiln_ref_logical_and(const kiln_op_ctx *ctx) {
  return run_logical(ctx, true);
}
kiln_status *kiln_ref_logical_or(const kiln_op_ctx *ctx) {
  return run_logical(ctx, false);
}

kiln_status *kiln_ref_logical_not(const kiln_op_ctx *ctx) {
  const uint8_t *x = ctx->inputs[0]->data;
  uint8_t *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++) y[i] = x[i] == 0;
  return NULL;
}

/* ---------------------------------------------------------------- SELECT */

/* The types LiteRT's SELECT runs: every fixed-size one (the kernel only
 * copies elements). */
#define SELECT_TYPES                                                    \
  (KILN_DT(KILN_BOOL) | KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_FLOAT32) | \
   KILN_DT(KILN_FLOAT64) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT8) |   \
   KILN_DT(KILN_INT16) | KILN_DT(KILN_UINT16) | KILN_DT(KILN_INT32) |   \
   KILN_DT(KILN_UINT32) | KILN_DT(KILN_INT64) | KILN_DT(KILN_UINT64) |  \
   KILN_DT(KILN_COMPLEX64))

kiln_status *kiln_shape_select(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "condition"));
  KILN_TRY(kiln_require_input(ctx, 1, "x"));
  KILN_TRY(kiln_require_input(ctx, 2, "y"));
  const kiln_tensor *c = ctx->inputs[0], *x = ctx->inputs[1],
                    *y = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(c, KILN_BOOL, "input 0 (condition)"));
  KILN_TRY(kiln_require_dtype_in(x, SELECT_TYPES, "input 1 (x)"));
  if (y->dtype != x->dtype || out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (x), input 2 (y) and output 0 have types %s, "
                      "%s and %s; they must match",
                      kiln_dtype_name(x->dtype), kiln_dtype_name(y->dtype),
                      kiln_dtype_name(out->dtype));
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  bool same_xy = x->rank == y->rank, same_cx = c->rank == x->rank;
  for (int d = 0; same_xy && d < x->rank; d++)
    same_xy = x->dims[d] == y->dims[d];
  for (int d = 0; same_cx && d < x->rank; d++)
    same_cx = c->dims[d] == x->dims[d];
  if (!same_xy)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input 1 (x) has shape %s and input 2 (y) %s; SELECT "
                      "needs equal shapes",
                      kiln_dims_str(x->dims, x->rank, a, sizeof a),
                      kiln_dims_str(y->dims, y->rank, b, sizeof b));
  bool rows = c->rank == 1 && x->rank >= 1 && c->dims[0] == x->dims[0];
  if (!same_cx && c->rank != 0 && !rows)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input 0 (condition) has shape %s; for input 1 (x) of "
                      "shape %s it must have that shape, be a scalar, or be "
                      "1-D of its first dimension",
                      kiln_dims_str(c->dims, c->rank, a, sizeof a),
                      kiln_dims_str(x->dims, x->rank, b, sizeof b));
  kiln_set_shape(out, x->dims, x->rank);
  return NULL;
}

kiln_status *kiln_ref_select(const kiln_op_ctx *ctx) {
  const kiln_tensor *c = ctx->inputs[0], *x = ctx->inputs[1];
  const uint8_t *cond = c->data;
  const char *xs = x->data, *ys = ctx->inputs[2]->data;
  char *out = ctx->outputs[0]->data;
  size_t size = kiln_dtype_size(x->dtype);
  int64_t n = kiln_tensor_numel(x), nc = kiln_tensor_numel(c);
  /* Elements per condition value: all of them for a scalar, one for equal
   * shapes, a row otherwise. (nc is 0 only when x is empty too.) */
  int64_t per = nc == 0 ? 1 : (c->rank == 0 ? n : n / nc);
  if (c->rank == x->rank) per = 1;
  for (int64_t i = 0; i < n; i++) {
    const char *src = cond[i / per] ? xs : ys;
    memcpy(out + (size_t)i * size, src + (size_t)i * size, size);
  }
  return NULL;
}
