/* stablehlo_elementwise.c - the StableHLO binary operators LiteRT 2.3's
 * builtin resolver runs: STABLEHLO_ADD, MULTIPLY, MAXIMUM, MINIMUM, AND and
 * SHIFT_LEFT. They differ from the TFLite builtins of the same names enough
 * to need their own kernels: no broadcasting (both operands have one
 * shape), no fused activation, and every fixed-size type LiteRT takes:
 * float16/32/64, int8/16/32/64, uint8/16/32/64 (ADD, MULTIPLY, MAXIMUM and
 * MINIMUM) and bool, integers wrapping. MAXIMUM
 * and MINIMUM are C++'s std::max / std::min (NaN in the first operand
 * stays, in the second is dropped), bool ADD is OR and MULTIPLY AND, as
 * C++'s bool arithmetic gives. AND is bitwise (logical for bool).
 * SHIFT_LEFT takes int8/16/32 and shifts the value widened to 32 bits; a
 * shift outside [0, 31] (undefined in LiteRT's C++) gives 0, StableHLO's
 * rule. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

#define ARITH_TYPES                                                        \
  (KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) | \
   KILN_DT(KILN_INT8) | KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32) |        \
   KILN_DT(KILN_INT64) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_UINT16) |      \
   KILN_DT(KILN_UINT32) | KILN_DT(KILN_UINT64) | KILN_DT(KILN_BOOL))
#define AND_TYPES                                                   \
  (KILN_DT(KILN_INT8) | KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32) | \
   KILN_DT(KILN_INT64) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_BOOL))
#define SHIFT_TYPES \
  (KILN_DT(KILN_INT8) | KILN_DT(KILN_INT16) | KILN_DT(KILN_INT32))

typedef enum hlo_op {
  HLO_ADD,
  HLO_MUL,
  HLO_MAX,
  HLO_MIN,
  HLO_AND,
  HLO_SHL
} hlo_op;

static kiln_status *shape_same(const kiln_op_ctx *ctx, kiln_dtype_mask mask) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "lhs"));
  KILN_TRY(kiln_require_input(ctx, 1, "rhs"));
  const kiln_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
  char sa[KILN_DIMS_STR_SIZE], sb[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype_in(a, mask, "input 0 (lhs)"));
  KILN_TRY(kiln_require_unquantized(a, "input 0 (lhs)"));
  KILN_TRY(kiln_require_unquantized(b, "input 1 (rhs)"));
  if (b->dtype != a->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (rhs) has type %s but input 0 (lhs) has %s",
                      kiln_dtype_name(b->dtype), kiln_dtype_name(a->dtype));
  bool same = a->rank == b->rank;
  for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
  if (!same)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (rhs) has shape %s but input 0 (lhs) has %s; "
                      "StableHLO operands do not broadcast",
                      kiln_dims_str(b->dims, b->rank, sb, sizeof sb),
                      kiln_dims_str(a->dims, a->rank, sa, sizeof sa));
  KILN_TRY(kiln_require_output_dtype(ctx, a->dtype));
  kiln_set_shape(ctx->outputs[0], a->dims, a->rank);
  return NULL;
}

kiln_status *kiln_shape_stablehlo_arith(const kiln_op_ctx *ctx) {
  return shape_same(ctx, ARITH_TYPES);
}
kiln_status *kiln_shape_stablehlo_and(const kiln_op_ctx *ctx) {
  return shape_same(ctx, AND_TYPES);
}
kiln_status *kiln_shape_stablehlo_shift_left(const kiln_op_ctx *ctx) {
  return shape_same(ctx, SHIFT_TYPES);
}

static double real_op(hlo_op op, double a, double b) {
  switch (op) {
    case HLO_ADD:
      return a + b;
    case HLO_MUL:
      return a * b;
    case HLO_MAX:
      return a < b ? b : a;
    case HLO_MIN:
      return b < a ? b : a;
    default:
      return 0.0;
  }
}

/* Integers: sums and products in unsigned 64-bit arithmetic (wrapping),
 * stored back to the type's width by the caller. */
