/* batch_matmul_gemm.c - BATCH_MATMUL (no adjoints) as one GEMM per batch.
 * y may be an activation, so nothing is packed at load; instead each
 * panel of y is copied, a block of K at a time, into a buffer on the stack
 * (reading y in place with its row stride, often a power of two, thrashes
 * the caches) and the gemminc microkernels carry the sums across blocks. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/gemm/gemm.h"

/* Rows of y per copied block: a 32-wide panel block is 16 KiB, small
 * enough for any thread's stack and for L1. */
#define KC 128
#define MAX_NR 32

/* The batch dimensions of the output and the element strides of x and y
 * along them (0 where an operand is broadcast). */
typedef struct bmm_job {
  const kiln_gemm_kernel *kernel;
  int64_t m, k, n;
  const float *x, *y;
  float *c;
  int batch_rank;
  int64_t batch_dims[KILN_MAX_RANK];
  int64_t x_strides[KILN_MAX_RANK], y_strides[KILN_MAX_RANK];
  int64_t tiles, panels;
  bool split_panels; /* a unit of work is a panel of a batch, else a tile */
} bmm_job;

/* Strides of t's batch dimensions read as broadcast to the output's. */
static void batch_strides(const kiln_tensor *t, const kiln_tensor *out,
                          int64_t *strides) {
  int64_t dims[KILN_MAX_RANK];
  for (int i = 0; i < out->rank - 2; i++) dims[i] = out->dims[i];
  dims[out->rank - 2] = t->dims[t->rank - 2];
  dims[out->rank - 1] = t->dims[t->rank - 1];
  kiln_broadcast_strides(t, dims, out->rank, strides);
}

static int64_t batch_offset(const bmm_job *j, int64_t index,
                            const int64_t *strides) {
  int64_t offset = 0;
  for (int i = j->batch_rank - 1; i >= 0; i--) {
    offset += index % j->batch_dims[i] * strides[i];
    index /= j->batch_dims[i];
  }
  return offset;
}

/* Copies kc rows of nc floats, src_stride apart, into rows of nr (zero
 * padded). Constant sizes let the compiler inline whole-row copies. */
static void copy_block(float *dst, const float *src, int64_t src_stride,
                       int64_t kc, int64_t nr, int64_t nc) {
  if (nc == nr && nr == 32)
    for (int64_t i = 0; i < kc; i++, dst += 32, src += src_stride)
      memcpy(dst, src, 32 * sizeof *dst);
  else if (nc == nr && nr == 16)
    for (int64_t i = 0; i < kc; i++, dst += 16, src += src_stride)
      memcpy(dst, src, 16 * sizeof *dst);
  else
    for (int64_t i = 0; i < kc; i++, dst += nr, src += src_stride)
      for (int64_t c = 0; c < nr; c++) dst[c] = c < nc ? src[c] : 0.0f;
}

/* Panels [p0, p1) times tiles [t0, t1) of batch b. */
static void run_batch(const bmm_job *j, int64_t b, int64_t p0, int64_t p1,
                      int64_t t0, int64_t t1) {
  static const kiln_gemm_minmax none = {-INFINITY, INFINITY};
  _Alignas(64) float buf[MAX_NR * (KC + 1)];
  const int64_t mr_max = j->kernel->mr, nr = j->kernel->nr;
  const float *x = j->x + batch_offset(j, b, j->x_strides);
  const float *y = j->y + batch_offset(j, b, j->y_strides);
  float *c = j->c + b * j->m * j->n;
  for (int64_t p = p0; p < p1; p++) {
    int64_t n0 = p * nr, nc = j->n - n0 < nr ? j->n - n0 : nr;
    for (int64_t k0 = 0; k0 < j->k; k0 += KC) {
      int64_t kc = j->k - k0 < KC ? j->k - k0 : KC;
      /* The first block gets a row of zero biases, for the plain kernel;
       * later ones add to what is in C. Columns past n are zero. */
      float *w = buf;
      if (k0 == 0) {
        memset(w, 0, (size_t)nr * sizeof *w);
        w += nr;
      }
      copy_block(w, y + k0 * j->n + n0, j->n, kc, nr, nc);
      kiln_gemm_ukernel_fn fn = k0 == 0 ? j->kernel->fn : j->kernel->inc;
      for (int64_t t = t0; t < t1; t++) {
        int64_t r0 = t * mr_max;
        int64_t mr = j->m - r0 < mr_max ? j->m - r0 : mr_max;
        fn((size_t)mr, (size_t)nc, (size_t)kc, x + r0 * j->k + k0, (size_t)j->k,
           buf, c + r0 * j->n + n0, (size_t)j->n, &none);
      }
    }
  }
}

