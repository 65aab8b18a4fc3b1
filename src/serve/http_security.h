/* http_security.h - what the REST front checks before a request reaches
 * an API handler: TLS on libmicrohttpd (built with GnuTLS) from the
 * SSLConfig in s->tls, the client certificate when client_verify asks for
 * mutual TLS, and the bearer token of --bearer_token_file. Each check runs
 * when a request's headers are in, before its body is read. */
#ifndef KILN_SERVE_HTTP_SECURITY_H
#define KILN_SERVE_HTTP_SECURITY_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "serve/server.h"
#include "serve/status.h"

/* Room for the MHD options serve_http_tls_options writes. */
enum { SERVE_HTTP_TLS_OPTIONS = 6 };

/* The daemon flags (MHD_USE_TLS or 0) and options (ending with
 * MHD_OPTION_END; pointers into s->tls) that serve s->tls; with no TLS,
 * 0 and an empty list. False with a message when this libmicrohttpd was
 * built without TLS. */
bool serve_http_tls_options(const serve_server *s, unsigned *flags,
                            struct MHD_OptionItem *options, char *err,
                            size_t err_size);

/* A new connection: under mutual TLS its handshake is made to demand a
 * client certificate and to verify it against custom_ca, so a client
 * without one is refused before it can send a request. */
void serve_http_tls_connection_started(const serve_server *s,
                                       struct MHD_Connection *conn);

/* Whether the request's headers may go on to the handlers: under mutual
 * TLS the peer's certificate must verify against custom_ca (403 else;
 * checked once per connection: *peer_checked, when not NULL, is the
 * connection's flag), and with a bearer token every request but the
 * exempt ones must carry it (401 else). NULL when allowed; on refusal the
 * status to answer, with the WWW-Authenticate header RFC 6750 asks for
 * already added to r. */
serve_status *serve_http_authorize(serve_request *r, bool *peer_checked);

/* The requests a bearer token does not guard: the KServe health probes and
 * TF Serving's model status (GET /v1/models/NAME[/versions/N|/labels/L]),
 * which load balancers and Kubernetes probes call without credentials. */
bool serve_http_auth_exempt(const char *method, const char *path);

#endif
