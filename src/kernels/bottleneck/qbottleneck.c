/* qbottleneck.c - the int8 FUSED_BOTTLENECK's variants (qbottleneck.h):
 * packing at load (each stage's requantization built by the same code as
 * the unfused operator's, from the node's tensors and the swallowed
 * tensors' quantization in its attributes), the plan of a prepared node
 * and the sweep of output rows through per-thread scratch. */
#include "kernels/bottleneck/qbottleneck.h"

#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/bottleneck/bottleneck.h"
#include "kernels/gemm/gemm.h"
#include "kernels/qelem/qelem.h"
#include "kernels/qgemm/qgemm.h"

/* Most output rows a band holds, and the GEMM rows a band aims for: a few
 * tiles of every microkernel, so that a panel's weights, loaded into L1
 * once a band, serve enough rows. */
#define MAX_BAND 16
#define BAND_ROWS 64
/* Scratch a thread's buffers should fit in (about half an L2), and the
 * most it may take before the node is left to the reference kernel. */
#define BAND_BYTES (256 * 1024)
#define MAX_SCRATCH_BYTES ((size_t)4 << 20)
/* Bytes of expanded rows the buffer may hold beyond a band's span. */
#define MID_BYTES (96 * 1024)
/* Expand rows flipped into A at a time. */
#define EXPAND_CHUNK 96

/* What one instruction-set level runs with. */
typedef kiln_status *(*qbn_pack_fn)(const kiln_op_ctx *ctx,
                                    const kiln_allocator *a, void **out);
typedef struct qbn_isa {
  const kiln_qgemm_level *level;
  qbn_pack_fn dw_pack_s1, dw_pack_s2;
  kiln_qbottleneck_dw_fn dw;
  int dw_block;
  kiln_q8_binary_ukernel add; /* the residual ADD */
} qbn_isa;

static size_t round_up(size_t bytes) {
  return (bytes + KILN_ALIGNMENT - 1) & ~(size_t)(KILN_ALIGNMENT - 1);
}

static int64_t round4(int64_t k) { return (k + 3) & ~(int64_t)3; }

/* ------------------------------------------------------------ packing */

/* A tensor standing for one the pass removed: int8, per-tensor. */
typedef struct stand_in {
  kiln_tensor t;
  kiln_quant_info q;
  float scale;
  int64_t zp;
} stand_in;

static void make_stand_in(stand_in *s, const kiln_tensor *like, int64_t c,
                          float scale, int32_t zp) {
  memset(s, 0, sizeof *s);
  s->scale = scale;
  s->zp = zp;
  s->q = (kiln_quant_info){1, &s->scale, &s->zp, 0};
  s->t.dtype = KILN_INT8;
  s->t.rank = 4;
  memcpy(s->t.dims, like->dims, sizeof s->t.dims);
  s->t.dims[3] = c;
  s->t.quant = &s->q;
}

static size_t gemm_panel_bytes(const void *block) {
  const kiln_qgemm_header *h = block;
  return (size_t)((h->n + h->nr - 1) / h->nr) * (size_t)h->panel_bytes;
}

/* Bytes a GEMM block takes in the node's block: its header, then its
 * panels at the next alignment. */
static size_t gemm_place_bytes(const void *block) {
  return round_up(sizeof(kiln_qgemm_header)) +
         round_up(gemm_panel_bytes(block));
}

/* Copies a GEMM block to dst (aligned) with its panels right after its
 * header, at an aligned offset. */
static void place_gemm(char *dst, const void *block) {
  kiln_qgemm_header h = *(const kiln_qgemm_header *)block;
  memcpy(dst + round_up(sizeof h), (const char *)block + h.offset,
         gemm_panel_bytes(block));
  h.offset = (uint32_t)round_up(sizeof h);
  memcpy(dst, &h, sizeof h);
}

static size_t qdw_words(const kiln_qdw_packed *p) {
  int64_t blocks = (p->channels + p->block - 1) / p->block;
  return (size_t)(blocks * p->kh * p->kw * p->block);
}

/* The depthwise stage's quantization block in the form qdw.inc computes
 * (as qdw_pack.c requires it of the standalone operator). */
