/* custom_util.c - shared helpers of kiln's built-in custom operators. */
#include "kernels/custom/custom_util.h"

#include <string.h>

void kiln_custom_kernel_tensor(const kiln_custom_tensor *src,
                               kiln_tensor *dst) {
  memset(dst, 0, sizeof *dst);
  dst->dtype = src->dtype;
  dst->rank = src->rank;
  memcpy(dst->dims, src->dims, sizeof dst->dims);
  dst->data = src->data;
  dst->quant = src->quant;
}

kiln_status *kiln_custom_raw_ints(const void *bytes, size_t size, int count,
                                  int required, const char *what,
                                  int32_t *out) {
  if (size < (size_t)required * 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "custom_options hold %zu bytes; %s needs at least %d "
                      "(%d int32 fields)",
                      size, what, required * 4, required);
  const uint8_t *p = bytes;
  for (int i = 0; i < count; i++) {
    out[i] = 0;
    if ((size_t)(i + 1) * 4 > size) continue;
    const uint8_t *f = p + 4 * i;
    out[i] = (int32_t)((uint32_t)f[0] | (uint32_t)f[1] << 8 |
                       (uint32_t)f[2] << 16 | (uint32_t)f[3] << 24);
  }
  return NULL;
}

kiln_status *kiln_custom_padding(int32_t value, kiln_padding *out) {
  if (value == 1) {
    *out = KILN_PAD_SAME;
    return NULL;
  }
  if (value == 2) {
    *out = KILN_PAD_VALID;
    return NULL;
  }
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "padding is %d; TfLitePadding has 1 (SAME) and 2 (VALID)",
                    value);
}

kiln_status *kiln_custom_check_io(const kiln_custom_context *ctx, int inputs,
                                  int outputs) {
  if (kiln_custom_num_inputs(ctx) != inputs ||
      kiln_custom_num_outputs(ctx) != outputs)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "has %d inputs and %d outputs; expected %d and %d",
                      kiln_custom_num_inputs(ctx), kiln_custom_num_outputs(ctx),
                      inputs, outputs);
  for (int i = 0; i < inputs; i++)
    if (!kiln_custom_input(ctx, i))
      return kiln_error(KILN_ERR_INVALID_MODEL, "input %d is omitted", i);
  return NULL;
}

kiln_status *kiln_custom_float4d(const kiln_custom_context *ctx, int index,
                                 const char *role) {
  const kiln_custom_tensor *t = kiln_custom_input(ctx, index);
  if (t->dtype != KILN_FLOAT32 || t->rank != 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (%s) is %s of rank %d; expected float32 of "
                      "rank 4",
                      index, role, kiln_dtype_name(t->dtype), t->rank);
  for (int d = 0; d < 4; d++)
    if (t->dims[d] <= 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (%s) has an empty dimension %d", index, role,
                        d);
  return NULL;
}
