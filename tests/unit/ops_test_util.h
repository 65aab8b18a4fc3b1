/* ops_test_util.h - shapes, typed values and a poisoned-output runner for
 * the unit tests of issue 9's math, logical and reduction kernels.
 * Header-only (static inline): each test is one binary with harness.c. */
#ifndef KILN_TEST_OPS_UTIL_H
#define KILN_TEST_OPS_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "harness.h"

typedef struct tshape {
  int rank;
  int64_t dims[KILN_MAX_RANK];
} tshape;

static inline int64_t tshape_numel(const tshape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) n *= s->dims[i];
  return n;
}

/* Rank 0..max_rank, dims 1..4, and (one time in `empty_odds`) a 0 dim. */
static inline tshape random_tshape(int max_rank, int empty_odds) {
  tshape s = {kiln_test_int(0, max_rank), {0}};
  for (int i = 0; i < s.rank; i++)
    s.dims[i] = (empty_odds && kiln_test_int(1, empty_odds) == 1)
                    ? 0
                    : kiln_test_int(1, 4);
  return s;
}

/* Two shapes that broadcast together: a random base, each side keeping a
 * random trailing part of it with some dims replaced by 1 (sometimes every
 * dim, sometimes none), 0-sized dims included now and then. */
static inline void random_broadcast_pair(tshape *a, tshape *b) {
  tshape base = random_tshape(4, 12);
  tshape *sides[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    tshape *s = sides[k];
    s->rank = kiln_test_int(0, base.rank);
    if (k == 1 && kiln_test_int(0, 2) == 0) s->rank = base.rank;
    int ones = kiln_test_int(0, 3); /* 0: keep all, else 1-in-`ones` */
    for (int i = 0; i < s->rank; i++) {
      int64_t d = base.dims[base.rank - s->rank + i];
      s->dims[i] = (ones && kiln_test_int(1, ones) == 1) ? 1 : d;
    }
  }
  if (kiln_test_int(0, 1)) {
    tshape t = *a;
    *a = *b;
    *b = t;
  }
}

static inline tshape broadcast_of(const tshape *a, const tshape *b) {
  tshape out = {a->rank > b->rank ? a->rank : b->rank, {0}};
  for (int d = 0; d < out.rank; d++) {
    int ia = d - (out.rank - a->rank), ib = d - (out.rank - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    out.dims[d] = da == 1 ? db : da;
  }
  return out;
}

/* Flat index into `in` of flat output element f (broadcast axes pinned). */
static inline int64_t broadcast_source(const tshape *out, const tshape *in,
                                       int64_t f) {
  int64_t idx[KILN_MAX_RANK];
  for (int d = out->rank - 1; d >= 0; d--) {
    idx[d] = f % out->dims[d];
    f /= out->dims[d];
  }
  int64_t flat = 0;
  for (int j = 0; j < in->rank; j++) {
    int64_t i = in->dims[j] == 1 ? 0 : idx[out->rank - in->rank + j];
    flat = flat * in->dims[j] + i;
  }
  return flat;
}

static inline bool tensor_has_tshape(const kiln_tensor *t, const tshape *s) {
  if (t->rank != s->rank) return false;
  for (int i = 0; i < s->rank; i++)
    if (t->dims[i] != s->dims[i]) return false;
  return true;
}

static inline kiln_tensor *tensor_of(kiln_dtype dtype, const tshape *s) {
  return kiln_test_tensor(dtype, s->rank, s->dims);
}

/* ---- typed element access, written apart from the library's ---- */

static inline int64_t geti(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_INT8:
      return ((const int8_t *)t->data)[i];
    case KILN_UINT8:
    case KILN_BOOL:
      return ((const uint8_t *)t->data)[i];
    case KILN_INT16:
      return ((const int16_t *)t->data)[i];
    case KILN_INT32:
      return ((const int32_t *)t->data)[i];
    case KILN_INT64:
      return ((const int64_t *)t->data)[i];
    case KILN_UINT16:
      return ((const uint16_t *)t->data)[i];
    case KILN_UINT32:
      return ((const uint32_t *)t->data)[i];
    case KILN_UINT64: /* past INT64_MAX as two's complement */
      return (int64_t)((const uint64_t *)t->data)[i];
    case KILN_FLOAT32:
      return (int64_t)((const float *)t->data)[i];
    default:
      return 0;
  }
}