static bool dw_quant_fits(const kiln_quant_params *q, int64_t channels) {
  if (!q || q->hybrid || q->wide_acc || q->single_rounding || !q->bias32 ||
      q->channels != channels || q->input_zp < -128 || q->input_zp > 127 ||
      q->act_min < -128 || q->act_max > 127 || q->act_min > q->act_max)
    return false;
  for (int64_t ch = 0; ch < channels; ch++)
    if (q->multiplier[ch] < 0 || q->shift[ch] < -31 || q->shift[ch] > 30)
      return false;
  return true;
}

/* The parts built for one node before they are copied into its block. */
typedef struct parts {
  void *expand, *project, *dw, *add;
  kiln_quant_params *eq, *dq, *pq;
} parts;

static void free_parts(const kiln_allocator *a, parts *p) {
  kiln_free(a, p->expand);
  kiln_free(a, p->project);
  kiln_free(a, p->dw);
  kiln_free(a, p->add);
  kiln_free(a, p->eq);
  kiln_free(a, p->dq);
  kiln_free(a, p->pq);
}

/* Builds the three stages as the unfused operators' variants would, on
 * stand-ins for the swallowed tensors; leaves a part NULL where a stage is
 * not one these kernels run. */
static kiln_status *build_parts(const qbn_isa *isa, const kiln_op_ctx *ctx,
                                const kiln_allocator *a, parts *p) {
  const kiln_bottleneck_attrs *at = ctx->attrs;
  kiln_tensor *const *in = ctx->inputs;
  kiln_tensor *x = in[KILN_BOTTLENECK_X], *ew = in[KILN_BOTTLENECK_EXPAND_W];
  kiln_tensor *dw = in[KILN_BOTTLENECK_DW_W],
              *pw = in[KILN_BOTTLENECK_PROJECT_W];
  kiln_tensor *y = ctx->outputs[0];
  int64_t m = dw->dims[3];
  /* KILN_INT8_ROUNDING_FP32 reaches every stage, as it reaches the
   * unfused operators. */
  const bool fp32 = ctx->quant && ctx->quant->fp32_rounding;
  stand_in e, d;
  make_stand_in(&e, x, m, at->expanded_scale, at->expanded_zp);
  make_stand_in(&d, x, m, at->depthwise_scale, at->depthwise_zp);
  /* With a residual ADD the project writes the ADD's other operand. */
  stand_in r;
  make_stand_in(&r, x, pw->dims[0], at->project_scale, at->project_zp);
  kiln_tensor *project_out = at->residual ? &r.t : y;
  kiln_tensor *dw_in = ew ? &e.t : x;
  kiln_conv_attrs pointwise = {KILN_PAD_VALID, 1, 1, 1, 1, 0, KILN_ACT_NONE};
  if (ew) {
    pointwise.activation = at->expand_activation;
    kiln_op_ctx c = {
        .attrs = &pointwise,
        .inputs = (kiln_tensor *[]){x, ew, in[KILN_BOTTLENECK_EXPAND_B]},
        .num_inputs = 3,
        .outputs = (kiln_tensor *[]){&e.t},
        .num_outputs = 1};
    KILN_TRY(kiln_qgemm_node_params(KILN_OP_CONV_2D, &c, a, &p->eq));
    if (!p->eq) return NULL;
    KILN_TRY(kiln_qgemm_pack(kiln_qgemm_pick(isa->level, m), ew->data, m,
                             x->dims[3], p->eq, fp32, a, &p->expand));
    if (!p->expand) return NULL;
  }
  kiln_op_ctx c = {
      .attrs = &at->depthwise,
      .inputs = (kiln_tensor *[]){dw_in, dw, in[KILN_BOTTLENECK_DW_B]},
      .num_inputs = 3,
      .outputs = (kiln_tensor *[]){&d.t},
      .num_outputs = 1};
  qbn_pack_fn pack =
      at->depthwise.stride_h == 1 ? isa->dw_pack_s1 : isa->dw_pack_s2;
  KILN_TRY(pack(&c, a, &p->dw));
  if (!p->dw) return NULL;
  KILN_TRY(kiln_quant_params_build(KILN_OP_DEPTHWISE_CONV_2D, &c, a, &p->dq));
  if (!dw_quant_fits(p->dq, m)) return NULL;
  p->dq->fp32_rounding = fp32;
  pointwise.activation = at->project_activation;
  c = (kiln_op_ctx){
      .attrs = &pointwise,
      .inputs = (kiln_tensor *[]){&d.t, pw, in[KILN_BOTTLENECK_PROJECT_B]},
      .num_inputs = 3,
      .outputs = (kiln_tensor *[]){project_out},
      .num_outputs = 1};
  KILN_TRY(kiln_qgemm_node_params(KILN_OP_CONV_2D, &c, a, &p->pq));
  if (!p->pq) return NULL;
  KILN_TRY(kiln_qgemm_pack(kiln_qgemm_pick(isa->level, pw->dims[0]), pw->data,
                           pw->dims[0], m, p->pq, fp32, a, &p->project));
  if (!at->residual) return NULL;
  kiln_tensor *res = in[KILN_BOTTLENECK_RESIDUAL];
  kiln_activation_attrs act = {at->residual_activation};
  c = (kiln_op_ctx){
      .attrs = &act,
      .inputs = (kiln_tensor *[]){at->residual_first ? res : &r.t,
                                  at->residual_first ? &r.t : res},
      .num_inputs = 2,
      .outputs = (kiln_tensor *[]){y},
      .num_outputs = 1,
      .quant = ctx->quant};
  return kiln_q8_add_pack(&c, a, &p->add);
}

