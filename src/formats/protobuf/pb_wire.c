/* pb_wire.c - protobuf wire reading and writing (see pb_wire.h). */
#include "formats/protobuf/pb_wire.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

kiln_pb_reader kiln_pb_reader_make(const void *data, size_t size,
                                   const char *what) {
  kiln_pb_reader r = {data, size, 0, 0, what ? what : "message"};
  return r;
}

static kiln_status *malformed(const kiln_pb_reader *r, size_t at,
                              const char *why) {
  return kiln_error(KILN_ERR_INVALID_MODEL, "%s: %s at byte offset %zu",
                    r->what, why, r->base + at);
}

/* What is wrong with a varint's 10th byte, or NULL: it may hold only bit
 * 63 and must end the varint. */
static const char *tenth_byte_fault(uint8_t byte) {
  if (byte & 0x80) return "a varint is longer than 10 bytes";
  if (byte > 1) return "a varint is longer than 64 bits";
  return NULL;
}

/* A varint of at most 10 bytes whose 10th byte holds only bit 63. */
static kiln_status *varint_at(const kiln_pb_reader *r, size_t *pos,
                              uint64_t *out) {
  *out = 0; /* defined on every path (gcc -O3 cannot see it otherwise) */
  uint64_t v = 0;
  size_t start = *pos;
  for (int shift = 0;; shift += 7) {
    if (*pos >= r->size)
      return malformed(r, start, "a varint runs past the end");
    uint8_t byte = r->data[(*pos)++];
    if (shift == 63 && tenth_byte_fault(byte))
      return malformed(r, start, tenth_byte_fault(byte));
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *out = v;
      return NULL;
    }
  }
}

kiln_status *kiln_pb_read_varint(kiln_pb_reader *r, uint64_t *out) {
  return varint_at(r, &r->pos, out);
}

kiln_status *kiln_pb_next(kiln_pb_reader *r, kiln_pb_field *f, bool *more) {
  *more = false;
  if (r->pos >= r->size) return NULL;
  memset(f, 0, sizeof *f);
  size_t at = r->pos;
  f->offset = r->base + at;
  uint64_t key;
  KILN_TRY(varint_at(r, &r->pos, &key));
  uint64_t number = key >> 3;
  f->wire_type = (int)(key & 7);
  if (number == 0 || number > 0x1fffffff)
    return malformed(r, at, "a field number is 0 or above 2^29-1");
  f->number = (uint32_t)number;
  switch (f->wire_type) {
    case KILN_PB_VARINT:
      KILN_TRY(varint_at(r, &r->pos, &f->value));
      break;
    case KILN_PB_I64:
    case KILN_PB_I32: {
      size_t n = f->wire_type == KILN_PB_I64 ? 8 : 4;
      if (r->size - r->pos < n)
        return malformed(r, at, "a fixed-size field runs past the end");
      uint64_t v = 0;
      for (size_t i = 0; i < n; i++)
        v |= (uint64_t)r->data[r->pos + i] << (8 * i);
      f->value = v;
      r->pos += n;
      break;
    }
    case KILN_PB_LEN: {
      uint64_t len;
      KILN_TRY(varint_at(r, &r->pos, &len));
      if (len > r->size - r->pos)
        return malformed(r, at, "a length-delimited field runs past the end");
      f->bytes = r->data + r->pos;
      f->len = (size_t)len;
      r->pos += (size_t)len;
      break;
    }
    default:
      return malformed(r, at,
                       f->wire_type == 3 || f->wire_type == 4
                           ? "groups (wire types 3 and 4) are not read"
                           : "an unknown wire type");
  }
  *more = true;
  return NULL;
}

kiln_pb_reader kiln_pb_nested(const kiln_pb_reader *r, const kiln_pb_field *f,
                              const char *what) {
  kiln_pb_reader n = {f->bytes, f->len, 0, r->base, what ? what : r->what};
  /* Only a LEN field has bytes; subtracting a null pointer is undefined. */
  if (f->bytes)
    n.base += (size_t)(f->bytes - r->data);
  else
    n.size = 0;
  return n;
}

