/* depthwise_avx512.c - DEPTHWISE_CONV_2D float32 on AVX-512, 16 channels. */
#include <immintrin.h>

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/x86/x86_kernels.h"

/* Forced inlining turns the constant window sizes of each specialization
 * into fully unrolled loops with the taps held in registers. */
#define DW_INLINE static inline __attribute__((always_inline))

/* OX_FIXED outputs of a row share input loads in the specialized path;
 * ROW_TILE output rows go through all channel blocks before the next. */
enum { LANES = 16, OX_FIXED = 4, ROW_TILE = 8 };

typedef struct dw_job {
  kiln_dw_geom g;
  const float *in, *w;
  float *out;
} dw_job;

DW_INLINE __m512 load_x(const float *p, __mmask16 m, bool tail) {
  return tail ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
}

/* The clamp keeps NaN: max(lo, v) and min(hi, v) return v when it is NaN,
 * as the reference's comparisons do. */
DW_INLINE void store_y(float *p, __m512 v, __m512 lo, __m512 hi, __mmask16 m,
                       bool tail) {
  v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
  if (tail)
    _mm512_mask_storeu_ps(p, m, v);
  else
    _mm512_storeu_ps(p, v);
}

/* The output at column ox of one channel block with its window clipped to
 * the input: rows [ky0, ky1) and whatever columns are inside. */
DW_INLINE void dw_edge_pixel(const kiln_dw_geom *g, const float *img,
                             int64_t row0, int64_t ky0, int64_t ky1, int64_t ox,
                             const float *wb, float *yrow, __mmask16 m,
                             bool tail, int64_t KW, int64_t SW, int64_t DH,
                             int64_t DW) {
  const int64_t c = g->channels, row_step = DH * g->in_w * c;
  const int64_t ix0 = ox * SW - g->pad_left;
  int64_t kx0, kx1;
  kiln_dw_tap_range(ix0, KW, DW, g->in_w, &kx0, &kx1);
  __m512 acc = _mm512_load_ps(wb);
  for (int64_t ky = ky0; ky < ky1; ky++)
    for (int64_t kx = kx0; kx < kx1; kx++) {
      const float *x = img + (row0 + ky * row_step + (ix0 + kx * DW) * c);
      acc =
          _mm512_fmadd_ps(load_x(x, m, tail),
                          _mm512_load_ps(wb + (1 + ky * KW + kx) * LANES), acc);
    }
  store_y(yrow + ox * c, acc, _mm512_set1_ps(g->act_lo),
          _mm512_set1_ps(g->act_hi), m, tail);
}

/* One output row of one channel block for any window: window rows
 * [ky0, ky1) are valid; interior columns four at a time, each tap
 * loaded from the packed weights. */
DW_INLINE void dw_block_row(const kiln_dw_geom *g, const float *img,
                            int64_t iy0, int64_t ky0, int64_t ky1,
                            const float *wb, float *yrow, __mmask16 m,
                            bool tail, int64_t KW, int64_t SW, int64_t DH,
                            int64_t DW) {
  const int64_t c = g->channels, in_w = g->in_w;
  const int64_t row_step = DH * in_w * c, col_step = DW * c, step = SW * c;
  const __m512 lo = _mm512_set1_ps(g->act_lo), hi = _mm512_set1_ps(g->act_hi);
  const __m512 bias = _mm512_load_ps(wb);
  const float *w = wb + LANES;
  const int64_t row0 = iy0 * in_w * c; /* offset of window row 0 */
  int64_t ox = 0;
  for (; ox < g->ox_lo; ox++)
    dw_edge_pixel(g, img, row0, ky0, ky1, ox, wb, yrow, m, tail, KW, SW, DH,
                  DW);
  for (; ox + 4 <= g->ox_hi; ox += 4) {
    /* Offsets stay integers until they name a valid row. */
    const int64_t off = row0 + (ox * SW - g->pad_left) * c;
    __m512 a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    for (int64_t ky = ky0; ky < ky1; ky++) {
      const float *xr = img + (off + ky * row_step);
      for (int64_t kx = 0; kx < KW; kx++) {
        const __m512 wv = _mm512_load_ps(w + (ky * KW + kx) * LANES);
        const float *x = xr + kx * col_step;
        a0 = _mm512_fmadd_ps(load_x(x, m, tail), wv, a0);
        a1 = _mm512_fmadd_ps(load_x(x + step, m, tail), wv, a1);
        a2 = _mm512_fmadd_ps(load_x(x + 2 * step, m, tail), wv, a2);
        a3 = _mm512_fmadd_ps(load_x(x + 3 * step, m, tail), wv, a3);
      }
    }
    float *y = yrow + ox * c;
    store_y(y, a0, lo, hi, m, tail);
    store_y(y + c, a1, lo, hi, m, tail);
    store_y(y + 2 * c, a2, lo, hi, m, tail);
    store_y(y + 3 * c, a3, lo, hi, m, tail);
  }
  for (; ox < g->ox_hi; ox++) {
    const int64_t off = row0 + (ox * SW - g->pad_left) * c;
    __m512 acc = bias;
    for (int64_t ky = ky0; ky < ky1; ky++)
      for (int64_t kx = 0; kx < KW; kx++)
        acc = _mm512_fmadd_ps(
            load_x(img + (off + ky * row_step + kx * col_step), m, tail),
            _mm512_load_ps(w + (ky * KW + kx) * LANES), acc);
    store_y(yrow + ox * c, acc, lo, hi, m, tail);
  }
  for (; ox < g->out_w; ox++)
    dw_edge_pixel(g, img, row0, ky0, ky1, ox, wb, yrow, m, tail, KW, SW, DH,
                  DW);
}

