/* depthwise_load.c - the node checks and the packed-weight allocation the
 * float and int8 channel-blocked DEPTHWISE_CONV_2D variants share (see
 * depthwise_load.h). */
#include "kernels/x86/depthwise_load.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

bool kiln_dw_node_fits(const kiln_op_ctx *ctx, kiln_dtype data,
                       kiln_dtype bias) {
  const kiln_conv_attrs *a = ctx->attrs;
  if (!a || ctx->num_inputs < 2 || ctx->num_inputs > 3 ||
      ctx->num_outputs != 1 || !ctx->outputs[0])
    return false;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  if (!in || !f || in->dtype != data || in->rank != 4 || f->dtype != data ||
      f->rank != 4)
    return false;
  if (f->dims[0] != 1 || f->dims[1] < 1 || f->dims[2] < 1 || f->dims[3] < 1 ||
      in->dims[3] != f->dims[3])
    return false;
  if (a->depth_multiplier != 0 && a->depth_multiplier != 1) return false;
  if (a->padding != KILN_PAD_SAME && a->padding != KILN_PAD_VALID) return false;
  if (a->stride_h < 1 || a->stride_w < 1 || a->dilation_h < 1 ||
      a->dilation_w < 1)
    return false;
  if (ctx->num_inputs == 3 && ctx->inputs[2]) {
    const kiln_tensor *b = ctx->inputs[2];
    if (b->dtype != bias || b->rank != 1 || b->dims[0] != f->dims[3])
      return false;
  }
  return true;
}

bool kiln_dw_kind_fits(const kiln_op_ctx *ctx, kiln_dw_kind kind) {
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *f = ctx->inputs[1];
  int k = 0, s = 0;
  switch (kind) {
    case KILN_DW_3X3S1:
      k = 3, s = 1;
      break;
    case KILN_DW_3X3S2:
      k = 3, s = 2;
      break;
    case KILN_DW_5X5S1:
      k = 5, s = 1;
      break;
    case KILN_DW_5X5S2:
      k = 5, s = 2;
      break;
    case KILN_DW_GENERIC:
      return true;
  }
  return f->dims[1] == k && f->dims[2] == k && a->stride_h == s &&
         a->stride_w == s && a->dilation_h == 1 && a->dilation_w == 1;
}

void *kiln_dw_alloc_packed(const kiln_allocator *al, size_t header_size,
                           size_t payload_size, size_t *offset) {
  size_t header =
      (header_size + KILN_ALIGNMENT - 1) / KILN_ALIGNMENT * KILN_ALIGNMENT;
  /* One alignment's slack: the block itself may start anywhere. */
  char *mem = kiln_malloc(al, header + payload_size + KILN_ALIGNMENT);
  if (!mem) return NULL;
  uintptr_t start = (uintptr_t)(mem + header);
  start = (start + KILN_ALIGNMENT - 1) & ~(uintptr_t)(KILN_ALIGNMENT - 1);
  *offset = (size_t)(start - (uintptr_t)mem);
  memset(mem + *offset, 0, payload_size);
  return mem;
}
