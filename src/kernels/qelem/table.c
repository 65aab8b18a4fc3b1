/* table.c - int8 elementwise operators whose output byte depends only on
 * the input byte ("q8-hardswish-lut", "q8-lut-avx512" for LOGISTIC, TANH
 * and HARD_SWISH): at load the packer runs the
 * reference kernel itself once over all 256 input values, with the node's
 * quantization, and keeps the results; invoke is one lookup per element.
 * The table is therefore equal to the reference by construction. Float,
 * uint8 and int16 nodes, and nodes the reference refuses, are declined. */
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_ops.h"

typedef struct q8_table {
  int8_t out[256]; /* indexed by the input value + 128 */
} q8_table;

/* Fills t by running `ref` on every int8 value under ctx's quantization
 * and attributes; declines (false) when the node is not int8 to int8 with
 * per-tensor quantization or the reference rejects it. */
static bool table_from_reference(const kiln_op_ctx *ctx, kiln_shape_fn shape,
                                 kiln_kernel_fn ref, q8_table *t) {
  if (ctx->num_inputs != 1 || ctx->num_outputs != 1 || !ctx->inputs[0] ||
      !ctx->outputs[0])
    return false;
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->outputs[0];
  if (x->dtype != KILN_INT8 || y->dtype != KILN_INT8 || !x->quant ||
      !y->quant || x->quant->count != 1 || y->quant->count != 1)
    return false;
  int8_t values[256];
  for (int i = 0; i < 256; i++) values[i] = (int8_t)(i - 128);
  kiln_tensor in = {.dtype = KILN_INT8, .rank = 1, .quant = x->quant};
  kiln_tensor res = {.dtype = KILN_INT8, .rank = 1, .quant = y->quant};
  in.dims[0] = res.dims[0] = 256;
  in.data = values;
  res.data = t->out;
  kiln_tensor *ins[1] = {&in}, *outs[1] = {&res};
  kiln_op_ctx c = {.attrs = ctx->attrs,
                   .inputs = ins,
                   .num_inputs = 1,
                   .outputs = outs,
                   .num_outputs = 1};
  kiln_status *st = shape(&c);
  if (!st) st = ref(&c);
  if (st) {
    kiln_status_free(st);
    return false;
  }
  return res.dims[0] == 256 && res.rank == 1;
}

static kiln_status *pack(const kiln_op_ctx *ctx, const kiln_allocator *a,
                         kiln_shape_fn shape, kiln_kernel_fn ref, void **out) {
  *out = NULL;
  q8_table t;
  if (!table_from_reference(ctx, shape, ref, &t)) return NULL;
  q8_table *block = kiln_malloc(a, sizeof *block);
  if (!block) return KILN_OOM();
  memcpy(block, &t, sizeof t);
  *out = block;
  return NULL;
}

kiln_status *kiln_q8_hardswish_lut_pack(const kiln_op_ctx *ctx,
                                        const kiln_allocator *a, void **out) {
  return pack(ctx, a, kiln_qshape_hard_swish, kiln_qref_hard_swish, out);
}

kiln_status *kiln_q8_lut_pack_logistic_ref(const kiln_op_ctx *ctx,
                                           const kiln_allocator *a,
                                           void **out) {
  return pack(ctx, a, kiln_shape_logistic, kiln_ref_logistic, out);
}

kiln_status *kiln_q8_lut_pack_tanh_ref(const kiln_op_ctx *ctx,
                                       const kiln_allocator *a, void **out) {
  return pack(ctx, a, kiln_shape_tanh, kiln_ref_tanh, out);
}

bool kiln_q8_table_applies(const kiln_op_ctx *ctx) {
  return ctx->packed && ctx->inputs[0]->dtype == KILN_INT8 &&
         ctx->outputs[0]->dtype == KILN_INT8 &&
         kiln_tensor_numel(ctx->inputs[0]) ==
             kiln_tensor_numel(ctx->outputs[0]);
}

void kiln_q8_lookup_portable(const int8_t table[256], const int8_t *x,
                             int8_t *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = table[x[i] + 128];
}

typedef struct lookup_job {
  const int8_t *table, *x;
  int8_t *y;
  kiln_q8_lookup_ukernel uk;
} lookup_job;

static void lookup_range(void *context, int64_t begin, int64_t end) {
  const lookup_job *j = context;
  j->uk(j->table, j->x + begin, j->y + begin, (size_t)(end - begin));
}

/* Elements per task: a lookup is cheap, so only large tensors split. */
enum { LOOKUP_GRAIN = 65536 };

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_lookup_ukernel uk) {
  const q8_table *t = ctx->packed;
  lookup_job j = {t->out, ctx->inputs[0]->data, ctx->outputs[0]->data, uk};
  kiln_parallel_for(ctx->pool, kiln_tensor_numel(ctx->outputs[0]), LOOKUP_GRAIN,
                    lookup_range, &j);
  return NULL;
}

kiln_status *kiln_q8_table_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_q8_table_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_avx512);
}

kiln_status *kiln_q8_table_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_avx2);
}
#endif
