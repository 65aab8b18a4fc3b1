/* tensor_json.c - JSON values to tensors and back. */
#include "serve/tensor_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------- NaN and Infinity */

/* TF Serving's JSON reader (rapidjson with kParseNanAndInfFlag) takes the
 * bare tokens NaN, Inf and Infinity, each with an optional '-', as
 * numbers, and kiln writes them in answers; jansson refuses them. Before
 * parsing, each such token outside a string becomes a string holding a
 * control character no client types and then the token
 * ("\u001fNaN"), which store() maps back for a float tensor; a string a
 * client sent ("NaN") stays a string, and elsewhere (a parameter) the
 * marker is only a string that fits no number field. */
#define NONFINITE_MARK "\x1f"
static const char *const nonfinite_tokens[] = {"-Infinity", "-Inf", "-NaN",
                                               "Infinity",  "Inf",  "NaN"};
enum { NUM_NONFINITE = sizeof nonfinite_tokens / sizeof nonfinite_tokens[0] };

/* Whether c may continue a bare word or number (so a token ending before
 * it is only the start of a longer word). */
static bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '+' || c == '-';
}

/* The length of the non-finite token at text[i] outside a string, or 0. */
static size_t nonfinite_at(const char *text, size_t len, size_t i) {
  if (i > 0 && word_char(text[i - 1])) return 0;
  for (int t = 0; t < NUM_NONFINITE; t++) {
    size_t n = strlen(nonfinite_tokens[t]);
    if (n <= len - i && !memcmp(text + i, nonfinite_tokens[t], n) &&
        (i + n == len || !word_char(text[i + n])))
      return n;
  }
  return 0;
}

/* Copies text to out (when out is not NULL) with each bare token
 * replaced by its quoted, marked form; returns the copy's length. */
static size_t mark_nonfinite(const char *text, size_t len, char *out) {
  static const char open[] = "\"\\u001f", close[] = "\"";
  size_t o = 0;
  bool in_string = false;
  for (size_t i = 0; i < len;) {
    char c = text[i];
    size_t n = in_string ? 0 : nonfinite_at(text, len, i);
    if (n) {
      if (out) {
        memcpy(out + o, open, sizeof open - 1);
        memcpy(out + o + sizeof open - 1, text + i, n);
        memcpy(out + o + sizeof open - 1 + n, close, sizeof close - 1);
      }
      o += sizeof open - 1 + n + sizeof close - 1;
      i += n;
      continue;
    }
    if (in_string && c == '\\' && i + 1 < len) {
      if (out) memcpy(out + o, text + i, 2);
      o += 2;
      i += 2;
      continue;
    }
    if (c == '"') in_string = !in_string;
    if (out) out[o] = c;
    o++;
    i++;
  }
  return o;
}

json_t *serve_json_loadb(const char *text, size_t len, size_t flags,
                         json_error_t *error) {
  size_t marked = mark_nonfinite(text, len, NULL);
  if (marked == len) return json_loadb(text, len, flags, error);
  char *copy = malloc(marked);
  if (!copy) {
    snprintf(error->text, sizeof error->text, "out of memory");
    error->line = error->column = -1;
    return NULL;
  }
  mark_nonfinite(text, len, copy);
  json_t *value = json_loadb(copy, marked, flags, error);
  free(copy);
  return value;
}

/* The value a marked non-finite token stands for; false when s is not
 * one. */
static bool nonfinite_value(const char *s, double *out) {
  if (s[0] != NONFINITE_MARK[0]) return false;
  s++;
  bool minus = *s == '-';
  if (minus) s++;
  if (!strcmp(s, "NaN"))
    *out = NAN;
  else if (!strcmp(s, "Inf") || !strcmp(s, "Infinity"))
    *out = minus ? -INFINITY : INFINITY;
  else
    return false;
  return true;
}

/* ------------------------------------------------------------ reading */

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "a list";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
      return "an integer";
    case JSON_REAL:
      return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    case JSON_NULL:
      return "null";
  }
  return "a value";
}

