/* stablehlo_scatter.c - STABLEHLO_SCATTER as LiteRT runs it. The result
 * starts as a copy of the operand; then, for each element of updates in
 * row-major order, its coordinates split into scatter coordinates (the
 * update dimensions not in update_window_dims), which pick an index vector
 * from scatter_indices (along index_vector_dim, or the single element when
 * that is the indices' rank), and window coordinates (those in
 * update_window_dims). The index vector's entries give the start in the
 * operand dimensions scatter_dims_to_operand_dims names (others start at
 * 0); the window coordinates, with 0 put in for inserted_window_dims, are
 * added. An update landing outside the result is skipped (the spec leaves
 * it to the implementation; LiteRT skips it too). The result element then
 * becomes what the update computation gives for (it, the update): the
 * update itself, or their sum, product, maximum or minimum (the importer
 * recognized the subgraph). Updates apply one after another, so repeated
 * indices accumulate in order.
 *
 * Types are LiteRT's: float16/32/64, int8/16/32/64, uint8/16/32/64 and
 * bool, with int32 or int64 indices. Integers wrap; float16 computes in
 * float and rounds back (Eigen::half's arithmetic); maximum and minimum
 * are std::max and std::min (the result element is kept unless the update
 * compares greater, or smaller), and bool adds as OR and multiplies as
 * AND (C++'s arithmetic on bool converted back). */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

#define SCATTER_TYPES                                                      \
  (KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) | \
   KILN_DT(KILN_INT8) | KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32) |        \
   KILN_DT(KILN_INT64) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_UINT16) |      \
   KILN_DT(KILN_UINT32) | KILN_DT(KILN_UINT64) | KILN_DT(KILN_BOOL))

#define BAD(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

static bool contains(const int64_t *list, int count, int64_t value) {
  for (int i = 0; i < count; i++)
    if (list[i] == value) return true;
  return false;
}

/* Entries of a dimension list: distinct, in [0, rank), ascending when
 * `sorted`. */
static kiln_status *check_dims(const int64_t *list, int count, int rank,
                               bool sorted, const char *what, const char *of) {
  for (int i = 0; i < count; i++) {
    if (list[i] < 0 || list[i] >= rank || contains(list, i, list[i]) ||
        (sorted && i > 0 && list[i] < list[i - 1]))
      return BAD(
          "%s entry %d (%lld) must name a distinct dimension of %s "
          "(rank %d)%s",
          what, i, (long long)list[i], of, rank,
          sorted ? ", in ascending order" : "");
  }
  return NULL;
}

