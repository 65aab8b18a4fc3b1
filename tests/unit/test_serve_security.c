/* test_serve_security.c - what an exposed server checks (security.c,
 * http_security.c): TF Serving's SSLConfig files (valid, fields missing,
 * a path where PEM text belongs, client_verify without custom_ca, bad
 * syntax, unknown fields), their keys and certificates loaded with GnuTLS
 * (made here, so mismatched and corrupt ones can be tried), bearer token
 * files, the token comparison, and the REST front's decision per request
 * (which paths are exempt, 401 with its WWW-Authenticate challenge). */
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "serve/http_security.h"
#include "serve/security.h"

/* A temporary file holding `text`; its path (static, reused). */
static const char *write_temp(const char *text) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/kiln-test-security-XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  size_t n = strlen(text);
  ssize_t wrote = write(fd, text, n);
  close(fd);
  return wrote == (ssize_t)n ? path : NULL;
}

/* Expects `st` to be an INVALID_ARGUMENT whose message holds each needle
 * (NULL ends them); frees it. */
static void check_refused(serve_status *st, const char *needle1,
                          const char *needle2, int line) {
  kiln_test_checks++;
  if (!st || serve_status_code(st) != SERVE_INVALID_ARGUMENT ||
      (needle1 && !strstr(serve_status_message(st), needle1)) ||
      (needle2 && !strstr(serve_status_message(st), needle2))) {
    fprintf(stderr, "%s:%d: expected a refusal with '%s' '%s', got '%s'\n",
            __FILE__, line, needle1 ? needle1 : "", needle2 ? needle2 : "",
            st ? serve_status_message(st) : "(success)");
    kiln_test_failures++;
  }
  serve_status_free(st);
}
#define CHECK_REFUSED(st, a, b) check_refused((st), (a), (b), __LINE__)

/* Reads an SSLConfig given as text; the file is removed afterwards. */
static serve_status *read_config(const char *text, serve_tls_config *out,
                                 char *path_out, size_t path_size) {
  const char *path = write_temp(text);
  if (!path) return serve_error(SERVE_INTERNAL, "cannot write a temp file");
  snprintf(path_out, path_size, "%s", path);
  serve_status *st = serve_tls_config_read(path, out);
  unlink(path);
  return st;
}

static const char fake_key[] =
    "-----BEGIN PRIVATE KEY-----\\nQUJD\\n-----END PRIVATE KEY-----\\n";
static const char fake_cert[] =
    "-----BEGIN CERTIFICATE-----\\nREVG\\n-----END CERTIFICATE-----\\n";

