/* qgemm_pack.c - what the int8 GEMM variants do at load: decide whether a
 * node is one they run (int8 throughout, weights constant with zero point
 * 0, the bias folded), and pack its weights with the per-channel
 * requantization into panels (layout in qgemm.h). Also the scalar output
 * stage the microkernels' epilogues must equal. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_params.h"

int8_t kiln_qgemm_requantize(int32_t acc, const void *panel, int nr, int col,
                             const kiln_qgemm_out *out) {
  if (out->fp32) {
    float scale;
    memcpy(&scale, kiln_qgemm_param(panel, nr, KILN_QGEMM_FSCALE) + col, 4);
    return (int8_t)kiln_fp32_requantize(acc, scale, out->zero_point,
                                        out->act_min, out->act_max);
  }
  int32_t mult = kiln_qgemm_param(panel, nr, KILN_QGEMM_MULT)[col];
  int shift = kiln_qgemm_param(panel, nr, KILN_QGEMM_SHIFT)[col];
  int32_t v = out->single_rounding
                  ? kiln_mul_by_quantized_multiplier_single(acc, mult, shift)
                  : kiln_mul_by_quantized_multiplier(acc, mult, shift);
  /* The reference adds in int32 too (quant_common.h). */
  v = (int32_t)((uint32_t)v + (uint32_t)out->zero_point);
  v = v < out->act_min ? out->act_min : v;
  v = v > out->act_max ? out->act_max : v;
  return (int8_t)v;
}

static bool is_int8(const kiln_tensor *t) { return t && t->dtype == KILN_INT8; }

kiln_status *kiln_qgemm_node_params(kiln_op_type op, const kiln_op_ctx *ctx,
                                    const kiln_allocator *a,
                                    kiln_quant_params **out) {
  *out = NULL;
  if (ctx->num_inputs < 2 || ctx->num_outputs < 1) return NULL;
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  if (!ctx->outputs || !is_int8(in) || !is_int8(w) || !w->data ||
      !is_int8(ctx->outputs[0]))
    return NULL;
  const kiln_tensor *bias = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
  if (bias && (bias->dtype != KILN_INT32 || !bias->data)) return NULL;
  kiln_quant_params *q = NULL;
  kiln_status *st = kiln_quant_params_build(op, ctx, a, &q);
  if (st) {
    /* Running out of memory is reported; a bad parameter is reported when
     * the runtime builds the node's own block, and here the node is only
     * left to the reference kernel. */
    if (kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY) return st;
    kiln_status_free(st);
    return NULL;
  }
  bool ok = q && !q->hybrid && !q->wide_acc && q->bias32 && q->multiplier &&
            q->shift && q->filter_zp == 0;
  for (int c = 0; ok && c < q->channels; c++)
    ok = q->shift[c] >= -31 && q->shift[c] <= 30 &&
         q->multiplier[c] != INT32_MIN;
  if (!ok) {
    kiln_free(a, q);
    return NULL;
  }
  *out = q;
  return NULL;
}

const kiln_qgemm_kernel *kiln_qgemm_pick(const kiln_qgemm_level *level,
                                         int64_t n) {
  const kiln_qgemm_kernel *best = level->kernels[0];
  for (int i = 1; i < level->count; i++) {
    const kiln_qgemm_kernel *k = level->kernels[i];
    int64_t waste = (n + k->nr - 1) / k->nr * k->nr - n;
    int64_t best_waste = (n + best->nr - 1) / best->nr * best->nr - n;
    if (waste < best_waste) best = k;
  }
  return best;
}

