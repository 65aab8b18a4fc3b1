/* binary_avx2.c - the int8 ADD / MUL ukernel on 8 lanes (AVX2): the steps
 * of binary_avx512.c with 256-bit vectors (the rounding doubling high
 * multiply as bits 31..62 of the 64-bit product plus 2^30, the rounding
 * shift as a floor shift plus a remainder compare); the last n % 8
 * elements go through the portable ukernel, which computes the same. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

static inline __m256i srdhm8(__m256i a, __m256i m) {
  const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, m), nudge);
  __m256i odd =
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), m), nudge);
  even = _mm256_srli_epi64(even, 31); /* result in the low half */
  odd = _mm256_slli_epi64(odd, 1);    /* result in the high half */
  return _mm256_blend_epi32(even, odd, 0xAA);
}

typedef struct shift8 {
  __m256i mask, half;
  __m128i count;
} shift8;

static inline shift8 shift8_make(int e) {
  shift8 s;
  const int32_t mask = (int32_t)((UINT32_C(1) << e) - 1);
  s.mask = _mm256_set1_epi32(mask);
  s.half = _mm256_set1_epi32(mask >> 1);
  s.count = _mm_cvtsi32_si128(e);
  return s;
}

static inline __m256i rdbp8(__m256i x, const shift8 *s) {
  const __m256i rem = _mm256_and_si256(x, s->mask);
  const __m256i threshold = _mm256_add_epi32(s->half, _mm256_srli_epi32(x, 31));
  const __m256i q = _mm256_sra_epi32(x, s->count); /* floor */
  /* The compare is -1 where the remainder is over: subtracting adds 1. */
  return _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, threshold));
}

static inline __m256i load8(const int8_t *p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

/* Eight int32 lanes already inside the int8 range, stored as bytes. */
static inline void store8(int8_t *p, __m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v),
                                    _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64((__m128i *)p, _mm_packs_epi16(w, w));
}

/* ADD's input rescale as two 32-bit products (binary_avx512.c says why it
 * equals the reference). */
typedef struct input8 {
  __m256i mh32, ml, c1, c2;
  shift8 shift;
} input8;

static inline input8 input8_make(int32_t zp, int32_t m, int s) {
  input8 c;
  const int32_t mh32 = (m >> 16) * 32, ml = m & 0xFFFF;
  c.mh32 = _mm256_set1_epi32(mh32);
  c.ml = _mm256_set1_epi32(ml);
  c.c1 = _mm256_set1_epi32(-zp * mh32);
  c.c2 = _mm256_set1_epi32(1024 - zp * ml);
  c.shift = shift8_make(-s);
  return c;
}

static inline __m256i input8_rescale(__m256i x, const input8 *c) {
  const __m256i high = _mm256_add_epi32(_mm256_mullo_epi32(x, c->mh32), c->c1);
  const __m256i low = _mm256_srai_epi32(
      _mm256_add_epi32(_mm256_mullo_epi32(x, c->ml), c->c2), 11);
  return rdbp8(_mm256_add_epi32(high, low), &c->shift);
}

/* KILN_INT8_ROUNDING_FP32: binary.c's binary_fp32 on 8 lanes; the last
 * n % 8 through the portable ukernel, which computes the same. */
static void binary_fp32(const kiln_q8_binary_params *p, const int8_t *a,
                        const int8_t *b, int8_t *out, size_t n, int b_step) {
  const __m256i zp_a = _mm256_set1_epi32(p->zp_a);
  const __m256i zp_b = _mm256_set1_epi32(p->zp_b);
  const __m256i zp_out = _mm256_set1_epi32(p->zp_out);
  const __m256 lo = _mm256_set1_ps((float)(p->act_min - p->zp_out));
  const __m256 hi = _mm256_set1_ps((float)(p->act_max - p->zp_out));
  const __m256 f_a = _mm256_set1_ps(p->f_a), f_b = _mm256_set1_ps(p->f_b);
  const __m256 f_out = _mm256_set1_ps(p->f_out);
  const __m256i b_const = _mm256_sub_epi32(_mm256_set1_epi32(b[0]), zp_b);
  const size_t full = n - n % 8;
  for (size_t i = 0; i < full; i += 8) {
    const __m256i va = _mm256_sub_epi32(load8(a + i), zp_a);
    const __m256i vb = b_step ? _mm256_sub_epi32(load8(b + i), zp_b) : b_const;
    __m256 x =
        p->mul ? _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(va, vb)),
                               f_out)
               : _mm256_fmadd_ps(f_a, _mm256_cvtepi32_ps(va),
                                 _mm256_mul_ps(f_b, _mm256_cvtepi32_ps(vb)));
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    store8(out + i, _mm256_add_epi32(_mm256_cvtps_epi32(x), zp_out));
  }
  if (full < n)
    kiln_q8_binary_ukernel_portable(p, a + full, b + full * (size_t)b_step,
                                    out + full, n - full, b_step);
}

void kiln_q8_binary_ukernel_avx2(const kiln_q8_binary_params *p,
                                 const int8_t *a, const int8_t *b, int8_t *out,
                                 size_t n, int b_step) {
  if (p->fp32) {
    binary_fp32(p, a, b, out, n, b_step);
    return;
  }
  const __m256i zp_out = _mm256_set1_epi32(p->zp_out);
  const __m256i m_out = _mm256_set1_epi32(p->m_out);
  const __m256i lo = _mm256_set1_epi32(p->act_min);
  const __m256i hi = _mm256_set1_epi32(p->act_max);
  const shift8 s_out = shift8_make(p->s_out > 0 ? 0 : -p->s_out);
  const __m128i left = _mm_cvtsi32_si128(p->s_out > 0 ? p->s_out : 0);
  const input8 in_a = input8_make(p->zp_a, p->m_a, p->s_a);
  const input8 in_b = input8_make(p->zp_b, p->m_b, p->s_b);
  const __m256i zp_a = _mm256_set1_epi32(p->zp_a);
  const __m256i zp_b = _mm256_set1_epi32(p->zp_b);
  /* A broadcast operand is offset (and for ADD rescaled) once. */
  __m256i b_const = _mm256_set1_epi32(b[0]);
  b_const =
      p->mul ? _mm256_sub_epi32(b_const, zp_b) : input8_rescale(b_const, &in_b);
  const size_t full = n - n % 8;
  for (size_t i = 0; i < full; i += 8) {
    __m256i r;
    if (p->mul) {
      const __m256i va = _mm256_sub_epi32(load8(a + i), zp_a);
      const __m256i vb =
          b_step ? _mm256_sub_epi32(load8(b + i), zp_b) : b_const;
      r = _mm256_sll_epi32(_mm256_mullo_epi32(va, vb), left);
    } else {
      const __m256i rb = b_step ? input8_rescale(load8(b + i), &in_b) : b_const;
      r = _mm256_add_epi32(input8_rescale(load8(a + i), &in_a), rb);
    }
    r = _mm256_add_epi32(rdbp8(srdhm8(r, m_out), &s_out), zp_out);
    store8(out + i, _mm256_min_epi32(_mm256_max_epi32(r, lo), hi));
  }
  if (full < n)
    kiln_q8_binary_ukernel_portable(p, a + full, b + full * (size_t)b_step,
                                    out + full, n - full, b_step);
}
