/* test_serve_redact.c - host paths out of the messages a client reads:
 * absolute paths (the kiln library's "FILE: ..." prefix, a load error's
 * folder) and a configured base path, even a relative one, become the
 * model's label; URL-like text inside words, divisions ("a / b") and
 * messages without paths are left as they were. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/redact.h"

static void check_redacted(const char *message, const char *known,
                           const char *want, int line) {
  char *got = serve_redact_paths(message, known, "model 'm' version 2");
  kiln_test_checks++;
  if (!got || strcmp(got, want)) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: '%s' redacted to '%s', want '%s'\n", __FILE__, line,
            message, got ? got : "(null)", want);
  }
  free(got);
}
#define CHECK_REDACTED(message, known, want) \
  check_redacted((message), (known), (want), __LINE__)

static void test_paths(void) {
  CHECK_REDACTED("/srv/models/m/2/model.tflite: operator 3 (ADD): bad shape",
                 NULL, "model 'm' version 2: operator 3 (ADD): bad shape");
  CHECK_REDACTED("/srv/models/m/2 holds no model.tflite", NULL,
                 "model 'm' version 2 holds no model.tflite");
  CHECK_REDACTED("cannot open '/tmp/ab/x.tflite': No such file", NULL,
                 "cannot open 'model 'm' version 2': No such file");
  CHECK_REDACTED("loading (/a/b/c) failed, see [/d/e]", NULL,
                 "loading (model 'm' version 2) failed, see [model 'm' "
                 "version 2]");
  CHECK_REDACTED("models/m/2/model.tflite: the file is empty", "models/m",
                 "model 'm' version 2: the file is empty");
  /* Nothing to take out. */
  CHECK_REDACTED("input 'x' has shape [0,16]", NULL,
                 "input 'x' has shape [0,16]");
  CHECK_REDACTED("s1 * s2 / so rounds", NULL, "s1 * s2 / so rounds");
  CHECK_REDACTED("uses a/b and x/y", NULL, "uses a/b and x/y");
  CHECK_REDACTED("", NULL, "");
  CHECK_REDACTED("/", NULL, "/");
}

static void test_status(void) {
  serve_status *st = serve_redact_status(
      serve_error(SERVE_INTERNAL, "/x/y/model.tflite: cannot prepare"), "/x/y",
      "model 'm' version 2");
  CHECK(serve_status_code(st) == SERVE_INTERNAL);
  CHECK(
      !strcmp(serve_status_message(st), "model 'm' version 2: cannot prepare"));
  serve_status_free(st);
  CHECK(serve_redact_status(NULL, NULL, "x") == NULL);
  serve_buf b = {0};
  serve_buf_version_error(&b, "/base/7: \"gone\"", "mlp", 7);
  CHECK(b.data && !strcmp(b.data, "\"model 'mlp' version 7: \\\"gone\\\"\""));
  serve_buf_free(&b);
  serve_buf_version_error(&b, NULL, "mlp", 7);
  CHECK(b.data && !strcmp(b.data, "\"\""));
  serve_buf_free(&b);
}

int main(void) {
  test_paths();
  test_status();
  return kiln_test_finish("test_serve_redact");
}
