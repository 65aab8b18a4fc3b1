/* movement_test_util.h - any-dtype tensors and indices for movement tests. */
/* Header-only (static inline): each test is one binary with harness.c. */
#ifndef KILN_TEST_MOVEMENT_UTIL_H
#define KILN_TEST_MOVEMENT_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The dtypes the generic kernels are exercised with. */
static const kiln_dtype kMoveDtypes[] = {
    KILN_FLOAT32, KILN_INT32, KILN_INT64, KILN_BOOL, KILN_INT8, KILN_FLOAT16};
#define NUM_MOVE_DTYPES ((int)(sizeof kMoveDtypes / sizeof kMoveDtypes[0]))

static inline kiln_dtype random_dtype(void) {
  return kMoveDtypes[kiln_test_int(0, NUM_MOVE_DTYPES - 1)];
}

/* A tensor of random, distinguishable values (bool: 0 or 1). */
static inline kiln_tensor *random_tensor(kiln_dtype dtype, int rank,
                                         const int64_t *dims) {
  kiln_tensor *t = kiln_test_tensor(dtype, rank, dims);
  size_t elem = kiln_dtype_size(dtype);
  unsigned char *bytes = t->data;
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++) {
    for (size_t b = 0; b < elem; b++)
      bytes[i * elem + b] = (unsigned char)kiln_test_rand();
    if (dtype == KILN_BOOL) bytes[i] &= 1;
    if (dtype == KILN_FLOAT32) ((float *)t->data)[i] = (float)i + 0.5f;
  }
  return t;
}

/* An output placeholder: only the dtype matters before running the op. */
static inline kiln_tensor *output_tensor(kiln_dtype dtype) {
  return kiln_test_tensor(dtype, 0, NULL);
}

/* A 1-D int32 or int64 tensor holding values. */
static inline kiln_tensor *int_vector(kiln_dtype dtype, int n,
                                      const int64_t *values) {
  int64_t dims[1] = {n};
  kiln_tensor *t = kiln_test_tensor(dtype, 1, dims);
  for (int i = 0; i < n; i++) {
    if (dtype == KILN_INT64)
      ((int64_t *)t->data)[i] = values[i];
    else
      ((int32_t *)t->data)[i] = (int32_t)values[i];
  }
  return t;
}

/* A scalar (rank 0) int tensor. */
static inline kiln_tensor *int_scalar(kiln_dtype dtype, int64_t value) {
  kiln_tensor *t = int_vector(dtype, 1, &value);
  t->rank = 0;
  return t;
}

static inline kiln_dtype random_int_dtype(void) {
  return kiln_test_int(0, 1) ? KILN_INT64 : KILN_INT32;
}

static inline void random_dims(int rank, int lo, int hi, int64_t *dims) {
  for (int k = 0; k < rank; k++) dims[k] = kiln_test_int(lo, hi);
}

/* Row-major flat index <-> multi-index. */
static inline void unravel(int64_t flat, const int64_t *dims, int rank,
                           int64_t *index) {
  for (int k = rank - 1; k >= 0; k--) {
    index[k] = dims[k] ? flat % dims[k] : 0;
    flat = dims[k] ? flat / dims[k] : 0;
  }
}

static inline int64_t ravel(const int64_t *index, const int64_t *dims,
                            int rank) {
  int64_t flat = 0;
  for (int k = 0; k < rank; k++) flat = flat * dims[k] + index[k];
  return flat;
}

static inline int same_element(const kiln_tensor *a, int64_t ia,
                               const kiln_tensor *b, int64_t ib) {
  size_t elem = kiln_dtype_size(a->dtype);
  return memcmp((const char *)a->data + ia * elem,
                (const char *)b->data + ib * elem, elem) == 0;
}

static inline int same_shape(const kiln_tensor *t, const int64_t *dims,
                             int rank) {
  if (t->rank != rank) return 0;
  for (int k = 0; k < rank; k++)
    if (t->dims[k] != dims[k]) return 0;
  return 1;
}

/* Runs a one-output op with an output of `dtype`. The output goes to *out,
 * or is released when out is NULL. */
static inline kiln_status *run_one(kiln_op_type op, const void *attrs,
                                   kiln_tensor **in, int n, kiln_dtype dtype,
                                   kiln_tensor **out) {
  kiln_tensor *result = output_tensor(dtype);
  kiln_status *st = kiln_test_run_op(op, attrs, in, n, &result, 1);
  if (out)
    *out = result;
  else
    kiln_test_tensor_free(result);
  return st;
}

/* Where output element `index` (a multi-index of out) comes from: a flat
 * index into the input. */
typedef int64_t (*source_fn)(const int64_t *index, const void *context);

/* Checks every element of out equals the input element `source` names;
 * reports the first that differs. */
static inline int check_sources(const kiln_tensor *out, const kiln_tensor *in,
                                source_fn source, const void *context) {
  for (int64_t i = 0; i < kiln_tensor_numel(out); i++) {
    int64_t index[KILN_MAX_RANK] = {0};
    unravel(i, out->dims, out->rank, index);
    if (!same_element(out, i, in, source(index, context))) {
      fprintf(stderr, "output element %lld differs\n", (long long)i);
      return 0;
    }
  }
  return 1;
}

/* Releases n tensors; NULL entries are skipped. */
static inline void free_tensors(kiln_tensor **list, int n) {
  for (int i = 0; i < n; i++) kiln_test_tensor_free(list[i]);
}

#endif
