/* qbmm.c - int8 BATCH_MATMUL on the int8 GEMM microkernels (qgemm.h): per
 * batch, y is packed into panels as a FULLY_CONNECTED's weights are (once
 * at load when y is a constant, else at invoke into thread 0's reserved
 * scratch, never allocated), with every zero-point correction folded into
 * the panels, and x's rows (read across for adj_x) are flipped to uint8 a
 * block at a time by kiln_qgemm_compute, which threads over the pool.
 *
 * The reference sums (x - zx) * (y - zy) in int32 (wrapping) and
 * requantizes with the double rounding. Expanded, that sum is
 *   sum x*y - zy * sum_t x[r][t] - zx * sum_t y[t][c] + K * zx * zy,
 * whose column term the packed bias holds, as FULLY_CONNECTED's does. The
 * row term cannot go into a per-column bias, so when zy != 0 each row of A
 * carries a few more entries that sum to U = sum_t (127 - x[r][t]) (0 to
 * 255 K) against packed weights that are multiples of zy, adding zy * U =
 * zy * (127 K - sum_t x[r][t]) to every column; the constant part goes
 * into the bias too. An entry is at most 255 and a weight at most 127 in
 * magnitude, so U is written in digits: with s the largest power of two
 * for which zy * s is still an int8, ceil(K / s) entries hold floor(U / s)
 * (255 each, then the rest, then 0) against weights zy * s, and one entry
 * holds U mod s against zy. A small zy (as activations' zero points often
 * are) thus costs a few entries; |zy| > 64 costs K + 1. No other
 * microkernel than the FULLY_CONNECTED ones is needed. With the flip's
 * 128 * sum y:
 *   bias[c] = -(zx + 128) * sum_t y[t][c] + K * zy * (zx - 127),
 * all modulo 2^32 as the reference's int32 sums are, so the results equal
 * it bit for bit. */
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/ref/quant_matmul.h"
#include "kernels/ref/quant_params.h"

#define QBMM_MAGIC 0x716d6d62u
/* The most bytes y packed at invoke may take in each thread's scratch;
 * larger products stay with the reference kernel. */
#define QBMM_MAX_DYNAMIC_BYTES ((uint64_t)32 << 20)

/* What pack leaves at ctx->packed: the node's output stage, and for a
 * constant y its panels, y_batches blocks of batch_bytes from `offset`,
 * each a kiln_qgemm_compute block (kiln_qgemm_header, then panels). */
typedef struct qbmm_header {
  uint32_t magic;
  bool constant, adj_y;
  const kiln_qgemm_kernel *kernel;
  int32_t input_zp, filter_zp, multiplier, shift;
  kiln_qgemm_out out;
  int64_t k, n, y_batches; /* constant y */
  uint64_t batch_bytes;
  uint64_t offset;
} qbmm_header;

static uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

/* log2 of the digit scale s for zy != 0: the largest power of two with
 * zy * s in [-128, 127]. */
static int digit_shift(int32_t zy) {
  int shift = 0;
  if (zy == 0) return 0; /* no digits; any s would do */
  while (zy * (INT32_C(2) << shift) >= -128 &&
         zy * (INT32_C(2) << shift) <= 127)
    shift++;
  return shift;
}

/* Entries of A holding floor(U / s). */
static int64_t digit_entries(int64_t k, int32_t zy) {
  int shift = digit_shift(zy);
  return (k + (INT64_C(1) << shift) - 1) >> shift;
}

/* The packed depth: K entries of x (padded to 4), then, when zy != 0, the
 * digits of U and the one entry of U mod s. */
static int64_t augmented_k(int64_t k, int32_t filter_zp) {
  return filter_zp ? (int64_t)round_up((uint64_t)k, 4) +
                         digit_entries(k, filter_zp) + 1
                   : k;
}

static uint64_t panel_bytes(const kiln_qgemm_kernel *kernel, int64_t kaug) {
  uint64_t kp = round_up((uint64_t)kaug, 4);
  return round_up(((uint64_t)KILN_QGEMM_PARAM_ARRAYS * 4 + kp) * kernel->nr,
                  64);
}

static uint64_t panels_offset(void) {
  return round_up(sizeof(kiln_qgemm_header), KILN_ALIGNMENT);
}

/* Bytes of one kiln_qgemm_compute block for y of n columns; 0 when the
 * sizes pass what the block's 32-bit fields or this process hold. */
