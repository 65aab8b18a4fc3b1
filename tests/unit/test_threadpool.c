/* test_threadpool.c - every item of a job runs exactly once, in chunks that
 * respect the grain, for many pool sizes, counts and back-to-back jobs. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/threadpool.h"
#include "harness.h"

typedef struct job {
  atomic_int *hits;
  int64_t grain, count;
  atomic_int bad_chunks;
} job;

static void mark(void *context, int64_t begin, int64_t end) {
  job *j = context;
  /* Chunks start on a grain boundary; only the last may be short. */
  if (begin % j->grain != 0 || (end % j->grain != 0 && end != j->count))
    atomic_fetch_add(&j->bad_chunks, 1);
  for (int64_t i = begin; i < end; i++) atomic_fetch_add(&j->hits[i], 1);
}

static void run_jobs(kiln_threadpool *pool) {
  for (int round = 0; round < 300; round++) {
    job j;
    j.count = kiln_test_int(0, 5000);
    j.grain = kiln_test_int(1, 64);
    atomic_init(&j.bad_chunks, 0);
    j.hits = calloc((size_t)j.count + 1, sizeof(atomic_int));
    for (int64_t i = 0; i < j.count; i++) atomic_init(&j.hits[i], 0);
    kiln_parallel_for(pool, j.count, j.grain, mark, &j);
    int wrong = 0;
    for (int64_t i = 0; i < j.count; i++) wrong += atomic_load(&j.hits[i]) != 1;
    CHECK(wrong == 0);
    CHECK(atomic_load(&j.bad_chunks) == 0);
    free(j.hits);
  }
}

int main(void) {
  kiln_test_seed(21);
  run_jobs(NULL);
  for (int threads = 1; threads <= 5; threads++) {
    kiln_threadpool *pool = NULL;
    CHECK_OK(kiln_threadpool_create(threads, NULL, &pool));
    CHECK(kiln_threadpool_size(pool) == threads);
    run_jobs(pool);
    kiln_threadpool_free(pool);
  }
  kiln_threadpool *all = NULL;
  CHECK_OK(kiln_threadpool_create(0, NULL, &all));
  CHECK(kiln_threadpool_size(all) == kiln_cpu_count());
  kiln_threadpool_free(all);
  return kiln_test_finish("test_threadpool");
}
