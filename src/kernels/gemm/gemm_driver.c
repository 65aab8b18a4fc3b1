/* gemm_driver.c - packs GEMM weights into panels and walks the output in
 * microkernel tiles, cache-blocked and split across the thread pool. */
#include <math.h>
#include <stdint.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/gemm/gemm.h"

/* Rows of A a block of tiles may read: the block stays in L2 while every
 * panel of weights streams past it, so weights are read from memory once
 * per block rather than once per tile. */
#define A_BLOCK_BYTES (512 * 1024)

kiln_status *kiln_gemm_pack(const float *w, const float *bias, int64_t n,
                            int64_t k, int nr, const kiln_allocator *a,
                            void **out_packed) {
  *out_packed = NULL;
  if (n < 1 || k < 0 || nr < 1) return NULL;
  uint64_t panels = (uint64_t)((n + nr - 1) / nr);
  /* Padding can push a byte count that fits past SIZE_MAX (on 32-bit
   * hosts); such weights are left to the reference kernel. */
  uint64_t limit = (SIZE_MAX - 2 * KILN_ALIGNMENT) / sizeof(float);
  if ((uint64_t)k + 1 > limit / (uint64_t)nr ||
      panels > limit / ((uint64_t)nr * ((uint64_t)k + 1)))
    return NULL;
  size_t panel_floats = (size_t)nr * (size_t)(k + 1);
  size_t bytes = (size_t)panels * panel_floats * sizeof(float);
  size_t header = sizeof(kiln_gemm_header) + KILN_ALIGNMENT;
  char *block = kiln_malloc(a, bytes + header);
  if (!block) return KILN_OOM();
  /* The allocator promises no alignment; panels start on a cache line so
   * that vector loads never straddle two. */
  uintptr_t first =
      ((uintptr_t)block + sizeof(kiln_gemm_header) + KILN_ALIGNMENT - 1) &
      ~(uintptr_t)(KILN_ALIGNMENT - 1);
  kiln_gemm_header *h = (kiln_gemm_header *)(void *)block;
  h->k = k;
  h->n = n;
  h->nr = nr;
  h->offset = (uint32_t)(first - (uintptr_t)block);
  float *p = (float *)(void *)(block + h->offset);
  for (int64_t n0 = 0; n0 < n; n0 += nr) {
    for (int64_t j = 0; j < nr; j++)
      *p++ = bias && n0 + j < n ? bias[n0 + j] : 0.0f;
    for (int64_t i = 0; i < k; i++)
      for (int64_t j = 0; j < nr; j++)
        *p++ = n0 + j < n ? w[(n0 + j) * k + i] : 0.0f;
  }
  *out_packed = block;
  return NULL;
}

#define GEMM_KERNEL(MR, NR, isa_id, set)                          \
  {                                                               \
    .mr = MR, .nr = NR, .fn = kiln_f32_gemm_##MR##x##NR##__##set, \
    .inc = kiln_f32_gemminc_##MR##x##NR##__##set, .isa = isa_id,  \
    .residual = kiln_f32_residual_add__##set                      \
  }
const kiln_gemm_kernel kiln_gemm_4x8_portable =
    GEMM_KERNEL(4, 8, KILN_ISA_PORTABLE, portable);
#if defined(__x86_64__)
const kiln_gemm_kernel kiln_gemm_6x16_avx2 =
    GEMM_KERNEL(6, 16, KILN_ISA_AVX2, avx2);
const kiln_gemm_kernel kiln_gemm_12x32_avx512 =
    GEMM_KERNEL(12, 32, KILN_ISA_AVX512, avx512);
#endif
#undef GEMM_KERNEL

bool kiln_gemm_packed_fits(const void *packed, int64_t n, int64_t k, int nr) {
  const kiln_gemm_header *h = packed;
  return h && h->n == n && h->k == k && h->nr == nr;
}

/* The optional bias at `index`: *out NULL when omitted; false when it is
 * there but not a constant float32 vector of n (packing cannot use it). */