static uint64_t block_bytes(const kiln_qgemm_kernel *kernel, int64_t k,
                            int64_t n, int32_t filter_zp) {
  int64_t kaug = augmented_k(k, filter_zp);
  if (k < 1 || n < 1 || k > INT32_MAX / 128 || n > INT32_MAX) return 0;
  uint64_t panel = panel_bytes(kernel, kaug);
  uint64_t panels = (uint64_t)((n + kernel->nr - 1) / kernel->nr);
  if (panel > UINT32_MAX || panels > (SIZE_MAX / 4) / panel) return 0;
  return panels_offset() + panels * panel;
}

enum { NR_MAX = 32 };

/* Four rows of y (nc of their values copied to zero-padded rows of
 * `width`, the panel's NR) as width groups of 4 bytes, and their sums per
 * column added to sum. A constant width lets the compiler vectorize. */
static inline __attribute__((always_inline)) void pack_group(
    const int width, const int8_t (*r)[NR_MAX], uint32_t *w, int32_t *sum) {
  for (int j = 0; j < width; j++) {
    w[j] = (uint32_t)(uint8_t)r[0][j] | (uint32_t)(uint8_t)r[1][j] << 8 |
           (uint32_t)(uint8_t)r[2][j] << 16 | (uint32_t)(uint8_t)r[3][j] << 24;
    sum[j] += r[0][j] + r[1][j] + r[2][j] + r[3][j];
  }
}

/* Writes a panel's weights for nc columns of y (element (t, c) at
 * y[t * n + c], or y[c * k + t] for adj_y) as groups of 4 values of t per
 * column, and their column sums. */
static void pack_weights(const int8_t *y, bool adj_y, int64_t k, int64_t n,
                         int nc, int nr, uint32_t *w, int32_t *sum) {
  for (int j = 0; j < NR_MAX; j++) sum[j] = 0;
  if (!adj_y) {
    /* Four rows of y at a time, each read along its length. */
    int8_t r[4][NR_MAX] = {{0}};
    for (int64_t t = 0; t < k; t += 4, w += nr) {
      for (int i = 0; i < 4; i++)
        if (t + i < k)
          memcpy(r[i], y + (t + i) * n, (size_t)nc);
        else
          memset(r[i], 0, sizeof r[i]);
      if (nr == 32)
        pack_group(32, (const int8_t(*)[NR_MAX])r, w, sum);
      else if (nr == 16)
        pack_group(16, (const int8_t(*)[NR_MAX])r, w, sum);
      else
        pack_group(nr, (const int8_t(*)[NR_MAX])r, w, sum);
    }
    return;
  }
  /* A column of y is a row of the stored matrix. */
  for (int j = 0; j < nc; j++) {
    const int8_t *col = y + j * k;
    int32_t total = 0;
    for (int64_t t = 0; t < k; t++) total += col[t];
    sum[j] = total;
    int64_t t = 0;
    for (; t + 4 <= k; t += 4) memcpy(&w[(t / 4) * nr + j], col + t, 4);
    if (t < k) {
      uint8_t tail[4] = {0};
      memcpy(tail, col + t, (size_t)(k - t));
      memcpy(&w[(t / 4) * nr + j], tail, 4);
    }
  }
}

/* Packs one batch of y into a kiln_qgemm_compute block at dst (64-byte
 * aligned), folding the zero points into each column's bias as the file's
 * comment derives. Unless `full`, dst already holds a batch of the same
 * shape and only the weights of y and the biases are written: the
 * padding, the zy entries and the output stage are the same. */
