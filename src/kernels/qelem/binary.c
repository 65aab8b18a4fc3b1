/* binary.c - int8 ADD, SUB and MUL ("q8-add-*", "q8-sub-*", "q8-mul-*"):
 * the packer derives
 * the node's multipliers and shifts at load exactly as
 * kernels/ref/quant_binary.c does at every invoke; the run walks the
 * supported broadcasting forms (same shape, or one operand repeating over
 * the other's trailing dimensions: a scalar, a per-channel vector) in long
 * contiguous spans handed to an instruction-set ukernel, split over the
 * pool's threads. Other forms are left to the reference kernel. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/ops.h"
#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_params.h"
#include "kernels/ref/quant_util.h"

static kiln_status *pack(const kiln_op_ctx *ctx, const kiln_allocator *alloc,
                         kiln_op_type op, void **out) {
  const bool mul = op == KILN_OP_MUL;
  *out = NULL;
  if (ctx->num_inputs != 2 || ctx->num_outputs != 1 || !ctx->inputs[0] ||
      !ctx->inputs[1] || !ctx->outputs[0])
    return NULL;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *o = ctx->outputs[0];
  if (x->dtype != KILN_INT8 || y->dtype != KILN_INT8 || o->dtype != KILN_INT8)
    return NULL;
  /* Whatever the reference refuses is left to it, and its message. */
  kiln_qparams qa, qb, qo;
  kiln_status *st = kiln_q_params(x, "input 0 (x)", false, &qa);
  if (!st) st = kiln_q_params(y, "input 1 (y)", false, &qb);
  if (!st) st = kiln_q_params(o, "output 0", false, &qo);
  if (st) {
    kiln_status_free(st);
    return NULL;
  }
  kiln_q8_binary_params p;
  memset(&p, 0, sizeof p);
  p.mul = mul;
  p.act_min = qo.qmin;
  p.act_max = qo.qmax;
  const kiln_activation_attrs *attrs = ctx->attrs;
  st = kiln_quant_activation_range(attrs ? attrs->activation : KILN_ACT_NONE,
                                   o->dtype, qo.scale, qo.zero_point,
                                   &p.act_min, &p.act_max);
  if (st) {
    kiln_status_free(st);
    return NULL;
  }
  p.zp_a = qa.zero_point;
  p.zp_b = qb.zero_point;
  p.zp_out = qo.zero_point;
  if (mul) {
    /* s1 * s2 / so formed in float first, as the reference (and TFLite). */
    const float real = qa.scale * qb.scale / qo.scale;
    kiln_quantize_multiplier((double)real, &p.m_out, &p.s_out);
  } else {
    const double twice_max =
        2.0 * (double)(qa.scale > qb.scale ? qa.scale : qb.scale);
    kiln_quantize_multiplier_smaller_than_one((double)qa.scale / twice_max,
                                              &p.m_a, &p.s_a);
    kiln_quantize_multiplier_smaller_than_one((double)qb.scale / twice_max,
                                              &p.m_b, &p.s_b);
    kiln_quantize_multiplier_smaller_than_one(
        twice_max / ((double)(1 << 20) * (double)qo.scale), &p.m_out, &p.s_out);
    /* SUB is ADD with input 1 rescaled by the negated multiplier, as in
     * the reference (and TFLite): the rounding of its negative products
     * is the reference's, not that of a negated sum. */
    if (op == KILN_OP_SUB) p.m_b = -p.m_b;
  }
  p.fp32 = ctx->quant && ctx->quant->fp32_rounding;
  p.f_out = qa.scale * qb.scale / qo.scale;
  p.f_a = qa.scale / qo.scale;
  p.f_b = (op == KILN_OP_SUB ? -qb.scale : qb.scale) / qo.scale;
  /* Right shifts of 32 or more round specially in the reference; the
   * vector code covers [0, 31] (such scales do not occur in practice). */
  if (p.s_a < -31 || p.s_b < -31 || p.s_out < -31 || p.s_out > 30) return NULL;
  kiln_q8_binary_params *block = kiln_malloc(alloc, sizeof *block);
  if (!block) return KILN_OOM();
  *block = p;
  *out = block;
  return NULL;
}

