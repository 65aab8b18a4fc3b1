/* conv_gemm.c - CONV_2D with a KxK filter (K > 1, one group) as a GEMM of
 * the input's windows against the filter packed at load, at each level.
 *
 * The filter [O, KH, KW, I] is already an [n][k] matrix with n = O and
 * k = KH * KW * I, packed as for FULLY_CONNECTED. Nothing is allocated at
 * run time: a block of output pixels has its rows of A (its windows,
 * "im2col") built a block of k at a time into a buffer on the stack, and the
 * gemminc microkernels carry the sums across the blocks of k, reading the
 * packed panels in place. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/gemm/gemm.h"

/* Output pixels per block (a multiple of every kernel's MR: 12, 6 and 4),
 * and at most KC_MAX entries of k per block. K is cut into equal blocks
 * (rounded up to 4) rather than full ones and a remainder: ResNet's 7x7
 * stem has K = 147, which blocks of 128 split into 128 + 19, and the
 * second pass would reload and store every tile of C for a seventh of
 * the work. The buffer, 96 rows of up to 192 floats (74 KiB), stays in L2
 * while each panel's block of weights (24 KiB at most with 32-wide
 * panels, half of a 48 KiB L1) is reused from L1 by its eight or more
 * tiles. Rows are padded so that they do not all fall in the same cache
 * sets. */
#define BLOCK_ROWS 96
#define KC_MAX 192
#define ROW_PAD 4

typedef struct conv_job {
  const kiln_gemm_kernel *kernel;
  const float *in, *panels;
  float *out;
  int64_t panel_floats, num_panels, n, k;
  int64_t kc, a_stride; /* entries of k per block, floats per row of A */
  int64_t in_h, in_w, in_c, out_h, out_w, k_w;
  int64_t pad_top, pad_left;
  int64_t stride_h, stride_w, dil_h, dil_w;
  int64_t pixels, blocks, splits, split_panels;
  kiln_gemm_minmax minmax;
  kiln_f32_activation_rows_fn epilogue; /* NULL: none after the clamp */
} conv_job;

/* n floats from src, or zeros when src is NULL. Runs of a filter row's
 * taps (21 floats for a 7x7 window on 3 channels) go to memcpy; the short
 * ones left, a tap or part of one, are copied inline. */