/* The shapes these variants take: int8 x and y, 1x1 filters, a 3x3
 * depthwise window of stride 1 or 2 (bottleneck.h's rule). */
static bool node_fits(const kiln_op_ctx *ctx) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  if (!a || !a->quantized ||
      ctx->num_inputs != KILN_BOTTLENECK_INPUTS + (a->residual ? 1 : 0) ||
      ctx->num_outputs != 1 || !ctx->outputs[0])
    return false;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X],
                    *ew = ctx->inputs[KILN_BOTTLENECK_EXPAND_W],
                    *dw = ctx->inputs[KILN_BOTTLENECK_DW_W],
                    *pw = ctx->inputs[KILN_BOTTLENECK_PROJECT_W];
  if (!x || !dw || !pw || x->dtype != KILN_INT8 || x->rank != 4 ||
      dw->rank != 4 || pw->rank != 4 || ctx->outputs[0]->dtype != KILN_INT8 ||
      !kiln_bottleneck_window_supported(dw->dims[1], dw->dims[2],
                                        &a->depthwise))
    return false;
  int64_t m = dw->dims[3];
  if (ew) {
    if (ew->rank != 4 || ew->dims[0] != m || ew->dims[1] != 1 ||
        ew->dims[2] != 1 || ew->dims[3] != x->dims[3])
      return false;
  } else if (x->dims[3] != m || ctx->inputs[KILN_BOTTLENECK_EXPAND_B]) {
    return false;
  }
  if (a->residual) {
    /* The block's input, added to an output of the same shape. */
    const kiln_tensor *r = ctx->inputs[KILN_BOTTLENECK_RESIDUAL];
    if (!r || r->dtype != KILN_INT8 || r->rank != 4 ||
        a->depthwise.stride_h != 1 || pw->dims[0] != x->dims[3])
      return false;
    for (int i = 0; i < 4; i++)
      if (r->dims[i] != x->dims[i]) return false;
  }
  return pw->dims[1] == 1 && pw->dims[2] == 1 && pw->dims[3] == m;
}

