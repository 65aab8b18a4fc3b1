/* status.h - errors of the server, with the codes TF Serving (and gRPC)
 * use, so each maps to the HTTP status TF Serving answers with. NULL means
 * success, as with kiln_status. */
#ifndef KILN_SERVE_STATUS_H
#define KILN_SERVE_STATUS_H

#include "kiln.h"

typedef enum serve_code {
  SERVE_OK = 0,
  SERVE_CANCELLED,           /* 499: the client went away */
  SERVE_INVALID_ARGUMENT,    /* 400 */
  SERVE_DEADLINE_EXCEEDED,   /* 504 */
  SERVE_NOT_FOUND,           /* 404 */
  SERVE_RESOURCE_EXHAUSTED,  /* 429 */
  SERVE_FAILED_PRECONDITION, /* 400 */
  SERVE_UNIMPLEMENTED,       /* 501 */
  SERVE_INTERNAL,            /* 500 */
  SERVE_UNAVAILABLE,         /* 503: a full queue, a model not ready */
  SERVE_PAYLOAD_TOO_LARGE,   /* 413 (HTTP only; no gRPC code) */
  SERVE_PERMISSION_DENIED,   /* 403 */
  SERVE_UNAUTHENTICATED,     /* 401: no or a wrong bearer token */
} serve_code;

typedef struct serve_status serve_status;

serve_status *serve_error(serve_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A kiln library error as a server error: the caller's mistakes (bad
 * shape, bad dtype, data invoke refuses) are INVALID_ARGUMENT, missing
 * features UNIMPLEMENTED, the rest INTERNAL. Frees it. */
serve_status *serve_from_kiln(kiln_status *status);
serve_code serve_status_code(const serve_status *status);
const char *serve_status_message(const serve_status *status);
int serve_status_http(const serve_status *status);
/* "INVALID_ARGUMENT", ..., as TF Serving's request_count metric labels. */
const char *serve_code_name(serve_code code);
int serve_code_http(serve_code code);
void serve_status_free(serve_status *status);

#define SERVE_TRY(expr)                \
  do {                                 \
    serve_status *serve_try_ = (expr); \
    if (serve_try_) return serve_try_; \
  } while (0)

#endif