kiln_status *kiln_shape_stablehlo_scatter(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_scatter_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  if (a->function == KILN_SCATTER_UNKNOWN)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "update computation subgraph %d was not recognized",
                      a->update_subgraph);
  KILN_TRY(kiln_require_input(ctx, 0, "operand"));
  KILN_TRY(kiln_require_input(ctx, 1, "scatter_indices"));
  KILN_TRY(kiln_require_input(ctx, 2, "updates"));
  const kiln_tensor *op = ctx->inputs[0], *idx = ctx->inputs[1],
                    *upd = ctx->inputs[2];
  KILN_TRY(kiln_require_dtype_in(op, SCATTER_TYPES, "input 0 (operand)"));
  KILN_TRY(kiln_require_unquantized(op, "input 0 (operand)"));
  KILN_TRY(kiln_require_dtype_in(idx, KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64),
                                 "input 1 (scatter_indices)"));
  if (upd->dtype != op->dtype)
    return BAD("input 2 (updates) is %s but input 0 (operand) is %s",
               kiln_dtype_name(upd->dtype), kiln_dtype_name(op->dtype));
  KILN_TRY(kiln_require_unquantized(upd, "input 2 (updates)"));
  KILN_TRY(kiln_require_output_dtype(ctx, op->dtype));
  KILN_TRY(check_dims(a->update_window_dims, a->num_update_window_dims,
                      upd->rank, true, "update_window_dims",
                      "input 2 (updates)"));
  KILN_TRY(check_dims(a->inserted_window_dims, a->num_inserted_window_dims,
                      op->rank, true, "inserted_window_dims",
                      "input 0 (operand)"));
  KILN_TRY(check_dims(a->scatter_dims_to_operand_dims, a->num_scatter_dims,
                      op->rank, false, "scatter_dims_to_operand_dims",
                      "input 0 (operand)"));
  if (a->num_update_window_dims + a->num_inserted_window_dims != op->rank)
    return BAD(
        "update_window_dims (%d) and inserted_window_dims (%d) must "
        "together have input 0 (operand)'s rank %d",
        a->num_update_window_dims, a->num_inserted_window_dims, op->rank);
  if (a->index_vector_dim < 0 || a->index_vector_dim > idx->rank)
    return BAD(
        "index_vector_dim is %lld; input 1 (scatter_indices) has rank "
        "%d",
        (long long)a->index_vector_dim, idx->rank);
  int ivd = (int)a->index_vector_dim;
  int64_t vector_len = ivd < idx->rank ? idx->dims[ivd] : 1;
  if (a->num_scatter_dims != vector_len)
    return BAD(
        "scatter_dims_to_operand_dims has %d entries but the index "
        "vectors have %lld",
        a->num_scatter_dims, (long long)vector_len);
  /* the update dimensions outside the window walk the indices' others */
  int batch_rank = idx->rank - (ivd < idx->rank);
  if (upd->rank != batch_rank + a->num_update_window_dims)
    return BAD(
        "input 2 (updates) has rank %d; expected %d (the indices' "
        "batch dimensions and the window's)",
        upd->rank, batch_rank + a->num_update_window_dims);
  for (int d = 0, b = 0; d < upd->rank; d++) {
    if (contains(a->update_window_dims, a->num_update_window_dims, d)) continue;
    if (b == ivd) b++;
    if (upd->dims[d] != idx->dims[b])
      return BAD(
          "input 2 (updates) dimension %d is %lld but input 1 "
          "(scatter_indices) dimension %d is %lld",
          d, (long long)upd->dims[d], b, (long long)idx->dims[b]);
    b++;
  }
  kiln_set_shape(ctx->outputs[0], op->dims, op->rank);
  return NULL;
}

/* result[r] = f(result[r], update[u]) for one element type. */
typedef void (*apply_fn)(void *result, int64_t r, const void *updates,
                         int64_t u, kiln_scatter_function f);

#define DEFINE_APPLY(NAME, T, ADD, MUL)                                     \
  static void NAME(void *result, int64_t r, const void *updates, int64_t u, \
                   kiln_scatter_function f) {                               \
    T *o = result;                                                          \
    T x = o[r], y = ((const T *)updates)[u];                                \
    switch (f) {                                                            \
      case KILN_SCATTER_ADD:                                                \
        o[r] = ADD(T, x, y);                                                \
        break;                                                              \
      case KILN_SCATTER_MUL:                                                \
        o[r] = MUL(T, x, y);                                                \
        break;                                                              \
      case KILN_SCATTER_MAXIMUM: /* std::max(x, y) */                       \
        o[r] = x < y ? y : x;                                               \
        break;                                                              \
      case KILN_SCATTER_MINIMUM: /* std::min(x, y) */                       \
        o[r] = y < x ? y : x;                                               \
        break;                                                              \
      default:                                                              \
        o[r] = y;                                                           \
        break;                                                              \
    }                                                                       \
  }
/* integers wrap: through uint64, free of C's signed overflow */
#define WRAP_ADD(T, x, y) (T)((uint64_t)(x) + (uint64_t)(y))
#define WRAP_MUL(T, x, y) (T)((uint64_t)(x) * (uint64_t)(y))
#define REAL_ADD(T, x, y) (T)((x) + (y))
#define REAL_MUL(T, x, y) (T)((x) * (y))
#define BOOL_ADD(T, x, y) (T)((x) || (y))
#define BOOL_MUL(T, x, y) (T)((x) && (y))

DEFINE_APPLY(apply_f32, float, REAL_ADD, REAL_MUL)
DEFINE_APPLY(apply_f64, double, REAL_ADD, REAL_MUL)
DEFINE_APPLY(apply_i8, int8_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_i16, int16_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_i32, int32_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_i64, int64_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_u8, uint8_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_u16, uint16_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_u32, uint32_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_u64, uint64_t, WRAP_ADD, WRAP_MUL)
DEFINE_APPLY(apply_bool, uint8_t, BOOL_ADD, BOOL_MUL)