static kiln_status *pack(const qbn_isa *isa, const kiln_op_ctx *ctx,
                         const kiln_allocator *a, void **out_packed) {
  *out_packed = NULL;
  if (!node_fits(ctx)) return NULL;
  parts p = {0};
  kiln_status *st = build_parts(isa, ctx, a, &p);
  bool expand = ctx->inputs[KILN_BOTTLENECK_EXPAND_W] != NULL;
  bool residual = ((const kiln_bottleneck_attrs *)ctx->attrs)->residual;
  if (st || !p.project || !p.dw || !p.dq || (expand && !p.expand) ||
      (residual && !p.add)) {
    free_parts(a, &p);
    return st;
  }
  const kiln_qdw_packed *dwp = p.dw;
  int64_t m = dwp->channels;
  size_t header = round_up(sizeof(kiln_qbottleneck_packed));
  size_t expand_bytes = expand ? gemm_place_bytes(p.expand) : 0;
  size_t project_bytes = gemm_place_bytes(p.project);
  size_t dw_header = round_up(sizeof(kiln_qdw_packed));
  size_t dw_bytes = dw_header + round_up(qdw_words(dwp) * sizeof(int32_t));
  size_t arrays = round_up((size_t)m * 3 * sizeof(int32_t));
  /* One alignment of slack: the block itself may start anywhere. */
  char *mem = kiln_malloc(a, KILN_ALIGNMENT + header + expand_bytes +
                                 project_bytes + dw_bytes + arrays);
  if (!mem) {
    free_parts(a, &p);
    return KILN_OOM();
  }
  uintptr_t first = ((uintptr_t)mem + header + KILN_ALIGNMENT - 1) &
                    ~(uintptr_t)(KILN_ALIGNMENT - 1);
  size_t at = (size_t)(first - (uintptr_t)mem);
  kiln_qbottleneck_packed *h = (kiln_qbottleneck_packed *)(void *)mem;
  memset(h, 0, sizeof *h);
  h->in_c = ctx->inputs[KILN_BOTTLENECK_X]->dims[3];
  h->mid_c = m;
  h->out_c = ctx->inputs[KILN_BOTTLENECK_PROJECT_W]->dims[0];
  h->dw_block = dwp->block;
  h->stride = ((const kiln_bottleneck_attrs *)ctx->attrs)->depthwise.stride_h;
  h->residual = residual;
  if (residual) h->add = *(const kiln_q8_binary_params *)p.add;
  if (expand) {
    h->expand = (uint32_t)at;
    place_gemm(mem + at, p.expand);
    at += expand_bytes;
  }
  h->project = (uint32_t)at;
  place_gemm(mem + at, p.project);
  at += project_bytes;
  h->depthwise = (uint32_t)at;
  kiln_qdw_packed *dcopy = (kiln_qdw_packed *)(void *)(mem + at);
  *dcopy = *dwp;
  dcopy->offset = dw_header;
  memcpy(mem + at + dw_header, kiln_qdw_weights(dwp),
         qdw_words(dwp) * sizeof(int32_t));
  at += dw_bytes;
  int32_t *arr = (int32_t *)(void *)(mem + at);
  h->dw_quant = *p.dq;
  h->dw_quant.multiplier = memcpy(arr, p.dq->multiplier, (size_t)m * 4);
  h->dw_quant.shift = memcpy(arr + m, p.dq->shift, (size_t)m * sizeof(int));
  h->dw_quant.bias32 = memcpy(arr + 2 * m, p.dq->bias32, (size_t)m * 4);
  h->dw_quant.bias64 = NULL;
  h->dw_quant.filter_scale = NULL;
  h->dw_quant.filter_sum = NULL;
  h->dw_quant.lstm = NULL;
  free_parts(a, &p);
  *out_packed = h;
  return NULL;
}

/* ------------------------------------------------------------- the plan */

typedef struct plan {
  int64_t batch, in_h, in_w, in_c, mid_c, out_h, out_w, out_c;
  int64_t pad_top, pad_left, ox_lo, ox_hi;
  int stride;
  bool expand, residual;
  int64_t band; /* output rows per band */
  /* Expanded rows the buffer holds: a band's windows read span of them,
   * and rows are appended after the last until `cap` are there, when
   * the span's overlap with the next band moves to the front. */
  int64_t span, cap;
  /* Per-thread scratch in bytes, each a multiple of a cache line: the
   * expand's flipped input rows, the expanded rows, the depthwise rows. */
  size_t a_bytes, mid_bytes, dw_bytes;
  size_t y_bytes; /* the project's rows before the residual ADD */
} plan;

static size_t scratch_bytes(const plan *p) {
  return p->a_bytes + p->mid_bytes + p->dw_bytes + p->y_bytes;
}

static void plan_band(plan *p, int64_t band) {
  p->band = band;
  p->span = p->expand ? (band - 1) * p->stride + 3 : 0;
  if (p->span > p->in_h) p->span = p->in_h;
  /* Room for a few bands, so the overlap moves once every few bands. */
  int64_t row_bytes = p->in_w * p->mid_c > 0 ? p->in_w * p->mid_c : 1;
  p->cap = MID_BYTES / row_bytes;
  if (p->cap > p->in_h) p->cap = p->in_h;
  if (p->cap < p->span) p->cap = p->span;
  p->a_bytes =
      p->expand ? round_up((size_t)(EXPAND_CHUNK * round4(p->in_c))) : 0;
  p->mid_bytes = round_up((size_t)(p->cap * p->in_w * p->mid_c));
  /* The project reads K rounded up to 4 from each row: slack after the
   * last. */
  p->dw_bytes = round_up((size_t)(band * p->out_w * p->mid_c + 4));
  p->y_bytes = p->residual ? round_up((size_t)(band * p->out_w * p->out_c)) : 0;
}