static int64_t int_op(hlo_op op, int64_t a, int64_t b) {
  switch (op) {
    case HLO_ADD:
      return (int64_t)((uint64_t)a + (uint64_t)b);
    case HLO_MUL:
      return (int64_t)((uint64_t)a * (uint64_t)b);
    case HLO_MAX:
      return a < b ? b : a;
    case HLO_MIN:
      return b < a ? b : a;
    case HLO_AND:
      return a & b;
    case HLO_SHL:
      return b < 0 || b > 31 ? 0 : (int64_t)(uint32_t)((uint32_t)a << b);
  }
  return 0;
}

static kiln_status *run(const kiln_op_ctx *ctx, hlo_op op) {
  const kiln_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
  kiln_tensor *y = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(a);
  switch (a->dtype) {
    case KILN_FLOAT32: {
      const float *pa = a->data, *pb = b->data;
      float *py = y->data;
      /* float sums and products are exact in double, so one rounding to
       * float gives float arithmetic's result */
      for (int64_t i = 0; i < n; i++) py[i] = (float)real_op(op, pa[i], pb[i]);
      return NULL;
    }
    case KILN_FLOAT64: {
      const double *pa = a->data, *pb = b->data;
      double *py = y->data;
      for (int64_t i = 0; i < n; i++) py[i] = real_op(op, pa[i], pb[i]);
      return NULL;
    }
    case KILN_FLOAT16: {
      /* as Eigen::half: in float, rounded to half */
      const uint16_t *pa = a->data, *pb = b->data;
      uint16_t *py = y->data;
      for (int64_t i = 0; i < n; i++) {
        float r = (float)real_op(op, kiln_half_to_float(pa[i]),
                                 kiln_half_to_float(pb[i]));
        py[i] = kiln_float_to_half(r);
      }
      return NULL;
    }
    case KILN_BOOL: {
      const uint8_t *pa = a->data, *pb = b->data;
      uint8_t *py = y->data;
      for (int64_t i = 0; i < n; i++) {
        bool u = pa[i] != 0, v = pb[i] != 0;
        py[i] = (op == HLO_ADD || op == HLO_MAX) ? (u || v) : (u && v);
      }
      return NULL;
    }
    case KILN_UINT64: {
      /* past INT64_MAX kiln_tensor_int's int64 would order wrongly */
      const uint64_t *pa = a->data, *pb = b->data;
      uint64_t *py = y->data;
      for (int64_t i = 0; i < n; i++)
        py[i] = op == HLO_ADD   ? pa[i] + pb[i]
                : op == HLO_MUL ? pa[i] * pb[i]
                : op == HLO_MAX ? (pa[i] < pb[i] ? pb[i] : pa[i])
                                : (pb[i] < pa[i] ? pb[i] : pa[i]);
      return NULL;
    }
    default:
      for (int64_t i = 0; i < n; i++)
        kiln_store_int(
            y, i, int_op(op, kiln_tensor_int(a, i), kiln_tensor_int(b, i)));
      return NULL;
  }
}

kiln_status *kiln_ref_stablehlo_add(const kiln_op_ctx *ctx) {
  return run(ctx, HLO_ADD);
}
kiln_status *kiln_ref_stablehlo_multiply(const kiln_op_ctx *ctx) {
  return run(ctx, HLO_MUL);
}
kiln_status *kiln_ref_stablehlo_maximum(const kiln_op_ctx *ctx) {
  return run(ctx, HLO_MAX);
}
kiln_status *kiln_ref_stablehlo_minimum(const kiln_op_ctx *ctx) {
  return run(ctx, HLO_MIN);
}
kiln_status *kiln_ref_stablehlo_and(const kiln_op_ctx *ctx) {
  return run(ctx, HLO_AND);
}
kiln_status *kiln_ref_stablehlo_shift_left(const kiln_op_ctx *ctx) {
  return run(ctx, HLO_SHL);
}
