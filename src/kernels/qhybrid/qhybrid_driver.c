/* qhybrid_driver.c - the hybrid FULLY_CONNECTED and CONV_2D variants: which
 * nodes they take, and at invoke the work split over the pool. An item of
 * work is a block of output rows (FULLY_CONNECTED's input rows, or one
 * image's output pixels) and a share of the weight panels; the thread that
 * runs it quantizes the block's activations (a convolution's windows
 * unrolled, im2col) into its scratch, runs the microkernel over the panels
 * and scales each tile back to float as the reference kernel does. */
#include <string.h>

#include "core/threadpool.h"
#include "kernels/qhybrid/qhybrid.h"
#include "kernels/ref/quant_conv.h"
#include "kernels/ref/quant_params.h"

/* Bytes of quantized activations a block aims at (it stays in L2). */
enum { BLOCK_BYTES = 128 * 1024, MAX_BLOCK_ROWS = 512, MAX_NR = 32 };

typedef struct qh_job {
  const qh_kernel *kernel;
  const qh_packed *h;
  const int8_t *weights;
  const int32_t *sum, *init;
  kiln_threadpool *pool;
  bool conv;
  const float *x; /* FC: the input rows; CONV_2D: this image */
  int64_t rows;   /* output rows of the job */
  kiln_q_geom g;  /* CONV_2D */
  qh_quant image_q;
  bool asym; /* FC */
  qh_epilogue epi;
  float *out;
  int64_t block_rows, panels, splits, split_panels;
} qh_job;

static const qh_packed *header(const kiln_op_ctx *ctx) { return ctx->packed; }

static int64_t block_rows_for(const qh_kernel *kernel, const qh_packed *h,
                              int64_t rows) {
  int64_t row_bytes = h->kp * (int64_t)kiln_qh_format_bytes(kernel->a_format);
  int64_t b = BLOCK_BYTES / row_bytes / kernel->mr * kernel->mr;
  if (b < kernel->mr) b = kernel->mr;
  if (b > MAX_BLOCK_ROWS) b = MAX_BLOCK_ROWS;
  int64_t need = (rows + kernel->mr - 1) / kernel->mr * kernel->mr;
  return b < need ? b : need;
}

static size_t workspace_bytes(const qh_kernel *kernel, const qh_packed *h,
                              int64_t rows) {
  int64_t b = block_rows_for(kernel, h, rows);
  return (size_t)(b * h->kp) * kiln_qh_format_bytes(kernel->a_format) +
         (size_t)b * sizeof(qh_quant) + 64;
}

/* A batch's quantization, with or without a zero point. */
static qh_quant batch_quant(const qh_kernel *k, bool asym, const float *x,
                            int64_t n) {
  if (!k->min_max)
    return asym ? kiln_qh_asymmetric(x, n) : kiln_qh_symmetric(x, n);
  float lo, hi;
  k->min_max(x, n, &lo, &hi);
  return asym ? kiln_qh_asymmetric_range(lo, hi)
              : kiln_qh_symmetric_range(lo, hi);
}

static void quantize(const qh_kernel *k, const qh_quant *q, const float *x,
                     int64_t n, void *dst) {
  if (k->quantize)
    k->quantize(q, x, n, dst);
  else
    kiln_qh_quantize(q, x, n, k->a_format, dst);
}

/* Output row r of a convolution: its window, unrolled into kp activations
 * (taps outside the image are the quantized zero). */
static void im2col_row(const qh_job *j, int64_t r, char *dst) {
  const kiln_q_geom *g = &j->g;
  qh_a_format fmt = j->kernel->a_format;
  size_t esize = kiln_qh_format_bytes(fmt);
  int64_t oy = r / g->out_w, ox = r % g->out_w;
  for (int64_t ky = 0; ky < g->k_h; ky++) {
    int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
    for (int64_t kx = 0; kx < g->k_w; kx++) {
      int64_t ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
      if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
        kiln_qh_fill_zero(&j->image_q, g->in_c, fmt, dst);
      else
        quantize(j->kernel, &j->image_q, j->x + (iy * g->in_w + ix) * g->in_c,
                 g->in_c, dst);
      dst += (size_t)g->in_c * esize;
    }
  }
}

