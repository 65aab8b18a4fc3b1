/* http_security.c - TLS, client certificates and bearer tokens on the REST
 * front (see http_security.h). libmicrohttpd runs the TLS handshakes with
 * GnuTLS; this file hands it the SSLConfig's PEM texts, tightens each
 * connection's handshake under mutual TLS, and checks each request's
 * credentials when its headers are in, so no handler runs and no body is
 * read for a client that has none. */
#include "serve/http_security.h"

#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "serve/security.h"

/* TLS 1.2 and 1.3 only, as TF Serving's gRPC (BoringSSL) offers; GnuTLS's
 * NORMAL set otherwise still admits TLS 1.0 and 1.1. */
static const char tls_priorities[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

bool serve_http_tls_options(const serve_server *s, unsigned *flags,
                            struct MHD_OptionItem *options, char *err,
                            size_t err_size) {
  int n = 0;
  *flags = 0;
  const serve_tls_config *tls = s->tls;
  if (tls) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(err, err_size,
               "--ssl_config_file: this libmicrohttpd was built without TLS "
               "(Debian's libmicrohttpd12 has it, through GnuTLS)");
      return false;
    }
    *flags = MHD_USE_TLS;
    options[n++] =
        (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls->server_key};
    options[n++] =
        (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls->server_cert};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                           (void *)tls_priorities};
    /* The trusted CA makes MHD ask clients for a certificate; whether one
     * is required, and verified, is settled per connection below. */
    if (tls->client_verify)
      options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                             tls->custom_ca};
  }
  options[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  return true;
}

static gnutls_session_t tls_session(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  return info ? (gnutls_session_t)info->tls_session : NULL;
}

void serve_http_tls_connection_started(const serve_server *s,
                                       struct MHD_Connection *conn) {
  if (!s->tls || !s->tls->client_verify) return;
  gnutls_session_t session = tls_session(conn);
  if (!session) return; /* serve_http_authorize still refuses it */
  /* MHD only asks for a certificate (GNUTLS_CERT_REQUEST): a client could
   * send none and still finish the handshake. Required, and verified
   * against custom_ca during the handshake, a client without a valid one
   * never gets as far as sending a request. */
  gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_cert(session, NULL, 0);
}

/* The client's certificate chain verifies against custom_ca. */
static bool peer_verified(struct MHD_Connection *conn) {
  gnutls_session_t session = tls_session(conn);
  unsigned status = 0;
  return session && gnutls_certificate_verify_peers2(session, &status) == 0 &&
         status == 0;
}

bool serve_http_auth_exempt(const char *method, const char *path) {
  if (!strcmp(path, "/v2/health/live") || !strcmp(path, "/v2/health/ready"))
    return true;
  if (strcmp(method, "GET") || strncmp(path, "/v1/models/", 11)) return false;
  /* TF Serving's status: NAME, then optionally /versions/N or /labels/L,
   * and nothing else (no :predict, no /metadata). */
  const char *p = path + 11;
  size_t n = strcspn(p, "/:");
  if (!n) return false;
  p += n;
  if (!*p) return true;
  if (!strncmp(p, "/versions/", 10))
    p += 10;
  else if (!strncmp(p, "/labels/", 8))
    p += 8;
  else
    return false;
  n = strcspn(p, "/:");
  return n && !p[n];
}

serve_status *serve_http_authorize(serve_request *r, bool *peer_checked) {
  const serve_server *s = r->server;
  if (s->tls && s->tls->client_verify && !(peer_checked && *peer_checked)) {
    if (!r->connection || !peer_verified(r->connection))
      return serve_error(SERVE_PERMISSION_DENIED,
                         "this server requires a client certificate signed "
                         "by its custom_ca");
    if (peer_checked) *peer_checked = true; /* once per connection */
  }
  if (!s->bearer_token || serve_http_auth_exempt(r->method, r->path))
    return NULL;
  const char *given = serve_request_header(r, "Authorization");
  if (serve_bearer_ok(s->bearer_token, given)) return NULL;
  /* RFC 6750, section 3.1: a request without a bearer token (none, or
   * another scheme) gets the bare challenge; one with a wrong token is
   * told only that it is invalid. */
  bool bearer = given && !strncasecmp(given, "Bearer ", 7);
  serve_respond_header(r, "WWW-Authenticate",
                       bearer ? "Bearer realm=\"kiln\", error=\"invalid_token\""
                              : "Bearer realm=\"kiln\"");
  return serve_error(SERVE_UNAUTHENTICATED,
                     bearer ? "the bearer token is not this server's"
                            : "this server requires an Authorization: Bearer "
                              "header");
}
