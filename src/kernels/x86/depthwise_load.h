/* depthwise_load.h - what the channel-blocked DEPTHWISE_CONV_2D variants,
 * float (x86/depthwise_*.c) and int8 (qdw/), share at load and prepare:
 * which nodes they can take (the [1,KH,KW,C] filter with depth multiplier
 * 1, the window kinds with a specialized microkernel) and the block their
 * packed weights live in. Each family adds its own checks on top (the
 * float activations the epilogue computes, the int8 output and
 * quantization block). */
#ifndef KILN_KERNELS_X86_DEPTHWISE_LOAD_H
#define KILN_KERNELS_X86_DEPTHWISE_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/kernel.h"
#include "kernels/x86/x86_kernels.h"

/* The checks that need no weights: an NHWC input and a [1,KH,KW,C] filter
 * of dtype `data`, depth multiplier 1, an optional [C] bias of dtype
 * `bias`, one output tensor, SAME or VALID padding and positive strides
 * and dilations. At load only constants have data and no shape function
 * has run, so nothing here is taken for granted; when it returns true,
 * inputs[0], inputs[1] and outputs[0] are non-NULL. */
bool kiln_dw_node_fits(const kiln_op_ctx *ctx, kiln_dtype data,
                       kiln_dtype bias);

/* Whether a node that kiln_dw_node_fits accepts has the window `kind`
 * specializes (GENERIC takes any). */
bool kiln_dw_kind_fits(const kiln_op_ctx *ctx, kiln_dw_kind kind);

/* One allocation from `al` for packed weights: a `header_size`-byte
 * header, then `payload_size` zeroed bytes starting on a KILN_ALIGNMENT
 * boundary, *offset bytes into the block (it is the header's job to
 * remember it). NULL when out of memory. */
void *kiln_dw_alloc_packed(const kiln_allocator *al, size_t header_size,
                           size_t payload_size, size_t *offset);

#endif
