/* stablehlo_reduce_window.c - STABLEHLO_REDUCE_WINDOW as LiteRT runs it.
 * The input is first dilated (base_dilations - 1 holes between neighbours)
 * and padded (padding low/high per dimension; negative amounts crop), the
 * holes and the padding holding init_value; a window of window_dimensions,
 * its taps window_dilations apart, then moves over that by window_strides,
 * and each output element reduces the window's taps, starting from
 * init_value, with what the body subgraph computes (the importer
 * recognized it: ADD, MUL, MINIMUM, MAXIMUM, ALL or ANY).
 *
 * LiteRT materializes the dilated and padded tensors in temporaries;
 * kernels here have no scratch, so each tap maps its position back to the
 * input (or to a hole or the padding, which read init_value) instead. The
 * values combined, and their order (the window's row-major order, into an
 * accumulator of the tensor's type), are LiteRT's: integers wrap, MAXIMUM
 * keeps the accumulator when it is >= the value and MINIMUM when <=, ALL
 * and ANY give 0 or 1, and bool runs as LiteRT's int8 (an ADD counts). */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

#define WINDOW_TYPES                                                    \
  (KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) | KILN_DT(KILN_INT8) | \
   KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64) |    \
   KILN_DT(KILN_UINT8) | KILN_DT(KILN_BOOL))

#define BAD(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

/* Sizes along one dimension of the dilated and the padded input. */
static int64_t dilated_size(int64_t in, int64_t base) {
  return in == 0 ? 0 : (in - 1) * base + 1;
}

kiln_status *kiln_shape_stablehlo_reduce_window(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_reduce_window_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  if (a->function < KILN_WINDOW_ADD || a->function > KILN_WINDOW_ANY)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "the body subgraph %d was not recognized as a reduction",
                      a->body_subgraph);
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  KILN_TRY(kiln_require_input(ctx, 1, "init_value"));
  const kiln_tensor *in = ctx->inputs[0], *init = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype_in(in, WINDOW_TYPES, "input 0 (input)"));
  KILN_TRY(kiln_require_unquantized(in, "input 0 (input)"));
  if (in->rank != a->rank)
    return BAD(
        "input 0 (input) has rank %d but window_dimensions has %d "
        "entries",
        in->rank, a->rank);
  if (init->dtype != in->dtype || kiln_tensor_numel(init) != 1)
    return BAD("input 1 (init_value) must be one %s; it is %s",
               kiln_dtype_name(in->dtype), kiln_dtype_name(init->dtype));
  KILN_TRY(kiln_require_output_dtype(ctx, in->dtype));
  bool padded = false;
  for (int i = 0; i < 2 * a->rank; i++) padded |= a->padding[i] != 0;
  int64_t dims[KILN_MAX_RANK], taps = 1;
  for (int d = 0; d < a->rank; d++) {
    taps *= a->window[d]; /* each at most 2^31: checked before it can wrap */
    if (taps > INT32_MAX)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "the window has more than %d taps", INT32_MAX);
    int64_t size = dilated_size(in->dims[d], a->base_dilations[d]) +
                   a->padding[2 * d] + a->padding[2 * d + 1];
    /* LiteRT refuses padding that leaves nothing (and sizes past int32) */
    if ((padded && size <= 0) || size < 0 || size > INT32_MAX)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "dimension %d of input 0 (input) is %lld after "
                        "dilation and padding",
                        d, (long long)size);
    int64_t span = (a->window[d] - 1) * a->window_dilations[d] + 1;
    dims[d] = size < span ? 0 : (size - span) / a->strides[d] + 1;
  }
  kiln_set_shape(ctx->outputs[0], dims, a->rank);
  return NULL;
}

/* One operation per tap of every window: the work, which base dilation and
 * padding can make far larger than the input. */
double kiln_flops_stablehlo_reduce_window(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_reduce_window_attrs *a = ctx->attrs;
  double taps = 1.0;
  for (int d = 0; d < a->rank; d++) taps *= (double)a->window[d];
  return taps * (double)kiln_tensor_numel(ctx->outputs[0]);
}

/* The input element a tap at position `at` (per dimension, in the dilated
 * and padded input) reads, or -1 for a hole or the padding. */
static int64_t tap_source(const kiln_stablehlo_reduce_window_attrs *a,
                          const kiln_tensor *in, const int64_t *at) {
  int64_t flat = 0;
  for (int d = 0; d < a->rank; d++) {
    int64_t q = at[d] - a->padding[2 * d];
    if (q < 0 || q >= dilated_size(in->dims[d], a->base_dilations[d]) ||
        q % a->base_dilations[d] != 0)
      return -1;
    flat = flat * in->dims[d] + q / a->base_dilations[d];
  }
  return flat;
}