static void pack_y(const qbmm_header *h, const int8_t *y, int64_t k, int64_t n,
                   void *dst, bool full) {
  const kiln_qgemm_kernel *kernel = h->kernel;
  const int nr = kernel->nr;
  const int32_t zx = h->input_zp, zy = h->filter_zp;
  const int64_t kaug = augmented_k(k, zy), kp = (int64_t)round_up(kaug, 4);
  const int64_t k1 = (int64_t)round_up((uint64_t)k, 4);
  const uint64_t pbytes = panel_bytes(kernel, kaug);
  kiln_qgemm_header *g = dst;
  *g = (kiln_qgemm_header){
      .k = kaug,
      .n = n,
      .nr = nr,
      .kp = (int32_t)kp,
      .offset = (uint32_t)panels_offset(),
      .panel_bytes = (uint32_t)pbytes,
      .out = h->out,
      .input_zp = zx,
      .kernel = kernel,
  };
  const int shift = h->shift, right = shift > 0 ? 0 : -shift;
  const int32_t rmask = (int32_t)((UINT64_C(1) << right) - 1);
  const int64_t bias_const = k * (int64_t)zy * (zx - 127);
  char *panel = (char *)dst + g->offset;
  for (int64_t n0 = 0; n0 < n; n0 += nr, panel += pbytes) {
    int nc = n - n0 < nr ? (int)(n - n0) : nr;
    int32_t *param = (int32_t *)(void *)panel;
    uint32_t *w =
        (uint32_t *)(void *)(panel + (size_t)KILN_QGEMM_PARAM_ARRAYS * 4 * nr);
    if (full) {
      memset(panel, 0, (size_t)pbytes);
      if (zy) {
        /* zy * s against the digits of U, zy against U mod s. */
        int64_t digits = digit_entries(k, zy);
        int8_t *wb = (int8_t *)w;
        for (int64_t t = k1; t <= k1 + digits; t++) {
          int8_t v =
              (int8_t)(t < k1 + digits ? zy * (1 << digit_shift(zy)) : zy);
          for (int j = 0; j < nc; j++) wb[(t / 4) * nr * 4 + j * 4 + t % 4] = v;
        }
      }
      for (int j = 0; j < nc; j++) {
        param[KILN_QGEMM_MULT * nr + j] = h->multiplier;
        param[KILN_QGEMM_SHIFT * nr + j] = shift;
        param[KILN_QGEMM_LEFT * nr + j] = shift > 0 ? shift : 0;
        param[KILN_QGEMM_RIGHT * nr + j] = right;
        param[KILN_QGEMM_RMASK * nr + j] = rmask;
        param[KILN_QGEMM_RHALF * nr + j] = rmask >> 1;
      }
    }
    int32_t sum[NR_MAX]; /* |sum| <= 128 K fits */
    pack_weights(y + n0 * (h->adj_y ? k : 1), h->adj_y, k, n, nc, nr, w, sum);
    for (int j = 0; j < nc; j++) {
      int64_t bias = -(int64_t)(zx + 128) * sum[j] + bias_const;
      param[KILN_QGEMM_BIAS * nr + j] = (int32_t)(uint32_t)(uint64_t)bias;
    }
  }
}

/* Rows of A from one batch of x: x[r][t] at x[r * k + t], or x[t * m + r]
 * for adj_x; when `digits`, the entries of U after the padded K. */
typedef struct qbmm_rows {
  const int8_t *x;
  kiln_qgemm_flip_fn flip;
  int64_t m, k;
  bool adj_x;
  int64_t digits; /* 0: zy is 0, no entries of U */
  int shift;      /* log2 of the digit scale */
} qbmm_rows;

/* The sum of n bytes, eight at a time: pairs of bytes into 16-bit lanes,
 * then the four lanes (each at most 510) added by one multiply. */
static int64_t byte_sum(const uint8_t *p, int64_t n) {
  const uint64_t low = UINT64_C(0x00FF00FF00FF00FF);
  int64_t total = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    v = (v & low) + ((v >> 8) & low);
    total += (int64_t)((v * UINT64_C(0x0001000100010001)) >> 48);
  }
  for (; i < n; i++) total += p[i];
  return total;
}

static void fill_rows(const void *source, int64_t r0, int64_t rows,
                      uint8_t *dst, int64_t stride) {
  const qbmm_rows *s = source;
  const int64_t k = s->k, m = s->m, k1 = (int64_t)round_up((uint64_t)k, 4);
  const int64_t kend = s->digits ? k1 + s->digits + 1 : k;
  const int64_t kp = (int64_t)round_up((uint64_t)kend, 4);
  if (s->adj_x) {
    /* t outer: x's rows are read along their length. */
    for (int64_t t = 0; t < k; t++) {
      const int8_t *xt = s->x + t * m + r0;
      for (int64_t i = 0; i < rows; i++)
        dst[i * stride + t] = (uint8_t)((uint8_t)xt[i] ^ 0x80);
    }
  } else {
    for (int64_t i = 0; i < rows; i++)
      s->flip(dst + i * stride, s->x + (r0 + i) * k, k);
  }
  for (int64_t i = 0; i < rows; i++) {
    uint8_t *row = dst + i * stride;
    /* Padded entries meet zero weights; zero is defined. */
    for (int64_t e = k; e < k1; e++) row[e] = 0;
    if (s->digits) {
      /* U = sum (127 - x) = 255 K - sum (x + 128); its digits are q / 255
       * entries of 255, then q % 255, then zeros. */
      int64_t u = 255 * k - byte_sum(row, k), q = u >> s->shift;
      int64_t full = q / 255;
      memset(row + k1, 255, (size_t)full);
      if (full < s->digits) {
        row[k1 + full] = (uint8_t)(q % 255);
        memset(row + k1 + full + 1, 0, (size_t)(s->digits - full - 1));
      }
      row[k1 + s->digits] = (uint8_t)(u & ((INT64_C(1) << s->shift) - 1));
    }
    for (int64_t e = s->digits ? kend : k1; e < kp; e++) row[e] = 0;
  }
}