static void make_plan(const kiln_op_ctx *ctx, plan *p) {
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
  p->residual = a->residual;
  p->pad_top =
      kiln_window_pad_before(p->in_h, p->out_h, 3, p->stride, 1, d->padding);
  p->pad_left =
      kiln_window_pad_before(p->in_w, p->out_w, 3, p->stride, 1, d->padding);
  int64_t lo = (p->pad_left + p->stride - 1) / p->stride;
  int64_t last = p->in_w - 3 + p->pad_left;
  int64_t hi = last >= 0 ? last / p->stride + 1 : 0;
  p->ox_lo = lo < p->out_w ? lo : p->out_w;
  p->ox_hi = hi < p->out_w ? hi : p->out_w;
  if (p->ox_hi < p->ox_lo) p->ox_hi = p->ox_lo;
  /* The shortest band whose project rows fill BAND_ROWS, within the
   * scratch budget. */
  int64_t band = 1;
  while (band < MAX_BAND && band < p->out_h && band * p->out_w < BAND_ROWS) {
    plan_band(p, band + 1);
    if (scratch_bytes(p) > BAND_BYTES) break;
    band++;
  }
  plan_band(p, band);
}

/* ------------------------------------------------------------ the sweep */

typedef struct job {
  plan p;
  const void *expand, *project; /* GEMM blocks */
  const kiln_qdw_packed *dw;
  const kiln_quant_params *dq;
  kiln_qbottleneck_dw_fn dw_fn;
  const int8_t *x, *residual; /* residual NULL without the ADD */
  int8_t *y;
  const kiln_q8_binary_params *add;
  kiln_q8_binary_ukernel add_fn;
  const kiln_bottleneck_attrs *attrs;
  kiln_threadpool *pool;
} job;

/* C rows = requantize(A W^T + bias) for `rows` flipped rows of A (kp
 * bytes read from each, a_stride apart) into rows of C, panel by panel so
 * a panel stays in L1 while the rows go past it. */
static void gemm(const void *block, const uint8_t *a, int64_t rows,
                 int64_t a_stride, int8_t *c) {
  const kiln_qgemm_header *h = block;
  const kiln_qgemm_kernel *k = h->kernel;
  const char *panel = (const char *)block + h->offset;
  for (int64_t n0 = 0; n0 < h->n; n0 += h->nr, panel += h->panel_bytes) {
    size_t nc = (size_t)(h->n - n0 < h->nr ? h->n - n0 : h->nr);
    for (int64_t r0 = 0; r0 < rows; r0 += k->mr)
      k->fn((size_t)(rows - r0 < k->mr ? rows - r0 : k->mr), nc, (size_t)h->kp,
            a + r0 * a_stride, (size_t)a_stride, panel, c + r0 * h->n + n0,
            (size_t)h->n, &h->out);
  }
}

/* Expands `pixels` input pixels into `dst` (pixels x mid_c), a chunk at a
 * time through the flipped rows of A. */
static void expand_pixels(const job *j, uint8_t *a, const int8_t *src,
                          int64_t pixels, int8_t *dst) {
  const kiln_qgemm_header *h = j->expand;
  const int64_t c = j->p.in_c, kp = h->kp;
  for (int64_t p0 = 0; p0 < pixels; p0 += EXPAND_CHUNK) {
    int64_t n = pixels - p0 < EXPAND_CHUNK ? pixels - p0 : EXPAND_CHUNK;
    if (kp == c) {
      h->kernel->flip(a, src + p0 * c, n * c);
    } else {
      for (int64_t r = 0; r < n; r++) {
        h->kernel->flip(a + r * kp, src + (p0 + r) * c, c);
        memset(a + r * kp + c, 0, (size_t)(kp - c));
      }
    }
    gemm(h, a, n, kp, dst + p0 * j->p.mid_c);
  }
}

/* Output rows [oy0, oy1) of image b. The buffer `mid` holds the expanded
 * input rows [have_lo, have_hi), row have_lo first. */
