/* conv_winograd.c - 3x3 stride-1 CONV_2D through Winograd F(4x4, 3x3) or
 * F(2x2, 3x3) on the packed GEMM microkernels (see conv_winograd.h), at
 * each level. Below, alpha = tile + 2 is the side of a transformed patch
 * (6 or 4) and there are alpha^2 transformed matrices.
 *
 * Packed block: a header, the bias padded to a multiple of 16 floats, then
 * alpha^2 packed GEMM weight matrices U_xi [O][C] (panels of NR output
 * channels with zero "biases", as gemm.h lays them out), xi_floats apart.
 *
 * At run time the output's tiles are dealt out in blocks. A thread
 * transforms a block's input patches into its scratch (V: alpha^2
 * matrices of tiles x C), runs the GEMMs V_xi * U_xi^T into scratch (M:
 * alpha^2 matrices of tiles x O), and transforms M back into the output.
 * A block is sized so that V and M stay in L2 while every U_xi streams
 * past them. A clamp activation is applied by the output transform; the
 * others (HARD_SWISH, LOGISTIC, SWISH) by the epilogue's row functions on
 * each tile's output rows just after the transform has written them. */
#include "kernels/gemm/conv_winograd.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/epilogue.h"

/* Scratch a block of tiles may use for V and M together: what stays in
 * L2 beside the U_xi streaming past; and, when the U_xi together exceed
 * L2 so that each block reads them from memory again, up to LARGE_BLOCK
 * (V_xi and M_xi are used one xi at a time, so a larger block spills to
 * L3 only what the next xi does not need yet). */
#define BLOCK_BYTES (384 * 1024)
#define LARGE_BLOCK_BYTES (4 * 1024 * 1024)
#define L2_BYTES (1024 * 1024)

typedef struct wino_header {
  int64_t c, o;
  int32_t nr;
  int32_t tile;                        /* output tile side: 4 or 2 */
  uint64_t bias_offset, panels_offset; /* bytes from the block's start */
  int64_t xi_floats;                   /* floats between consecutive U_xi */
} wino_header;

/* One variant: a tile size, an instruction set's microkernel and its
 * transforms for that tile. */
typedef struct wino_isa {
  int tile;
  const kiln_gemm_kernel *kernel;
  kiln_winograd_input_fn input;
  kiln_winograd_output_fn output;
} wino_isa;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* G g G^T for one 3x3 filter g (row-major, taps `step` floats apart)
 * into u (alpha x alpha), in double so that the 1/6 and 1/24 add no
 * rounding of their own. */
static void filter_transform(const float *g, int64_t step, int tile,
                             double *u) {
  static const double G43[6][3] = {
      {1.0 / 4, 0, 0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0, 0, 1},
  };
  static const double G23[4][3] = {
      {1, 0, 0},
      {0.5, 0.5, 0.5},
      {0.5, -0.5, 0.5},
      {0, 0, 1},
  };
  const double(*G)[3] = tile == 4 ? G43 : G23;
  const int alpha = tile + 2;
  double t[6][3];
  for (int i = 0; i < alpha; i++)
    for (int kx = 0; kx < 3; kx++) {
      t[i][kx] = 0;
      for (int ky = 0; ky < 3; ky++)
        t[i][kx] += G[i][ky] * g[(ky * 3 + kx) * step];
    }
  for (int i = 0; i < alpha; i++)
    for (int j = 0; j < alpha; j++) {
      double sum = 0;
      for (int kx = 0; kx < 3; kx++) sum += t[i][kx] * G[j][kx];
      u[i * alpha + j] = sum;
    }
}

/* Whether the node is a convolution Winograd F(4x4, 3x3) computes: a 3x3
 * float32 filter, stride 1, no dilation, one group. */
