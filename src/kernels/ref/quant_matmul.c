/* quant_matmul.c - TFLite's integer FULLY_CONNECTED (int8 per-tensor or
 * per-channel, uint8 legacy with weight zero points, int16 x int8 with
 * int64 sums) and BATCH_MATMUL (int8, int16): int32 or int64 dot products
 * of zero-point-corrected operands, then quant_params.h's multiplier, the
 * output zero point and the clamp, giving LiteRT's reference results
 * exactly. Also their shape functions, which hybrid nodes share. */
#include "kernels/ref/quant_matmul.h"

#include "kernels/ref/quant_common.h"

/* ---------------------------------------------------- FULLY_CONNECTED */

kiln_status *kiln_q_shape_fully_connected(const kiln_op_ctx *ctx) {
  const kiln_fully_connected_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 3, 1));
  KILN_TRY(kiln_check_activation(a->activation));
  KILN_TRY(kiln_q_require_batch_input(ctx, 0, "input", true, 1, -1));
  KILN_TRY(kiln_q_require_weights(ctx, 1, 2));
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  KILN_TRY(kiln_q_check_output_type(ctx, in));
  int64_t n = w->dims[0], k = w->dims[1];
  if (kiln_tensor_numel(in) % k != 0 ||
      (a->keep_num_dims && in->dims[in->rank - 1] != k)) {
    char si[KILN_DIMS_STR_SIZE], sw[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has shape %s, which does not split "
                      "into rows of %lld for input 1 (weights) shape %s",
                      kiln_dims_str(in->dims, in->rank, si, sizeof si),
                      (long long)k, kiln_dims_str(w->dims, 2, sw, sizeof sw));
  }
  KILN_TRY(kiln_q_check_bias(ctx, 2, n, in->dtype == KILN_FLOAT32));
  int64_t dims[KILN_MAX_RANK];
  if (!a->keep_num_dims) {
    dims[0] = kiln_tensor_numel(in) / k;
    dims[1] = n;
    kiln_set_shape(ctx->outputs[0], dims, 2);
    return NULL;
  }
  for (int i = 0; i < in->rank - 1; i++) dims[i] = in->dims[i];
  dims[in->rank - 1] = n;
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

kiln_status *kiln_q_fully_connected(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_quant_require_params(ctx));
  const kiln_quant_params *p = ctx->quant;
  if (p->hybrid) return kiln_hybrid_fully_connected(ctx);
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  const kiln_tensor *b = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
  kiln_tensor *out = ctx->outputs[0];
  int64_t n = w->dims[0], k = w->dims[1];
  int64_t rows = kiln_tensor_numel(in) / k;
  bool wide = p->wide_acc;
  int64_t i = 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < n; j++, i++) {
      int64_t sum = 0;
      int32_t v;
      if (p->bias32) {
        /* Folded at load: bias - input_zp * sum(weights row j). */
        for (int64_t t = 0; t < k; t++)
          sum += (int64_t)kiln_q_load(in->data, in->dtype, r * k + t) *
                 kiln_q_load(w->data, w->dtype, j * k + t);
        sum += p->bias32[j];
      } else {
        for (int64_t t = 0; t < k; t++)
          sum += (int64_t)(kiln_q_load(in->data, in->dtype, r * k + t) -
                           p->input_zp) *
                 (kiln_q_load(w->data, w->dtype, j * k + t) - p->filter_zp);
        if (b && !wide) sum += ((const int32_t *)b->data)[j];
      }
      if (wide)
        v = kiln_q_requantize64(p, j, sum + (p->bias64 ? p->bias64[j] : 0));
      else
        v = kiln_q_requantize(p, j, (int32_t)(uint32_t)(uint64_t)sum);
      kiln_q_store(out->data, out->dtype, i, v);
    }
  return NULL;
}

/* ------------------------------------------------------- BATCH_MATMUL */

void kiln_matmul_matrix_dims(const kiln_tensor *t, bool adjoint, int64_t *rows,
                             int64_t *cols) {
  int64_t r = t->dims[t->rank - 2], c = t->dims[t->rank - 1];
  *rows = adjoint ? c : r;
  *cols = adjoint ? r : c;
}

