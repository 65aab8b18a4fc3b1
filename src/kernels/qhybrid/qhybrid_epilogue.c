/* qhybrid_epilogue.c - the hybrid GEMM's portable epilogue: int32 sums back
 * to float outputs with exactly the float operations, in the order, of the
 * reference kernels (kernels/ref/quant_hybrid.c), so the outputs are
 * bit-identical. Each step is its own statement so that no compiler fuses
 * a multiply and an add. */
#include "kernels/qhybrid/qhybrid.h"

static void epilogue_row(const qh_epilogue *e, const qh_quant *q,
                         const int32_t *acc, int64_t c0, int64_t cols,
                         float *out) {
  if (e->conv) {
    float tensor_scale = q->scale * e->filter_scale[0];
    for (int64_t i = 0; i < cols; i++) {
      int64_t c = c0 + i;
      /* The reference sums (q - offset) * w: take the offset's share out,
       * in int32 as the accumulator wraps. */
      int32_t sum = (int32_t)((uint32_t)acc[i] -
                              (uint32_t)q->offset * (uint32_t)e->filter_sum[c]);
      float v;
      if (e->per_channel) {
        v = (float)sum * e->filter_scale[c];
        v = v * q->scale;
      } else {
        v = (float)sum * tensor_scale;
      }
      if (e->bias) v = v + e->bias[c];
      out[c] = kiln_activate(v, e->act);
    }
    return;
  }
  float row_scale = e->per_channel ? q->scale : q->scale * e->filter_scale[0];
  for (int64_t i = 0; i < cols; i++) {
    int64_t c = c0 + i;
    int32_t dot = acc[i];
    /* The reference takes the offset's share out in float, truncating. */
    if (e->asym) {
      float share = (float)e->filter_sum[c] * (float)q->offset;
      dot = (int32_t)((float)dot - share);
    }
    float scale = row_scale;
    if (e->per_channel) scale = scale * e->filter_scale[c];
    float v = e->bias ? e->bias[c] : 0.0f;
    float term = (float)dot * scale;
    v = v + term;
    out[c] = kiln_activate(v, e->act);
  }
}

void kiln_qh_epilogue(const qh_epilogue *e, const qh_quant *qs, int rows,
                      const int32_t *acc, int64_t acc_stride, int64_t c0,
                      int64_t cols, float *out, int64_t out_stride) {
  for (int r = 0; r < rows; r++)
    epilogue_row(e, &qs[r], acc + r * acc_stride, c0, cols,
                 out + r * out_stride);
}