static bool shape_fits(const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  if (ctx->num_inputs < 2 || !ctx->inputs[0] || !ctx->inputs[1]) return false;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  return f->dtype == KILN_FLOAT32 && f->rank == 4 && f->dims[0] > 0 &&
         f->dims[1] == 3 && f->dims[2] == 3 && f->dims[3] > 0 &&
         attrs->stride_h == 1 && attrs->stride_w == 1 &&
         attrs->dilation_h == 1 && attrs->dilation_w == 1 && in->rank == 4 &&
         in->dims[3] == f->dims[3];
}

/* The tile side (4 or 2) that runs the layer fastest, or 0 when direct
 * GEMM convolution does, judged at load from the model's input size. Per
 * input-output channel pair and image, the direct convolution multiplies
 * 9 * P times (P output pixels) and reads 9 filter weights; F(t x t, 3x3)
 * multiplies alpha^2 * T times (T tiles, edge tiles whole) plus about 15%
 * for the transforms, and reads alpha^2 transformed weights. Each costs
 * the larger of its multiply time (32 per cycle on a core with two FMA
 * units of 16) and its read time (4-byte weights; about 12 bytes per
 * cycle from memory when the weights exceed L2, 64 from L2). So 4x4 tiles
 * win on large images, 2x2 tiles on the 7x7 images of wide layers at the
 * end of a network, and direct convolution on tiny images. */
static int best_tile(const kiln_tensor *in, const kiln_tensor *f) {
  int64_t h = in->dims[1], w = in->dims[2];
  if (h < 1 || w < 1) return 0; /* size unknown at load */
  double pairs = (double)f->dims[0] * (double)f->dims[3];
  double pixels = (double)h * (double)w; /* SAME; VALID only shrinks all */
  int best = 0;
  double best_cost = 0;
  for (int tile = 0; tile <= 4; tile += 2) {
    double taps = tile ? (tile + 2) * (tile + 2) : 9;
    double mults = tile ? taps * (double)((h + tile - 1) / tile) *
                              (double)((w + tile - 1) / tile) * 1.15
                        : 9 * pixels;
    double bytes = taps * 4.0;
    double per_cycle = bytes * pairs > 1024.0 * 1024.0 ? 12.0 : 64.0;
    double cost = fmax(mults / 32.0, bytes / per_cycle);
    if (tile == 0 || cost < best_cost) {
      best = tile;
      best_cost = cost;
    }
  }
  return best;
}

static kiln_status *winograd_pack(const wino_isa *isa, const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out_packed) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  *out_packed = NULL;
  if (!shape_fits(ctx) || !kiln_f32_activation_rows_supports(attrs->activation))
    return NULL;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const float *bias;
  int64_t o = f->dims[0], c = f->dims[3];
  if (!f->data || !kiln_gemm_constant_bias(ctx, 2, o, &bias)) return NULL;
  /* The variant of the other tile size (or the direct convolution) takes
   * the layers this one would run slower. */
  const int tile = isa->tile, taps = (tile + 2) * (tile + 2);
  if (best_tile(in, f) != tile) return NULL;
  const int64_t nr = isa->kernel->nr;
  const int64_t panels = (o + nr - 1) / nr;
  /* taps * panels * nr * (c + 1) floats, with c and o below 2^31 (a filter
   * that fit in the model) kept from overflowing 64 bits; on 32-bit hosts
   * the size is checked against SIZE_MAX. */
  uint64_t xi_floats = (uint64_t)panels * (uint64_t)nr * ((uint64_t)c + 1);
  uint64_t bias_floats = (uint64_t)round16(o);
  uint64_t total = (uint64_t)taps * xi_floats + bias_floats;
  if (c > INT32_MAX || o > INT32_MAX ||
      total > (SIZE_MAX - 4 * KILN_ALIGNMENT) / sizeof(float))
    return NULL;
  size_t u_bytes = (size_t)((uint64_t)taps * xi_floats) * sizeof(float);
  size_t bias_bytes = (size_t)bias_floats * sizeof(float);
  char *block = kiln_malloc(
      a, sizeof(wino_header) + KILN_ALIGNMENT + bias_bytes + u_bytes);
  if (!block) return KILN_OOM();
  /* The allocator promises malloc's alignment only: the bias and the
   * panels start on a cache line past the header (bias_bytes keeps it). */
  uintptr_t first =
      ((uintptr_t)block + sizeof(wino_header) + KILN_ALIGNMENT - 1) &
      ~(uintptr_t)(KILN_ALIGNMENT - 1);
  size_t bias_offset = (size_t)(first - (uintptr_t)block);
  size_t panels_offset = bias_offset + bias_bytes;
  wino_header *h = (wino_header *)(void *)block;
  h->c = c;
  h->o = o;
  h->nr = (int32_t)nr;
  h->tile = tile;
  h->bias_offset = bias_offset;
  h->panels_offset = panels_offset;
  h->xi_floats = (int64_t)xi_floats;
  float *b = (float *)(void *)(block + bias_offset);
  for (int64_t i = 0; i < (int64_t)bias_floats; i++)
    b[i] = bias && i < o ? bias[i] : 0.0f;
  float *u = (float *)(void *)(block + panels_offset);
  memset(u, 0, u_bytes);
  const float *filter = f->data;
  for (int64_t oc = 0; oc < o; oc++) {
    int64_t panel = oc / nr, lane = oc % nr;
    for (int64_t ic = 0; ic < c; ic++) {
      double t[36];
      filter_transform(filter + oc * 9 * c + ic, c, tile, t);
      for (int xi = 0; xi < taps; xi++)
        u[xi * (int64_t)xi_floats + panel * nr * (c + 1) + (ic + 1) * nr +
          lane] = (float)t[xi];
    }
  }
  *out_packed = block;
  return NULL;
}