kiln_status *kiln_batch_matmul_dims(const kiln_op_ctx *ctx, bool name_adjoints,
                                    int64_t *dims, int *rank) {
  const kiln_batch_matmul_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  char sx[KILN_DIMS_STR_SIZE], sy[KILN_DIMS_STR_SIZE];
  kiln_dims_str(x->dims, x->rank, sx, sizeof sx);
  kiln_dims_str(y->dims, y->rank, sy, sizeof sy);
  int64_t m, kx, ky, n;
  kiln_matmul_matrix_dims(x, a->adj_x, &m, &kx);
  kiln_matmul_matrix_dims(y, a->adj_y, &ky, &n);
  if (kx != ky && name_adjoints)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) shape %s (adj_x %d) and input 1 (y) shape "
                      "%s (adj_y %d) disagree on the inner dimension: %lld vs "
                      "%lld",
                      sx, (int)a->adj_x, sy, (int)a->adj_y, (long long)kx,
                      (long long)ky);
  if (kx != ky)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) shape %s and input 1 (y) shape %s disagree "
                      "on the inner dimension: %lld vs %lld",
                      sx, sy, (long long)kx, (long long)ky);
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank - 2, y->dims, y->rank - 2, dims,
                            rank),
      "batch dimensions of input 0 (x) shape %s and input 1 (y) shape %s", sx,
      sy));
  dims[*rank] = m;
  dims[*rank + 1] = n;
  *rank += 2;
  return NULL;
}

kiln_status *kiln_q_shape_batch_matmul(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_q_require_input(ctx, 0, "x", true, 2, -1));
  KILN_TRY(kiln_q_require_input(ctx, 1, "y", false, 2, -1));
  KILN_TRY(kiln_q_check_output_type(ctx, ctx->inputs[0]));
  int64_t dims[KILN_MAX_RANK];
  int rank;
  KILN_TRY(kiln_batch_matmul_dims(ctx, false, dims, &rank));
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

int64_t kiln_q_batch_offset(const kiln_tensor *t, const kiln_tensor *out,
                            int64_t index) {
  int64_t dims[KILN_MAX_RANK], strides[KILN_MAX_RANK], offset = 0;
  for (int i = 0; i < out->rank - 2; i++) dims[i] = out->dims[i];
  dims[out->rank - 2] = t->dims[t->rank - 2];
  dims[out->rank - 1] = t->dims[t->rank - 1];
  kiln_broadcast_strides(t, dims, out->rank, strides);
  for (int i = out->rank - 3; i >= 0; i--) {
    offset += (index % out->dims[i]) * strides[i];
    index /= out->dims[i];
  }
  return offset;
}

kiln_status *kiln_q_batch_matmul(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_quant_require_params(ctx));
  const kiln_quant_params *p = ctx->quant;
  if (p->hybrid) return kiln_hybrid_batch_matmul(ctx);
  const kiln_batch_matmul_attrs *a = ctx->attrs;
  const kiln_tensor *xt = ctx->inputs[0], *yt = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int64_t m, k;
  kiln_matmul_matrix_dims(xt, a->adj_x, &m, &k);
  int64_t n = out->dims[out->rank - 1];
  int64_t x_rs = a->adj_x ? 1 : k, x_cs = a->adj_x ? m : 1;
  int64_t y_rs = a->adj_y ? 1 : n, y_cs = a->adj_y ? k : 1;
  int64_t batches = kiln_tensor_numel(out) / (m * n), i = 0;
  bool wide = p->wide_acc;
  for (int64_t bi = 0; bi < batches; bi++) {
    int64_t xo = kiln_q_batch_offset(xt, out, bi),
            yo = kiln_q_batch_offset(yt, out, bi);
    for (int64_t r = 0; r < m; r++)
      for (int64_t c = 0; c < n; c++, i++) {
        int64_t sum = 0;
        for (int64_t t = 0; t < k; t++)
          sum += (int64_t)(kiln_q_load(xt->data, xt->dtype,
                                       xo + r * x_rs + t * x_cs) -
                           p->input_zp) *
                 (kiln_q_load(yt->data, yt->dtype, yo + t * y_rs + c * y_cs) -
                  p->filter_zp);
        int32_t v =
            wide ? kiln_q_requantize64(p, 0, sum)
                 : kiln_q_requantize(p, 0, (int32_t)(uint32_t)(uint64_t)sum);
        kiln_q_store(out->data, out->dtype, i, v);
      }
  }
  return NULL;
}
