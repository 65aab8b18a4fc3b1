/* status.c - server errors and their HTTP statuses. */
#include "serve/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct serve_status {
  serve_code code;
  char message[];
};

/* Returned when even an error cannot be allocated. */
static struct {
  serve_code code;
  char message[64];
} out_of_memory = {SERVE_INTERNAL, "out of memory"};

serve_status *serve_error(serve_code code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  if (n < 0) n = 0;
  serve_status *s = malloc(sizeof *s + (size_t)n + 1);
  if (!s) return (serve_status *)(void *)&out_of_memory;
  s->code = code;
  va_start(args, fmt);
  vsnprintf(s->message, (size_t)n + 1, fmt, args);
  va_end(args);
  return s;
}

serve_status *serve_from_kiln(kiln_status *status) {
  if (!status) return NULL;
  kiln_status_code code = kiln_status_get_code(status);
  /* Invoke fails only on what the input data asks (a GATHER index out of
   * range): the client's mistake, 400 as TF Serving answers it. */
  serve_code mapped =
      code == KILN_ERR_INVALID_ARGUMENT || code == KILN_ERR_RUNTIME
          ? SERVE_INVALID_ARGUMENT
      : code == KILN_ERR_UNSUPPORTED ? SERVE_UNIMPLEMENTED
                                     : SERVE_INTERNAL;
  serve_status *s = serve_error(mapped, "%s", kiln_status_message(status));
  kiln_status_free(status);
  return s;
}

serve_code serve_status_code(const serve_status *s) {
  return s ? s->code : SERVE_OK;
}

const char *serve_status_message(const serve_status *s) {
  return s ? s->message : "";
}

const char *serve_code_name(serve_code code) {
  static const char *const names[] = {"OK",
                                      "CANCELLED",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "PAYLOAD_TOO_LARGE",
                                      "PERMISSION_DENIED",
                                      "UNAUTHENTICATED"};
  return (unsigned)code < sizeof names / sizeof names[0] ? names[code]
                                                         : "UNKNOWN";
}

int serve_code_http(serve_code code) {
  switch (code) {
    case SERVE_OK:
      return 200;
    case SERVE_CANCELLED:
      return 499;
    case SERVE_INVALID_ARGUMENT:
    case SERVE_FAILED_PRECONDITION:
      return 400;
    case SERVE_DEADLINE_EXCEEDED:
      return 504;
    case SERVE_NOT_FOUND:
      return 404;
    case SERVE_RESOURCE_EXHAUSTED:
      return 429;
    case SERVE_UNIMPLEMENTED:
      return 501;
    case SERVE_UNAVAILABLE:
      return 503;
    case SERVE_PAYLOAD_TOO_LARGE:
      return 413;
    case SERVE_PERMISSION_DENIED:
      return 403;
    case SERVE_UNAUTHENTICATED:
      return 401;
    case SERVE_INTERNAL:
      break;
  }
  return 500;
}

int serve_status_http(const serve_status *s) {
  return serve_code_http(serve_status_code(s));
}

void serve_status_free(serve_status *s) {
  if (s && (void *)s != (void *)&out_of_memory) free(s);
}
