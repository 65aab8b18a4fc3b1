/* npy.c - reading and writing NumPy .npy files (format 1.0, 2.0 and 3.0).
 *
 * Layout: the magic "\x93NUMPY", a major and a minor version byte, the
 * header length (little-endian u16 for 1.0, u32 for 2.0 and 3.0), the
 * header - a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n' - and then the raw data.
 *
 * The header is parsed by hand: keys in any order, any spacing, a trailing
 * comma, "()" for scalars and "(5,)" for vectors. Every size is checked
 * against the size of the file before anything is allocated, so a hostile
 * header cannot make the reader allocate more than the file holds. Bytes
 * after the data the shape needs are ignored, as numpy ignores them (it is
 * how several arrays saved one after another into a file read back). */
#include "formats/npy/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file_kind.h"
#include "core/status.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Magic, two version bytes and the longest (u32) header length field. */
#define NPY_MAX_PREFIX 12

typedef struct npy_header {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  size_t nbytes;        /* in memory (for strings: the views and bytes) */
  size_t file_bytes;    /* in the file */
  size_t string_width;  /* '|S<n>': n (STRING arrays only) */
  uint64_t data_offset; /* from the start of the file */
} npy_header;

static int host_is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 1;
}

static const char *label(const char *name) { return name ? name : "<memory>"; }

/* "(2, 3)", "(5,)" or "()" into buf. */
static void format_shape(char *buf, size_t size, int rank,
                         const int64_t *dims) {
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "(");
  for (int i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                             (long long)dims[i]);
  if (used < size) snprintf(buf + used, size - used, rank == 1 ? ",)" : ")");
}

/* Copies up to 40 bytes of untrusted text with non-printable bytes shown
 * as '?', so messages stay one readable line. */
static void sanitize(char *out, size_t out_size, const char *text,
                     size_t length) {
  size_t n = 0;
  for (size_t i = 0; i < length && n + 4 < out_size; i++) {
    unsigned char ch = (unsigned char)text[i];
    out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    if (i == 40) {
      memcpy(out + n, "...", 3);
      n += 3;
      break;
    }
  }
  out[n] = '\0';
}

/* --------------------------------------------------------- the preamble */

/* Checks magic and version and finds the header. `prefix` holds the first
 * `available` bytes of a file of `file_size` bytes. */
static kiln_status *parse_prefix(const unsigned char *prefix, size_t available,
                                 uint64_t file_size, const char *name,
                                 uint64_t *header_offset,
                                 uint64_t *header_length) {
  if (available < NPY_MAGIC_LEN ||
      memcmp(prefix, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: not a .npy file: no \\x93NUMPY magic at byte "
                      "offset 0 (file has %llu bytes)",
                      label(name), (unsigned long long)file_size);
  if (available < NPY_MAGIC_LEN + 2)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: truncated .npy file: it ends at byte offset %llu, "
                      "inside the version bytes at offset 6",
                      label(name), (unsigned long long)file_size);
  int major = prefix[6], minor = prefix[7];
  if (major < 1 || major > 3 || minor != 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: .npy format version %d.%d is not supported (kiln "
                      "reads 1.0, 2.0 and 3.0)",
                      label(name), major, minor);
  size_t length_bytes = major == 1 ? 2 : 4;
  if (available < 8 + length_bytes)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: truncated .npy file: it ends at byte offset %llu, "
                      "inside the header length at offset 8",
                      label(name), (unsigned long long)file_size);
  uint64_t length = 0;
  for (size_t i = 0; i < length_bytes; i++)
    length |= (uint64_t)prefix[8 + i] << (8 * i);
  *header_offset = 8 + length_bytes;
  *header_length = length;
  if (length > file_size - *header_offset)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: the .npy header of %llu bytes at byte offset %llu "
                      "runs past the end of the file (%llu bytes)",
                      label(name), (unsigned long long)length,
                      (unsigned long long)*header_offset,
                      (unsigned long long)file_size);
  return NULL;
}

/* ------------------------------------------------------------ the header */

typedef struct cursor {
  const char *text;
  size_t length;
  size_t pos;
  uint64_t base; /* file offset of text[0] */
  const char *name;
} cursor;

