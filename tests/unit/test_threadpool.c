/* test_threadpool.c - every item of a job runs exactly once, in chunks that
 * respect the grain, for many pool sizes, counts and back-to-back jobs;
 * thread-numbered jobs get distinct thread numbers, each with its own
 * scratch buffer; whole shares run as one call per thread; a thread that
 * stalls has the rest of its share taken by the others. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Marks the chunk, and checks the thread owns its scratch alone: it fills
 * the buffer with its number and finds it intact at the end. */
typedef struct thread_job {
  job base;
  kiln_threadpool *pool;
  size_t scratch_bytes;
  atomic_int calls[8], bad_scratch;
} thread_job;

static void mark_thread(void *context, int thread, int64_t begin, int64_t end) {
  thread_job *t = context;
  if (thread < 0 || thread >= kiln_threadpool_size(t->pool)) {
    atomic_fetch_add(&t->bad_scratch, 1);
    return;
  }
  atomic_fetch_add(&t->calls[thread], 1);
  unsigned char *scratch = kiln_threadpool_scratch(t->pool, thread);
  if (t->pool && t->scratch_bytes) {
    if (!scratch || (uintptr_t)scratch % 64 != 0) {
      atomic_fetch_add(&t->bad_scratch, 1);
      return;
    }
    memset(scratch, thread + 1, t->scratch_bytes);
  }
  mark(&t->base, begin, end);
  if (t->pool && t->scratch_bytes)
    for (size_t i = 0; i < t->scratch_bytes; i++)
      if (scratch[i] != thread + 1) {
        atomic_fetch_add(&t->bad_scratch, 1);
        break;
      }
}

static void run_thread_jobs(kiln_threadpool *pool, bool whole) {
  for (int round = 0; round < 100; round++) {
    thread_job t;
    memset(&t, 0, sizeof t);
    t.pool = pool;
    t.base.count = kiln_test_int(0, 3000);
    t.base.grain = kiln_test_int(1, 64);
    t.scratch_bytes = (size_t)kiln_test_int(0, 100000);
    if (pool) CHECK_OK(kiln_threadpool_reserve_scratch(pool, t.scratch_bytes));
    t.base.hits = calloc((size_t)t.base.count + 1, sizeof(atomic_int));
    if (whole)
      kiln_parallel_for_shares(pool, t.base.count, t.base.grain, mark_thread,
                               &t);
    else
      kiln_parallel_for_thread(pool, t.base.count, t.base.grain, mark_thread,
                               &t);
    int wrong = 0;
    for (int64_t i = 0; i < t.base.count; i++)
      wrong += atomic_load(&t.base.hits[i]) != 1;
    CHECK(wrong == 0);
    CHECK(atomic_load(&t.base.bad_chunks) == 0);
    CHECK(atomic_load(&t.bad_scratch) == 0);
    /* Whole shares: one contiguous call per thread. */
    if (whole)
      for (int i = 0; i < 8; i++) CHECK(atomic_load(&t.calls[i]) <= 1);
    free(t.base.hits);
  }
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

/* Thread 0's first call waits until another thread has run an item of
 * thread 0's own share, which happens only if the others take work from
 * a stalled thread; it gives up after ten seconds. */
typedef struct stall_job {
  int64_t own_end; /* thread 0's share is [0, own_end) */
  atomic_int stolen, first;
} stall_job;

static void stall(void *context, int thread, int64_t begin, int64_t end) {
  stall_job *s = context;
  if (thread != 0) {
    if (begin < s->own_end) atomic_fetch_add(&s->stolen, 1);
    return;
  }
  if (atomic_exchange(&s->first, 1)) return;
  struct timespec nap = {0, 1000000};
  for (int i = 0; i < 10000 && !atomic_load(&s->stolen); i++)
    nanosleep(&nap, NULL);
  (void)end;
}

static void check_stealing(void) {
  kiln_threadpool *pool = NULL;
  CHECK_OK(kiln_threadpool_create(2, NULL, &pool));
  stall_job s = {.own_end = 500};
  atomic_init(&s.stolen, 0);
  atomic_init(&s.first, 0);
  kiln_parallel_for_thread(pool, 1000, 1, stall, &s);
  CHECK(atomic_load(&s.stolen) > 0);
  kiln_threadpool_free(pool);
}

int main(void) {
  kiln_test_seed(21);
  run_jobs(NULL);
  run_thread_jobs(NULL, false);
  run_thread_jobs(NULL, true);
  for (int threads = 1; threads <= 5; threads++) {
    kiln_threadpool *pool = NULL;
    CHECK_OK(kiln_threadpool_create(threads, NULL, &pool));
    CHECK(kiln_threadpool_size(pool) == threads);
    run_jobs(pool);
    run_thread_jobs(pool, false);
    run_thread_jobs(pool, true);
    kiln_threadpool_free(pool);
  }
  check_stealing();
  kiln_threadpool *all = NULL;
  CHECK_OK(kiln_threadpool_create(0, NULL, &all));
  CHECK(kiln_threadpool_size(all) == kiln_cpu_count());
  kiln_threadpool_free(all);
  return kiln_test_finish("test_threadpool");
}
