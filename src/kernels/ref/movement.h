/* movement.h - helpers shared by the data-movement reference kernels. */
#ifndef KILN_KERNELS_REF_MOVEMENT_H
#define KILN_KERNELS_REF_MOVEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* TILE views its output as [m0,d0,m1,d1,...], twice the tensor rank. */
#define KILN_COPY_MAX_RANK (2 * KILN_MAX_RANK)

/* A strided n-d copy: element (i0..in-1) goes from
 * src + sum(i_k * src_strides[k]) to dst + sum(i_k * dst_strides[k]), with
 * strides in elements (negative and zero allowed) and the pointers already at
 * the first element. One loop serves transpose, slices, tile, broadcast and
 * pad, so their kernels only describe the mapping. */
typedef struct kiln_copy_plan {
  int rank;
  int64_t counts[KILN_COPY_MAX_RANK];
  int64_t src_strides[KILN_COPY_MAX_RANK];
  int64_t dst_strides[KILN_COPY_MAX_RANK];
} kiln_copy_plan;

void kiln_strided_copy(void *dst, const void *src, size_t elem_size,
                       const kiln_copy_plan *plan);

/* Sets dst_strides so the destination is dense in row-major order. */
void kiln_copy_plan_dense_dst(kiln_copy_plan *plan);

/* Row-major strides (in elements) of a shape. */
void kiln_dense_strides(const int64_t *dims, int rank, int64_t *strides);

/* Advances a row-major multi-index; returns false after the last one. */
bool kiln_next_index(int64_t *index, const int64_t *dims, int rank);

/* Fills count elements of elem_size bytes with the element at value. */
void kiln_fill_elements(void *dst, int64_t count, const void *value,
                        size_t elem_size);

/* Checks a shape computed from tensor values: no negative dimension and a
 * byte size that fits. `role` names where the shape came from. */
kiln_status *kiln_check_shape(const int64_t *dims, int rank, kiln_dtype dtype,
                              const char *role);

/* Reads a known 1-D int32/int64 input `index` into values[count]: checks it is
 * present, known, integer and has exactly `count` elements (count < 0: any
 * number) and at most `max`. Sets *out_count. values NULL: checks only. */
kiln_status *kiln_read_int_vector(const kiln_op_ctx *ctx, int index,
                                  const char *role, int count, int max,
                                  int64_t *values, int *out_count);

/* Reads a known int32/int64 input `index` holding one element (a scalar or a
 * one-element vector, as TFLite's converters produce both). */
kiln_status *kiln_read_int_scalar(const kiln_op_ctx *ctx, int index,
                                  const char *role, int64_t *value);

/* PAD / PADV2: the paddings of each axis (input 1, checked), and the
 * element the padding holds (value: at least 16 bytes). */
kiln_status *kiln_pad_read_paddings(const kiln_op_ctx *ctx, int64_t *before,
                                    int64_t *after);
void kiln_pad_value(const kiln_op_ctx *ctx, unsigned char *value);

/* Checks the output's dtype equals the input's (data movement keeps it). */
kiln_status *kiln_require_same_dtype(const kiln_tensor *in,
                                     const kiln_tensor *out, const char *role);

/* The common checks of an op that moves input 0 ("data") into its one
 * output: input count in [min_inputs, max_inputs], data present, dtype kept. */
kiln_status *kiln_check_movement_op(const kiln_op_ctx *ctx, int min_inputs,
                                    int max_inputs);

#endif