/* Tiles per block, of `tiles` in all: as many as keep V and M within the
 * scratch limit, a multiple of the microkernel's rows, at least one
 * microkernel tile. */
static int64_t block_tiles(const kiln_gemm_kernel *kernel, const wino_header *h,
                           int64_t tiles) {
  int64_t taps = (h->tile + 2) * (h->tile + 2);
  int64_t per_tile =
      taps * (round16(h->c) + round16(h->o)) * (int64_t)sizeof(float);
  int64_t u_bytes = taps * h->xi_floats * (int64_t)sizeof(float);
  int64_t limit = u_bytes > L2_BYTES ? LARGE_BLOCK_BYTES : BLOCK_BYTES;
  int64_t fit = limit / per_tile / kernel->mr * kernel->mr;
  if (fit < kernel->mr) fit = kernel->mr;
  return tiles < fit ? (tiles > 0 ? tiles : 1) : fit;
}

/* Output tiles of the node's images. */
static int64_t count_tiles(const wino_header *h, const kiln_tensor *out) {
  return out->dims[0] * ((out->dims[1] + h->tile - 1) / h->tile) *
         ((out->dims[2] + h->tile - 1) / h->tile);
}

static bool winograd_applies(const wino_isa *isa, const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  const wino_header *h = ctx->packed;
  return h && shape_fits(ctx) && in->dtype == KILN_FLOAT32 &&
         out->dtype == KILN_FLOAT32 && h->nr == isa->kernel->nr &&
         h->tile == isa->tile && h->c == ctx->inputs[1]->dims[3] &&
         h->o == ctx->inputs[1]->dims[0];
}

static size_t winograd_workspace(const wino_isa *isa, const kiln_op_ctx *ctx) {
  const wino_header *h = ctx->packed;
  int64_t taps = (h->tile + 2) * (h->tile + 2);
  int64_t t = block_tiles(isa->kernel, h, count_tiles(h, ctx->outputs[0]));
  return (size_t)(taps * t * (round16(h->c) + round16(h->o))) * sizeof(float);
}

