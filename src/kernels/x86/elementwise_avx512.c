/* elementwise_avx512.c - elementwise, MEAN and pool kernels on AVX-512. */
#include <immintrin.h>
#include <math.h>

#include "core/threadpool.h"
#include "kernels/x86/x86_kernels.h"

/* 16 lanes; tails go through masked loads and stores. */

#define EW_INLINE static inline __attribute__((always_inline))

enum { LANES = 16 };

static __mmask16 tail_mask(size_t n) { return (__mmask16)((1u << n) - 1u); }

/* NaN-preserving clamp: max(lo, v) and min(hi, v) return v when it is NaN,
 * matching the reference's `v < lo ? lo : v` comparisons. */
EW_INLINE __m512 clamp(__m512 v, __m512 lo, __m512 hi) {
  return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
}

/* ------------------------------------------------------------ binary */

EW_INLINE __m512 binop(kiln_binop op, __m512 a, __m512 b) {
  switch (op) {
    case KILN_BINOP_ADD:
      return _mm512_add_ps(a, b);
    case KILN_BINOP_SUB:
      return _mm512_sub_ps(a, b);
    case KILN_BINOP_RSUB:
      return _mm512_sub_ps(b, a);
    default:
      return _mm512_mul_ps(a, b);
  }
}

/* y = clamp(a op b) for a vector b, or for one value b[0] when `scalar`. */
EW_INLINE void vbinary(kiln_binop op, bool scalar, size_t n, const float *a,
                       const float *b, float *y, float lo_, float hi_) {
  const __m512 lo = _mm512_set1_ps(lo_), hi = _mm512_set1_ps(hi_);
  const __m512 bs = _mm512_set1_ps(b[0]);
  size_t i = 0;
  for (; i + 2 * LANES <= n; i += 2 * LANES) {
    __m512 b0 = scalar ? bs : _mm512_loadu_ps(b + i);
    __m512 b1 = scalar ? bs : _mm512_loadu_ps(b + i + LANES);
    __m512 y0 = binop(op, _mm512_loadu_ps(a + i), b0);
    __m512 y1 = binop(op, _mm512_loadu_ps(a + i + LANES), b1);
    _mm512_storeu_ps(y + i, clamp(y0, lo, hi));
    _mm512_storeu_ps(y + i + LANES, clamp(y1, lo, hi));
  }
  for (; i < n; i += LANES) {
    __mmask16 m = n - i >= LANES ? 0xffff : tail_mask(n - i);
    __m512 bv = scalar ? bs : _mm512_maskz_loadu_ps(m, b + i);
    __m512 v = binop(op, _mm512_maskz_loadu_ps(m, a + i), bv);
    _mm512_mask_storeu_ps(y + i, m, clamp(v, lo, hi));
  }
}

#define VBINARY(name, op, scalar)                                      \
  static void name(size_t n, const float *a, const float *b, float *y, \
                   float lo, float hi) {                               \
    vbinary(op, scalar, n, a, b, y, lo, hi);                           \
  }
VBINARY(f32_vadd__avx512, KILN_BINOP_ADD, false)
VBINARY(f32_vsub__avx512, KILN_BINOP_SUB, false)
VBINARY(f32_vrsub__avx512, KILN_BINOP_RSUB, false)
VBINARY(f32_vmul__avx512, KILN_BINOP_MUL, false)
VBINARY(f32_vaddc__avx512, KILN_BINOP_ADD, true)
VBINARY(f32_vsubc__avx512, KILN_BINOP_SUB, true)
VBINARY(f32_vrsubc__avx512, KILN_BINOP_RSUB, true)
VBINARY(f32_vmulc__avx512, KILN_BINOP_MUL, true)
#undef VBINARY

static const kiln_f32_vbinary_ukernels binary_ukernels = {
    KILN_ISA_AVX512,
    {f32_vadd__avx512, f32_vsub__avx512, f32_vrsub__avx512, f32_vmul__avx512},
    {f32_vaddc__avx512, f32_vsubc__avx512, f32_vrsubc__avx512,
     f32_vmulc__avx512},
};

kiln_status *kiln_f32_vadd__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vbinary_run(ctx, KILN_BINOP_ADD, &binary_ukernels);
}
kiln_status *kiln_f32_vsub__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vbinary_run(ctx, KILN_BINOP_SUB, &binary_ukernels);
}
kiln_status *kiln_f32_vmul__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vbinary_run(ctx, KILN_BINOP_MUL, &binary_ukernels);
}

/* ------------------------------------------------------------- unary */