kiln_status *kiln_q8_add_pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out) {
  return pack(ctx, a, KILN_OP_ADD, out);
}

kiln_status *kiln_q8_sub_pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out) {
  return pack(ctx, a, KILN_OP_SUB, out);
}

kiln_status *kiln_q8_mul_pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out) {
  return pack(ctx, a, KILN_OP_MUL, out);
}

/* Whether `part` broadcasts over `whole` as [outer..., 1..., inner...]
 * against [outer..., mid..., inner...]: aligned on the right (part's
 * missing leading dimensions are 1), every dimension equal to whole's or
 * 1, and the ones that broadcast forming one run. *outer and *period are
 * the element counts of the leading and trailing parts (a scalar: 1 and
 * 1; a per-channel vector: 1 and C; one vector per image [N,1,1,C]: N
 * and C; the same shape: 1 and all). */
static bool broadcasts_over(const kiln_tensor *part, const kiln_tensor *whole,
                            int64_t *outer, int64_t *period) {
  const int rank = whole->rank, skip = whole->rank - part->rank;
  if (skip < 0) return false;
  int first = -1, last = -1;
  for (int d = 0; d < rank; d++) {
    const int64_t p = d < skip ? 1 : part->dims[d - skip];
    if (p == whole->dims[d]) continue;
    if (p != 1) return false;
    if (first < 0) first = d;
    last = d;
  }
  int64_t before = 1, after = 1;
  for (int d = 0; d < rank; d++) {
    const int64_t p = d < skip ? 1 : part->dims[d - skip];
    if (first >= 0 && d >= first && d <= last) {
      if (p != 1) return false; /* a dimension kept inside the run */
    } else if (first >= 0 && d < first) {
      before *= whole->dims[d];
    } else {
      after *= whole->dims[d];
    }
  }
  *outer = before;
  *period = after;
  return true;
}

/* The form a node runs in: `full` has the output's elements; `other`
 * holds `outer` blocks of `period` elements, block o repeating over the
 * o-th n / outer elements of full; swapped when input 1 is the full one. */
typedef struct binary_form {
  bool swapped;
  int64_t n, outer, period;
} binary_form;

static bool classify(const kiln_op_ctx *ctx, binary_form *f) {
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  const kiln_tensor *o = ctx->outputs[0];
  f->n = kiln_tensor_numel(o);
  if (f->n <= 0 || !x || !y) return false;
  if (kiln_tensor_numel(x) == f->n &&
      broadcasts_over(y, o, &f->outer, &f->period)) {
    f->swapped = false;
    return f->period > 0 && f->outer > 0;
  }
  if (kiln_tensor_numel(y) == f->n &&
      broadcasts_over(x, o, &f->outer, &f->period)) {
    f->swapped = true;
    return f->period > 0 && f->outer > 0;
  }
  return false;
}

bool kiln_q8_binary_applies(const kiln_op_ctx *ctx) {
  binary_form f;
  return ctx->packed && ctx->inputs[0]->dtype == KILN_INT8 &&
         ctx->inputs[1]->dtype == KILN_INT8 &&
         ctx->outputs[0]->dtype == KILN_INT8 && classify(ctx, &f);
}

typedef struct binary_job {
  kiln_q8_binary_params p;
  const int8_t *a, *b;
  int8_t *out;
  int64_t period, block; /* block: full's elements per block of b */
  kiln_q8_binary_ukernel uk;
} binary_job;

