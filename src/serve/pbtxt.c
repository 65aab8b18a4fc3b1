/* pbtxt.c - protocol-buffer text format: a tokenizer and a recursive
 * parser into a tree of named fields. Nesting is bounded, so hostile
 * files cannot exhaust the stack. */
#include "serve/pbtxt.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64, MAX_FILE_BYTES = 16 << 20 };

typedef struct parser {
  const char *p, *end, *line_start;
  int line, depth;
  char *err;
  size_t err_size;
  bool failed;
} parser;

static void fail(parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(parser *ps, const char *fmt, ...) {
  if (ps->failed) return;
  ps->failed = true;
  int n = snprintf(ps->err, ps->err_size, "line %d, column %d: ", ps->line,
                   (int)(ps->p - ps->line_start) + 1);
  if (n < 0 || (size_t)n >= ps->err_size) return;
  va_list args;
  va_start(args, fmt);
  vsnprintf(ps->err + n, ps->err_size - (size_t)n, fmt, args);
  va_end(args);
}

static void skip_space(parser *ps) {
  while (ps->p < ps->end) {
    char c = *ps->p;
    if (c == '\n') {
      ps->line++;
      ps->line_start = ++ps->p;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ps->p++;
    } else if (c == '#') {
      while (ps->p < ps->end && *ps->p != '\n') ps->p++;
    } else {
      break;
    }
  }
}

static bool at(parser *ps, char c) {
  skip_space(ps);
  return ps->p < ps->end && *ps->p == c;
}

static bool is_ident(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' ||
         c == '+';
}

/* An identifier or number: the run of identifier characters. */
static char *read_word(parser *ps) {
  skip_space(ps);
  const char *start = ps->p;
  while (ps->p < ps->end && is_ident(*ps->p)) ps->p++;
  if (ps->p == start) {
    if (ps->p < ps->end)
      fail(ps, "unexpected '%c'", *ps->p);
    else
      fail(ps, "unexpected end of file");
    return NULL;
  }
  char *word = strndup(start, (size_t)(ps->p - start));
  if (!word) fail(ps, "out of memory");
  return word;
}

/* The byte an escape stands for (ps->p just past the backslash), as
 * protobuf's tokenizer reads them: C's letters, octal \NNN and hex \xHH;
 * -1 for any other. */
static int read_escape(parser *ps) {
  char e = *ps->p++;
  switch (e) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'v':
      return '\v';
    case '\\':
    case '\'':
    case '"':
    case '?':
      return e;
    case 'x':
    case 'X': {
      int v = 0, n = 0;
      for (; n < 2 && ps->p < ps->end && isxdigit((unsigned char)*ps->p); n++) {
        char h = *ps->p++;
        v = v * 16 + (isdigit((unsigned char)h)
                          ? h - '0'
                          : tolower((unsigned char)h) - 'a' + 10);
      }
      return n ? v : -1;
    }
    default:
      if (e >= '0' && e <= '7') {
        int v = e - '0';
        for (int n = 1;
             n < 3 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7'; n++)
          v = v * 8 + (*ps->p++ - '0');
        return v & 0xff;
      }
      return -1;
  }
}

/* One or more adjacent quoted strings, concatenated, escapes decoded. */
static char *read_string(parser *ps) {
  size_t cap = 64, len = 0;
  char *out = malloc(cap);
  if (!out) {
    fail(ps, "out of memory");
    return NULL;
  }
  while (at(ps, '"') || at(ps, '\'')) {
    char quote = *ps->p++;
    for (;;) {
      if (ps->p >= ps->end || *ps->p == '\n') {
        fail(ps, "string not closed");
        free(out);
        return NULL;
      }
      char c = *ps->p++;
      if (c == quote) break;
      if (c == '\\' && ps->p < ps->end && *ps->p != '\n') {
        const char *escape = ps->p;
        int decoded = read_escape(ps);
        if (decoded < 0) {
          ps->p = escape;
          fail(ps, "bad escape '\\%c' in a string", *escape);
          free(out);
          return NULL;
        }
        c = (char)decoded;
      }
      if (len + 2 > cap) {
        char *bigger = realloc(out, cap *= 2);
        if (!bigger) {
          fail(ps, "out of memory");
          free(out);
          return NULL;
        }
        out = bigger;
      }
      out[len++] = c;
    }
  }
  out[len] = '\0';
  return out;
}

static pbtxt_node *parse_fields(parser *ps, char close);

/* A scalar value (string, number or identifier) into node. */
static bool parse_scalar(parser *ps, pbtxt_node *node) {
  if (at(ps, '"') || at(ps, '\'')) {
    node->value = read_string(ps);
    node->is_string = true;
  } else {
    node->value = read_word(ps);
  }
  return node->value != NULL;
}

static pbtxt_node *new_node(parser *ps, char *name) {
  pbtxt_node *node = calloc(1, sizeof *node);
  if (!node) {
    fail(ps, "out of memory");
    free(name);
    return NULL;
  }
  node->name = name;
  node->line = ps->line;
  return node;
}

/* A message's fields, from its opening '{' or '<' (at ps->p) to the
 * matching close, into node. */
static bool parse_message(parser *ps, pbtxt_node *node) {
  char close = *ps->p == '{' ? '}' : '>';
  ps->p++;
  if (++ps->depth > MAX_DEPTH) {
    fail(ps, "messages nested deeper than %d", MAX_DEPTH);
    return false;
  }
  node->children = parse_fields(ps, close);
  ps->depth--;
  return !ps->failed;
}

/* name: value | name [:] { fields } | name: [v, v, ...] (one node per
 * list element, each with the field's name; elements are scalars or
 * messages). Appends to *tail. */
static bool parse_field(parser *ps, pbtxt_node ***tail) {
  int line = ps->line;
  char *name = read_word(ps);
  if (!name) return false;
  bool colon = at(ps, ':');
  if (colon) ps->p++;
  if (at(ps, '{') || at(ps, '<')) {
    pbtxt_node *node = new_node(ps, name);
    if (!node) return false;
    node->line = line;
    **tail = node;
    *tail = &node->next;
    return parse_message(ps, node);
  }
  if (!colon) {
    fail(ps, "expected ':' or '{' after field '%s'", name);
    free(name);
    return false;
  }
  if (at(ps, '[')) {
    ps->p++;
    bool first = true;
    while (!at(ps, ']')) {
      if (!first) {
        if (!at(ps, ',')) {
          fail(ps, "expected ',' or ']' in the list of '%s'", name);
          free(name);
          return false;
        }
        ps->p++;
      }
      first = false;
      char *copy = strdup(name);
      pbtxt_node *node = copy ? new_node(ps, copy) : NULL;
      if (!node) {
        free(name);
        return false;
      }
      **tail = node;
      *tail = &node->next;
      bool ok = at(ps, '{') || at(ps, '<') ? parse_message(ps, node)
                                           : parse_scalar(ps, node);
      if (!ok) {
        free(name);
        return false;
      }
    }
    ps->p++;
    free(name);
    return true;
  }
  pbtxt_node *node = new_node(ps, name);
  if (!node) return false;
  node->line = line;
  **tail = node;
  *tail = &node->next;
  return parse_scalar(ps, node);
}

/* Fields up to `close` ('\0': the end of the file). */
static pbtxt_node *parse_fields(parser *ps, char close) {
  pbtxt_node *first = NULL, **tail = &first;
  for (;;) {
    skip_space(ps);
    if (ps->p >= ps->end) {
      if (close) fail(ps, "'%c' missing at end of file", close);
      break;
    }
    if (close && *ps->p == close) {
      ps->p++;
      break;
    }
    if (!parse_field(ps, &tail)) break;
    if (at(ps, ';') || at(ps, ',')) ps->p++;
  }
  return first;
}

pbtxt_node *pbtxt_parse(const char *text, size_t len, char *err,
                        size_t err_size) {
  parser ps = {text, text + len, text, 1, 0, err, err_size, false};
  pbtxt_node *root = calloc(1, sizeof *root);
  if (!root) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  root->children = parse_fields(&ps, '\0');
  if (ps.failed) {
    pbtxt_free(root);
    return NULL;
  }
  return root;
}

pbtxt_node *pbtxt_parse_file(const char *path, char *err, size_t err_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_size, "%s: %s", path, strerror(errno));
    return NULL;
  }
  char *text = malloc(MAX_FILE_BYTES);
  size_t len = text ? fread(text, 1, MAX_FILE_BYTES, f) : 0;
  bool too_big = text && len == MAX_FILE_BYTES;
  bool bad = text && ferror(f);
  fclose(f);
  if (!text || too_big || bad) {
    snprintf(err, err_size, "%s: %s", path,
             !text     ? "out of memory"
             : too_big ? "larger than 16 MiB"
                       : "read error");
    free(text);
    return NULL;
  }
  char detail[512];
  pbtxt_node *root = pbtxt_parse(text, len, detail, sizeof detail);
  free(text);
  if (!root) snprintf(err, err_size, "%s: %s", path, detail);
  return root;
}