static void image_rows(const job *j, char *scratch, int64_t b, int64_t oy0,
                       int64_t oy1) {
  const plan *p = &j->p;
  const int64_t s = p->stride, w = p->in_w, m = p->mid_c;
  const int64_t row_bytes = w * m;
  uint8_t *a = (uint8_t *)scratch;
  int8_t *mid = (int8_t *)(scratch + p->a_bytes);
  int8_t *dw_rows = mid + p->mid_bytes;
  const int8_t *image = j->x + b * p->in_h * w * p->in_c;
  const kiln_qgemm_header *ph = j->project;
  kiln_qbottleneck_dw_band band = {
      .out = dw_rows,
      .w = j->dw,
      .q = j->dq,
      .in_w = w,
      .out_w = p->out_w,
      .channels = m,
      .pad_left = p->pad_left,
      .ox_lo = p->ox_lo,
      .ox_hi = p->ox_hi,
      .stride = p->stride,
  };
  int64_t have_lo = 0, have_hi = 0;
  int64_t bands = (oy1 - oy0 + p->band - 1) / p->band;
  for (int64_t oy = oy0, n; oy < oy1; oy += n, bands--) {
    /* Bands of equal length, so none is a short tail of part-filled
     * tiles. */
    n = (oy1 - oy + bands - 1) / bands;
    const int64_t top = oy * s - p->pad_top;
    int64_t lo = top < 0 ? 0 : top, hi = top + (n - 1) * s + 3;
    if (hi > p->in_h) hi = p->in_h;
    if (lo > hi) lo = hi;
    if (p->expand) {
      if (lo < have_lo || lo >= have_hi) {
        have_lo = have_hi = lo; /* nothing to keep */
      } else if (hi - have_lo > p->cap) {
        /* Full: the rows the band shares with the last move to the
         * front. */
        memmove(mid, mid + (lo - have_lo) * row_bytes,
                (size_t)((have_hi - lo) * row_bytes));
        have_lo = lo;
      }
      if (have_hi < hi)
        expand_pixels(j, a, image + have_hi * w * p->in_c, (hi - have_hi) * w,
                      mid + (have_hi - have_lo) * row_bytes);
      have_hi = hi;
      band.in = mid + (lo - have_lo) * row_bytes;
    } else {
      band.in = image + lo * row_bytes;
    }
    band.in_rows = hi - lo;
    band.top = top - lo;
    band.out_rows = n;
    j->dw_fn(&band);
    int64_t rows = n * p->out_w;
    ph->kernel->flip((uint8_t *)dw_rows, dw_rows, rows * m);
    int64_t at = ((b * p->out_h + oy) * p->out_w) * p->out_c;
    if (!j->residual) {
      gemm(ph, (const uint8_t *)dw_rows, rows, m, j->y + at);
      continue;
    }
    /* The project's rows, then the ADD of the block's input into the
     * output, in the operands' order. */
    int8_t *y_rows = dw_rows + p->dw_bytes;
    gemm(ph, (const uint8_t *)dw_rows, rows, m, y_rows);
    const int8_t *r = j->residual + at;
    bool first = ((const kiln_bottleneck_attrs *)j->attrs)->residual_first;
    j->add_fn(j->add, first ? r : y_rows, first ? y_rows : r, j->y + at,
              (size_t)(rows * p->out_c), 1);
  }
}

/* Output rows [begin, end) of all images, flattened. */
static void rows_range(void *context, int thread, int64_t begin, int64_t end) {
  const job *j = context;
  const plan *p = &j->p;
  char *scratch = kiln_threadpool_scratch(j->pool, thread);
  while (begin < end) {
    int64_t b = begin / p->out_h, oy = begin % p->out_h;
    int64_t oy1 = oy + (end - begin) < p->out_h ? oy + (end - begin) : p->out_h;
    image_rows(j, scratch, b, oy, oy1);
    begin += oy1 - oy;
  }
}

/* ------------------------------------------------------- the variants */