static void test_ssl_config_read(void) {
  char path[64], text[1024];
  serve_tls_config c;
  /* TF Serving's form: PEM text inline, newlines as \n escapes, strings
   * split over lines as adjacent literals. */
  snprintf(text, sizeof text,
           "server_key: \"%s\"\n"
           "server_cert: \"-----BEGIN CERTIFICATE-----\\n\"\n"
           "             \"REVG\\n-----END CERTIFICATE-----\\n\"\n"
           "custom_ca: '%s'\n"
           "client_verify: true\n",
           fake_key, fake_cert);
  serve_status *st = read_config(text, &c, path, sizeof path);
  CHECK(st == NULL);
  serve_status_free(st);
  CHECK(c.server_key && !strcmp(c.server_key,
                                "-----BEGIN PRIVATE KEY-----\nQUJD\n"
                                "-----END PRIVATE KEY-----\n"));
  CHECK(c.server_cert && !strcmp(c.server_cert,
                                 "-----BEGIN CERTIFICATE-----\nREVG\n"
                                 "-----END CERTIFICATE-----\n"));
  CHECK(c.custom_ca && strstr(c.custom_ca, "REVG"));
  CHECK(c.client_verify);
  serve_tls_config_free(&c);
  CHECK(c.server_key == NULL && c.custom_ca == NULL && !c.client_verify);
  serve_tls_config_free(NULL); /* nothing, no crash */

  /* Without custom_ca or client_verify: server TLS only. */
  snprintf(text, sizeof text, "server_key: \"%s\" server_cert: \"%s\"",
           fake_key, fake_cert);
  st = read_config(text, &c, path, sizeof path);
  CHECK(st == NULL && c.custom_ca == NULL && !c.client_verify);
  serve_status_free(st);
  serve_tls_config_free(&c);

  /* Each refusal names the file and the field. */
  snprintf(text, sizeof text, "server_cert: \"%s\"\n", fake_cert);
  st = read_config(text, &c, path, sizeof path);
  CHECK_REFUSED(st, path, "server_key is missing");
  CHECK(c.server_key == NULL && c.server_cert == NULL);
  snprintf(text, sizeof text, "server_key: \"%s\"\nserver_cert: \"\"\n",
           fake_key);
  CHECK_REFUSED(read_config(text, &c, path, sizeof path), path,
                "server_cert is missing");
  /* A path where the PEM text belongs (a common mistake). */
  snprintf(text, sizeof text,
           "server_key: \"/etc/ssl/private/server.key\"\n"
           "server_cert: \"%s\"\n",
           fake_cert);
  CHECK_REFUSED(read_config(text, &c, path, sizeof path), path,
                "server_key is not PEM text");
  snprintf(text, sizeof text,
           "server_key: \"%s\" server_cert: \"%s\"\n"
           "custom_ca: \"ca.pem\" client_verify: true\n",
           fake_key, fake_cert);
  CHECK_REFUSED(read_config(text, &c, path, sizeof path), path,
                "custom_ca is not PEM text");
  snprintf(text, sizeof text,
           "server_key: \"%s\" server_cert: \"%s\" client_verify: true\n",
           fake_key, fake_cert);
  CHECK_REFUSED(read_config(text, &c, path, sizeof path), path,
                "client_verify needs custom_ca");
  snprintf(text, sizeof text,
           "server_key: \"%s\" server_cert: \"%s\" client_verify: maybe\n",
           fake_key, fake_cert);
  CHECK_REFUSED(read_config(text, &c, path, sizeof path), path,
                "client_verify");
  /* A misspelt field would silently drop what it meant. */
  snprintf(text, sizeof text,
           "server_key: \"%s\" server_cert: \"%s\"\nclient_verfy: true\n",
           fake_key, fake_cert);
  CHECK_REFUSED(read_config(text, &c, path, sizeof path), "line 2",
                "unknown field 'client_verfy'");
  /* Bad syntax: the file, line and column. */
  CHECK_REFUSED(read_config("server_key: \"abc\nserver_cert: \"x\"\n", &c, path,
                            sizeof path),
                path, "line 1");
  CHECK_REFUSED(read_config("server_key {", &c, path, sizeof path), path,
                "line ");
  CHECK_REFUSED(read_config("", &c, path, sizeof path), path,
                "server_key is missing");
  CHECK_REFUSED(serve_tls_config_read("/nonexistent/ssl.config", &c),
                "/nonexistent/ssl.config", NULL);
}

/* ------------------------------------------ keys and certificates */

typedef struct pem_pair {
  char *key, *cert; /* PEM text, malloc'd */
} pem_pair;

static char *export_text(gnutls_datum_t *d) {
  char *text = malloc(d->size + 1);
  if (text) {
    memcpy(text, d->data, d->size);
    text[d->size] = '\0';
  }
  gnutls_free(d->data);
  return text;
}

/* A fresh P-256 key and a self-signed certificate for it. */
static pem_pair make_pair(const char *name) {
  pem_pair p = {NULL, NULL};
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  if (gnutls_x509_privkey_init(&key) < 0) return p;
  if (gnutls_x509_crt_init(&crt) < 0) {
    gnutls_x509_privkey_deinit(key);
    return p;
  }
  time_t now = time(NULL);
  gnutls_datum_t d;
  if (gnutls_x509_privkey_generate(
          key, GNUTLS_PK_ECDSA,
          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) >= 0 &&
      gnutls_x509_crt_set_version(crt, 3) >= 0 &&
      gnutls_x509_crt_set_serial(crt, "\x01", 1) >= 0 &&
      gnutls_x509_crt_set_activation_time(crt, now - 60) >= 0 &&
      gnutls_x509_crt_set_expiration_time(crt, now + 3600) >= 0 &&
      gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name,
                                    (unsigned)strlen(name)) >= 0 &&
      gnutls_x509_crt_set_key(crt, key) >= 0 &&
      gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) >= 0) {
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) >= 0)
      p.key = export_text(&d);
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) >= 0)
      p.cert = export_text(&d);
  }
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(key);
  return p;
}

