/* conn_guard.c - connection limits and whole-request deadlines for the
 * HTTP front (see conn_guard.h). libmicrohttpd closes a connection only
 * after it has been idle for its timeout, so a client trickling one byte
 * a second keeps its connection forever; here each connection's phase and
 * the time it began are tracked, and a thread shuts down the socket of any
 * connection whose headers or body are past their deadline. shutdown(),
 * not close(): MHD still owns the descriptor, sees the socket end, and
 * closes the connection its own way. */
#include "serve/conn_guard.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/server.h"

int64_t serve_raise_open_file_limit(void) {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlim_t was = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0)
      serve_log(NULL, "open-file limit raised from %llu to %llu",
                (unsigned long long)was, (unsigned long long)lim.rlim_max);
    else
      getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > (rlim_t)1 << 30)
    return (int64_t)1 << 30;
  return (int64_t)lim.rlim_cur;
}

void serve_default_connection_limits(int64_t open_files, int64_t *total,
                                     int64_t *per_client) {
  /* Models, their version folders, logs, epoll and event descriptors of
   * each HTTP thread: a fixed reserve plus a tenth. */
  int64_t t = open_files - 64 - open_files / 10;
  if (t < 16) t = 16;
  *total = t;
  *per_client = t / 4 > 4 ? t / 4 : 4;
}

void serve_conn_send_408(int fd) {
  static const char answer[] =
      "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
      "Content-Type: application/json\r\nContent-Length: 59\r\n\r\n"
      "{\"error\":\"the request did not arrive within its deadline\"}\n";
  ssize_t sent =
      send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)sent; /* a client that cannot take it is closed all the same */
  shutdown(fd, SHUT_WR);
}

typedef enum conn_phase { PHASE_HEADERS, PHASE_BODY, PHASE_BUSY } conn_phase;

struct serve_conn {
  struct serve_conn *prev, *next;
  int fd;
  conn_phase phase;
  double since_ms;
  bool reaped;   /* shut down once; MHD closes it soon */
  bool answered; /* a request was served on it (kept alive) */
};

struct serve_conn_guard {
  pthread_mutex_t lock;
  serve_conn head; /* a ring through head */
  double header_ms, body_ms, idle_ms;
  bool tls; /* nothing may be written to the sockets but through MHD */
  pthread_t reaper;
  atomic_bool stop;
};

static void *reap(void *arg) {
  serve_conn_guard *g = arg;
  while (!atomic_load(&g->stop)) {
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double now = serve_now_ms();
    int headers = 0, bodies = 0;
    pthread_mutex_lock(&g->lock);
    /* The lock also keeps each fd open: MHD closes a socket only after
     * serve_conn_closed has taken it off this list. */
    for (serve_conn *c = g->head.next; c != &g->head; c = c->next) {
      if (c->reaped) continue;
      /* A body still arriving meets its deadline in the access handler,
       * which answers 408; a second more, and a client that went quiet
       * is cut here. */
      /* A kept-alive connection may first sit idle (MHD's idle timeout
       * bounds that), then its next headers have their own deadline. */
      double header_ms = g->header_ms > 0 && c->answered
                             ? g->header_ms + g->idle_ms
                             : g->header_ms;
      double limit = c->phase == PHASE_HEADERS ? header_ms
                     : c->phase == PHASE_BODY && g->body_ms > 0
                         ? g->body_ms + 1000.0
                         : 0;
      if (limit <= 0 || now - c->since_ms <= limit) continue;
      c->reaped = true;
      /* A first request's headers still arriving: nothing was answered
       * on this connection, so a 408 can go before the socket is shut
       * (in plaintext only; under TLS MHD alone may write).
       * Not on a kept-alive one, most likely idle: a client could read
       * an unasked 408 as the answer to its next request. */
      if (c->phase == PHASE_HEADERS && !c->answered && !g->tls)
        serve_conn_send_408(c->fd);
      shutdown(c->fd, SHUT_RDWR);
      if (c->phase == PHASE_HEADERS)
        headers++;
      else
        bodies++;
    }
    pthread_mutex_unlock(&g->lock);
    if (headers)
      serve_log_limited(
          "closed %d connections whose headers took longer "
          "than --request_header_timeout_ms",
          headers);
    if (bodies)
      serve_log_limited(
          "closed %d connections whose bodies took longer "
          "than --request_body_timeout_ms",
          bodies);
  }
  return NULL;
}

