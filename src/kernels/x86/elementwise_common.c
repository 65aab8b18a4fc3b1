/* elementwise_common.c - checks and parallel walkers for elementwise ops. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/x86/x86_kernels.h"

/* What the elementwise, MEAN and pooling variants of every instruction set
 * share: which nodes they take, broadcast plans and the parallel walkers
 * that feed each set's microkernels. */

static bool is_f32(const kiln_tensor *t) {
  return t && t->dtype == KILN_FLOAT32;
}

/* ------------------------------------------------------------ binary */

/* The output seen as [outer, inner, cn]: `full` has that layout and
 * `bcast` is [outer, cn] (repeated along inner). */
typedef struct binary_plan {
  const float *full, *bcast;
  float *out;
  int64_t n, inner, cn;
  bool swapped; /* bcast is input 0 */
} binary_plan;

/* Whether t, right-aligned to the output shape, is the output's dims on a
 * prefix, 1 on a middle run and the output's dims again on a suffix; sets
 * the sizes of the three runs. */
static bool middle_broadcast(const kiln_tensor *t, const kiln_tensor *out,
                             int64_t *outer, int64_t *inner, int64_t *cn) {
  int r = out->rank, lead = r - t->rank;
  if (lead < 0) return false;
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < r; d++) dims[d] = d < lead ? 1 : t->dims[d - lead];
  int p = 0, q = r;
  while (p < r && dims[p] == out->dims[p]) p++;
  while (q > p && dims[q - 1] == out->dims[q - 1]) q--;
  *outer = *inner = *cn = 1;
  for (int d = 0; d < r; d++) {
    if (d >= p && d < q) {
      if (dims[d] != 1) return false;
      *inner *= out->dims[d];
    } else {
      *(d < p ? outer : cn) *= out->dims[d];
    }
  }
  return true;
}

static bool plan_binary(const kiln_op_ctx *ctx, binary_plan *p) {
  if (ctx->num_inputs != 2 || ctx->num_outputs != 1) return false;
  const kiln_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (!is_f32(a) || !is_f32(b) || !is_f32(out)) return false;
  int64_t n = kiln_tensor_numel(out), na = kiln_tensor_numel(a);
  int64_t nb = kiln_tensor_numel(b), outer = 1;
  if (n <= 0) return false;
  memset(p, 0, sizeof *p);
  p->n = n;
  p->out = out->data;
  if (na == n && nb == n) {
    /* Equal counts in a valid broadcast only add leading 1s. */
    p->full = a->data, p->bcast = b->data;
    p->inner = 1, p->cn = n;
    return true;
  }
  const kiln_tensor *full = a, *bc = b;
  if (nb == n && na != n) full = b, bc = a, p->swapped = true;
  if (kiln_tensor_numel(full) != n) return false;
  if (!middle_broadcast(bc, out, &outer, &p->inner, &p->cn)) return false;
  p->full = full->data;
  p->bcast = bc->data;
  return outer * p->inner * p->cn == n;
}

bool kiln_f32_vbinary_applies(const kiln_op_ctx *ctx) {
  const kiln_activation_attrs *attrs = ctx->attrs;
  binary_plan p;
  return kiln_f32_activation_rows_supports(attrs ? attrs->activation
                                                 : KILN_ACT_NONE) &&
         plan_binary(ctx, &p);
}

typedef struct binary_job {
  binary_plan p;
  kiln_f32_vbinary_ukernel vector, scalar;
  float lo, hi;             /* a clamp activation, applied as stored */
  kiln_activation epilogue; /* any other, NONE for a clamp */
  kiln_isa isa;
} binary_job;

/* Output floats per ukernel call when an epilogue follows: 8 KiB, still in
 * L1 when the activation reads it back. */
enum { EPILOGUE_PIECE = 2048 };

/* y = a op b over n elements (b[0] for all of them when `scalar`), then
 * the epilogue activation piece by piece. */
