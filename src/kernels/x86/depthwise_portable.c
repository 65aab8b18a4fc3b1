/* depthwise_portable.c - DEPTHWISE_CONV_2D float32 in plain C. */
#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/x86/x86_kernels.h"

/* Runs on the channel-blocked packed weights with fixed-width inner loops
 * that compilers turn into whatever vectors the target has. */

#define DW_INLINE static inline __attribute__((always_inline))

enum { LANES = 8, OX_BLOCK = 2 };

typedef struct dw_job {
  kiln_dw_geom g;
  const float *in, *w;
  float *out;
} dw_job;

/* acc += x * w over `nc` lanes; nc is LANES outside the tail block, where
 * the constant trip count lets the loop become vector code. */
DW_INLINE void madd(float *acc, const float *x, const float *w, int64_t nc) {
  for (int64_t l = 0; l < nc; l++) acc[l] += x[l] * w[l];
}

/* Same comparisons as the reference's kiln_activate, so NaN passes. */
DW_INLINE void store_y(float *y, const float *acc, const kiln_dw_geom *g,
                       int64_t nc) {
  for (int64_t l = 0; l < nc; l++) {
    float v = acc[l] < g->act_lo ? g->act_lo : acc[l];
    y[l] = v > g->act_hi ? g->act_hi : v;
  }
}

/* One output row of one channel block of nc lanes; window rows
 * [ky0, ky1) are valid. Interior columns go OX_BLOCK at a time. */
DW_INLINE void dw_block_row(const kiln_dw_geom *g, const float *img,
                            int64_t iy0, int64_t ky0, int64_t ky1,
                            const float *wb, float *yrow, int64_t nc,
                            int64_t KW, int64_t SW, int64_t DH, int64_t DW) {
  const int64_t c = g->channels, in_w = g->in_w;
  const int64_t row_step = DH * in_w * c, col_step = DW * c;
  const int64_t row0 = iy0 * in_w * c;
  const float *w = wb + LANES;
  int64_t ox = 0;
  for (int pass = 0; pass < 2; pass++) {
    int64_t end = pass == 0 ? g->ox_lo : g->out_w;
    for (; ox < end; ox++) {
      int64_t ix0 = ox * SW - g->pad_left, kx0, kx1;
      kiln_dw_tap_range(ix0, KW, DW, in_w, &kx0, &kx1);
      float acc[LANES];
      for (int64_t l = 0; l < LANES; l++) acc[l] = wb[l];
      for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = kx0; kx < kx1; kx++)
          madd(acc, img + (row0 + ky * row_step + ix0 * c + kx * col_step),
               w + (ky * KW + kx) * LANES, nc);
      store_y(yrow + ox * c, acc, g, nc);
    }
    if (pass == 1) break;
    for (; ox + OX_BLOCK <= g->ox_hi; ox += OX_BLOCK) {
      const int64_t off = row0 + (ox * SW - g->pad_left) * c;
      float a0[LANES], a1[LANES];
      for (int64_t l = 0; l < LANES; l++) a0[l] = a1[l] = wb[l];
      for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = 0; kx < KW; kx++) {
          const float *x = img + (off + ky * row_step + kx * col_step);
          const float *wt = w + (ky * KW + kx) * LANES;
          madd(a0, x, wt, nc);
          madd(a1, x + SW * c, wt, nc);
        }
      store_y(yrow + ox * c, a0, g, nc);
      store_y(yrow + (ox + 1) * c, a1, g, nc);
    }
    for (; ox < g->ox_hi; ox++) {
      const int64_t off = row0 + (ox * SW - g->pad_left) * c;
      float acc[LANES];
      for (int64_t l = 0; l < LANES; l++) acc[l] = wb[l];
      for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = 0; kx < KW; kx++)
          madd(acc, img + (off + ky * row_step + kx * col_step),
               w + (ky * KW + kx) * LANES, nc);
      store_y(yrow + ox * c, acc, g, nc);
    }
  }
}

DW_INLINE void dw_rows(const dw_job *j, int64_t begin, int64_t end, int64_t KH,
                       int64_t KW, int64_t SH, int64_t SW, int64_t DH,
                       int64_t DW) {
  const kiln_dw_geom *g = &j->g;
  const int64_t c = g->channels, full = c / LANES, rest = c % LANES;
  const int64_t wstride = (1 + KH * KW) * LANES;
  for (int64_t r = begin; r < end; r++) {
    int64_t b = r / g->out_h, oy = r % g->out_h;
    int64_t iy0 = oy * SH - g->pad_top, ky0, ky1;
    kiln_dw_tap_range(iy0, KH, DH, g->in_h, &ky0, &ky1);
    const float *img = j->in + b * g->in_h * g->in_w * c;
    float *yrow = j->out + r * g->out_w * c;
    for (int64_t cb = 0; cb < full; cb++)
      dw_block_row(g, img + cb * LANES, iy0, ky0, ky1, j->w + cb * wstride,
                   yrow + cb * LANES, LANES, KW, SW, DH, DW);
    if (rest)
      dw_block_row(g, img + full * LANES, iy0, ky0, ky1, j->w + full * wstride,
                   yrow + full * LANES, rest, KW, SW, DH, DW);
    const size_t row = (size_t)(g->out_w * c);
    kiln_f32_activation_rows(g->epilogue, KILN_ISA_PORTABLE, yrow, 1, row, row);
  }
}

static void f32_dwconv_3x3s1_rows__portable(void *ctx, int64_t begin,
                                            int64_t end) {
  dw_rows(ctx, begin, end, 3, 3, 1, 1, 1, 1);
}
static void f32_dwconv_3x3s2_rows__portable(void *ctx, int64_t begin,
                                            int64_t end) {
  dw_rows(ctx, begin, end, 3, 3, 2, 2, 1, 1);
}
static void f32_dwconv_generic_rows__portable(void *ctx, int64_t begin,
                                              int64_t end) {
  const dw_job *j = ctx;
  const kiln_dw_geom *g = &j->g;
  dw_rows(j, begin, end, g->kh, g->kw, g->stride_h, g->stride_w, g->dil_h,
          g->dil_w);
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

kiln_status *kiln_f32_dwconv_3x3__portable(const kiln_op_ctx *ctx) {
  const kiln_dw_packed *p = ctx->packed;
  return dw_run(ctx, p->kind == KILN_DW_3X3S2
                         ? f32_dwconv_3x3s2_rows__portable
                         : f32_dwconv_3x3s1_rows__portable);
}
kiln_status *kiln_f32_dwconv_generic__portable(const kiln_op_ctx *ctx) {
  return dw_run(ctx, f32_dwconv_generic_rows__portable);
}
