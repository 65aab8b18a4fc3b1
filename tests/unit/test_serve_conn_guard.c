/* test_serve_conn_guard.c - the connection guard of `kiln serve`
 * (conn_guard.c) on socket pairs standing in for client connections: the
 * default limits derived from the open-file limit, a connection whose
 * headers or body run past their deadline is answered 408 and shut down
 * (on a kept-alive connection only once its next request has begun), one
 * being served or idly kept alive is left alone, an answer not taken in
 * time is cut, connections over the cap are answered 503 and shut down,
 * under TLS only shut down (no plaintext inside the TLS stream), and the
 * rate-limited log. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "serve/conn_guard.h"

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* What the client side holds after the server side's fate: the bytes sent
 * to it (up to size - 1, NUL-terminated) and whether it saw the end. */
static bool drained(int fd, char *text, size_t size) {
  size_t len = 0;
  bool ended = false;
  for (;;) {
    ssize_t n = recv(fd, text + len, size - 1 - len, MSG_DONTWAIT);
    if (n > 0) {
      len += (size_t)n;
      if (len == size - 1) break;
      continue;
    }
    ended = n == 0;
    break;
  }
  text[len] = '\0';
  return ended;
}

/* A connected loopback TCP pair (the guard counts TCP bytes received):
 * fds[0] the server's side, fds[1] the client's. */
static bool tcp_pair(int fds[2]) {
  struct sockaddr_in at = {.sin_family = AF_INET};
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof at;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = listener >= 0 &&
            bind(listener, (struct sockaddr *)&at, sizeof at) == 0 &&
            listen(listener, 1) == 0 &&
            getsockname(listener, (struct sockaddr *)&at, &len) == 0;
  fds[1] = ok ? socket(AF_INET, SOCK_STREAM, 0) : -1;
  ok = ok && fds[1] >= 0 &&
       connect(fds[1], (struct sockaddr *)&at, sizeof at) == 0;
  fds[0] = ok ? accept(listener, NULL, NULL) : -1;
  if (listener >= 0) close(listener);
  return ok && fds[0] >= 0;
}

static serve_conn_limits limits_of(double header_ms, double body_ms,
                                   double write_ms, double idle_ms,
                                   int64_t max_connections) {
  serve_conn_limits l = {.header_ms = header_ms,
                         .body_ms = body_ms,
                         .write_ms = write_ms,
                         .idle_ms = idle_ms,
                         .max_connections = max_connections};
  return l;
}

static void test_default_limits(void) {
  int64_t total, per_client;
  serve_default_connection_limits(1024, &total, &per_client);
  CHECK(total > 0 && total < 1024);
  CHECK(per_client > 0 && per_client < total);
  serve_default_connection_limits(1 << 20, &total, &per_client);
  CHECK(total < (1 << 20) && total > (1 << 19));
  /* A tiny limit still leaves a few connections. */
  serve_default_connection_limits(10, &total, &per_client);
  CHECK(total >= 16 && per_client >= 4);
  CHECK(serve_raise_open_file_limit() >= 16);
}

static void test_deadlines(void) {
  serve_conn_limits l = limits_of(100, 100, 0, 1000, 0);
  serve_conn_guard *g = serve_conn_guard_create(&l);
  CHECK(g != NULL);
  int headers[2], body[2], busy[2], kept[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, headers) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, body) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, busy) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, kept) == 0);
  serve_conn *h = serve_conn_opened(g, headers[0]);
  serve_conn *b = serve_conn_opened(g, body[0]);
  serve_conn *s = serve_conn_opened(g, busy[0]);
  serve_conn *k = serve_conn_opened(g, kept[0]);
  serve_conn_body_started(g, b);
  serve_conn_body_started(g, s);
  serve_conn_body_done(g, s);
  serve_conn_request_done(g, k);
  CHECK(!serve_conn_body_late(g, b));
  sleep_ms(400);
  /* Headers past 100 ms: a 408, then the end. */
  char text[512];
  CHECK(drained(headers[1], text, sizeof text));
  CHECK(!strncmp(text, "HTTP/1.1 408 ", 13));
  /* The body is late; the access handler answers it, the guard waits a
   * second longer before cutting it. */
  CHECK(serve_conn_body_late(g, b));
  CHECK(!drained(body[1], text, sizeof text) && !text[0]);
  /* Being served, and kept alive within the idle allowance: untouched. */
  CHECK(!drained(busy[1], text, sizeof text) && !text[0]);
  CHECK(!drained(kept[1], text, sizeof text) && !text[0]);
  sleep_ms(1200);
  /* Past the body's grace second and the kept-alive allowance: cut, and
   * no unasked 408 on the kept-alive one. */
  CHECK(drained(body[1], text, sizeof text));
  CHECK(drained(kept[1], text, sizeof text) && !text[0]);
  CHECK(!drained(busy[1], text, sizeof text) && !text[0]);
  serve_conn_closed(g, h);
  serve_conn_closed(g, b);
  serve_conn_closed(g, s);
  serve_conn_closed(g, k);
  for (int i = 0; i < 2; i++) {
    close(headers[i]);
    close(body[i]);
    close(busy[i]);
    close(kept[i]);
  }
  serve_conn_guard_free(g);
  /* No tracker: every call is a no-op. */
  serve_conn_limits off = limits_of(0, 0, 0, 0, 0);
  serve_conn_guard *none = serve_conn_guard_create(&off);
  serve_conn_body_started(none, NULL);
  CHECK(!serve_conn_body_late(none, NULL));
  serve_conn_closed(none, NULL);
  serve_conn_guard_free(none);
}

