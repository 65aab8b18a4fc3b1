/* concat.c - int8 and uint8 CONCATENATION ("q8-concat-*"). Each part lands
 * in the output as blocks of prod(dims[axis:]) bytes, one per index over the
 * dimensions before the axis. A part with the output's scale and zero point
 * is copied; a uint8 part with other parameters is requantized through a
 * 256-entry table of the reference's own float formula for each byte value
 * (kernels/ref/concat.c, TFLite's ConcatenationWithScaling), read by the
 * instruction-set lookup ukernels, so the result equals the reference's.
 * (TFLite refuses int8 parts whose parameters differ from the output's, and
 * so does the reference, so int8 is always a copy.) The (part, block) pairs
 * are split over the pool's threads. Fused activations, other types and
 * per-channel parameters are left to the reference. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"

/* Both per-tensor with equal scale and zero point, or both unquantized. */
static bool same_params(const kiln_quant_info *a, const kiln_quant_info *b) {
  const bool qa = a && a->count > 0, qb = b && b->count > 0;
  if (!qa || !qb) return !qa && !qb;
  return a->count == 1 && b->count == 1 && a->scale[0] == b->scale[0] &&
         a->zero_point[0] == b->zero_point[0];
}

/* A uint8 part the reference requantizes: per-tensor parameters on both
 * sides, a zero point inside uint8 and a positive finite scale (what the
 * reference's shape function checks before it requantizes). */
static bool requantizable(const kiln_tensor *in, const kiln_tensor *out) {
  const kiln_quant_info *q = in->quant, *o = out->quant;
  if (out->dtype != KILN_UINT8 || !q || !o || q->count != 1 || o->count != 1)
    return false;
  const float s = q->scale[0], so = o->scale[0];
  return q->zero_point[0] >= 0 && q->zero_point[0] <= 255 && s > 0.0f &&
         s <= 3.4e38f && so > 0.0f && so <= 3.4e38f && o->zero_point[0] >= 0 &&
         o->zero_point[0] <= 255;
}

static int64_t numel_from(const kiln_tensor *t, int axis) {
  int64_t n = 1;
  for (int k = axis; k < t->rank; k++) n *= t->dims[k];
  return n;
}

bool kiln_q8_concat_applies(const kiln_op_ctx *ctx) {
  const kiln_concat_attrs *a = ctx->attrs;
  if (!a || a->activation != KILN_ACT_NONE || ctx->num_inputs < 1 ||
      ctx->num_outputs != 1)
    return false;
  const kiln_tensor *out = ctx->outputs[0];
  if (!out || (out->dtype != KILN_INT8 && out->dtype != KILN_UINT8))
    return false;
  const int rank = out->rank;
  if (rank < 1 || a->axis < -rank || a->axis >= rank) return false;
  const int axis = a->axis < 0 ? a->axis + rank : a->axis;
  int64_t along = 0;
  for (int i = 0; i < ctx->num_inputs; i++) {
    const kiln_tensor *in = ctx->inputs[i];
    if (!in || in->dtype != out->dtype || in->rank != rank) return false;
    for (int k = 0; k < rank; k++)
      if (k != axis && in->dims[k] != out->dims[k]) return false;
    along += in->dims[axis];
    if (!same_params(in->quant, out->quant) && !requantizable(in, out))
      return false;
  }
  return along == out->dims[axis];
}

/* The reference's requantization of every uint8 value, indexed as the
 * lookup ukernels index int8 bytes: entry v + 128 for the byte whose int8
 * reading is v, i.e. uint8 value (v + 128) ^ 128. */
static void requant_table(const kiln_tensor *in, const kiln_tensor *out,
                          int8_t table[256]) {
  const float inverse = 1.0f / out->quant->scale[0];
  const int32_t zo = (int32_t)out->quant->zero_point[0];
  const float scale = in->quant->scale[0] * inverse;
  const float bias = -(float)in->quant->zero_point[0] * scale;
  for (int index = 0; index < 256; index++) {
    const int u = index ^ 128;
    float v = (float)u * scale; /* two roundings, as the reference */
    v = v + bias;
    const int32_t q = (int32_t)roundf(v) + zo;
    table[index] = (int8_t)(uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
  }
}

typedef struct concat_job {
  const kiln_op_ctx *ctx;
  int axis;
  int64_t outer, out_block;
  kiln_q8_lookup_ukernel lookup;
} concat_job;

/* Items [begin, end) of part-major (part, block) pairs: item k is block
 * k % outer of part k / outer. */
static void concat_items(void *context, int64_t begin, int64_t end) {
  const concat_job *j = context;
  const kiln_tensor *out = j->ctx->outputs[0];
  int part = (int)(begin / j->outer);
  int64_t offset = 0; /* of the part inside an output block */
  for (int i = 0; i < part; i++)
    offset += numel_from(j->ctx->inputs[i], j->axis);
  int8_t table[256];
  bool copy = true;
  int64_t k = begin;
  while (k < end) {
    const kiln_tensor *in = j->ctx->inputs[part];
    const int64_t block = numel_from(in, j->axis);
    const int64_t stop =
        (part + 1) * j->outer < end ? (part + 1) * j->outer : end;
    copy = same_params(in->quant, out->quant);
    if (!copy) requant_table(in, out, table);
    for (; k < stop; k++) {
      const int64_t o = k - (int64_t)part * j->outer;
      const int8_t *x = (const int8_t *)in->data + o * block;
      int8_t *y = (int8_t *)out->data + o * j->out_block + offset;
      if (copy)
        memcpy(y, x, (size_t)block);
      else
        j->lookup(table, x, y, (size_t)block);
    }
    offset += block;
    part++;
  }
}

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_lookup_ukernel lookup) {
  const kiln_concat_attrs *a = ctx->attrs;
  const kiln_tensor *out = ctx->outputs[0];
  concat_job j = {.ctx = ctx, .lookup = lookup};
  j.axis = a->axis < 0 ? a->axis + out->rank : a->axis;
  j.outer = 1;
  for (int k = 0; k < j.axis; k++) j.outer *= out->dims[k];
  j.out_block = numel_from(out, j.axis);
  const int64_t items = j.outer * ctx->num_inputs;
  if (items <= 0 || j.out_block <= 0) return NULL;
  /* About 64 KiB of output per task. */
  const int64_t mean_block = j.out_block / ctx->num_inputs + 1;
  const int64_t grain = mean_block >= 65536 ? 1 : 65536 / mean_block + 1;
  kiln_parallel_for(ctx->pool, items, grain, concat_items, &j);
  return NULL;
}

kiln_status *kiln_q8_concat_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_concat_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_avx512);
}

kiln_status *kiln_q8_concat_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_avx2);
}
#endif
