/* security.c - TLS settings and bearer tokens (see security.h). */
#include "serve/security.h"

#include <ctype.h>
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
  serve_status *st =
      pem_field(root, path, "server_key", true, &out->server_key);
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

void serve_tls_config_free(serve_tls_config *c) {
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
  char line[4096];
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
