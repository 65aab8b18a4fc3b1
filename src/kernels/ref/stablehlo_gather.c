/* stablehlo_gather.c - STABLEHLO_GATHER: StableHLO's general gather, as
 * LiteRT runs it. Each result element splits its index into batch
 * coordinates (result dimensions not in offset_dims) and offset
 * coordinates; the batch coordinates pick an index vector from
 * start_indices (along index_vector_dim, or the single element when that
 * is start_indices' rank), whose entries go to the operand dimensions
 * start_index_map names; that start is clamped so a slice of slice_sizes
 * fits in the operand (as the spec and LiteRT do: no index is out of
 * range), and the offset coordinates, with 0 put back for the
 * collapsed_slice_dims, are added. Any fixed-size operand type, moved as
 * bytes; int32 or int64 indices. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

static bool contains(const int64_t *list, int count, int64_t value) {
  for (int i = 0; i < count; i++)
    if (list[i] == value) return true;
  return false;
}

/* The result's rank and dims, after the options were checked. */
static int result_shape(const kiln_stablehlo_gather_attrs *a,
                        const kiln_tensor *indices, int64_t *dims) {
  int batch_rank = indices->rank - (a->index_vector_dim < indices->rank);
  int rank = batch_rank + a->num_offset_dims;
  int slice_at = 0, index_at = 0;
  for (int d = 0; d < rank; d++) {
    if (contains(a->offset_dims, a->num_offset_dims, d)) {
      while (contains(a->collapsed_slice_dims, a->num_collapsed, slice_at))
        slice_at++;
      dims[d] = a->slice_sizes[slice_at++];
    } else {
      if (index_at == a->index_vector_dim) index_at++;
      dims[d] = indices->dims[index_at++];
    }
  }
  return rank;
}

#define BAD(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

kiln_status *kiln_shape_stablehlo_gather(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_gather_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "operand"));
  KILN_TRY(kiln_require_input(ctx, 1, "start_indices"));
  const kiln_tensor *op = ctx->inputs[0], *idx = ctx->inputs[1];
  if (kiln_dtype_size(op->dtype) == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED, "input 0 (operand) has type %s",
                      kiln_dtype_name(op->dtype));
  KILN_TRY(kiln_require_dtype_in(idx, KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64),
                                 "input 1 (start_indices)"));
  KILN_TRY(kiln_require_output_dtype(ctx, op->dtype));
  if (a->num_slice_sizes != op->rank)
    return BAD("slice_sizes has %d entries but input 0 (operand) has rank %d",
               a->num_slice_sizes, op->rank);
  for (int d = 0; d < op->rank; d++)
    if (a->slice_sizes[d] < 0 || a->slice_sizes[d] > op->dims[d])
      return BAD(
          "slice_sizes[%d] is %lld; input 0 (operand) dimension %d "
          "has %lld",
          d, (long long)a->slice_sizes[d], d, (long long)op->dims[d]);
  for (int i = 0; i < a->num_collapsed; i++) {
    int64_t d = a->collapsed_slice_dims[i];
    if (d < 0 || d >= op->rank || a->slice_sizes[d] > 1 ||
        contains(a->collapsed_slice_dims, i, d))
      return BAD(
          "collapsed_slice_dims entry %d (%lld) must name a distinct "
          "operand dimension whose slice size is at most 1",
          i, (long long)d);
  }
  if (a->num_offset_dims != op->rank - a->num_collapsed)
    return BAD(
        "offset_dims has %d entries; expected %d (operand rank less "
        "the collapsed dimensions)",
        a->num_offset_dims, op->rank - a->num_collapsed);
  if (a->index_vector_dim < 0 || a->index_vector_dim > idx->rank)
    return BAD("index_vector_dim is %lld; input 1 (start_indices) has rank %d",
               (long long)a->index_vector_dim, idx->rank);
  int64_t vector_len =
      a->index_vector_dim < idx->rank ? idx->dims[a->index_vector_dim] : 1;
  if (a->num_start_index_map != vector_len)
    return BAD("start_index_map has %d entries but the index vectors have %lld",
               a->num_start_index_map, (long long)vector_len);
  for (int i = 0; i < a->num_start_index_map; i++) {
    int64_t d = a->start_index_map[i];
    if (d < 0 || d >= op->rank || contains(a->start_index_map, i, d))
      return BAD(
          "start_index_map entry %d (%lld) must name a distinct "
          "operand dimension",
          i, (long long)d);
  }
  int rank = idx->rank - (a->index_vector_dim < idx->rank) + a->num_offset_dims;
  if (rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED, "the result would have rank %d",
                      rank);
  for (int i = 0; i < a->num_offset_dims; i++)
    if (a->offset_dims[i] < 0 || a->offset_dims[i] >= rank ||
        (i > 0 && a->offset_dims[i] <= a->offset_dims[i - 1]))
      return BAD(
          "offset_dims must ascend within the result's rank %d; entry "
          "%d is %lld",
          rank, i, (long long)a->offset_dims[i]);
  int64_t dims[KILN_MAX_RANK];
  result_shape(a, idx, dims);
  kiln_set_shape(ctx->outputs[0], dims, rank);
  return NULL;
}

kiln_status *kiln_ref_stablehlo_gather(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_gather_attrs *a = ctx->attrs;
  const kiln_tensor *op = ctx->inputs[0], *idx = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  size_t es = kiln_dtype_size(op->dtype);
  int rank = out->rank, ivd = (int)a->index_vector_dim;
  int64_t op_stride[KILN_MAX_RANK], idx_stride[KILN_MAX_RANK], s = 1;
  for (int d = op->rank - 1; d >= 0; d--) {
    op_stride[d] = s;
    s *= op->dims[d];
  }
  s = 1;
  for (int d = idx->rank - 1; d >= 0; d--) {
    idx_stride[d] = s;
    s *= idx->dims[d];
  }
  int64_t n = kiln_tensor_numel(out), r_idx[KILN_MAX_RANK] = {0};
  const unsigned char *src = op->data;
  unsigned char *dst = out->data;
  for (int64_t o = 0; o < n; o++) {
    /* batch coordinates -> the index vector's first element in idx */
    int64_t at = 0, start[KILN_MAX_RANK] = {0}, offset[KILN_MAX_RANK];
    int b = 0, k = 0;
    for (int d = 0; d < rank; d++) {
      if (contains(a->offset_dims, a->num_offset_dims, d)) {
        offset[k++] = r_idx[d];
      } else {
        if (b == ivd) b++;
        at += r_idx[d] * idx_stride[b++];
      }
    }
    int64_t step = ivd < idx->rank ? idx_stride[ivd] : 0;
    for (int i = 0; i < a->num_start_index_map; i++) {
      int64_t d = a->start_index_map[i];
      int64_t v = kiln_tensor_int(idx, at + i * step);
      int64_t hi = op->dims[d] - a->slice_sizes[d];
      start[d] = v < 0 ? 0 : (v > hi ? hi : v);
    }
    int64_t flat = 0;
    for (int d = 0, j = 0; d < op->rank; d++) {
      int64_t off = contains(a->collapsed_slice_dims, a->num_collapsed, d)
                        ? 0
                        : offset[j++];
      flat += (start[d] + off) * op_stride[d];
    }
    memcpy(dst + (size_t)o * es, src + (size_t)flat * es, es);
    for (int d = rank - 1; d >= 0; d--) {
      if (++r_idx[d] < out->dims[d]) break;
      r_idx[d] = 0;
    }
  }
  return NULL;
}
