/* threadpool.c - a fork-join pool: the caller publishes a job, wakes the
 * workers, runs its own share, helps with the others', and waits for the
 * rest. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

/* How long a waiting thread spins before it sleeps: long enough to catch
 * the next operator of the same invoke, since a futex wake costs tens of
 * microseconds and small operators take less; short against a server's
 * idle time, so idle workers do sleep. Timed by the clock, as one pause
 * takes from a few to a hundred cycles by CPU. */
enum { SPIN_NS = 300 * 1000, CLOCK_EVERY = 64 };

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The body of every spin loop: tells the core this is a wait, so it
 * slows the loop and hands its pipeline to the other hardware thread,
 * which may be the very one it waits for. Without it, on a 2-vCPU VM,
 * 2-thread invokes ran 2-4x slower now and then, as if the vCPUs were
 * one core's two threads; LiteRT's pool, which pauses, did not. */
static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* A wait that spins, then gives up: `while (condition && spinning(&w))`. */
typedef struct spin_wait {
  uint64_t since;
  unsigned rounds;
} spin_wait;

static spin_wait spin_start(void) { return (spin_wait){now_ns(), 0}; }

/* Pauses once; false when the wait has spun for SPIN_NS. */
static bool spinning(spin_wait *w) {
  spin_pause();
  return ++w->rounds % CLOCK_EVERY != 0 || now_ns() - w->since <= SPIN_NS;
}

/* p rounded up to the next KILN_ALIGNMENT bytes (kiln_malloc gives only
 * malloc's alignment). */
static void *align_up(void *p) {
  return (void *)(((uintptr_t)p + KILN_ALIGNMENT - 1) &
                  ~(uintptr_t)(KILN_ALIGNMENT - 1));
}

/* What is left of one thread's share of a job, in grains: begin in the
 * low 32 bits, end in the high. Its owner takes halves from the front, so
 * a job on an otherwise idle machine runs as a few long calls over the
 * same rows a static split would give (and the caches keep); a thread
 * that finishes first takes halves from the back of the others' shares,
 * so one preempted thread (a server's HTTP threads share the cores) does
 * not hold the whole job up. */
typedef struct share {
  _Alignas(64) atomic_uint_fast64_t range;
} share;

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
  int64_t count, grain;
  bool whole;    /* each share runs as one call, never split or stolen */
  share *shares; /* one per thread, in shares_block */
  void *shares_block;
  /* Per-thread scratch: slices of scratch_stride bytes in one block. */
  void *scratch_block;
  size_t scratch_stride;
};

int kiln_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static uint64_t pack_range(uint64_t begin, uint64_t end) {
  return begin | end << 32;
}

/* Takes grains off share `victim` for thread `thief` (the owner when they
 * are equal): half of what is left, from the front for the owner and from
 * the back for others; all of it for whole shares, which only the owner
 * takes. False when the share is empty. */
static bool take(kiln_threadpool *p, int victim, int thief, int64_t *begin,
                 int64_t *end) {
  atomic_uint_fast64_t *range = &p->shares[victim].range;
  uint_fast64_t now = atomic_load_explicit(range, memory_order_acquire);
  for (;;) {
    uint64_t b = now & 0xffffffffu, e = now >> 32;
    if (b >= e) return false;
    uint64_t half = p->whole ? e - b : (e - b + 1) / 2;
    uint64_t next =
        victim == thief ? pack_range(b + half, e) : pack_range(b, e - half);
    if (atomic_compare_exchange_weak_explicit(
            range, &now, next, memory_order_acq_rel, memory_order_acquire)) {
      uint64_t g0 = victim == thief ? b : e - half;
      *begin = (int64_t)g0 * p->grain;
      *end = (int64_t)(g0 + half) * p->grain;
      if (*end > p->count) *end = p->count;
      return true;
    }
  }
}

