/* threadpool.h - persistent workers that split a range of work evenly.
 * Workers sleep on a condition variable between jobs (after a short spin),
 * so an idle process burns no CPU. parallel_for allocates nothing. */
#ifndef KILN_CORE_THREADPOOL_H
#define KILN_CORE_THREADPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct kiln_threadpool kiln_threadpool;

/* Computes items [begin, end) of a job. */
typedef void (*kiln_range_fn)(void *context, int64_t begin, int64_t end);

/* A pool running jobs on `num_threads` threads in all, the caller's
 * included (so num_threads - 1 workers). num_threads <= 0 means one per
 * online core. */
kiln_status *kiln_threadpool_create(int num_threads, const kiln_allocator *a,
                                    kiln_threadpool **out_pool);
void kiln_threadpool_free(kiln_threadpool *pool);
/* Threads taking part in a job (1 for a NULL pool). */
int kiln_threadpool_size(const kiln_threadpool *pool);

/* Runs fn over [0, count) and returns when all of it is done. Each thread
 * owns an even contiguous share, which it runs from the front in a few
 * calls of halving length; a thread done early takes work from the back
 * of the others' shares. Every call covers whole grains (`grain` items;
 * the last may be shorter), so a kernel sets the grain to the work that
 * pays for a call. A NULL pool, or a count of at most one grain, runs on
 * the caller in one call. Not reentrant: one job at a time per pool. */
void kiln_parallel_for(kiln_threadpool *pool, int64_t count, int64_t grain,
                       kiln_range_fn fn, void *context);

/* Computes items [begin, end) of a job on thread `thread` (0 is the
 * caller; below kiln_threadpool_size), for jobs that use per-thread
 * scratch memory. */
typedef void (*kiln_range_thread_fn)(void *context, int thread, int64_t begin,
                                     int64_t end);

/* kiln_parallel_for, telling each call which thread runs it. */
void kiln_parallel_for_thread(kiln_threadpool *pool, int64_t count,
                              int64_t grain, kiln_range_thread_fn fn,
                              void *context);

/* One call per thread over its whole even share (grain-aligned), never
 * split or taken by another thread: for kernels whose calls carry a
 * setup cost that grows with their number (rows recomputed at a chunk's
 * edge). */
void kiln_parallel_for_shares(kiln_threadpool *pool, int64_t count,
                              int64_t grain, kiln_range_thread_fn fn,
                              void *context);

/* Makes each thread's scratch buffer at least `bytes` long (it only
 * grows; contents are not kept). For kernels whose variant asked for
 * scratch at prepare. */
kiln_status *kiln_threadpool_reserve_scratch(kiln_threadpool *pool,
                                             size_t bytes);
/* Thread `thread`'s scratch buffer (64-byte aligned), of the size last
 * reserved; NULL when none was. */
void *kiln_threadpool_scratch(const kiln_threadpool *pool, int thread);

/* Online cores. */
int kiln_cpu_count(void);

#endif
