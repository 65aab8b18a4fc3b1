/* qgemm_driver.c - the tiled, threaded int8 GEMM over packed weights: rows
 * of A are built (flipped to uint8) a block at a time into the thread's
 * scratch, then every panel of the block's share runs over the block's
 * tiles, so each block of A is read from cache by all its panels and
 * each panel's weights by all the block's tiles. Allocates nothing. */
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/gemm/gemm.h"
#include "kernels/qgemm/qgemm.h"

/* Bytes of A a block may hold (rows of kp bytes): half of a 1 MiB L2,
 * leaving room for the panels streamed past it. */
#define BLOCK_BYTES (96 * 1024)
#define BLOCK_ROWS_MAX 96
/* A multiple of every kernel's MR (4 and 8). */
#define BLOCK_ROWS_STEP 8
/* Rows of A lie kp + ROW_PAD bytes apart, so that rows of a power-of-two
 * length do not all fall in the same cache sets. */
#define ROW_PAD 4

static int64_t row_stride(int64_t kp) { return kp + ROW_PAD; }

static int64_t block_rows(int64_t kp) {
  int64_t rows =
      BLOCK_BYTES / row_stride(kp) / BLOCK_ROWS_STEP * BLOCK_ROWS_STEP;
  if (rows < BLOCK_ROWS_STEP) rows = BLOCK_ROWS_STEP;
  return rows > BLOCK_ROWS_MAX ? BLOCK_ROWS_MAX : rows;
}

size_t kiln_qgemm_workspace(int64_t k) {
  int64_t kp = (k + 3) & ~(int64_t)3;
  return (size_t)(block_rows(kp) * row_stride(kp)) + KILN_ALIGNMENT;
}

void kiln_qgemm_fill_rows(const void *source, int64_t r0, int64_t rows,
                          uint8_t *dst, int64_t stride) {
  const kiln_qgemm_rows *s = source;
  int64_t k = s->k, kp = (k + 3) & ~(int64_t)3;
  for (int64_t r = r0; r < r0 + rows; r++, dst += stride) {
    int64_t g = r / s->rows, i = r - g * s->rows;
    const int8_t *row = s->a + (g / s->group_div) * s->group_hi +
                        (g % s->group_div) * s->group_lo + i * s->row_stride;
    s->flip(dst, row, k);
    /* The padded entries meet zero weights; any value would do, zero is
     * defined. */
    for (int64_t e = k; e < kp; e++) dst[e] = 0;
  }
}

typedef struct qgemm_job {
  const kiln_qgemm_header *h;
  const char *panels;
  kiln_qgemm_fill_fn fill;
  const void *source;
  int8_t *c;
  struct kiln_threadpool *pool;
  int64_t m, block_rows, num_panels, splits, split_panels;
} qgemm_job;

static void run_block(const qgemm_job *j, uint8_t *a, int64_t block, int64_t p0,
                      int64_t p1) {
  const kiln_qgemm_header *h = j->h;
  const kiln_qgemm_kernel *kernel = h->kernel;
  const int64_t nr = h->nr, n = h->n, kp = h->kp, stride = row_stride(kp);
  int64_t r0 = block * j->block_rows;
  int64_t rows = j->m - r0 < j->block_rows ? j->m - r0 : j->block_rows;
  j->fill(j->source, r0, rows, a, stride);
  int8_t *c = j->c + r0 * n;
  for (int64_t p = p0; p < p1; p++) {
    int64_t n0 = p * nr, nc = n - n0 < nr ? n - n0 : nr;
    const char *panel = j->panels + (size_t)p * h->panel_bytes;
    for (int64_t t = 0; t < rows; t += kernel->mr) {
      int64_t mr = rows - t < kernel->mr ? rows - t : kernel->mr;
      kernel->fn((size_t)mr, (size_t)nc, (size_t)kp, a + t * stride,
                 (size_t)stride, panel, c + t * n + n0, (size_t)n, &h->out);
    }
  }
}

/* Items are (block, share of panels) pairs; a run of them within one block
 * builds its rows of A once. */
static void run_range(void *context, int thread, int64_t begin, int64_t end) {
  const qgemm_job *j = context;
  uintptr_t scratch = (uintptr_t)kiln_threadpool_scratch(j->pool, thread);
  uint8_t *a = (uint8_t *)((scratch + KILN_ALIGNMENT - 1) &
                           ~(uintptr_t)(KILN_ALIGNMENT - 1));
  while (begin < end) {
    int64_t block = begin / j->splits, s0 = begin % j->splits;
    int64_t s1 = end - begin < j->splits - s0 ? s0 + (end - begin) : j->splits;
    int64_t p1 = s1 * j->split_panels;
    run_block(j, a, block, s0 * j->split_panels,
              p1 < j->num_panels ? p1 : j->num_panels);
    begin += s1 - s0;
  }
}

void kiln_qgemm_compute(const void *packed, int64_t m, kiln_qgemm_fill_fn fill,
                        const void *source, int8_t *c,
                        struct kiln_threadpool *pool) {
  const kiln_qgemm_header *h = packed;
  if (m <= 0) return;
  qgemm_job j = {
      .h = h,
      .panels = (const char *)packed + h->offset,
      .fill = fill,
      .source = source,
      .c = c,
      .pool = pool,
      .m = m,
      .block_rows = block_rows(h->kp),
      .num_panels = (h->n + h->nr - 1) / h->nr,
  };
  int64_t blocks = (m + j.block_rows - 1) / j.block_rows;
  kiln_gemm_share_panels(blocks, j.num_panels, kiln_threadpool_size(pool),
                         &j.splits, &j.split_panels);
  int64_t item_macs = j.block_rows * j.split_panels * h->nr * h->kp;
  /* int8 multiply-adds are four times cheaper than float ones. */
  int64_t grain = (4 * KILN_GEMM_MIN_CHUNK_MACS + item_macs - 1) / item_macs;
  kiln_parallel_for_thread(pool, blocks * j.splits, grain, run_range, &j);
}