bool kiln_gemm_constant_bias(const kiln_op_ctx *ctx, int index, int64_t n,
                             const float **out) {
  *out = NULL;
  if (index >= ctx->num_inputs || !ctx->inputs[index]) return true;
  const kiln_tensor *b = ctx->inputs[index];
  if (!b->data || b->dtype != KILN_FLOAT32 || b->rank != 1 || b->dims[0] != n)
    return false;
  *out = b->data;
  return true;
}

bool kiln_gemm_activation_minmax(kiln_activation act, kiln_gemm_minmax *out) {
  switch (act) {
    case KILN_ACT_NONE:
      *out = (kiln_gemm_minmax){-INFINITY, INFINITY};
      return true;
    case KILN_ACT_RELU:
      *out = (kiln_gemm_minmax){0.0f, INFINITY};
      return true;
    case KILN_ACT_RELU6:
      *out = (kiln_gemm_minmax){0.0f, 6.0f};
      return true;
    case KILN_ACT_RELU_N1_TO_1:
      *out = (kiln_gemm_minmax){-1.0f, 1.0f};
      return true;
    case KILN_ACT_TANH:
    case KILN_ACT_SIGN_BIT:
    case KILN_ACT_HARD_SWISH:
    case KILN_ACT_LOGISTIC:
    case KILN_ACT_SWISH:
      break;
  }
  return false;
}

bool kiln_gemm_activation_split(kiln_activation act, kiln_gemm_minmax *minmax,
                                kiln_activation *epilogue) {
  *epilogue = KILN_ACT_NONE;
  if (kiln_gemm_activation_minmax(act, minmax)) return true;
  *minmax = (kiln_gemm_minmax){-INFINITY, INFINITY};
  *epilogue = act;
  return kiln_f32_activation_rows_supports(act);
}

/* One GEMM in tiles of up to MR rows against one panel. Threads share out
 * either the panels (each then reads only its own part of the weights) or
 * the tiles, whichever divides more evenly. Each thread walks its tiles in
 * blocks whose rows of A fit in L2; inside a block panel by panel, and
 * inside a panel tile by tile, so the panel stays in L1 while the block's
 * rows stream past it and the weights are read once per block. */
typedef struct gemm_job {
  kiln_gemm_ukernel_fn fn;
  kiln_gemm_residual_fn residual;
  int64_t mr, nr, k, n;
  const float *panels;
  int64_t panel_floats, num_panels;
  kiln_gemm_rows rows;
  int64_t tiles_per_group, tiles, block_tiles;
  bool split_panels;
  float *c;
  kiln_gemm_minmax minmax;
  kiln_f32_activation_rows_fn epilogue; /* NULL: none after the clamp */
} gemm_job;

static void run_tile(const gemm_job *j, int64_t panel, int64_t tile) {
  const kiln_gemm_rows *r = &j->rows;
  int64_t g = tile / j->tiles_per_group;
  int64_t r0 = tile % j->tiles_per_group * j->mr;
  int64_t mr = r->rows - r0 < j->mr ? r->rows - r0 : j->mr;
  int64_t n0 = panel * j->nr;
  int64_t nc = j->n - n0 < j->nr ? j->n - n0 : j->nr;
  const float *a = r->a + g / r->group_div * r->group_hi +
                   g % r->group_div * r->group_lo + r0 * r->row_stride;
  int64_t offset = (g * r->rows + r0) * j->n + n0;
  float *c = j->c + offset;
  const float *w = j->panels + panel * j->panel_floats;
  if (r->residual) {
    /* The clamp goes after the sum, so the microkernel stores unclamped. */
    static const kiln_gemm_minmax none = {-INFINITY, INFINITY};
    j->fn((size_t)mr, (size_t)nc, (size_t)j->k, a, (size_t)r->row_stride, w, c,
          (size_t)j->n, &none);
    j->residual((size_t)mr, (size_t)nc, r->residual + offset, c, (size_t)j->n,
                &j->minmax);
  } else {
    j->fn((size_t)mr, (size_t)nc, (size_t)j->k, a, (size_t)r->row_stride, w, c,
          (size_t)j->n, &j->minmax);
  }
  if (j->epilogue) j->epilogue((size_t)mr, (size_t)nc, c, (size_t)j->n);
}