static void skip_space(cursor *c) {
  while (c->pos < c->length) {
    char ch = c->text[c->pos];
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
    c->pos++;
  }
}

static int peek(const cursor *c) {
  return c->pos < c->length ? (unsigned char)c->text[c->pos] : -1;
}

/* "expected X, found 'y'" at the cursor's file offset. */
static kiln_status *syntax_error(const cursor *c, const char *expected) {
  char found[32];
  int ch = peek(c);
  if (ch < 0)
    snprintf(found, sizeof found, "the end of the header");
  else if (ch >= 0x20 && ch < 0x7f)
    snprintf(found, sizeof found, "'%c'", ch);
  else
    snprintf(found, sizeof found, "byte 0x%02x", ch);
  return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                    "%s: malformed .npy header at byte offset %llu: expected "
                    "%s, found %s",
                    label(c->name), (unsigned long long)(c->base + c->pos),
                    expected, found);
}

static int accept(cursor *c, char ch) {
  skip_space(c);
  if (peek(c) != (unsigned char)ch) return 0;
  c->pos++;
  return 1;
}

/* A quoted Python string ('...' or "..."); escapes are not needed by any
 * valid header and are rejected by the callers' checks of the contents. */
static kiln_status *parse_string(cursor *c, const char *what,
                                 const char **out_text, size_t *out_length) {
  skip_space(c);
  int quote = peek(c);
  if (quote != '\'' && quote != '"') return syntax_error(c, what);
  size_t start = ++c->pos;
  while (c->pos < c->length && c->text[c->pos] != (char)quote) c->pos++;
  if (c->pos >= c->length) {
    c->pos = start - 1;
    return syntax_error(c, "a closed string");
  }
  *out_text = c->text + start;
  *out_length = c->pos - start;
  c->pos++;
  return NULL;
}

static int matches(const char *text, size_t length, const char *word) {
  return strlen(word) == length && memcmp(text, word, length) == 0;
}

static kiln_status *parse_bool(cursor *c, int *out) {
  skip_space(c);
  const char *rest = c->text + c->pos;
  size_t left = c->length - c->pos;
  if (left >= 4 && memcmp(rest, "True", 4) == 0) {
    c->pos += 4;
    *out = 1;
  } else if (left >= 5 && memcmp(rest, "False", 5) == 0) {
    c->pos += 5;
    *out = 0;
  } else {
    return syntax_error(c, "True or False for 'fortran_order'");
  }
  return NULL;
}

static kiln_status *parse_shape(cursor *c, int *out_rank, int64_t *dims) {
  skip_space(c);
  if (peek(c) == '[')
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: malformed .npy header at byte offset %llu: "
                      "'shape' must be a tuple such as (2, 3), not a list",
                      label(c->name), (unsigned long long)(c->base + c->pos));
  if (!accept(c, '(')) return syntax_error(c, "'(' starting the shape tuple");
  int rank = 0;
  int commas = 0;
  for (;;) {
    if (accept(c, ')')) break;
    skip_space(c);
    size_t start = c->pos;
    if (peek(c) == '-') {
      c->pos++;
      while (peek(c) >= '0' && peek(c) <= '9') c->pos++;
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: malformed .npy header at byte offset %llu: "
                        "negative dimension %.*s in 'shape'",
                        label(c->name), (unsigned long long)(c->base + start),
                        (int)(c->pos - start), c->text + start);
    }
    if (peek(c) < '0' || peek(c) > '9')
      return syntax_error(c, "a dimension (a non-negative integer)");
    uint64_t value = 0;
    while (peek(c) >= '0' && peek(c) <= '9') {
      unsigned digit = (unsigned)(peek(c) - '0');
      if (value > ((uint64_t)INT64_MAX - digit) / 10)
        return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                          "%s: .npy header at byte offset %llu: dimension "
                          "%d of 'shape' is too large",
                          label(c->name), (unsigned long long)(c->base + start),
                          rank);
      value = value * 10 + digit;
      c->pos++;
    }
    if (peek(c) == 'L' || peek(c) == 'l') c->pos++; /* Python 2 longs */
    if (rank == KILN_MAX_RANK)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: .npy header at byte offset %llu: 'shape' has "
                        "more than %d dimensions, the most kiln handles",
                        label(c->name), (unsigned long long)(c->base + start),
                        KILN_MAX_RANK);
    dims[rank++] = (int64_t)value;
    if (accept(c, ',')) {
      commas++;
      continue;
    }
    if (accept(c, ')')) break;
    return syntax_error(c, "',' or ')' in the shape tuple");
  }
  if (rank == 1 && commas == 0)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: malformed .npy header at byte offset %llu: 'shape' "
                      "is not a tuple; a 1-D shape is written (%lld,)",
                      label(c->name), (unsigned long long)(c->base + c->pos),
                      (long long)dims[0]);
  *out_rank = rank;
  return NULL;
}

