/* test_serve_conn_guard.c - the connection guard of `kiln serve`
 * (conn_guard.c) on socket pairs standing in for client connections: the
 * default limits derived from the open-file limit, a connection whose
 * headers or body run past their deadline is answered 408 (first request
 * only) and shut down, one being served or kept alive is left alone,
 * under TLS only shut down (no plaintext inside the TLS stream), and the
 * rate-limited log. */
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
  serve_conn_guard *g = serve_conn_guard_create(100, 100, 1000);
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
  serve_conn_guard *none = serve_conn_guard_create(0, 0, 0);
  serve_conn_body_started(none, NULL);
  CHECK(!serve_conn_body_late(none, NULL));
  serve_conn_closed(none, NULL);
  serve_conn_guard_free(none);
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
  serve_conn_guard *g = serve_conn_guard_create(100, 100, 1000);
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

int main(void) {
  test_default_limits();
  test_deadlines();
  test_tls_closes_without_plaintext();
  test_log_limited();
  return kiln_test_finish("test_serve_conn_guard");
}
