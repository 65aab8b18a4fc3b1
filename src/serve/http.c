/* http.c - the HTTP front on libmicrohttpd: reads bodies up to the size
 * limit, routes each request to the API handlers, suspends connections
 * whose answer comes later from an inference worker, and writes the
 * access log. No HTTP parsing of our own. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/bind.h"
#include "serve/conn_guard.h"
#include "serve/http_security.h"
#include "serve/request_log.h"
#include "serve/server.h"

const char *serve_request_header(const serve_request *r, const char *name) {
  if (!r->connection) {
    for (const char *const *h = r->test_headers; h && h[0]; h += 2)
      if (!strcasecmp(h[0], name)) return h[1];
    return NULL;
  }
  return MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, name);
}

void serve_respond_header(serve_request *r, const char *name,
                          const char *value) {
  if (r->num_headers == SERVE_MAX_HEADERS) return;
  r->header_names[r->num_headers] = name;
  snprintf(r->header_values[r->num_headers], sizeof r->header_values[0], "%s",
           value);
  r->num_headers++;
}

void serve_respond(serve_request *r, int http_status, char *body, size_t len,
                   const char *content_type) {
  pthread_mutex_lock(&r->lock);
  if (r->answered) { /* a second answer (a bug) is dropped */
    pthread_mutex_unlock(&r->lock);
    free(body);
    return;
  }
  r->answered = true;
  r->http_status = http_status;
  r->response = body;
  r->response_len = len;
  r->content_type = content_type;
  if (r->answered_cond) pthread_cond_broadcast(r->answered_cond);
  /* A handler answering from a worker wakes the suspended connection;
   * MHD then calls the access handler again, which sends the answer, or
   * finds the client gone and completes the request at once. Either way
   * it is the last touch of r here: on_completed waits for this lock. */
  if (r->suspended && r->connection) MHD_resume_connection(r->connection);
  pthread_mutex_unlock(&r->lock);
}

void serve_respond_json(serve_request *r, int http_status, serve_buf *b) {
  if (b->failed) {
    serve_buf_free(b);
    serve_respond_error(r, serve_error(SERVE_INTERNAL, "out of memory"));
    return;
  }
  size_t len;
  char *body = serve_buf_take(b, &len);
  serve_respond(r, http_status, body, len, "application/json");
}

void serve_respond_error(serve_request *r, serve_status *status) {
  serve_buf b = {0};
  serve_buf_puts(&b, "{\"error\":");
  serve_buf_json_string(&b, serve_status_message(status));
  serve_buf_puts(&b, "}\n");
  int http = serve_status_http(status);
  r->code = serve_status_code(status);
  /* A full queue: tell well-behaved clients when to try again. */
  if (serve_status_code(status) == SERVE_UNAVAILABLE)
    serve_respond_header(r, "Retry-After", "1");
  serve_status_free(status);
  serve_respond_json(r, http, &b);
}

void serve_log(void *context, const char *fmt, ...) {
  (void)context;
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "%s kiln serve: ", stamp);
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\n");
  va_end(args);
}

/* Metrics and the access log line, as the gRPC front records its calls. */
static void record(serve_request *r) {
  serve_finished_request f = {
      .entrypoint = "REST",
      .method = r->method,
      .path = r->path,
      .http_status = r->http_status,
      .grpc_status = -1,
      .code_name = serve_code_name(r->code),
      .request_bytes = r->body_len,
      .response_bytes = r->response_len,
      .received_ms = r->received_ms,
      .model = r->model,
      .version = r->version,
      .api = r->api,
  };
  serve_request_finished(r->server, &f);
}

static enum MHD_Result send_answer(serve_request *r) {
  if (r->sent) return MHD_YES; /* answered early; MHD is sending it */
  r->sent = true;
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      r->response_len, r->response, MHD_RESPMEM_MUST_FREE);
  if (!resp) return MHD_NO;
  r->response = NULL; /* MHD owns it now */
  MHD_add_response_header(
      resp, MHD_HTTP_HEADER_CONTENT_TYPE,
      r->content_type ? r->content_type : "application/json");
  /* Stopping: the client learns not to send more on this connection. */
  if (atomic_load(&r->server->stopping))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  for (int i = 0; i < r->num_headers; i++)
    MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
  enum MHD_Result ok =
      MHD_queue_response(r->connection, (unsigned)r->http_status, resp);
  MHD_destroy_response(resp);
  record(r);
  return ok;
}

