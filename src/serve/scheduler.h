/* scheduler.h - where requests wait and run. HTTP threads only decode a
 * request into a job and submit it; inference workers take jobs from
 * per-model queues and run them on the version's sessions, merged into
 * batches when the model's batching is on. Queues are bounded: a full one
 * refuses at once (UNAVAILABLE, 503) instead of growing memory. A job past
 * its deadline is dropped from its queue and answered DEADLINE_EXCEEDED;
 * a job whose client has hung up is dropped as CANCELLED. */
#ifndef KILN_SERVE_SCHEDULER_H
#define KILN_SERVE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"
#include "serve/repository.h"
#include "serve/status.h"

typedef struct serve_tensor {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  void *data; /* malloc'd, nbytes long, unless borrowed */
  size_t nbytes;
  /* A tensor may point into a larger block instead (a request body's
   * binary part, which is then not copied): borrowed says data is not its
   * own allocation, and owner, when set, is the block to free with it. */
  bool borrowed;
  void *owner;
} serve_tensor;

/* Frees what the tensor owns. */
void serve_tensor_release(serve_tensor *t);

typedef struct serve_job serve_job;

struct serve_job {
  serve_version *version; /* held; released by serve_job_free */
  serve_tensor *inputs;   /* one per model input, in model order */
  int num_inputs;
  serve_tensor *outputs; /* filled by the worker, one per model output */
  int num_outputs;
  double deadline_ms;   /* CLOCK_MONOTONIC ms; 0: none */
  int client_fd;        /* to notice a client that hung up; -1: unknown */
  serve_status *status; /* the outcome, set before done() */
  double queued_ms, started_ms, finished_ms;
  int64_t executed_batch; /* size of the batch it ran in */
  /* Called exactly once, from a worker (or the submitting thread when the
   * job never ran), after outputs and status are set. */
  void (*done)(serve_job *job);
  void *context;
  serve_job *next; /* queue link */
};

/* Frees tensors and status and releases the version (not the job). */
void serve_job_clear(serve_job *job);

typedef struct serve_scheduler serve_scheduler;

typedef struct serve_scheduler_config {
  int num_workers;
  int64_t max_queued_requests; /* per model, without batching */
  /* Called for each batch run (for metrics): size before padding, size
   * run, and model. */
  void (*on_batch)(void *context, const char *model, int64_t size,
                   int64_t padded);
  void *context;
} serve_scheduler_config;

serve_status *serve_scheduler_create(const serve_scheduler_config *config,
                                     serve_scheduler **out);
/* Queues the job. On error (queue full, stopping) the job was not taken:
 * the caller answers it. */
serve_status *serve_scheduler_submit(serve_scheduler *s, serve_job *job);
/* Requests waiting in every queue (a gauge for metrics). */
int64_t serve_scheduler_pending(serve_scheduler *s);
/* Finishes every queued job, then stops the workers and frees. */
void serve_scheduler_free(serve_scheduler *s);

double serve_now_ms(void);

#endif