/* ------------------------------------------------------------------ load */

static bool is_int8(const kiln_tensor *t) { return t && t->dtype == KILN_INT8; }

static kiln_status *bmm_pack(const kiln_qgemm_level *level,
                             const kiln_op_ctx *ctx, const kiln_allocator *a,
                             void **out_packed) {
  *out_packed = NULL;
  if (ctx->num_inputs != 2 || ctx->num_outputs < 1 || !ctx->outputs ||
      !ctx->attrs)
    return NULL;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  if (!is_int8(x) || !is_int8(y) || !is_int8(ctx->outputs[0]) || y->rank < 2)
    return NULL;
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  kiln_quant_params *q = NULL;
  kiln_status *st = kiln_quant_params_build(KILN_OP_BATCH_MATMUL, ctx, a, &q);
  if (st) {
    /* Out of memory is reported; a bad parameter is reported when the
     * runtime builds the node's own block, and here the node is only left
     * to the reference kernel. */
    if (kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY) return st;
    kiln_status_free(st);
    return NULL;
  }
  bool ok = q && !q->hybrid && !q->wide_acc && !q->single_rounding &&
            q->multiplier && q->shift && q->channels == 1 &&
            q->shift[0] >= -31 && q->shift[0] <= 30 &&
            q->multiplier[0] != INT32_MIN && q->filter_zp >= -128 &&
            q->filter_zp <= 127 && q->input_zp >= -128 && q->input_zp <= 127;
  qbmm_header h = {0};
  if (ok) {
    int64_t k, n;
    kiln_matmul_matrix_dims(y, attrs->adj_y, &k, &n);
    h = (qbmm_header){
        .magic = QBMM_MAGIC,
        .constant = y->data != NULL,
        .adj_y = attrs->adj_y,
        .kernel = kiln_qgemm_pick(level, n > 0 ? n : 1),
        .input_zp = q->input_zp,
        .filter_zp = q->filter_zp,
        .multiplier = q->multiplier[0],
        .shift = q->shift[0],
        .out = {q->output_zp, q->act_min, q->act_max, false, false},
        .k = k,
        .n = n,
        .offset = round_up(sizeof h, KILN_ALIGNMENT),
    };
  }
  kiln_free(a, q);
  if (!ok) return NULL;
  uint64_t bytes = h.offset;
  if (h.constant) {
    h.batch_bytes = block_bytes(h.kernel, h.k, h.n, h.filter_zp);
    if (!h.batch_bytes) return NULL;
    h.y_batches = kiln_tensor_numel(y) / (h.k * h.n);
    if ((uint64_t)h.y_batches > (SIZE_MAX / 4) / h.batch_bytes) return NULL;
    bytes += (uint64_t)h.y_batches * h.batch_bytes;
  }
  char *block = kiln_malloc(a, (size_t)bytes + KILN_ALIGNMENT);
  if (!block) return KILN_OOM();
  /* kiln_free takes the block as allocated, so the header stays at its
   * start and the panels move to the next 64-byte boundary. */
  h.offset += (uint64_t)((KILN_ALIGNMENT - (uintptr_t)block % KILN_ALIGNMENT) %
                         KILN_ALIGNMENT);
  for (int64_t b = 0; h.constant && b < h.y_batches; b++)
    pack_y(&h, (const int8_t *)y->data + b * h.k * h.n, h.k, h.n,
           block + h.offset + (uint64_t)b * h.batch_bytes, true);
  memcpy(block, &h, sizeof h);
  *out_packed = block;
  return NULL;
}

/* --------------------------------------------------------------- prepare */

typedef struct qbmm_dims {
  int64_t m, k, n, batches;
} qbmm_dims;