static void binary_run(const binary_job *j, kiln_f32_vbinary_ukernel uk,
                       bool scalar, int64_t n, const float *a, const float *b,
                       float *y) {
  if (j->epilogue == KILN_ACT_NONE) {
    uk((size_t)n, a, b, y, j->lo, j->hi);
    return;
  }
  for (int64_t i = 0; i < n; i += EPILOGUE_PIECE) {
    size_t len = (size_t)(n - i < EPILOGUE_PIECE ? n - i : EPILOGUE_PIECE);
    uk(len, a + i, scalar ? b : b + i, y + i, j->lo, j->hi);
    kiln_f32_activation_rows(j->epilogue, j->isa, y + i, 1, len, len);
  }
}

/* Elements [begin, end) cut where the broadcast operand restarts: runs of
 * one broadcast value when cn == 1, runs within one row of cn otherwise. */
static void binary_range(void *context, int64_t begin, int64_t end) {
  const binary_job *j = context;
  const binary_plan *p = &j->p;
  const float *a = p->full, *b = p->bcast;
  float *y = p->out;
  if (p->inner == 1) { /* b has the output's layout */
    binary_run(j, j->vector, false, end - begin, a + begin, b + begin,
               y + begin);
    return;
  }
  for (int64_t i = begin; i < end;) {
    int64_t len;
    if (p->cn == 1) {
      int64_t o = i / p->inner;
      len = (o + 1) * p->inner - i;
      if (len > end - i) len = end - i;
      binary_run(j, j->scalar, true, len, a + i, b + o, y + i);
    } else {
      int64_t row = i / p->cn, c = i % p->cn, o = row / p->inner;
      len = p->cn - c;
      if (len > end - i) len = end - i;
      binary_run(j, j->vector, false, len, a + i, b + o * p->cn + c, y + i);
    }
    i += len;
  }
}

kiln_status *kiln_f32_vbinary_run(const kiln_op_ctx *ctx, kiln_binop op,
                                  const kiln_f32_vbinary_ukernels *uk) {
  const kiln_activation_attrs *attrs = ctx->attrs;
  binary_job j = {0}; /* zeroed: gcc -O3 cannot see plan_binary set it */
  plan_binary(ctx, &j.p); /* applies() said it succeeds */
  if (j.p.swapped && op == KILN_BINOP_SUB) op = KILN_BINOP_RSUB;
  j.vector = uk->vector[op];
  j.scalar = uk->scalar[op];
  kiln_activation act = attrs ? attrs->activation : KILN_ACT_NONE;
  kiln_activation_bounds(act, &j.lo, &j.hi);
  j.epilogue = kiln_activation_is_clamp(act) ? KILN_ACT_NONE : act;
  j.isa = uk->isa;
  kiln_parallel_for(ctx->pool, j.p.n, KILN_EW_GRAIN_CHEAP, binary_range, &j);
  return NULL;
}

/* ------------------------------------------------------------- unary */

bool kiln_f32_vunary_applies(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs != 1 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  return is_f32(x) && is_f32(y) && kiln_tensor_numel(x) > 0 &&
         kiln_tensor_numel(x) == kiln_tensor_numel(y);
}

typedef struct unary_job {
  const float *x;
  float *y;
  kiln_f32_vunary_ukernel fn;
  kiln_f32_vclamp_ukernel clamp;
  float lo, hi;
  int64_t grain;
} unary_job;

static void unary_range(void *context, int64_t begin, int64_t end) {
  const unary_job *j = context;
  if (j->fn)
    j->fn((size_t)(end - begin), j->x + begin, j->y + begin);
  else
    j->clamp((size_t)(end - begin), j->x + begin, j->y + begin, j->lo, j->hi);
}

static kiln_status *unary_run(const kiln_op_ctx *ctx, unary_job *j) {
  j->x = ctx->inputs[0]->data;
  j->y = ctx->outputs[0]->data;
  kiln_parallel_for(ctx->pool, kiln_tensor_numel(ctx->inputs[0]), j->grain,
                    unary_range, j);
  return NULL;
}

