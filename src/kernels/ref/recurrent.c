/* recurrent.c - operand checks and arithmetic shared by the recurrent
 * reference kernels (see recurrent.h). */
#include "kernels/ref/recurrent.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

/* ------------------------------------------------------ hybrid weights */

kiln_status *kiln_rec_weights(const kiln_op_ctx *ctx, int index,
                              const char *role, bool required, int64_t d0,
                              int64_t d1, kiln_rec_matrix *out) {
  memset(out, 0, sizeof *out);
  if (index >= ctx->num_inputs || !ctx->inputs[index]) {
    if (required) return kiln_require_input(ctx, index, role);
    return NULL;
  }
  const kiln_tensor *t = ctx->inputs[index];
  if (t->dtype != KILN_INT8)
    KILN_TRY(kiln_rec_operand(ctx, index, role, required, d0, d1, &out->f));
  else {
    char buf[KILN_DIMS_STR_SIZE];
    int rank = d1 < 0 ? 1 : 2;
    if (t->rank != rank || t->dims[0] <= 0 || (rank == 2 && t->dims[1] <= 0))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (%s) must be a non-empty %s, has shape %s",
                        index, role, rank == 1 ? "vector" : "matrix",
                        kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
    if ((d0 > 0 && t->dims[0] != d0) || (d1 > 0 && t->dims[1] != d1))
      return shape_error(ctx, index, role, d0, d1);
    if (!t->quant || t->quant->count != 1 || t->quant->zero_point[0] != 0 ||
        !(t->quant->scale[0] > 0.0f) || isinf(t->quant->scale[0]))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input %d (%s) is int8 but not quantized with one "
                        "positive scale and zero point 0 (hybrid weights)",
                        index, role);
    out->q = t->data;
    out->scale = t->quant->scale[0];
  }
  out->rows = t->dims[0];
  out->cols = t->rank == 2 ? t->dims[1] : 1;
  return NULL;
}

/* Rounds half away from zero, as TFLite's TfLiteRound (std::round). */
static int32_t round_away(float x) { return (int32_t)roundf(x); }

kiln_rec_quant kiln_rec_quantize_row(const float *x, int64_t n,
                                     bool asymmetric) {
  float lo = n > 0 ? x[0] : 0.0f, hi = lo;
  for (int64_t i = 1; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  return kiln_rec_quantize_range(lo, hi, asymmetric);
}

kiln_rec_quant kiln_rec_quantize_range(float lo, float hi, bool asymmetric) {
  kiln_rec_quant q = {1.0f, 1.0f, 0, asymmetric ? -128 : -127};
  if (!asymmetric) {
    float range = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
    if (range == 0.0f) return q; /* every value quantizes to 0 */
    q.scale = range / 127.0f;
    q.inv = 127.0f / range;
    return q;
  }
  /* The range always holds 0, so that 0 is exact; the zero point comes
   * from whichever end gives the smaller error, nudged into [-128, 127]. */
  double rmin = lo < 0.0f ? lo : 0.0, rmax = hi > 0.0f ? hi : 0.0;
  if (rmin == rmax) return q;
  double scale = (rmax - rmin) / 255.0;
  double from_min = -128.0 - rmin / scale, from_max = 127.0 - rmax / scale;
  double err_min = 128.0 + fabs(rmin / scale);
  double err_max = 127.0 + fabs(rmax / scale);
  double zero = err_min < err_max ? from_min : from_max;
  q.offset = zero <= -128.0 ? -128 : zero >= 127.0 ? 127 : (int32_t)round(zero);
  q.scale = (float)scale;
  q.inv = (float)(1.0 / (float)scale);
  return q;
}

int32_t kiln_rec_quantize(const kiln_rec_quant *q, float x) {
  int32_t v = round_away((float)q->offset + x * q->inv);
  return v < q->qmin ? q->qmin : (v > 127 ? 127 : v);
}

double kiln_rec_matvec(const kiln_rec_matrix *m, int64_t row, const float *x,
                       const kiln_rec_quant *q) {
  if (m->f) return kiln_rec_dot(m->f + row * m->cols, x, m->cols);
  const int8_t *w = m->q + row * m->cols;
  int32_t dot = 0, row_sum = 0;
  for (int64_t i = 0; i < m->cols; i++) {
    dot += w[i] * kiln_rec_quantize(q, x[i]);
    row_sum += w[i];
  }
  dot -= row_sum * q->offset;
  return (double)((float)dot * (q->scale * m->scale));
}
