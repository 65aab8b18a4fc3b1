/* flexbuffer.c - the FlexBuffers map reader of flexbuffer.h.
 *
 * The format, as the parts read here use it: a buffer ends with the root
 * value (byte_width bytes), the root's packed type and byte_width. A packed
 * type holds the type in its upper six bits and, in its low two, the width
 * (1 << bits) of what it points to. Offsets are unsigned and point
 * backwards: target = position of the offset - its value. A map's target
 * is its first value; before it lie the keys vector's offset, the keys'
 * width and the length (each one map-width wide); after the values come one
 * packed type per value. The keys vector holds offsets to NUL-terminated
 * strings, its length just before it. */
#include "formats/tflite/flexbuffer.h"

#include <string.h>

#include "core/status.h"

#define INVALID(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

enum {
  FLEX_NULL = 0,
  FLEX_INT = 1,
  FLEX_UINT = 2,
  FLEX_FLOAT = 3,
  FLEX_INDIRECT_INT = 6,
  FLEX_INDIRECT_UINT = 7,
  FLEX_INDIRECT_FLOAT = 8,
  FLEX_MAP = 9,
  FLEX_BOOL = 26,
};

static bool valid_width(uint64_t w) {
  return w == 1 || w == 2 || w == 4 || w == 8;
}

/* Little-endian unsigned of `width` bytes at pos, which must fit. */
static kiln_status *read_uint(const uint8_t *buf, size_t size, size_t pos,
                              unsigned width, uint64_t *out) {
  if (!valid_width(width) || pos > size || width > size - pos)
    return INVALID(
        "flexbuffer: %u bytes at offset %zu lie outside the %zu-byte "
        "buffer",
        width, pos, size);
  uint64_t v = 0;
  for (unsigned i = 0; i < width; i++) v |= (uint64_t)buf[pos + i] << (8 * i);
  *out = v;
  return NULL;
}

/* The position an offset at `pos` points to. */
static kiln_status *follow(const uint8_t *buf, size_t size, size_t pos,
                           unsigned width, size_t *out) {
  uint64_t offset = 0;
  KILN_TRY(read_uint(buf, size, pos, width, &offset));
  if (offset > pos)
    return INVALID(
        "flexbuffer: the offset %llu at byte %zu points before the buffer",
        (unsigned long long)offset, pos);
  *out = pos - (size_t)offset;
  return NULL;
}

/* A map whose first value is at `target`, values `width` bytes wide. */
static kiln_status *read_map(const uint8_t *buf, size_t size, size_t target,
                             unsigned width, kiln_flex_map *out) {
  uint64_t length = 0, key_width = 0, key_length = 0;
  if (target < 3 * (size_t)width)
    return INVALID("flexbuffer: the map at byte %zu has no room for its header",
                   target);
  KILN_TRY(read_uint(buf, size, target - width, width, &length));
  KILN_TRY(read_uint(buf, size, target - 2 * (size_t)width, width, &key_width));
  if (!valid_width(key_width))
    return INVALID("flexbuffer: the map at byte %zu has key width %llu", target,
                   (unsigned long long)key_width);
  if (length > (size - target) / (width + 1u))
    return INVALID(
        "flexbuffer: the map at byte %zu has %llu values, past the buffer's "
        "end",
        target, (unsigned long long)length);
  size_t keys = 0;
  KILN_TRY(follow(buf, size, target - 3 * (size_t)width, width, &keys));
  if (keys < key_width)
    return INVALID("flexbuffer: the map's keys at byte %zu have no length",
                   keys);
  KILN_TRY(read_uint(buf, size, keys - (size_t)key_width, (unsigned)key_width,
                     &key_length));
  if (key_length != length)
    return INVALID(
        "flexbuffer: the map at byte %zu has %llu values but %llu "
        "keys",
        target, (unsigned long long)length, (unsigned long long)key_length);
  if (length > (size - keys) / key_width)
    return INVALID("flexbuffer: the map's %llu keys run past the buffer",
                   (unsigned long long)length);
  out->buf = buf;
  out->size = size;
  out->values = target;
  out->keys = keys;
  out->length = length;
  out->width = width;
  out->key_width = (unsigned)key_width;
  return NULL;
}