/* Integers combine through uint64 (wrapping as the type's own arithmetic,
 * without C's signed overflow); ALL and ANY give 0 or 1. */
#define COMBINE_INT(T, f, acc, v)                                      \
  ((f) == KILN_WINDOW_ADD       ? (T)((uint64_t)(acc) + (uint64_t)(v)) \
   : (f) == KILN_WINDOW_MUL     ? (T)((uint64_t)(acc) * (uint64_t)(v)) \
   : (f) == KILN_WINDOW_MINIMUM ? ((acc) <= (v) ? (acc) : (v))         \
   : (f) == KILN_WINDOW_MAXIMUM ? ((acc) >= (v) ? (acc) : (v))         \
   : (f) == KILN_WINDOW_ALL     ? (T)((acc) != 0 && (v) != 0)          \
                                : (T)((acc) != 0 || (v) != 0))
#define COMBINE_REAL(T, f, acc, v)                             \
  ((f) == KILN_WINDOW_ADD       ? (T)((acc) + (v))             \
   : (f) == KILN_WINDOW_MUL     ? (T)((acc) * (v))             \
   : (f) == KILN_WINDOW_MINIMUM ? ((acc) <= (v) ? (acc) : (v)) \
   : (f) == KILN_WINDOW_MAXIMUM ? ((acc) >= (v) ? (acc) : (v)) \
   : (f) == KILN_WINDOW_ALL     ? (T)((acc) != 0 && (v) != 0)  \
                                : (T)((acc) != 0 || (v) != 0))

/* Walks every output element and every tap of its window. */
#define REDUCE_WINDOW_LOOP(T, COMBINE)                                      \
  do {                                                                      \
    const T *src = in->data;                                                \
    const T init = *(const T *)ctx->inputs[1]->data;                        \
    T *dst = out->data;                                                     \
    int64_t o_idx[KILN_MAX_RANK] = {0};                                     \
    for (int64_t o = 0; o < n; o++) {                                       \
      T acc = init;                                                         \
      int64_t w_idx[KILN_MAX_RANK] = {0}, at[KILN_MAX_RANK];                \
      for (int64_t t = 0; t < taps; t++) {                                  \
        for (int d = 0; d < rank; d++)                                      \
          at[d] =                                                           \
              o_idx[d] * a->strides[d] + w_idx[d] * a->window_dilations[d]; \
        int64_t i = tap_source(a, in, at);                                  \
        T v = i < 0 ? init : src[i];                                        \
        acc = COMBINE(T, a->function, acc, v);                              \
        for (int d = rank - 1; d >= 0; d--) {                               \
          if (++w_idx[d] < a->window[d]) break;                             \
          w_idx[d] = 0;                                                     \
        }                                                                   \
      }                                                                     \
      dst[o] = acc;                                                         \
      for (int d = rank - 1; d >= 0; d--) {                                 \
        if (++o_idx[d] < out->dims[d]) break;                               \
        o_idx[d] = 0;                                                       \
      }                                                                     \
    }                                                                       \
  } while (0)

kiln_status *kiln_ref_stablehlo_reduce_window(const kiln_op_ctx *ctx) {
  const kiln_stablehlo_reduce_window_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int rank = a->rank;
  int64_t n = kiln_tensor_numel(out), taps = 1;
  for (int d = 0; d < rank; d++) taps *= a->window[d];
  switch (in->dtype) {
    case KILN_FLOAT32:
      REDUCE_WINDOW_LOOP(float, COMBINE_REAL);
      break;
    case KILN_FLOAT64:
      REDUCE_WINDOW_LOOP(double, COMBINE_REAL);
      break;
    case KILN_INT8:
    case KILN_BOOL: /* LiteRT's int8 */
      REDUCE_WINDOW_LOOP(int8_t, COMBINE_INT);
      break;
    case KILN_UINT8:
      REDUCE_WINDOW_LOOP(uint8_t, COMBINE_INT);
      break;
    case KILN_INT16:
      REDUCE_WINDOW_LOOP(int16_t, COMBINE_INT);
      break;
    case KILN_INT32:
      REDUCE_WINDOW_LOOP(int32_t, COMBINE_INT);
      break;
    case KILN_INT64:
      REDUCE_WINDOW_LOOP(int64_t, COMBINE_INT);
      break;
    default:
      return kiln_error(KILN_ERR_INTERNAL, "unexpected type %s",
                        kiln_dtype_name(in->dtype));
  }
  return NULL;
}
