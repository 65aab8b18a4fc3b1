/* conn_guard.c - connection limits and whole-request deadlines for the
 * HTTP front (see conn_guard.h). libmicrohttpd closes a connection only
 * after it has been idle for its timeout, and any byte moved either way
 * resets that clock, so a client trickling one byte a second, or reading
 * its answer a byte a second, keeps its connection forever; here each
 * connection's phase and the time it began are tracked, and a thread shuts
 * down the socket of any connection whose headers, body or answer are past
 * their deadline. shutdown(), not close(): MHD still owns the descriptor,
 * sees the socket end, and closes the connection its own way. The total
 * connection cap is enforced here too: MHD's own cap, split evenly among
 * its threads, stops accepting when reached, leaving new clients hanging
 * in the listen backlog with no answer; refused here, they learn at once. */
#include "serve/conn_guard.h"

#include <linux/tcp.h>
#include <netinet/in.h>
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

static void send_503(int fd) {
  static const char answer[] =
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
      "Retry-After: 1\r\nContent-Type: application/json\r\n"
      "Content-Length: 69\r\n\r\n"
      "{\"error\":\"the server has --max_connections open; try again "
      "shortly\"}\n";
  ssize_t sent =
      send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)sent;
}

/* Shuts a socket down so that MHD's close of it resets the connection,
 * dropping what the kernel still holds to send (up to megabytes for a
 * client that stopped reading) instead of keeping it for minutes. */
static void reset_socket(int fd) {
  struct linger now = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  shutdown(fd, SHUT_RDWR);
}

/* The bytes a TCP socket has received so far; false for other sockets. */
static bool bytes_received(int fd, uint64_t *count) {
  struct tcp_info info;
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  if (len < offsetof(struct tcp_info, tcpi_bytes_received) +
                sizeof info.tcpi_bytes_received)
    return false; /* a kernel before 4.1 */
  *count = info.tcpi_bytes_received;
  return true;
}

typedef enum conn_phase {
  PHASE_HEADERS,
  PHASE_BODY,
  PHASE_BUSY,
  PHASE_SENDING
} conn_phase;

/* How often an idle kept-alive connection's byte count is read: the next
 * request's header clock may start this much after its first byte, a
 * fortieth of the header deadline (from 20 to 500 ms), so that many idle
 * connections cost few system calls. */
static double next_request_poll_ms(const serve_conn_limits *l) {
  double ms = l->header_ms / 40.0;
  return ms < 20.0 ? 20.0 : ms > 500.0 ? 500.0 : ms;
}

struct serve_conn {
  struct serve_conn *prev, *next;
  int fd;
  conn_phase phase;
  double since_ms;
  bool reaped;   /* shut down once; MHD closes it soon */
  bool refused;  /* over max_connections: not counted */
  bool answered; /* a request was served on it (kept alive) */
  /* Kept alive: the bytes received when the last answer was sent (when
   * known), and whether more have come since: the next request began. */
  bool counting;
  bool next_started;
  uint64_t bytes_at_answer;
  double next_check_ms;
};

struct serve_conn_guard {
  pthread_mutex_t lock;
  serve_conn head; /* a ring through head */
  serve_conn_limits limits;
  int64_t open; /* counted against limits.max_connections */
  bool tls;     /* nothing may be written to the sockets but through MHD */
  pthread_t reaper;
  atomic_bool stop;
};

/* Kept alive and idle: have the next request's first bytes come? Called
 * under the lock, which keeps the fd open. */
static void watch_next_request(const serve_conn_limits *l, serve_conn *c,
                               double now) {
  if (c->next_started || !c->counting || now < c->next_check_ms) return;
  c->next_check_ms = now + next_request_poll_ms(l);
  uint64_t count;
  if (bytes_received(c->fd, &count) && count > c->bytes_at_answer) {
    c->next_started = true;
    c->since_ms = now;
  }
}

/* The deadline of a connection's current phase in ms from since_ms; 0:
 * none. */
static double phase_limit(const serve_conn_limits *l, const serve_conn *c) {
  switch (c->phase) {
    case PHASE_HEADERS:
      /* Kept alive and idle: MHD's idle timeout ends that; this is only a
       * backstop (a socket whose bytes cannot be counted). */
      if (l->header_ms > 0 && c->answered && !c->next_started)
        return l->header_ms + l->idle_ms;
      return l->header_ms;
    case PHASE_BODY:
      /* A body still arriving meets its deadline in the access handler,
       * which answers 408; a second more, and a client that went quiet is
       * cut here. */
      return l->body_ms > 0 ? l->body_ms + 1000.0 : 0;
    case PHASE_SENDING:
      return l->write_ms;
    case PHASE_BUSY:
      break;
  }
  return 0;
}

