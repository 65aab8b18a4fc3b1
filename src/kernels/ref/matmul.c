/* matmul.c - float32 reference FULLY_CONNECTED and BATCH_MATMUL: plain
 * loops, the oracle that optimized kernels are tested against. */
#include "kernels/kernel.h"
#include "kernels/ref/quant_matmul.h"
#include "kernels/ref/quant_params.h"

static kiln_status *set_output(const kiln_op_ctx *ctx, const int64_t *dims,
                               int rank) {
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(out, KILN_FLOAT32, "output 0"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

/* ---------------------------------------------------- FULLY_CONNECTED */

kiln_status *kiln_shape_fully_connected(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_matmul.c. */
  if (kiln_quant_node(KILN_OP_FULLY_CONNECTED, ctx))
    return kiln_q_shape_fully_connected(ctx);
  const kiln_fully_connected_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 3, 1));
  KILN_TRY(kiln_check_activation(a->activation));
  KILN_TRY(kiln_require_float_batch_input(ctx, 0, "input", 1, -1));
  KILN_TRY(kiln_require_float_input(ctx, 1, "weights", 1, -1));
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  char si[KILN_DIMS_STR_SIZE], sw[KILN_DIMS_STR_SIZE];
  kiln_dims_str(in->dims, in->rank, si, sizeof si);
  kiln_dims_str(w->dims, w->rank, sw, sizeof sw);
  if (w->rank != 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (weights) must have rank 2, has shape %s", sw);
  int64_t n = w->dims[0], k = w->dims[1];
  if (kiln_tensor_numel(in) % k != 0 ||
      (a->keep_num_dims && in->dims[in->rank - 1] != k))
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 0 (input) has shape %s, which does not split "
        "into rows of %lld for input 1 (weights) shape %s%s",
        si, (long long)k, sw,
        a->keep_num_dims ? " (keep_num_dims: last dimension)" : "");
  if (ctx->num_inputs > 2 && ctx->inputs[2]) {
    const kiln_tensor *b = ctx->inputs[2];
    char sb[KILN_DIMS_STR_SIZE];
    KILN_TRY(kiln_require_dtype(b, KILN_FLOAT32, "input 2 (bias)"));
    if (b->rank != 1 || b->dims[0] != n)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 2 (bias) has shape %s; expected [%lld] (rows "
                        "of weights shape %s)",
                        kiln_dims_str(b->dims, b->rank, sb, sizeof sb),
                        (long long)n, sw);
  }
  int64_t dims[KILN_MAX_RANK];
  if (!a->keep_num_dims) {
    dims[0] = kiln_tensor_numel(in) / k;
    dims[1] = n;
    return set_output(ctx, dims, 2);
  }
  for (int i = 0; i < in->rank - 1; i++) dims[i] = in->dims[i];
  dims[in->rank - 1] = n;
  return set_output(ctx, dims, in->rank);
}

kiln_status *kiln_ref_fully_connected(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_matmul.c. */
  if (kiln_quant_node(KILN_OP_FULLY_CONNECTED, ctx))
    return kiln_q_fully_connected(ctx);
  const kiln_fully_connected_attrs *a = ctx->attrs;
  const kiln_tensor *w_t = ctx->inputs[1];
  const float *in = ctx->inputs[0]->data, *w = w_t->data;
  const float *bias =
      ctx->num_inputs > 2 && ctx->inputs[2] ? ctx->inputs[2]->data : NULL;
  float *out = ctx->outputs[0]->data;
  int64_t n = w_t->dims[0], k = w_t->dims[1];
  int64_t rows = kiln_tensor_numel(ctx->inputs[0]) / k;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < n; j++) {
      float acc = 0.0f;
      for (int64_t i = 0; i < k; i++) acc += in[r * k + i] * w[j * k + i];
      if (bias) acc += bias[j];
      *out++ = kiln_activate(acc, a->activation);
    }
  return NULL;
}

double kiln_flops_fully_connected(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 2 || !ctx->inputs[1]) return 0.0;
  double k = (double)ctx->inputs[1]->dims[1];
  return 2.0 * k * (double)kiln_tensor_numel(ctx->outputs[0]);
}

/* ------------------------------------------------------- BATCH_MATMUL */

/* Rows and columns of the matrices an operand holds, after its adjoint. */
kiln_status *kiln_shape_batch_matmul(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_matmul.c. */
  if (kiln_quant_node(KILN_OP_BATCH_MATMUL, ctx))
    return kiln_q_shape_batch_matmul(ctx);
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_float_input(ctx, 0, "x", 2, -1));
  KILN_TRY(kiln_require_float_input(ctx, 1, "y", 2, -1));
  int64_t dims[KILN_MAX_RANK];
  int rank;
  KILN_TRY(kiln_batch_matmul_dims(ctx, true, dims, &rank));
  return set_output(ctx, dims, rank);
}

kiln_status *kiln_ref_batch_matmul(const kiln_op_ctx *ctx) {
  /* Quantized and hybrid nodes: quant_matmul.c. */
  if (kiln_quant_node(KILN_OP_BATCH_MATMUL, ctx))
    return kiln_q_batch_matmul(ctx);
  const kiln_batch_matmul_attrs *a = ctx->attrs;
  const kiln_tensor *x_t = ctx->inputs[0], *y_t = ctx->inputs[1];
  const kiln_tensor *out_t = ctx->outputs[0];
  int64_t m, k;
  kiln_matmul_matrix_dims(x_t, a->adj_x, &m, &k);
  int64_t n = out_t->dims[out_t->rank - 1];
  /* Element (r, c) of a stored matrix is at r*rs + c*cs; adjoint swaps. */
  int64_t x_rs = a->adj_x ? 1 : k, x_cs = a->adj_x ? m : 1;
  int64_t y_rs = a->adj_y ? 1 : n, y_cs = a->adj_y ? k : 1;
  int64_t batches = kiln_tensor_numel(out_t) / (m * n);
  float *out = out_t->data;
  for (int64_t bi = 0; bi < batches; bi++) {
    const float *x =
        (const float *)x_t->data + kiln_q_batch_offset(x_t, out_t, bi);
    const float *y =
        (const float *)y_t->data + kiln_q_batch_offset(y_t, out_t, bi);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        float acc = 0.0f;
        for (int64_t p = 0; p < k; p++)
          acc += x[i * x_rs + p * x_cs] * y[p * y_rs + j * y_cs];
        *out++ = acc;
      }
  }
  return NULL;
}

double kiln_flops_batch_matmul(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 1 || !ctx->inputs[0]) return 0.0;
  const kiln_batch_matmul_attrs *a = ctx->attrs;
  int64_t m, k;
  kiln_matmul_matrix_dims(ctx->inputs[0], a->adj_x, &m, &k);
  return 2.0 * (double)k * (double)kiln_tensor_numel(ctx->outputs[0]);
}
