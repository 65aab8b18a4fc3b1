/* buf.h - a growable byte buffer for building response bodies and reading
 * request bodies. Running out of memory is sticky: later appends do
 * nothing and `failed` stays set, so callers check once at the end. */
#ifndef KILN_SERVE_BUF_H
#define KILN_SERVE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct serve_buf {
  char *data; /* always NUL-terminated when not NULL */
  size_t len, cap;
  bool failed;
} serve_buf;

void serve_buf_append(serve_buf *b, const void *data, size_t len);
void serve_buf_puts(serve_buf *b, const char *text);
void serve_buf_printf(serve_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included, escaping what JSON requires. */
void serve_buf_json_string(serve_buf *b, const char *text);
/* Hands the bytes to the caller (free() them); the buffer is emptied. */
char *serve_buf_take(serve_buf *b, size_t *len);
void serve_buf_free(serve_buf *b);

#endif