static void *reap(void *arg) {
  serve_conn_guard *g = arg;
  while (!atomic_load(&g->stop)) {
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double now = serve_now_ms();
    int headers = 0, bodies = 0, answers = 0;
    pthread_mutex_lock(&g->lock);
    /* The lock also keeps each fd open: MHD closes a socket only after
     * serve_conn_closed has taken it off this list. */
    for (serve_conn *c = g->head.next; c != &g->head; c = c->next) {
      if (c->reaped) continue;
      if (c->phase == PHASE_HEADERS && c->answered)
        watch_next_request(&g->limits, c, now);
      double limit = phase_limit(&g->limits, c);
      if (limit <= 0 || now - c->since_ms <= limit) continue;
      c->reaped = true;
      if (c->phase == PHASE_SENDING) {
        /* Part of the answer may be out: nothing more can be said. */
        reset_socket(c->fd);
        answers++;
        continue;
      }
      /* Headers arriving, with nothing answered since they began: a 408
       * can go before the socket is shut (in plaintext only; under TLS
       * MHD alone may write). Not on a kept-alive connection whose next
       * request has not begun: a client could read an unasked 408 as the
       * answer to the request it sends next. */
      if (c->phase == PHASE_HEADERS && (!c->answered || c->next_started) &&
          !g->tls)
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
    if (answers)
      serve_log_limited(
          "reset %d connections whose clients did not take their answers "
          "within --response_write_timeout_ms",
          answers);
  }
  return NULL;
}

serve_conn_guard *serve_conn_guard_create(const serve_conn_limits *limits) {
  serve_conn_guard *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  pthread_mutex_init(&g->lock, NULL);
  g->head.next = g->head.prev = &g->head;
  g->limits = *limits;
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
  int64_t cap = g->limits.max_connections;
  if (cap > 0 && g->open >= cap) {
    c->refused = c->reaped = true;
  } else {
    g->open++;
  }
  bool plaintext = !g->tls;
  pthread_mutex_unlock(&g->lock);
  if (c->refused) {
    /* Shut down before MHD reads a request from it: refused connections
     * cost no work beyond this. Under TLS no handshake has happened, so
     * nothing can be said: the connection is just closed. */
    if (plaintext) send_503(fd);
    shutdown(fd, SHUT_RDWR);
    serve_log_limited("refused a connection: --max_connections=%lld are open",
                      (long long)cap);
  }
  return c;
}

void serve_conn_closed(serve_conn_guard *g, serve_conn *c) {
  if (!c) return;
  pthread_mutex_lock(&g->lock);
  c->prev->next = c->next;
  c->next->prev = c->prev;
  if (!c->refused) g->open--;
  pthread_mutex_unlock(&g->lock);
  free(c);
}

bool serve_conn_refused(const serve_conn *c) {
  return c && c->refused; /* set before MHD sees the connection */
}

int64_t serve_conn_open_count(serve_conn_guard *g) {
  pthread_mutex_lock(&g->lock);
  int64_t open = g->open;
  pthread_mutex_unlock(&g->lock);
  return open;
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

void serve_conn_answer_started(serve_conn_guard *g, serve_conn *c) {
  set_phase(g, c, PHASE_SENDING);
}

void serve_conn_request_done(serve_conn_guard *g, serve_conn *c) {
  if (!c) return;
  /* The caller (MHD, finishing the request) holds the fd open. */
  uint64_t count = 0;
  bool counting = bytes_received(c->fd, &count);
  pthread_mutex_lock(&g->lock);
  c->phase = PHASE_HEADERS;
  c->since_ms = serve_now_ms();
  c->answered = true;
  c->counting = counting;
  c->next_started = false;
  c->bytes_at_answer = count;
  c->next_check_ms = c->since_ms;
  pthread_mutex_unlock(&g->lock);
}

bool serve_conn_body_late(serve_conn_guard *g, const serve_conn *c) {
  double body_ms = g->limits.body_ms;
  if (!c || body_ms <= 0) return false;
  pthread_mutex_lock(&g->lock);
  bool late = c->phase == PHASE_BODY && serve_now_ms() - c->since_ms > body_ms;
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
