/* scheduler.c - per-model queues, inference workers, dynamic batching,
 * deadlines and cancellation. */
#include "serve/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/redact.h"

/* How often queued jobs are checked for a client that hung up. */
#define REAP_INTERVAL_MS 20.0

typedef struct queue {
  serve_model *model;
  serve_job *head, *tail;
  int64_t jobs, items; /* queued requests, and their batch rows */
  int running;         /* batches of this model running now */
  struct queue *next;
} queue;

struct serve_scheduler {
  serve_scheduler_config config;
  pthread_mutex_t lock;
  pthread_cond_t work; /* workers wait here */
  pthread_cond_t reap; /* the reaper waits here */
  queue *queues;
  queue *cursor; /* round robin: where the next pick starts */
  pthread_t *workers;
  int num_workers;
  pthread_t reaper;
  bool reaper_running, stopping;
};

double serve_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void serve_tensor_release(serve_tensor *t) {
  if (!t->borrowed) free(t->data);
  free(t->owner);
  t->data = t->owner = NULL;
  t->borrowed = false;
}

void serve_job_clear(serve_job *job) {
  for (int i = 0; job->inputs && i < job->num_inputs; i++)
    serve_tensor_release(&job->inputs[i]);
  for (int i = 0; job->outputs && i < job->num_outputs; i++)
    serve_tensor_release(&job->outputs[i]);
  free(job->inputs);
  free(job->outputs);
  job->inputs = job->outputs = NULL;
  job->num_inputs = job->num_outputs = 0;
  serve_status_free(job->status);
  job->status = NULL;
  serve_version_release(job->version);
  job->version = NULL;
}

static void finish(serve_job *job, serve_status *status) {
  job->status = status;
  job->finished_ms = serve_now_ms();
  job->done(job);
}

/* Rows a job adds to a batch: its inputs' first dimension. */
static int64_t job_rows(const serve_job *job) {
  return job->num_inputs && job->inputs[0].rank ? job->inputs[0].dims[0] : 1;
}

static queue *queue_for(serve_scheduler *s, serve_model *model) {
  for (queue *q = s->queues; q; q = q->next)
    if (q->model == model) return q;
  queue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->model = model;
  q->next = s->queues;
  s->queues = q;
  return q;
}

/* A request without rows (an input of shape [0, ...]) is refused before it
 * queues, the same way whether or not batching would merge it with
 * others: alone it reached kernels that cannot take 0 rows (a 500), merged
 * it got empty outputs (a 200). TF Serving and Triton refuse an empty
 * batch too. */
static serve_status *check_rows(const serve_job *job) {
  for (int i = 0; i < job->num_inputs; i++) {
    const serve_tensor *t = &job->inputs[i];
    if (t->rank < 1 || t->dims[0] != 0) continue;
    kiln_tensor_info info;
    kiln_status *k = kiln_model_input_info(job->version->kmodel, i, &info);
    const char *name = k ? "?" : info.name;
    serve_status *st = serve_error(
        SERVE_INVALID_ARGUMENT,
        "model '%s' version %lld: input '%s' has 0 rows (its first "
        "dimension is 0); a request must hold at least one",
        job->version->model->name, (long long)job->version->number, name);
    kiln_status_free(k);
    return st;
  }
  return NULL;
}

/* A failure of the model as the client may read it: the model file's
 * path, in the messages of the kiln library, becomes the model's name and
 * version. */
static serve_status *client_error(const serve_version *v, serve_status *st) {
  if (!st) return NULL;
  char label[192];
  snprintf(label, sizeof label, "model '%s' version %lld", v->model->name,
           (long long)v->number);
  return serve_redact_status(st, v->model->base_path, label);
}

