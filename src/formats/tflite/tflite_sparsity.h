/* tflite_sparsity.h - TFLite's sparse storage of constant tensors
 * (SparsityParameters in schema.fbs): the metadata is checked in full and
 * the stored values are expanded into the dense tensor once, at load, so
 * that every kernel sees an ordinary constant. */
#ifndef KILN_FORMATS_TFLITE_SPARSITY_H
#define KILN_FORMATS_TFLITE_SPARSITY_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"
#include "formats/tflite/flatbuffer.h"
#include "kiln.h"

/* Expands the `size` stored bytes `values` of constant `v` (whose dtype and
 * dense shape are already read) as the SparsityParameters table `sparsity`
 * describes into `dense`, v's byte size of zeroed memory. Checks that the
 * traversal order is a permutation with the original dimensions first, the
 * block map fits the shape, every dense_size matches the dimension it walks,
 * every segment list starts at 0, never decreases and stays within its
 * indices, every index is inside its dimension and increasing within its
 * segment, and that the values are exactly as many as the metadata reaches.
 * Messages name the field ("dim_metadata[1].array_indices[7] ..."). */
kiln_status *kiln_tflite_densify(const kiln_fb_table *sparsity,
                                 const kiln_value *v, const uint8_t *values,
                                 uint64_t size, void *dense);

#endif
