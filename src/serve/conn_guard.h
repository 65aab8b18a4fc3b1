/* conn_guard.h - what keeps slow or numerous clients from starving the
 * others: the open-file limit raised at start, limits on connections
 * derived from it (the total enforced here, refusing the excess at once;
 * the per-address one by MHD), deadlines on a request's headers, its body
 * and the sending of its answer (counted from when they began, not from
 * the last byte, which is all libmicrohttpd's timeout sees), and a
 * rate-limited log of the connections closed for these reasons. http.c
 * wires it to MHD. */
#ifndef KILN_SERVE_CONN_GUARD_H
#define KILN_SERVE_CONN_GUARD_H

#include <stdbool.h>
#include <stdint.h>

/* Raises the open-file soft limit to the hard limit (logged); returns the
 * soft limit in force afterwards. */
int64_t serve_raise_open_file_limit(void);

/* The default connection bounds for an open-file limit: the total leaves
 * room for model files, logs and the server's own descriptors; one client
 * address may hold a quarter of it. */
void serve_default_connection_limits(int64_t open_files, int64_t *total,
                                     int64_t *per_client);

typedef struct serve_conn_guard serve_conn_guard;
typedef struct serve_conn serve_conn;

/* Deadlines in milliseconds (0: none) and the connection cap. */
typedef struct serve_conn_limits {
  double header_ms; /* a request's headers, from their first byte */
  double body_ms;   /* its body, from the end of its headers */
  double write_ms;  /* its answer, from when it is queued until the
                       kernel has taken its last byte */
  double idle_ms;   /* MHD's idle timeout: what a kept-alive connection may
                       wait before its next request's headers start */
  int64_t max_connections; /* open at once; 0: no cap here */
} serve_conn_limits;

/* A thread checks the deadlines every few milliseconds and shuts down the
 * sockets of connections past them. */
serve_conn_guard *serve_conn_guard_create(const serve_conn_limits *limits);
void serve_conn_guard_free(serve_conn_guard *g);
/* The connections speak TLS: a connection past its deadline is only shut
 * down, without the plaintext 408, which inside a TLS stream would be
 * garbage. A connection's headers' clock starts when it is accepted, so
 * a slow TLS handshake counts against the header deadline. */
void serve_conn_guard_set_tls(serve_conn_guard *g);

/* A new connection (its headers' clock starts), and its end. One beyond
 * max_connections is answered 503 (Retry-After: 1) and shut down at once:
 * still tracked (its end must be reported), but not counted. */
serve_conn *serve_conn_opened(serve_conn_guard *g, int fd);
void serve_conn_closed(serve_conn_guard *g, serve_conn *c);
/* Whether the connection was refused: a request already queued on it is
 * not served. */
bool serve_conn_refused(const serve_conn *c);

/* The request's headers are in: its body's clock starts. */
void serve_conn_body_started(serve_conn_guard *g, serve_conn *c);
/* The body is in: no deadline while the request is served. */
void serve_conn_body_done(serve_conn_guard *g, serve_conn *c);
/* The answer is queued: it must be taken within write_ms, or the
 * connection is reset (a client reading it a byte at a time would hold the
 * connection and the answer's memory for as long as it likes). */
void serve_conn_answer_started(serve_conn_guard *g, serve_conn *c);
/* The answer is sent: a keep-alive connection waits for its next request.
 * Once that request's first bytes arrive (seen from the socket's count of
 * bytes received), its headers have header_ms, as a first request's have,
 * and are answered 408 past it. An idle wait is MHD's idle timeout's to
 * end, with header_ms + idle_ms as a backstop, cut without an answer. */
void serve_conn_request_done(serve_conn_guard *g, serve_conn *c);
/* Whether the body has run past its deadline. */
bool serve_conn_body_late(serve_conn_guard *g, const serve_conn *c);

/* Writes a whole 408 answer to a plaintext TCP socket and shuts down its
 * writing side, best effort: for a request past its deadline on which
 * nothing has been answered yet (at most a 100 Continue), which MHD can
 * no longer answer itself. */
void serve_conn_send_408(int fd);

/* How many connections are open and counted against max_connections. */
int64_t serve_conn_open_count(serve_conn_guard *g);

/* serve_log for events any connection can cause (one closed, one timed
 * out): at most one line a second, the next line counting those left out,
 * so a flood of clients cannot flood the log. */
void serve_log_limited(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
