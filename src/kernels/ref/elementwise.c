/* elementwise.c - the shared checks and the broadcast odometer declared in
 * elementwise.h, used by the issue 9 math, logical and reduction kernels. */
#include "kernels/ref/elementwise.h"

#include <stdio.h>
#include <string.h>

kiln_status *kiln_require_dtype_in(const kiln_tensor *t, kiln_dtype_mask mask,
                                   const char *role) {
  if (kiln_dtype_in(t->dtype, mask)) return NULL;
  char list[160] = "";
  size_t used = 0;
  int count = 0, total = __builtin_popcount(mask);
  for (int d = 0; d < 32 && used < sizeof list; d++) {
    if (!((mask >> d) & 1u)) continue;
    const char *sep = count == 0 ? "" : (count == total - 1 ? " or " : ", ");
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", sep,
                             kiln_dtype_name((kiln_dtype)d));
    count++;
  }
  return kiln_error(KILN_ERR_UNSUPPORTED, "%s has type %s; expected %s", role,
                    kiln_dtype_name(t->dtype), list);
}

kiln_status *kiln_require_output_dtype(const kiln_op_ctx *ctx,
                                       kiln_dtype dtype) {
  kiln_dtype got = ctx->outputs[0]->dtype;
  if (got == dtype) return NULL;
  return kiln_error(KILN_ERR_INVALID_MODEL, "output 0 has type %s; expected %s",
                    kiln_dtype_name(got), kiln_dtype_name(dtype));
}

kiln_status *kiln_require_unquantized(const kiln_tensor *t, const char *role) {
  if (t->quant && t->quant->count > 0 && t->dtype != KILN_FLOAT32)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s is quantized %s; this operator runs on plain "
                      "values only",
                      role, kiln_dtype_name(t->dtype));
  return NULL;
}

int kiln_int_bits(kiln_dtype t) { return (int)kiln_dtype_size(t) * 8; }

void kiln_bcast_walk_init(kiln_bcast_walk *w, const kiln_tensor *const *inputs,
                          int count, const kiln_tensor *out) {
  memset(w, 0, sizeof *w);
  w->rank = out->rank;
  w->count = count;
  memcpy(w->dims, out->dims, sizeof w->dims);
  for (int k = 0; k < count; k++)
    kiln_broadcast_strides(inputs[k], out->dims, out->rank, w->strides[k]);
}

void kiln_bcast_walk_init_ctx(kiln_bcast_walk *w, const kiln_op_ctx *ctx,
                              int count) {
  const kiln_tensor *inputs[KILN_BCAST_MAX_INPUTS];
  for (int k = 0; k < count; k++) inputs[k] = ctx->inputs[k];
  kiln_bcast_walk_init(w, inputs, count, ctx->outputs[0]);
}

void kiln_bcast_walk_next(kiln_bcast_walk *w) {
  for (int d = w->rank - 1; d >= 0; d--) {
    for (int k = 0; k < w->count; k++) w->offset[k] += w->strides[k][d];
    if (++w->index[d] < w->dims[d]) return;
    for (int k = 0; k < w->count; k++)
      w->offset[k] -= w->strides[k][d] * w->dims[d];
    w->index[d] = 0;
  }
}

kiln_status *kiln_shape_broadcast2(const kiln_op_ctx *ctx,
                                   kiln_dtype_mask in_mask,
                                   kiln_dtype out_dtype) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_input(ctx, 1, "y"));
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype_in(x, in_mask, "input 0 (x)"));
  KILN_TRY(kiln_require_unquantized(x, "input 0 (x)"));
  if (y->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (y) has type %s but input 0 (x) has type %s",
                      kiln_dtype_name(y->dtype), kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_require_unquantized(y, "input 1 (y)"));
  kiln_dtype want = out_dtype == KILN_DTYPE_INVALID ? x->dtype : out_dtype;
  if (out->dtype != want)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(want));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank, y->dims, y->rank, dims, &rank),
      "inputs 0 (x) and 1 (y)"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

kiln_status *kiln_shape_map(const kiln_op_ctx *ctx, kiln_dtype_mask mask,
                            kiln_dtype out_dtype) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype_in(x, mask, "input 0 (x)"));
  KILN_TRY(kiln_require_unquantized(x, "input 0 (x)"));
  kiln_dtype want = out_dtype == KILN_DTYPE_INVALID ? x->dtype : out_dtype;
  if (out->dtype != want)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(want));
  kiln_set_shape(out, x->dims, x->rank);
  return NULL;
}
