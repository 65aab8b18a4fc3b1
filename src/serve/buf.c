/* buf.c - the growable byte buffer. */
#include "serve/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(serve_buf *b, size_t extra) {
  if (b->failed) return false;
  if (extra > (size_t)-1 / 2 - b->len) {
    b->failed = true;
    return false;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  char *data = realloc(b->data, cap);
  if (!data) {
    b->failed = true;
    return false;
  }
  b->data = data;
  b->cap = cap;
  return true;
}

void serve_buf_append(serve_buf *b, const void *data, size_t len) {
  if (!reserve(b, len)) return;
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void serve_buf_puts(serve_buf *b, const char *text) {
  serve_buf_append(b, text, strlen(text));
}

void serve_buf_printf(serve_buf *b, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, args);
  va_end(args);
  if (n < 0) {
    b->failed = true;
    return;
  }
  if ((size_t)n < sizeof small) {
    serve_buf_append(b, small, (size_t)n);
    return;
  }
  if (!reserve(b, (size_t)n)) return;
  va_start(args, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, args);
  va_end(args);
  b->len += (size_t)n;
}

/* The length of the well-formed UTF-8 character at p (2 to 4 bytes), or
 * 0: RFC 3629, no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_length(const unsigned char *p) {
  unsigned char c = p[0];
  size_t n = c >= 0xc2 && c <= 0xdf   ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (!n) return 0;
  /* The second byte's range is narrower after E0, ED, F0 and F4. */
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  return n;
}

void serve_buf_json_string(serve_buf *b, const char *text) {
  serve_buf_append(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)text;
  size_t run = 0;
  for (;; p++) {
    /* Copy runs of plain bytes and UTF-8 characters at once; escape
     * quotes, backslashes and control characters, and write bytes that
     * are not UTF-8 (a path may hold any) as U+FFFD, so the answer stays
     * JSON. */
    if (*p && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) {
      run++;
      continue;
    }
    size_t n = *p >= 0x80 ? utf8_length(p) : 0;
    if (n) {
      run += n;
      p += n - 1;
      continue;
    }
    serve_buf_append(b, p - run, run);
    run = 0;
    if (!*p) break;
    switch (*p) {
      case '"':
        serve_buf_puts(b, "\\\"");
        break;
      case '\\':
        serve_buf_puts(b, "\\\\");
        break;
      case '\n':
        serve_buf_puts(b, "\\n");
        break;
      case '\r':
        serve_buf_puts(b, "\\r");
        break;
      case '\t':
        serve_buf_puts(b, "\\t");
        break;
      default:
        if (*p >= 0x80)
          serve_buf_puts(b, "\\ufffd");
        else
          serve_buf_printf(b, "\\u%04x", *p);
    }
  }
  serve_buf_append(b, "\"", 1);
}

char *serve_buf_take(serve_buf *b, size_t *len) {
  char *data = b->data;
  if (len) *len = b->len;
  if (!data && !b->failed) data = calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return data;
}

void serve_buf_free(serve_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
