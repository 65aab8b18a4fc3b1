/* security.h - what an exposed server checks: TLS settings (TF Serving's
 * --ssl_config_file, an SSLConfig text file) shared by the REST and gRPC
 * fronts, and the bearer token (--bearer_token_file) both fronts demand
 * in the Authorization header / gRPC metadata. */
#ifndef KILN_SERVE_SECURITY_H
#define KILN_SERVE_SECURITY_H

#include <stdbool.h>

#include "serve/status.h"

/* TF Serving's SSLConfig: PEM texts (not paths), and whether clients must
 * present a certificate signed by custom_ca (mutual TLS). */
typedef struct serve_tls_config {
  char *server_key;  /* PEM private key */
  char *server_cert; /* PEM certificate chain */
  char *custom_ca;   /* PEM CA for client certificates; NULL: none */
  bool client_verify;
} serve_tls_config;

/* Reads an SSLConfig text file (fields server_key, server_cert, custom_ca,
 * client_verify). INVALID_ARGUMENT naming the file and field when a key
 * or certificate is missing or not PEM text, a field is unknown, or
 * client_verify is set without custom_ca. */
serve_status *serve_tls_config_read(const char *path, serve_tls_config *out);
/* Frees the texts (config itself is the caller's); NULL: nothing. */
void serve_tls_config_free(serve_tls_config *config);
/* Loads the PEM texts with GnuTLS: the key must be the certificate's, and
 * custom_ca (when given) must hold a certificate. INVALID_ARGUMENT naming
 * the file (path) and the field otherwise, so a bad file stops the start
 * rather than every handshake. */
serve_status *serve_tls_config_check(const serve_tls_config *config,
                                     const char *path);

/* Reads the token from a file (its first line, trimmed of whitespace);
 * refuses an empty one or one with characters outside RFC 6750's
 * token68 set. *out is malloc'd. */
serve_status *serve_bearer_token_read(const char *path, char **out);

/* Whether an Authorization value ("Bearer <token>", scheme without case)
 * carries the expected token, compared in time that does not depend on
 * where they differ. NULL expected: no token configured, always true. */
bool serve_bearer_ok(const char *expected, const char *authorization);

#endif
