/* transpose.c - TRANSPOSE: output dim k is input dim perm[k]. */
#include "kernels/kernel.h"
#include "kernels/ref/movement.h"

/* Reads perm (input 1) and checks it is a permutation of 0..rank-1; TFLite
 * rejects negative entries too, so they are not wrapped. */
static kiln_status *read_perm(const kiln_op_ctx *ctx, int64_t *perm) {
  const kiln_tensor *in = ctx->inputs[0];
  int n = 0;
  KILN_TRY(
      kiln_read_int_vector(ctx, 1, "perm", in->rank, KILN_MAX_RANK, perm, &n));
  bool seen[KILN_MAX_RANK] = {false};
  for (int k = 0; k < n; k++) {
    if (perm[k] < 0 || perm[k] >= n || seen[perm[k]]) {
      char buf[KILN_DIMS_STR_SIZE];
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "perm %s is not a permutation of 0..%d (entry %d is "
                        "%lld)",
                        kiln_dims_str(perm, n, buf, sizeof buf), n - 1, k,
                        (long long)perm[k]);
    }
    seen[perm[k]] = true;
  }
  return NULL;
}

kiln_status *kiln_shape_transpose(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_movement_op(ctx, 2, 2));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t perm[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  KILN_TRY(read_perm(ctx, perm));
  for (int k = 0; k < in->rank; k++) dims[k] = in->dims[perm[k]];
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

kiln_status *kiln_ref_transpose(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t perm[KILN_MAX_RANK], in_strides[KILN_MAX_RANK];
  KILN_TRY(read_perm(ctx, perm));
  kiln_dense_strides(in->dims, in->rank, in_strides);
  kiln_copy_plan plan = {.rank = in->rank};
  for (int k = 0; k < in->rank; k++) {
    plan.counts[k] = out->dims[k];
    plan.src_strides[k] = in_strides[perm[k]];
  }
  kiln_copy_plan_dense_dst(&plan);
  kiln_strided_copy(out->data, in->data, kiln_dtype_size(in->dtype), &plan);
  return NULL;
}
