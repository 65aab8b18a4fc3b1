/* threadpool.c - a fork-join pool: the caller publishes a job, wakes the
 * workers, runs its own share, and waits for the rest. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "core/alloc.h"

/* How long a worker polls for the next job before sleeping (roughly a
 * millisecond): long enough to catch the next operator of the same invoke,
 * since a futex wake costs tens of microseconds and small operators take
 * less; short against a server's idle time, so idle workers do sleep. */
enum { SPIN_ROUNDS = 400000 };

typedef struct worker {
  kiln_threadpool *pool;
  pthread_t thread;
  int index; /* 1..size-1; the caller is 0 */
} worker;

struct kiln_threadpool {
  const kiln_allocator *alloc;
  int size;
  worker *workers;
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  /* The current job; generation changes when a new one is published. */
  atomic_uint_fast64_t generation;
  atomic_int pending; /* workers still busy with the current job */
  atomic_int stopping;
  kiln_range_fn fn; /* one of fn and thread_fn is set */
  kiln_range_thread_fn thread_fn;
  void *context;
  int64_t count, chunk;
  /* Per-thread scratch: slices of scratch_stride bytes in one block. */
  void *scratch_block;
  size_t scratch_stride;
};

int kiln_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void run_share(kiln_threadpool *p, int index) {
  int64_t begin = (int64_t)index * p->chunk;
  int64_t end = begin + p->chunk < p->count ? begin + p->chunk : p->count;
  if (begin >= end) return;
  if (p->fn)
    p->fn(p->context, begin, end);
  else
    p->thread_fn(p->context, index, begin, end);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  kiln_threadpool *p = w->pool;
  uint_fast64_t seen = 0;
  for (;;) {
    uint_fast64_t now = atomic_load(&p->generation);
    for (int spin = 0; now == seen && spin < SPIN_ROUNDS; spin++)
      now = atomic_load(&p->generation);
    if (now == seen) {
      pthread_mutex_lock(&p->lock);
      while ((now = atomic_load(&p->generation)) == seen &&
             !atomic_load(&p->stopping))
        pthread_cond_wait(&p->wake, &p->lock);
      pthread_mutex_unlock(&p->lock);
    }
    if (atomic_load(&p->stopping)) return NULL;
    seen = now;
    run_share(p, w->index);
    if (atomic_fetch_sub(&p->pending, 1) == 1) {
      pthread_mutex_lock(&p->lock);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->lock);
    }
  }
}

kiln_status *kiln_threadpool_create(int num_threads, const kiln_allocator *a,
                                    kiln_threadpool **out_pool) {
  *out_pool = NULL;
  if (num_threads <= 0) num_threads = kiln_cpu_count();
  kiln_threadpool *p = kiln_calloc(a, 1, sizeof *p);
  if (!p) return KILN_OOM();
  p->alloc = a;
  p->size = 1;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  atomic_init(&p->generation, 0);
  atomic_init(&p->pending, 0);
  atomic_init(&p->stopping, 0);
  if (num_threads > 1) {
    p->workers = kiln_calloc(a, (size_t)num_threads, sizeof(worker));
    if (!p->workers) {
      kiln_threadpool_free(p);
      return KILN_OOM();
    }
    for (int i = 1; i < num_threads; i++) {
      worker *w = &p->workers[i];
      w->pool = p;
      w->index = i;
      if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        kiln_threadpool_free(p);
        return kiln_error(KILN_ERR_INTERNAL,
                          "cannot start thread %d of %d for the pool", i,
                          num_threads);
      }
      p->size = i + 1;
    }
  }
  *out_pool = p;
  return NULL;
}

void kiln_threadpool_free(kiln_threadpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->stopping, 1);
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (int i = 1; i < p->size; i++) pthread_join(p->workers[i].thread, NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  kiln_free(p->alloc, p->scratch_block);
  kiln_free(p->alloc, p->workers);
  kiln_free(p->alloc, p);
}

int kiln_threadpool_size(const kiln_threadpool *p) { return p ? p->size : 1; }

kiln_status *kiln_threadpool_reserve_scratch(kiln_threadpool *p, size_t bytes) {
  /* Slices start on cache lines, so threads never share one. */
  bytes = (bytes + KILN_ALIGNMENT - 1) & ~(size_t)(KILN_ALIGNMENT - 1);
  if (bytes <= p->scratch_stride) return NULL;
  if (bytes > (SIZE_MAX - KILN_ALIGNMENT) / (size_t)p->size)
    return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                      "kernel scratch of %zu bytes per thread is too large",
                      bytes);
  kiln_free(p->alloc, p->scratch_block);
  p->scratch_stride = 0;
  p->scratch_block =
      kiln_malloc(p->alloc, bytes * (size_t)p->size + KILN_ALIGNMENT);
  if (!p->scratch_block)
    return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                      "cannot allocate %zu bytes of kernel scratch for %d "
                      "threads",
                      bytes * (size_t)p->size, p->size);
  p->scratch_stride = bytes;
  return NULL;
}

void *kiln_threadpool_scratch(const kiln_threadpool *p, int thread) {
  if (!p || !p->scratch_block) return NULL;
  uintptr_t base = ((uintptr_t)p->scratch_block + KILN_ALIGNMENT - 1) &
                   ~(uintptr_t)(KILN_ALIGNMENT - 1);
  return (char *)base + (size_t)thread * p->scratch_stride;
}

/* Publishes the job (fn or thread_fn), runs the caller's share, waits. */
static void run_job(kiln_threadpool *p, int64_t count, int64_t grain,
                    kiln_range_fn fn, kiln_range_thread_fn thread_fn,
                    void *context) {
  int64_t grains = (count + grain - 1) / grain;
  int64_t per_thread = (grains + p->size - 1) / p->size;
  p->fn = fn;
  p->thread_fn = thread_fn;
  p->context = context;
  p->count = count;
  p->chunk = per_thread * grain;
  atomic_store(&p->pending, p->size - 1);
  pthread_mutex_lock(&p->lock);
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  run_share(p, 0);
  /* Workers finish about when the caller does; poll briefly, then sleep. */
  for (int spin = 0; atomic_load(&p->pending) > 0 && spin < SPIN_ROUNDS;
       spin++) {
  }
  if (atomic_load(&p->pending) > 0) {
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
  }
}

void kiln_parallel_for(kiln_threadpool *p, int64_t count, int64_t grain,
                       kiln_range_fn fn, void *context) {
  if (grain < 1) grain = 1;
  if (!p || p->size == 1 || count <= grain) {
    if (count > 0) fn(context, 0, count);
    return;
  }
  run_job(p, count, grain, fn, NULL, context);
}

void kiln_parallel_for_thread(kiln_threadpool *p, int64_t count, int64_t grain,
                              kiln_range_thread_fn fn, void *context) {
  if (grain < 1) grain = 1;
  if (!p || p->size == 1 || count <= grain) {
    if (count > 0) fn(context, 0, 0, count);
    return;
  }
  run_job(p, count, grain, NULL, fn, context);
}