/* Applies f to n floats, 2 vectors per step, then a masked tail. */
#define MAP_UNARY(n, x, y, f)                                      \
  do {                                                             \
    size_t i_ = 0;                                                 \
    for (; i_ + 2 * LANES <= (n); i_ += 2 * LANES) {               \
      __m512 v0_ = f(_mm512_loadu_ps((x) + i_));                   \
      __m512 v1_ = f(_mm512_loadu_ps((x) + i_ + LANES));           \
      _mm512_storeu_ps((y) + i_, v0_);                             \
      _mm512_storeu_ps((y) + i_ + LANES, v1_);                     \
    }                                                              \
    for (; i_ < (n); i_ += LANES) {                                \
      __mmask16 m_ = (n)-i_ >= LANES ? 0xffff : tail_mask((n)-i_); \
      __m512 v_ = f(_mm512_maskz_loadu_ps(m_, (x) + i_));          \
      _mm512_mask_storeu_ps((y) + i_, m_, v_);                     \
    }                                                              \
  } while (0)

static void f32_vclamp__avx512(size_t n, const float *x, float *y, float lo_,
                               float hi_) {
  const __m512 lo = _mm512_set1_ps(lo_), hi = _mm512_set1_ps(hi_);
#define CLAMP(v) clamp(v, lo, hi)
  MAP_UNARY(n, x, y, CLAMP);
#undef CLAMP
}

/* e^x for x in [-104, 0] (callers clamp), within a few ulps above the
 * subnormal range: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so
 * n ln2 is exact), e^r = 1 + r + r^2 P(r) with Cephes expf's degree-5 P,
 * and 2^n applied in two halves so that n down to -150 still rounds only
 * once into a subnormal. */
EW_INLINE __m512 exp_nonpositive(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(
      _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r),
                      _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 s1 =
      _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  const __m512 s2 =
      _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

/* 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, both from
 * e = e^-|x| <= 1, so nothing overflows and no digits cancel. */
EW_INLINE __m512 sigmoid(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 neg_abs = _mm512_or_ps(x, sign);
  /* max(-104, NaN) gives -104: NaN reaches the result through the blend. */
  const __m512 e =
      exp_nonpositive(_mm512_max_ps(neg_abs, _mm512_set1_ps(-104.0f)));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __mmask16 negative =
      _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 num = _mm512_mask_blend_ps(negative, one, e);
  const __m512 y = _mm512_div_ps(num, _mm512_add_ps(one, e));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(nan, y, x);
}

/* tanh(|x|) is (1 - e)/(1 + e) with e = e^-2|x| above 0.5625, where no
 * more than a bit cancels, and an odd polynomial below; the sign comes back
 * last. |x| >= 9.5 gives 1 in float, so clamping there is exact. */
EW_INLINE __m512 tanh_(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 ax = _mm512_andnot_ps(sign, x);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_nonpositive(_mm512_mul_ps(
      _mm512_set1_ps(-2.0f), _mm512_min_ps(ax, _mm512_set1_ps(9.5f))));
  const __m512 big =
      _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  const __m512 x2 = _mm512_mul_ps(ax, ax);
  __m512 p = _mm512_set1_ps(KILN_TANH_C5);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(KILN_TANH_C4));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(KILN_TANH_C3));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(KILN_TANH_C2));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(KILN_TANH_C1));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), ax, ax);
  const __mmask16 is_small =
      _mm512_cmp_ps_mask(ax, _mm512_set1_ps(KILN_TANH_SMALL), _CMP_LT_OQ);
  const __m512 y = _mm512_mask_blend_ps(is_small, big, small);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_blend_ps(nan, _mm512_or_ps(y, _mm512_and_ps(x, sign)), x);
}

/* x * relu6(x + 3) / 6, zero at and below -3 so that -inf gives 0. */
EW_INLINE __m512 hswish(__m512 x) {
  const __m512 t =
      _mm512_min_ps(_mm512_set1_ps(6.0f),
                    _mm512_max_ps(_mm512_setzero_ps(),
                                  _mm512_add_ps(x, _mm512_set1_ps(3.0f))));
  /* t / 6 first: at t == 6 it rounds to exactly 1, so y == x for x >= 3. */
  const __m512 y =
      _mm512_mul_ps(x, _mm512_mul_ps(t, _mm512_set1_ps(1.0f / 6.0f)));
  const __mmask16 low =
      _mm512_cmp_ps_mask(x, _mm512_set1_ps(-3.0f), _CMP_LE_OQ);
  return _mm512_mask_blend_ps(low, y, _mm512_setzero_ps());
}

/* x * sigmoid(x): the fused form of MUL(x, LOGISTIC(x)). */
EW_INLINE __m512 swish(__m512 x) { return _mm512_mul_ps(x, sigmoid(x)); }

