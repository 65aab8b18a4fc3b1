/* recurrent.c - operand checks and arithmetic shared by the recurrent
 * reference kernels (see recurrent.h). */
#include "kernels/ref/recurrent.h"

#include <math.h>
#include <stdio.h>

static kiln_status *shape_error(const kiln_op_ctx *ctx, int index,
                                const char *role, int64_t d0, int64_t d1) {
  const kiln_tensor *t = ctx->inputs[index];
  char got[KILN_DIMS_STR_SIZE], want[64];
  if (d1 < 0)
    snprintf(want, sizeof want, "[%lld]", (long long)d0);
  else
    snprintf(want, sizeof want, "[%lld,%lld]", (long long)d0, (long long)d1);
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "input %d (%s) has shape %s; expected %s (0: any size)",
                    index, role,
                    kiln_dims_str(t->dims, t->rank, got, sizeof got), want);
}

kiln_status *kiln_rec_operand(const kiln_op_ctx *ctx, int index,
                              const char *role, bool required, int64_t d0,
                              int64_t d1, const float **data) {
  *data = NULL;
  if (index >= ctx->num_inputs || !ctx->inputs[index]) {
    if (required) return kiln_require_input(ctx, index, role);
    return NULL;
  }
  const kiln_tensor *t = ctx->inputs[index];
  KILN_TRY(kiln_require_float_input(ctx, index, role, d1 < 0 ? 1 : 2,
                                    d1 < 0 ? 1 : 2));
  if ((d0 > 0 && t->dims[0] != d0) || (d1 > 0 && t->dims[1] != d1))
    return shape_error(ctx, index, role, d0, d1);
  *data = t->data;
  return NULL;
}

kiln_status *kiln_rec_state(const kiln_op_ctx *ctx, int index, const char *role,
                            int64_t batch, int64_t n, float **data) {
  const float *state;
  KILN_TRY(kiln_rec_operand(ctx, index, role, true, batch, n, &state));
  *data = (float *)state;
  return NULL;
}

kiln_status *kiln_rec_sequence(const kiln_op_ctx *ctx, int index,
                               const char *role, bool time_major,
                               kiln_rec_seq *out) {
  KILN_TRY(kiln_require_float_input(ctx, index, role, 3, 3));
  const kiln_tensor *t = ctx->inputs[index];
  out->time_major = time_major;
  out->time = time_major ? t->dims[0] : t->dims[1];
  out->batch = time_major ? t->dims[1] : t->dims[0];
  out->features = t->dims[2];
  return NULL;
}

kiln_status *kiln_rec_sequence_output(const kiln_op_ctx *ctx, int index,
                                      const kiln_rec_seq *s, int64_t features) {
  kiln_tensor *out = ctx->outputs[index];
  char role[32];
  snprintf(role, sizeof role, "output %d", index);
  KILN_TRY(kiln_require_dtype(out, KILN_FLOAT32, role));
  int64_t dims[3] = {s->time_major ? s->time : s->batch,
                     s->time_major ? s->batch : s->time, features};
  kiln_set_shape(out, dims, 3);
  return NULL;
}

double kiln_rec_dot(const float *a, const float *b, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += (double)a[i] * b[i];
  return sum;
}

float kiln_rec_sigmoid(double x) { return (float)(1.0 / (1.0 + exp(-x))); }

kiln_status *kiln_rec_check_clip(float clip, const char *what) {
  if (!(clip >= 0.0f) || isinf(clip))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s is %g; it must be a finite number >= 0 (0: no "
                      "clipping)",
                      what, (double)clip);
  return NULL;
}

double kiln_rec_flops(const kiln_op_ctx *ctx, double rows, const int *skip) {
  double weights = 0.0;
  for (int i = 0; i < ctx->num_inputs; i++) {
    bool skipped = false;
    for (const int *s = skip; *s >= 0; s++) skipped |= *s == i;
    const kiln_tensor *t = ctx->inputs[i];
    if (skipped || !t || t->rank != 2) continue;
    weights += (double)kiln_tensor_numel(t);
  }
  return 2.0 * rows * weights;
}