kiln_status *kiln_f32_vunary_run(const kiln_op_ctx *ctx,
                                 kiln_f32_vunary_ukernel uk, int64_t grain) {
  unary_job j = {NULL, NULL, uk, NULL, 0.0f, 0.0f, grain};
  return unary_run(ctx, &j);
}

kiln_status *kiln_f32_vclamp_run(const kiln_op_ctx *ctx,
                                 kiln_f32_vclamp_ukernel uk, float lo,
                                 float hi) {
  unary_job j = {NULL, NULL, NULL, uk, lo, hi, KILN_EW_GRAIN_CHEAP};
  return unary_run(ctx, &j);
}

/* -------------------------------------------------------------- MEAN */

bool kiln_f32_mean_hw_applies(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs != 2 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *axes = ctx->inputs[1];
  const kiln_tensor *y = ctx->outputs[0];
  if (!is_f32(x) || x->rank != 4 || !is_f32(y) || !axes || !axes->data ||
      (axes->dtype != KILN_INT32 && axes->dtype != KILN_INT64) ||
      axes->rank > 1)
    return false;
  bool seen[4] = {false, false, false, false};
  int64_t count = kiln_tensor_numel(axes);
  for (int64_t i = 0; i < count; i++) {
    int64_t axis = kiln_tensor_int(axes, i);
    if (axis < 0) axis += 4;
    if (axis < 0 || axis > 3) return false;
    seen[axis] = true;
  }
  for (int d = 0; d < 4; d++)
    if (x->dims[d] <= 0) return false;
  return !seen[0] && seen[1] && seen[2] && !seen[3] &&
         kiln_tensor_numel(y) == x->dims[0] * x->dims[3];
}

/* ----------------------------------------------------------- pooling */

bool kiln_f32_pool_applies(const kiln_op_ctx *ctx) {
  const kiln_pool_attrs *a = ctx->attrs;
  if (!a || ctx->num_inputs != 1 || ctx->num_outputs != 1) return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (!is_f32(x) || x->rank != 4 || !is_f32(y) || y->rank != 4) return false;
  if (a->padding != KILN_PAD_SAME && a->padding != KILN_PAD_VALID) return false;
  if (a->stride_h < 1 || a->stride_w < 1 || a->filter_h < 1 ||
      a->filter_w < 1 || !kiln_activation_is_clamp(a->activation))
    return false;
  for (int d = 0; d < 4; d++)
    if (x->dims[d] <= 0 || y->dims[d] <= 0) return false;
  return y->dims[0] == x->dims[0] && y->dims[3] == x->dims[3];
}

void kiln_pool_geometry(const kiln_op_ctx *ctx, kiln_pool_geom *g) {
  const kiln_pool_attrs *a = ctx->attrs;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  g->batch = x->dims[0];
  g->in_h = x->dims[1];
  g->in_w = x->dims[2];
  g->channels = x->dims[3];
  g->out_h = y->dims[1];
  g->out_w = y->dims[2];
  g->stride_h = a->stride_h;
  g->stride_w = a->stride_w;
  g->filter_h = a->filter_h;
  g->filter_w = a->filter_w;
  g->pad_top = kiln_window_pad_before(g->in_h, g->out_h, a->filter_h,
                                      a->stride_h, 1, a->padding);
  g->pad_left = kiln_window_pad_before(g->in_w, g->out_w, a->filter_w,
                                       a->stride_w, 1, a->padding);
  kiln_activation_bounds(a->activation, &g->act_lo, &g->act_hi);
}

int64_t kiln_pool_row_grain(const kiln_pool_geom *g) {
  int64_t row_bytes = g->out_w * g->channels * (int64_t)sizeof(float);
  if (row_bytes <= 0) return 1;
  return (KILN_POOL_GRAIN_BYTES + row_bytes - 1) / row_bytes;
}
