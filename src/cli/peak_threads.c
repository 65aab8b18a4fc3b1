/* peak_threads.c - `kiln bench --peak`: this machine's float32 FMA peak,
 * measured with the CLI's own loops on N threads at once. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

/* Iterations between clock reads: about a quarter of a millisecond, so the
 * clock costs nothing and the measured span overshoots by little. */
enum { PEAK_CHUNK = 1 << 16 };
/* Warm-up lets clocks ramp and every thread start before any measures. */
#define PEAK_WARMUP_MS 100.0
#define PEAK_MEASURE_MS 500.0

typedef float (*peak_fn)(long iterations, float a, float b);

typedef struct peak_loop {
  const char *isa;
  peak_fn run;
  double flops_per_iter;
  int lanes, chains;
} peak_loop;

/* Holds measuring back until every thread has warmed up, so all of them
 * run together; `stop` releases them when a thread could not start. */
typedef struct peak_gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int ready, open, stop;
} peak_gate;

typedef struct peak_worker {
  pthread_t thread;
  const peak_loop *loop;
  peak_gate *gate;
  double gflops;
  float sink; /* the loops' results, kept so they are not optimized away */
} peak_worker;

static double spin(peak_worker *w, double ms, long *iterations) {
  double start = cli_now_ms(), now = start;
  long done = 0;
  while (now - start < ms) {
    /* a = 0.5, b = 1: every chain converges to 2, never to inf or a
     * denormal, which would slow the FMA units down. */
    w->sink += w->loop->run(PEAK_CHUNK, 0.5f, 1.0f);
    done += PEAK_CHUNK;
    now = cli_now_ms();
  }
  *iterations = done;
  return now - start;
}

static int gate_wait(peak_gate *g) {
  pthread_mutex_lock(&g->lock);
  g->ready++;
  pthread_cond_broadcast(&g->cond);
  while (!g->open) pthread_cond_wait(&g->cond, &g->lock);
  int stop = g->stop;
  pthread_mutex_unlock(&g->lock);
  return stop;
}

static void gate_open(peak_gate *g, int started, int stop) {
  pthread_mutex_lock(&g->lock);
  while (!stop && g->ready < started) pthread_cond_wait(&g->cond, &g->lock);
  g->open = 1;
  g->stop = stop;
  pthread_cond_broadcast(&g->cond);
  pthread_mutex_unlock(&g->lock);
}

static void *peak_thread(void *arg) {
  peak_worker *w = arg;
  long iterations;
  spin(w, PEAK_WARMUP_MS, &iterations);
  if (gate_wait(w->gate)) return NULL;
  double ms = spin(w, PEAK_MEASURE_MS, &iterations);
  w->gflops = (double)iterations * w->loop->flops_per_iter / (ms * 1e6);
  return NULL;
}

/* The best loop the CPU runs within `max_isa`; 0 when there is none. */
static int pick_loop(kiln_isa max_isa, peak_loop *loop) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  int fma = __builtin_cpu_supports("fma");
  int allow512 = max_isa == KILN_ISA_AUTO || max_isa >= KILN_ISA_AVX512;
  int allow2 = max_isa == KILN_ISA_AUTO || max_isa >= KILN_ISA_AVX2;
  if (allow512 && fma && __builtin_cpu_supports("avx512f")) {
    *loop = (peak_loop){"avx512", cli_peak_avx512,
                        CLI_PEAK_AVX512_FLOPS_PER_ITER, 16, 24};
    return 1;
  }
  if (allow2 && fma && __builtin_cpu_supports("avx2")) {
    *loop =
        (peak_loop){"avx2", cli_peak_avx2, CLI_PEAK_AVX2_FLOPS_PER_ITER, 8, 12};
    return 1;
  }
#else
  (void)max_isa;
  (void)loop;
#endif
  return 0;
}

/* Starts one thread per worker; returns how many started. */
static int start_workers(peak_worker *workers, int count) {
  for (int t = 0; t < count; t++)
    if (pthread_create(&workers[t].thread, NULL, peak_thread, &workers[t]))
      return t;
  return count;
}

static void print_peak(const peak_loop *loop, int threads, double total,
                       int json) {
  if (json) {
    printf("{\"isa\": ");
    cli_json_string(stdout, loop->isa);
    printf(", \"threads\": %d, \"gflops_per_s\": ", threads);
    cli_json_number(stdout, total);
    printf(", \"gflops_per_s_per_thread\": ");
    cli_json_number(stdout, total / threads);
    printf("}\n");
    return;
  }
  printf("float32 FMA peak (%s, %d chains x %d lanes per thread)\n", loop->isa,
         loop->chains, loop->lanes);
  printf("  %-20s %d\n", "threads", threads);
  printf("  %-20s %.1f GFLOP/s\n", "total", total);
  printf("  %-20s %.1f GFLOP/s\n", "per thread", total / threads);
}

int cli_bench_peak(int num_threads, kiln_isa max_isa, int json) {
  peak_loop loop;
  if (!pick_loop(max_isa, &loop)) {
    fprintf(stderr,
            "kiln: error: bench --peak needs AVX2 with FMA or AVX-512, and "
            "this CPU (or --isa) allows neither\n");
    return CLI_EXIT_FAILURE;
  }
  if (num_threads <= 0) num_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (num_threads <= 0) num_threads = 1;
  peak_worker *workers = calloc((size_t)num_threads, sizeof *workers);
  peak_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
                    0};
  if (!workers) {
    fprintf(stderr, "kiln: error: out of memory\n");
    return CLI_EXIT_FAILURE;
  }
  for (int t = 0; t < num_threads; t++)
    workers[t] = (peak_worker){.loop = &loop, .gate = &gate};
  int started = start_workers(workers, num_threads);
  gate_open(&gate, started, started < num_threads);
  double total = 0.0;
  for (int t = 0; t < started; t++) {
    pthread_join(workers[t].thread, NULL);
    total += workers[t].gflops;
  }
  free(workers);
  if (started < num_threads) {
    fprintf(stderr, "kiln: error: could not start thread %d of %d\n",
            started + 1, num_threads);
    return CLI_EXIT_FAILURE;
  }
  print_peak(&loop, num_threads, total, json);
  return 0;
}
