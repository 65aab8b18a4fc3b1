/* qgemm_vnni.c - the int8 GEMM microkernels for AVX-512 VNNI: 8 rows by 16
 * or 32 channels of int32 accumulators, each vpdpbusd adding four products
 * of a row's flipped activations (broadcast) by a panel's signed weights,
 * then the requantization vectorized in the accumulators' registers. The
 * epilogue computes exactly what kiln_qgemm_requantize does (quant_math.h):
 * - double rounding: x << left, then the rounding doubling high multiply
 *   floor((x * m + 2^30) / 2^31) (TFLite's nudge-and-truncate is that same
 *   value for either sign; the one saturating case, x = m = INT32_MIN, is
 *   excluded at load since m is never INT32_MIN), then the division by
 *   2^right rounding half away from zero through its mask and threshold;
 * - single rounding: (x * m + 2^(30 - shift)) >> (31 - shift) in 64 bits,
 *   where |x * m| < 2^62 leaves no room to wrap.
 * - KILN_INT8_ROUNDING_FP32: the sum converted to float, times the
 *   channel's scale, clamped and converted back rounding half to even.
 * 64-bit products come from vpmuldq on even lanes and on odd lanes moved
 * down, and are put back with a blend. Rows past mr
 * are not computed: each row count has its own function. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm/qgemm.h"
#include "kernels/quant/vnni_dpbusd.h"

enum { MR = 8 };

static inline __m512i load_bcast(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* One 16-channel slice of a panel's output stage, for each rounding. */
typedef struct stage_double {
  __m512i mult, mult_odd, left, right, rmask, rhalf;
} stage_double;
typedef struct stage_single {
  __m512i mult, mult_odd, ts_even, ts_odd, round_even, round_odd;
} stage_single;

static inline __m512i param(const void *panel, int nr, int which, int col) {
  return _mm512_loadu_si512(kiln_qgemm_param(panel, nr, which) + col);
}

static inline void load_double(stage_double *s, const void *panel, int nr,
                               int col) {
  s->mult = param(panel, nr, KILN_QGEMM_MULT, col);
  s->mult_odd = _mm512_srli_epi64(s->mult, 32);
  s->left = param(panel, nr, KILN_QGEMM_LEFT, col);
  s->right = param(panel, nr, KILN_QGEMM_RIGHT, col);
  s->rmask = param(panel, nr, KILN_QGEMM_RMASK, col);
  s->rhalf = param(panel, nr, KILN_QGEMM_RHALF, col);
}

static inline void load_single(stage_single *s, const void *panel, int nr,
                               int col) {
  s->mult = param(panel, nr, KILN_QGEMM_MULT, col);
  s->mult_odd = _mm512_srli_epi64(s->mult, 32);
  const __m512i ts = _mm512_sub_epi32(_mm512_set1_epi32(31),
                                      param(panel, nr, KILN_QGEMM_SHIFT, col));
  const __m512i one = _mm512_set1_epi64(1);
  s->ts_even = _mm512_and_si512(ts, _mm512_set1_epi64(0xFFFFFFFF));
  s->ts_odd = _mm512_srli_epi64(ts, 32);
  s->round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(s->ts_even, one));
  s->round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(s->ts_odd, one));
}

static inline __m512i rescale_double(__m512i x, const stage_double *s) {
  x = _mm512_sllv_epi32(x, s->left);
  const __m512i nudge = _mm512_set1_epi64(INT64_C(1) << 30);
  __m512i even = _mm512_add_epi64(_mm512_mul_epi32(x, s->mult), nudge);
  __m512i odd = _mm512_add_epi64(
      _mm512_mul_epi32(_mm512_srli_epi64(x, 32), s->mult_odd), nudge);
  /* Bits 31..62 of each sum: the low half of even lanes, the high half of
   * odd ones. */
  __m512i q = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 31),
                                      _mm512_slli_epi64(odd, 1));
  __m512i remainder = _mm512_and_si512(q, s->rmask);
  __m512i threshold = _mm512_add_epi32(s->rhalf, _mm512_srli_epi32(q, 31));
  __m512i floor_div = _mm512_srav_epi32(q, s->right);
  __mmask16 up = _mm512_cmpgt_epi32_mask(remainder, threshold);
  return _mm512_mask_add_epi32(floor_div, up, floor_div, _mm512_set1_epi32(1));
}

