/* bucketize.c - BUCKETIZE: for each input value, the number of boundaries
 * (BucketizeOptions, ascending float32s) that are <= it, as int32; the
 * index of the first boundary greater than the value, as TFLite's
 * upper_bound gives it. Inputs are float32, float64, int32 or int64 and
 * compare as TFLite's C++ does: integers and float32 as float32 against the
 * boundaries, float64 with the boundaries widened to double. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

#define BUCKETIZE_TYPES                                                  \
  (KILN_DT(KILN_FLOAT32) | KILN_DT(KILN_FLOAT64) | KILN_DT(KILN_INT32) | \
   KILN_DT(KILN_INT64))

static float boundary(const kiln_bucketize_attrs *a, int32_t i) {
  float f;
  memcpy(&f, a->boundaries + 4 * (size_t)i, sizeof f);
  return f;
}

kiln_status *kiln_shape_bucketize(const kiln_op_ctx *ctx) {
  const kiln_bucketize_attrs *a = ctx->attrs;
  if (a->count < 0 || (a->count > 0 && !a->boundaries))
    return kiln_error(KILN_ERR_INVALID_MODEL, "has %d boundaries but no data",
                      a->count);
  /* TFLite refuses unsorted boundaries (NaN compares as sorted there too:
   * only a strictly smaller successor counts). */
  for (int32_t i = 1; i < a->count; i++)
    if (boundary(a, i) < boundary(a, i - 1))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "boundaries must be sorted ascending, but boundary "
                        "%d (%g) is below boundary %d (%g)",
                        i, (double)boundary(a, i), i - 1,
                        (double)boundary(a, i - 1));
  KILN_TRY(kiln_shape_map(ctx, BUCKETIZE_TYPES, KILN_INT32));
  return NULL;
}

/* First boundary index whose value is above x (comparisons as `x < b`). */
#define UPPER_BOUND(a, x, less)             \
  do {                                      \
    int32_t lo_ = 0, hi_ = a->count;        \
    while (lo_ < hi_) {                     \
      int32_t mid_ = lo_ + (hi_ - lo_) / 2; \
      if (less(x, boundary(a, mid_)))       \
        hi_ = mid_;                         \
      else                                  \
        lo_ = mid_ + 1;                     \
    }                                       \
    result = lo_;                           \
  } while (0)

#define LESS_FLOAT(x, b) ((float)(x) < (b))
#define LESS_DOUBLE(x, b) ((x) < (double)(b))

kiln_status *kiln_ref_bucketize(const kiln_op_ctx *ctx) {
  const kiln_bucketize_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0];
  int32_t *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(in);
  for (int64_t i = 0; i < n; i++) {
    int32_t result;
    switch (in->dtype) {
      case KILN_FLOAT64: {
        double x = ((const double *)in->data)[i];
        UPPER_BOUND(a, x, LESS_DOUBLE);
        break;
      }
      case KILN_FLOAT32: {
        float x = ((const float *)in->data)[i];
        UPPER_BOUND(a, x, LESS_FLOAT);
        break;
      }
      case KILN_INT32: {
        int32_t x = ((const int32_t *)in->data)[i];
        UPPER_BOUND(a, x, LESS_FLOAT);
        break;
      }
      default: {
        int64_t x = ((const int64_t *)in->data)[i];
        UPPER_BOUND(a, x, LESS_FLOAT);
        break;
      }
    }
    out[i] = result;
  }
  return NULL;
}
