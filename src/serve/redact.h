/* redact.h - host filesystem paths taken out of messages a client reads:
 * a model's file and folder locations are the server operator's business
 * (the log keeps them); clients see the model's name and version. */
#ifndef KILN_SERVE_REDACT_H
#define KILN_SERVE_REDACT_H

#include <stdint.h>

#include "serve/buf.h"
#include "serve/status.h"

/* A malloc'd copy of message (NULL when out of memory) in which every
 * path is replaced by label: every absolute path (a '/' followed by a
 * path character, at the start or after a space, quote, '(', '[', '=' or
 * ','), and every occurrence of `known` (a base path as configured,
 * which may be relative; NULL or "" for none), each taken up to the next
 * space, quote, ':', ',', ')' or ']'. */
char *serve_redact_paths(const char *message, const char *known,
                         const char *label);

/* status with its message redacted as above (same code); frees status.
 * NULL stays NULL. */
serve_status *serve_redact_status(serve_status *status, const char *known,
                                  const char *label);

/* A version's load error (NULL: none, written "") as a JSON string, its
 * paths replaced by "model 'NAME' version N". */
void serve_buf_version_error(serve_buf *b, const char *error, const char *model,
                             int64_t version);

#endif