/* Maps a descr such as '<f4' to a dtype, checking the byte order. */
/* '|S<n>' (numpy's bytes_, n from 1 to 2^30): a STRING array of width n. */
static int string_descr(const char *code, size_t length, size_t *out_width) {
  if (length < 2 || code[0] != 'S' || length > 11) return 0;
  size_t width = 0;
  for (size_t i = 1; i < length; i++) {
    if (code[i] < '0' || code[i] > '9') return 0;
    width = width * 10 + (size_t)(code[i] - '0');
  }
  if (width == 0 || width > ((size_t)1 << 30)) return 0;
  *out_width = width;
  return 1;
}

static kiln_status *parse_descr(const cursor *c, size_t offset,
                                const char *descr, size_t length,
                                kiln_dtype *out, size_t *out_width) {
  static const struct {
    const char *code;
    kiln_dtype dtype;
  } table[] = {
      {"f2", KILN_FLOAT16},   {"f4", KILN_FLOAT32}, {"f8", KILN_FLOAT64},
      {"i1", KILN_INT8},      {"u1", KILN_UINT8},   {"i2", KILN_INT16},
      {"i4", KILN_INT32},     {"i8", KILN_INT64},   {"b1", KILN_BOOL},
      {"c8", KILN_COMPLEX64}, {"u2", KILN_UINT16},  {"u4", KILN_UINT32},
      {"u8", KILN_UINT64},
  };
  char shown[64];
  sanitize(shown, sizeof shown, descr, length);
  char order = '=';
  const char *code = descr;
  size_t code_length = length;
  if (length > 0 && descr[0] != '\0' && strchr("<>|=", descr[0])) {
    order = descr[0];
    code++;
    code_length--;
  }
  kiln_dtype dtype = KILN_DTYPE_INVALID;
  if ((order == '|' || order == '=') &&
      string_descr(code, code_length, out_width)) {
    *out = KILN_STRING;
    return NULL;
  }
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (matches(code, code_length, table[i].code)) dtype = table[i].dtype;
  if (dtype == KILN_DTYPE_INVALID)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: .npy header at byte offset %llu: dtype '%s' is not "
                      "supported (kiln reads <f2 <f4 <f8 |i1 |u1 <i2 <i4 <i8 "
                      "|b1 <c8 <u2 <u4 <u8 |S<n>)",
                      label(c->name), (unsigned long long)(c->base + offset),
                      shown);
  if (kiln_dtype_size(dtype) > 1) {
    int little = host_is_little_endian();
    if (order == '|')
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: .npy header at byte offset %llu: dtype '%s' has "
                        "no byte order, but %s needs one ('<' or '>')",
                        label(c->name), (unsigned long long)(c->base + offset),
                        shown, kiln_dtype_name(dtype));
    if ((order == '>' && little) || (order == '<' && !little))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "%s: .npy dtype '%s' is %s-endian, which kiln does not "
                        "read on this %s-endian host (convert it with "
                        "numpy's astype('%c%.*s'))",
                        label(c->name), shown, order == '>' ? "big" : "little",
                        little ? "little" : "big", little ? '<' : '>',
                        (int)code_length, code);
  }
  *out = dtype;
  return NULL;
}

/* Elements of a shape with non-negative dims; 0 when the byte size
 * (count * element_size) would not fit in a size_t. */