typedef struct wino_job {
  const wino_isa *isa;
  const wino_header *h;
  const float *bias, *u;
  kiln_threadpool *pool;
  kiln_winograd_image image; /* data: image 0 */
  float *out;
  int64_t out_h, out_w, tiles_h, tiles_w, tiles, block;
  int64_t splits, split_panels; /* each block's panels in shares */
  int64_t pad_top, pad_left;
  kiln_gemm_minmax minmax;              /* the clamp, in the transform */
  kiln_f32_activation_rows_fn epilogue; /* NULL: nothing after the clamp */
} wino_job;

/* Panels [p0, p1) of block `block`, in the thread's scratch v. */
static void run_block(const wino_job *j, float *v, int64_t block, int64_t p0,
                      int64_t p1) {
  static const kiln_gemm_minmax none = {-INFINITY, INFINITY};
  const wino_header *h = j->h;
  const kiln_gemm_kernel *kernel = j->isa->kernel;
  const int64_t c = h->c, o = h->o, nr = h->nr;
  const int64_t v_row = round16(c), m_row = round16(o);
  const size_t v_xi = (size_t)(j->block * v_row);
  const size_t m_xi = (size_t)(j->block * m_row);
  const int tile = h->tile, taps = (tile + 2) * (tile + 2);
  float *m = v + taps * v_xi;
  const int64_t image_floats = j->image.h * j->image.w * c;
  const int64_t per_image = j->tiles_h * j->tiles_w;
  int64_t t0 = block * j->block;
  int64_t count = j->tiles - t0 < j->block ? j->tiles - t0 : j->block;
  for (int64_t t = 0; t < count; t++) {
    int64_t at = t0 + t, b = at / per_image, rest = at % per_image;
    kiln_winograd_image im = j->image;
    im.data += b * image_floats;
    j->isa->input(&im, rest / j->tiles_w * tile - j->pad_top,
                  rest % j->tiles_w * tile - j->pad_left, v + t * v_row, v_xi);
  }
  for (int xi = 0; xi < taps; xi++) {
    const float *a = v + xi * v_xi;
    float *mx = m + xi * m_xi;
    for (int64_t p = p0; p < p1; p++) {
      int64_t n0 = p * nr, nc = o - n0 < nr ? o - n0 : nr;
      const float *w = j->u + xi * h->xi_floats + p * nr * (c + 1);
      for (int64_t t = 0; t < count; t += kernel->mr) {
        int64_t mr = count - t < kernel->mr ? count - t : kernel->mr;
        kernel->fn((size_t)mr, (size_t)nc, (size_t)c, a + t * v_row,
                   (size_t)v_row, w, mx + t * m_row + n0, (size_t)m_row, &none);
      }
    }
  }
  int64_t n0 = p0 * nr, n1 = p1 * nr < o ? p1 * nr : o;
  for (int64_t t = 0; t < count; t++) {
    int64_t at = t0 + t, b = at / per_image, rest = at % per_image;
    int64_t oy = rest / j->tiles_w * tile, ox = rest % j->tiles_w * tile;
    int rows = (int)(j->out_h - oy < tile ? j->out_h - oy : tile);
    int cols = (int)(j->out_w - ox < tile ? j->out_w - ox : tile);
    float *dst = j->out + ((b * j->out_h + oy) * j->out_w + ox) * o + n0;
    j->isa->output(m + t * m_row + n0, m_xi, j->bias + n0, n1 - n0, dst, o,
                   j->out_w * o, rows, cols, &j->minmax);
    if (!j->epilogue) continue;
    /* The tile's rows while they are in L1: with every channel, a row's
     * pixels are one run; with a share of them, one run per pixel. */
    if (n1 - n0 == o) {
      j->epilogue((size_t)rows, (size_t)(cols * o), dst,
                  (size_t)(j->out_w * o));
    } else {
      for (int r = 0; r < rows; r++)
        j->epilogue((size_t)cols, (size_t)(n1 - n0), dst + r * j->out_w * o,
                    (size_t)o);
    }
  }
}