static void test_ssl_config_check(void) {
  pem_pair a = make_pair("kiln-a"), b = make_pair("kiln-b");
  CHECK(a.key && a.cert && b.key && b.cert);
  if (!a.key || !a.cert || !b.key || !b.cert) goto done;
  serve_tls_config c = {a.key, a.cert, NULL, false};
  serve_status *st = serve_tls_config_check(&c, "ssl.config");
  CHECK(st == NULL);
  serve_status_free(st);
  c.custom_ca = b.cert;
  c.client_verify = true;
  st = serve_tls_config_check(&c, "ssl.config");
  CHECK(st == NULL);
  serve_status_free(st);
  /* Another certificate's key. */
  c.server_key = b.key;
  CHECK_REFUSED(serve_tls_config_check(&c, "ssl.config"),
                "ssl.config: server_key does not go with server_cert", NULL);
  c.server_key = a.key;
  /* PEM armour around bytes that are not a certificate or a key: each
   * refusal names its field. */
  char corrupt[256];
  snprintf(corrupt, sizeof corrupt,
           "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
           "-----END CERTIFICATE-----\n");
  c.server_cert = corrupt;
  CHECK_REFUSED(serve_tls_config_check(&c, "ssl.config"),
                "ssl.config: server_cert: ", NULL);
  c.server_cert = a.cert;
  c.custom_ca = corrupt;
  CHECK_REFUSED(serve_tls_config_check(&c, "ssl.config"),
                "ssl.config: custom_ca: ", NULL);
  c.custom_ca = b.cert;
  char bad_key[256];
  snprintf(bad_key, sizeof bad_key,
           "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
           "-----END PRIVATE KEY-----\n");
  c.server_key = bad_key;
  CHECK_REFUSED(serve_tls_config_check(&c, "ssl.config"),
                "ssl.config: server_key: ", NULL);
  /* A key where the certificate belongs. */
  c.server_key = a.key;
  c.server_cert = a.key;
  CHECK_REFUSED(serve_tls_config_check(&c, "ssl.config"),
                "ssl.config: server_cert: ", NULL);
  /* Random damage inside a real certificate never crashes the check. */
  kiln_test_seed(10);
  size_t len = strlen(a.cert);
  char *damaged = malloc(len + 1);
  for (int round = 0; damaged && round < 200; round++) {
    memcpy(damaged, a.cert, len + 1);
    for (int k = kiln_test_int(1, 4); k > 0; k--)
      damaged[kiln_test_int(28, (int)len - 27)] = (char)kiln_test_int(33, 126);
    c.server_cert = damaged;
    serve_status_free(serve_tls_config_check(&c, "ssl.config"));
  }
  free(damaged);
done:
  free(a.key);
  free(a.cert);
  free(b.key);
  free(b.cert);
}

/* ------------------------------------------------------- bearer tokens */

static char *read_token(const char *text, serve_status **st) {
  const char *path = write_temp(text);
  char *token = NULL;
  *st = path ? serve_bearer_token_read(path, &token)
             : serve_error(SERVE_INTERNAL, "cannot write a temp file");
  if (path) unlink(path);
  return token;
}