static void run_range(kiln_threadpool *p, int thread, int64_t begin,
                      int64_t end) {
  if (p->fn)
    p->fn(p->context, begin, end);
  else
    p->thread_fn(p->context, thread, begin, end);
}

/* Runs thread `index`'s share, then helps the others finish theirs. */
static void run_share(kiln_threadpool *p, int index) {
  int64_t begin, end;
  while (take(p, index, index, &begin, &end)) run_range(p, index, begin, end);
  if (p->whole) return;
  for (int k = 1; k < p->size; k++) {
    int victim = (index + k) % p->size;
    while (take(p, victim, index, &begin, &end))
      run_range(p, index, begin, end);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  kiln_threadpool *p = w->pool;
  uint_fast64_t seen = 0;
  for (;;) {
    uint_fast64_t now = atomic_load(&p->generation);
    spin_wait wait = spin_start();
    while (now == seen && spinning(&wait)) now = atomic_load(&p->generation);
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
  int slots = num_threads > 1 ? num_threads : 1;
  /* Each share on a cache line of its own. */
  p->shares_block =
      kiln_malloc(a, (size_t)slots * sizeof(share) + KILN_ALIGNMENT);
  if (!p->shares_block) {
    kiln_free(a, p);
    return KILN_OOM();
  }
  p->shares = align_up(p->shares_block);
  for (int i = 0; i < slots; i++) atomic_init(&p->shares[i].range, 0);
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
  kiln_free(p->alloc, p->shares_block);
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
  return (char *)align_up(p->scratch_block) +
         (size_t)thread * p->scratch_stride;
}

/* Publishes the job (fn or thread_fn), runs the caller's share, waits. */
static void run_job(kiln_threadpool *p, int64_t count, int64_t grain,
                    bool whole, kiln_range_fn fn,
                    kiln_range_thread_fn thread_fn, void *context) {
  /* Shares count grains in 32 bits; a grain this coarse changes nothing
   * for jobs of fewer than 2^31 grains, which is every job. */
  int64_t grains = (count + grain - 1) / grain;
  while (grains > INT32_MAX) {
    grain *= 2;
    grains = (count + grain - 1) / grain;
  }
  int64_t per_thread = (grains + p->size - 1) / p->size;
  p->fn = fn;
  p->thread_fn = thread_fn;
  p->context = context;
  p->count = count;
  p->grain = grain;
  p->whole = whole;
  for (int i = 0; i < p->size; i++) {
    int64_t b = (int64_t)i * per_thread;
    int64_t e = b + per_thread < grains ? b + per_thread : grains;
    if (b > e) b = e;
    atomic_store_explicit(&p->shares[i].range,
                          pack_range((uint64_t)b, (uint64_t)e),
                          memory_order_relaxed);
  }
  atomic_store(&p->pending, p->size - 1);
  pthread_mutex_lock(&p->lock);
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  run_share(p, 0);
  /* Workers finish about when the caller does; poll briefly, then sleep. */
  spin_wait wait = spin_start();
  while (atomic_load(&p->pending) > 0 && spinning(&wait)) {
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
  run_job(p, count, grain, false, fn, NULL, context);
}

/* The thread-numbered entry points: on the caller alone when the pool
 * cannot help, else as a job. */
static void thread_job(kiln_threadpool *p, int64_t count, int64_t grain,
                       bool whole, kiln_range_thread_fn fn, void *context) {
  if (grain < 1) grain = 1;
  if (!p || p->size == 1 || count <= grain) {
    if (count > 0) fn(context, 0, 0, count);
    return;
  }
  run_job(p, count, grain, whole, NULL, fn, context);
}

void kiln_parallel_for_thread(kiln_threadpool *p, int64_t count, int64_t grain,
                              kiln_range_thread_fn fn, void *context) {
  thread_job(p, count, grain, false, fn, context);
}

void kiln_parallel_for_shares(kiln_threadpool *p, int64_t count, int64_t grain,
                              kiln_range_thread_fn fn, void *context) {
  thread_job(p, count, grain, true, fn, context);
}