static bool node_dims(const kiln_op_ctx *ctx, qbmm_dims *d) {
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (x->rank < 2 || y->rank < 2 || out->rank < 2) return false;
  int64_t ky;
  kiln_matmul_matrix_dims(x, attrs->adj_x, &d->m, &d->k);
  kiln_matmul_matrix_dims(y, attrs->adj_y, &ky, &d->n);
  if (ky != d->k || d->m < 1 || d->k < 1 || d->n < 1 ||
      out->dims[out->rank - 2] != d->m || out->dims[out->rank - 1] != d->n)
    return false;
  d->batches = kiln_tensor_numel(out) / (d->m * d->n);
  return d->batches >= 1 && d->batches * d->m * d->n == kiln_tensor_numel(out);
}

static const qbmm_header *header_of(const kiln_op_ctx *ctx) {
  const qbmm_header *h = ctx->packed;
  return h && h->magic == QBMM_MAGIC ? h : NULL;
}

bool kiln_q8_bmm_applies(const kiln_op_ctx *ctx) {
  const qbmm_header *h = header_of(ctx);
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  qbmm_dims d;
  if (!h || ctx->num_inputs != 2 || !is_int8(ctx->inputs[0]) ||
      !is_int8(ctx->inputs[1]) || !is_int8(ctx->outputs[0]) ||
      !node_dims(ctx, &d))
    return false;
  if (h->constant)
    return attrs->adj_y == h->adj_y && d.k == h->k && d.n == h->n &&
           kiln_tensor_numel(ctx->inputs[1]) == h->y_batches * h->k * h->n;
  uint64_t bytes = block_bytes(h->kernel, d.k, d.n, h->filter_zp);
  return bytes && bytes <= QBMM_MAX_DYNAMIC_BYTES && attrs->adj_y == h->adj_y;
}

/* Thread 0's scratch: the GEMM's rows of A, then (y not constant) the
 * packed y. */
static size_t rows_bytes(const qbmm_header *h, int64_t k) {
  return (size_t)round_up(kiln_qgemm_workspace(augmented_k(k, h->filter_zp)),
                          KILN_ALIGNMENT);
}

size_t kiln_q8_bmm_workspace(const kiln_op_ctx *ctx) {
  const qbmm_header *h = header_of(ctx);
  qbmm_dims d;
  if (!h || !node_dims(ctx, &d)) return 0;
  size_t bytes = rows_bytes(h, d.k);
  if (!h->constant)
    bytes += (size_t)block_bytes(h->kernel, d.k, d.n, h->filter_zp);
  return bytes;
}

/* ---------------------------------------------------------------- invoke */

kiln_status *kiln_q8_bmm_run(const kiln_op_ctx *ctx) {
  const qbmm_header *h = header_of(ctx);
  char *scratch = kiln_threadpool_scratch(ctx->pool, 0);
  qbmm_dims d;
  /* The session reserves the scratch on its pool; without one (a caller
   * running the kernel bare) only the reference can run. */
  if (!h || !scratch || !node_dims(ctx, &d)) return kiln_ref_batch_matmul(ctx);
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  qbmm_rows rows = {
      .flip = h->kernel->flip,
      .m = d.m,
      .k = d.k,
      .adj_x = attrs->adj_x,
      .digits = h->filter_zp ? digit_entries(d.k, h->filter_zp) : 0,
      .shift = h->filter_zp ? digit_shift(h->filter_zp) : 0};
  char *dynamic = scratch + rows_bytes(h, d.k);
  int64_t last_y = -1;
  for (int64_t b = 0; b < d.batches; b++) {
    int64_t xo = kiln_q_batch_offset(x, out, b);
    int64_t yo = kiln_q_batch_offset(y, out, b);
    const void *packed;
    if (h->constant) {
      packed = (const char *)h + h->offset +
               (uint64_t)(yo / (d.k * d.n)) * h->batch_bytes;
    } else {
      /* A y batch broadcast over consecutive x batches is packed once. */
      if (yo != last_y)
        pack_y(h, (const int8_t *)y->data + yo, d.k, d.n, dynamic, last_y < 0);
      last_y = yo;
      packed = dynamic;
    }
    rows.x = (const int8_t *)x->data + xo;
    kiln_qgemm_compute(packed, d.m, fill_rows, &rows,
                       (int8_t *)out->data + b * d.m * d.n, ctx->pool);
  }
  return NULL;
}

#define DEFINE_PACK(isa)                                                    \
  kiln_status *kiln_q8_bmm_pack_##isa(                                      \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return bmm_pack(&kiln_qgemm_level_##isa, ctx, a, out_packed);           \
  }

DEFINE_PACK(portable)
#if defined(__x86_64__)
DEFINE_PACK(avx2)
DEFINE_PACK(avx512vnni)
#endif