static void test_token_files(void) {
  serve_status *st;
  char *t = read_token("s3cr3t-Token_~+/.=\n", &st);
  CHECK(st == NULL && t && !strcmp(t, "s3cr3t-Token_~+/.="));
  free(t);
  /* Whitespace around the token (editors, echo, CRLF) is trimmed; only
   * the first line counts. */
  t = read_token("  \tabc123==\r\nsecond line\n", &st);
  CHECK(st == NULL && t && !strcmp(t, "abc123=="));
  free(t);
  t = read_token("abc", &st); /* no newline at the end */
  CHECK(st == NULL && t && !strcmp(t, "abc"));
  free(t);
  const char *bad[] = {"",          "\n",     "   \n",  "two words\n",
                       "tok\"en\n", "=abc\n", "ab=c\n", "t\xc3\xa9\n",
                       "a,b\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    t = read_token(bad[i], &st);
    CHECK(t == NULL);
    CHECK_REFUSED(st, "--bearer_token_file=/tmp/kiln-test-security-",
                  "the first line must be the token");
  }
  t = NULL;
  CHECK_REFUSED(serve_bearer_token_read("/nonexistent/token", &t),
                "--bearer_token_file=/nonexistent/token", "cannot be opened");
  CHECK(t == NULL);
}

static void test_bearer_ok(void) {
  const char *token = "abc123";
  CHECK(serve_bearer_ok(token, "Bearer abc123"));
  /* The scheme is case-insensitive (RFC 7235); the token is not. */
  CHECK(serve_bearer_ok(token, "bearer abc123"));
  CHECK(serve_bearer_ok(token, "BEARER abc123"));
  CHECK(!serve_bearer_ok(token, "Bearer ABC123"));
  CHECK(!serve_bearer_ok(token, "Bearer abc124"));
  CHECK(!serve_bearer_ok(token, "Bearer xbc123"));
  /* Wrong lengths: a prefix, a longer token, nothing. */
  CHECK(!serve_bearer_ok(token, "Bearer abc12"));
  CHECK(!serve_bearer_ok(token, "Bearer abc1234"));
  CHECK(!serve_bearer_ok(token, "Bearer "));
  CHECK(!serve_bearer_ok(token, "Bearer"));
  CHECK(!serve_bearer_ok(token, ""));
  CHECK(!serve_bearer_ok(token, NULL));
  /* Other schemes, or the token alone. */
  CHECK(!serve_bearer_ok(token, "Basic abc123"));
  CHECK(!serve_bearer_ok(token, "abc123"));
  CHECK(!serve_bearer_ok(token, "Bearerabc123"));
  /* No token configured: everything passes. */
  CHECK(serve_bearer_ok(NULL, NULL));
  CHECK(serve_bearer_ok(NULL, "Basic whatever"));
  /* Random guesses of the right length never pass; the token itself
   * always does. */
  kiln_test_seed(7);
  char guess[64];
  for (int i = 0; i < 500; i++) {
    snprintf(guess, sizeof guess, "Bearer ");
    for (int k = 0; k < 6; k++) guess[7 + k] = (char)kiln_test_int('a', 'c');
    guess[13] = '\0';
    CHECK(serve_bearer_ok(token, guess) == !strcmp(guess + 7, token));
  }
}

/* ------------------------------------------ the REST front's decision */