/* Stores leaf v as element i of out, converted to out's dtype. */
static serve_status *store(const json_t *v, serve_tensor *out, int64_t i,
                           const char *what) {
  switch (out->dtype) {
    case KILN_FLOAT32:
    case KILN_FLOAT64: {
      double x;
      if (json_is_number(v))
        x = json_number_value(v);
      else if (!json_is_string(v) || !nonfinite_value(json_string_value(v), &x))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: expected a number but got %s", what,
                           json_kind(v));
      if (out->dtype == KILN_FLOAT32)
        ((float *)out->data)[i] = (float)x;
      else
        ((double *)out->data)[i] = x;
      return NULL;
    }
    case KILN_BOOL:
      if (!json_is_boolean(v))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: expected true or false but got %s", what,
                           json_kind(v));
      ((uint8_t *)out->data)[i] = json_is_true(v);
      return NULL;
    case KILN_INT8:
    case KILN_UINT8:
    case KILN_INT16:
    case KILN_UINT16:
    case KILN_INT32:
    case KILN_UINT32:
    case KILN_INT64:
    case KILN_UINT64: {
      if (!json_is_integer(v))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: expected an integer (%s) but got %s", what,
                           kiln_dtype_name(out->dtype), json_kind(v));
      /* jansson's integers are signed 64-bit: a uint64 past INT64_MAX
       * already failed to parse, with the body's JSON error */
      json_int_t x = json_integer_value(v);
      int64_t lo = out->dtype == KILN_INT8    ? INT8_MIN
                   : out->dtype == KILN_INT16 ? INT16_MIN
                   : out->dtype == KILN_INT32 ? INT32_MIN
                   : out->dtype == KILN_INT64 ? INT64_MIN
                                              : 0;
      int64_t hi = out->dtype == KILN_INT8     ? INT8_MAX
                   : out->dtype == KILN_UINT8  ? UINT8_MAX
                   : out->dtype == KILN_INT16  ? INT16_MAX
                   : out->dtype == KILN_UINT16 ? UINT16_MAX
                   : out->dtype == KILN_INT32  ? INT32_MAX
                   : out->dtype == KILN_UINT32 ? UINT32_MAX
                                               : INT64_MAX;
      if (x < lo || x > hi)
        return serve_error(SERVE_INVALID_ARGUMENT, "%s: %lld does not fit %s",
                           what, (long long)x, kiln_dtype_name(out->dtype));
      switch (out->dtype) {
        case KILN_INT8:
          ((int8_t *)out->data)[i] = (int8_t)x;
          break;
        case KILN_UINT8:
          ((uint8_t *)out->data)[i] = (uint8_t)x;
          break;
        case KILN_INT16:
          ((int16_t *)out->data)[i] = (int16_t)x;
          break;
        case KILN_UINT16:
          ((uint16_t *)out->data)[i] = (uint16_t)x;
          break;
        case KILN_INT32:
          ((int32_t *)out->data)[i] = (int32_t)x;
          break;
        case KILN_UINT32:
          ((uint32_t *)out->data)[i] = (uint32_t)x;
          break;
        case KILN_UINT64:
          ((uint64_t *)out->data)[i] = (uint64_t)x;
          break;
        default:
          ((int64_t *)out->data)[i] = (int64_t)x;
      }
      return NULL;
    }
    default:
      break;
  }
  return serve_error(SERVE_UNIMPLEMENTED,
                     "%s: conversion of JSON values to %s is not supported",
                     what, kiln_dtype_name(out->dtype));
}

/* Walks nested lists: leaves go to out in row-major order (or are only
 * counted when out->data is NULL). With a shape (nested form) each list at
 * depth d must hold dims[d] items; flat form takes any nesting. */
static serve_status *walk(const json_t *v, int depth, serve_tensor *out,
                          bool nested, int64_t *next, int64_t count,
                          const char *what) {
  if (json_is_array(v)) {
    if (nested &&
        (depth >= out->rank || (int64_t)json_array_size(v) != out->dims[depth]))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: encountered a list of %zu items at depth %d "
                         "where the shape taken from its first items wants "
                         "%s (lists must be rectangular)",
                         what, json_array_size(v), depth,
                         depth >= out->rank ? "a value" : "more or fewer");
    if (depth >= 32)
      return serve_error(SERVE_INVALID_ARGUMENT, "%s: lists nest too deep",
                         what);
    for (size_t k = 0; k < json_array_size(v); k++)
      SERVE_TRY(walk(json_array_get(v, k), depth + 1, out, nested, next, count,
                     what));
    return NULL;
  }
  if (nested && depth != out->rank)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: found a value at depth %d where the shape wants "
                       "a list",
                       what, depth);
  if (*next >= count)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: holds more values than its shape's %lld", what,
                       (long long)count);
  if (!out->data) {
    (*next)++;
    return NULL;
  }
  return store(v, out, (*next)++, what);
}

