/* bottleneck.c - FUSED_BOTTLENECK's variants (bottleneck.h): which nodes
 * they take, packing the three stages' weights into one block, sizing the
 * per-thread scratch, and the sweep over output rows. */
#include "kernels/bottleneck/bottleneck.h"

#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/gemm/gemm.h"

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

/* ------------------------------------------------------------ packing */

/* A constant float32 filter [n, 1, 1, k] (1x1) or [1, 3, 3, n] (depthwise,
 * k == 0). */
static bool constant_filter(const kiln_tensor *t, int64_t n, int64_t k) {
  if (!t || !t->data || t->dtype != KILN_FLOAT32 || t->rank != 4) return false;
  if (k == 0)
    return t->dims[0] == 1 && t->dims[1] == 3 && t->dims[2] == 3 &&
           t->dims[3] == n;
  return t->dims[0] == n && t->dims[1] == 1 && t->dims[2] == 1 &&
         t->dims[3] == k;
}

static size_t round_up(size_t bytes) {
  return (bytes + KILN_ALIGNMENT - 1) & ~(size_t)(KILN_ALIGNMENT - 1);
}

/* Bytes of a GEMM block's panels. */
static size_t panel_bytes(const kiln_gemm_header *h) {
  size_t panels = (size_t)((h->n + h->nr - 1) / h->nr);
  return panels * (size_t)h->nr * (size_t)(h->k + 1) * sizeof(float);
}

/* Copies a packed GEMM block to `dst` (64-byte aligned) with its panels one
 * cache line after the header. Returns the bytes used. */
static size_t place_gemm(char *dst, const void *src) {
  const kiln_gemm_header *h = src;
  kiln_gemm_header copy = *h;
  copy.offset = KILN_ALIGNMENT;
  memcpy(dst, &copy, sizeof copy);
  memcpy(dst + KILN_ALIGNMENT, (const char *)src + h->offset, panel_bytes(h));
  return KILN_ALIGNMENT + round_up(panel_bytes(h));
}

/* The depthwise filter [1,3,3,m] and bias in blocks of `lanes` channels:
 * the block's biases, then tap by tap its `lanes` weights. */
static void pack_depthwise(float *dst, const float *filter, const float *bias,
                           int64_t m, int lanes) {
  for (int64_t c0 = 0; c0 < m; c0 += lanes, dst += 10 * lanes)
    for (int64_t l = 0; l < lanes; l++) {
      int64_t ch = c0 + l;
      dst[l] = ch < m && bias ? bias[ch] : 0.0f;
      for (int t = 0; t < 9; t++)
        dst[(1 + t) * lanes + l] = ch < m ? filter[t * m + ch] : 0.0f;
    }
}

/* Weights from the node's constants, biases NULL when omitted; false when
 * any is not a constant of the right shape or the stages are not ones the
 * variants run. At load only constants have data. */
typedef struct stage_weights {
  const float *expand_w, *expand_b, *dw_w, *dw_b, *project_w, *project_b;
  int64_t c, m, o;
} stage_weights;

static bool node_weights(const kiln_op_ctx *ctx, stage_weights *s) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  float lo, hi;
  if (!a || ctx->num_inputs != KILN_BOTTLENECK_INPUTS ||
      ctx->num_outputs != 1 ||
      !kiln_bottleneck_clamp(a->expand_activation, &lo, &hi) ||
      !kiln_bottleneck_clamp(a->project_activation, &lo, &hi))
    return false;
  const kiln_tensor *ew = ctx->inputs[KILN_BOTTLENECK_EXPAND_W],
                    *dw = ctx->inputs[KILN_BOTTLENECK_DW_W];
  const kiln_tensor *pw = ctx->inputs[KILN_BOTTLENECK_PROJECT_W];
  if (!dw || dw->rank != 4 || !pw || pw->rank != 4 ||
      !kiln_bottleneck_window_supported(dw->dims[1], dw->dims[2],
                                        &a->depthwise))
    return false;
  memset(s, 0, sizeof *s);
  s->m = dw->dims[3];
  s->o = pw->dims[0];
  s->c = ew && ew->rank == 4 ? ew->dims[3] : s->m;
  if (ew ? !constant_filter(ew, s->m, s->c)
         : ctx->inputs[KILN_BOTTLENECK_EXPAND_B] != NULL)
    return false;
  if (!constant_filter(dw, s->m, 0) || !constant_filter(pw, s->o, s->m))
    return false;
  s->expand_w = ew ? ew->data : NULL;
  s->dw_w = dw->data;
  s->project_w = pw->data;
  return kiln_gemm_constant_bias(ctx, KILN_BOTTLENECK_EXPAND_B, s->m,
                                 &s->expand_b) &&
         kiln_gemm_constant_bias(ctx, KILN_BOTTLENECK_DW_B, s->m, &s->dw_b) &&
         kiln_gemm_constant_bias(ctx, KILN_BOTTLENECK_PROJECT_B, s->o,
                                 &s->project_b);
}

