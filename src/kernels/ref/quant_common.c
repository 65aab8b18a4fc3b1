/* quant_common.c - the shape checks the quantized reference kernels share
 * (quant_common.h). */
#include "kernels/ref/quant_common.h"

#include <stdio.h>

static bool is_quant_activation(kiln_dtype t) {
  return t == KILN_INT8 || t == KILN_UINT8 || t == KILN_INT16;
}

/* The input checks; dimensions from `first_counted` on must be at least 1
 * (0 or 1: whether an empty batch is allowed). */
static kiln_status *require_input(const kiln_op_ctx *ctx, int index,
                                  const char *name, bool allow_float,
                                  int min_rank, int max_rank,
                                  int first_counted) {
  char role[64], buf[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (%s)", index, name);
  KILN_TRY(kiln_require_input(ctx, index, name));
  const kiln_tensor *t = ctx->inputs[index];
  if (!is_quant_activation(t->dtype) &&
      !(allow_float && t->dtype == KILN_FLOAT32))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has type %s; expected int8, uint8 or int16%s", role,
                      kiln_dtype_name(t->dtype),
                      allow_float ? " (or float32 with int8 weights)" : "");
  if (t->rank < min_rank || (max_rank >= 0 && t->rank > max_rank))
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s has shape %s: rank %d", role,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf),
                      t->rank);
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] < 0 || (t->dims[d] == 0 && d >= first_counted))
      return kiln_error(KILN_ERR_INVALID_MODEL, "%s has empty shape %s", role,
                        kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  return NULL;
}

kiln_status *kiln_q_require_input(const kiln_op_ctx *ctx, int index,
                                  const char *name, bool allow_float,
                                  int min_rank, int max_rank) {
  return require_input(ctx, index, name, allow_float, min_rank, max_rank, 0);
}

kiln_status *kiln_q_require_batch_input(const kiln_op_ctx *ctx, int index,
                                        const char *name, bool allow_float,
                                        int min_rank, int max_rank) {
  return require_input(ctx, index, name, allow_float, min_rank, max_rank, 1);
}

kiln_status *kiln_q_require_weights(const kiln_op_ctx *ctx, int index,
                                    int rank) {
  char role[64], buf[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (weights)", index);
  KILN_TRY(kiln_require_input(ctx, index, "weights"));
  const kiln_tensor *w = ctx->inputs[index];
  if (w->dtype != KILN_INT8 && w->dtype != KILN_UINT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has type %s; expected int8 or uint8", role,
                      kiln_dtype_name(w->dtype));
  if (w->rank != rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has shape %s; expected rank %d", role,
                      kiln_dims_str(w->dims, w->rank, buf, sizeof buf), rank);
  for (int d = 0; d < w->rank; d++)
    if (w->dims[d] <= 0)
      return kiln_error(KILN_ERR_INVALID_MODEL, "%s has empty shape %s", role,
                        kiln_dims_str(w->dims, w->rank, buf, sizeof buf));
  return NULL;
}

kiln_status *kiln_q_check_bias(const kiln_op_ctx *ctx, int index, int64_t count,
                               bool hybrid) {
  if (index >= ctx->num_inputs || !ctx->inputs[index]) return NULL;
  const kiln_tensor *b = ctx->inputs[index];
  char buf[KILN_DIMS_STR_SIZE];
  if (hybrid && b->dtype != KILN_FLOAT32)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (bias) has type %s; a hybrid node takes "
                      "float32",
                      index, kiln_dtype_name(b->dtype));
  if (b->rank != 1 || b->dims[0] != count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (bias) has shape %s; expected [%lld] (one per "
                      "output channel)",
                      index, kiln_dims_str(b->dims, b->rank, buf, sizeof buf),
                      (long long)count);
  return NULL;
}

kiln_status *kiln_q_check_output_type(const kiln_op_ctx *ctx,
                                      const kiln_tensor *in) {
  const kiln_tensor *out = ctx->outputs[0];
  kiln_dtype want = in->dtype;
  if (out->dtype != want)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; expected %s like the input",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(want));
  return NULL;
}