/* Items are (batch, unit) pairs; a run of them within one batch shares
 * each copied panel. */
static void run_range(void *context, int64_t begin, int64_t end) {
  const bmm_job *j = context;
  int64_t units = j->split_panels ? j->panels : j->tiles;
  while (begin < end) {
    int64_t b = begin / units, u0 = begin % units;
    int64_t u1 = end - begin < units - u0 ? u0 + (end - begin) : units;
    if (j->split_panels)
      run_batch(j, b, u0, u1, 0, j->tiles);
    else
      run_batch(j, b, 0, j->panels, u0, u1);
    begin += u1 - u0;
  }
}

static bool bmm_applies(const kiln_op_ctx *ctx) {
  const kiln_batch_matmul_attrs *attrs = ctx->attrs;
  /* Adjoints would need another copy (x) or a transposing one (y). */
  if (attrs->adj_x || attrs->adj_y || ctx->num_inputs != 2) return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (x->dtype != KILN_FLOAT32 || y->dtype != KILN_FLOAT32 ||
      out->dtype != KILN_FLOAT32 || x->rank < 2 || y->rank < 2 ||
      out->rank < x->rank || out->rank < y->rank)
    return false;
  int64_t m = x->dims[x->rank - 2], k = x->dims[x->rank - 1];
  int64_t n = y->dims[y->rank - 1];
  return y->dims[y->rank - 2] == k && out->dims[out->rank - 2] == m &&
         out->dims[out->rank - 1] == n && m > 0 && n > 0 && k > 0;
}

static kiln_status *bmm_run(const kiln_gemm_kernel *kernel,
                            const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  bmm_job j = {
      .kernel = kernel,
      .m = x->dims[x->rank - 2],
      .k = x->dims[x->rank - 1],
      .n = y->dims[y->rank - 1],
      .x = x->data,
      .y = y->data,
      .c = out->data,
      .batch_rank = out->rank - 2,
  };
  for (int i = 0; i < j.batch_rank; i++) j.batch_dims[i] = out->dims[i];
  batch_strides(x, out, j.x_strides);
  batch_strides(y, out, j.y_strides);
  j.tiles = (j.m + kernel->mr - 1) / kernel->mr;
  j.panels = (j.n + kernel->nr - 1) / kernel->nr;
  int64_t batches = kiln_tensor_numel(out) / (j.m * j.n);
  int64_t threads = kiln_threadpool_size(ctx->pool);
  j.split_panels = kiln_gemm_balance(batches * j.panels, threads) >=
                   kiln_gemm_balance(batches * j.tiles, threads);
  int64_t units = j.split_panels ? j.panels : j.tiles;
  int64_t unit_macs = j.m * j.n * j.k / units + 1;
  int64_t grain = (KILN_GEMM_MIN_CHUNK_MACS + unit_macs - 1) / unit_macs;
  kiln_parallel_for(ctx->pool, batches * units, grain, run_range, &j);
  return NULL;
}

_Static_assert(MAX_NR >= 32, "buf must hold the widest panel");

#define DEFINE_VARIANTS(isa, kernel)                             \
  bool kiln_bmm_gemm_applies_##isa(const kiln_op_ctx *ctx) {     \
    return bmm_applies(ctx);                                     \
  }                                                              \
  kiln_status *kiln_bmm_gemm_run_##isa(const kiln_op_ctx *ctx) { \
    return bmm_run(&kernel, ctx);                                \
  }

DEFINE_VARIANTS(portable, kiln_gemm_4x8_portable)
#if defined(__x86_64__)
DEFINE_VARIANTS(avx2, kiln_gemm_6x16_avx2)
DEFINE_VARIANTS(avx512, kiln_gemm_12x32_avx512)
#endif