/* Quantizes rows [r0, r1) into a, one row's parameters each in qs. */
static void quantize_block(const qh_job *j, int64_t r0, int64_t r1, char *a,
                           qh_quant *qs) {
  const qh_packed *h = j->h;
  size_t esize = kiln_qh_format_bytes(j->kernel->a_format);
  size_t row_bytes = (size_t)h->kp * esize;
  for (int64_t r = r0; r < r1; r++) {
    char *dst = a + (size_t)(r - r0) * row_bytes;
    if (j->conv) {
      qs[r - r0] = j->image_q;
      im2col_row(j, r, dst);
    } else {
      const float *x = j->x + r * h->k;
      qs[r - r0] = batch_quant(j->kernel, j->asym, x, h->k);
      quantize(j->kernel, &qs[r - r0], x, h->k, dst);
    }
    /* The weights there are 0; the bytes only need a value. */
    memset(dst + (size_t)h->k * esize, 0, (size_t)(h->kp - h->k) * esize);
  }
}

static void run_items(void *context, int thread, int64_t begin, int64_t end) {
  const qh_job *j = context;
  const qh_kernel *k = j->kernel;
  const qh_packed *h = j->h;
  size_t row_bytes = (size_t)h->kp * kiln_qh_format_bytes(k->a_format);
  char *a = kiln_threadpool_scratch(j->pool, thread);
  qh_quant *qs = (qh_quant *)(void *)(a + (size_t)j->block_rows * row_bytes);
  int32_t tile[8 * MAX_NR];
  qh_epilogue_fn epi = k->epilogue ? k->epilogue : kiln_qh_epilogue;
  for (int64_t item = begin; item < end; item++) {
    int64_t block = item / j->splits, share = item % j->splits;
    int64_t r0 = block * j->block_rows;
    int64_t r1 = r0 + j->block_rows < j->rows ? r0 + j->block_rows : j->rows;
    int64_t p0 = share * j->split_panels;
    int64_t p1 =
        p0 + j->split_panels < j->panels ? p0 + j->split_panels : j->panels;
    quantize_block(j, r0, r1, a, qs);
    for (int64_t p = p0; p < p1; p++) {
      const int8_t *w = j->weights + p * h->nr * h->kp;
      int64_t c0 = p * h->nr;
      int64_t cols = h->n - c0 < h->nr ? h->n - c0 : h->nr;
      for (int64_t r = r0; r < r1; r += k->mr) {
        int mr = (int)(r1 - r < k->mr ? r1 - r : k->mr);
        k->ukernel(mr, h->kp / 4, a + (size_t)(r - r0) * row_bytes, row_bytes,
                   w, j->init + c0, tile);
        epi(&j->epi, qs + (r - r0), mr, tile, h->nr, c0, cols,
            j->out + r * h->n, h->n);
      }
    }
  }
}

static void run_job(qh_job *j) {
  const qh_packed *h = j->h;
  const char *base = (const char *)h;
  j->weights = (const int8_t *)(base + h->weights_offset);
  j->sum = (const int32_t *)(const void *)(base + h->sum_offset);
  j->init = (const int32_t *)(const void *)(base + h->init_offset);
  j->block_rows = block_rows_for(j->kernel, h, j->rows);
  j->panels = (h->n + h->nr - 1) / h->nr;
  int64_t blocks = (j->rows + j->block_rows - 1) / j->block_rows;
  int64_t threads = kiln_threadpool_size(j->pool);
  /* Fewer blocks than threads (a batch of one row): threads share out the
   * panels too, each quantizing the block again, which is cheap beside it. */
  j->splits = 1;
  if (blocks < threads) {
    j->splits = (threads + blocks - 1) / blocks;
    if (j->splits > j->panels) j->splits = j->panels;
  }
  j->split_panels = (j->panels + j->splits - 1) / j->splits;
  j->splits = (j->panels + j->split_panels - 1) / j->split_panels;
  kiln_parallel_for_thread(j->pool, blocks * j->splits, 1, run_items, j);
}

