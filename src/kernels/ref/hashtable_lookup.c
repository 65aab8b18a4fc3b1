/* hashtable_lookup.c - HASHTABLE_LOOKUP, TFLite's old builtin 10 (not the
 * resource hash tables): inputs lookup int32 [N], keys int32 [K] (sorted
 * ascending) and values [K, ...] of any fixed-size type; outputs the rows
 * of values whose key equals each lookup value, [N, ...] (zeros where none
 * does), and hits uint8 [N] (1 where found).
 *
 * The search makes the probes of glibc's bsearch, which LiteRT calls, with
 * LiteRT's comparator (the 32-bit difference of the two keys, wrapping):
 * with sorted keys any search finds the same row, and with unsorted or
 * extreme keys this one still finds (or misses) what LiteRT does. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

kiln_status *kiln_shape_hashtable_lookup(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 2));
  KILN_TRY(kiln_require_input(ctx, 0, "lookup"));
  KILN_TRY(kiln_require_input(ctx, 1, "keys"));
  KILN_TRY(kiln_require_input(ctx, 2, "values"));
  const kiln_tensor *lookup = ctx->inputs[0], *keys = ctx->inputs[1],
                    *values = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0], *hits = ctx->outputs[1];
  char buf[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype(lookup, KILN_INT32, "input 0 (lookup)"));
  KILN_TRY(kiln_require_rank(lookup, 1, "input 0 (lookup)"));
  KILN_TRY(kiln_require_dtype(keys, KILN_INT32, "input 1 (keys)"));
  KILN_TRY(kiln_require_rank(keys, 1, "input 1 (keys)"));
  if (values->rank < 1 || values->dims[0] != keys->dims[0])
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 2 (values) must have one row per key (%lld), "
        "has shape %s",
        (long long)keys->dims[0],
        kiln_dims_str(values->dims, values->rank, buf, sizeof buf));
  if (out->dtype != values->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 (output) has type %s but input 2 (values) "
                      "has %s",
                      kiln_dtype_name(out->dtype),
                      kiln_dtype_name(values->dtype));
  if (hits->dtype != KILN_UINT8)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 1 (hits) has type %s; expected uint8",
                      kiln_dtype_name(hits->dtype));
  if (keys->dims[0] > INT32_MAX)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 1 (keys) has %lld keys; at most %d are supported",
                      (long long)keys->dims[0], INT32_MAX);
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, values->dims, sizeof dims);
  dims[0] = lookup->dims[0];
  kiln_set_shape(out, dims, values->rank);
  kiln_set_shape(hits, dims, 1);
  return NULL;
}

/* glibc's bsearch over keys[0..n) for `key`: the index found, or -1. */
static int64_t find_key(const int32_t *keys, int64_t n, int32_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    int32_t order = (int32_t)((uint32_t)key - (uint32_t)keys[mid]);
    if (order < 0)
      hi = mid;
    else if (order > 0)
      lo = mid + 1;
    else
      return mid;
  }
  return -1;
}

kiln_status *kiln_ref_hashtable_lookup(const kiln_op_ctx *ctx) {
  const kiln_tensor *lookup = ctx->inputs[0], *keys = ctx->inputs[1],
                    *values = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  uint8_t *hits = ctx->outputs[1]->data;
  int64_t rows = keys->dims[0], n = lookup->dims[0];
  size_t row_bytes = kiln_dtype_size(values->dtype);
  for (int d = 1; d < values->rank; d++) row_bytes *= (size_t)values->dims[d];
  const int32_t *want = lookup->data;
  unsigned char *dst = out->data;
  const unsigned char *src = values->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t row = find_key(keys->data, rows, want[i]);
    hits[i] = row >= 0;
    if (row >= 0)
      memcpy(dst + (size_t)i * row_bytes, src + (size_t)row * row_bytes,
             row_bytes);
    else
      memset(dst + (size_t)i * row_bytes, 0, row_bytes);
  }
  return NULL;
}