static int element_count(int rank, const int64_t *dims, size_t element_size,
                         uint64_t *out_count) {
  uint64_t count = 1;
  for (int i = 0; i < rank; i++)
    if (dims[i] == 0) {
      *out_count = 0;
      return 1;
    }
  for (int i = 0; i < rank; i++) {
    uint64_t d = (uint64_t)dims[i];
    if (count > (uint64_t)INT64_MAX / d) return 0;
    count *= d;
  }
  if (count > SIZE_MAX / element_size) return 0;
  *out_count = count;
  return 1;
}

/* Parses the header dict at file offset `offset` and checks that the data
 * it describes fits in a file of `file_size` bytes. */
static kiln_status *parse_header(const char *text, size_t length,
                                 uint64_t offset, uint64_t file_size,
                                 const char *name, npy_header *out) {
  cursor c = {text, length, 0, offset, name};
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
  memset(out, 0, sizeof *out);
  if (!accept(&c, '{')) return syntax_error(&c, "'{' starting the header");
  for (;;) {
    if (accept(&c, '}')) break;
    const char *key;
    size_t key_length;
    skip_space(&c);
    size_t key_pos = c.pos;
    KILN_TRY(parse_string(&c, "a quoted key or '}'", &key, &key_length));
    if (!accept(&c, ':')) return syntax_error(&c, "':' after a key");
    int *seen;
    if (matches(key, key_length, "descr")) {
      seen = &have_descr;
      skip_space(&c);
      if (peek(&c) == '[')
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s: .npy header at byte offset %llu: structured "
                          "dtypes (a list 'descr') are not supported",
                          label(name), (unsigned long long)(offset + c.pos));
      size_t value_pos = c.pos;
      const char *descr;
      size_t descr_length;
      KILN_TRY(parse_string(&c, "a quoted dtype for 'descr'", &descr,
                            &descr_length));
      KILN_TRY(parse_descr(&c, value_pos, descr, descr_length, &out->dtype,
                           &out->string_width));
    } else if (matches(key, key_length, "fortran_order")) {
      seen = &have_order;
      KILN_TRY(parse_bool(&c, &fortran));
    } else if (matches(key, key_length, "shape")) {
      seen = &have_shape;
      KILN_TRY(parse_shape(&c, &out->rank, out->dims));
    } else {
      char shown[64];
      sanitize(shown, sizeof shown, key, key_length);
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: .npy header at byte offset %llu: unexpected key "
                        "'%s' (a header has 'descr', 'fortran_order' and "
                        "'shape')",
                        label(name), (unsigned long long)(offset + key_pos),
                        shown);
    }
    if (*seen) {
      char shown[64];
      sanitize(shown, sizeof shown, key, key_length);
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: .npy header at byte offset %llu: key '%s' "
                        "appears twice",
                        label(name), (unsigned long long)(offset + key_pos),
                        shown);
    }
    *seen = 1;
    if (accept(&c, ',')) continue;
    if (accept(&c, '}')) break;
    return syntax_error(&c, "',' or '}' after a value");
  }
  skip_space(&c);
  if (c.pos < c.length)
    return syntax_error(&c, "only spaces and a newline after the header dict");
  const char *missing = !have_descr   ? "descr"
                        : !have_order ? "fortran_order"
                        : !have_shape ? "shape"
                                      : NULL;
  if (missing)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: .npy header at byte offset %llu lacks the key '%s'",
                      label(name), (unsigned long long)offset, missing);

  char shape[256];
  format_shape(shape, sizeof shape, out->rank, out->dims);
  if (fortran) {
    /* Fortran order is the same layout as C order when at most one
     * dimension exceeds 1; anything else would need a transpose. */
    int big_dims = 0;
    for (int i = 0; i < out->rank; i++) big_dims += out->dims[i] > 1;
    if (big_dims > 1)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "%s: .npy array of shape %s is stored in Fortran "
                        "order, which kiln does not read (save it with "
                        "numpy.ascontiguousarray)",
                        label(name), shape);
  }

  /* A STRING element is string_width bytes in the file and a kiln_string
   * view plus those bytes in memory. */
  bool strings = out->dtype == KILN_STRING;
  size_t file_size_each =
      strings ? out->string_width : kiln_dtype_size(out->dtype);
  size_t memory_each =
      strings ? sizeof(kiln_string) + out->string_width : file_size_each;
  uint64_t count;
  if (!element_count(out->rank, out->dims, memory_each, &count))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: .npy shape %s of %s overflows the byte size",
                      label(name), shape, kiln_dtype_name(out->dtype));
  out->file_bytes = (size_t)(count * file_size_each);
  out->nbytes = (size_t)(count * memory_each);
  out->data_offset = offset + length;
  uint64_t available = file_size - out->data_offset;
  if (available < out->file_bytes)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: truncated .npy data: the data section at byte "
                      "offset %llu has %llu bytes, but shape %s of %s needs "
                      "%llu bytes",
                      label(name), (unsigned long long)out->data_offset,
                      (unsigned long long)available, shape,
                      kiln_dtype_name(out->dtype),
                      (unsigned long long)out->file_bytes);
  return NULL;
}