serve_status *serve_check_shape(const int64_t *dims, int rank, kiln_dtype dtype,
                                const char *what, int64_t *count) {
  int64_t elem = (int64_t)kiln_dtype_size(dtype), n = 1;
  if (elem < 1) elem = 1;
  bool empty = false;
  for (int d = 0; d < rank; d++) {
    if (dims[d] < 0 || (dims[d] && n > INT64_MAX / 8 / elem / dims[d]))
      return serve_error(SERVE_INVALID_ARGUMENT, "%s: bad or huge shape", what);
    if (!dims[d] && !empty) {
      empty = true;
      if (n > SERVE_MAX_EMPTY_LISTS)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: a shape without values may have at most %d "
                           "lists before its first 0, not %lld",
                           what, SERVE_MAX_EMPTY_LISTS, (long long)n);
    }
    n *= dims[d];
  }
  *count = n;
  return NULL;
}

serve_status *serve_json_to_tensor(const json_t *value, kiln_dtype dtype,
                                   const char *what, const int64_t *flat_dims,
                                   int flat_rank, serve_tensor *out) {
  memset(out, 0, sizeof *out);
  out->dtype = dtype;
  size_t elem = kiln_dtype_size(dtype);
  if (!elem)
    return serve_error(SERVE_UNIMPLEMENTED, "%s: dtype %s is not served", what,
                       kiln_dtype_name(dtype));
  if (flat_dims) {
    if (flat_rank > KILN_MAX_RANK)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: shape has %d dimensions; at most %d", what,
                         flat_rank, KILN_MAX_RANK);
    out->rank = flat_rank;
    memcpy(out->dims, flat_dims, (size_t)flat_rank * sizeof *flat_dims);
  } else {
    const json_t *v = value;
    while (json_is_array(v)) {
      if (out->rank == KILN_MAX_RANK)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: lists nest deeper than %d", what,
                           KILN_MAX_RANK);
      out->dims[out->rank++] = (int64_t)json_array_size(v);
      if (!json_array_size(v)) break;
      v = json_array_get(v, 0);
    }
  }
  int64_t count;
  SERVE_TRY(serve_check_shape(out->dims, out->rank, dtype, what, &count));
  /* The shape (a given one, or the first items' nesting) is only a claim:
   * count the values before allocating for it, so a small body cannot
   * ask for terabytes. */
  int64_t next = 0;
  serve_status *st = walk(value, 0, out, !flat_dims, &next, count, what);
  if (!st && next != count)
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "%s: holds %lld values; its shape wants %lld", what,
                     (long long)next, (long long)count);
  if (st) return st;
  out->nbytes = (size_t)count * elem;
  out->data = malloc(out->nbytes ? out->nbytes : 1);
  if (!out->data) return serve_error(SERVE_INTERNAL, "out of memory");
  next = 0;
  st = walk(value, 0, out, !flat_dims, &next, count, what);
  if (st) {
    free(out->data);
    out->data = NULL;
  }
  return st;
}

serve_status *serve_stack_tensors(const serve_tensor *parts, int n,
                                  const char *what, serve_tensor *out) {
  memset(out, 0, sizeof *out);
  if (n < 1 || parts[0].rank >= KILN_MAX_RANK)
    return serve_error(SERVE_INVALID_ARGUMENT, "%s: cannot stack", what);
  for (int i = 1; i < n; i++) {
    bool same =
        parts[i].rank == parts[0].rank && parts[i].nbytes == parts[0].nbytes;
    for (int d = 0; same && d < parts[0].rank; d++)
      same = parts[i].dims[d] == parts[0].dims[d];
    if (!same)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: instance %d has a different shape from "
                         "instance 0; all instances must have the same shape",
                         what, i);
  }
  out->dtype = parts[0].dtype;
  out->rank = parts[0].rank + 1;
  out->dims[0] = n;
  memcpy(out->dims + 1, parts[0].dims, (size_t)parts[0].rank * sizeof(int64_t));
  out->nbytes = parts[0].nbytes * (size_t)n;
  out->data = malloc(out->nbytes ? out->nbytes : 1);
  if (!out->data) return serve_error(SERVE_INTERNAL, "out of memory");
  for (int i = 0; i < n; i++)
    memcpy((char *)out->data + parts[0].nbytes * (size_t)i, parts[i].data,
           parts[0].nbytes);
  return NULL;
}