void pbtxt_free(pbtxt_node *node) {
  while (node) {
    pbtxt_node *next = node->next;
    pbtxt_free(node->children);
    free(node->name);
    free(node->value);
    free(node);
    node = next;
  }
}

const pbtxt_node *pbtxt_find(const pbtxt_node *msg, const char *name,
                             const pbtxt_node *from) {
  const pbtxt_node *n = from ? from : msg->children;
  for (; n; n = n->next)
    if (!strcmp(n->name, name)) return n;
  return NULL;
}

const pbtxt_node *pbtxt_find_next(const pbtxt_node *field, const char *name) {
  for (const pbtxt_node *n = field->next; n; n = n->next)
    if (!strcmp(n->name, name)) return n;
  return NULL;
}

/* Reads through a wrapper message { value: X }. */
static const pbtxt_node *scalar_of(const pbtxt_node *field) {
  if (field->value) return field;
  const pbtxt_node *inner = pbtxt_find(field, "value", NULL);
  return inner && inner->value ? inner : NULL;
}

bool pbtxt_int(const pbtxt_node *field, int64_t *out, char *err,
               size_t err_size) {
  const pbtxt_node *s = scalar_of(field);
  if (s && !s->is_string) {
    char *end;
    errno = 0;
    long long v = strtoll(s->value, &end, 0);
    if (!errno && end != s->value && !*end) {
      *out = v;
      return true;
    }
  }
  snprintf(err, err_size, "line %d: field '%s' must be an integer", field->line,
           field->name);
  return false;
}

bool pbtxt_bool(const pbtxt_node *field, bool *out, char *err,
                size_t err_size) {
  const pbtxt_node *s = scalar_of(field);
  if (s && !s->is_string) {
    if (!strcmp(s->value, "true") || !strcmp(s->value, "1")) {
      *out = true;
      return true;
    }
    if (!strcmp(s->value, "false") || !strcmp(s->value, "0")) {
      *out = false;
      return true;
    }
  }
  snprintf(err, err_size, "line %d: field '%s' must be true or false",
           field->line, field->name);
  return false;
}

const char *pbtxt_string(const pbtxt_node *field, char *err, size_t err_size) {
  const pbtxt_node *s = scalar_of(field);
  if (s && s->is_string) return s->value;
  snprintf(err, err_size, "line %d: field '%s' must be a quoted string",
           field->line, field->name);
  return NULL;
}
