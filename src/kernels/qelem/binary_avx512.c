/* binary_avx512.c - the int8 ADD / MUL ukernel on 16 lanes: each step of
 * kernels/ref/quant_binary.c's arithmetic (offset, shift, rounding doubling
 * high multiply, rounding right shift, clamp) done lane-wise with the same
 * integer results; the tail is handled with masked loads and stores. */
#include "kernels/qelem/q8_vec_avx512.h"
#include "kernels/qelem/qelem.h"

typedef struct add_consts {
  __m512i zp_a, zp_b, zp_out, m_a, m_b, m_out, lo, hi;
  q8v_shift s_a, s_b, s_out;
  int left_out; /* MUL: a left shift before the output multiply */
} add_consts;

static inline __m512i load16(const int8_t *p, __mmask16 k) {
  return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, p));
}

static inline __m512i add_rescale(__m512i v, __m512i m, const q8v_shift *s) {
  return q8v_rdbp(q8v_srdhm(_mm512_slli_epi32(v, 20), m), s);
}

/* ADD's input rescale of a stored value x in 32-bit lanes. With v = x - zp
 * (|v| < 2^8) and m = mh 2^16 + ml, the reference's
 * srdhm(v 2^20, m) = floor((v m 2^20 + 2^30) / 2^31) = floor((v m + 2^10) /
 * 2^11) = 32 v mh + floor((v ml + 2^10) / 2^11), every term below 2^28: two
 * 32-bit products with the zero point folded into the constants. */
typedef struct input_consts {
  __m512i mh32, ml, c1, c2;
  q8v_shift shift;
} input_consts;

static inline input_consts input_make(int32_t zp, int32_t m, int s) {
  input_consts c;
  const int32_t mh32 = (m >> 16) * 32, ml = m & 0xFFFF;
  c.mh32 = _mm512_set1_epi32(mh32);
  c.ml = _mm512_set1_epi32(ml);
  c.c1 = _mm512_set1_epi32(-zp * mh32);
  c.c2 = _mm512_set1_epi32(1024 - zp * ml);
  c.shift = q8v_shift_make(-s);
  return c;
}

static inline __m512i input_rescale(__m512i x, const input_consts *c) {
  const __m512i high = _mm512_add_epi32(_mm512_mullo_epi32(x, c->mh32), c->c1);
  const __m512i low = _mm512_srai_epi32(
      _mm512_add_epi32(_mm512_mullo_epi32(x, c->ml), c->c2), 11);
  return q8v_rdbp(_mm512_add_epi32(high, low), &c->shift);
}

static inline __m512i finish(const add_consts *c, __m512i r) {
  r = _mm512_add_epi32(q8v_rdbp(q8v_srdhm(r, c->m_out), &c->s_out), c->zp_out);
  return _mm512_min_epi32(_mm512_max_epi32(r, c->lo), c->hi);
}

/* KILN_INT8_ROUNDING_FP32: binary.c's binary_fp32 on 16 lanes. */
static void binary_fp32(const kiln_q8_binary_params *p, const int8_t *a,
                        const int8_t *b, int8_t *out, size_t n, int b_step) {
  const __m512i zp_a = _mm512_set1_epi32(p->zp_a);
  const __m512i zp_b = _mm512_set1_epi32(p->zp_b);
  const __m512i zp_out = _mm512_set1_epi32(p->zp_out);
  const __m512 lo = _mm512_set1_ps((float)(p->act_min - p->zp_out));
  const __m512 hi = _mm512_set1_ps((float)(p->act_max - p->zp_out));
  const __m512 f_a = _mm512_set1_ps(p->f_a), f_b = _mm512_set1_ps(p->f_b);
  const __m512 f_out = _mm512_set1_ps(p->f_out);
  const __m512i b_const = _mm512_sub_epi32(_mm512_set1_epi32(b[0]), zp_b);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k =
        n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    const __m512i va = _mm512_sub_epi32(load16(a + i, k), zp_a);
    const __m512i vb =
        b_step ? _mm512_sub_epi32(load16(b + i, k), zp_b) : b_const;
    __m512 x =
        p->mul ? _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(va, vb)),
                               f_out)
               : _mm512_fmadd_ps(f_a, _mm512_cvtepi32_ps(va),
                                 _mm512_mul_ps(f_b, _mm512_cvtepi32_ps(vb)));
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    const __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(x), zp_out);
    _mm512_mask_cvtepi32_storeu_epi8(out + i, k, r);
  }
}

void kiln_q8_binary_ukernel_avx512(const kiln_q8_binary_params *p,
                                   const int8_t *a, const int8_t *b,
                                   int8_t *out, size_t n, int b_step) {
  if (p->fp32) {
    binary_fp32(p, a, b, out, n, b_step);
    return;
  }
  add_consts c;
  c.zp_a = _mm512_set1_epi32(p->zp_a);
  c.zp_b = _mm512_set1_epi32(p->zp_b);
  c.zp_out = _mm512_set1_epi32(p->zp_out);
  c.m_a = _mm512_set1_epi32(p->m_a);
  c.m_b = _mm512_set1_epi32(p->m_b);
  c.m_out = _mm512_set1_epi32(p->m_out);
  c.lo = _mm512_set1_epi32(p->act_min);
  c.hi = _mm512_set1_epi32(p->act_max);
  c.s_a = q8v_shift_make(-p->s_a);
  c.s_b = q8v_shift_make(-p->s_b);
  c.s_out = q8v_shift_make(p->s_out > 0 ? 0 : -p->s_out);
  c.left_out = p->s_out > 0 ? p->s_out : 0;
  const __m128i left = _mm_cvtsi32_si128(c.left_out);
  /* A broadcast operand is offset (and for ADD rescaled) once. */
  __m512i vb_const = _mm512_sub_epi32(_mm512_set1_epi32(b[0]), c.zp_b);
  if (!p->mul) vb_const = add_rescale(vb_const, c.m_b, &c.s_b);
  if (!p->mul) {
    const input_consts in_a = input_make(p->zp_a, p->m_a, p->s_a);
    const input_consts in_b = input_make(p->zp_b, p->m_b, p->s_b);
    for (size_t i = 0; i < n; i += 16) {
      const __mmask16 k =
          n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
      const __m512i ra = input_rescale(load16(a + i, k), &in_a);
      const __m512i rb =
          b_step ? input_rescale(load16(b + i, k), &in_b) : vb_const;
      _mm512_mask_cvtepi32_storeu_epi8(out + i, k,
                                       finish(&c, _mm512_add_epi32(ra, rb)));
    }
    return;
  }
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k =
        n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    const __m512i va = _mm512_sub_epi32(load16(a + i, k), c.zp_a);
    __m512i vb = vb_const;
    if (b_step) vb = _mm512_sub_epi32(load16(b + i, k), c.zp_b);
    const __m512i r = _mm512_sll_epi32(_mm512_mullo_epi32(va, vb), left);
    _mm512_mask_cvtepi32_storeu_epi8(out + i, k, finish(&c, r));
  }
}