static kiln_status *wrong_type(const kiln_pb_reader *r, const kiln_pb_field *f,
                               const char *want) {
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: field %u at byte offset %zu has wire type %d; %s "
                    "expected",
                    r->what, f->number, f->offset, f->wire_type, want);
}

kiln_status *kiln_pb_uint64(const kiln_pb_reader *r, const kiln_pb_field *f,
                            uint64_t *out) {
  if (f->wire_type != KILN_PB_VARINT) return wrong_type(r, f, "a varint");
  *out = f->value;
  return NULL;
}

kiln_status *kiln_pb_int64(const kiln_pb_reader *r, const kiln_pb_field *f,
                           int64_t *out) {
  uint64_t v;
  KILN_TRY(kiln_pb_uint64(r, f, &v));
  *out = (int64_t)v;
  return NULL;
}

kiln_status *kiln_pb_int32(const kiln_pb_reader *r, const kiln_pb_field *f,
                           int32_t *out) {
  int64_t v;
  KILN_TRY(kiln_pb_int64(r, f, &v));
  if (v < INT32_MIN || v > INT32_MAX)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: field %u at byte offset %zu holds %lld, outside "
                      "int32",
                      r->what, f->number, f->offset, (long long)v);
  *out = (int32_t)v;
  return NULL;
}

kiln_status *kiln_pb_bool(const kiln_pb_reader *r, const kiln_pb_field *f,
                          bool *out) {
  uint64_t v;
  KILN_TRY(kiln_pb_uint64(r, f, &v));
  *out = v != 0;
  return NULL;
}

kiln_status *kiln_pb_float(const kiln_pb_reader *r, const kiln_pb_field *f,
                           float *out) {
  if (f->wire_type != KILN_PB_I32) return wrong_type(r, f, "a 32-bit value");
  uint32_t bits = (uint32_t)f->value;
  memcpy(out, &bits, sizeof *out);
  return NULL;
}

kiln_status *kiln_pb_double(const kiln_pb_reader *r, const kiln_pb_field *f,
                            double *out) {
  if (f->wire_type != KILN_PB_I64) return wrong_type(r, f, "a 64-bit value");
  memcpy(out, &f->value, sizeof *out);
  return NULL;
}

kiln_status *kiln_pb_bytes(const kiln_pb_reader *r, const kiln_pb_field *f,
                           const uint8_t **out, size_t *out_len) {
  if (f->wire_type != KILN_PB_LEN)
    return wrong_type(r, f, "a length-delimited value");
  *out = f->bytes;
  *out_len = f->len;
  return NULL;
}

kiln_status *kiln_pb_packed_varints(const kiln_pb_reader *r,
                                    const kiln_pb_field *f, size_t *count) {
  if (f->wire_type != KILN_PB_LEN)
    return wrong_type(r, f, "a packed repeated value");
  /* Counting checks each varint as kiln_pb_read_varint will (at most 10
   * bytes, the 10th only bit 63), so the count is exactly what reading
   * gives and an array sized by it is filled without an error half way. */
  size_t n = 0, run = 0; /* run: bytes so far of the current varint */
  for (size_t i = 0; i < f->len; i++) {
    uint8_t byte = f->bytes[i];
    if (run == 9 && tenth_byte_fault(byte))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: packed field %u: %s at byte offset %zu", r->what,
                        f->number, tenth_byte_fault(byte),
                        r->base + (size_t)(f->bytes - r->data) + i - 9);
    if (byte & 0x80) {
      run++;
    } else {
      n++;
      run = 0;
    }
  }
  if (run)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: packed field %u at byte offset %zu ends inside a "
                      "varint",
                      r->what, f->number, f->offset);
  *count = n;
  return NULL;
}

