/* bottleneck.c - FUSED_BOTTLENECK's variants (bottleneck.h): which
 * windows they run, the plan of a prepared node (how long a band, how much
 * scratch) and the variants' entry points. */
#include <string.h>

#include "core/alloc.h"
#include "kernels/bottleneck/bottleneck_impl.h"

/* Scratch a band's rows should fit in: about an L2, so the expanded rows
 * and depthwise rows stay there between the three stages. */
#define BAND_BYTES (512 * 1024)
/* More scratch than this per thread means rows too wide for the scheme to
 * pay; such nodes run the reference kernel (the pass does not fuse them at
 * their file's shapes, so only a resized input gets there). */
#define MAX_SCRATCH_BYTES ((size_t)4 << 20)
/* A band is long enough once this share of its GEMM tiles' rows is used
 * (a 56-wide row fills 56 of 60 rows of 12-row tiles: 0.93). */
#define BAND_FILL 0.97

bool kiln_bottleneck_clamp(kiln_activation act, float *lo, float *hi) {
  kiln_gemm_minmax mm;
  if (!kiln_gemm_activation_minmax(act, &mm)) return false;
  *lo = mm.min;
  *hi = mm.max;
  return true;
}

bool kiln_bottleneck_window_supported(int64_t kh, int64_t kw,
                                      const kiln_conv_attrs *dw) {
  float lo, hi;
  return kh == 3 && kw == 3 && dw->stride_h == dw->stride_w &&
         (dw->stride_h == 1 || dw->stride_h == 2) && dw->dilation_h == 1 &&
         dw->dilation_w == 1 &&
         (dw->padding == KILN_PAD_SAME || dw->padding == KILN_PAD_VALID) &&
         (dw->depth_multiplier == 0 || dw->depth_multiplier == 1) &&
         kiln_bottleneck_clamp(dw->activation, &lo, &hi);
}

/* ------------------------------------------------------------ the plan */

static size_t line_floats(int64_t floats) {
  size_t bytes = (size_t)floats * sizeof(float);
  return (bytes + KILN_ALIGNMENT - 1) / KILN_ALIGNMENT * KILN_ALIGNMENT /
         sizeof(float);
}

static size_t scratch_bytes(const kiln_bottleneck_plan *p) {
  return (p->zero_floats + p->ring_floats + p->dw_floats) * sizeof(float);
}

static void plan_band(kiln_bottleneck_plan *p, int64_t band) {
  p->band = band;
  p->span = 0;
  if (p->expand) {
    p->span = (band - 1) * p->stride + 3;
    if (p->span > p->in_h) p->span = p->in_h; /* rows past it never come */
  }
  p->zero_floats = line_floats(p->in_w * p->mid_c);
  p->ring_floats = line_floats(p->span * p->in_w * p->mid_c);
  p->dw_floats = line_floats(band * p->out_w * p->mid_c);
}

/* The fewest rows per band that fill the GEMMs' tiles (the project's
 * band * out_w rows and the expand's band * stride * in_w), else the best
 * fill the scratch budget allows. */
static void plan_rows(kiln_bottleneck_plan *p, int64_t mr) {
  int64_t best = 1;
  double best_fill = 0.0;
  for (int64_t band = 1; band <= p->out_h && band <= KILN_BOTTLENECK_MAX_BAND;
       band++) {
    plan_band(p, band);
    if (band > 1 && scratch_bytes(p) > BAND_BYTES) break;
    int64_t rows = band * p->out_w, tiles = (rows + mr - 1) / mr;
    int64_t in_rows = p->expand ? band * p->stride * p->in_w : 0;
    tiles += (in_rows + mr - 1) / mr;
    double fill = (double)(rows + in_rows) / (double)(tiles * mr);
    if (fill > best_fill + 1e-9) {
      best = band;
      best_fill = fill;
    }
    if (fill >= BAND_FILL) break;
  }
  plan_band(p, best);
}

static void make_plan(const kiln_gemm_kernel *kernel, const kiln_op_ctx *ctx,
                      kiln_bottleneck_plan *p) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  const kiln_conv_attrs *d = &a->depthwise;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X], *y = ctx->outputs[0];
  memset(p, 0, sizeof *p);
  p->batch = x->dims[0];
  p->in_h = x->dims[1];
  p->in_w = x->dims[2];
  p->in_c = x->dims[3];
  p->mid_c = ctx->inputs[KILN_BOTTLENECK_DW_W]->dims[3];
  p->out_h = y->dims[1];
  p->out_w = y->dims[2];
  p->out_c = y->dims[3];
  p->stride = d->stride_h;
  p->expand = ctx->inputs[KILN_BOTTLENECK_EXPAND_W] != NULL;
  p->pad_top =
      kiln_window_pad_before(p->in_h, p->out_h, 3, p->stride, 1, d->padding);
  p->pad_left =
      kiln_window_pad_before(p->in_w, p->out_w, 3, p->stride, 1, d->padding);
  /* Columns whose window lies inside the row: ox * s - pad_left >= 0 and
   * ox * s - pad_left + 2 <= in_w - 1. */
  int64_t lo = (p->pad_left + p->stride - 1) / p->stride;
  int64_t last = p->in_w - 3 + p->pad_left;
  int64_t hi = last >= 0 ? last / p->stride + 1 : 0;
  p->ox_lo = lo < p->out_w ? lo : p->out_w;
  p->ox_hi = hi < p->out_w ? hi : p->out_w;
  if (p->ox_hi < p->ox_lo) p->ox_hi = p->ox_lo;
  plan_rows(p, kernel->mr);
}