/* An answer not taken within write_ms: the connection is cut, with
 * nothing more said; one taken in time (the request done) is not. */
static void test_write_deadline(void) {
  serve_conn_limits l = limits_of(0, 0, 100, 1000, 0);
  serve_conn_guard *g = serve_conn_guard_create(&l);
  CHECK(g != NULL);
  int stuck[2], taken[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, stuck) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, taken) == 0);
  serve_conn *s = serve_conn_opened(g, stuck[0]);
  serve_conn *t = serve_conn_opened(g, taken[0]);
  serve_conn_answer_started(g, s);
  serve_conn_answer_started(g, t);
  serve_conn_request_done(g, t);
  sleep_ms(400);
  char text[512];
  CHECK(drained(stuck[1], text, sizeof text) && !text[0]);
  CHECK(!drained(taken[1], text, sizeof text) && !text[0]);
  serve_conn_closed(g, s);
  serve_conn_closed(g, t);
  for (int i = 0; i < 2; i++) {
    close(stuck[i]);
    close(taken[i]);
  }
  serve_conn_guard_free(g);
}

/* Kept alive: idle past header_ms is left alone, but once the next
 * request's first byte comes, its headers have header_ms and get a 408. */
static void test_kept_alive_next_request(void) {
  serve_conn_limits l = limits_of(200, 0, 0, 60000, 0);
  serve_conn_guard *g = serve_conn_guard_create(&l);
  CHECK(g != NULL);
  int fds[2];
  CHECK(tcp_pair(fds));
  serve_conn *c = serve_conn_opened(g, fds[0]);
  /* The first request came and was answered. */
  char request[] = "GET / HTTP/1.1\r\n\r\n", seen[64];
  CHECK(send(fds[1], request, strlen(request), 0) == (ssize_t)strlen(request));
  sleep_ms(20);
  CHECK(recv(fds[0], seen, sizeof seen, 0) == (ssize_t)strlen(request));
  serve_conn_body_started(g, c);
  serve_conn_body_done(g, c);
  serve_conn_answer_started(g, c);
  serve_conn_request_done(g, c);
  sleep_ms(500);
  char text[512];
  CHECK(!drained(fds[1], text, sizeof text) && !text[0]);
  /* The next request begins and stalls. */
  CHECK(send(fds[1], "G", 1, 0) == 1);
  sleep_ms(700);
  CHECK(drained(fds[1], text, sizeof text));
  CHECK(!strncmp(text, "HTTP/1.1 408 ", 13));
  serve_conn_closed(g, c);
  close(fds[0]);
  close(fds[1]);
  serve_conn_guard_free(g);
}

/* Over max_connections: answered 503 and shut down at once, not counted;
 * once one closes, the next is admitted. */
