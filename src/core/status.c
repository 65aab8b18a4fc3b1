/* status.c - error statuses with messages that say what and where. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Handed out when even the message cannot be allocated; freeing it is a no-op.
 */
static kiln_status out_of_memory_status = {KILN_ERR_OUT_OF_MEMORY,
                                           (char *)"out of memory"};

static char *vformat(const char *fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int length = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (length < 0) return NULL;
  char *text = malloc((size_t)length + 1);
  if (!text) return NULL;
  vsnprintf(text, (size_t)length + 1, fmt, args);
  return text;
}

kiln_status *kiln_error(kiln_status_code code, const char *fmt, ...) {
  kiln_status *status = malloc(sizeof *status);
  if (!status) return &out_of_memory_status;
  va_list args;
  va_start(args, fmt);
  status->message = vformat(fmt, args);
  va_end(args);
  if (!status->message) {
    free(status);
    return &out_of_memory_status;
  }
  status->code = code;
  return status;
}

kiln_status *kiln_status_wrap(kiln_status *status, const char *fmt, ...) {
  if (!status || status == &out_of_memory_status) return status;
  va_list args;
  va_start(args, fmt);
  char *prefix = vformat(fmt, args);
  va_end(args);
  if (!prefix) return status;
  size_t prefix_len = strlen(prefix), message_len = strlen(status->message);
  char *joined = malloc(prefix_len + 2 + message_len + 1);
  if (joined) {
    memcpy(joined, prefix, prefix_len);
    memcpy(joined + prefix_len, ": ", 2);
    memcpy(joined + prefix_len + 2, status->message, message_len + 1);
    free(status->message);
    status->message = joined;
  }
  free(prefix);
  return status;
}

kiln_status_code kiln_status_get_code(const kiln_status *status) {
  return status ? status->code : KILN_OK;
}

const char *kiln_status_message(const kiln_status *status) {
  return status ? status->message : "";
}

void kiln_status_free(kiln_status *status) {
  if (!status || status == &out_of_memory_status) return;
  free(status->message);
  free(status);
}

const char *kiln_status_code_name(kiln_status_code code) {
  switch (code) {
    case KILN_OK:
      return "OK";
    case KILN_ERR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case KILN_ERR_INVALID_MODEL:
      return "INVALID_MODEL";
    case KILN_ERR_UNSUPPORTED:
      return "UNSUPPORTED";
    case KILN_ERR_OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case KILN_ERR_IO:
      return "IO";
    case KILN_ERR_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case KILN_ERR_RUNTIME:
      return "RUNTIME";
    case KILN_ERR_INTERNAL:
      return "INTERNAL";
    case KILN_ERR_CANCELLED:
      return "CANCELLED";
  }
  return "UNKNOWN";
}