static void test_exempt_paths(void) {
  CHECK(serve_http_auth_exempt("GET", "/v2/health/live"));
  CHECK(serve_http_auth_exempt("GET", "/v2/health/ready"));
  CHECK(serve_http_auth_exempt("HEAD", "/v2/health/ready"));
  CHECK(serve_http_auth_exempt("GET", "/v1/models/mlp"));
  CHECK(serve_http_auth_exempt("GET", "/v1/models/mlp/versions/3"));
  CHECK(serve_http_auth_exempt("GET", "/v1/models/mlp/labels/stable"));
  CHECK(!serve_http_auth_exempt("POST", "/v1/models/mlp"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/mlp/metadata"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/mlp/versions/3/metadata"));
  CHECK(!serve_http_auth_exempt("POST", "/v1/models/mlp:predict"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/mlp:predict"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/mlp/versions/3:predict"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/mlp/versions/"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/mlp/other/3"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models"));
  CHECK(!serve_http_auth_exempt("GET", "/v1/models/"));
  CHECK(!serve_http_auth_exempt("GET", "/metrics"));
  CHECK(!serve_http_auth_exempt("GET", "/v2"));
  CHECK(!serve_http_auth_exempt("GET", "/v2/health/live/x"));
  CHECK(!serve_http_auth_exempt("GET", "/v2/models/mlp/ready"));
  CHECK(!serve_http_auth_exempt("POST", "/v2/models/mlp/infer"));
  CHECK(!serve_http_auth_exempt("POST", "/v2/repository/index"));
}

/* A request without a connection, with the given headers. */
static serve_status *authorize(serve_server *s, const char *method,
                               const char *path, const char *const *headers,
                               serve_request *r) {
  memset(r, 0, sizeof *r);
  r->server = s;
  r->method = method;
  r->path = path;
  r->test_headers = headers;
  return serve_http_authorize(r, NULL);
}

static const char *response_header(const serve_request *r, const char *name) {
  for (int i = 0; i < r->num_headers; i++)
    if (!strcmp(r->header_names[i], name)) return r->header_values[i];
  return NULL;
}

static void test_authorize(void) {
  serve_server s;
  memset(&s, 0, sizeof s);
  serve_request r;
  const char *none[] = {NULL};
  const char *right[] = {"authorization", "Bearer abc123", NULL};
  const char *wrong[] = {"Authorization", "Bearer abc124", NULL};
  const char *basic[] = {"Authorization", "Basic YWJjOmRlZg==", NULL};
  /* No token, no TLS: everything passes. */
  CHECK(authorize(&s, "POST", "/v2/models/m/infer", none, &r) == NULL);
  s.bearer_token = "abc123";
  CHECK(authorize(&s, "POST", "/v2/models/m/infer", right, &r) == NULL);
  CHECK(r.num_headers == 0);
  CHECK(authorize(&s, "GET", "/v2/health/ready", none, &r) == NULL);
  serve_status *st = authorize(&s, "POST", "/v2/models/m/infer", none, &r);
  CHECK(st && serve_status_http(st) == 401 &&
        serve_status_code(st) == SERVE_UNAUTHENTICATED);
  const char *challenge = response_header(&r, "WWW-Authenticate");
  CHECK(challenge && !strcmp(challenge, "Bearer realm=\"kiln\""));
  serve_status_free(st);
  /* A wrong token is told it is invalid (RFC 6750, 3.1); another scheme
   * gets the bare challenge. */
  st = authorize(&s, "GET", "/metrics", wrong, &r);
  challenge = response_header(&r, "WWW-Authenticate");
  CHECK(st && serve_status_http(st) == 401 && challenge &&
        strstr(challenge, "error=\"invalid_token\""));
  serve_status_free(st);
  st = authorize(&s, "GET", "/metrics", basic, &r);
  challenge = response_header(&r, "WWW-Authenticate");
  CHECK(st && serve_status_http(st) == 401 && challenge &&
        !strstr(challenge, "error="));
  serve_status_free(st);
  /* Mutual TLS without a connection to verify: refused (403) before the
   * token is looked at, even on exempt paths. */
  serve_tls_config tls = {0};
  tls.client_verify = true;
  s.tls = &tls;
  st = authorize(&s, "GET", "/v2/health/live", right, &r);
  CHECK(st && serve_status_http(st) == 403);
  serve_status_free(st);
  /* Verified once on this connection: the token decides. */
  bool checked = true;
  authorize(&s, "POST", "/v2/models/m/infer", right, &r);
  CHECK(serve_http_authorize(&r, &checked) == NULL);
  authorize(&s, "POST", "/v2/models/m/infer", wrong, &r);
  st = serve_http_authorize(&r, &checked);
  CHECK(st && serve_status_http(st) == 401);
  serve_status_free(st);
}

int main(void) {
  test_ssl_config_read();
  test_ssl_config_check();
  test_token_files();
  test_bearer_ok();
  test_exempt_paths();
  test_authorize();
  return kiln_test_finish("test_serve_security");
}