static const float *bias_of(const kiln_op_ctx *ctx) {
  return ctx->num_inputs > 2 && ctx->inputs[2] ? ctx->inputs[2]->data : NULL;
}

/* The bias is absent, or float32 with one value per channel. */
static bool bias_fits(const kiln_op_ctx *ctx, int64_t n) {
  const kiln_tensor *b =
      ctx->num_inputs > 2 ? ctx->inputs[2] : (const kiln_tensor *)NULL;
  return !b || (b->dtype == KILN_FLOAT32 && kiln_tensor_numel(b) == n);
}

/* Float activations, constant int8 weights of `rank` with scales. */
static bool hybrid_weights(const kiln_op_ctx *ctx, int rank) {
  if (ctx->num_inputs < 2 || !ctx->inputs[0] || !ctx->inputs[1]) return false;
  const kiln_tensor *w = ctx->inputs[1];
  return ctx->inputs[0]->dtype == KILN_FLOAT32 && w->dtype == KILN_INT8 &&
         w->data && w->rank == rank && w->quant && w->quant->count >= 1;
}

static bool hybrid_node(const kiln_op_ctx *ctx, int64_t n) {
  const kiln_quant_params *p = ctx->quant;
  return p && p->hybrid && p->channels == n && ctx->num_outputs >= 1 &&
         ctx->outputs[0]->dtype == KILN_FLOAT32 && bias_fits(ctx, n);
}

/* ---------------------------------------------------- FULLY_CONNECTED */

static kiln_status *fc_pack(const qh_kernel *k, const kiln_op_ctx *ctx,
                            const kiln_allocator *a, void **out) {
  *out = NULL;
  if (!hybrid_weights(ctx, 2)) return NULL;
  const kiln_tensor *w = ctx->inputs[1];
  if (w->dims[0] <= 0 || w->dims[1] <= 0) return NULL;
  return kiln_qh_pack(k, w->data, w->dims[0], w->dims[1], w->dims[1], 1, 1, 1,
                      a, out);
}

static bool fc_applies(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const qh_packed *h = header(ctx);
  if (!h || h->nr != k->nr || !hybrid_weights(ctx, 2)) return false;
  const kiln_tensor *w = ctx->inputs[1];
  if (w->dims[0] != h->n || w->dims[1] != h->k || !hybrid_node(ctx, h->n))
    return false;
  int64_t in = kiln_tensor_numel(ctx->inputs[0]);
  int64_t rows = in / h->k;
  return rows * h->k == in && rows * h->n == kiln_tensor_numel(ctx->outputs[0]);
}

static size_t fc_workspace(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const qh_packed *h = header(ctx);
  return workspace_bytes(k, h, kiln_tensor_numel(ctx->inputs[0]) / h->k);
}

static kiln_status *fc_run(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const kiln_fully_connected_attrs *attrs = ctx->attrs;
  const qh_packed *h = header(ctx);
  const kiln_quant_params *p = ctx->quant;
  qh_job j = {
      .kernel = k,
      .h = h,
      .pool = ctx->pool,
      .x = ctx->inputs[0]->data,
      .rows = kiln_tensor_numel(ctx->inputs[0]) / h->k,
      .asym = attrs->asymmetric_quantize_inputs,
      .epi = {.asym = attrs->asymmetric_quantize_inputs,
              .per_channel = ctx->inputs[1]->quant->count > 1,
              .filter_scale = p->filter_scale,
              .bias = bias_of(ctx),
              .filter_sum = p->filter_sum,
              .act = attrs->activation},
      .out = ctx->outputs[0]->data,
  };
  if (j.rows > 0) run_job(&j);
  return NULL;
}

/* ------------------------------------------------------------ CONV_2D */

static kiln_status *conv_pack(const qh_kernel *k, const kiln_op_ctx *ctx,
                              const kiln_allocator *a, void **out) {
  *out = NULL;
  if (!hybrid_weights(ctx, 4)) return NULL;
  const int64_t *d = ctx->inputs[1]->dims;
  if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || d[3] <= 0) return NULL;
  int64_t depth = d[1] * d[2] * d[3];
  return kiln_qh_pack(k, ctx->inputs[1]->data, d[0], depth, depth, 1, d[1],
                      d[2], a, out);
}

