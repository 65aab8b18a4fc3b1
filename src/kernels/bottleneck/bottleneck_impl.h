/* bottleneck_impl.h - inside FUSED_BOTTLENECK's variants: packing, the
 * plan of a prepared node (band length, scratch layout), the job a run
 * hands its threads, and the sweep over output rows (bottleneck.h). */
#ifndef KILN_KERNELS_BOTTLENECK_BOTTLENECK_IMPL_H
#define KILN_KERNELS_BOTTLENECK_BOTTLENECK_IMPL_H

#include "core/threadpool.h"
#include "kernels/bottleneck/bottleneck.h"
#include "kernels/gemm/gemm.h"

typedef struct kiln_bottleneck_plan {
  int64_t batch, in_h, in_w, in_c, mid_c, out_h, out_w, out_c;
  int64_t pad_top, pad_left, ox_lo, ox_hi;
  int stride;
  bool expand;
  int64_t band; /* output rows per band */
  int64_t span; /* expanded rows the ring holds (0 without expand) */
  /* Scratch per thread, in floats, each a multiple of a cache line: a row
   * of zeros for padding, the ring, the band's depthwise rows. */
  size_t zero_floats, ring_floats, dw_floats;
} kiln_bottleneck_plan;

typedef struct kiln_bottleneck_job {
  kiln_bottleneck_plan p;
  const kiln_gemm_kernel *kernel;
  kiln_bottleneck_dw_fn dw;
  const void *expand, *project; /* GEMM blocks (gemm.h) */
  const float *dw_w, *x;
  float *y;
  kiln_gemm_minmax expand_mm, project_mm;
  float dw_lo, dw_hi;
  kiln_threadpool *pool;
} kiln_bottleneck_job;

/* Packs a node's weights for `kernel`'s panels and depthwise channel
 * blocks of `lanes` (bottleneck_pack.c); *out_packed stays NULL for nodes
 * the variants do not take. */
kiln_status *kiln_bottleneck_pack(const kiln_gemm_kernel *kernel, int lanes,
                                  const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out_packed);

/* Computes the node's output on the job's pool: each thread a contiguous
 * range of output rows, in bands, in its scratch. */
void kiln_bottleneck_sweep_rows(const kiln_bottleneck_job *j);

#endif