static void run_range(void *context, int64_t begin, int64_t end) {
  const gemm_job *j = context;
  int64_t p0 = 0, p1 = j->num_panels, t0 = 0, t1 = j->tiles;
  if (j->split_panels) {
    p0 = begin;
    p1 = end;
  } else {
    t0 = begin;
    t1 = end;
  }
  /* Equal blocks of at most block_tiles tiles. */
  int64_t blocks = (t1 - t0 + j->block_tiles - 1) / j->block_tiles;
  int64_t per_block = (t1 - t0 + blocks - 1) / blocks;
  for (int64_t b0 = t0; b0 < t1; b0 += per_block) {
    int64_t b1 = b0 + per_block < t1 ? b0 + per_block : t1;
    for (int64_t panel = p0; panel < p1; panel++)
      for (int64_t tile = b0; tile < b1; tile++) run_tile(j, panel, tile);
  }
}

double kiln_gemm_balance(int64_t count, int64_t threads) {
  int64_t per_thread = (count + threads - 1) / threads;
  return (double)count / (double)(per_thread * threads);
}

void kiln_gemm_share_panels(int64_t blocks, int64_t panels, int64_t threads,
                            int64_t *splits, int64_t *per) {
  *splits = 1;
  *per = panels;
  double best = kiln_gemm_balance(blocks, threads);
  for (int64_t s = 2; s <= panels && best < 0.9; s++) {
    int64_t each = (panels + s - 1) / s;
    int64_t shares = (panels + each - 1) / each;
    /* Shares of unequal size leave threads idle too. */
    double balance = kiln_gemm_balance(blocks * shares, threads) *
                     (double)panels / (double)(shares * each);
    if (balance > best + 0.01) {
      best = balance;
      *splits = shares;
      *per = each;
    }
  }
}

void kiln_gemm_compute(const kiln_gemm_kernel *kernel, const void *packed,
                       const kiln_gemm_rows *rows, float *c,
                       kiln_activation act, kiln_threadpool *pool) {
  const kiln_gemm_header *h = packed;
  gemm_job j = {
      .fn = kernel->fn,
      .residual = kernel->residual,
      .mr = kernel->mr,
      .nr = h->nr,
      .k = h->k,
      .n = h->n,
      .panels = (const float *)(const void *)((const char *)packed + h->offset),
      .panel_floats = (int64_t)h->nr * (h->k + 1),
      .num_panels = (h->n + h->nr - 1) / h->nr,
      .rows = *rows,
      .c = c,
  };
  kiln_activation epilogue;
  kiln_gemm_activation_split(act, &j.minmax, &epilogue);
  j.epilogue = kiln_f32_activation_rows_lookup(epilogue, kernel->isa);
  if (j.rows.group_div < 1) j.rows.group_div = 1;
  j.tiles_per_group = (rows->rows + j.mr - 1) / j.mr;
  j.tiles = rows->groups * j.tiles_per_group;
  if (j.tiles == 0) return;
  int64_t tile_bytes = j.mr * j.k * (int64_t)sizeof(float);
  j.block_tiles = tile_bytes > 0 ? A_BLOCK_BYTES / tile_bytes : j.tiles;
  if (j.block_tiles < 1) j.block_tiles = 1;
  int64_t threads = kiln_threadpool_size(pool);
  j.split_panels = kiln_gemm_balance(j.num_panels, threads) >=
                   kiln_gemm_balance(j.tiles, threads);
  int64_t tile_macs = j.mr * j.nr * (j.k + 1);
  int64_t item_macs = tile_macs * (j.split_panels ? j.tiles : j.num_panels);
  int64_t grain = (KILN_GEMM_MIN_CHUNK_MACS + item_macs - 1) / item_macs;
  kiln_parallel_for(pool, j.split_panels ? j.num_panels : j.tiles, grain,
                    run_range, &j);
}