static inline __m512i rescale_single(__m512i x, const stage_single *s) {
  __m512i even = _mm512_add_epi64(_mm512_mul_epi32(x, s->mult), s->round_even);
  __m512i odd = _mm512_add_epi64(
      _mm512_mul_epi32(_mm512_srli_epi64(x, 32), s->mult_odd), s->round_odd);
  even = _mm512_srav_epi64(even, s->ts_even);
  odd = _mm512_slli_epi64(_mm512_srav_epi64(odd, s->ts_odd), 32);
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

static inline __attribute__((always_inline)) void tile(
    const int nv, const int rows_n, size_t nc, size_t kp, const uint8_t *a,
    size_t a_stride, const void *panel, int8_t *c, size_t c_stride,
    const kiln_qgemm_out *out) {
  const int nr = nv * 16;
  const uint8_t *rows[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) rows[r] = a + (r < rows_n ? r : 0) * a_stride;
  /* The accumulators are named variables, not an array indexed in the
   * k loop: with an array GCC shuffled registers and clang spilled every
   * accumulator to the stack on each step of k. */
  const int32_t *bias = kiln_qgemm_param(panel, nr, KILN_QGEMM_BIAS);
  const __m512i b0 = _mm512_loadu_si512(bias);
  const __m512i b1 = nv == 2 ? _mm512_loadu_si512(bias + 16) : b0;
  __m512i c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1;
  __m512i c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
  __m512i c60 = b0, c61 = b1, c70 = b0, c71 = b1;
  const int8_t *w = kiln_qgemm_weights(panel, nr);
  for (size_t g = 0; g < kp; g += 4, w += nr * 4) {
    const __m512i w0 = _mm512_load_si512(w);
    const __m512i w1 = nv == 2 ? _mm512_load_si512(w + 64) : w0;
#define KILN_QGEMM_ROW_STEP(r)                          \
  if (rows_n > r) {                                     \
    const __m512i x = load_bcast(rows[r] + g);          \
    c##r##0 = kiln_dpbusd(c##r##0, x, w0);              \
    if (nv == 2) c##r##1 = kiln_dpbusd(c##r##1, x, w1); \
  }
    KILN_QGEMM_ROW_STEP(0)
    KILN_QGEMM_ROW_STEP(1)
    KILN_QGEMM_ROW_STEP(2)
    KILN_QGEMM_ROW_STEP(3)
    KILN_QGEMM_ROW_STEP(4)
    KILN_QGEMM_ROW_STEP(5)
    KILN_QGEMM_ROW_STEP(6)
    KILN_QGEMM_ROW_STEP(7)
#undef KILN_QGEMM_ROW_STEP
  }
  __m512i acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                        {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  const __m512i zp = _mm512_set1_epi32(out->zero_point);
  /* The rounding is the node's: one branch per tile, each loading only
   * its own constants. */
  if (out->fp32) {
    const __m512 lo = _mm512_set1_ps((float)(out->act_min - out->zero_point));
    const __m512 hi = _mm512_set1_ps((float)(out->act_max - out->zero_point));
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      const __m512 scale =
          _mm512_castsi512_ps(param(panel, nr, KILN_QGEMM_FSCALE, v * 16));
#pragma GCC unroll 8
      for (int r = 0; r < rows_n; r++) {
        __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][v]), scale);
        x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
        acc[r][v] = _mm512_add_epi32(_mm512_cvtps_epi32(x), zp);
      }
    }
  } else if (out->single_rounding) {
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      stage_single s;
      load_single(&s, panel, nr, v * 16);
#pragma GCC unroll 8
      for (int r = 0; r < rows_n; r++)
        acc[r][v] = _mm512_add_epi32(rescale_single(acc[r][v], &s), zp);
    }
  } else {
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
      stage_double s;
      load_double(&s, panel, nr, v * 16);
#pragma GCC unroll 8
      for (int r = 0; r < rows_n; r++)
        acc[r][v] = _mm512_add_epi32(rescale_double(acc[r][v], &s), zp);
    }
  }
  if (nv == 2) {
    /* Saturating packs (monotonic, so clamping after them is clamping
     * before) leave dword i of 128-bit lane l holding channels 4l..4l+3
     * of half i; one dword permute puts the 32 bytes in order. */
    const __m512i order =
        _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i lo = _mm256_set1_epi8((char)out->act_min);
    const __m256i hi = _mm256_set1_epi8((char)out->act_max);
    const __mmask32 store =
        nc >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << nc) - 1);