bool serve_json_is_b64(const json_t *v) {
  return json_is_object(v) && json_object_size(v) == 1 &&
         json_is_string(json_object_get(v, "b64"));
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62; /* standard and URL-safe */
  if (c == '/' || c == '_') return 63;
  return -1;
}

serve_status *serve_b64_to_tensor(const char *text, kiln_dtype dtype,
                                  const int64_t *dims, int rank,
                                  const char *what, serve_tensor *out) {
  memset(out, 0, sizeof *out);
  int64_t count;
  if (rank > KILN_MAX_RANK)
    return serve_error(SERVE_INVALID_ARGUMENT, "%s: rank %d", what, rank);
  SERVE_TRY(serve_check_shape(dims, rank, dtype, what, &count));
  size_t len = strlen(text), padding = 0;
  while (len && text[len - 1] == '=') len--, padding++;
  /* Padding, when present, fills the last group of 4; no length leaves a
   * single character in its last group. */
  if (padding > 2 || (padding && (len + padding) % 4) || len % 4 == 1)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: Unable to base64 decode (%zu characters with %zu "
                       "of padding is not a base64 length)",
                       what, len + padding, padding);
  out->data = malloc(len * 3 / 4 + 1);
  if (!out->data) return serve_error(SERVE_INTERNAL, "out of memory");
  unsigned char *dst = out->data;
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_value((unsigned char)text[i]);
    if (v < 0) {
      free(out->data);
      out->data = NULL;
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: Unable to base64 decode (bad character at %zu)",
                         what, i);
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      dst[n++] = (unsigned char)(acc >> bits);
    }
  }
  out->dtype = dtype;
  out->rank = rank;
  memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
  size_t want = (size_t)count * kiln_dtype_size(dtype);
  out->nbytes = n;
  if (n != want) {
    free(out->data);
    out->data = NULL;
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: b64 holds %zu bytes; a %s tensor of its shape "
                       "takes %zu",
                       what, n, kiln_dtype_name(dtype), want);
  }
  return NULL;
}

/* ------------------------------------------------------------ writing */

/* Whether text reads back as value, in float32 or float64. */
static bool reads_back(const char *text, double value, bool single) {
  return single ? strtof(text, NULL) == (float)value
                : strtod(text, NULL) == value;
}

/* A finite number in the fewest significant digits (1..9 for float32,
 * 1..17 for float64) that read back exactly: from a start most values
 * need, search down or up. Integers keep a ".0" so typed clients still
 * see a float (and -0 its sign). */