static void route(serve_request *r) {
  if (serve_api_tfs(r) || serve_api_kserve(r) || serve_api_metrics(r)) return;
  serve_respond_error(r, serve_error(SERVE_NOT_FOUND,
                                     "no API at %s %s (kiln serves /v1/... "
                                     "as TF Serving, /v2/... as KServe v2, "
                                     "and /metrics)",
                                     r->method, r->path));
}

/* What is kept per connection (MHD's socket context). */
typedef struct http_conn {
  serve_conn *guard;  /* the deadline tracker; NULL: untracked */
  bool peer_verified; /* mutual TLS: its client certificate was checked */
} http_conn;

static http_conn *conn_state(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info ? info->socket_context : NULL;
}

/* The connection's deadline tracker (NULL when untracked). */
static serve_conn *guarded(struct MHD_Connection *conn) {
  http_conn *c = conn_state(conn);
  return c ? c->guard : NULL;
}

static serve_status *too_large(const serve_server *s) {
  return serve_error(SERVE_PAYLOAD_TOO_LARGE,
                     "the request body is larger than --max_body_bytes=%lld",
                     (long long)s->options.max_body_bytes);
}

/* Past the body deadline. MHD 0.9.75 takes no answer while a body is
 * arriving (MHD_queue_response refuses it), so the 408 is written straight
 * to the socket (serve_conn_send_408), and the handler then returns
 * MHD_NO, which closes the connection. Under TLS only MHD may write to
 * the socket: the connection is just closed. */
