/* serve_fixture.h - a `kiln serve` without sockets, for the server's unit
 * tests (test_serve_api.c) and its request fuzz target
 * (tests/fuzz/fuzz_serve_request.c): a repository holding two models
 * copied into a temporary folder, a scheduler with inference workers and
 * metrics; requests are handed to the API handlers as the HTTP front
 * would, with no connection, and their answers waited for and checked.
 *
 * Models: "cnn" (tests/data/dynamic_batch_cnn.tflite: pixels float32
 * [-1,6,6,2] -> output_0 [-1,5]) and "mlp" (two_input_mlp.tflite: ids
 * int32 [-1,2] and features float32 [-1,3] -> output_1 and output_0
 * [-1,3]; label "stable" is version 1; batched: max_batch_size 8, sizes
 * 2, 4, 8, 200 us timeout, 2 batches queued). Queues of unbatched models
 * hold 3 requests. Header-only: every function is static inline. */
#ifndef KILN_TEST_SERVE_FIXTURE_H
#define KILN_TEST_SERVE_FIXTURE_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "serve/server.h"

typedef struct serve_fixture {
  serve_server server;
  serve_batching default_batching;
  char root[64];
  char paths[16][PATH_MAX]; /* what stop removes, deepest last */
  int num_paths;
  char error[512];
} serve_fixture;

static inline void serve_fixture_quiet_log(void *context, const char *fmt,
                                           ...) {
  (void)context;
  (void)fmt;
}

static inline void serve_fixture_on_batch(void *context, const char *model,
                                          int64_t size, int64_t padded) {
  serve_metrics_batch(((serve_server *)context)->metrics, model, size, padded);
}

static inline bool serve_fixture_remember(serve_fixture *fx, const char *path) {
  if (fx->num_paths == (int)(sizeof fx->paths / sizeof fx->paths[0]))
    return false;
  snprintf(fx->paths[fx->num_paths++], sizeof fx->paths[0], "%s", path);
  return true;
}

/* Copies DATA_DIR/FILE into ROOT/MODEL/1/model.tflite, with the text of
 * a batching_params.pbtxt beside it when batching is not NULL. */
static inline bool serve_fixture_install(serve_fixture *fx,
                                         const char *data_dir, const char *file,
                                         const char *model,
                                         const char *batching) {
  char path[PATH_MAX], dir[256];
  snprintf(dir, sizeof dir, "%s/%s", fx->root, model);
  if (mkdir(dir, 0700) || !serve_fixture_remember(fx, dir)) return false;
  snprintf(dir, sizeof dir, "%s/%s/1", fx->root, model);
  if (mkdir(dir, 0700) || !serve_fixture_remember(fx, dir)) return false;
  snprintf(path, sizeof path, "%s/%s", data_dir, file);
  FILE *in = fopen(path, "rb");
  if (!in) {
    snprintf(fx->error, sizeof fx->error, "cannot open %.400s", path);
    return false;
  }
  snprintf(path, sizeof path, "%s/model.tflite", dir);
  FILE *out = fopen(path, "wb");
  bool ok = out && serve_fixture_remember(fx, path);
  char buffer[4096];
  size_t n;
  while (ok && (n = fread(buffer, 1, sizeof buffer, in)) > 0)
    ok = fwrite(buffer, 1, n, out) == n;
  fclose(in);
  if (out) ok = !fclose(out) && ok;
  if (ok && batching) {
    snprintf(path, sizeof path, "%s/batching_params.pbtxt", dir);
    out = fopen(path, "w");
    ok = out && serve_fixture_remember(fx, path);
    if (out) {
      fputs(batching, out);
      ok = !fclose(out) && ok;
    }
  }
  return ok;
}