/* Where in the array's block the file's data goes: after the views for
 * STRING arrays. */
static size_t file_offset(const npy_header *header) {
  return header->dtype == KILN_STRING
             ? header->file_bytes / header->string_width * sizeof(kiln_string)
             : 0;
}

/* Fills *out from a parsed header, taking ownership of `data`. Booleans
 * are normalized to 0 and 1, the only values kiln's bool holds. */
static void fill_array(const npy_header *header, void *data, kiln_array *out) {
  out->dtype = header->dtype;
  out->rank = header->rank;
  memcpy(out->dims, header->dims, sizeof header->dims);
  out->data = data;
  out->nbytes = header->nbytes;
  if (header->dtype == KILN_STRING) {
    /* The file's bytes were read after the views (file_offset below);
     * numpy pads a shorter string with NULs, which are not part of it. */
    size_t width = header->string_width;
    size_t count = header->file_bytes / width;
    kiln_string *views = data;
    const char *bytes = (const char *)(views + count);
    for (size_t i = 0; i < count; i++) {
      size_t size = width;
      while (size > 0 && bytes[i * width + size - 1] == '\0') size--;
      views[i].data = bytes + i * width;
      views[i].size = size;
    }
    out->nbytes = count * sizeof(kiln_string);
    return;
  }
  if (header->dtype == KILN_BOOL) {
    unsigned char *bytes = data;
    for (size_t i = 0; i < header->nbytes; i++) bytes[i] = bytes[i] != 0;
  }
}

/* ----------------------------------------------------- the entry points */

kiln_status *kiln_npy_parse(const void *data, size_t size, const char *name,
                            kiln_array *out_array) {
  if (!out_array)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_npy_parse: out_array is NULL");
  memset(out_array, 0, sizeof *out_array);
  if (!data && size)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_npy_parse: data is NULL");
  const unsigned char *bytes = data;
  uint64_t header_offset = 0, header_length = 0;
  KILN_TRY(parse_prefix(bytes, size < NPY_MAX_PREFIX ? size : NPY_MAX_PREFIX,
                        size, name, &header_offset, &header_length));
  npy_header header = {0};
  KILN_TRY(parse_header((const char *)bytes + header_offset,
                        (size_t)header_length, header_offset, size, name,
                        &header));
  void *copy = kiln_malloc(NULL, header.nbytes ? header.nbytes : 1);
  if (!copy) return KILN_OOM();
  if (header.file_bytes)
    memcpy((char *)copy + file_offset(&header), bytes + header.data_offset,
           header.file_bytes);
  fill_array(&header, copy, out_array);
  return NULL;
}

static kiln_status *read_exact(FILE *file, const char *path, uint64_t offset,
                               void *buffer, size_t length) {
  if (length == 0) return NULL;
  if (fseeko(file, (off_t)offset, SEEK_SET) != 0)
    return kiln_error(KILN_ERR_IO, "%s: cannot seek to byte offset %llu: %s",
                      path, (unsigned long long)offset, strerror(errno));
  if (fread(buffer, 1, length, file) != length)
    return kiln_error(KILN_ERR_IO,
                      "%s: cannot read %zu bytes at byte offset %llu: %s", path,
                      length, (unsigned long long)offset,
                      ferror(file) ? strerror(errno)
                                   : "the file ended early (did it change?)");
  return NULL;
}