kiln_status *kiln_qgemm_pack(const kiln_qgemm_kernel *kernel, const int8_t *w,
                             int64_t n, int64_t k, const kiln_quant_params *q,
                             bool fp32, const kiln_allocator *a,
                             void **out_packed) {
  *out_packed = NULL;
  const int nr = kernel->nr;
  if (n < 1 || k < 1 || q->channels != n) return NULL;
  const int64_t kp = (k + 3) & ~(int64_t)3;
  /* Weights past what 32-bit offsets and sizes hold are left to the
   * reference kernel. */
  if (kp > INT32_MAX / 64 || n > INT32_MAX) return NULL;
  uint64_t panel_bytes =
      ((uint64_t)KILN_QGEMM_PARAM_ARRAYS * 4 * nr + (uint64_t)kp * nr + 63) &
      ~(uint64_t)63;
  uint64_t panels = (uint64_t)((n + nr - 1) / nr);
  if (panel_bytes > UINT32_MAX || panels > (SIZE_MAX / 2) / panel_bytes)
    return NULL;
  size_t header = sizeof(kiln_qgemm_header) + KILN_ALIGNMENT;
  char *block = kiln_malloc(a, (size_t)(panels * panel_bytes) + header);
  if (!block) return KILN_OOM();
  uintptr_t first =
      ((uintptr_t)block + sizeof(kiln_qgemm_header) + KILN_ALIGNMENT - 1) &
      ~(uintptr_t)(KILN_ALIGNMENT - 1);
  kiln_qgemm_header *h = (kiln_qgemm_header *)(void *)block;
  *h = (kiln_qgemm_header){
      .k = k,
      .n = n,
      .nr = nr,
      .kp = (int32_t)kp,
      .offset = (uint32_t)(first - (uintptr_t)block),
      .panel_bytes = (uint32_t)panel_bytes,
      .out = {q->output_zp, q->act_min, q->act_max, q->single_rounding, fp32},
      .input_zp = q->input_zp,
      .kernel = kernel,
  };
  char *panel = block + h->offset;
  memset(panel, 0, (size_t)(panels * panel_bytes));
  for (int64_t n0 = 0; n0 < n; n0 += nr, panel += panel_bytes) {
    int32_t *param = (int32_t *)(void *)panel;
    int8_t *pw = (int8_t *)(panel + (size_t)KILN_QGEMM_PARAM_ARRAYS * 4 * nr);
    for (int j = 0; j < nr && n0 + j < n; j++) {
      const int8_t *row = w + (n0 + j) * k;
      int64_t sum = 0;
      for (int64_t i = 0; i < k; i++) {
        sum += row[i];
        pw[(i / 4) * nr * 4 + j * 4 + i % 4] = row[i];
      }
      int64_t c = n0 + j;
      int shift = q->shift[c];
      int right = shift > 0 ? 0 : -shift;
      /* The sums wrap in int32 as TFLite's do, so the fold may too. */
      param[KILN_QGEMM_BIAS * nr + j] =
          (int32_t)(uint32_t)(uint64_t)((int64_t)q->bias32[c] - 128 * sum);
      param[KILN_QGEMM_MULT * nr + j] = q->multiplier[c];
      param[KILN_QGEMM_SHIFT * nr + j] = shift;
      param[KILN_QGEMM_LEFT * nr + j] = shift > 0 ? shift : 0;
      param[KILN_QGEMM_RIGHT * nr + j] = right;
      int32_t mask = (int32_t)((UINT64_C(1) << right) - 1);
      param[KILN_QGEMM_RMASK * nr + j] = mask;
      param[KILN_QGEMM_RHALF * nr + j] = mask >> 1;
      const float scale = kiln_fp32_requant_scale(q->multiplier[c], shift);
      memcpy(&param[KILN_QGEMM_FSCALE * nr + j], &scale, 4);
    }
  }
  *out_packed = block;
  return NULL;
}

bool kiln_qgemm_packed_fits(const void *packed, int64_t n, int64_t k) {
  const kiln_qgemm_header *h = packed;
  return h && h->n == n && h->k == k;
}

const kiln_qgemm_level kiln_qgemm_level_portable = {{&kiln_qgemm_4x8_portable},
                                                    1};
#if defined(__x86_64__)
const kiln_qgemm_level kiln_qgemm_level_avx2 = {{&kiln_qgemm_4x8_avx2}, 1};
const kiln_qgemm_level kiln_qgemm_level_avx512vnni = {
    {&kiln_qgemm_8x32_vnni, &kiln_qgemm_8x16_vnni}, 2};
#endif