/* Starts the server; false (with fx->error) when it cannot. */
static inline bool serve_fixture_start(serve_fixture *fx,
                                       const char *data_dir) {
  memset(fx, 0, sizeof *fx);
  snprintf(fx->root, sizeof fx->root, "/tmp/kiln-serve-fixture-XXXXXX");
  if (!mkdtemp(fx->root)) {
    snprintf(fx->error, sizeof fx->error, "mkdtemp failed");
    return false;
  }
  serve_fixture_remember(fx, fx->root);
  if (!serve_fixture_install(fx, data_dir, "dynamic_batch_cnn.tflite", "cnn",
                             NULL) ||
      !serve_fixture_install(fx, data_dir, "two_input_mlp.tflite", "mlp",
                             "max_batch_size { value: 8 }\n"
                             "batch_timeout_micros { value: 200 }\n"
                             "max_enqueued_batches { value: 2 }\n"
                             "allowed_batch_sizes: [2, 4, 8]\n")) {
    if (!fx->error[0])
      snprintf(fx->error, sizeof fx->error, "cannot write the models");
    return false;
  }
  serve_server *s = &fx->server;
  serve_options_init(&s->options);
  s->options.num_workers = 2;
  s->options.max_queued_requests = 3;
  s->started_ms = serve_now_ms();
  pthread_mutex_init(&s->log_lock, NULL);
  serve_batching_defaults(&fx->default_batching);
  s->batching = fx->default_batching;
  s->prometheus_path = "/monitoring/prometheus/metrics";
  s->metrics = serve_metrics_create();
  serve_repo_config rc = {
      .session_threads = 1,
      .warm_sessions = 1,
      .warmup = true,
      .poll_seconds = 0, /* one scan, at start */
      .default_batching = &fx->default_batching,
      .per_model_batching = true,
      .log = serve_fixture_quiet_log,
  };
  serve_status *st = s->metrics ? serve_repo_create(&rc, &s->repo)
                                : serve_error(SERVE_INTERNAL, "no metrics");
  char dir[256];
  snprintf(dir, sizeof dir, "%s/cnn", fx->root);
  if (!st)
    st = serve_repo_add_model(s->repo, "cnn", dir, SERVE_POLICY_LATEST, 1, NULL,
                              0, NULL, 0);
  snprintf(dir, sizeof dir, "%s/mlp", fx->root);
  serve_label label = {"stable", 1};
  if (!st)
    st = serve_repo_add_model(s->repo, "mlp", dir, SERVE_POLICY_LATEST, 1, NULL,
                              0, &label, 1);
  serve_scheduler_config sc = {
      .num_workers = (int)s->options.num_workers,
      .max_queued_requests = s->options.max_queued_requests,
      .on_batch = serve_fixture_on_batch,
      .context = s,
  };
  if (!st) st = serve_scheduler_create(&sc, &s->scheduler);
  if (!st) st = serve_repo_start(s->repo);
  if (!st && !serve_repo_all_ready(s->repo))
    st = serve_error(SERVE_UNAVAILABLE, "the models did not load");
  if (st) {
    snprintf(fx->error, sizeof fx->error, "%s", serve_status_message(st));
    serve_status_free(st);
    return false;
  }
  return true;
}

/* Stops the workers, frees the server and removes the folder. */
static inline void serve_fixture_stop(serve_fixture *fx) {
  serve_server *s = &fx->server;
  serve_scheduler_free(s->scheduler);
  serve_repo_free(s->repo);
  serve_metrics_free(s->metrics);
  pthread_mutex_destroy(&s->log_lock);
  s->scheduler = NULL;
  s->repo = NULL;
  s->metrics = NULL;
  for (int i = fx->num_paths - 1; i >= 0; i--) remove(fx->paths[i]);
  fx->num_paths = 0;
}

/* One request in flight. */
typedef struct serve_fixture_request {
  serve_request r;
  pthread_cond_t answered;
} serve_fixture_request;

/* Hands a request to the handlers as http.c does (the body is copied;
 * headers are name, value pairs ending at a NULL name, kept by the
 * caller until the answer). It may be answered now or by a worker. */