static kiln_status *load_file(FILE *file, const char *path,
                              kiln_array *out_array) {
  struct stat info;
  if (fstat(fileno(file), &info) != 0)
    return kiln_error(KILN_ERR_IO, "cannot stat '%s': %s", path,
                      strerror(errno));
  /* Only regular files: their size is known before reading, and reading
   * stops there. A device (/dev/zero) or a pipe would be read until
   * memory ran out, or block forever. */
  if (!S_ISREG(info.st_mode))
    return kiln_error(KILN_ERR_IO,
                      "cannot read '%s': not a regular file (a %s); give "
                      "an .npy file",
                      path, kiln_file_kind(info.st_mode));

  uint64_t file_size = (uint64_t)info.st_size;
  unsigned char prefix[NPY_MAX_PREFIX];
  size_t available =
      file_size < NPY_MAX_PREFIX ? (size_t)file_size : NPY_MAX_PREFIX;
  KILN_TRY(read_exact(file, path, 0, prefix, available));
  uint64_t header_offset = 0, header_length = 0;
  KILN_TRY(parse_prefix(prefix, available, file_size, path, &header_offset,
                        &header_length));
  /* parse_prefix checked header_length against the file size. */
  char *text = kiln_malloc(NULL, (size_t)header_length);
  if (!text) return KILN_OOM();
  npy_header header = {0};
  kiln_status *status =
      read_exact(file, path, header_offset, text, (size_t)header_length);
  if (!status)
    status = parse_header(text, (size_t)header_length, header_offset, file_size,
                          path, &header);
  kiln_free(NULL, text);
  if (status) return status;
  /* parse_header checked header.nbytes against the file size. */
  void *data = kiln_malloc(NULL, header.nbytes ? header.nbytes : 1);
  if (!data) return KILN_OOM();
  status = read_exact(file, path, header.data_offset,
                      (char *)data + file_offset(&header), header.file_bytes);
  if (status) {
    kiln_free(NULL, data);
    return status;
  }
  fill_array(&header, data, out_array);
  return NULL;
}

kiln_status *kiln_npy_load(const char *path, kiln_array *out_array) {
  if (!out_array)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_npy_load: out_array is NULL");
  memset(out_array, 0, sizeof *out_array);
  if (!path)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_npy_load: path is NULL");
  /* Non-blocking, so that opening a FIFO does not wait for a writer;
   * load_file refuses anything but a regular file. */
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  FILE *file = fd >= 0 ? fdopen(fd, "rb") : NULL;
  if (!file) {
    int error = errno;
    if (fd >= 0) close(fd);
    return kiln_error(KILN_ERR_IO, "cannot open '%s': %s", path,
                      strerror(error));
  }
  kiln_status *status = load_file(file, path, out_array);
  fclose(file);
  if (status) memset(out_array, 0, sizeof *out_array);
  return status;
}

/* Each string padded with NULs to `width` bytes, as numpy stores bytes_. */
static int write_strings(FILE *file, const kiln_string *views, uint64_t count,
                         size_t width) {
  static const char zeros[64];
  for (uint64_t i = 0; i < count; i++) {
    if (views[i].size &&
        fwrite(views[i].data, 1, views[i].size, file) != views[i].size)
      return 0;
    for (size_t left = width - views[i].size; left > 0;) {
      size_t n = left < sizeof zeros ? left : sizeof zeros;
      if (fwrite(zeros, 1, n, file) != n) return 0;
      left -= n;
    }
  }
  return 1;
}

