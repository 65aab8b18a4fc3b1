/* softmax.c - int8 SOFTMAX ("q8-softmax-table"): the reference
 * (kernels/ref/quant_softmax.c) rescales each difference from the row's
 * max, x - max in [-255, 0], and takes its fixed-point exp; beta and the
 * input scale are constant, so the packer computes those 256 exps (and
 * their Q12.19 contributions to the row sum) once at load with the
 * reference's own functions. A row then costs a max, a sum of table
 * entries, one reciprocal and one rescale per element, all in the
 * reference's integer steps. uint8, int16 and float nodes are declined. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

enum { SCALED_DIFF_BITS = 5, ACCUM_BITS = 12 };

typedef struct softmax_table {
  /* Indexed by max - x: exp(beta * s * (x - max)) in Q0.31, and its term
   * of the row sum; `used` false where the reference skips the value
   * (below its input radius: output the type's minimum, nothing summed). */
  int32_t exp[256];
  int32_t term[256];
  bool used[256];
} softmax_table;

kiln_status *kiln_q8_softmax_pack(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out) {
  *out = NULL;
  if (ctx->num_inputs != 1 || ctx->num_outputs != 1 || !ctx->inputs[0] ||
      !ctx->outputs[0])
    return NULL;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (x->dtype != KILN_INT8 || y->dtype != KILN_INT8) return NULL;
  /* What the reference refuses stays the reference's to report. */
  kiln_status *st = kiln_qshape_softmax(ctx);
  if (st) {
    kiln_status_free(st);
    return NULL;
  }
  kiln_qparams qx;
  st = kiln_q_params(x, "input 0 (x)", false, &qx);
  if (st) {
    kiln_status_free(st);
    return NULL;
  }
  /* The reference's plan: TFLite's PreprocessSoftmaxScaling and
   * CalculateInputRadius. */
  const kiln_softmax_attrs *attrs = ctx->attrs;
  const double beta = attrs ? attrs->beta : 1.0;
  double real =
      beta * (double)qx.scale * (double)(INT64_C(1) << (31 - SCALED_DIFF_BITS));
  if (real > 2147483647.0) real = 2147483647.0;
  int32_t multiplier;
  int left_shift;
  kiln_quantize_multiplier_greater_than_one(real, &multiplier, &left_shift);
  const double radius = (double)((1 << SCALED_DIFF_BITS) - 1) *
                        (double)(INT64_C(1) << (31 - SCALED_DIFF_BITS)) /
                        (double)(INT64_C(1) << left_shift);
  const int32_t diff_min = -(int32_t)floor(radius);
  softmax_table *t = kiln_malloc(a, sizeof *t);
  if (!t) return KILN_OOM();
  for (int d = 0; d < 256; d++) {
    const int32_t diff = -d;
    t->used[d] = diff >= diff_min;
    t->exp[d] = t->term[d] = 0;
    if (!t->used[d]) continue;
    t->exp[d] = kiln_q_exp_on_negative(
        kiln_mul_by_quantized_multiplier_greater_than_one(diff, multiplier,
                                                          left_shift));
    t->term[d] = kiln_rounding_divide_by_pot(t->exp[d], ACCUM_BITS);
  }
  *out = t;
  return NULL;
}

bool kiln_q8_softmax_applies(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  return ctx->packed && x->dtype == KILN_INT8 && y->dtype == KILN_INT8 &&
         x->rank >= 1 && kiln_tensor_numel(x) == kiln_tensor_numel(y);
}

kiln_status *kiln_q8_softmax_run(const kiln_op_ctx *ctx) {
  const softmax_table *t = ctx->packed;
  const kiln_tensor *x = ctx->inputs[0];
  const int8_t *in = x->data;
  int8_t *out = ctx->outputs[0]->data;
  const int64_t depth = x->dims[x->rank - 1];
  const int64_t total = kiln_tensor_numel(x);
  for (int64_t r = 0; depth > 0 && r < total; r += depth) {
    const int8_t *row = in + r;
    int32_t max = INT8_MIN;
    for (int64_t c = 0; c < depth; c++)
      if (row[c] > max) max = row[c];
    /* Summed as the reference's int32 (wrapping where it would). */
    uint32_t sum = 0;
    for (int64_t c = 0; c < depth; c++) sum += (uint32_t)t->term[max - row[c]];
    /* The reciprocal of the Q12.19 sum as TFLite's GetReciprocal. */
    int headroom_plus_one;
    const uint32_t shifted = kiln_q_normalize_sum(sum, &headroom_plus_one);
    const int over = ACCUM_BITS - headroom_plus_one;
    const int32_t shifted_minus_one = (int32_t)(shifted - (UINT32_C(1) << 31));
    const int32_t scale = kiln_q_one_over_one_plus(shifted_minus_one);
    const int exponent = over + 31 - 8;
    for (int64_t c = 0; c < depth; c++) {
      const int d = max - row[c];
      int32_t q = INT8_MIN;
      if (t->used[d]) {
        const int32_t unsat =
            kiln_rounding_divide_by_pot(kiln_srdhm(scale, t->exp[d]), exponent);
        q = kiln_q_clamp(unsat + INT8_MIN, INT8_MIN, INT8_MAX);
      }
      out[r + c] = (int8_t)q;
    }
  }
  return NULL;
}