static inline void serve_fixture_send(serve_fixture *fx,
                                      serve_fixture_request *f,
                                      const char *method, const char *path,
                                      const void *body, size_t body_len,
                                      const char *const *headers) {
  serve_request *r = &f->r;
  memset(f, 0, sizeof *f);
  r->server = &fx->server;
  r->method = method;
  r->path = path;
  r->body = malloc(body_len + 1);
  if (!r->body) abort();
  if (body_len) memcpy(r->body, body, body_len);
  r->body[body_len] = '\0';
  r->body_len = body_len;
  r->client_fd = -1;
  r->received_ms = serve_now_ms();
  r->test_headers = headers;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&f->answered, NULL);
  r->answered_cond = &f->answered;
  if (serve_api_tfs(r) || serve_api_kserve(r) || serve_api_metrics(r)) return;
  serve_respond_error(
      r, serve_error(SERVE_NOT_FOUND, "no API at %s %s", r->method, r->path));
}

/* Whether len bytes are JSON, and an error object when status says so.
 * NaN, Infinity and -Infinity may stand for numbers, as TF Serving (and
 * Python's json) write them. */
static inline const char *serve_fixture_check_json(const char *body, size_t len,
                                                   int status) {
  char *copy = malloc(len + 1);
  if (!copy) abort();
  memcpy(copy, body, len);
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    if (in_string) {
      if (copy[i] == '\\')
        i++;
      else if (copy[i] == '"')
        in_string = false;
      continue;
    }
    in_string = copy[i] == '"';
    static const char *const words[] = {"-Infinity", "Infinity", "NaN"};
    for (int w = 0; w < 3; w++) {
      size_t n = strlen(words[w]);
      if (len - i >= n && !memcmp(copy + i, words[w], n)) {
        memset(copy + i, ' ', n);
        copy[i] = '0';
        i += n - 1;
        break;
      }
    }
  }
  json_t *v = json_loadb(copy, len, JSON_DECODE_ANY, NULL);
  free(copy);
  if (!v) return "the answer is not JSON";
  bool error_shape =
      json_is_object(v) && json_is_string(json_object_get(v, "error"));
  json_decref(v);
  /* 503 also answers readiness ({"ready": false}). */
  if (status != 200 && status != 503 && !error_shape)
    return "an error answer without \"error\"";
  return NULL;
}

/* Waits up to 10 s for the answer, then checks it: a status the server
 * uses, a body, JSON where the type says so (KServe's binary answers: the
 * JSON header the Inference-Header-Content-Length header measures).
 * Returns what is wrong, or NULL. */
static inline const char *serve_fixture_wait(serve_fixture_request *f) {
  serve_request *r = &f->r;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&r->lock);
  int waited = 0;
  while (!r->answered && !waited)
    waited = pthread_cond_timedwait(&f->answered, &r->lock, &until);
  bool answered = r->answered;
  pthread_mutex_unlock(&r->lock);
  if (!answered) return "no answer in 10 s";
  static const int known[] = {200, 400, 404, 413, 429, 499, 500, 501, 503, 504};
  bool ok = false;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    ok = ok || r->http_status == known[i];
  if (!ok) return "an HTTP status the server does not use";
  if (!r->response) return "an answer without a body";
  const char *type = r->content_type ? r->content_type : "application/json";
  if (!strcmp(type, "application/json"))
    return serve_fixture_check_json(r->response, r->response_len,
                                    r->http_status);
  if (!strcmp(type, "application/octet-stream")) {
    const char *length = NULL;
    for (int i = 0; i < r->num_headers; i++)
      if (!strcasecmp(r->header_names[i], "Inference-Header-Content-Length"))
        length = r->header_values[i];
    size_t n = length ? strtoul(length, NULL, 10) : SIZE_MAX;
    if (n > r->response_len) return "a binary answer with a bad header length";
    return serve_fixture_check_json(r->response, n, r->http_status);
  }
  if (strncmp(type, "text/plain", 10)) return "an unknown content type";
  return NULL;
}

/* Frees what the request holds (as http.c does once it is sent). */
static inline void serve_fixture_request_free(serve_fixture_request *f) {
  serve_request *r = &f->r;
  if (r->api_state_free) r->api_state_free(r->api_state);
  free(r->body);
  free(r->response);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&f->answered);
}

#endif
