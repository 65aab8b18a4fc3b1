/* qhybrid_epilogue_avx2.c - the AVX2 epilogue of the hybrid GEMM, 8 lanes
 * at a time: int32 sums back to float outputs. Each lane does what the
 * portable code (qhybrid_epilogue.c) does to one value, with the same IEEE
 * operations in the same order (separate multiplies and adds, never a
 * fused multiply-add), so the results are bit-identical; activations other
 * than the clamps run the scalar kiln_activate on the stored row. It
 * mirrors the AVX-512 one (qhybrid_epilogue_vnni.c); a partial block of
 * channels is read and written through lane masks. */
#include <immintrin.h>

#include "kernels/qhybrid/qhybrid.h"

/* The clamp activations as the scalar kiln_activate computes them
 * (comparisons and blends, not max/min, so -0 and NaN come out the same). */
static inline __m256 clamp8(__m256 v, kiln_activation act) {
  float lo, hi;
  switch (act) {
    case KILN_ACT_RELU: {
      const __m256 zero = _mm256_setzero_ps();
      return _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    }
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
  const __m256 l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
  const __m256 r = _mm256_blendv_ps(v, h, _mm256_cmp_ps(v, h, _CMP_GT_OQ));
  return _mm256_blendv_ps(r, l, _mm256_cmp_ps(v, l, _CMP_LT_OQ));
}

void kiln_qh_epilogue_avx2(const qh_epilogue *e, const qh_quant *qs, int rows,
                           const int32_t *acc, int64_t acc_stride, int64_t c0,
                           int64_t cols, float *out, int64_t out_stride) {
  const bool clamp = e->act == KILN_ACT_NONE || e->act == KILN_ACT_RELU ||
                     e->act == KILN_ACT_RELU6 ||
                     e->act == KILN_ACT_RELU_N1_TO_1;
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  /* The channels' values once per 8 columns, then every row. */
  for (int64_t i = 0; i < cols; i += 8) {
    const int64_t c = c0 + i;
    const int left = cols - i >= 8 ? 8 : (int)(cols - i);
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lanes);
    const __m256i fsum = _mm256_maskload_epi32(e->filter_sum + c, m);
    const __m256 fscale = e->per_channel
                              ? _mm256_maskload_ps(e->filter_scale + c, m)
                              : _mm256_set1_ps(e->filter_scale[0]);
    const __m256 bias =
        e->bias ? _mm256_maskload_ps(e->bias + c, m) : _mm256_setzero_ps();
    for (int r = 0; r < rows; r++) {
      const qh_quant *q = &qs[r];
      __m256i sum = _mm256_maskload_epi32(acc + r * acc_stride + i, m);
      const __m256 qscale = _mm256_set1_ps(q->scale);
      __m256 v;
      if (e->conv) {
        /* The offset's share taken out in int32, wrapping as the
         * accumulator does. */
        sum = _mm256_sub_epi32(
            sum, _mm256_mullo_epi32(_mm256_set1_epi32(q->offset), fsum));
        if (e->per_channel) {
          v = _mm256_mul_ps(_mm256_cvtepi32_ps(sum), fscale);
          v = _mm256_mul_ps(v, qscale);
        } else {
          v = _mm256_mul_ps(_mm256_cvtepi32_ps(sum),
                            _mm256_set1_ps(q->scale * e->filter_scale[0]));
        }
        if (e->bias) v = _mm256_add_ps(v, bias);
      } else {
        if (e->asym) {
          /* In float, truncated back, as the reference does. */
          const __m256 share = _mm256_mul_ps(_mm256_cvtepi32_ps(fsum),
                                             _mm256_set1_ps((float)q->offset));
          sum = _mm256_cvttps_epi32(
              _mm256_sub_ps(_mm256_cvtepi32_ps(sum), share));
        }
        const __m256 scale =
            e->per_channel ? _mm256_mul_ps(qscale, fscale)
                           : _mm256_set1_ps(q->scale * e->filter_scale[0]);
        v = _mm256_add_ps(bias, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), scale));
      }
      _mm256_maskstore_ps(out + r * out_stride + c, m,
                          clamp ? clamp8(v, e->act) : v);
    }
  }
  if (!clamp)
    for (int r = 0; r < rows; r++)
      for (int64_t i = 0; i < cols; i++)
        out[r * out_stride + c0 + i] =
            kiln_activate(out[r * out_stride + c0 + i], e->act);
}
