/* fuzz_serve_request.c - libFuzzer target for the server's request
 * decoders, end to end without sockets: TF Serving REST (predict in row
 * and columnar form with b64, status, metadata) and KServe v2 (infer with
 * JSON and binary tensors, metadata, config, statistics), run by a real
 * repository, scheduler and inference workers. Each input is
 *
 *     METHOD PATH\n
 *     Header-Name: value\n     (any number, up to 8)
 *     \n
 *     body bytes
 *
 * and must end with exactly one answer: a known HTTP status and, for JSON,
 * a body that parses (an error body with "error"); no crash, leak or hang.
 * The header X-Fuzz-Copies: N (1..4) sends N copies at once, so requests
 * meet in the batching queue. Two models are served: "cnn"
 * (tests/data/dynamic_batch_cnn.tflite) and "mlp" (two_input_mlp.tflite,
 * two inputs and outputs, batched). The repository API's load and unload
 * are left out: they change what later inputs see, and read any path.
 * The server is tests/unit/serve_fixture.h's. Seeds:
 * tests/fuzz/corpus/serve_request/ (tests/fuzz/make_seeds.py);
 * FUZZ_SERVE_VERBOSE=1 prints every answer. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../unit/serve_fixture.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_HEADERS = 8, MAX_COPIES = 4 };

static serve_fixture fixture;
static bool verbose; /* FUZZ_SERVE_VERBOSE=1: print each answer */

static void cleanup(void) { serve_fixture_stop(&fixture); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  verbose = getenv("FUZZ_SERVE_VERBOSE") != NULL;
  char source[PATH_MAX], data_dir[PATH_MAX];
  snprintf(source, sizeof source, "%s", __FILE__);
  snprintf(data_dir, sizeof data_dir, "%s/../data", dirname(source));
  if (!serve_fixture_start(&fixture, data_dir)) {
    fprintf(stderr, "fuzz_serve_request: %s\n", fixture.error);
    abort();
  }
  atexit(cleanup);
  return 0;
}

static void finish(serve_fixture_request *f) {
  serve_request *r = &f->r;
  const char *wrong = serve_fixture_wait(f);
  if (verbose || wrong)
    fprintf(stderr, "%s %s -> %d %.*s\n", r->method, r->path, r->http_status,
            (int)(r->response_len < 2000 ? r->response_len : 2000),
            r->response ? r->response : "");
  if (wrong) {
    fprintf(stderr, "fuzz_serve_request: %s\n", wrong);
    abort();
  }
  serve_fixture_request_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* METHOD PATH\n, then headers to an empty line, then the body. */
  const char *text = (const char *)data, *end = text + size;
  const char *eol = memchr(text, '\n', size);
  if (!eol) return 0;
  const char *space = memchr(text, ' ', (size_t)(eol - text));
  if (!space) return 0;
  char *method = strndup(text, (size_t)(space - text));
  char *path = strndup(space + 1, (size_t)(eol - space - 1));
  const char *headers[2 * MAX_HEADERS + 1] = {NULL};
  char *owned[2 * MAX_HEADERS] = {NULL};
  int num_headers = 0, copies = 1;
  const char *p = eol + 1;
  while (p < end) {
    const char *line_end = memchr(p, '\n', (size_t)(end - p));
    if (!line_end) line_end = end;
    if (line_end == p) { /* the empty line */
      p++;
      break;
    }
    const char *colon = memchr(p, ':', (size_t)(line_end - p));
    if (colon && num_headers < MAX_HEADERS) {
      const char *value = colon + 1;
      while (value < line_end && *value == ' ') value++;
      char *name = strndup(p, (size_t)(colon - p));
      char *val = strndup(value, (size_t)(line_end - value));
      owned[2 * num_headers] = name;
      owned[2 * num_headers + 1] = val;
      headers[2 * num_headers] = name;
      headers[2 * num_headers + 1] = val;
      num_headers++;
      if (!strcasecmp(name, "X-Fuzz-Copies")) copies = atoi(val);
    }
    p = line_end + (line_end < end);
  }
  if (copies < 1 || copies > MAX_COPIES) copies = 1;
  const char *body = p < end ? p : end;
  size_t body_len = (size_t)(end - body);
  /* Paths are C strings; the repository API's load and unload are out of
   * bounds (see the top). */
  bool skip = memchr(text, '\0', (size_t)(eol - text)) ||
              (!strncmp(path, "/v2/repository", 14) &&
               strcmp(path, "/v2/repository/index"));
  if (!skip) {
    serve_fixture_request requests[MAX_COPIES];
    for (int i = 0; i < copies; i++)
      serve_fixture_send(&fixture, &requests[i], method, path, body, body_len,
                         headers);
    for (int i = 0; i < copies; i++) finish(&requests[i]);
  }
  for (int i = 0; i < 2 * num_headers; i++) free(owned[i]);
  free(method);
  free(path);
  return 0;
}