#pragma GCC unroll 8
    for (int r = 0; r < rows_n; r++) {
      __m512i p = _mm512_packs_epi32(acc[r][0], acc[r][1]);
      p = _mm512_permutexvar_epi32(order, _mm512_packs_epi16(p, p));
      __m256i y = _mm512_castsi512_si256(p);
      y = _mm256_min_epi8(_mm256_max_epi8(y, lo), hi);
      _mm256_mask_storeu_epi8(c + r * c_stride, store, y);
    }
  } else {
    const __m512i lo = _mm512_set1_epi32(out->act_min);
    const __m512i hi = _mm512_set1_epi32(out->act_max);
    const __mmask16 store = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
#pragma GCC unroll 8
    for (int r = 0; r < rows_n; r++) {
      __m512i y = _mm512_min_epi32(_mm512_max_epi32(acc[r][0], lo), hi);
      _mm_mask_storeu_epi8(c + r * c_stride, store, _mm512_cvtepi32_epi8(y));
    }
  }
}

/* One function per row count, so that a tile of fewer rows (the last of
 * an image, a FULLY_CONNECTED of batch 1) does only its own work. */
typedef void (*tile_fn)(size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                        const void *panel, int8_t *c, size_t c_stride,
                        const kiln_qgemm_out *out);
#define TILE_ROWS(nv, rows_n)                                              \
  static void tile_##nv##_##rows_n(size_t nc, size_t kp, const uint8_t *a, \
                                   size_t a_stride, const void *panel,     \
                                   int8_t *c, size_t c_stride,             \
                                   const kiln_qgemm_out *out) {            \
    tile(nv, rows_n, nc, kp, a, a_stride, panel, c, c_stride, out);        \
  }
#define TILES(nv)                                                          \
  TILE_ROWS(nv, 1)                                                         \
  TILE_ROWS(nv, 2)                                                         \
  TILE_ROWS(nv, 3)                                                         \
  TILE_ROWS(nv, 4)                                                         \
  TILE_ROWS(nv, 5)                                                         \
  TILE_ROWS(nv, 6)                                                         \
  TILE_ROWS(nv, 7)                                                         \
  TILE_ROWS(nv, 8)                                                         \
  static const tile_fn tiles_##nv[MR + 1] = {NULL,          tile_##nv##_1, \
                                             tile_##nv##_2, tile_##nv##_3, \
                                             tile_##nv##_4, tile_##nv##_5, \
                                             tile_##nv##_6, tile_##nv##_7, \
                                             tile_##nv##_8};
TILES(1)
TILES(2)

void kiln_q8_gemm_8x16__vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a,
                             size_t a_stride, const void *panel, int8_t *c,
                             size_t c_stride, const kiln_qgemm_out *out) {
  tiles_1[mr](nc, kp, a, a_stride, panel, c, c_stride, out);
}

void kiln_q8_gemm_8x32__vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a,
                             size_t a_stride, const void *panel, int8_t *c,
                             size_t c_stride, const kiln_qgemm_out *out) {
  tiles_2[mr](nc, kp, a, a_stride, panel, c, c_stride, out);
}

/* Windows are runs of a filter row (3 bytes to a few KiB): whole vectors,
 * then one masked move. */
void kiln_qgemm_flip__vnni(uint8_t *dst, const int8_t *src, int64_t n) {
  const __m512i top = _mm512_set1_epi8((char)0x80);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    _mm512_storeu_si512(dst + i,
                        _mm512_xor_si512(_mm512_loadu_si512(src + i), top));
  if (i < n) {
    __mmask64 tail = _cvtu64_mask64((UINT64_C(1) << (n - i)) - 1);
    _mm512_mask_storeu_epi8(
        dst + i, tail,
        _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, src + i), top));
  }
}

const kiln_qgemm_kernel kiln_qgemm_8x16_vnni = {MR, 16, kiln_q8_gemm_8x16__vnni,
                                                kiln_qgemm_flip__vnni};
const kiln_qgemm_kernel kiln_qgemm_8x32_vnni = {MR, 32, kiln_q8_gemm_8x32__vnni,
                                                kiln_qgemm_flip__vnni};