static void f32_vsigmoid__avx512(size_t n, const float *x, float *y) {
  MAP_UNARY(n, x, y, sigmoid);
}
static void f32_vtanh__avx512(size_t n, const float *x, float *y) {
  MAP_UNARY(n, x, y, tanh_);
}
static void f32_vhswish__avx512(size_t n, const float *x, float *y) {
  MAP_UNARY(n, x, y, hswish);
}

/* The epilogue's rows, in place: the same functions as the ops above. */
#define MAP_ROWS(name, f)                                               \
  static void name(size_t rows, size_t cols, float *c, size_t stride) { \
    for (size_t r_ = 0; r_ < rows; r_++, c += stride)                   \
      MAP_UNARY(cols, c, c, f);                                         \
  }
MAP_ROWS(f32_vhswish_rows__avx512, hswish)
MAP_ROWS(f32_vsigmoid_rows__avx512, sigmoid)
MAP_ROWS(f32_vswish_rows__avx512, swish)
#undef MAP_ROWS

const kiln_f32_activation_ukernels kiln_f32_activation_ukernels_avx512 = {
    f32_vclamp__avx512, f32_vhswish_rows__avx512, f32_vsigmoid_rows__avx512,
    f32_vswish_rows__avx512};

kiln_status *kiln_f32_vrelu__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vclamp_run(ctx, f32_vclamp__avx512, 0.0f, INFINITY);
}
kiln_status *kiln_f32_vrelu6__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vclamp_run(ctx, f32_vclamp__avx512, 0.0f, 6.0f);
}
kiln_status *kiln_f32_vrelu_n1_to_1__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vclamp_run(ctx, f32_vclamp__avx512, -1.0f, 1.0f);
}
kiln_status *kiln_f32_vsigmoid__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vunary_run(ctx, f32_vsigmoid__avx512, KILN_EW_GRAIN_EXP);
}
kiln_status *kiln_f32_vtanh__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vunary_run(ctx, f32_vtanh__avx512, KILN_EW_GRAIN_EXP);
}
kiln_status *kiln_f32_vhswish__avx512(const kiln_op_ctx *ctx) {
  return kiln_f32_vunary_run(ctx, f32_vhswish__avx512, KILN_EW_GRAIN_CHEAP);
}

/* -------------------------------------------------------------- MEAN */

typedef struct mean_job {
  const float *x;
  float *y;
  int64_t pixels, channels, blocks;
} mean_job;

/* Sums in double like the reference, so the float result agrees with it
 * to the last bit nearly always; two pixels per step for two dependency
 * chains. Items are (image, channel block) pairs. */
static void f32_mean_hw__avx512(void *context, int64_t begin, int64_t end) {
  const mean_job *j = context;
  const int64_t c = j->channels;
  const __m512d count = _mm512_set1_pd((double)j->pixels);
  for (int64_t item = begin; item < end; item++) {
    int64_t b = item / j->blocks, c0 = item % j->blocks * LANES;
    __mmask16 m = c - c0 >= LANES ? 0xffff : tail_mask((size_t)(c - c0));
    const float *x = j->x + b * j->pixels * c + c0;
    __m512d lo0 = _mm512_setzero_pd(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    int64_t p = 0;
    for (; p + 2 <= j->pixels; p += 2) {
      __m512 v0 = _mm512_maskz_loadu_ps(m, x + p * c);
      __m512 v1 = _mm512_maskz_loadu_ps(m, x + (p + 1) * c);
      lo0 = _mm512_add_pd(lo0, _mm512_cvtps_pd(_mm512_castps512_ps256(v0)));
      hi0 = _mm512_add_pd(
          hi0, _mm512_cvtps_pd(_mm256_castpd_ps(
                   _mm512_extractf64x4_pd(_mm512_castps_pd(v0), 1))));
      lo1 = _mm512_add_pd(lo1, _mm512_cvtps_pd(_mm512_castps512_ps256(v1)));
      hi1 = _mm512_add_pd(
          hi1, _mm512_cvtps_pd(_mm256_castpd_ps(
                   _mm512_extractf64x4_pd(_mm512_castps_pd(v1), 1))));
    }
    if (p < j->pixels) {
      __m512 v0 = _mm512_maskz_loadu_ps(m, x + p * c);
      lo0 = _mm512_add_pd(lo0, _mm512_cvtps_pd(_mm512_castps512_ps256(v0)));
      hi0 = _mm512_add_pd(
          hi0, _mm512_cvtps_pd(_mm256_castpd_ps(
                   _mm512_extractf64x4_pd(_mm512_castps_pd(v0), 1))));
    }
    __m256 ylo = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_add_pd(lo0, lo1), count));
    __m256 yhi = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_add_pd(hi0, hi1), count));
    __m512 y = _mm512_insertf32x8(_mm512_castps256_ps512(ylo), yhi, 1);
    _mm512_mask_storeu_ps(j->y + b * c + c0, m, y);
  }
}