static kiln_status *pack(const kiln_gemm_kernel *kernel, int lanes,
                         const kiln_op_ctx *ctx, const kiln_allocator *al,
                         void **out_packed) {
  *out_packed = NULL;
  stage_weights s;
  if (!node_weights(ctx, &s)) return NULL;
  /* kiln_gemm_pack does the panel layout; its blocks are then copied into
   * this one, so the node's weights are one block like every other. */
  void *expand = NULL, *project = NULL;
  kiln_status *st = NULL;
  if (s.expand_w)
    st = kiln_gemm_pack(s.expand_w, s.expand_b, s.m, s.c, kernel->nr, al,
                        &expand);
  if (!st)
    st = kiln_gemm_pack(s.project_w, s.project_b, s.o, s.m, kernel->nr, al,
                        &project);
  if (st || !project || (s.expand_w && !expand)) {
    kiln_free(al, expand);
    kiln_free(al, project);
    return st;
  }
  size_t header = round_up(sizeof(kiln_bottleneck_packed));
  size_t expand_bytes =
      expand ? KILN_ALIGNMENT + round_up(panel_bytes(expand)) : 0;
  size_t project_bytes = KILN_ALIGNMENT + round_up(panel_bytes(project));
  size_t dw_floats = (size_t)((s.m + lanes - 1) / lanes) * 10 * (size_t)lanes;
  /* One alignment of slack: the block itself may start anywhere. */
  char *mem = kiln_malloc(al, KILN_ALIGNMENT + header + expand_bytes +
                                  project_bytes + dw_floats * sizeof(float));
  if (!mem) {
    kiln_free(al, expand);
    kiln_free(al, project);
    return KILN_OOM();
  }
  uintptr_t first = ((uintptr_t)mem + header + KILN_ALIGNMENT - 1) &
                    ~(uintptr_t)(KILN_ALIGNMENT - 1);
  kiln_bottleneck_packed *p = (kiln_bottleneck_packed *)(void *)mem;
  p->in_c = s.c;
  p->mid_c = s.m;
  p->out_c = s.o;
  p->nr = kernel->nr;
  p->lanes = lanes;
  size_t at = (size_t)(first - (uintptr_t)mem);
  p->expand = expand ? (uint32_t)at : 0;
  if (expand) at += place_gemm(mem + at, expand);
  p->project = (uint32_t)at;
  at += place_gemm(mem + at, project);
  p->depthwise = (uint32_t)at;
  pack_depthwise((float *)(void *)(mem + at), s.dw_w, s.dw_b, s.m, lanes);
  kiln_free(al, expand);
  kiln_free(al, project);
  *out_packed = p;
  return NULL;
}

/* ------------------------------------------------------------ the plan */

/* Sizes of a prepared node and how its rows are swept. */
typedef struct plan {
  int64_t batch, in_h, in_w, in_c, mid_c, out_h, out_w, out_c;
  int64_t pad_top, pad_left, ox_lo, ox_hi;
  int stride;
  bool expand;
  int64_t band; /* output rows per band */
  int64_t span; /* expanded rows the ring holds (0 without expand) */
  /* Scratch per thread, in floats, each a multiple of a cache line: a row
   * of zeros for padding, the ring, the band's depthwise rows. */
  size_t zero_floats, ring_floats, dw_floats;
} plan;

static size_t line_floats(int64_t floats) {
  return round_up((size_t)floats * sizeof(float)) / sizeof(float);
}

static size_t scratch_bytes(const plan *p) {
  return (p->zero_floats + p->ring_floats + p->dw_floats) * sizeof(float);
}

