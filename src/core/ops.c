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
