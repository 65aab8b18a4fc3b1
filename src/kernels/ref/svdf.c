/* svdf.c - reference SVDF (TFLite's svdf.cc: a fully connected layer
 * factored into rank-1 filters over time), float32 or hybrid (int8
 * weights, the input quantized per row, see recurrent.h). Per batch row, each
 * of the num_filters filters keeps a memory of its last memory_size feature
 * values in the state variable ([batch, num_filters * memory_size], the
 * oldest first); an invoke
 *   writes feature f = weights_feature[f] . x into the newest slot,
 *   outputs unit u = act(bias[u] + sum over its `rank` filters f of
 *     weights_time[f] . memory[f]),
 *   and shifts every memory one slot older, clearing the newest, as
 * TFLite's reference does. */
#include <string.h>

#include "kernels/ref/recurrent.h"

enum { INPUT, WEIGHTS_FEATURE, WEIGHTS_TIME, BIAS, STATE, SVDF_INPUTS };

typedef struct svdf_op {
  kiln_rec_matrix wf, wt; /* int8 weights_feature: hybrid */
  const float *x, *bias;
  float *state;
  int64_t batch, n_input, filters, memory, units;
} svdf_op;

static kiln_status *read_svdf(const kiln_op_ctx *ctx, svdf_op *s) {
  const kiln_svdf_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, SVDF_INPUTS, SVDF_INPUTS, 1));
  KILN_TRY(kiln_check_activation(a->activation));
  KILN_TRY(kiln_require_float_input(ctx, INPUT, "input", 2, 2));
  const kiln_tensor *in = ctx->inputs[INPUT];
  s->x = in->data;
  s->batch = in->dims[0];
  s->n_input = in->dims[1];
  KILN_TRY(kiln_rec_weights(ctx, WEIGHTS_FEATURE, "weights_feature", true, 0,
                            s->n_input, &s->wf));
  s->filters = s->wf.rows;
  if (a->rank < 1 || s->filters % a->rank != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "rank %d does not divide the %lld filters of input 1 "
                      "(weights_feature)",
                      a->rank, (long long)s->filters);
  s->units = s->filters / a->rank;
  KILN_TRY(kiln_rec_weights(ctx, WEIGHTS_TIME, "weights_time", true, s->filters,
                            0, &s->wt));
  s->memory = s->wt.cols;
  /* int8 time weights only beside int8 feature weights (the hybrid form,
   * where TFLite reads them dequantized). */
  if (s->wt.q && !s->wf.q)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 2 (weights_time) is int8 but input 1 "
                      "(weights_feature) is float32");
  KILN_TRY(kiln_rec_operand(ctx, BIAS, "bias", false, s->units, -1, &s->bias));
  return kiln_rec_state(ctx, STATE, "state", s->batch, s->filters * s->memory,
                        &s->state);
}

kiln_status *kiln_shape_svdf(const kiln_op_ctx *ctx) {
  svdf_op s;
  KILN_TRY(read_svdf(ctx, &s));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  int64_t dims[2] = {s.batch, s.units};
  kiln_set_shape(ctx->outputs[0], dims, 2);
  return NULL;
}

kiln_status *kiln_ref_svdf(const kiln_op_ctx *ctx) {
  const kiln_svdf_attrs *a = ctx->attrs;
  svdf_op s;
  KILN_TRY(read_svdf(ctx, &s));
  float *out = ctx->outputs[0]->data;
  for (int64_t b = 0; b < s.batch; b++) {
    const float *x = s.x + b * s.n_input;
    float *memory = s.state + b * s.filters * s.memory;
    kiln_rec_quant q;
    memset(&q, 0, sizeof q);
    if (s.wf.q)
      q = kiln_rec_quantize_row(x, s.n_input, a->asymmetric_quantize_inputs);
    for (int64_t f = 0; f < s.filters; f++)
      memory[f * s.memory + s.memory - 1] =
          (float)kiln_rec_matvec(&s.wf, f, x, &q);
    for (int64_t u = 0; u < s.units; u++) {
      double sum = s.bias ? s.bias[u] : 0.0;
      for (int r = 0; r < a->rank; r++) {
        int64_t f = u * a->rank + r;
        for (int64_t k = 0; k < s.memory; k++)
          sum += (double)kiln_rec_element(&s.wt, f * s.memory + k) *
                 memory[f * s.memory + k];
      }
      out[b * s.units + u] = kiln_activate((float)sum, a->activation);
    }
    for (int64_t f = 0; f < s.filters; f++) {
      float *m = memory + f * s.memory;
      memmove(m, m + 1, sizeof(float) * (size_t)(s.memory - 1));
      m[s.memory - 1] = 0.0f;
    }
  }
  return NULL;
}

double kiln_flops_svdf(const kiln_op_ctx *ctx) {
  static const int data[] = {INPUT, STATE, -1};
  if (ctx->num_inputs < 1 || !ctx->inputs[INPUT] ||
      ctx->inputs[INPUT]->rank != 2)
    return 0.0;
  return kiln_rec_flops(ctx, (double)ctx->inputs[INPUT]->dims[0], data);
}