static bool applies(const qbn_isa *isa, const kiln_op_ctx *ctx) {
  const kiln_qbottleneck_packed *h = ctx->packed;
  if (!h || !node_fits(ctx) || h->dw_block != isa->dw_block) return false;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X], *y = ctx->outputs[0];
  const kiln_bottleneck_attrs *a = ctx->attrs;
  const kiln_qgemm_header *ph =
      (const void *)((const char *)ctx->packed + h->project);
  if (x->dims[3] != h->in_c ||
      ctx->inputs[KILN_BOTTLENECK_DW_W]->dims[3] != h->mid_c || y->rank != 4 ||
      y->dims[3] != h->out_c || y->dims[0] != x->dims[0] ||
      (h->expand != 0) != (ctx->inputs[KILN_BOTTLENECK_EXPAND_W] != NULL) ||
      a->depthwise.stride_h != h->stride ||
      !kiln_qgemm_packed_fits(ph, h->out_c, h->mid_c))
    return false;
  if (h->residual)
    for (int i = 0; i < 4; i++)
      if (ctx->inputs[KILN_BOTTLENECK_RESIDUAL]->dims[i] != y->dims[i])
        return false;
  plan p;
  make_plan(ctx, &p);
  return scratch_bytes(&p) <= MAX_SCRATCH_BYTES;
}

static size_t workspace(const kiln_op_ctx *ctx) {
  plan p;
  make_plan(ctx, &p);
  return scratch_bytes(&p);
}

static kiln_status *run(const qbn_isa *isa, const kiln_op_ctx *ctx) {
  /* The session reserves the scratch on its pool; without one only the
   * reference can run. */
  if (!kiln_threadpool_scratch(ctx->pool, 0))
    return kiln_ref_fused_qbottleneck(ctx);
  const kiln_qbottleneck_packed *h = ctx->packed;
  const char *base = ctx->packed;
  job j = {
      .expand = h->expand ? base + h->expand : NULL,
      .project = base + h->project,
      .dw = (const kiln_qdw_packed *)(const void *)(base + h->depthwise),
      .dq = &h->dw_quant,
      .dw_fn = isa->dw,
      .x = ctx->inputs[KILN_BOTTLENECK_X]->data,
      .y = ctx->outputs[0]->data,
      .residual =
          h->residual ? ctx->inputs[KILN_BOTTLENECK_RESIDUAL]->data : NULL,
      .add = &h->add,
      .add_fn = isa->add,
      .attrs = ctx->attrs,
      .pool = ctx->pool,
  };
  make_plan(ctx, &j.p);
  const plan *p = &j.p;
  /* A thread expands the rows above its first output row again, so
   * chunks hold several times the work that pays for waking a worker. */
  int64_t row_macs = p->out_w * p->mid_c * (9 + p->out_c) +
                     (p->expand ? p->stride * p->in_w * p->mid_c * p->in_c : 0);
  int64_t grain = 4 * KILN_GEMM_MIN_CHUNK_MACS / (row_macs > 0 ? row_macs : 1);
  kiln_parallel_for_shares(j.pool, p->batch * p->out_h, grain > 1 ? grain : 1,
                           rows_range, &j);
  return NULL;
}

#define DEFINE_VARIANTS(isa, qdw_isa, dw_isa, isa_level, add_isa)           \
  static const qbn_isa isa##_kernels = {                                    \
      &kiln_qgemm_level_##isa,                                              \
      kiln_q8_dwconv_3x3s1__##qdw_isa##_pack,                               \
      kiln_q8_dwconv_3x3s2__##qdw_isa##_pack,                               \
      kiln_qbottleneck_dw__##dw_isa,                                        \
      KILN_QDW_BLOCK(isa_level),                                            \
      kiln_q8_binary_ukernel_##add_isa};                                    \
  kiln_status *kiln_qbottleneck_pack_##isa(                                 \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return pack(&isa##_kernels, ctx, a, out_packed);                        \
  }                                                                         \
  bool kiln_qbottleneck_applies_##isa(const kiln_op_ctx *ctx) {             \
    return applies(&isa##_kernels, ctx);                                    \
  }                                                                         \
  kiln_status *kiln_qbottleneck_run_##isa(const kiln_op_ctx *ctx) {         \
    return run(&isa##_kernels, ctx);                                        \
  }                                                                         \
  size_t kiln_qbottleneck_workspace_##isa(const kiln_op_ctx *ctx) {         \
    return workspace(ctx);                                                  \
  }

DEFINE_VARIANTS(portable, portable, portable, KILN_ISA_PORTABLE, portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, avx2, avx2, KILN_ISA_AVX2, avx2)
DEFINE_VARIANTS(avx512vnni, vnni, vnni, KILN_ISA_AVX512_VNNI, avx512)
#endif
