/* bottleneck_sweep.c - FUSED_BOTTLENECK's way through the images
 * (bottleneck.h): each thread a range of output rows, band by band. */
#include <string.h>

#include "kernels/bottleneck/bottleneck_impl.h"

/* C = clamp(A W^T + bias) for `rows` rows of A (a_stride apart) into dense
 * rows of C, on this thread: panel by panel, so a panel stays in L1 while
 * the rows, in L2, go past it. */
static void gemm(const kiln_gemm_kernel *kernel, const void *block,
                 const float *a, int64_t rows, int64_t a_stride, float *c,
                 const kiln_gemm_minmax *mm) {
  const kiln_gemm_header *h = block;
  const int64_t mr = kernel->mr, nr = h->nr, panel_floats = nr * (h->k + 1);
  const float *panel =
      (const float *)(const void *)((const char *)block + h->offset);
  for (int64_t n0 = 0; n0 < h->n; n0 += nr, panel += panel_floats) {
    size_t nc = (size_t)(h->n - n0 < nr ? h->n - n0 : nr);
    for (int64_t r0 = 0; r0 < rows; r0 += mr)
      kernel->fn((size_t)(rows - r0 < mr ? rows - r0 : mr), nc, (size_t)h->k,
                 a + r0 * a_stride, (size_t)a_stride, panel, c + r0 * h->n + n0,
                 (size_t)h->n, mm);
  }
}

/* Output rows [oy0, oy1) of image b. `ring` holds expanded input rows,
 * row iy in slot iy % span; `next` is the first row not yet expanded. */
static void image_rows(const kiln_bottleneck_job *j, float *scratch, int64_t b,
                       int64_t oy0, int64_t oy1) {
  const kiln_bottleneck_plan *p = &j->p;
  const int64_t s = p->stride, w = p->in_w, m = p->mid_c;
  float *zero = scratch, *ring = zero + p->zero_floats;
  float *dw_rows = ring + p->ring_floats;
  const float *image = j->x + b * p->in_h * w * p->in_c;
  kiln_bottleneck_dw_band band = {
      .out = dw_rows,
      .w = j->dw_w,
      .in_w = w,
      .channels = m,
      .out_w = p->out_w,
      .pad_left = p->pad_left,
      .ox_lo = p->ox_lo,
      .ox_hi = p->ox_hi,
      .lo = j->dw_lo,
      .hi = j->dw_hi,
  };
  int64_t next = 0, bands = (oy1 - oy0 + p->band - 1) / p->band;
  for (int64_t oy = oy0, n; oy < oy1; oy += n, bands--) {
    /* Bands of equal length, so none is a short tail of badly filled
     * tiles. */
    n = (oy1 - oy + bands - 1) / bands;
    /* The band's windows read input rows [top, top + in_rows). */
    const int64_t top = oy * s - p->pad_top, in_rows = (n - 1) * s + 3;
    if (p->expand) {
      /* Expanded in runs that do not wrap around the ring. */
      int64_t lo = top < 0 ? 0 : top, hi = top + in_rows;
      if (hi > p->in_h) hi = p->in_h;
      if (next < lo) next = lo;
      while (next < hi) {
        int64_t slot = next % p->span;
        int64_t count = hi - next < p->span - slot ? hi - next : p->span - slot;
        gemm(j->kernel, j->expand, image + next * w * p->in_c, count * w,
             p->in_c, ring + slot * w * m, &j->expand_mm);
        next += count;
      }
    }
    /* Row iy is in ring slot iy % span, or in the input without expand. */
    for (int64_t r = 0; r < in_rows; r++) {
      int64_t iy = top + r;
      if (iy < 0 || iy >= p->in_h)
        band.rows[r] = zero;
      else if (p->expand)
        band.rows[r] = ring + iy % p->span * w * m;
      else
        band.rows[r] = image + iy * w * m;
    }
    band.out_rows = n;
    j->dw(&band);
    gemm(j->kernel, j->project, dw_rows, n * p->out_w, m,
         j->y + ((b * p->out_h + oy) * p->out_w) * p->out_c, &j->project_mm);
  }
}

/* Output rows [begin, end) of all images, flattened. */
static void rows_range(void *context, int thread, int64_t begin, int64_t end) {
  const kiln_bottleneck_job *j = context;
  const kiln_bottleneck_plan *p = &j->p;
  float *scratch = kiln_threadpool_scratch(j->pool, thread);
  memset(scratch, 0, p->zero_floats * sizeof(float));
  while (begin < end) {
    int64_t b = begin / p->out_h, oy = begin % p->out_h;
    int64_t oy1 = oy + (end - begin) < p->out_h ? oy + (end - begin) : p->out_h;
    image_rows(j, scratch, b, oy, oy1);
    begin += oy1 - oy;
  }
}

void kiln_bottleneck_sweep_rows(const kiln_bottleneck_job *j) {
  /* A thread re-expands the rows above its first output row, so chunks
   * hold several times the work that pays for waking a worker. */
  const kiln_bottleneck_plan *p = &j->p;
  int64_t row_macs = p->out_w * p->mid_c * (9 + p->out_c) +
                     (p->expand ? p->stride * p->in_w * p->mid_c * p->in_c : 0);
  int64_t grain = 4 * KILN_GEMM_MIN_CHUNK_MACS / (row_macs > 0 ? row_macs : 1);
  kiln_parallel_for_shares(j->pool, p->batch * p->out_h, grain > 1 ? grain : 1,
                           rows_range, (void *)j);
}
