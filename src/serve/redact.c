/* redact.c - host paths out of the error messages the server sends:
 * messages from the kiln library and from loading name the model file
 * ("/srv/models/mlp/1/model.tflite: operator 3 ..."), which is useful in
 * the server's log but tells a client how the host is laid out. */
#include "serve/redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters that end a path in a message. */
static bool path_end(char c) {
  return !c || strchr(" \t\r\n'\":,)]", c) != NULL;
}

static bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '~' || c == '/';
}

/* Whether a path may start at message[i]: at the start or after a
 * separator, so that "a/b" inside a word or "x / y" is left alone. */
static bool boundary(const char *message, size_t i) {
  return i == 0 || strchr(" \t\r\n'\"([=,", message[i - 1]) != NULL;
}

/* The length of the path starting at message[i], or 0. */
static size_t path_at(const char *message, size_t i, const char *known,
                      size_t known_len) {
  if (!boundary(message, i)) return 0;
  bool starts = (message[i] == '/' && path_char(message[i + 1])) ||
                (known_len && !strncmp(message + i, known, known_len));
  if (!starts) return 0;
  size_t n = 0;
  while (!path_end(message[i + n])) n++;
  return n;
}

char *serve_redact_paths(const char *message, const char *known,
                         const char *label) {
  size_t known_len = known ? strlen(known) : 0;
  serve_buf b = {0};
  size_t i = 0, copied = 0;
  while (message[i]) {
    size_t n = path_at(message, i, known, known_len);
    if (!n) {
      i++;
      continue;
    }
    serve_buf_append(&b, message + copied, i - copied);
    serve_buf_puts(&b, label);
    i += n;
    copied = i;
  }
  serve_buf_append(&b, message + copied, i - copied);
  if (b.failed) {
    serve_buf_free(&b);
    return NULL;
  }
  return serve_buf_take(&b, NULL); /* NUL-terminated */
}

serve_status *serve_redact_status(serve_status *status, const char *known,
                                  const char *label) {
  if (!status) return NULL;
  char *text = serve_redact_paths(serve_status_message(status), known, label);
  serve_status *redacted =
      serve_error(serve_status_code(status), "%s",
                  text ? text : "(the message could not be copied)");
  free(text);
  serve_status_free(status);
  return redacted;
}

void serve_buf_version_error(serve_buf *b, const char *error, const char *model,
                             int64_t version) {
  char label[192];
  snprintf(label, sizeof label, "model '%s' version %lld", model,
           (long long)version);
  char *text = error ? serve_redact_paths(error, NULL, label) : NULL;
  serve_buf_json_string(b, text ? text : error ? "loading failed" : "");
  free(text);
}
