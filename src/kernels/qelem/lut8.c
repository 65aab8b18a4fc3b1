/* lut8.c - QUANT_LUT8's variants (lut8.h): the table is the node's
 * attribute, computed by the pass that made the node, so nothing is
 * packed at load; each variant hands the table to one of qelem's lookup
 * micro-kernels (table_avx512.c, table_avx2.c, or the portable loop),
 * which this file only calls, so it needs no instruction-set flags of its
 * own. */
#include "kernels/qelem/lut8.h"

#include "core/threadpool.h"
#include "kernels/qelem/qelem.h"

bool kiln_lut8_applies(const kiln_op_ctx *ctx) {
  return ctx->num_inputs == 1 && ctx->num_outputs == 1 && ctx->inputs[0] &&
         ctx->inputs[0]->dtype == KILN_INT8 &&
         ctx->outputs[0]->dtype == KILN_INT8 &&
         kiln_tensor_numel(ctx->inputs[0]) ==
             kiln_tensor_numel(ctx->outputs[0]);
}

typedef struct lut8_job {
  const int8_t *table, *x;
  int8_t *y;
  kiln_q8_lookup_ukernel uk;
} lut8_job;

static void lut8_range(void *context, int64_t begin, int64_t end) {
  const lut8_job *j = context;
  j->uk(j->table, j->x + begin, j->y + begin, (size_t)(end - begin));
}

/* Elements per task: a lookup costs well under a nanosecond per byte, so
 * only tensors large enough to repay a thread's wake-up split. */
enum { LUT8_GRAIN = 65536 };

static kiln_status *run(const kiln_op_ctx *ctx, kiln_q8_lookup_ukernel uk) {
  const kiln_lut8_attrs *a = ctx->attrs;
  lut8_job j = {a->table, ctx->inputs[0]->data, ctx->outputs[0]->data, uk};
  kiln_parallel_for(ctx->pool, kiln_tensor_numel(ctx->outputs[0]), LUT8_GRAIN,
                    lut8_range, &j);
  return NULL;
}

kiln_status *kiln_lut8_run_portable(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_portable);
}

#if defined(__x86_64__)
kiln_status *kiln_lut8_run_avx2(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_avx2);
}

kiln_status *kiln_lut8_run_avx512(const kiln_op_ctx *ctx) {
  return run(ctx, kiln_q8_lookup_avx512);
}
#endif