kiln_status *kiln_f32_mean_hw__avx512(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  mean_job j = {x->data, ctx->outputs[0]->data, x->dims[1] * x->dims[2],
                x->dims[3], (x->dims[3] + LANES - 1) / LANES};
  int64_t grain = 1 + KILN_EW_GRAIN_CHEAP / (j.pixels * LANES);
  kiln_parallel_for(ctx->pool, x->dims[0] * j.blocks, grain,
                    f32_mean_hw__avx512, &j);
  return NULL;
}

/* ----------------------------------------------------------- pooling */

typedef struct pool_job {
  kiln_pool_geom g;
  const float *x;
  float *y;
} pool_job;

/* One pooled vector over window rows [y0, y1) and columns [x0, x1): the
 * same operations in the same order as the reference, so results match it
 * exactly (sum then divide; max keeps the earlier value unless `v > acc`,
 * which is what max(v, acc) does, NaN included). */
EW_INLINE __m512 pool_vector(bool average, const float *img, int64_t in_w,
                             int64_t c, int64_t y0, int64_t y1, int64_t x0,
                             int64_t x1, __mmask16 m) {
  __m512 acc = average ? _mm512_setzero_ps()
                       : _mm512_maskz_loadu_ps(m, img + (y0 * in_w + x0) * c);
  for (int64_t yy = y0; yy < y1; yy++)
    for (int64_t xx = x0; xx < x1; xx++) {
      __m512 v = _mm512_maskz_loadu_ps(m, img + (yy * in_w + xx) * c);
      acc = average ? _mm512_add_ps(acc, v) : _mm512_max_ps(v, acc);
    }
  if (average)
    acc = _mm512_div_ps(acc, _mm512_set1_ps((float)((y1 - y0) * (x1 - x0))));
  return acc;
}

/* Output rows [begin, end) of the flattened (batch, out_h). */
EW_INLINE void pool_rows(const pool_job *j, int64_t begin, int64_t end,
                         bool average) {
  const kiln_pool_geom *g = &j->g;
  const int64_t c = g->channels;
  const __m512 lo = _mm512_set1_ps(g->act_lo), hi = _mm512_set1_ps(g->act_hi);
  for (int64_t r = begin; r < end; r++) {
    int64_t b = r / g->out_h, oy = r % g->out_h;
    int64_t y0 = oy * g->stride_h - g->pad_top, y1 = y0 + g->filter_h;
    if (y0 < 0) y0 = 0;
    if (y1 > g->in_h) y1 = g->in_h;
    const float *img = j->x + b * g->in_h * g->in_w * c;
    for (int64_t ox = 0; ox < g->out_w; ox++) {
      int64_t x0 = ox * g->stride_w - g->pad_left, x1 = x0 + g->filter_w;
      if (x0 < 0) x0 = 0;
      if (x1 > g->in_w) x1 = g->in_w;
      float *y = j->y + (r * g->out_w + ox) * c;
      for (int64_t c0 = 0; c0 < c; c0 += LANES) {
        __mmask16 m = c - c0 >= LANES ? 0xffff : tail_mask((size_t)(c - c0));
        __m512 v =
            pool_vector(average, img + c0, g->in_w, c, y0, y1, x0, x1, m);
        _mm512_mask_storeu_ps(y + c0, m, clamp(v, lo, hi));
      }
    }
  }
}

static void f32_avgpool_rows__avx512(void *context, int64_t begin,
                                     int64_t end) {
  pool_rows(context, begin, end, true);
}
static void f32_maxpool_rows__avx512(void *context, int64_t begin,
                                     int64_t end) {
  pool_rows(context, begin, end, false);
}

static kiln_status *pool_run(const kiln_op_ctx *ctx, kiln_range_fn rows) {
  pool_job j;
  kiln_pool_geometry(ctx, &j.g);
  j.x = ctx->inputs[0]->data;
  j.y = ctx->outputs[0]->data;
  /* Rows per chunk: about KILN_EW_GRAIN_CHEAP window reads. */
  int64_t row = j.g.out_w * j.g.channels * j.g.filter_h * j.g.filter_w;
  kiln_parallel_for(ctx->pool, j.g.batch * j.g.out_h,
                    1 + KILN_EW_GRAIN_CHEAP / row, rows, &j);
  return NULL;
}

kiln_status *kiln_f32_avgpool__avx512(const kiln_op_ctx *ctx) {
  return pool_run(ctx, f32_avgpool_rows__avx512);
}
kiln_status *kiln_f32_maxpool__avx512(const kiln_op_ctx *ctx) {
  return pool_run(ctx, f32_maxpool_rows__avx512);
}