static void binary_range(void *context, int64_t begin, int64_t end) {
  const binary_job *j = context;
  for (int64_t pos = begin; pos < end;) {
    const int64_t o = pos / j->block;
    int64_t len;
    if (j->period == 1) {
      /* One value of b over the rest of its block. */
      len = j->block - pos % j->block;
      if (len > end - pos) len = end - pos;
      j->uk(&j->p, j->a + pos, j->b + o, j->out + pos, (size_t)len, 0);
    } else {
      const int64_t offset = pos % j->period;
      len = j->period - offset;
      if (len > end - pos) len = end - pos;
      j->uk(&j->p, j->a + pos, j->b + o * j->period + offset, j->out + pos,
            (size_t)len, 1);
    }
    pos += len;
  }
}

/* Elements per task: enough to pay for handing one to a thread. */
enum { BINARY_GRAIN = 16384 };

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_binary_ukernel uk) {
  binary_form f;
  if (!classify(ctx, &f))
    return kiln_error(KILN_ERR_INTERNAL,
                      "q8 binary variant run on a broadcast it declined");
  binary_job j;
  j.p = *(const kiln_q8_binary_params *)ctx->packed;
  j.a = ctx->inputs[0]->data;
  j.b = ctx->inputs[1]->data;
  if (f.swapped) {
    /* Both ops are symmetric in their operands: only the roles move. */
    const int8_t *t = j.a;
    j.a = j.b;
    j.b = t;
    int32_t zp = j.p.zp_a, m = j.p.m_a;
    int s = j.p.s_a;
    j.p.zp_a = j.p.zp_b;
    j.p.m_a = j.p.m_b;
    j.p.s_a = j.p.s_b;
    j.p.zp_b = zp;
    j.p.m_b = m;
    j.p.s_b = s;
    const float f_a = j.p.f_a;
    j.p.f_a = j.p.f_b;
    j.p.f_b = f_a;
  }
  j.out = ctx->outputs[0]->data;
  j.period = f.period;
  j.block = f.n / f.outer;
  j.uk = uk;
  kiln_parallel_for(ctx->pool, f.n, BINARY_GRAIN, binary_range, &j);
  return NULL;
}

kiln_status *kiln_q8_binary_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_binary_ukernel_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_binary_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_binary_ukernel_avx512);
}

kiln_status *kiln_q8_binary_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_binary_ukernel_avx2);
}
#endif

/* The float form (KILN_INT8_ROUNDING_FP32) of one element: the vector
 * ukernels compute these same IEEE steps (the ADD's sum as one fused
 * multiply-add, so no compiler's contraction choice changes it). */
static int8_t binary_fp32(const kiln_q8_binary_params *p, int32_t va,
                          int32_t vb) {
  float x = p->mul ? (float)(va * vb) * p->f_out
                   : fmaf(p->f_a, (float)va, p->f_b * (float)vb);
  const float lo = (float)(p->act_min - p->zp_out);
  const float hi = (float)(p->act_max - p->zp_out);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  return (int8_t)((int32_t)lrintf(x) + p->zp_out);
}

void kiln_q8_binary_ukernel_portable(const kiln_q8_binary_params *p,
                                     const int8_t *a, const int8_t *b,
                                     int8_t *out, size_t n, int b_step) {
  if (p->fp32) {
    for (size_t i = 0; i < n; i++)
      out[i] = binary_fp32(p, a[i] - p->zp_a, b[i * (size_t)b_step] - p->zp_b);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const int32_t va = a[i] - p->zp_a, vb = b[i * (size_t)b_step] - p->zp_b;
    int32_t r;
    if (p->mul) {
      r = kiln_mul_by_quantized_multiplier(va * vb, p->m_out, p->s_out);
    } else {
      const int32_t sum = kiln_mul_by_quantized_multiplier_smaller_than_one(
                              kiln_shift_left_wrap(va, 20), p->m_a, p->s_a) +
                          kiln_mul_by_quantized_multiplier_smaller_than_one(
                              kiln_shift_left_wrap(vb, 20), p->m_b, p->s_b);
      r = kiln_mul_by_quantized_multiplier_smaller_than_one(sum, p->m_out,
                                                            p->s_out);
    }
    out[i] = (int8_t)kiln_q_clamp(r + p->zp_out, p->act_min, p->act_max);
  }
}
