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

static inline __m512i finish(const add_consts *c, __m512i r) {
  r = _mm512_add_epi32(q8v_rdbp(q8v_srdhm(r, c->m_out), &c->s_out), c->zp_out);
  return _mm512_min_epi32(_mm512_max_epi32(r, c->lo), c->hi);
}

void kiln_q8_binary_ukernel_avx512(const kiln_q8_binary_params *p,
                                   const int8_t *a, const int8_t *b,
                                   int8_t *out, size_t n, int b_step) {
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
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k =
        n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    const __m512i va = _mm512_sub_epi32(load16(a + i, k), c.zp_a);
    __m512i vb = vb_const;
    if (b_step) vb = _mm512_sub_epi32(load16(b + i, k), c.zp_b);
    __m512i r;
    if (p->mul) {
      r = _mm512_sll_epi32(_mm512_mullo_epi32(va, vb), left);
    } else {
      if (b_step) vb = add_rescale(vb, c.m_b, &c.s_b);
      r = _mm512_add_epi32(add_rescale(va, c.m_a, &c.s_a), vb);
    }
    _mm512_mask_cvtepi32_storeu_epi8(out + i, k, finish(&c, r));
  }
}