static void test_connection_cap(void) {
  serve_conn_limits l = limits_of(0, 0, 0, 1000, 2);
  serve_conn_guard *g = serve_conn_guard_create(&l);
  CHECK(g != NULL);
  int pairs[4][2];
  serve_conn *c[4];
  for (int i = 0; i < 3; i++) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) == 0);
    c[i] = serve_conn_opened(g, pairs[i][0]);
  }
  char text[512];
  CHECK(!serve_conn_refused(c[0]) && !serve_conn_refused(c[1]));
  CHECK(serve_conn_refused(c[2]));
  CHECK(serve_conn_open_count(g) == 2);
  CHECK(!drained(pairs[0][1], text, sizeof text) && !text[0]);
  CHECK(drained(pairs[2][1], text, sizeof text));
  CHECK(!strncmp(text, "HTTP/1.1 503 ", 13));
  CHECK(strstr(text, "Retry-After: 1\r\n") != NULL);
  /* The announced length is the body's. */
  const char *body = strstr(text, "\r\n\r\n");
  const char *length = strstr(text, "Content-Length: ");
  CHECK(body && length && (size_t)atoi(length + 16) == strlen(body + 4));
  serve_conn_closed(g, c[2]);
  CHECK(serve_conn_open_count(g) == 2);
  serve_conn_closed(g, c[0]);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[3]) == 0);
  c[3] = serve_conn_opened(g, pairs[3][0]);
  CHECK(!serve_conn_refused(c[3]));
  CHECK(!drained(pairs[3][1], text, sizeof text) && !text[0]);
  serve_conn_closed(g, c[1]);
  serve_conn_closed(g, c[3]);
  CHECK(serve_conn_open_count(g) == 0);
  for (int i = 0; i < 4; i++) {
    close(pairs[i][0]);
    close(pairs[i][1]);
  }
  serve_conn_guard_free(g);
}

static void test_log_limited(void) {
  /* One limiter for the process: let the guard's lines above age out. */
  sleep_ms(1100);
  /* The log goes to stderr: count its lines through a pipe. */
  int pipe_fds[2];
  CHECK(pipe(pipe_fds) == 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(pipe_fds[1], 2);
  for (int i = 0; i < 1000; i++) serve_log_limited("event %d", i);
  sleep_ms(1100);
  serve_log_limited("event last");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(pipe_fds[1]);
  char text[4096];
  ssize_t n = read(pipe_fds[0], text, sizeof text - 1);
  close(pipe_fds[0]);
  text[n > 0 ? n : 0] = '\0';
  int lines = 0;
  for (char *p = text; *p; p++) lines += *p == '\n';
  CHECK(lines == 2);
  CHECK(strstr(text, "event 0") != NULL);
  CHECK(strstr(text, "999 more per-connection lines left out") != NULL);
}

/* Under TLS a connection past its header deadline is shut down without
 * the plaintext 408, which the client's TLS layer would read as a corrupt
 * record. */
static void test_tls_closes_without_plaintext(void) {
  serve_conn_limits l = limits_of(100, 100, 0, 1000, 0);
  serve_conn_guard *g = serve_conn_guard_create(&l);
  CHECK(g != NULL);
  if (!g) return;
  serve_conn_guard_set_tls(g);
  int pair[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  serve_conn *c = serve_conn_opened(g, pair[0]);
  sleep_ms(400);
  char text[512];
  CHECK(drained(pair[1], text, sizeof text));
  CHECK(text[0] == '\0');
  serve_conn_closed(g, c);
  serve_conn_guard_free(g);
  close(pair[0]);
  close(pair[1]);
}

/* Under TLS a connection over the cap is closed without the plaintext
 * 503: no handshake has happened, so nothing can be said. */
static void test_tls_cap_closes_without_plaintext(void) {
  serve_conn_limits l = limits_of(0, 0, 0, 1000, 1);
  serve_conn_guard *g = serve_conn_guard_create(&l);
  CHECK(g != NULL);
  if (!g) return;
  serve_conn_guard_set_tls(g);
  int first[2], second[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, first) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, second) == 0);
  serve_conn *a = serve_conn_opened(g, first[0]);
  serve_conn *b = serve_conn_opened(g, second[0]);
  CHECK(!serve_conn_refused(a));
  CHECK(serve_conn_refused(b));
  char text[512];
  CHECK(drained(second[1], text, sizeof text));
  CHECK(text[0] == '\0');
  serve_conn_closed(g, b);
  serve_conn_closed(g, a);
  serve_conn_guard_free(g);
  for (int i = 0; i < 2; i++) {
    close(first[i]);
    close(second[i]);
  }
}

int main(void) {
  test_default_limits();
  test_deadlines();
  test_write_deadline();
  test_kept_alive_next_request();
  test_connection_cap();
  test_tls_closes_without_plaintext();
  test_tls_cap_closes_without_plaintext();
  test_log_limited();
  return kiln_test_finish("test_serve_conn_guard");
}
