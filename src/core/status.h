/* status.h - building and passing kiln_status values inside the library. */
#ifndef KILN_CORE_STATUS_H
#define KILN_CORE_STATUS_H

#include "kiln.h"

struct kiln_status {
  kiln_status_code code;
  char *message;
};

/* A new status with a printf-style message. Never returns NULL: when memory
 * for the message runs out it returns a static out-of-memory status. */
kiln_status *kiln_error(kiln_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "<prefix>: " to a status's message and returns it; NULL passes
 * through, so it can wrap any call: return kiln_status_wrap(f(), "op %d", i).
 */
kiln_status *kiln_status_wrap(kiln_status *status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns from the enclosing function when `expr` yields a status. */
#define KILN_TRY(expr)                             \
  do {                                             \
    kiln_status *kiln_try_status_ = (expr);        \
    if (kiln_try_status_) return kiln_try_status_; \
  } while (0)

#define KILN_OOM() kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory")

#endif