kiln_status *kiln_flex_root_map(const void *data, size_t size,
                                kiln_flex_map *out) {
  const uint8_t *buf = data;
  memset(out, 0, sizeof *out);
  if (!buf || size < 3)
    return INVALID("flexbuffer: %zu bytes is too short for a root", size);
  unsigned width = buf[size - 1];
  uint8_t packed = buf[size - 2];
  if (!valid_width(width) || width > size - 2)
    return INVALID("flexbuffer: the root's byte width is %u", width);
  if (packed >> 2 != FLEX_MAP)
    return INVALID("flexbuffer: the root has type %u, not a map (%d)",
                   packed >> 2, FLEX_MAP);
  size_t root = size - 2 - width, target = 0;
  KILN_TRY(follow(buf, size, root, width, &target));
  return read_map(buf, size, target, 1u << (packed & 3), out);
}

/* Whether key slot i names `key` (the string must end inside the buffer). */
static kiln_status *key_matches(const kiln_flex_map *m, uint64_t i,
                                const char *key, bool *out) {
  size_t at = 0;
  KILN_TRY(follow(m->buf, m->size, m->keys + (size_t)i * m->key_width,
                  m->key_width, &at));
  const uint8_t *end = memchr(m->buf + at, 0, m->size - at);
  if (!end)
    return INVALID("flexbuffer: key %llu at byte %zu is not terminated",
                   (unsigned long long)i, at);
  *out = strcmp((const char *)m->buf + at, key) == 0;
  return NULL;
}

static kiln_status *read_number(const kiln_flex_map *m, uint64_t i,
                                const char *key, double *out) {
  size_t slot = m->values + (size_t)i * m->width;
  uint8_t packed = m->buf[m->values + (size_t)m->length * m->width + i];
  unsigned type = packed >> 2, width = m->width;
  size_t at = slot;
  if (type == FLEX_INDIRECT_INT || type == FLEX_INDIRECT_UINT ||
      type == FLEX_INDIRECT_FLOAT) {
    KILN_TRY(follow(m->buf, m->size, slot, m->width, &at));
    width = 1u << (packed & 3);
    type -= FLEX_INDIRECT_INT - FLEX_INT;
  }
  uint64_t bits = 0;
  KILN_TRY(read_uint(m->buf, m->size, at, width, &bits));
  switch (type) {
    case FLEX_INT: {
      /* Sign-extend from `width` bytes. */
      uint64_t sign = (uint64_t)1 << (8 * width - 1);
      *out = (double)(int64_t)((bits ^ sign) - sign);
      return NULL;
    }
    case FLEX_UINT:
    case FLEX_BOOL:
      *out = (double)bits;
      return NULL;
    case FLEX_FLOAT:
      if (width == 4) {
        float f;
        uint32_t b32 = (uint32_t)bits;
        memcpy(&f, &b32, 4);
        *out = f;
        return NULL;
      }
      if (width == 8) {
        memcpy(out, &bits, 8);
        return NULL;
      }
      return INVALID("flexbuffer: '%s' is a %u-byte float", key, width);
  }
  return INVALID("flexbuffer: '%s' has type %u, not a number", key, type);
}

kiln_status *kiln_flex_map_number(const kiln_flex_map *m, const char *key,
                                  bool *found, double *out) {
  *found = false;
  for (uint64_t i = 0; i < m->length; i++) {
    bool match = false;
    KILN_TRY(key_matches(m, i, key, &match));
    if (!match) continue;
    *found = true;
    return read_number(m, i, key, out);
  }
  return NULL;
}
