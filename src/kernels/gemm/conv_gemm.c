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

/* Entries of k per block, and output pixels per block (a multiple of every
 * kernel's MR: 12, 6 and 4). The buffer, 96 rows of KC floats, is 50 KiB:
 * it stays in L2 while each panel's block of KC weights (16 KiB at most)
 * is reused from L1 by its eight or more tiles. Rows are padded so that
 * they do not all fall in the same cache sets. */
#define KC 128
#define BLOCK_ROWS 96
#define A_STRIDE (KC + 4)

typedef struct conv_job {
  const kiln_gemm_kernel *kernel;
  const float *in, *panels;
  float *out;
  int64_t panel_floats, num_panels, n, k;
  int64_t in_h, in_w, in_c, out_h, out_w, k_w;
  int64_t pad_top, pad_left;
  int64_t stride_h, stride_w, dil_h, dil_w;
  int64_t pixels, blocks, splits, split_panels;
  kiln_gemm_minmax minmax;
  kiln_f32_activation_rows_fn epilogue; /* NULL: none after the clamp */
} conv_job;

/* Entries [k0, k0 + kc) of the window of output pixel `pixel`: runs of
 * input channels, zero for taps that fall in the padding. Without dilation
 * along x, the taps of a filter row that fall inside the image are one run
 * of memory, copied at once. */
static void fill_row(const conv_job *j, int64_t pixel, int64_t k0, int64_t kc,
                     float *dst) {
  int64_t ox = pixel % j->out_w, rest = pixel / j->out_w;
  int64_t oy = rest % j->out_h, b = rest / j->out_h;
  int64_t y0 = oy * j->stride_h - j->pad_top;
  int64_t x0 = ox * j->stride_w - j->pad_left;
  const float *image = j->in + b * j->in_h * j->in_w * j->in_c;
  const int64_t row_len = j->k_w * j->in_c, end = k0 + kc;
  for (int64_t k = k0; k < end;) {
    int64_t ky = k / row_len, in_row = k % row_len;
    int64_t kx = in_row / j->in_c, ic = in_row % j->in_c;
    int64_t iy = y0 + ky * j->dil_h, ix = x0 + kx * j->dil_w, len;
    const float *src = NULL;
    if (iy < 0 || iy >= j->in_h) {
      len = row_len - in_row; /* the rest of the filter row */
    } else if (ix < 0 || ix >= j->in_w) {
      len = j->in_c - ic; /* the rest of the tap */
    } else {
      int64_t taps = 1;
      if (j->dil_w == 1)
        taps = (j->k_w < j->in_w - x0 ? j->k_w : j->in_w - x0) - kx;
      len = taps * j->in_c - ic;
      src = image + (iy * j->in_w + ix) * j->in_c + ic;
    }
    if (len > end - k) len = end - k;
    if (src)
      memcpy(dst, src, (size_t)len * sizeof *dst);
    else
      memset(dst, 0, (size_t)len * sizeof *dst);
    dst += len;
    k += len;
  }
}

/* Panels [p0, p1) of the pixels of block `block`. */
static void run_block(const conv_job *j, int64_t block, int64_t p0,
                      int64_t p1) {
  static const kiln_gemm_minmax none = {-INFINITY, INFINITY};
  _Alignas(64) float a[BLOCK_ROWS * A_STRIDE];
  const int64_t mr_max = j->kernel->mr, nr = j->kernel->nr;
  int64_t r0 = block * BLOCK_ROWS;
  int64_t rows = j->pixels - r0 < BLOCK_ROWS ? j->pixels - r0 : BLOCK_ROWS;
  float *c = j->out + r0 * j->n;
  for (int64_t k0 = 0; k0 < j->k; k0 += KC) {
    int64_t kc = j->k - k0 < KC ? j->k - k0 : KC;
    for (int64_t r = 0; r < rows; r++)
      fill_row(j, r0 + r, k0, kc, a + r * A_STRIDE);
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
        fn((size_t)mr, (size_t)nc, (size_t)kc, a + t * A_STRIDE,
           (size_t)A_STRIDE, w, tile, (size_t)j->n, mm);
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
  /* Split each block's panels only as far as the threads need: each share
   * builds the block's windows again. */
  int64_t threads = kiln_threadpool_size(ctx->pool);
  j.splits = 1;
  j.split_panels = j.num_panels;
  double best = kiln_gemm_balance(j.blocks, threads);
  for (int64_t s = 2; s <= j.num_panels && best < 0.9; s++) {
    int64_t per = (j.num_panels + s - 1) / s;
    int64_t shares = (j.num_panels + per - 1) / per;
    double balance = kiln_gemm_balance(j.blocks * shares, threads) *
                     (double)j.num_panels / (double)(shares * per);
    if (balance > best + 0.01) {
      best = balance;
      j.splits = shares;
      j.split_panels = per;
    }
  }
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
