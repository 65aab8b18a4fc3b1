/* index_util.c - checks shared by the data-movement and indexing kernels
 * added for issue 9 (see index_util.h). */
#include "kernels/ref/index_util.h"

#include <string.h>

bool kiln_same_quant(const kiln_quant_info *a, const kiln_quant_info *b) {
  int count_a = a ? a->count : 0, count_b = b ? b->count : 0;
  if (count_a != count_b) return false;
  if (count_a == 0) return true;
  if (count_a > 1 && a->axis != b->axis) return false;
  for (int i = 0; i < count_a; i++)
    if (a->scale[i] != b->scale[i] || a->zero_point[i] != b->zero_point[i])
      return false;
  return true;
}

kiln_status *kiln_require_same_quant(const kiln_tensor *in,
                                     const kiln_tensor *out, const char *role) {
  if (kiln_same_quant(in->quant, out->quant)) return NULL;
  return kiln_error(KILN_ERR_UNSUPPORTED,
                    "%s and the output have different quantization "
                    "parameters; this operator copies values unchanged and "
                    "needs them equal",
                    role);
}

kiln_status *kiln_require_index_input(const kiln_op_ctx *ctx, int index,
                                      const char *role) {
  KILN_TRY(kiln_require_input(ctx, index, role));
  const kiln_tensor *t = ctx->inputs[index];
  if (t->dtype != KILN_INT32 && t->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (%s) has type %s; expected int32 or int64",
                      index, role, kiln_dtype_name(t->dtype));
  return NULL;
}

int64_t kiln_dims_product(const int64_t *dims, int from, int to) {
  int64_t n = 1;
  for (int k = from; k < to; k++) n *= dims[k];
  return n;
}

void kiln_zero_element(const kiln_tensor *t, unsigned char *value) {
  memset(value, 0, 8);
  if (!t->quant || t->quant->count < 1) return;
  int64_t zero = t->quant->zero_point[0];
  if (t->dtype == KILN_INT8) {
    int8_t v = (int8_t)zero;
    memcpy(value, &v, sizeof v);
  } else if (t->dtype == KILN_UINT8) {
    uint8_t v = (uint8_t)zero;
    memcpy(value, &v, sizeof v);
  } else if (t->dtype == KILN_INT16) {
    int16_t v = (int16_t)zero;
    memcpy(value, &v, sizeof v);
  }
}