static void write_shortest(serve_buf *b, double value, bool single) {
  if (isnan(value)) {
    serve_buf_puts(b, "NaN");
    return;
  }
  if (isinf(value)) {
    serve_buf_puts(b, value > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char text[32], best[32];
  int p = single ? 6 : 15, most = single ? 9 : 17;
  snprintf(text, sizeof text, "%.*g", p, value);
  if (reads_back(text, value, single)) {
    memcpy(best, text, sizeof text);
    while (--p >= 1) {
      snprintf(text, sizeof text, "%.*g", p, value);
      if (!reads_back(text, value, single)) break;
      memcpy(best, text, sizeof text);
    }
  } else {
    while (++p <= most) {
      snprintf(best, sizeof best, "%.*g", p, value);
      if (reads_back(best, value, single)) break;
    }
  }
  serve_buf_puts(b, best);
  if (!strpbrk(best, ".eE")) serve_buf_puts(b, ".0");
}

void serve_write_float(serve_buf *b, float value) {
  write_shortest(b, value, true);
}

/* An IEEE half's value (exact in float). */
static float half_value(uint16_t h) {
  int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float magnitude = exponent == 0 ? ldexpf((float)mantissa, -24)
                    : exponent == 31
                        ? (mantissa ? NAN : INFINITY)
                        : ldexpf((float)(mantissa | 0x400), exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}

static void write_element(serve_buf *b, const serve_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_FLOAT32:
      serve_write_float(b, ((const float *)t->data)[i]);
      return;
    case KILN_FLOAT16: /* a float16 output, as the float it is */
      serve_write_float(b, half_value(((const uint16_t *)t->data)[i]));
      return;
    case KILN_FLOAT64:
      write_shortest(b, ((const double *)t->data)[i], false);
      return;
    case KILN_INT8:
      serve_buf_printf(b, "%d", ((const int8_t *)t->data)[i]);
      return;
    case KILN_UINT8:
      serve_buf_printf(b, "%u", ((const uint8_t *)t->data)[i]);
      return;
    case KILN_INT16:
      serve_buf_printf(b, "%d", ((const int16_t *)t->data)[i]);
      return;
    case KILN_INT32:
      serve_buf_printf(b, "%d", (int)((const int32_t *)t->data)[i]);
      return;
    case KILN_INT64:
      serve_buf_printf(b, "%lld", (long long)((const int64_t *)t->data)[i]);
      return;
    case KILN_UINT16:
      serve_buf_printf(b, "%u", (unsigned)((const uint16_t *)t->data)[i]);
      return;
    case KILN_UINT32:
      serve_buf_printf(b, "%lu", (unsigned long)((const uint32_t *)t->data)[i]);
      return;
    case KILN_UINT64:
      serve_buf_printf(b, "%llu",
                       (unsigned long long)((const uint64_t *)t->data)[i]);
      return;
    case KILN_BOOL:
      serve_buf_puts(b, ((const uint8_t *)t->data)[i] ? "true" : "false");
      return;
    default:
      serve_buf_puts(b, "null");
  }
}

static void write_nested(serve_buf *b, const serve_tensor *t, int d,
                         int64_t *next) {
  if (d == t->rank) {
    write_element(b, t, (*next)++);
    return;
  }
  serve_buf_puts(b, "[");
  for (int64_t k = 0; k < t->dims[d]; k++) {
    if (k) serve_buf_puts(b, ",");
    write_nested(b, t, d + 1, next);
  }
  serve_buf_puts(b, "]");
}

void serve_tensor_to_json(serve_buf *b, const serve_tensor *t, int first_dim,
                          int64_t row, bool flat) {
  int64_t per_row = 1;
  for (int d = first_dim; d < t->rank; d++) per_row *= t->dims[d];
  int64_t next = row * per_row;
  if (flat) {
    serve_buf_puts(b, "[");
    for (int64_t k = 0; k < per_row; k++) {
      if (k) serve_buf_puts(b, ",");
      write_element(b, t, next + k);
    }
    serve_buf_puts(b, "]");
    return;
  }
  write_nested(b, t, first_dim, &next);
}

/* ------------------------------------------------------------ dtypes */

static const struct {
  kiln_dtype dtype;
  const char *kserve, *tf;
} dtype_names[] = {
    {KILN_FLOAT32, "FP32", "DT_FLOAT"},   {KILN_FLOAT16, "FP16", "DT_HALF"},
    {KILN_FLOAT64, "FP64", "DT_DOUBLE"},  {KILN_INT8, "INT8", "DT_INT8"},
    {KILN_UINT8, "UINT8", "DT_UINT8"},    {KILN_INT16, "INT16", "DT_INT16"},
    {KILN_INT32, "INT32", "DT_INT32"},    {KILN_INT64, "INT64", "DT_INT64"},
    {KILN_BOOL, "BOOL", "DT_BOOL"},       {KILN_UINT16, "UINT16", "DT_UINT16"},
    {KILN_UINT32, "UINT32", "DT_UINT32"}, {KILN_UINT64, "UINT64", "DT_UINT64"},
};
enum { NUM_DTYPE_NAMES = sizeof dtype_names / sizeof dtype_names[0] };

const char *serve_kserve_dtype(kiln_dtype dtype) {
  for (int i = 0; i < NUM_DTYPE_NAMES; i++)
    if (dtype_names[i].dtype == dtype) return dtype_names[i].kserve;
  return "UNKNOWN";
}

kiln_dtype serve_kserve_dtype_parse(const char *name) {
  for (int i = 0; i < NUM_DTYPE_NAMES; i++)
    if (!strcmp(dtype_names[i].kserve, name)) return dtype_names[i].dtype;
  return KILN_DTYPE_INVALID;
}

const char *serve_tf_dtype(kiln_dtype dtype) {
  for (int i = 0; i < NUM_DTYPE_NAMES; i++)
    if (dtype_names[i].dtype == dtype) return dtype_names[i].tf;
  return "DT_INVALID";
}
