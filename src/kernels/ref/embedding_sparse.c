/* embedding_sparse.c - EMBEDDING_LOOKUP_SPARSE (float32): combines rows of
 * params picked by a sparse tensor of ids, weighted, per output cell.
 *
 * Inputs: ids int32 [N] (rows of params), indices int32 [N, R] (each id's
 * position in the sparse tensor; the last coordinate is ignored),
 * dense_shape int32 [R] (known at prepare: it gives the output shape),
 * weights float32 [N] and params float32 [K, e1, ...]. The output is
 * [dense_shape[0..R-2], e1, ...]: each cell the weighted sum of its ids'
 * rows, divided by the summed weights (MEAN) or the root of the summed
 * squared weights (SQRTN), or not (SUM).
 *
 * As in TFLite, ids are combined in input order in runs of the same cell:
 * a run's rows are added into its cell and, when the cell changes, the
 * cell is divided by the run's divisor. Sorted indices (a SparseTensor's)
 * make one run per cell; a cell met again in a later run gets that run
 * added to its finished value and the sum divided again, as TFLite does.
 * An id or index out of range is an error at invoke. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

static kiln_status *require_vector(const kiln_op_ctx *ctx, int index,
                                   kiln_dtype dtype, const char *role) {
  KILN_TRY(kiln_require_input(ctx, index, role));
  char what[48];
  snprintf(what, sizeof what, "input %d (%s)", index, role);
  KILN_TRY(kiln_require_dtype(ctx->inputs[index], dtype, what));
  return kiln_require_rank(ctx->inputs[index], 1, what);
}

kiln_status *kiln_shape_embedding_lookup_sparse(const kiln_op_ctx *ctx) {
  const kiln_embedding_sparse_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 5, 5, 1));
  if (a->combiner < KILN_COMBINER_SUM || a->combiner > KILN_COMBINER_SQRTN)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "combiner %d is not SUM (0), MEAN (1) or SQRTN (2)",
                      (int)a->combiner);
  KILN_TRY(require_vector(ctx, 0, KILN_INT32, "ids"));
  KILN_TRY(kiln_require_input(ctx, 1, "indices"));
  KILN_TRY(require_vector(ctx, 2, KILN_INT32, "dense_shape"));
  KILN_TRY(kiln_require_known(ctx, 2, "dense_shape"));
  KILN_TRY(require_vector(ctx, 3, KILN_FLOAT32, "weights"));
  KILN_TRY(kiln_require_float_input(ctx, 4, "input 4 (params)", 2, -1));
  const kiln_tensor *ids = ctx->inputs[0], *indices = ctx->inputs[1],
                    *shape = ctx->inputs[2], *weights = ctx->inputs[3],
                    *params = ctx->inputs[4];
  char buf[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype(indices, KILN_INT32, "input 1 (indices)"));
  int64_t n = ids->dims[0];
  if (indices->rank != 2 || indices->dims[0] != n ||
      indices->dims[1] != shape->dims[0] || weights->dims[0] != n)
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 1 (indices) must have shape [%lld, %lld] (one "
        "row per id, one column per dense dimension) and input "
        "3 (weights) [%lld]; they have %s and [%lld]",
        (long long)n, (long long)shape->dims[0], (long long)n,
        kiln_dims_str(indices->dims, indices->rank, buf, sizeof buf),
        (long long)weights->dims[0]);
  int lookup_rank = (int)shape->dims[0];
  int out_rank = lookup_rank - 1 + params->rank - 1;
  if (lookup_rank < 1 || out_rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 2 (dense_shape) has %d entries; with params of "
                      "rank %d the output would have rank %d (1 to %d "
                      "supported)",
                      lookup_rank, params->rank, out_rank, KILN_MAX_RANK);
  KILN_TRY(kiln_require_output_dtype(ctx, KILN_FLOAT32));
  int64_t dims[KILN_MAX_RANK];
  int k = 0;
  for (int i = 0; i < lookup_rank - 1; i++) {
    dims[k] = kiln_tensor_int(shape, i);
    if (dims[k] < 0 || dims[k] > INT32_MAX)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input 2 (dense_shape) element %d is %lld", i,
                        (long long)dims[k]);
    k++;
  }
  for (int i = 1; i < params->rank; i++) dims[k++] = params->dims[i];
  kiln_set_shape(ctx->outputs[0], dims, out_rank);
  return NULL;
}

static void finish_run(kiln_combiner combiner, int count, float total,
                       float squares, int64_t width, float *row) {
  if (combiner == KILN_COMBINER_SUM || count == 0) return;
  float divisor = combiner == KILN_COMBINER_MEAN ? total : sqrtf(squares);
  for (int64_t k = 0; k < width; k++) row[k] /= divisor;
}

kiln_status *kiln_ref_embedding_lookup_sparse(const kiln_op_ctx *ctx) {
  const kiln_embedding_sparse_attrs *a = ctx->attrs;
  const kiln_tensor *ids_t = ctx->inputs[0], *indices_t = ctx->inputs[1],
                    *shape = ctx->inputs[2], *params = ctx->inputs[4];
  kiln_tensor *out_t = ctx->outputs[0];
  const int32_t *ids = ids_t->data, *indices = indices_t->data;
  const float *weights = ctx->inputs[3]->data, *table = params->data;
  float *out = out_t->data;
  int64_t n = ids_t->dims[0], rows = params->dims[0];
  int lookup_rank = (int)shape->dims[0];
  int64_t width = 1;
  for (int i = 1; i < params->rank; i++) width *= params->dims[i];
  memset(out, 0, kiln_tensor_nbytes(out_t));
  int64_t run_offset = 0;
  float total = 0.0f, squares = 0.0f;
  int count = 0;
  for (int64_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (id < 0 || id >= rows)
      return kiln_error(KILN_ERR_RUNTIME,
                        "input 0 (ids) element %lld is %d, outside [0, %lld)",
                        (long long)i, id, (long long)rows);
    int64_t cell = 0, stride = 1;
    for (int k = lookup_rank - 2; k >= 0; k--) {
      int32_t at = indices[i * lookup_rank + k];
      int64_t extent = kiln_tensor_int(shape, k);
      if (at < 0 || at >= extent)
        return kiln_error(KILN_ERR_RUNTIME,
                          "input 1 (indices) row %lld column %d is %d, "
                          "outside [0, %lld)",
                          (long long)i, k, at, (long long)extent);
      cell += at * stride;
      stride *= extent;
    }
    int64_t offset = cell * width;
    if (offset != run_offset) {
      finish_run(a->combiner, count, total, squares, width, out + run_offset);
      count = 0;
      total = squares = 0.0f;
      run_offset = offset;
    }
    count++;
    float w = weights[i];
    squares += w * w;
    total += w;
    const float *src = table + id * width;
    for (int64_t k = 0; k < width; k++) out[offset + k] += src[k] * w;
  }
  finish_run(a->combiner, count, total, squares, width, out + run_offset);
  return NULL;
}