/* Items are (block, share of panels) pairs. */
static void run_items(void *context, int thread, int64_t begin, int64_t end) {
  const wino_job *j = context;
  float *v = kiln_threadpool_scratch(j->pool, thread);
  const int64_t panels = (j->h->o + j->h->nr - 1) / j->h->nr;
  for (int64_t item = begin; item < end; item++) {
    int64_t share = item % j->splits, p0 = share * j->split_panels;
    int64_t p1 = p0 + j->split_panels < panels ? p0 + j->split_panels : panels;
    run_block(j, v, item / j->splits, p0, p1);
  }
}

static kiln_status *winograd_run(const wino_isa *isa, const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  const wino_header *h = ctx->packed;
  const char *base = ctx->packed;
  wino_job j = {
      .isa = isa,
      .h = h,
      .bias = (const float *)(const void *)(base + h->bias_offset),
      .u = (const float *)(const void *)(base + h->panels_offset),
      .pool = ctx->pool,
      .image = {in->data, in->dims[1], in->dims[2], in->dims[3]},
      .out = out->data,
      .out_h = out->dims[1],
      .out_w = out->dims[2],
  };
  kiln_activation epilogue;
  kiln_gemm_activation_split(attrs->activation, &j.minmax, &epilogue);
  j.epilogue = kiln_f32_activation_rows_lookup(epilogue, isa->kernel->isa);
  j.pad_top =
      kiln_window_pad_before(in->dims[1], j.out_h, 3, 1, 1, attrs->padding);
  j.pad_left =
      kiln_window_pad_before(in->dims[2], j.out_w, 3, 1, 1, attrs->padding);
  j.tiles_h = (j.out_h + h->tile - 1) / h->tile;
  j.tiles_w = (j.out_w + h->tile - 1) / h->tile;
  j.tiles = out->dims[0] * j.tiles_h * j.tiles_w;
  if (j.tiles <= 0) return NULL;
  j.block = block_tiles(isa->kernel, h, j.tiles);
  int64_t blocks = (j.tiles + j.block - 1) / j.block;
  /* With fewer blocks than threads keep busy (the small late layers of a
   * network), threads also share out each block's panels; each share
   * transforms the block's input again, which is cheap beside its GEMMs. */
  int64_t panels = (h->o + h->nr - 1) / h->nr;
  kiln_gemm_share_panels(blocks, panels, kiln_threadpool_size(ctx->pool),
                         &j.splits, &j.split_panels);
  kiln_parallel_for_thread(ctx->pool, blocks * j.splits, 1, run_items, &j);
  return NULL;
}

#define DEFINE_VARIANTS(tile, side, isa, kernel)                               \
  static const wino_isa tile##_##isa = {                                       \
      side, &kernel, kiln_f32_winograd_##tile##_input__##isa,                  \
      kiln_f32_winograd_##tile##_output__##isa};                               \
  kiln_status *kiln_conv_winograd_##tile##_pack_##isa(                         \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) {    \
    return winograd_pack(&tile##_##isa, ctx, a, out_packed);                   \
  }                                                                            \
  bool kiln_conv_winograd_##tile##_applies_##isa(const kiln_op_ctx *ctx) {     \
    return winograd_applies(&tile##_##isa, ctx);                               \
  }                                                                            \
  size_t kiln_conv_winograd_##tile##_workspace_##isa(const kiln_op_ctx *ctx) { \
    return winograd_workspace(&tile##_##isa, ctx);                             \
  }                                                                            \
  kiln_status *kiln_conv_winograd_##tile##_run_##isa(const kiln_op_ctx *ctx) { \
    return winograd_run(&tile##_##isa, ctx);                                   \
  }

DEFINE_VARIANTS(f43, 4, portable, kiln_gemm_4x8_portable)
DEFINE_VARIANTS(f23, 2, portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(f43, 4, avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(f23, 2, avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(f43, 4, avx512, kiln_gemm_12x32_avx512)
DEFINE_VARIANTS(f23, 2, avx512, kiln_gemm_12x32_avx512)
#endif
