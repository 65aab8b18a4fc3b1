/* table_avx2.c - the 256-entry int8 table lookup on 32 bytes at a time
 * with AVX2: a byte shuffle of each sixteen-byte slice of the table by the
 * index's low nibble, then a tree of byte blends on the high nibble's bits
 * (each moved to the byte's top bit, which the blend reads). The last
 * n % 32 bytes are looked up one by one. */
#include <immintrin.h>

#include "kernels/qelem/qelem.h"

void kiln_q8_lookup_avx2(const int8_t table[256], const int8_t *x, int8_t *y,
                         size_t n) {
  __m256i slices[16];
  for (int h = 0; h < 16; h++)
    slices[h] = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(table + 16 * h)));
  const __m256i low_nibble = _mm256_set1_epi8(0x0F);
  const __m256i sign = _mm256_set1_epi8((char)0x80);
  const size_t full = n - n % 32;
  for (size_t i = 0; i < full; i += 32) {
    /* The table index is x + 128: x with its top bit flipped. */
    const __m256i idx =
        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(x + i)), sign);
    const __m256i lo = _mm256_and_si256(idx, low_nibble);
    const __m256i b4 = _mm256_slli_epi16(idx, 3);
    const __m256i b5 = _mm256_slli_epi16(idx, 2);
    const __m256i b6 = _mm256_slli_epi16(idx, 1);
#define PICK(h) _mm256_shuffle_epi8(slices[h], lo)
#define PAIR(h) _mm256_blendv_epi8(PICK(h), PICK(h + 1), b4)
#define QUAD(h) _mm256_blendv_epi8(PAIR(h), PAIR(h + 2), b5)
#define OCT(h) _mm256_blendv_epi8(QUAD(h), QUAD(h + 4), b6)
    const __m256i r = _mm256_blendv_epi8(OCT(0), OCT(8), idx);
#undef OCT
#undef QUAD
#undef PAIR
#undef PICK
    _mm256_storeu_si256((__m256i *)(y + i), r);
  }
  kiln_q8_lookup_portable(table, x + full, y + full, n - full);
}
