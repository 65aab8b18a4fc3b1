/* planner.h - packs tensors with known lifetimes into one arena. */
#ifndef KILN_RUNTIME_PLANNER_H
#define KILN_RUNTIME_PLANNER_H

#include <stddef.h>

#include "core/status.h"

/* One buffer to place: live from step `first` to step `last`, inclusive. */
typedef struct kiln_plan_item {
  size_t size;
  int first, last;
  size_t offset; /* result */
} kiln_plan_item;

/* Assigns offsets so that items whose lifetimes overlap never share bytes,
 * greedily: largest first, each at the lowest offset that fits between the
 * items already placed that overlap it in time (TFLite Micro's greedy
 * planner). Offsets are multiples of `alignment`. `scratch` must hold
 * 2*count ints. Returns the arena size needed. */
size_t kiln_plan_arena(kiln_plan_item *items, int count, size_t alignment,
                       int *scratch);

#endif