serve_status *serve_scheduler_submit(serve_scheduler *s, serve_job *job) {
  serve_model *model = job->version->model;
  const serve_batching *b = &model->batching;
  int64_t rows = job_rows(job);
  SERVE_TRY(check_rows(job));
  if (b->enabled && rows > b->max_batch_size)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "Task size %lld is larger than maximum input batch "
                       "size %lld",
                       (long long)rows, (long long)b->max_batch_size);
  job->queued_ms = serve_now_ms();
  job->next = NULL;
  pthread_mutex_lock(&s->lock);
  queue *q = s->stopping ? NULL : queue_for(s, model);
  serve_status *st = NULL;
  if (s->stopping) {
    st = serve_error(SERVE_UNAVAILABLE, "the server is shutting down");
  } else if (!q) {
    st = serve_error(SERVE_INTERNAL, "out of memory");
  } else if (b->enabled
                 ? q->items + rows > b->max_enqueued_batches * b->max_batch_size
                 : q->jobs >= s->config.max_queued_requests) {
    st = b->enabled
             ? serve_error(SERVE_UNAVAILABLE,
                           "The batch scheduling queue to which this task "
                           "was submitted is full; %lld requests (%lld rows) "
                           "are queued and max_enqueued_batches is %lld",
                           (long long)q->jobs, (long long)q->items,
                           (long long)b->max_enqueued_batches)
             : serve_error(SERVE_UNAVAILABLE,
                           "the request queue of model %s is full (%lld "
                           "requests; --max_queued_requests)",
                           model->name, (long long)q->jobs);
  } else {
    if (q->tail)
      q->tail->next = job;
    else
      q->head = job;
    q->tail = job;
    q->jobs++;
    q->items += rows;
    pthread_cond_signal(&s->work);
  }
  pthread_mutex_unlock(&s->lock);
  return st;
}