serve_conn_guard *serve_conn_guard_create(double header_ms, double body_ms,
                                          double idle_ms) {
  serve_conn_guard *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  pthread_mutex_init(&g->lock, NULL);
  g->head.next = g->head.prev = &g->head;
  g->header_ms = header_ms;
  g->body_ms = body_ms;
  g->idle_ms = idle_ms;
  if (pthread_create(&g->reaper, NULL, reap, g) != 0) {
    pthread_mutex_destroy(&g->lock);
    free(g);
    return NULL;
  }
  return g;
}

void serve_conn_guard_free(serve_conn_guard *g) {
  if (!g) return;
  atomic_store(&g->stop, true);
  pthread_join(g->reaper, NULL);
  /* MHD has closed every connection (and called serve_conn_closed) by
   * now; anything left is freed with the guard. */
  serve_conn *c = g->head.next;
  while (c != &g->head) {
    serve_conn *next = c->next;
    free(c);
    c = next;
  }
  pthread_mutex_destroy(&g->lock);
  free(g);
}

void serve_conn_guard_set_tls(serve_conn_guard *g) {
  pthread_mutex_lock(&g->lock);
  g->tls = true;
  pthread_mutex_unlock(&g->lock);
}

serve_conn *serve_conn_opened(serve_conn_guard *g, int fd) {
  serve_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL; /* untracked: only the idle timeout applies */
  c->fd = fd;
  c->phase = PHASE_HEADERS;
  c->since_ms = serve_now_ms();
  pthread_mutex_lock(&g->lock);
  c->next = g->head.next;
  c->prev = &g->head;
  g->head.next->prev = c;
  g->head.next = c;
  pthread_mutex_unlock(&g->lock);
  return c;
}

void serve_conn_closed(serve_conn_guard *g, serve_conn *c) {
  if (!c) return;
  pthread_mutex_lock(&g->lock);
  c->prev->next = c->next;
  c->next->prev = c->prev;
  pthread_mutex_unlock(&g->lock);
  free(c);
}

static void set_phase(serve_conn_guard *g, serve_conn *c, conn_phase phase) {
  if (!c) return;
  pthread_mutex_lock(&g->lock);
  c->phase = phase;
  c->since_ms = serve_now_ms();
  pthread_mutex_unlock(&g->lock);
}

void serve_conn_body_started(serve_conn_guard *g, serve_conn *c) {
  set_phase(g, c, PHASE_BODY);
}

void serve_conn_body_done(serve_conn_guard *g, serve_conn *c) {
  set_phase(g, c, PHASE_BUSY);
}

void serve_conn_request_done(serve_conn_guard *g, serve_conn *c) {
  if (!c) return;
  pthread_mutex_lock(&g->lock);
  c->phase = PHASE_HEADERS;
  c->since_ms = serve_now_ms();
  c->answered = true;
  pthread_mutex_unlock(&g->lock);
}

bool serve_conn_body_late(serve_conn_guard *g, const serve_conn *c) {
  if (!c || g->body_ms <= 0) return false;
  pthread_mutex_lock(&g->lock);
  bool late =
      c->phase == PHASE_BODY && serve_now_ms() - c->since_ms > g->body_ms;
  pthread_mutex_unlock(&g->lock);
  return late;
}

void serve_log_limited(const char *fmt, ...) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static double last_ms = -1e18;
  static long suppressed;
  pthread_mutex_lock(&lock);
  double now = serve_now_ms();
  if (now - last_ms < 1000.0) {
    suppressed++;
    pthread_mutex_unlock(&lock);
    return;
  }
  long left_out = suppressed;
  suppressed = 0;
  last_ms = now;
  pthread_mutex_unlock(&lock);
  char text[512];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  if (left_out)
    serve_log(NULL,
              "%s (and %ld more per-connection lines left out since the last)",
              text, left_out);
  else
    serve_log(NULL, "%s", text);
}