static inline double getd(const kiln_tensor *t, int64_t i) {
  if (t->dtype == KILN_FLOAT32) return ((const float *)t->data)[i];
  if (t->dtype == KILN_FLOAT64) return ((const double *)t->data)[i];
  return (double)geti(t, i);
}

/* Sets element i to v (floats exactly as given, ints truncated). */
static inline void setv(kiln_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
    case KILN_FLOAT32:
      ((float *)t->data)[i] = (float)v;
      break;
    case KILN_INT8:
      ((int8_t *)t->data)[i] = (int8_t)v;
      break;
    case KILN_UINT8:
      ((uint8_t *)t->data)[i] = (uint8_t)v;
      break;
    case KILN_BOOL:
      ((uint8_t *)t->data)[i] = v != 0;
      break;
    case KILN_INT16:
      ((int16_t *)t->data)[i] = (int16_t)v;
      break;
    case KILN_INT32:
      ((int32_t *)t->data)[i] = (int32_t)v;
      break;
    case KILN_INT64:
      ((int64_t *)t->data)[i] = (int64_t)v;
      break;
    case KILN_UINT16:
      ((uint16_t *)t->data)[i] = (uint16_t)(int64_t)v; /* negatives wrap */
      break;
    case KILN_UINT32:
      ((uint32_t *)t->data)[i] = (uint32_t)(int64_t)v;
      break;
    case KILN_UINT64:
      ((uint64_t *)t->data)[i] = (uint64_t)(int64_t)v;
      break;
    case KILN_FLOAT64:
      ((double *)t->data)[i] = v;
      break;
    default:
      break;
  }
}

/* v reduced to the dtype's width as two's complement. */
static inline int64_t wrap_to(kiln_dtype t, int64_t v) {
  switch (t) {
    case KILN_INT8:
      return (int8_t)(uint8_t)(uint64_t)v;
    case KILN_UINT8:
      return (uint8_t)(uint64_t)v;
    case KILN_INT16:
      return (int16_t)(uint16_t)(uint64_t)v;
    case KILN_INT32:
      return (int32_t)(uint32_t)(uint64_t)v;
    case KILN_UINT16:
      return (uint16_t)(uint64_t)v;
    case KILN_UINT32:
      return (uint32_t)(uint64_t)v;
    default:
      return v;
  }
}

/* Fills with uniform integers in [lo, hi] (floats: uniform reals). */
static inline void fill_random(kiln_tensor *t, double lo, double hi) {
  int64_t n = kiln_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    if (t->dtype == KILN_FLOAT32)
      setv(t, i, kiln_test_uniform((float)lo, (float)hi));
    else if (t->dtype == KILN_BOOL)
      setv(t, i, kiln_test_int(0, 1));
    else
      setv(t, i, kiln_test_int((int)lo, (int)hi));
  }
}

/* Runs op like kiln_test_run_op, but the outputs' new buffers start full
 * of 0xA5 bytes, so an element the kernel forgets to write shows. */
static inline kiln_status *run_poisoned(kiln_op_type op, const void *attrs,
                                        kiln_tensor **inputs, int num_inputs,
                                        kiln_tensor *out) {
  kiln_tensor *outs[1] = {out};
  kiln_op_ctx ctx = {attrs, inputs, num_inputs, outs, 1, NULL, NULL, NULL};
  KILN_TRY(kiln_op_table[op].shape(&ctx));
  free(out->data);
  size_t bytes = kiln_tensor_nbytes(out);
  out->data = malloc(bytes + 1);
  memset(out->data, 0xA5, bytes + 1);
  return kiln_op_table[op].reference(&ctx);
}

/* Runs only op's shape function (for error cases). */
static inline kiln_status *shape_only(kiln_op_type op, const void *attrs,
                                      kiln_tensor **inputs, int num_inputs,
                                      kiln_tensor *out) {
  kiln_tensor *outs[1] = {out};
  kiln_op_ctx ctx = {attrs, inputs, num_inputs, outs, 1, NULL, NULL, NULL};
  return kiln_op_table[op].shape(&ctx);
}

#endif
