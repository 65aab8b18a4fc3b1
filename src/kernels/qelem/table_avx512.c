/* table_avx512.c - a 256-entry int8 table lookup on 64 bytes at a time
 * with AVX-512BW alone (no VBMI byte permute): the low nibble of each
 * index selects within each of the 16 sixteen-byte slices of the table
 * (one byte shuffle per slice), and the high nibble's four bits choose
 * among the 16 results in a tree of byte blends. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_lookup_avx512(const int8_t table[256], const int8_t *x, int8_t *y,
                           size_t n) {
  __m512i slices[16];
  for (int h = 0; h < 16; h++)
    slices[h] = _mm512_broadcast_i32x4(
        _mm_loadu_si128((const __m128i *)(table + 16 * h)));
  const __m512i low_nibble = _mm512_set1_epi8(0x0F);
  const __m512i sign = _mm512_set1_epi8((char)0x80);
  for (size_t i = 0; i < n; i += 64) {
    const __mmask64 k =
        n - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
    /* The table index is x + 128: x with its top bit flipped. */
    const __m512i idx =
        _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, x + i), sign);
    const __m512i lo = _mm512_and_si512(idx, low_nibble);
    /* Bit b of each index, moved to the byte's top bit, as a mask; a
     * 16-bit shift cannot carry another byte's bits into the top bit.
     * Written out so that every value stays in a register. */
    const __mmask64 b4 = _mm512_movepi8_mask(_mm512_slli_epi16(idx, 3));
    const __mmask64 b5 = _mm512_movepi8_mask(_mm512_slli_epi16(idx, 2));
    const __mmask64 b6 = _mm512_movepi8_mask(_mm512_slli_epi16(idx, 1));
    const __mmask64 b7 = _mm512_movepi8_mask(idx);
#define PICK(h) _mm512_shuffle_epi8(slices[h], lo)
#define PAIR(h) _mm512_mask_blend_epi8(b4, PICK(h), PICK(h + 1))
#define QUAD(h) _mm512_mask_blend_epi8(b5, PAIR(h), PAIR(h + 2))
#define OCT(h) _mm512_mask_blend_epi8(b6, QUAD(h), QUAD(h + 4))
    const __m512i r = _mm512_mask_blend_epi8(b7, OCT(0), OCT(8));
#undef OCT
#undef QUAD
#undef PAIR
#undef PICK
    _mm512_mask_storeu_epi8(y + i, k, r);
  }
}
