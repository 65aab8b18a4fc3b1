/* variants.h - optimized implementations of operators and how one is
 * chosen. The reference kernel (op_list.h) always exists; a variant may
 * replace it for a node when the CPU has its instruction set and it
 * accepts the node's shapes and attributes. Variants are listed in
 * variant_list.h, best first. */
#ifndef KILN_KERNELS_VARIANTS_H
#define KILN_KERNELS_VARIANTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ops.h"
#include "kiln.h"

typedef struct kiln_kernel_variant {
  kiln_op_type op;
  kiln_isa isa;     /* the lowest instruction set it needs */
  const char *name; /* what it computes and where: "f32-gemm-8x32-avx512" */
  /* At load, from the node's constant inputs (other inputs have data NULL
   * and default shapes): repacks weights into *out_packed, allocated with
   * `a` as one block. Leaves *out_packed NULL when the node does not suit
   * (weights not constant, a window size it does not specialize in): the
   * first packer that packs a node is the only packed variant that may run
   * it, so a specialized packer must decline what it cannot run. NULL when
   * the variant needs no packing. */
  kiln_status *(*pack)(const kiln_op_ctx *ctx, const kiln_allocator *a,
                       void **out_packed);
  /* At prepare, with every shape known: does it handle this node? A
   * variant with `pack` is only asked when it packed the node's weights. */
  bool (*applies)(const kiln_op_ctx *ctx);
  kiln_kernel_fn run;
  /* At prepare, after `applies`: bytes of scratch memory each thread of
   * the pool needs while `run` works (kiln_threadpool_scratch), or NULL for
   * none. The session reserves it then, so invoke allocates nothing; such
   * a variant runs only on a pool (never NULL) that reserved it. */
  size_t (*workspace)(const kiln_op_ctx *ctx);
} kiln_kernel_variant;

/* The best instruction set of this CPU, lowered to `limit` when that is
 * not AUTO, or else to $KILN_ISA when set. */
kiln_isa kiln_isa_resolve(kiln_isa limit);

/* `asked`, or when DEFAULT, $KILN_INT8_ROUNDING ("fp32"; anything else is
 * EXACT). */
kiln_int8_rounding kiln_int8_rounding_resolve(kiln_int8_rounding asked);

/* The first variant for ctx's node that `isa` allows, that packed the
 * node (when it packs) and that applies; NULL: use the reference kernel. */
const kiln_kernel_variant *kiln_variant_select(
    kiln_op_type op, kiln_isa isa, const kiln_kernel_variant *packed_by,
    const kiln_op_ctx *ctx);

/* The first variant for op that packs weights under `isa`, or NULL. */
const kiln_kernel_variant *kiln_variant_packer(kiln_op_type op, kiln_isa isa,
                                               int start, int *out_index);

#endif