static inline void copy_run(float *dst, const float *src, int64_t n) {
  if (n >= 8) {
    if (src)
      memcpy(dst, src, (size_t)n * sizeof *dst);
    else
      memset(dst, 0, (size_t)n * sizeof *dst);
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = src ? src[i] : 0.0f;
}

/* Entries [lo, hi) of one filter row's part of a window (entry e is tap
 * e / in_c, channel e % in_c) into d, from input row `row` with the
 * window's first tap at column x0. */
static void fill_filter_row(const conv_job *j, const float *row, int64_t x0,
                            int64_t lo, int64_t hi, float *d) {
  const int64_t c = j->in_c;
  if (j->dil_w == 1) {
    /* Adjacent taps are adjacent pixels: the entries inside the image,
     * [in_lo, in_hi), are one run of memory, with padding either side. */
    int64_t in_lo = x0 < 0 ? -x0 * c : 0, in_hi = (j->in_w - x0) * c;
    in_lo = in_lo < lo ? lo : in_lo > hi ? hi : in_lo;
    in_hi = in_hi < in_lo ? in_lo : in_hi > hi ? hi : in_hi;
    copy_run(d, NULL, in_lo - lo);
    copy_run(d + (in_lo - lo), row + (x0 * c + in_lo), in_hi - in_lo);
    copy_run(d + (in_hi - lo), NULL, hi - in_hi);
    return;
  }
  for (int64_t e = lo; e < hi;) {
    int64_t kx = e / c, ic = e - kx * c, ix = x0 + kx * j->dil_w;
    int64_t len = c - ic < hi - e ? c - ic : hi - e;
    copy_run(d, ix >= 0 && ix < j->in_w ? row + (ix * c + ic) : NULL, len);
    d += len;
    e += len;
  }
}

/* Entries [k0, k0 + kc) of the window of output pixel `pixel`, filter row
 * by filter row, zero for taps that fall in the padding. */
static void fill_row(const conv_job *j, int64_t pixel, int64_t k0, int64_t kc,
                     float *dst) {
  int64_t ox = pixel % j->out_w, rest = pixel / j->out_w;
  int64_t oy = rest % j->out_h, b = rest / j->out_h;
  int64_t y0 = oy * j->stride_h - j->pad_top;
  int64_t x0 = ox * j->stride_w - j->pad_left;
  const float *image = j->in + b * j->in_h * j->in_w * j->in_c;
  const int64_t row_len = j->k_w * j->in_c, end = k0 + kc;
  /* Most windows lie wholly inside the image along x. */
  const bool inside_x = j->dil_w == 1 && x0 >= 0 && x0 + j->k_w <= j->in_w;
  for (int64_t ky = k0 / row_len, k = ky * row_len; k < end;
       ky++, k += row_len) {
    int64_t lo = k0 > k ? k0 - k : 0;
    int64_t hi = end - k < row_len ? end - k : row_len;
    float *d = dst + (k + lo - k0);
    int64_t iy = y0 + ky * j->dil_h;
    if (iy < 0 || iy >= j->in_h) {
      copy_run(d, NULL, hi - lo);
      continue;
    }
    const float *row = image + iy * j->in_w * j->in_c;
    if (inside_x)
      copy_run(d, row + (x0 * j->in_c + lo), hi - lo);
    else
      fill_filter_row(j, row, x0, lo, hi, d);
  }
}

/* Panels [p0, p1) of the pixels of block `block`. */
static void run_block(const conv_job *j, int64_t block, int64_t p0,
                      int64_t p1) {
  static const kiln_gemm_minmax none = {-INFINITY, INFINITY};
  _Alignas(64) float a[BLOCK_ROWS * (KC_MAX + ROW_PAD)];
  const int64_t mr_max = j->kernel->mr, nr = j->kernel->nr;
  int64_t r0 = block * BLOCK_ROWS;
  int64_t rows = j->pixels - r0 < BLOCK_ROWS ? j->pixels - r0 : BLOCK_ROWS;
  float *c = j->out + r0 * j->n;
  for (int64_t k0 = 0; k0 < j->k; k0 += j->kc) {
    int64_t kc = j->k - k0 < j->kc ? j->k - k0 : j->kc;
    for (int64_t r = 0; r < rows; r++)
      fill_row(j, r0 + r, k0, kc, a + r * j->a_stride);
    /* The first block starts from the biases, later ones add to C; only
     * the last one activates. */
    kiln_gemm_ukernel_fn fn = k0 == 0 ? j->kernel->fn : j->kernel->inc;
    const bool last = k0 + kc >= j->k;
    const kiln_gemm_minmax *mm = last ? &j->minmax : &none;
    int64_t w_offset = k0 == 0 ? 0 : nr * (1 + k0);
    for (int64_t p = p0; p < p1; p++) {
      int64_t n0 = p * nr, nc = j->n - n0 < nr ? j->n - n0 : nr;
      const float *w = j->panels + p * j->panel_floats + w_offset;
      /* The next panel's block of weights lies a whole panel away, where
       * hardware prefetch does not look: fetch it into L2 while this one
       * is used. */
#if defined(__GNUC__)
      if (p + 1 < p1)
        for (int64_t i = 0; i < kc * nr; i += 16)
          __builtin_prefetch(w + j->panel_floats + i, 0, 2);
#endif
      for (int64_t t = 0; t < rows; t += mr_max) {
        int64_t mr = rows - t < mr_max ? rows - t : mr_max;
        float *tile = c + t * j->n + n0;
        fn((size_t)mr, (size_t)nc, (size_t)kc, a + t * j->a_stride,
           (size_t)j->a_stride, w, tile, (size_t)j->n, mm);
        if (last && j->epilogue)
          j->epilogue((size_t)mr, (size_t)nc, tile, (size_t)j->n);
      }
    }
  }
}

/* Items are (block, share of panels) pairs; a run of them within one block
 * builds its windows once. */
static void run_range(void *context, int64_t begin, int64_t end) {
  const conv_job *j = context;
  while (begin < end) {
    int64_t block = begin / j->splits, s0 = begin % j->splits;
    int64_t s1 = end - begin < j->splits - s0 ? s0 + (end - begin) : j->splits;
    int64_t p1 = s1 * j->split_panels;
    run_block(j, block, s0 * j->split_panels,
              p1 < j->num_panels ? p1 : j->num_panels);
    begin += s1 - s0;
  }
}

static kiln_status *conv_run(const kiln_gemm_kernel *kernel,
                             const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  const kiln_gemm_header *h = ctx->packed;
  conv_job j = {
      .kernel = kernel,
      .in = in->data,
      .panels =
          (const float *)(const void *)((const char *)ctx->packed + h->offset),
      .out = out->data,
      .panel_floats = (int64_t)h->nr * (h->k + 1),
      .num_panels = (h->n + h->nr - 1) / h->nr,
      .n = h->n,
      .k = h->k,
      .in_h = in->dims[1],
      .in_w = in->dims[2],
      .in_c = in->dims[3],
      .out_h = out->dims[1],
      .out_w = out->dims[2],
      .k_w = f->dims[2],
      .stride_h = attrs->stride_h,
      .stride_w = attrs->stride_w,
      .dil_h = attrs->dilation_h,
      .dil_w = attrs->dilation_w,
      .pixels = out->dims[0] * out->dims[1] * out->dims[2],
  };
  kiln_activation epilogue;
  kiln_gemm_activation_split(attrs->activation, &j.minmax, &epilogue);
  j.epilogue = kiln_f32_activation_rows_lookup(epilogue, kernel->isa);
  j.pad_top =
      kiln_window_pad_before(j.in_h, j.out_h, f->dims[1], attrs->stride_h,
                             attrs->dilation_h, attrs->padding);
  j.pad_left =
      kiln_window_pad_before(j.in_w, j.out_w, f->dims[2], attrs->stride_w,
                             attrs->dilation_w, attrs->padding);
  if (j.pixels <= 0) return NULL;
  j.blocks = (j.pixels + BLOCK_ROWS - 1) / BLOCK_ROWS;
  int64_t k_blocks = (j.k + KC_MAX - 1) / KC_MAX;
  j.kc = ((j.k + k_blocks - 1) / k_blocks + 3) & ~(int64_t)3;
  j.a_stride = j.kc + ROW_PAD;
  /* Each share of a block's panels builds the block's windows again. */
  kiln_gemm_share_panels(j.blocks, j.num_panels,
                         kiln_threadpool_size(ctx->pool), &j.splits,
                         &j.split_panels);
  int64_t item_macs = BLOCK_ROWS * j.split_panels * h->nr * (j.k + 1);
  int64_t grain = (KILN_GEMM_MIN_CHUNK_MACS + item_macs - 1) / item_macs;
  kiln_parallel_for(ctx->pool, j.blocks * j.splits, grain, run_range, &j);
  return NULL;
}

#define DEFINE_VARIANTS(isa, kernel)                                        \
  kiln_status *kiln_conv_gemm_pack_##isa(                                   \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return kiln_gemm_conv_pack(&kernel, KILN_GEMM_CONV_KXK, ctx, a,         \
                               out_packed);                                 \
  }                                                                         \
  bool kiln_conv_gemm_applies_##isa(const kiln_op_ctx *ctx) {               \
    return kiln_gemm_conv_applies(&kernel, KILN_GEMM_CONV_KXK, ctx);        \
  }                                                                         \
  kiln_status *kiln_conv_gemm_run_##isa(const kiln_op_ctx *ctx) {           \
    return conv_run(&kernel, ctx);                                          \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
#endif