static void answer_408_and_close(serve_request *r) {
  if (r->client_fd >= 0 && !r->server->tls) serve_conn_send_408(r->client_fd);
  r->http_status = 408;
  record(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **state) {
  (void)version;
  serve_server *s = cls;
  serve_request *r = *state;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->server = s;
    r->connection = conn;
    r->method = method;
    r->path = url;
    r->received_ms = serve_now_ms();
    r->client_fd = -1;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info) r->client_fd = info->connect_fd;
    pthread_mutex_init(&r->lock, NULL);
    atomic_fetch_add(&s->in_flight, 1);
    *state = r;
    serve_conn_body_started(s->conn_guard, guarded(conn));
    /* Credentials (client certificate, bearer token) are checked before
     * any handler runs and before the body is read: the answer is queued
     * now, so MHD skips the body (a client without the token cannot make
     * the server read 60 MB) and the later calls find it sent. */
    http_conn *hc = conn_state(conn);
    serve_status *denied =
        serve_http_authorize(r, hc ? &hc->peer_verified : NULL);
    if (denied) {
      serve_conn_body_done(s->conn_guard, guarded(conn));
      serve_respond_error(r, denied);
      enum MHD_Result ok = send_answer(r);
      /* Counted under no model: naming the path's model would let a
       * client without credentials add metric series at will. */
      serve_metrics_request(s->metrics, "", 0, "auth", serve_code_name(r->code),
                            r->http_status, "REST",
                            (serve_now_ms() - r->received_ms) * 1e3);
      return ok;
    }
    /* Refuse an announced oversized body before reading any of it: an
     * answer queued now makes MHD skip the body and close the connection
     * after the 413. */
    const char *length =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    unsigned long long announced = length ? strtoull(length, NULL, 10) : 0;
    if (announced > (unsigned long long)s->options.max_body_bytes) {
      r->body_too_large = true;
      serve_conn_body_done(s->conn_guard, guarded(conn));
      serve_respond_error(r, too_large(s));
      return send_answer(r);
    } else if (announced > 0) {
      /* One buffer of the announced size: a large tensor body arrives in
       * many pieces, and growing piece by piece would copy it again and
       * again. The length is bounded by --max_body_bytes above. */
      r->body = malloc((size_t)announced + 1);
      if (!r->body) return MHD_NO;
      r->body_cap = (size_t)announced + 1;
    }
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (serve_conn_body_late(s->conn_guard, guarded(conn))) {
      serve_log_limited(
          "a request body took longer than "
          "--request_body_timeout_ms=%lld; answered 408",
          (long long)s->options.request_body_timeout_ms);
      answer_408_and_close(r);
      return MHD_NO;
    }
    if (r->body_too_large || r->sent) return MHD_YES; /* answered early */
    if (n > (size_t)s->options.max_body_bytes - r->body_len) {
      r->body_too_large = true; /* chunked bodies learn it here */
      free(r->body);
      r->body = NULL;
      r->body_cap = 0;
      return MHD_YES;
    }
    if (r->body_len + n + 1 > r->body_cap) {
      /* Chunked or understated: grow geometrically, within the limit. */
      size_t cap = 2 * r->body_cap > r->body_len + n + 1 ? 2 * r->body_cap
                                                         : r->body_len + n + 1;
      if (cap > (size_t)s->options.max_body_bytes + 1)
        cap = (size_t)s->options.max_body_bytes + 1;
      char *grown = realloc(r->body, cap);
      if (!grown) return MHD_NO;
      r->body = grown;
      r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, upload, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return MHD_YES;
  }
  /* The whole body is in; or a resumed connection whose answer is ready. */
  serve_conn_body_done(s->conn_guard, guarded(conn));
  pthread_mutex_lock(&r->lock);
  bool ready = r->answered;
  pthread_mutex_unlock(&r->lock);
  if (ready) return send_answer(r);
  if (r->body_too_large) {
    serve_respond_error(r, too_large(s));
  } else {
    if (!r->body) r->body = calloc(1, 1);
    route(r);
  }
  pthread_mutex_lock(&r->lock);
  ready = r->answered;
  if (!ready) {
    r->suspended = true;
    MHD_suspend_connection(conn);
  }
  pthread_mutex_unlock(&r->lock);
  return ready ? send_answer(r) : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code) {
  serve_server *s = cls;
  serve_request *r = *state;
  if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    serve_conn_request_done(s->conn_guard, guarded(conn));
  if (!r) return;
  atomic_fetch_sub(&s->in_flight, 1);
  /* A worker answering a connection whose client has left may still be
   * inside serve_respond, which resumed the connection that brought us
   * here; r is freed only after it lets go. */
  pthread_mutex_lock(&r->lock);
  pthread_mutex_unlock(&r->lock);
  pthread_mutex_destroy(&r->lock);
  if (r->api_state_free) r->api_state_free(r->api_state);
  free(r->body);
  free(r->response);
  free(r);
  *state = NULL;
}

/* MHD logs per connection (a client that closed, a reset, a timeout):
 * rate-limited, so many clients cannot flood the log. */
static void mhd_log(void *cls, const char *fmt, va_list args) {
  (void)cls;
  char text[512];
  vsnprintf(text, sizeof text, fmt, args);
  size_t len = strlen(text);
  while (len && text[len - 1] == '\n') text[--len] = '\0';
  serve_log_limited("http: %s", text);
}

/* Each connection's deadline tracker lives in its socket context. */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  serve_server *s = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    serve_http_tls_connection_started(s, conn);
    http_conn *c = calloc(1, sizeof *c);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (c && info)
      c->guard = serve_conn_opened(s->conn_guard, info->connect_fd);
    *socket_context = c;
  } else {
    http_conn *c = *socket_context;
    if (c) serve_conn_closed(s->conn_guard, c->guard);
    free(c);
    *socket_context = NULL;
  }
}

/* The open-file limit raised, the connection bounds below it (derived
 * unless set), and the deadline thread started. */
