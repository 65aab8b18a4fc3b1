/* ops.h - operator ids and the operator table (see op_list.h). */
#ifndef KILN_CORE_OPS_H
#define KILN_CORE_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/kernel.h"

typedef enum kiln_op_type {
#define KILN_OP(id, attrs, shape, ref, flops) KILN_OP_##id,
#include "core/op_list.h"
#undef KILN_OP
  KILN_OP_COUNT
} kiln_op_type;

typedef struct kiln_op_def {
  const char *name;  /* "CONV_2D" */
  size_t attrs_size; /* sizeof the attribute struct */
  kiln_shape_fn shape;
  kiln_kernel_fn reference;
  kiln_flops_fn flops;
} kiln_op_def;

extern const kiln_op_def kiln_op_table[KILN_OP_COUNT];

/* Ops from here on are made by passes only: no file format maps them. */
#define KILN_OP_FIRST_INTERNAL KILN_OP_FUSED_BOTTLENECK

/* Ops the session runs itself rather than through the table's kernel
 * (custom callbacks, control flow and resource variables), and the random
 * ops, whose kernels draw from per-node session state. Passes never
 * evaluate them at load nor the session at prepare (they may have side
 * effects or depend on session state). */
bool kiln_op_runs_in_session(kiln_op_type op);

/* Ops whose effect is not only their outputs (a variable assigned, an
 * initializer run): dead-node removal keeps them. */
bool kiln_op_has_side_effects(kiln_op_type op);
/* Whether an operator may read or write STRING tensors (kiln refuses the
 * others at load). */
bool kiln_op_takes_strings(kiln_op_type op);

/* Bytes of per-node state that outlive invokes (a random generator's
 * position) the session gives a node of `op` (kernel.h: kiln_op_state),
 * zeroed at creation; 0 for ops without any. Shape functions (re)seed it
 * at prepare, kernels advance it. No variant may pack such an op. */
#define KILN_RANDOM_STATE_BYTES 32
size_t kiln_op_state_bytes(kiln_op_type op);

/* The op whose name is `name`, or KILN_OP_COUNT. */
kiln_op_type kiln_op_from_name(const char *name);

#endif
