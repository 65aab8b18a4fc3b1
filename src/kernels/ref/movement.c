/* movement.c - the strided copy and checks shared by data-movement ops. */
#include "kernels/ref/movement.h"

#include <string.h>

/* Byte sizes above this are refused: they cannot be allocated anyway, and
 * staying far from INT64_MAX keeps every offset computation overflow-free. */
#define MAX_TENSOR_BYTES ((int64_t)1 << 48)

/* One innermost row; a dense row is one memcpy. Offsets are in bytes and
 * signed, since reversed slices walk backwards. */
static void copy_row(char *dst, const char *src, int64_t count,
                     ptrdiff_t dst_step, ptrdiff_t src_step, size_t elem) {
  if (dst_step == (ptrdiff_t)elem && src_step == (ptrdiff_t)elem) {
    memcpy(dst, src, (size_t)count * elem);
    return;
  }
  for (int64_t i = 0; i < count; i++)
    memcpy(dst + i * dst_step, src + i * src_step, elem);
}

void kiln_strided_copy(void *dst, const void *src, size_t elem_size,
                       const kiln_copy_plan *plan) {
  for (int k = 0; k < plan->rank; k++)
    if (plan->counts[k] == 0) return;
  if (plan->rank == 0) {
    memcpy(dst, src, elem_size);
    return;
  }
  const ptrdiff_t elem = (ptrdiff_t)elem_size;
  const int inner = plan->rank - 1;
  int64_t index[KILN_COPY_MAX_RANK] = {0};
  ptrdiff_t src_offset = 0, dst_offset = 0; /* in elements */
  for (;;) {
    copy_row((char *)dst + dst_offset * elem,
             (const char *)src + src_offset * elem, plan->counts[inner],
             (ptrdiff_t)plan->dst_strides[inner] * elem,
             (ptrdiff_t)plan->src_strides[inner] * elem, elem_size);
    int k = inner - 1;
    for (; k >= 0; k--) { /* odometer over the outer dimensions */
      if (++index[k] < plan->counts[k]) {
        src_offset += (ptrdiff_t)plan->src_strides[k];
        dst_offset += (ptrdiff_t)plan->dst_strides[k];
        break;
      }
      src_offset -= (ptrdiff_t)((plan->counts[k] - 1) * plan->src_strides[k]);
      dst_offset -= (ptrdiff_t)((plan->counts[k] - 1) * plan->dst_strides[k]);
      index[k] = 0;
    }
    if (k < 0) return;
  }
}

void kiln_copy_plan_dense_dst(kiln_copy_plan *plan) {
  kiln_dense_strides(plan->counts, plan->rank, plan->dst_strides);
}

void kiln_dense_strides(const int64_t *dims, int rank, int64_t *strides) {
  int64_t stride = 1;
  for (int k = rank - 1; k >= 0; k--) {
    strides[k] = stride;
    stride *= dims[k];
  }
}

bool kiln_next_index(int64_t *index, const int64_t *dims, int rank) {
  for (int k = rank - 1; k >= 0; k--) {
    if (++index[k] < dims[k]) return true;
    index[k] = 0;
  }
  return false;
}

void kiln_fill_elements(void *dst, int64_t count, const void *value,
                        size_t elem_size) {
  if (count <= 0) return;
  char *out = dst;
  memcpy(out, value, elem_size);
  /* Doubling copies: log2(count) memcpy calls instead of count. */
  size_t done = elem_size, total = (size_t)count * elem_size;
  while (done < total) {
    size_t chunk = done < total - done ? done : total - done;
    memcpy(out + done, out, chunk);
    done += chunk;
  }
}

kiln_status *kiln_check_shape(const int64_t *dims, int rank, kiln_dtype dtype,
                              const char *role) {
  char buf[KILN_DIMS_STR_SIZE];
  int64_t bytes = (int64_t)kiln_dtype_size(dtype);
  for (int k = 0; k < rank; k++) {
    if (dims[k] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s gives shape %s with negative dimension %d", role,
                        kiln_dims_str(dims, rank, buf, sizeof buf), k);
    if (dims[k] && bytes > MAX_TENSOR_BYTES / dims[k])
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s gives shape %s, too large to allocate", role,
                        kiln_dims_str(dims, rank, buf, sizeof buf));
    bytes = dims[k] ? bytes * dims[k] : 0;
  }
  return NULL;
}

static kiln_status *require_int_dtype(const kiln_tensor *t, int index,
                                      const char *role) {
  if (t->dtype != KILN_INT32 && t->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (%s) has type %s; expected int32 or int64",
                      index, role, kiln_dtype_name(t->dtype));
  return NULL;
}

kiln_status *kiln_read_int_vector(const kiln_op_ctx *ctx, int index,
                                  const char *role, int count, int max,
                                  int64_t *values, int *out_count) {
  KILN_TRY(kiln_require_known(ctx, index, role));
  const kiln_tensor *t = ctx->inputs[index];
  KILN_TRY(require_int_dtype(t, index, role));
  char buf[KILN_DIMS_STR_SIZE];
  if (t->rank != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (%s) must be 1-D, has shape %s", index, role,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  if (count >= 0 && t->dims[0] != count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (%s) must have %d elements, has shape %s",
                      index, role, count,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  if (t->dims[0] > max)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (%s) has %lld elements; at most %d supported",
                      index, role, (long long)t->dims[0], max);
  for (int64_t i = 0; values && i < t->dims[0]; i++)
    values[i] = kiln_tensor_int(t, i);
  *out_count = (int)t->dims[0];
  return NULL;
}

kiln_status *kiln_read_int_scalar(const kiln_op_ctx *ctx, int index,
                                  const char *role, int64_t *value) {
  KILN_TRY(kiln_require_known(ctx, index, role));
  const kiln_tensor *t = ctx->inputs[index];
  KILN_TRY(require_int_dtype(t, index, role));
  if (kiln_tensor_numel(t) != 1) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (%s) must hold one value, has shape %s", index,
                      role, kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  }
  *value = kiln_tensor_int(t, 0);
  return NULL;
}

kiln_status *kiln_require_same_dtype(const kiln_tensor *in,
                                     const kiln_tensor *out, const char *role) {
  if (kiln_dtype_size(in->dtype) == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED, "%s has unknown type %d", role,
                      (int)in->dtype);
  if (out->dtype != in->dtype)
    return kiln_error(
        KILN_ERR_INVALID_MODEL, "output has type %s but %s has type %s",
        kiln_dtype_name(out->dtype), role, kiln_dtype_name(in->dtype));
  return NULL;
}

kiln_status *kiln_check_movement_op(const kiln_op_ctx *ctx, int min_inputs,
                                    int max_inputs) {
  KILN_TRY(kiln_check_arity(ctx, min_inputs, max_inputs, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "data"));
  return kiln_require_same_dtype(ctx->inputs[0], ctx->outputs[0], "input 0");
}