/* With an expand stage the intermediates are M channels, M >= 2C in every
 * inverted bottleneck, and fusion saves their traffic at any size.
 * Without one (the depthwise-separable form) only the depthwise output
 * stays in cache, and the kernel's extra costs stay the same, so fuse only
 * maps wide enough for GEMM tiles to fill. Threads split a fused block by
 * output rows (of all images), and under 8 rows split badly (7 rows: 4
 * and 3, each re-expanding where they meet), while the three kernels
 * unfused each split their own work evenly and their intermediates stay in
 * L2 at that size. MobileNetV2 1.0 at batch 1 and 2 threads: 1.64 -> 1.60
 * ms; 1 thread unchanged. A batch unknown at load (-1) counts as 1, as
 * most requests are; at batch 8 the fused node would have been 2%
 * faster. */
bool kiln_bottleneck_worth_fusing(int64_t in_w, const int64_t dw_out[4],
                                  bool has_expand) {
  if (!kiln_bottleneck_rows_fit(in_w, dw_out[2], dw_out[3])) return false;
  const int64_t images = dw_out[0] > 0 ? dw_out[0] : 1;
  if (dw_out[1] > 0 && images * dw_out[1] < 8) return false;
  return has_expand || dw_out[2] >= 8;
}

bool kiln_bottleneck_rows_fit(int64_t in_w, int64_t out_w, int64_t mid_c) {
  kiln_bottleneck_plan p = {.in_h = 3,
                            .in_w = in_w,
                            .out_w = out_w,
                            .mid_c = mid_c,
                            .stride = 1,
                            .expand = true};
  plan_band(&p, 1);
  return scratch_bytes(&p) <= MAX_SCRATCH_BYTES;
}

/* ------------------------------------------------------ the variants */

static bool applies(const kiln_gemm_kernel *kernel, int lanes,
                    const kiln_op_ctx *ctx) {
  const kiln_bottleneck_packed *p = ctx->packed;
  const kiln_bottleneck_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X], *y = ctx->outputs[0];
  const kiln_tensor *dw = ctx->inputs[KILN_BOTTLENECK_DW_W];
  bool expand = ctx->inputs[KILN_BOTTLENECK_EXPAND_W] != NULL;
  if (!p || p->nr != kernel->nr || p->lanes != lanes ||
      x->dtype != KILN_FLOAT32 || y->dtype != KILN_FLOAT32 ||
      x->dims[3] != p->in_c || dw->dims[3] != p->mid_c ||
      y->dims[3] != p->out_c || (p->expand != 0) != expand ||
      !kiln_bottleneck_window_supported(dw->dims[1], dw->dims[2],
                                        &a->depthwise))
    return false;
  kiln_bottleneck_plan plan;
  make_plan(kernel, ctx, &plan);
  return scratch_bytes(&plan) <= MAX_SCRATCH_BYTES;
}

static size_t workspace(const kiln_gemm_kernel *kernel,
                        const kiln_op_ctx *ctx) {
  kiln_bottleneck_plan p;
  make_plan(kernel, ctx, &p);
  return scratch_bytes(&p);
}

static kiln_status *run(const kiln_gemm_kernel *kernel,
                        kiln_bottleneck_dw_fn s1, kiln_bottleneck_dw_fn s2,
                        const kiln_op_ctx *ctx) {
  /* The session reserves the scratch on its pool; without one (a caller
   * running the kernel bare) only the reference can run. */
  if (!kiln_threadpool_scratch(ctx->pool, 0))
    return kiln_ref_fused_bottleneck(ctx);
  const kiln_bottleneck_attrs *a = ctx->attrs;
  const kiln_bottleneck_packed *packed = ctx->packed;
  const char *base = ctx->packed;
  kiln_bottleneck_job j = {
      .kernel = kernel,
      .expand = packed->expand ? base + packed->expand : NULL,
      .project = base + packed->project,
      .dw_w = (const float *)(const void *)(base + packed->depthwise),
      .x = ctx->inputs[KILN_BOTTLENECK_X]->data,
      .y = ctx->outputs[0]->data,
      .pool = ctx->pool,
  };
  make_plan(kernel, ctx, &j.p);
  j.dw = j.p.stride == 1 ? s1 : s2;
  kiln_gemm_activation_minmax(a->expand_activation, &j.expand_mm);
  kiln_gemm_activation_minmax(a->project_activation, &j.project_mm);
  kiln_bottleneck_clamp(a->depthwise.activation, &j.dw_lo, &j.dw_hi);
  kiln_bottleneck_sweep_rows(&j);
  return NULL;
}

#define DEFINE_VARIANTS(isa, kernel)                                           \
  kiln_status *kiln_bottleneck_pack_##isa(                                     \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) {    \
    return kiln_bottleneck_pack(&kernel, kiln_bottleneck_dw_lanes__##isa, ctx, \
                                a, out_packed);                                \
  }                                                                            \
  bool kiln_bottleneck_applies_##isa(const kiln_op_ctx *ctx) {                 \
    return applies(&kernel, kiln_bottleneck_dw_lanes__##isa, ctx);             \
  }                                                                            \
  kiln_status *kiln_bottleneck_run_##isa(const kiln_op_ctx *ctx) {             \
    return run(&kernel, kiln_bottleneck_dw3x3s1__##isa,                        \
               kiln_bottleneck_dw3x3s2__##isa, ctx);                           \
  }                                                                            \
  size_t kiln_bottleneck_workspace_##isa(const kiln_op_ctx *ctx) {             \
    return workspace(&kernel, ctx);                                            \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
#endif
