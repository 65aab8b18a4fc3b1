/* server.h - the pieces of a running `kiln serve` and the request object
 * the HTTP front hands to the API handlers (api_tfs.c, api_kserve.c,
 * metrics.c). A handler either answers at once with serve_respond*, or
 * submits a job whose done callback answers later from a worker; the
 * front keeps the connection suspended meanwhile. */
#ifndef KILN_SERVE_SERVER_H
#define KILN_SERVE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "serve/buf.h"
#include "serve/metrics.h"
#include "serve/options.h"
#include "serve/repository.h"
#include "serve/scheduler.h"
#include "serve/status.h"

typedef struct serve_server {
  serve_options options;
  serve_repo *repo;
  serve_scheduler *scheduler;
  serve_metrics *metrics;
  serve_batching batching;     /* the server-wide parameters */
  const char *prometheus_path; /* NULL: only /metrics */
  struct MHD_Daemon *daemon;
  struct serve_grpc *grpc;      /* the gRPC front (grpc_front.c); NULL: off */
  char *bearer_token;           /* --bearer_token_file's token; NULL: none */
  struct serve_tls_config *tls; /* --ssl_config_file; NULL: plaintext */
  struct serve_conn_guard *conn_guard; /* deadlines per connection */
  FILE *access_log;
  pthread_mutex_t log_lock;
  double started_ms;
  /* HTTP requests begun and not yet completed (answer sent or connection
   * gone): a graceful stop waits for them. */
  atomic_int in_flight;
  atomic_bool stopping; /* answers then close their connections */
} serve_server;

enum { SERVE_MAX_HEADERS = 4 };

typedef struct serve_request {
  serve_server *server;
  struct MHD_Connection *connection;
  const char *method, *path;
  char *body; /* NUL-terminated */
  size_t body_len;
  size_t body_cap; /* bytes allocated at body, the NUL's included */
  bool body_too_large;
  int client_fd;
  double received_ms;
  /* Labels for the access log and metrics, set by handlers. */
  char model[128];
  const char *api; /* "predict", "infer", ... */
  bool row_format; /* TF Serving: "instances" rather than "inputs" */
  void *api_state; /* a handler's own data until the answer; freed */
  void (*api_state_free)(void *state);
  /* The answer. */
  pthread_mutex_t lock;
  bool answered, suspended;
  bool sent; /* queued to MHD (an early 413 or 408 may be) */
  int http_status;
  serve_code code; /* for metrics: OK unless answered with an error */
  int64_t version; /* the version that answered, for metrics; 0: none */
  char *response;
  size_t response_len;
  const char *content_type;
  const char *header_names[SERVE_MAX_HEADERS];
  char header_values[SERVE_MAX_HEADERS][64];
  int num_headers;
  /* Without a connection (tests and fuzz targets call the handlers with
   * connection NULL): the request's headers as name, value pairs ending at
   * a NULL name, and a condition broadcast under `lock` once answered. */
  const char *const *test_headers;
  pthread_cond_t *answered_cond;
} serve_request;

/* A request header's value (names compare without case), or NULL. */
const char *serve_request_header(const serve_request *r, const char *name);

/* Answers with `body` (taken: freed by the front) and a content type. */
void serve_respond(serve_request *r, int http_status, char *body, size_t len,
                   const char *content_type);
/* Adds a response header (before serve_respond). */
void serve_respond_header(serve_request *r, const char *name,
                          const char *value);
/* Answers {"error": "..."} with the status's HTTP code (freed). */
void serve_respond_error(serve_request *r, serve_status *status);
/* Answers a JSON body built in b (taken). */
void serve_respond_json(serve_request *r, int http_status, serve_buf *b);

/* The API handlers: each returns false when the path is not its own. */
bool serve_api_tfs(serve_request *r);
bool serve_api_kserve(serve_request *r);
bool serve_api_metrics(serve_request *r);

/* Runs `kiln serve` with argv (argv[0] is "serve"); returns the exit code. */
int serve_main(int argc, char **argv);

/* Logs a line to stderr with a timestamp (the server's own log). */
void serve_log(void *context, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
