/* conn_guard.h - what keeps slow or numerous clients from starving the
 * others: the open-file limit raised at start, limits on connections
 * derived from it, deadlines on a request's headers and body (counted
 * from when they began, not from the last byte, which is all
 * libmicrohttpd's timeout sees), and a rate-limited log of the
 * connections closed for these reasons. http.c wires it to MHD. */
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

/* Deadlines in milliseconds (0: none); idle_ms is MHD's idle timeout,
 * which a kept-alive connection may spend waiting before its next
 * request's headers start. A thread checks them every few milliseconds and
 * shuts down the sockets of connections past them. */
serve_conn_guard *serve_conn_guard_create(double header_ms, double body_ms,
                                          double idle_ms);
void serve_conn_guard_free(serve_conn_guard *g);
/* The connections speak TLS: a connection past its deadline is only shut
 * down, without the plaintext 408, which inside a TLS stream would be
 * garbage. A connection's headers' clock starts when it is accepted, so
 * a slow TLS handshake counts against the header deadline. */
void serve_conn_guard_set_tls(serve_conn_guard *g);

/* A new connection (its headers' clock starts), and its end. */
serve_conn *serve_conn_opened(serve_conn_guard *g, int fd);
void serve_conn_closed(serve_conn_guard *g, serve_conn *c);

/* The request's headers are in: its body's clock starts. */
void serve_conn_body_started(serve_conn_guard *g, serve_conn *c);
/* The body is in: no deadline while the request is served. */
void serve_conn_body_done(serve_conn_guard *g, serve_conn *c);
/* The answer is sent: a keep-alive connection waits for its next request's
 * headers, on the header deadline. */
void serve_conn_request_done(serve_conn_guard *g, serve_conn *c);
/* Whether the body has run past its deadline. */
bool serve_conn_body_late(serve_conn_guard *g, const serve_conn *c);

/* Writes a whole 408 answer to a plaintext TCP socket and shuts down its
 * writing side, best effort: for a request past its deadline on which
 * nothing has been answered yet (at most a 100 Continue), which MHD can
 * no longer answer itself. */
void serve_conn_send_408(int fd);

/* serve_log for events any connection can cause (one closed, one timed
 * out): at most one line a second, the next line counting those left out,
 * so a flood of clients cannot flood the log. */
void serve_log_limited(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
