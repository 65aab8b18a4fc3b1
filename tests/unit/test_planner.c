/* test_planner.c - the arena planner never overlaps live buffers, aligns
 * offsets, reuses memory across disjoint lifetimes, and is deterministic. */
#include <stdlib.h>

#include "harness.h"
#include "runtime/planner.h"

static int lifetimes_overlap(const kiln_plan_item *a, const kiln_plan_item *b) {
  return a->first <= b->last && b->first <= a->last;
}

static void check_plan(kiln_plan_item *items, int count, size_t alignment,
                       size_t total) {
  for (int i = 0; i < count; i++) {
    CHECK(items[i].offset % alignment == 0);
    CHECK(items[i].offset + items[i].size <= total);
    for (int j = i + 1; j < count; j++) {
      if (!lifetimes_overlap(&items[i], &items[j]) || !items[i].size ||
          !items[j].size)
        continue;
      int disjoint = items[i].offset + items[i].size <= items[j].offset ||
                     items[j].offset + items[j].size <= items[i].offset;
      CHECK(disjoint);
    }
  }
}

static void test_chain_reuses_memory(void) {
  /* A chain a->b->c->d: each buffer lives two steps, so two slots suffice. */
  kiln_plan_item items[4];
  for (int i = 0; i < 4; i++) items[i] = (kiln_plan_item){1000, i, i + 1, 0};
  int scratch[8];
  size_t total = kiln_plan_arena(items, 4, 64, scratch);
  check_plan(items, 4, 64, total);
  CHECK(total == 2 * 1024);
}

static void test_random_plans(void) {
  kiln_test_seed(42);
  for (int round = 0; round < 200; round++) {
    int count = kiln_test_int(1, 60);
    kiln_plan_item *items = calloc((size_t)count, sizeof *items);
    int *scratch = calloc(2 * (size_t)count, sizeof(int));
    size_t sum = 0;
    for (int i = 0; i < count; i++) {
      int first = kiln_test_int(0, 40);
      items[i].first = first;
      items[i].last = first + kiln_test_int(0, 10);
      items[i].size = (size_t)kiln_test_int(0, 5000);
      sum += (items[i].size + 63) / 64 * 64;
    }
    size_t total = kiln_plan_arena(items, count, 64, scratch);
    check_plan(items, count, 64, total);
    CHECK(total <= sum);
    /* Same input, same plan. */
    kiln_plan_item *again = calloc((size_t)count, sizeof *again);
    for (int i = 0; i < count; i++) again[i] = items[i], again[i].offset = 0;
    CHECK(kiln_plan_arena(again, count, 64, scratch) == total);
    for (int i = 0; i < count; i++) CHECK(again[i].offset == items[i].offset);
    free(again);
    free(items);
    free(scratch);
  }
}

int main(void) {
  test_chain_reuses_memory();
  test_random_plans();
  return kiln_test_finish("test_planner");
}