static bool conv_applies(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const qh_packed *h = header(ctx);
  if (!h || h->nr != k->nr || !hybrid_weights(ctx, 4)) return false;
  const kiln_tensor *in = ctx->inputs[0], *w = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  /* Grouped convolutions (input channels a multiple of the filter's) stay
   * with the reference. */
  return w->dims[0] == h->n && w->dims[1] == h->window_h &&
         w->dims[2] == h->window_w &&
         w->dims[1] * w->dims[2] * w->dims[3] == h->k && in->rank == 4 &&
         in->dims[3] == w->dims[3] && out->rank == 4 && out->dims[3] == h->n &&
         hybrid_node(ctx, h->n);
}

static size_t conv_workspace(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const kiln_tensor *out = ctx->outputs[0];
  return workspace_bytes(k, header(ctx), out->dims[1] * out->dims[2]);
}

static kiln_status *conv_run(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *attrs = ctx->attrs;
  const qh_packed *h = header(ctx);
  const kiln_quant_params *p = ctx->quant;
  kiln_q_geom g = kiln_q_forward_geom(ctx);
  /* As the reference: per-channel weights take asymmetric inputs. */
  bool per_channel = ctx->inputs[1]->quant->count > 1;
  int64_t image = g.in_h * g.in_w * g.in_c, pixels = g.out_h * g.out_w;
  if (image <= 0 || pixels <= 0) return NULL;
  for (int64_t b = 0; b < g.batch; b++) {
    const float *x = (const float *)ctx->inputs[0]->data + b * image;
    qh_job j = {
        .kernel = k,
        .h = h,
        .pool = ctx->pool,
        .conv = true,
        .x = x,
        .rows = pixels,
        .g = g,
        .image_q = batch_quant(k, per_channel, x, image),
        .epi = {.conv = true,
                .per_channel = per_channel,
                .filter_scale = p->filter_scale,
                .bias = bias_of(ctx),
                .filter_sum = p->filter_sum,
                .act = attrs->activation},
        .out = (float *)ctx->outputs[0]->data + b * pixels * h->n,
    };
    run_job(&j);
  }
  return NULL;
}

/* ------------------------------------------------------- BATCH_MATMUL */

/* x float [..., M, K] (not adjoint) times a constant int8 y whose batch
 * dimensions are all 1: FULLY_CONNECTED's rows against y's columns,
 * per-tensor scale, no bias (the reference's order: 0 + dot * scale). */
static bool bmm_y_is_matrix(const kiln_tensor *y) {
  for (int i = 0; i + 2 < y->rank; i++)
    if (y->dims[i] != 1) return false;
  return true;
}

static kiln_status *bmm_pack(const qh_kernel *k, const kiln_op_ctx *ctx,
                             const kiln_allocator *a, void **out) {
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  *out = NULL;
  if (ctx->num_inputs < 2 || !ctx->inputs[0] || !ctx->inputs[1]) return NULL;
  const kiln_tensor *y = ctx->inputs[1];
  if (ctx->inputs[0]->dtype != KILN_FLOAT32 || y->dtype != KILN_INT8 ||
      !y->data || y->rank < 2 || !y->quant || !bmm_y_is_matrix(y))
    return NULL;
  int64_t rows = y->dims[y->rank - 2], cols = y->dims[y->rank - 1];
  if (rows <= 0 || cols <= 0) return NULL;
  /* Channel n is y's column n ([K, N]), or its row n when adjoint. */
  if (attrs->adj_y)
    return kiln_qh_pack(k, y->data, rows, cols, cols, 1, 1, 1, a, out);
  return kiln_qh_pack(k, y->data, cols, rows, 1, cols, 1, 1, a, out);
}

