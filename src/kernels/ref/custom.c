/* custom.c - CUSTOM: runs an operator registered through kiln.h's custom
 * operator API (or one of kiln's built-in custom operators). The shape
 * function calls the registration's prepare on copies of the tensors and
 * checks what it set; the kernel calls invoke. Both build the callbacks'
 * tensors on the stack, so invoke allocates nothing. */
#include <string.h>

#include "core/custom_op.h"
#include "core/threadpool.h"
#include "kernels/kernel.h"

/* Fills the callbacks' view of the node's tensors. */
static kiln_status *fill_context(const kiln_op_ctx *ctx, bool preparing,
                                 kiln_custom_tensor *inputs, bool *present,
                                 kiln_custom_tensor *outputs,
                                 kiln_custom_context *out) {
  const kiln_custom_attrs *attrs = ctx->attrs;
  if (!attrs->node)
    return kiln_error(KILN_ERR_INTERNAL, "a CUSTOM node without a record");
  if (ctx->num_inputs > KILN_CUSTOM_MAX_IO ||
      ctx->num_outputs > KILN_CUSTOM_MAX_IO)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "custom operator '%s' has %d inputs and %d outputs; "
                      "kiln runs custom operators of up to %d of each",
                      attrs->node->name, ctx->num_inputs, ctx->num_outputs,
                      KILN_CUSTOM_MAX_IO);
  memset(out, 0, sizeof *out);
  for (int i = 0; i < ctx->num_inputs; i++) {
    const kiln_tensor *t = ctx->inputs[i];
    present[i] = t != NULL;
    memset(&inputs[i], 0, sizeof inputs[i]);
    if (!t) continue;
    inputs[i].dtype = t->dtype;
    inputs[i].rank = t->rank;
    memcpy(inputs[i].dims, t->dims, sizeof t->dims);
    inputs[i].data = t->data;
    inputs[i].quant = t->quant;
  }
  for (int i = 0; i < ctx->num_outputs; i++) {
    const kiln_tensor *t = ctx->outputs[i];
    memset(&outputs[i], 0, sizeof outputs[i]);
    outputs[i].dtype = t->dtype;
    outputs[i].rank = t->rank;
    memcpy(outputs[i].dims, t->dims, sizeof t->dims);
    outputs[i].data = preparing ? NULL : t->data;
    outputs[i].quant = t->quant;
  }
  out->node = attrs->node;
  out->inputs = inputs;
  out->present = present;
  out->num_inputs = ctx->num_inputs;
  out->outputs = outputs;
  out->num_outputs = ctx->num_outputs;
  out->preparing = preparing;
  return NULL;
}

/* Takes the shapes prepare set, refusing what the runtime cannot hold. */
static kiln_status *accept_output(const kiln_custom_tensor *set, int index,
                                  kiln_tensor *t) {
  if (set->dtype != t->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "prepare made output %d %s, but the model declares %s",
                      index, kiln_dtype_name(set->dtype),
                      kiln_dtype_name(t->dtype));
  if (set->rank < 0 || set->rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "prepare gave output %d rank %d (0 to %d)", index,
                      set->rank, KILN_MAX_RANK);
  for (int d = 0; d < set->rank; d++)
    if (set->dims[d] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "prepare gave output %d dimension %d size %lld", index,
                        d, (long long)set->dims[d]);
  kiln_set_shape(t, set->dims, set->rank);
  return NULL;
}

kiln_status *kiln_shape_custom(const kiln_op_ctx *ctx) {
  kiln_custom_tensor inputs[KILN_CUSTOM_MAX_IO], outputs[KILN_CUSTOM_MAX_IO];
  bool present[KILN_CUSTOM_MAX_IO];
  kiln_custom_context cc;
  KILN_TRY(fill_context(ctx, true, inputs, present, outputs, &cc));
  const kiln_custom_node *node = cc.node;
  KILN_TRY(kiln_status_wrap(node->op.prepare(&cc), "custom operator '%s'",
                            node->name));
  for (int i = 0; i < ctx->num_outputs; i++)
    KILN_TRY(kiln_status_wrap(accept_output(&outputs[i], i, ctx->outputs[i]),
                              "custom operator '%s'", node->name));
  if (cc.scratch_request == 0) return NULL;
  if (!ctx->pool)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "custom operator '%s' needs scratch memory, which only "
                      "a session provides",
                      node->name);
  return kiln_threadpool_reserve_scratch(ctx->pool, cc.scratch_request);
}

kiln_status *kiln_ref_custom(const kiln_op_ctx *ctx) {
  kiln_custom_tensor inputs[KILN_CUSTOM_MAX_IO], outputs[KILN_CUSTOM_MAX_IO];
  bool present[KILN_CUSTOM_MAX_IO];
  kiln_custom_context cc;
  KILN_TRY(fill_context(ctx, false, inputs, present, outputs, &cc));
  /* The kernel runs on the calling thread, whose scratch is thread 0's. */
  cc.scratch = kiln_threadpool_scratch(ctx->pool, 0);
  return kiln_status_wrap(cc.node->op.invoke(&cc), "custom operator '%s'",
                          cc.node->name);
}