/* float16: each operation in float, rounded back to half. */
static void apply_f16(void *result, int64_t r, const void *updates, int64_t u,
                      kiln_scatter_function f) {
  uint16_t *o = result;
  float x = kiln_half_to_float(o[r]);
  float y = kiln_half_to_float(((const uint16_t *)updates)[u]);
  switch (f) {
    case KILN_SCATTER_ADD:
      o[r] = kiln_float_to_half(x + y);
      break;
    case KILN_SCATTER_MUL:
      o[r] = kiln_float_to_half(x * y);
      break;
    case KILN_SCATTER_MAXIMUM:
      if (x < y) o[r] = ((const uint16_t *)updates)[u];
      break;
    case KILN_SCATTER_MINIMUM:
      if (y < x) o[r] = ((const uint16_t *)updates)[u];
      break;
    default:
      o[r] = ((const uint16_t *)updates)[u];
      break;
  }
}

static apply_fn apply_for(kiln_dtype t) {
  switch (t) {
    case KILN_FLOAT16:
      return apply_f16;
    case KILN_FLOAT32:
      return apply_f32;
    case KILN_FLOAT64:
      return apply_f64;
    case KILN_INT8:
      return apply_i8;
    case KILN_INT16:
      return apply_i16;
    case KILN_INT32:
      return apply_i32;
    case KILN_INT64:
      return apply_i64;
    case KILN_UINT8:
      return apply_u8;
    case KILN_UINT16:
      return apply_u16;
    case KILN_UINT32:
      return apply_u32;
    case KILN_UINT64:
      return apply_u64;
    case KILN_BOOL:
      return apply_bool;
    default:
      return NULL;
  }
}

kiln_status *kiln_ref_stablehlo_scatter(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_scatter_attrs *a = ctx->attrs;
  const kiln_tensor *op = ctx->inputs[0], *idx = ctx->inputs[1],
                    *upd = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  apply_fn apply = apply_for(op->dtype);
  if (!apply)
    return kiln_error(KILN_ERR_INTERNAL, "unexpected type %s",
                      kiln_dtype_name(op->dtype));
  size_t nbytes = kiln_tensor_nbytes(op);
  if (out->data != op->data && nbytes) memcpy(out->data, op->data, nbytes);
  int ivd = (int)a->index_vector_dim;
  int64_t idx_stride[KILN_MAX_RANK], s = 1;
  for (int d = idx->rank - 1; d >= 0; d--) {
    idx_stride[d] = s;
    s *= idx->dims[d];
  }
  int64_t step = ivd < idx->rank ? idx_stride[ivd] : 0;
  int64_t n = kiln_tensor_numel(upd), u_idx[KILN_MAX_RANK] = {0};
  for (int64_t u = 0; u < n; u++) {
    /* scatter coordinates -> the index vector's first element; window
     * coordinates in order */
    int64_t at = 0, window[KILN_MAX_RANK], pos[KILN_MAX_RANK] = {0};
    int b = 0, w = 0;
    for (int d = 0; d < upd->rank; d++) {
      if (contains(a->update_window_dims, a->num_update_window_dims, d)) {
        window[w++] = u_idx[d];
      } else {
        if (b == ivd) b++;
        at += u_idx[d] * idx_stride[b++];
      }
    }
    for (int i = 0; i < a->num_scatter_dims; i++) {
      /* beyond +-2^40 an index is out of range whatever the window adds;
       * clamping keeps the sums below from overflowing */
      int64_t v = kiln_tensor_int(idx, at + i * step);
      const int64_t far = (int64_t)1 << 40;
      pos[a->scatter_dims_to_operand_dims[i]] =
          v < -far ? -far : (v > far ? far : v);
    }
    int64_t flat = 0;
    bool inside = true;
    for (int d = 0, j = 0; d < op->rank; d++) {
      if (!contains(a->inserted_window_dims, a->num_inserted_window_dims, d))
        pos[d] += window[j++];
      inside &= pos[d] >= 0 && pos[d] < op->dims[d];
      if (inside) flat = flat * op->dims[d] + pos[d];
    }
    if (inside) apply(out->data, flat, upd->data, u, a->function);
    for (int d = upd->rank - 1; d >= 0; d--) {
      if (++u_idx[d] < upd->dims[d]) break;
      u_idx[d] = 0;
    }
  }
  return NULL;
}
