/* ops.c - the operator table, expanded from op_list.h. */
#include "core/ops.h"

#include <string.h>

const kiln_op_def kiln_op_table[KILN_OP_COUNT] = {
#define KILN_OP(id, attrs, shape, ref, flops) \
  [KILN_OP_##id] = {#id, sizeof(attrs), shape, ref, flops},
#include "core/op_list.h"
#undef KILN_OP
};

kiln_op_type kiln_op_from_name(const char *name) {
  for (int i = 0; i < KILN_OP_COUNT; i++)
    if (strcmp(kiln_op_table[i].name, name) == 0) return (kiln_op_type)i;
  return KILN_OP_COUNT;
}

bool kiln_op_runs_in_session(kiln_op_type op) {
  switch (op) {
    case KILN_OP_CUSTOM:
    case KILN_OP_WHILE:
    case KILN_OP_IF:
    case KILN_OP_CALL_ONCE:
    case KILN_OP_STABLEHLO_CASE:
    case KILN_OP_STABLEHLO_COMPOSITE:
    case KILN_OP_VAR_HANDLE:
    case KILN_OP_READ_VARIABLE:
    case KILN_OP_ASSIGN_VARIABLE:
    case KILN_OP_HASHTABLE:
    case KILN_OP_HASHTABLE_FIND:
    case KILN_OP_HASHTABLE_IMPORT:
    case KILN_OP_HASHTABLE_SIZE:
    /* a new draw at every invoke from the node's generator state */
    case KILN_OP_RANDOM_UNIFORM:
    case KILN_OP_RANDOM_STANDARD_NORMAL:
    case KILN_OP_MULTINOMIAL:
      return true;
    default:
      return false;
  }
}

size_t kiln_op_state_bytes(kiln_op_type op) {
  switch (op) {
    case KILN_OP_RANDOM_UNIFORM:
    case KILN_OP_RANDOM_STANDARD_NORMAL:
    case KILN_OP_MULTINOMIAL:
      return KILN_RANDOM_STATE_BYTES;
    default:
      return 0;
  }
}

bool kiln_op_has_side_effects(kiln_op_type op) {
  /* A WHILE, IF, CASE or composite's subgraph may assign variables. */
  return op == KILN_OP_ASSIGN_VARIABLE || op == KILN_OP_CALL_ONCE ||
         op == KILN_OP_WHILE || op == KILN_OP_IF ||
         op == KILN_OP_STABLEHLO_CASE || op == KILN_OP_STABLEHLO_COMPOSITE ||
         op == KILN_OP_HASHTABLE_IMPORT;
}

bool kiln_op_takes_strings(kiln_op_type op) {
  /* A STRING element is a view (kiln.h's kiln_string): operators that only
   * move elements (or hand tensors to subgraphs) are right on it as on any
   * 16-byte type, but one that compared or computed on the bytes of the
   * view would be silently wrong, so every other operator refuses it. */
  switch (op) {
    case KILN_OP_HASHTABLE_FIND:
    case KILN_OP_HASHTABLE_IMPORT:
    case KILN_OP_RESHAPE:
    case KILN_OP_WHILE:
    case KILN_OP_IF:
    case KILN_OP_CALL_ONCE:
    case KILN_OP_STABLEHLO_CASE:
    case KILN_OP_STABLEHLO_COMPOSITE:
      return true;
    default:
      return false;
  }
}
