/* planner.c - greedy, lifetime-aware arena planning. */
#include "runtime/planner.h"

static size_t align_up(size_t n, size_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

static int overlaps(const kiln_plan_item *a, const kiln_plan_item *b) {
  return a->first <= b->last && b->first <= a->last;
}

/* Insertion sort of indices by size descending (stable, so ties keep graph
 * order and plans are deterministic). */
static void sort_by_size(const kiln_plan_item *items, int *order, int count) {
  for (int i = 0; i < count; i++) order[i] = i;
  for (int i = 1; i < count; i++) {
    int key = order[i], j = i - 1;
    while (j >= 0 && items[order[j]].size < items[key].size) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = key;
  }
}

size_t kiln_plan_arena(kiln_plan_item *items, int count, size_t alignment,
                       int *scratch) {
  int *order = scratch, *placed = scratch + count;
  int num_placed = 0;
  size_t total = 0;
  sort_by_size(items, order, count);
  for (int k = 0; k < count; k++) {
    kiln_plan_item *item = &items[order[k]];
    size_t size = align_up(item->size, alignment);
    size_t candidate = 0;
    /* Raise the candidate past every conflicting placed item until a pass
     * finds no conflict; placed items are few, so quadratic is fine. */
    for (int moved = 1; moved;) {
      moved = 0;
      for (int p = 0; p < num_placed; p++) {
        const kiln_plan_item *other = &items[placed[p]];
        size_t other_end = other->offset + align_up(other->size, alignment);
        if (!overlaps(item, other) || size == 0 || other->size == 0) continue;
        if (candidate < other_end && other->offset < candidate + size) {
          candidate = other_end;
          moved = 1;
        }
      }
    }
    item->offset = candidate;
    placed[num_placed++] = order[k];
    if (candidate + size > total) total = candidate + size;
  }
  return total;
}