/* ------------------------------------------------------------ writing */

size_t kiln_pb_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static bool reserve(kiln_pb_writer *w, size_t more) {
  if (w->failed) return false;
  if (more <= w->cap - w->len) return true;
  size_t cap = w->cap ? w->cap : 256;
  while (cap - w->len < more) {
    if (cap > SIZE_MAX / 2) {
      w->failed = true;
      return false;
    }
    cap *= 2;
  }
  uint8_t *grown = realloc(w->data, cap);
  if (!grown) {
    w->failed = true;
    return false;
  }
  w->data = grown;
  w->cap = cap;
  return true;
}

void kiln_pb_put_raw(kiln_pb_writer *w, const void *data, size_t len) {
  if (!len || !reserve(w, len)) return;
  memcpy(w->data + w->len, data, len);
  w->len += len;
}

void kiln_pb_put_varint(kiln_pb_writer *w, uint64_t v) {
  if (!reserve(w, 10)) return;
  while (v >= 0x80) {
    w->data[w->len++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  w->data[w->len++] = (uint8_t)v;
}

void kiln_pb_put_key(kiln_pb_writer *w, uint32_t number, int wire_type) {
  kiln_pb_put_varint(w, (uint64_t)number << 3 | (uint64_t)wire_type);
}

void kiln_pb_put_uint64(kiln_pb_writer *w, uint32_t number, uint64_t v) {
  kiln_pb_put_key(w, number, KILN_PB_VARINT);
  kiln_pb_put_varint(w, v);
}

void kiln_pb_put_int64(kiln_pb_writer *w, uint32_t number, int64_t v) {
  kiln_pb_put_uint64(w, number, (uint64_t)v);
}

void kiln_pb_put_bool(kiln_pb_writer *w, uint32_t number, bool v) {
  kiln_pb_put_uint64(w, number, v ? 1 : 0);
}

static void put_le(kiln_pb_writer *w, uint64_t bits, size_t n) {
  uint8_t b[8];
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(bits >> (8 * i));
  kiln_pb_put_raw(w, b, n);
}

void kiln_pb_put_float(kiln_pb_writer *w, uint32_t number, float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  kiln_pb_put_key(w, number, KILN_PB_I32);
  put_le(w, bits, 4);
}

void kiln_pb_put_double(kiln_pb_writer *w, uint32_t number, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  kiln_pb_put_key(w, number, KILN_PB_I64);
  put_le(w, bits, 8);
}

void kiln_pb_put_bytes(kiln_pb_writer *w, uint32_t number, const void *data,
                       size_t len) {
  kiln_pb_put_key(w, number, KILN_PB_LEN);
  kiln_pb_put_varint(w, len);
  kiln_pb_put_raw(w, data, len);
}

void kiln_pb_put_string(kiln_pb_writer *w, uint32_t number, const char *s) {
  kiln_pb_put_bytes(w, number, s, strlen(s));
}

/* The mark is where the body starts; one byte is held for the length. */
size_t kiln_pb_begin(kiln_pb_writer *w, uint32_t number) {
  kiln_pb_put_key(w, number, KILN_PB_LEN);
  if (reserve(w, 1)) w->data[w->len++] = 0;
  return w->len;
}

void kiln_pb_end(kiln_pb_writer *w, size_t mark) {
  if (w->failed || mark == 0 || mark > w->len) return;
  size_t body = w->len - mark;
  size_t need = kiln_pb_varint_size(body);
  if (need > 1) {
    if (!reserve(w, need - 1)) return;
    memmove(w->data + mark + need - 1, w->data + mark, body);
    w->len += need - 1;
  }
  uint8_t *at = w->data + mark - 1;
  uint64_t v = body;
  while (v >= 0x80) {
    *at++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *at = (uint8_t)v;
}

void kiln_pb_writer_free(kiln_pb_writer *w) {
  free(w->data);
  memset(w, 0, sizeof *w);
}
