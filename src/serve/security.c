/* security.c - TLS settings and bearer tokens (see security.h). */
#include "serve/security.h"

#include <ctype.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/pbtxt.h"

static serve_status *pem_field(const pbtxt_node *root, const char *path,
                               const char *name, bool required, char **out) {
  char err[256];
  const pbtxt_node *f = pbtxt_find(root, name, NULL);
  const char *text = f ? pbtxt_string(f, err, sizeof err) : NULL;
  if (f && !text)
    return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s: %s", path, name, err);
  if (!text || !text[0]) {
    if (!required) return NULL;
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s is missing (SSLConfig holds the PEM text "
                       "itself, not a path)",
                       path, name);
  }
  if (!strstr(text, "-----BEGIN "))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: %s is not PEM text (no -----BEGIN line; "
                       "SSLConfig holds the PEM text itself, not a path)",
                       path, name);
  *out = strdup(text);
  return *out ? NULL : serve_error(SERVE_INTERNAL, "out of memory");
}

serve_status *serve_tls_config_read(const char *path, serve_tls_config *out) {
  memset(out, 0, sizeof *out);
  char err[512];
  pbtxt_node *root = pbtxt_parse_file(path, err, sizeof err);
  if (!root) return serve_error(SERVE_INVALID_ARGUMENT, "%s", err);
  serve_status *st = NULL;
  /* A misspelt field would otherwise be dropped silently: a typo in
   * client_verify would serve without the client check it asked for. */
  static const char *const known[] = {"server_key", "server_cert", "custom_ca",
                                      "client_verify"};
  for (const pbtxt_node *f = root->children; f && !st; f = f->next) {
    size_t i = 0;
    while (i < 4 && strcmp(f->name, known[i])) i++;
    if (i == 4)
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: line %d: unknown field '%s' (SSLConfig has "
                       "server_key, server_cert, custom_ca, client_verify)",
                       path, f->line, f->name);
  }
  if (!st) st = pem_field(root, path, "server_key", true, &out->server_key);
  if (!st) st = pem_field(root, path, "server_cert", true, &out->server_cert);
  if (!st) st = pem_field(root, path, "custom_ca", false, &out->custom_ca);
  const pbtxt_node *verify = pbtxt_find(root, "client_verify", NULL);
  if (!st && verify &&
      !pbtxt_bool(verify, &out->client_verify, err, sizeof err))
    st =
        serve_error(SERVE_INVALID_ARGUMENT, "%s: client_verify: %s", path, err);
  if (!st && out->client_verify && !out->custom_ca)
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "%s: client_verify needs custom_ca (the CA that signs "
                     "client certificates)",
                     path);
  pbtxt_free(root);
  if (st) serve_tls_config_free(out);
  return st;
}

/* GnuTLS's PEM text: its length excludes the NUL. */
static gnutls_datum_t pem_datum(const char *text) {
  return (gnutls_datum_t){(unsigned char *)text, (unsigned)strlen(text)};
}

/* Each PEM text parsed on its own first, so an error names its field. */
static serve_status *parse_pems(const serve_tls_config *c, const char *path) {
  const char *field = "server_cert";
  gnutls_x509_crt_t *certs = NULL;
  unsigned num_certs = 0;
  gnutls_datum_t text = pem_datum(c->server_cert);
  int rc = gnutls_x509_crt_list_import2(&certs, &num_certs, &text,
                                        GNUTLS_X509_FMT_PEM, 0);
  for (unsigned i = 0; rc >= 0 && i < num_certs; i++)
    gnutls_x509_crt_deinit(certs[i]);
  gnutls_free(certs);
  if (rc >= 0) {
    field = "server_key";
    gnutls_x509_privkey_t key;
    rc = gnutls_x509_privkey_init(&key);
    if (rc >= 0) {
      text = pem_datum(c->server_key);
      rc =
          gnutls_x509_privkey_import2(key, &text, GNUTLS_X509_FMT_PEM, NULL, 0);
      gnutls_x509_privkey_deinit(key);
    }
  }
  if (rc >= 0 && c->custom_ca) {
    field = "custom_ca";
    text = pem_datum(c->custom_ca);
    rc = gnutls_x509_crt_list_import2(&certs, &num_certs, &text,
                                      GNUTLS_X509_FMT_PEM, 0);
    for (unsigned i = 0; rc >= 0 && i < num_certs; i++)
      gnutls_x509_crt_deinit(certs[i]);
    if (rc >= 0) gnutls_free(certs);
  }
  if (rc >= 0) return NULL;
  return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s: %s", path, field,
                     gnutls_strerror(rc));
}

serve_status *serve_tls_config_check(const serve_tls_config *c,
                                     const char *path) {
  SERVE_TRY(parse_pems(c, path));
  gnutls_certificate_credentials_t cred;
  if (gnutls_certificate_allocate_credentials(&cred) < 0)
    return serve_error(SERVE_INTERNAL, "out of memory");
  gnutls_datum_t cert = pem_datum(c->server_cert),
                 key = pem_datum(c->server_key);
  /* Both parse; this also checks that the key is the certificate's. */
  int rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key,
                                                GNUTLS_X509_FMT_PEM, NULL, 0);
  gnutls_certificate_free_credentials(cred);
  if (rc < 0)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: server_key does not go with server_cert: %s", path,
                       gnutls_strerror(rc));
  return NULL;
}

void serve_tls_config_free(serve_tls_config *c) {
  if (!c) return;
  free(c->server_key);
  free(c->server_cert);
  free(c->custom_ca);
  memset(c, 0, sizeof *c);
}

/* RFC 6750's b64token: letters, digits and -._~+/ then '=' padding. */
static bool token68(const char *t) {
  size_t n = strlen(t), i = 0;
  while (i < n && (isalnum((unsigned char)t[i]) || strchr("-._~+/", t[i]))) i++;
  if (i == 0) return false;
  while (i < n && t[i] == '=') i++;
  return i == n;
}

serve_status *serve_bearer_token_read(const char *path, char **out) {
  *out = NULL;
  FILE *f = fopen(path, "r");
  if (!f)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "--bearer_token_file=%s cannot be opened", path);
  char line[4096] = "";
  bool got = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  size_t n = got ? strlen(line) : 0;
  while (n && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
  char *start = line;
  while (*start && isspace((unsigned char)*start)) start++;
  if (!got || !*start || !token68(start))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "--bearer_token_file=%s: the first line must be the "
                       "token (letters, digits, -._~+/ and trailing =)",
                       path);
  *out = strdup(start);
  return *out ? NULL : serve_error(SERVE_INTERNAL, "out of memory");
}

bool serve_bearer_ok(const char *expected, const char *authorization) {
  if (!expected) return true;
  if (!authorization || strncasecmp(authorization, "Bearer ", 7)) return false;
  const char *given = authorization + 7;
  while (*given == ' ') given++;
  size_t want = strlen(expected), got = strlen(given);
  /* Every byte of the expected token is compared whatever the given one
   * holds, so the time taken does not tell how much of a guess was right. */
  unsigned diff = (unsigned)(want != got);
  for (size_t i = 0; i < want; i++)
    diff |=
        (unsigned char)expected[i] ^ (unsigned char)(i < got ? given[i] : 0);
  return diff == 0;
}
