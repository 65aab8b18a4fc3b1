/* qhybrid_epilogue_vnni.c - the AVX-512 epilogue of the VNNI hybrid GEMM,
 * 16 lanes at a time. Each lane does what the portable code
 * (qhybrid_epilogue.c) does to one value, with the
 * same IEEE operations in the same order (no fused multiply-add), so the
 * results are bit-identical; activations other than the clamps run the
 * scalar kiln_activate on the stored row. */
#include <immintrin.h>

#include "kernels/qhybrid/qhybrid.h"

/* The clamp activations as the scalar kiln_activate computes them
 * (comparisons, not max/min, so -0 and NaN come out the same). */
static inline __m512 clamp16(__m512 v, kiln_activation act) {
  float lo, hi;
  switch (act) {
    case KILN_ACT_RELU:
      return _mm512_mask_mov_ps(
          v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ),
          _mm512_setzero_ps());
    case KILN_ACT_RELU6:
      lo = 0.0f;
      hi = 6.0f;
      break;
    case KILN_ACT_RELU_N1_TO_1:
      lo = -1.0f;
      hi = 1.0f;
      break;
    default:
      return v;
  }
  __m512 l = _mm512_set1_ps(lo), h = _mm512_set1_ps(hi);
  __m512 r = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, h, _CMP_GT_OQ), h);
  return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(v, l, _CMP_LT_OQ), l);
}

void kiln_qh_epilogue_avx512(const qh_epilogue *e, const qh_quant *qs, int rows,
                             const int32_t *acc, int64_t acc_stride, int64_t c0,
                             int64_t cols, float *out, int64_t out_stride) {
  bool clamp = e->act == KILN_ACT_NONE || e->act == KILN_ACT_RELU ||
               e->act == KILN_ACT_RELU6 || e->act == KILN_ACT_RELU_N1_TO_1;
  /* The channels' values once per 16 columns, then every row. */
  for (int64_t i = 0; i < cols; i += 16) {
    int64_t c = c0 + i;
    __mmask16 m = cols - i >= 16 ? (__mmask16)0xffff
                                 : (__mmask16)((1u << (cols - i)) - 1);
    __m512i fsum = _mm512_maskz_loadu_epi32(m, e->filter_sum + c);
    __m512 fsum_f = _mm512_cvtepi32_ps(fsum);
    __m512 fscale = e->per_channel
                        ? _mm512_maskz_loadu_ps(m, e->filter_scale + c)
                        : _mm512_set1_ps(e->filter_scale[0]);
    __m512 bias =
        e->bias ? _mm512_maskz_loadu_ps(m, e->bias + c) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) {
      const qh_quant *q = &qs[r];
      __m512i sum = _mm512_maskz_loadu_epi32(m, acc + r * acc_stride + i);
      __m512 qscale = _mm512_set1_ps(q->scale);
      __m512 v;
      if (e->conv) {
        sum = _mm512_sub_epi32(
            sum, _mm512_mullo_epi32(_mm512_set1_epi32(q->offset), fsum));
        if (e->per_channel) {
          v = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), fscale);
          v = _mm512_mul_ps(v, qscale);
        } else {
          v = _mm512_mul_ps(_mm512_cvtepi32_ps(sum),
                            _mm512_set1_ps(q->scale * e->filter_scale[0]));
        }
        if (e->bias) v = _mm512_add_ps(v, bias);
      } else {
        if (e->asym) {
          __m512 share =
              _mm512_mul_ps(fsum_f, _mm512_set1_ps((float)q->offset));
          sum = _mm512_cvttps_epi32(
              _mm512_sub_ps(_mm512_cvtepi32_ps(sum), share));
        }
        __m512 scale = e->per_channel
                           ? _mm512_mul_ps(qscale, fscale)
                           : _mm512_set1_ps(q->scale * e->filter_scale[0]);
        v = _mm512_add_ps(bias, _mm512_mul_ps(_mm512_cvtepi32_ps(sum), scale));
      }
      _mm512_mask_storeu_ps(out + r * out_stride + c, m,
                            clamp ? clamp16(v, e->act) : v);
    }
  }
  if (!clamp)
    for (int r = 0; r < rows; r++)
      for (int64_t i = 0; i < cols; i++)
        out[r * out_stride + c0 + i] =
            kiln_activate(out[r * out_stride + c0 + i], e->act);
}