static bool bmm_applies(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  const qh_packed *h = header(ctx);
  const kiln_quant_params *p = ctx->quant;
  if (!h || h->nr != k->nr || !p || !p->hybrid || attrs->adj_x ||
      ctx->num_inputs < 2 || ctx->num_outputs < 1)
    return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (x->dtype != KILN_FLOAT32 || out->dtype != KILN_FLOAT32 || x->rank < 2 ||
      y->rank < 2 || !bmm_y_is_matrix(y) || x->dims[x->rank - 1] != h->k)
    return false;
  int64_t n = attrs->adj_y ? y->dims[y->rank - 2] : y->dims[y->rank - 1];
  int64_t rows = kiln_tensor_numel(x) / h->k;
  return n == h->n && rows * h->n == kiln_tensor_numel(out);
}

static size_t bmm_workspace(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const qh_packed *h = header(ctx);
  return workspace_bytes(k, h, kiln_tensor_numel(ctx->inputs[0]) / h->k);
}

static kiln_status *bmm_run(const qh_kernel *k, const kiln_op_ctx *ctx) {
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  const qh_packed *h = header(ctx);
  qh_job j = {
      .kernel = k,
      .h = h,
      .pool = ctx->pool,
      .x = ctx->inputs[0]->data,
      .rows = kiln_tensor_numel(ctx->inputs[0]) / h->k,
      .asym = attrs->asymmetric_quantize_inputs,
      .epi = {.asym = attrs->asymmetric_quantize_inputs,
              .filter_scale = ctx->quant->filter_scale,
              /* The reference sums y's columns at invoke; these are the
               * same sums, packed. */
              .filter_sum = (const int32_t *)(const void *)((const char *)h +
                                                            h->sum_offset),
              .act = KILN_ACT_NONE},
      .out = ctx->outputs[0]->data,
  };
  if (j.rows > 0) run_job(&j);
  return NULL;
}

#define DEFINE_VARIANTS(isa, kernel)                                           \
  kiln_status *kiln_qh_fc_pack_##isa(const kiln_op_ctx *ctx,                   \
                                     const kiln_allocator *a, void **packed) { \
    return fc_pack(&kernel, ctx, a, packed);                                   \
  }                                                                            \
  bool kiln_qh_fc_applies_##isa(const kiln_op_ctx *ctx) {                      \
    return fc_applies(&kernel, ctx);                                           \
  }                                                                            \
  kiln_status *kiln_qh_fc_run_##isa(const kiln_op_ctx *ctx) {                  \
    return fc_run(&kernel, ctx);                                               \
  }                                                                            \
  size_t kiln_qh_fc_workspace_##isa(const kiln_op_ctx *ctx) {                  \
    return fc_workspace(&kernel, ctx);                                         \
  }                                                                            \
  kiln_status *kiln_qh_conv_pack_##isa(                                        \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **packed) {        \
    return conv_pack(&kernel, ctx, a, packed);                                 \
  }                                                                            \
  bool kiln_qh_conv_applies_##isa(const kiln_op_ctx *ctx) {                    \
    return conv_applies(&kernel, ctx);                                         \
  }                                                                            \
  kiln_status *kiln_qh_conv_run_##isa(const kiln_op_ctx *ctx) {                \
    return conv_run(&kernel, ctx);                                             \
  }                                                                            \
  size_t kiln_qh_conv_workspace_##isa(const kiln_op_ctx *ctx) {                \
    return conv_workspace(&kernel, ctx);                                       \
  }                                                                            \
  kiln_status *kiln_qh_bmm_pack_##isa(                                         \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **packed) {        \
    return bmm_pack(&kernel, ctx, a, packed);                                  \
  }                                                                            \
  bool kiln_qh_bmm_applies_##isa(const kiln_op_ctx *ctx) {                     \
    return bmm_applies(&kernel, ctx);                                          \
  }                                                                            \
  kiln_status *kiln_qh_bmm_run_##isa(const kiln_op_ctx *ctx) {                 \
    return bmm_run(&kernel, ctx);                                              \
  }                                                                            \
  size_t kiln_qh_bmm_workspace_##isa(const kiln_op_ctx *ctx) {                 \
    return bmm_workspace(&kernel, ctx);                                        \
  }

DEFINE_VARIANTS(portable, kiln_qh_kernel_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_qh_kernel_avx2)
DEFINE_VARIANTS(vnni, kiln_qh_kernel_vnni)
#endif