kiln_status *kiln_npy_save(const char *path, const kiln_array *array) {
  if (!path || !array)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_npy_save: path and array must not be NULL");
  size_t element_size = kiln_dtype_size(array->dtype);
  if (element_size == 0)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: cannot save an array of invalid dtype %d", path,
                      (int)array->dtype);
  if (array->rank < 0 || array->rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: cannot save an array of rank %d (0 to %d)", path,
                      array->rank, KILN_MAX_RANK);
  char shape[256];
  format_shape(shape, sizeof shape, array->rank, array->dims);
  for (int i = 0; i < array->rank; i++)
    if (array->dims[i] < 0)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: cannot save shape %s: dimension %d is negative",
                        path, shape, i);
  uint64_t count;
  if (!element_count(array->rank, array->dims, element_size, &count))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: cannot save shape %s of %s: the byte size "
                      "overflows",
                      path, shape, kiln_dtype_name(array->dtype));
  if (count * element_size != array->nbytes)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: array nbytes is %zu, but shape %s of %s needs %llu",
                      path, array->nbytes, shape, kiln_dtype_name(array->dtype),
                      (unsigned long long)(count * element_size));
  if (array->nbytes && !array->data)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s: array data is NULL but nbytes is %zu", path,
                      array->nbytes);

  /* STRING arrays are written as '|S<width>', the longest string's. */
  size_t width = 1;
  if (array->dtype == KILN_STRING) {
    const kiln_string *views = array->data;
    for (uint64_t i = 0; i < count; i++) {
      if (!views[i].data && views[i].size)
        return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                          "%s: string %llu has %zu bytes at NULL", path,
                          (unsigned long long)i, views[i].size);
      if (views[i].size > width) width = views[i].size;
    }
    if (count && width > SIZE_MAX / count)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: cannot save shape %s of strings %zu bytes wide: "
                        "the byte size overflows",
                        path, shape, width);
  }
  char descr[32];
  char kind;
  switch (array->dtype) {
    case KILN_FLOAT16:
    case KILN_FLOAT32:
    case KILN_FLOAT64:
      kind = 'f';
      break;
    case KILN_UINT8:
    case KILN_UINT16:
    case KILN_UINT32:
    case KILN_UINT64:
      kind = 'u';
      break;
    case KILN_BOOL:
      kind = 'b';
      break;
    case KILN_COMPLEX64:
      kind = 'c';
      break;
    default:
      kind = 'i';
      break;
  }
  char order = element_size == 1 ? '|' : host_is_little_endian() ? '<' : '>';
  if (array->dtype == KILN_STRING)
    snprintf(descr, sizeof descr, "|S%zu", width);
  else
    snprintf(descr, sizeof descr, "%c%c%zu", order, kind, element_size);

  /* Magic (6) + version (2) + length (2) + dict + padding + '\n', padded
   * so the data starts at a multiple of 64 bytes. */
  char header[512];
  int dict_length = snprintf(header, sizeof header,
                             "{'descr': '%s', 'fortran_order': False, "
                             "'shape': %s, }",
                             descr, shape);
  if (dict_length < 0 || (size_t)dict_length + 64 >= sizeof header)
    return kiln_error(KILN_ERR_INTERNAL, "%s: .npy header too long", path);
  size_t total = 10 + (size_t)dict_length + 1;
  size_t padding = (64 - total % 64) % 64;
  memset(header + dict_length, ' ', padding);
  header[(size_t)dict_length + padding] = '\n';
  size_t header_length = (size_t)dict_length + padding + 1;
  unsigned char prefix[10];
  memcpy(prefix, NPY_MAGIC, NPY_MAGIC_LEN);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix[8] = (unsigned char)(header_length & 0xff);
  prefix[9] = (unsigned char)(header_length >> 8);

  FILE *file = fopen(path, "wb");
  if (!file)
    return kiln_error(KILN_ERR_IO, "cannot open '%s' for writing: %s", path,
                      strerror(errno));
  int ok = fwrite(prefix, 1, sizeof prefix, file) == sizeof prefix &&
           fwrite(header, 1, header_length, file) == header_length;
  if (ok && array->dtype == KILN_STRING)
    ok = write_strings(file, array->data, count, width);
  else if (ok && array->nbytes)
    ok = fwrite(array->data, 1, array->nbytes, file) == array->nbytes;
  int error = ok ? 0 : errno;
  if (fclose(file) != 0 && ok) {
    ok = 0;
    error = errno;
  }
  if (!ok) {
    remove(path); /* do not leave a torn file behind */
    return kiln_error(KILN_ERR_IO, "cannot write '%s': %s", path,
                      strerror(error));
  }
  return NULL;
}

void kiln_array_free(kiln_array *array) {
  if (!array) return;
  kiln_free(NULL, array->data);
  memset(array, 0, sizeof *array);
}