enum { MAX_TAPS = 25, MAX_COLS = (OX_FIXED - 1) * 2 + 5 };

/* One output row of one channel block for a specialized window (constant
 * K and S, dilation 1) whose rows all lie inside the input. The taps live
 * in registers for the whole row, and each input column an OX_FIXED block
 * of outputs reads is loaded once and shared by the taps that need it. */
DW_INLINE void dw_fixed_row(const kiln_dw_geom *g, const float *img,
                            int64_t iy0, const float *wb, float *yrow,
                            __mmask16 m, bool tail, int KH, int KW, int SW) {
  const int64_t c = g->channels, in_w = g->in_w, row_step = in_w * c;
  const __m512 lo = _mm512_set1_ps(g->act_lo), hi = _mm512_set1_ps(g->act_hi);
  const __m512 bias = _mm512_load_ps(wb);
  const int64_t row0 = iy0 * in_w * c;
  enum { B = OX_FIXED };
  const int cols = (B - 1) * SW + KW;
  __m512 wv[MAX_TAPS];
#pragma GCC unroll 25
  for (int t = 0; t < KH * KW; t++)
    wv[t] = _mm512_load_ps(wb + (1 + t) * LANES);
  int64_t ox = 0;
  for (; ox < g->ox_lo; ox++)
    dw_edge_pixel(g, img, row0, 0, KH, ox, wb, yrow, m, tail, KW, SW, 1, 1);
  for (; ox + B <= g->ox_hi; ox += B) {
    const int64_t off = row0 + (ox * SW - g->pad_left) * c;
    __m512 acc[B];
#pragma GCC unroll 8
    for (int j = 0; j < B; j++) acc[j] = bias;
#pragma GCC unroll 5
    for (int ky = 0; ky < KH; ky++) {
      const float *xr = img + (off + ky * row_step);
      __m512 xc[MAX_COLS];
#pragma GCC unroll 19
      for (int q = 0; q < cols; q++) xc[q] = load_x(xr + q * c, m, tail);
#pragma GCC unroll 5
      for (int kx = 0; kx < KW; kx++)
#pragma GCC unroll 8
        for (int j = 0; j < B; j++)
          acc[j] = _mm512_fmadd_ps(xc[j * SW + kx], wv[ky * KW + kx], acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < B; j++)
      store_y(yrow + (ox + j) * c, acc[j], lo, hi, m, tail);
  }
  for (; ox < g->ox_hi; ox++) {
    const int64_t off = row0 + (ox * SW - g->pad_left) * c;
    __m512 acc = bias;
#pragma GCC unroll 5
    for (int ky = 0; ky < KH; ky++)
#pragma GCC unroll 5
      for (int kx = 0; kx < KW; kx++)
        acc = _mm512_fmadd_ps(
            load_x(img + (off + ky * row_step + kx * c), m, tail),
            wv[ky * KW + kx], acc);
    store_y(yrow + ox * c, acc, lo, hi, m, tail);
  }
  for (; ox < g->out_w; ox++)
    dw_edge_pixel(g, img, row0, 0, KH, ox, wb, yrow, m, tail, KW, SW, 1, 1);
}

/* One output row of one channel block. `fixed`: the window is specialized,
 * and rows it covers whole take dw_fixed_row. */
DW_INLINE void dw_row(const dw_job *j, int64_t r, int64_t c0, __mmask16 m,
                      bool tail, bool fixed, int64_t KH, int64_t KW, int64_t SH,
                      int64_t SW, int64_t DH, int64_t DW) {
  const kiln_dw_geom *g = &j->g;
  const int64_t c = g->channels;
  const int64_t b = r / g->out_h, oy = r % g->out_h;
  const int64_t iy0 = oy * SH - g->pad_top;
  int64_t ky0, ky1;
  kiln_dw_tap_range(iy0, KH, DH, g->in_h, &ky0, &ky1);
  const float *img = j->in + b * g->in_h * g->in_w * c + c0;
  const float *wb = j->w + c0 / LANES * (1 + KH * KW) * LANES;
  float *yrow = j->out + r * g->out_w * c + c0;
  if (fixed && ky0 == 0 && ky1 == KH)
    dw_fixed_row(g, img, iy0, wb, yrow, m, tail, (int)KH, (int)KW, (int)SW);
  else
    dw_block_row(g, img, iy0, ky0, ky1, wb, yrow, m, tail, KW, SW, DH, DW);
}

/* Output rows [begin, end) of the flattened (batch, out_h) in tiles of
 * ROW_TILE rows, one channel block at a time within a tile: consecutive
 * rows of a block reuse most of their input lines from L1, and the tile's
 * input rows stay in L2 while the blocks take turns. */
DW_INLINE void dw_rows(const dw_job *j, int64_t begin, int64_t end, bool fixed,
                       int64_t KH, int64_t KW, int64_t SH, int64_t SW,
                       int64_t DH, int64_t DW) {
  const int64_t c = j->g.channels, full = c / LANES * LANES;
  const __mmask16 tail_mask = (__mmask16)((1u << (c - full)) - 1u);
  for (int64_t t0 = begin; t0 < end; t0 += ROW_TILE) {
    const int64_t t1 = end - t0 > ROW_TILE ? t0 + ROW_TILE : end;
    for (int64_t c0 = 0; c0 < full; c0 += LANES)
      for (int64_t r = t0; r < t1; r++)
        dw_row(j, r, c0, 0xffff, false, fixed, KH, KW, SH, SW, DH, DW);
    if (full < c)
      for (int64_t r = t0; r < t1; r++)
        dw_row(j, r, full, tail_mask, true, fixed, KH, KW, SH, SW, DH, DW);
    /* The tile's rows are whole now, and still in cache. */
    const size_t tile = (size_t)((t1 - t0) * j->g.out_w * c);
    kiln_f32_activation_rows(j->g.epilogue, KILN_ISA_AVX512,
                             j->out + t0 * j->g.out_w * c, 1, tile, tile);
  }
}

static void f32_dwconv_3x3s1_rows__avx512(void *ctx, int64_t begin,
                                          int64_t end) {
  dw_rows(ctx, begin, end, true, 3, 3, 1, 1, 1, 1);
}
static void f32_dwconv_3x3s2_rows__avx512(void *ctx, int64_t begin,
                                          int64_t end) {
  dw_rows(ctx, begin, end, true, 3, 3, 2, 2, 1, 1);
}
static void f32_dwconv_5x5s1_rows__avx512(void *ctx, int64_t begin,
                                          int64_t end) {
  dw_rows(ctx, begin, end, true, 5, 5, 1, 1, 1, 1);
}
static void f32_dwconv_5x5s2_rows__avx512(void *ctx, int64_t begin,
                                          int64_t end) {
  dw_rows(ctx, begin, end, true, 5, 5, 2, 2, 1, 1);
}
static void f32_dwconv_generic_rows__avx512(void *ctx, int64_t begin,
                                            int64_t end) {
  const dw_job *j = ctx;
  const kiln_dw_geom *g = &j->g;
  dw_rows(j, begin, end, false, g->kh, g->kw, g->stride_h, g->stride_w,
          g->dil_h, g->dil_w);
}

static kiln_status *dw_run(const kiln_op_ctx *ctx, kiln_range_fn rows) {
  dw_job j;
  kiln_dw_geometry(ctx, &j.g);
  j.in = ctx->inputs[0]->data;
  j.w = kiln_dw_weights(ctx->packed);
  j.out = ctx->outputs[0]->data;
  /* Rows per chunk: about 256K flops, worth waking a worker for. */
  int64_t row_flops = 2 * j.g.out_w * j.g.channels * j.g.kh * j.g.kw;
  kiln_parallel_for(ctx->pool, j.g.batch * j.g.out_h,
                    1 + (INT64_C(1) << 18) / row_flops, rows, &j);
  return NULL;
}

kiln_status *kiln_f32_dwconv_3x3s1__avx512(const kiln_op_ctx *ctx) {
  return dw_run(ctx, f32_dwconv_3x3s1_rows__avx512);
}
kiln_status *kiln_f32_dwconv_3x3s2__avx512(const kiln_op_ctx *ctx) {
  return dw_run(ctx, f32_dwconv_3x3s2_rows__avx512);
}
kiln_status *kiln_f32_dwconv_5x5s1__avx512(const kiln_op_ctx *ctx) {
  return dw_run(ctx, f32_dwconv_5x5s1_rows__avx512);
}
kiln_status *kiln_f32_dwconv_5x5s2__avx512(const kiln_op_ctx *ctx) {
  return dw_run(ctx, f32_dwconv_5x5s2_rows__avx512);
}
kiln_status *kiln_f32_dwconv_generic__avx512(const kiln_op_ctx *ctx) {
  return dw_run(ctx, f32_dwconv_generic_rows__avx512);
}