int64_t serve_scheduler_pending(serve_scheduler *s) {
  int64_t n = 0;
  pthread_mutex_lock(&s->lock);
  for (queue *q = s->queues; q; q = q->next) n += q->jobs;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* Whether two jobs may share a batch: same version, inputs alike but for
 * the first dimension. */
static bool batchable(const serve_job *a, const serve_job *b) {
  if (a->version != b->version || !a->version->batchable ||
      a->num_inputs != b->num_inputs)
    return false;
  for (int i = 0; i < a->num_inputs; i++) {
    const serve_tensor *x = &a->inputs[i], *y = &b->inputs[i];
    if (x->rank != y->rank || x->rank < 1 || x->dtype != y->dtype) return false;
    for (int d = 1; d < x->rank; d++)
      if (x->dims[d] != y->dims[d]) return false;
  }
  return true;
}

/* Takes the next batch from q (lock held): the first job and the ones
 * after it that fit, up to max_batch_size rows. */
static serve_job *take_batch(queue *q, int64_t *out_rows) {
  const serve_batching *b = &q->model->batching;
  serve_job *first = q->head, *last = first;
  int64_t rows = job_rows(first);
  if (b->enabled) {
    while (last->next && batchable(first, last->next) &&
           rows + job_rows(last->next) <= b->max_batch_size) {
      last = last->next;
      rows += job_rows(last);
    }
  }
  q->head = last->next;
  if (!q->head) q->tail = NULL;
  last->next = NULL;
  for (serve_job *j = first; j; j = j->next) {
    q->jobs--;
    q->items -= job_rows(j);
  }
  *out_rows = rows;
  return first;
}

/* Whether q's head may start now (lock held): without batching at once;
 * with it when a full batch is there, the oldest has waited its timeout,
 * or the server is stopping. *wait_ms says how long until it may. */
static bool ready(const serve_scheduler *s, const queue *q, double now,
                  double *wait_ms) {
  const serve_batching *b = &q->model->batching;
  if (!q->head) return false;
  int64_t limit = b->enabled && b->num_batch_threads > 0 ? b->num_batch_threads
                                                         : s->num_workers;
  if (q->running >= limit) return false;
  if (!b->enabled || s->stopping) return true;
  int64_t rows = 0;
  for (serve_job *j = q->head; j && rows < b->max_batch_size; j = j->next) {
    if (!batchable(q->head, j)) return true; /* the batch cannot grow */
    rows += job_rows(j);
  }
  if (rows >= b->max_batch_size) return true;
  double due = q->head->queued_ms + (double)b->batch_timeout_micros / 1e3;
  if (now >= due) return true;
  if (due - now < *wait_ms) *wait_ms = due - now;
  return false;
}

/* ---------------------------------------------------------- running */

static serve_status *shape_input(kiln_session *session, int index,
                                 const serve_tensor *t) {
  kiln_tensor_info info;
  SERVE_TRY(serve_from_kiln(kiln_session_input_info(session, index, &info)));
  bool same = info.rank == t->rank;
  for (int d = 0; same && d < t->rank; d++) same = info.dims[d] == t->dims[d];
  if (same) return NULL;
  return serve_from_kiln(
      kiln_session_resize_input(session, index, t->dims, t->rank));
}

/* Runs jobs (a batch of `rows` rows, one version) on one session. */
/* The invoke of a batch stops once every job in it is past its deadline
 * (a model whose WHILE never ends would otherwise hold a worker for
 * good); 0 when some job has none. */
static double batch_deadline(const serve_job *jobs) {
  double latest = 0;
  for (const serve_job *j = jobs; j; j = j->next) {
    if (j->deadline_ms <= 0) return 0;
    if (j->deadline_ms > latest) latest = j->deadline_ms;
  }
  return latest;
}

static int past_deadline(void *deadline_ms) {
  return serve_now_ms() >= *(const double *)deadline_ms;
}

static serve_status *invoke_within(kiln_session *session, double deadline) {
  if (deadline <= 0) return serve_from_kiln(kiln_session_invoke(session));
  kiln_status_free(
      kiln_session_set_cancel_check(session, past_deadline, &deadline));
  kiln_status *ks = kiln_session_invoke(session);
  kiln_status_free(kiln_session_set_cancel_check(session, NULL, NULL));
  if (ks && kiln_status_get_code(ks) == KILN_ERR_CANCELLED) {
    kiln_status_free(ks);
    return serve_error(SERVE_DEADLINE_EXCEEDED,
                       "Deadline Exceeded: the model was still running at "
                       "the request's deadline");
  }
  return serve_from_kiln(ks);
}

static serve_status *run_batch(serve_scheduler *s, serve_job *jobs,
                               int64_t rows) {
  serve_version *v = jobs->version;
  const serve_batching *b = &v->model->batching;
  bool merged = jobs->next != NULL;
  int64_t padded = merged ? serve_batching_padded_size(b, rows) : rows;
  kiln_session *session;
  SERVE_TRY(serve_version_session(v, &session));
  serve_status *st = NULL;
  int num_inputs = jobs->num_inputs;
  /* Shapes: the first job's, with the batch's rows. */
  for (int i = 0; !st && i < num_inputs; i++) {
    serve_tensor shape = jobs->inputs[i];
    if (merged) shape.dims[0] = padded;
    st = shape_input(session, i, &shape);
  }
  if (!st) st = serve_from_kiln(kiln_session_prepare(session));
  for (int i = 0; !st && i < num_inputs; i++) {
    void *data;
    size_t nbytes, used = 0;
    st = serve_from_kiln(kiln_session_input_buffer(session, i, &data, &nbytes));
    for (serve_job *j = jobs; !st && j; j = j->next) {
      const serve_tensor *t = &j->inputs[i];
      if (t->nbytes > nbytes - used) {
        st = serve_error(SERVE_INVALID_ARGUMENT,
                         "input %d holds %zu bytes; the model takes %zu", i,
                         t->nbytes, nbytes);
        break;
      }
      memcpy((char *)data + used, t->data, t->nbytes);
      used += t->nbytes;
    }
    if (!st && used != nbytes) {
      if (merged)
        memset((char *)data + used, 0, nbytes - used); /* padding rows */
      else
        st = serve_error(SERVE_INVALID_ARGUMENT,
                         "input %d holds %zu bytes; the model takes %zu", i,
                         used, nbytes);
    }
  }
  double start = serve_now_ms();
  for (serve_job *j = jobs; j; j = j->next) {
    j->started_ms = start;
    j->executed_batch = padded;
  }
  if (!st) st = invoke_within(session, batch_deadline(jobs));
  int num_outputs = kiln_model_num_outputs(v->kmodel);
  for (serve_job *j = jobs; !st && j; j = j->next) {
    j->outputs = calloc((size_t)num_outputs + 1, sizeof *j->outputs);
    j->num_outputs = num_outputs;
    if (!j->outputs) st = serve_error(SERVE_INTERNAL, "out of memory");
  }
  /* Each job gets its rows of every output. */
  int64_t row0 = 0;
  for (serve_job *j = jobs; !st && j; j = j->next) {
    int64_t r = job_rows(j);
    for (int o = 0; !st && o < num_outputs; o++) {
      kiln_tensor_info info;
      const void *data;
      size_t nbytes;
      st = serve_from_kiln(kiln_session_output_info(session, o, &info));
      if (!st)
        st = serve_from_kiln(
            kiln_session_output_buffer(session, o, &data, &nbytes));
      if (st) break;
      serve_tensor *out = &j->outputs[o];
      out->dtype = info.dtype;
      out->rank = info.rank;
      memcpy(out->dims, info.dims, sizeof out->dims);
      size_t offset = 0;
      if (merged) {
        if (info.rank < 1 || info.dims[0] != padded) {
          st = serve_error(SERVE_FAILED_PRECONDITION,
                           "output %s has no batch dimension to split a "
                           "batch by",
                           info.name);
          break;
        }
        size_t row_bytes = nbytes / (size_t)padded;
        out->dims[0] = r;
        offset = (size_t)row0 * row_bytes;
        nbytes = (size_t)r * row_bytes;
      }
      out->data = malloc(nbytes ? nbytes : 1);
      if (!out->data) {
        st = serve_error(SERVE_INTERNAL, "out of memory");
        break;
      }
      memcpy(out->data, (const char *)data + offset, nbytes);
      out->nbytes = nbytes;
    }
    row0 += r;
  }
  serve_version_return_session(v, session);
  if (!st && s->config.on_batch)
    s->config.on_batch(s->config.context, v->model->name, rows, padded);
  return st;
}

static serve_status *late_error(const serve_job *job, double now) {
  return serve_error(SERVE_DEADLINE_EXCEEDED,
                     "Deadline Exceeded: the request waited %.0f ms in the "
                     "queue",
                     now - job->queued_ms);
}

/* Moves the jobs of a batch that are past their deadline to the list
 * returned, keeping *rows right: a job that waited too long is answered
 * 504 and never run, whether or not the reaper saw it first. */
static serve_job *take_late(serve_job **batch, int64_t *rows, double now) {
  serve_job *late = NULL;
  for (serve_job **at = batch; *at;) {
    serve_job *j = *at;
    if (j->deadline_ms > 0 && now >= j->deadline_ms) {
      *at = j->next;
      *rows -= job_rows(j);
      j->next = late;
      late = j;
    } else {
      at = &j->next;
    }
  }
  return late;
}

/* Whether the client of a queued job has closed its connection. */
static bool client_gone(const serve_job *job) {
  if (job->client_fd < 0) return false;
  char byte;
  ssize_t n = recv(job->client_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 ||
         (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void *worker_main(void *arg) {
  serve_scheduler *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    double now = serve_now_ms(), wait_ms = 1e9;
    queue *pick = NULL;
    /* Round robin over the models, so one busy model cannot starve the
     * others. */
    queue *start = s->cursor ? s->cursor : s->queues;
    for (queue *q = start; q && !pick; q = q->next)
      if (ready(s, q, now, &wait_ms)) pick = q;
    for (queue *q = s->queues; q != start && !pick; q = q->next)
      if (ready(s, q, now, &wait_ms)) pick = q;
    if (!pick) {
      bool idle = true;
      for (queue *q = s->queues; q && idle; q = q->next) idle = !q->head;
      if (s->stopping && idle) break;
      if (wait_ms < 1e9) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + (long long)(wait_ms * 1e6) + 1;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&s->work, &s->lock, &until);
      } else {
        pthread_cond_wait(&s->work, &s->lock);
      }
      continue;
    }
    s->cursor = pick->next;
    int64_t rows;
    serve_job *batch = take_batch(pick, &rows);
    double now_taken = serve_now_ms();
    serve_job *late = take_late(&batch, &rows, now_taken);
    pick->running++;
    pthread_mutex_unlock(&s->lock);
    while (late) {
      serve_job *next = late->next;
      late->next = NULL;
      finish(late, late_error(late, now_taken));
      late = next;
    }
    serve_status *st =
        batch ? client_error(batch->version, run_batch(s, batch, rows)) : NULL;
    while (batch) {
      serve_job *next = batch->next;
      batch->next = NULL;
      finish(batch, st ? serve_error(serve_status_code(st), "%s",
                                     serve_status_message(st))
                       : NULL);
      batch = next;
    }
    serve_status_free(st);
    pthread_mutex_lock(&s->lock);
    pick->running--;
    pthread_cond_broadcast(&s->work);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* Drops jobs past their deadline or whose client left, while they wait. */
static void *reaper_main(void *arg) {
  serve_scheduler *s = arg;
  pthread_mutex_lock(&s->lock);
  while (!s->stopping) {
    double now = serve_now_ms(), next = now + REAP_INTERVAL_MS;
    serve_job *expired = NULL;
    for (queue *q = s->queues; q; q = q->next) {
      serve_job **at = &q->head, *prev = NULL;
      while (*at) {
        serve_job *j = *at;
        bool late = j->deadline_ms > 0 && now >= j->deadline_ms;
        if (late || client_gone(j)) {
          *at = j->next;
          if (q->tail == j) q->tail = prev;
          q->jobs--;
          q->items -= job_rows(j);
          j->next = expired;
          j->status = late ? late_error(j, now)
                           : serve_error(SERVE_CANCELLED,
                                         "the client closed the connection");
          expired = j;
        } else {
          if (j->deadline_ms > 0 && j->deadline_ms < next)
            next = j->deadline_ms;
          prev = j;
          at = &j->next;
        }
      }
    }
    pthread_mutex_unlock(&s->lock);
    while (expired) {
      serve_job *j = expired;
      expired = j->next;
      j->next = NULL;
      serve_status *st = j->status;
      j->status = NULL;
      finish(j, st);
    }
    pthread_mutex_lock(&s->lock);
    if (s->stopping) break;
    double wait = next - serve_now_ms();
    if (wait > 0) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      long long ns = until.tv_nsec + (long long)(wait * 1e6);
      until.tv_sec += (time_t)(ns / 1000000000);
      until.tv_nsec = (long)(ns % 1000000000);
      pthread_cond_timedwait(&s->reap, &s->lock, &until);
    }
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

serve_status *serve_scheduler_create(const serve_scheduler_config *config,
                                     serve_scheduler **out) {
  serve_scheduler *s = calloc(1, sizeof *s);
  if (!s) return serve_error(SERVE_INTERNAL, "out of memory");
  s->config = *config;
  s->num_workers = config->num_workers > 0 ? config->num_workers : 1;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->work, NULL);
  pthread_cond_init(&s->reap, NULL);
  s->workers = calloc((size_t)s->num_workers, sizeof *s->workers);
  if (!s->workers) {
    free(s);
    return serve_error(SERVE_INTERNAL, "out of memory");
  }
  int started = 0;
  for (; started < s->num_workers; started++)
    if (pthread_create(&s->workers[started], NULL, worker_main, s) != 0) break;
  s->num_workers = started;
  s->reaper_running = pthread_create(&s->reaper, NULL, reaper_main, s) == 0;
  if (!started || !s->reaper_running) {
    serve_scheduler_free(s);
    return serve_error(SERVE_INTERNAL, "cannot start inference threads");
  }
  *out = s;
  return NULL;
}

void serve_scheduler_free(serve_scheduler *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_broadcast(&s->work);
  pthread_cond_broadcast(&s->reap);
  pthread_mutex_unlock(&s->lock);
  for (int i = 0; i < s->num_workers; i++) pthread_join(s->workers[i], NULL);
  if (s->reaper_running) pthread_join(s->reaper, NULL);
  while (s->queues) {
    queue *q = s->queues;
    s->queues = q->next;
    free(q);
  }
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->work);
  pthread_cond_destroy(&s->reap);
  free(s->workers);
  free(s);
}