static bool guard_connections(serve_server *s, unsigned threads,
                              unsigned *total, unsigned *per_client, char *err,
                              size_t err_size) {
  serve_options *o = &s->options;
  int64_t files = serve_raise_open_file_limit();
  int64_t t, c;
  serve_default_connection_limits(files, &t, &c);
  if (o->max_connections) t = o->max_connections;
  if (o->max_connections_per_client) c = o->max_connections_per_client;
  /* MHD splits the total among its threads: each needs one at least. */
  if (t < (int64_t)threads) t = threads;
  if (t > files)
    serve_log(NULL,
              "warning: --max_connections=%lld is above the open-file limit "
              "%lld; past it, new connections fail",
              (long long)t, (long long)files);
  *total = (unsigned)t;
  *per_client = (unsigned)c;
  s->conn_guard = serve_conn_guard_create(
      (double)o->request_header_timeout_ms, (double)o->request_body_timeout_ms,
      1e3 * (double)o->client_timeout_seconds);
  if (!s->conn_guard) {
    snprintf(err, err_size, "cannot start the connection deadline thread");
    return false;
  }
  serve_log(NULL,
            "connections: at most %u, %u per client address; headers within "
            "%lld ms, bodies within %lld ms (open-file limit %lld)",
            *total, *per_client, (long long)o->request_header_timeout_ms,
            (long long)o->request_body_timeout_ms, (long long)files);
  return true;
}

bool serve_http_start(serve_server *s, char *err, size_t err_size);
void serve_http_stop_accepting(serve_server *s);
bool serve_http_drain(serve_server *s, double timeout_ms);
void serve_http_stop(serve_server *s);

bool serve_http_start(serve_server *s, char *err, size_t err_size) {
  if (s->options.rest_api_port == 0) return true; /* REST off */
  serve_bind_addr listen_at;
  if (!serve_bind_resolve(s->options.host, (uint16_t)s->options.rest_api_port,
                          &listen_at, err, err_size))
    return false;
  /* MHD takes IPv6 addresses only with its IPv6 flag; dual stack turns
   * IPV6_V6ONLY off so [::] takes IPv4 clients too. */
  unsigned family_flags = listen_at.dual_stack ? MHD_USE_DUAL_STACK
                          : listen_at.ipv6     ? MHD_USE_IPv6
                                               : 0;
  unsigned threads = (unsigned)s->options.rest_api_num_threads;
  unsigned tls_flags;
  struct MHD_OptionItem tls_options[SERVE_HTTP_TLS_OPTIONS];
  if (!serve_http_tls_options(s, &tls_flags, tls_options, err, err_size))
    return false;
  unsigned max_connections, per_client;
  if (!guard_connections(s, threads, &max_connections, &per_client, err,
                         err_size))
    return false;
  if (s->tls) serve_conn_guard_set_tls(s->conn_guard);
  s->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_INTERNAL_THREAD |
          MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | family_flags |
          tls_flags,
      (uint16_t)s->options.rest_api_port, NULL, NULL, on_request, s,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&listen_at.addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)s->options.client_timeout_seconds, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
      MHD_OPTION_CONNECTION_LIMIT, max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_client,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_ARRAY, tls_options,
      MHD_OPTION_END);
  if (!s->daemon) {
    serve_conn_guard_free(s->conn_guard);
    s->conn_guard = NULL;
    snprintf(err, err_size, "cannot listen on %s (in use, or not allowed%s)",
             listen_at.text,
             s->tls ? "; or TLS could not start: see the log above" : "");
    return false;
  }
  return true;
}

void serve_http_stop_accepting(serve_server *s) {
  atomic_store(&s->stopping, true);
  if (!s->daemon) return;
  MHD_socket listen_fd = MHD_quiesce_daemon(s->daemon);
  /* MHD no longer polls the socket, but it stays open until
   * MHD_stop_daemon, and the kernel would keep completing handshakes into
   * its backlog, leaving new clients hanging. A listening socket that is
   * shut down stops listening: new connections are refused at once. */
  if (listen_fd != MHD_INVALID_SOCKET) shutdown(listen_fd, SHUT_RDWR);
}

bool serve_http_drain(serve_server *s, double timeout_ms) {
  double until = serve_now_ms() + timeout_ms;
  while (atomic_load(&s->in_flight) > 0) {
    if (serve_now_ms() > until) return false;
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return true;
}

void serve_http_stop(serve_server *s) {
  if (s->daemon) MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  serve_conn_guard_free(s->conn_guard); /* after MHD closed every socket */
  s->conn_guard = NULL;
}