static void plan_band(plan *p, int64_t band) {
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

static void make_plan(const kiln_gemm_kernel *kernel, const kiln_op_ctx *ctx,
                      plan *p) {
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
  /* The fewest rows that fill the GEMMs' tiles (the project's band * out_w
   * rows and the expand's band * stride * in_w), else the best fill the
   * scratch budget allows. */
  const int64_t mr = kernel->mr;
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

/* ------------------------------------------------------------ running */

typedef struct job {
  plan p;
  const kiln_gemm_kernel *kernel;
  kiln_bottleneck_dw_fn dw;
  const void *expand, *project; /* GEMM blocks */
  const float *dw_w, *x;
  float *y;
  kiln_gemm_minmax expand_mm, project_mm;
  float dw_lo, dw_hi;
  kiln_threadpool *pool;
} job;

/* C = clamp(A W^T + bias) for `rows` rows of A (a_stride apart) into dense
 * rows of C, on this thread: panel by panel, so a panel stays in L1 while
 * the rows, in L2, go past it. */
static void gemm(const job *j, const void *block, const float *a, int64_t rows,
                 int64_t a_stride, float *c, const kiln_gemm_minmax *mm) {
  const kiln_gemm_header *h = block;
  const float *panel =
      (const float *)(const void *)((const char *)block + h->offset);
  const int64_t mr = j->kernel->mr, panel_floats = h->nr * (h->k + 1);
  for (int64_t n0 = 0; n0 < h->n; n0 += h->nr, panel += panel_floats) {
    size_t nc = (size_t)(h->n - n0 < h->nr ? h->n - n0 : h->nr);
    for (int64_t r0 = 0; r0 < rows; r0 += mr)
      j->kernel->fn((size_t)(rows - r0 < mr ? rows - r0 : mr), nc, (size_t)h->k,
                    a + r0 * a_stride, (size_t)a_stride, panel,
                    c + r0 * h->n + n0, (size_t)h->n, mm);
  }
}

/* Output rows [oy0, oy1) of image b. `ring` holds expanded input rows,
 * row iy in slot iy % span; `next` is the first row not yet expanded. */
static void run_image_rows(const job *j, float *scratch, int64_t b, int64_t oy0,
                           int64_t oy1) {
  const plan *p = &j->p;
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
    /* Input rows [lo, hi) the band's windows read. */
    const int64_t top = oy * s - p->pad_top, in_rows = (n - 1) * s + 3;
    if (p->expand) {
      /* Expanded in runs that do not wrap around the ring. */
      int64_t lo = top < 0 ? 0 : top, hi = top + in_rows;
      if (hi > p->in_h) hi = p->in_h;
      if (next < lo) next = lo;
      while (next < hi) {
        int64_t slot = next % p->span;
        int64_t count = hi - next < p->span - slot ? hi - next : p->span - slot;
        gemm(j, j->expand, image + next * w * p->in_c, count * w, p->in_c,
             ring + slot * w * m, &j->expand_mm);
        next += count;
      }
    }
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
    gemm(j, j->project, dw_rows, n * p->out_w, m,
         j->y + ((b * p->out_h + oy) * p->out_w) * p->out_c, &j->project_mm);
  }
}

/* Output rows [begin, end) of all images, flattened. */
static void run_range(void *context, int thread, int64_t begin, int64_t end) {
  const job *j = context;
  const plan *p = &j->p;
  float *scratch = kiln_threadpool_scratch(j->pool, thread);
  memset(scratch, 0, p->zero_floats * sizeof(float));
  while (begin < end) {
    int64_t b = begin / p->out_h, oy = begin % p->out_h;
    int64_t oy1 = oy + (end - begin) < p->out_h ? oy + (end - begin) : p->out_h;
    run_image_rows(j, scratch, b, oy, oy1);
    begin += oy1 - oy;
  }
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
  job j = {
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
  /* A thread re-expands the rows above its first output row, so chunks
   * hold several times the work that pays for waking a worker. */
  const plan *p = &j.p;
  int64_t row_macs = p->out_w * p->mid_c * (9 + p->out_c) +
                     (p->expand ? p->stride * p->in_w * p->mid_c * p->in_c : 0);
  int64_t grain = 4 * KILN_GEMM_MIN_CHUNK_MACS / (row_macs > 0 ? row_macs : 1);
  kiln_parallel_for_thread(ctx->pool, p->batch * p->out_h,
                           grain > 1 ? grain : 1, run_range, &j);
  return NULL;
}

bool kiln_bottleneck_rows_fit(int64_t in_w, int64_t out_w, int64_t mid_c) {
  plan p = {.in_h = 3,
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
  if (!p || p->nr != kernel->nr || p->lanes != lanes ||
      x->dtype != KILN_FLOAT32 || y->dtype != KILN_FLOAT32 ||
      x->dims[3] != p->in_c || dw->dims[3] != p->mid_c ||
      y->dims[3] != p->out_c || (p->expand != 0) != (ctx->inputs[1] != NULL) ||
      !kiln_bottleneck_window_supported(dw->dims[1], dw->dims[2],
                                        &a->depthwise))
    return false;
  plan pl;
  make_plan(kernel, ctx, &pl);
  return scratch_bytes(&pl) <= MAX_SCRATCH_BYTES;
}

static size_t workspace(const kiln_gemm_kernel *kernel,
                        const kiln_op_ctx *ctx) {
  plan p;
  make_plan(kernel, ctx, &p);
  return scratch_bytes(&p);
}

#define DEFINE_VARIANTS(isa, kernel, lanes)                                 \
  kiln_status *kiln_bottleneck_pack_##isa(                                  \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return pack(&kernel, lanes, ctx, a, out_packed);                        \
  }                                                                         \
  bool kiln_bottleneck_applies_##isa(const kiln_op_ctx *ctx) {              \
    return applies(&kernel, lanes, ctx);                                    \
  }                                                                         \
  kiln_status *kiln_bottleneck_run_##isa(const kiln_op_ctx *ctx) {          \
    return run(&kernel, kiln_bottleneck_dw3x3s1__##isa,                     \
               kiln_bottleneck_dw3x3s2__##isa, ctx);                        \
  }                                                                         \
  size_t kiln_bottleneck_workspace_##isa(const kiln_op_ctx *ctx) {          \
    return workspace(&kernel, ctx);                                         \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable, 8)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2, 8)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512, 16)
#endif
