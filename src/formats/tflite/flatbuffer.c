/* flatbuffer.c - bounds-checked FlatBuffers reading (see flatbuffer.h). */
#include "formats/tflite/flatbuffer.h"

#include <string.h>

#include "core/status.h"

#define FB_ERROR(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

/* Little-endian bytes to an integer, one byte at a time so that neither
 * alignment nor host byte order matters. */
static uint64_t load_le(const uint8_t *p, size_t n) {
  uint64_t value = 0;
  for (size_t i = 0; i < n; i++) value |= (uint64_t)p[i] << (8 * i);
  return value;
}

static uint32_t load_u32(const kiln_fb *fb, size_t pos) {
  return (uint32_t)load_le(fb->buf + pos, 4);
}

static uint16_t load_u16(const kiln_fb *fb, size_t pos) {
  return (uint16_t)load_le(fb->buf + pos, 2);
}

/* Reinterprets bits without implementation-defined narrowing. */
static int32_t as_i32(uint32_t bits) {
  int32_t value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* Whether n bytes at pos lie inside the buffer, without overflow. */
static bool fits(const kiln_fb *fb, size_t pos, size_t n) {
  return pos <= fb->size && n <= fb->size - pos;
}

/* Follows the uoffset stored at `pos` (whose 4 bytes the caller checked). */
static kiln_status *follow(const kiln_fb *fb, size_t pos, size_t *out) {
  *out = 0;
  uint32_t offset = load_u32(fb, pos);
  if (offset > fb->size - pos)
    return FB_ERROR(
        "offset %u at byte %zu points past the end of the buffer (%zu bytes)",
        offset, pos, fb->size);
  *out = pos + offset;
  return NULL;
}

kiln_status *kiln_fb_root(const kiln_fb *fb, const char *name,
                          kiln_fb_table *out) {
  if (!fb->buf || fb->size < 8)
    return FB_ERROR("the buffer is too small for a flatbuffer (%zu bytes)",
                    fb->size);
  size_t pos;
  KILN_TRY(kiln_status_wrap(follow(fb, 0, &pos), "root table"));
  return kiln_fb_table_at(fb, pos, name, out);
}

/* Locates the vtable from the table's signed offset at `pos`. */
static kiln_status *find_vtable(const kiln_fb *fb, size_t pos, size_t *out) {
  *out = 0;
  int32_t soffset = as_i32(load_u32(fb, pos));
  /* vtable = pos - soffset, computed on magnitudes to avoid overflow. */
  if (soffset >= 0 && (size_t)soffset <= pos) {
    *out = pos - (size_t)soffset;
    return NULL;
  }
  if (soffset < 0) {
    uint64_t ahead = (uint64_t)(-(int64_t)soffset);
    if (ahead <= fb->size - pos) {
      *out = pos + (size_t)ahead;
      return NULL;
    }
  }
  return FB_ERROR("its vtable offset %d points outside the buffer (%zu bytes)",
                  soffset, fb->size);
}

static kiln_status *check_table(const kiln_fb *fb, size_t pos,
                                kiln_fb_table *out) {
  if (!fits(fb, pos, 4))
    return FB_ERROR("it starts past the end of the buffer (%zu bytes)",
                    fb->size);
  size_t vtable;
  KILN_TRY(find_vtable(fb, pos, &vtable));
  if (!fits(fb, vtable, 4))
    return FB_ERROR(
        "its vtable at byte %zu runs past the end of the buffer "
        "(%zu bytes)",
        vtable, fb->size);
  uint16_t vtable_size = load_u16(fb, vtable);
  uint16_t inline_size = load_u16(fb, vtable + 2);
  if (vtable_size < 4 || vtable_size % 2 != 0)
    return FB_ERROR("its vtable at byte %zu has a bad size (%u bytes)", vtable,
                    vtable_size);
  if (!fits(fb, vtable, vtable_size))
    return FB_ERROR(
        "its vtable at byte %zu (%u bytes) runs past the end of "
        "the buffer (%zu bytes)",
        vtable, vtable_size, fb->size);
  if (inline_size < 4 || !fits(fb, pos, inline_size))
    return FB_ERROR(
        "its inline size of %u bytes is below 4 or runs past the "
        "end of the buffer (%zu bytes)",
        inline_size, fb->size);
  out->pos = pos;
  out->vtable = vtable;
  out->vtable_size = vtable_size;
  out->inline_size = inline_size;
  return NULL;
}

kiln_status *kiln_fb_table_at(const kiln_fb *fb, size_t pos, const char *name,
                              kiln_fb_table *out) {
  kiln_fb_table_empty(fb, name, out);
  kiln_status *st = check_table(fb, pos, out);
  if (st) kiln_fb_table_empty(fb, name, out);
  return kiln_status_wrap(st, "%s table at byte %zu", name, pos);
}

void kiln_fb_table_empty(const kiln_fb *fb, const char *name,
                         kiln_fb_table *out) {
  memset(out, 0, sizeof *out);
  out->fb = fb;
  out->name = name;
}

/* The vtable entry of a field: its offset inside the table, 0 if absent. */
static uint16_t field_offset(const kiln_fb_table *t, int field) {
  if (field < 0 || t->vtable_size == 0) return 0;
  size_t entry = 4 + 2 * (size_t)field;
  if (entry + 2 > t->vtable_size) return 0;
  return load_u16(t->fb, t->vtable + entry);
}

bool kiln_fb_has_field(const kiln_fb_table *t, int field) {
  return field_offset(t, field) != 0;
}

/* Byte offset of a field's `size`-byte value, or 0 when absent (a present
 * field is never at byte 0: it lies past its table's 4-byte header). */
static kiln_status *field_pos(const kiln_fb_table *t, int field, size_t size,
                              size_t *out) {
  *out = 0;
  uint16_t offset = field_offset(t, field);
  if (offset == 0) return NULL;
  if (offset < 4 || size > t->inline_size || offset > t->inline_size - size)
    return FB_ERROR(
        "%s table at byte %zu: field %d (%zu bytes at table "
        "offset %u) lies outside the table's %u inline bytes",
        t->name, t->pos, field, size, offset, t->inline_size);
  *out = t->pos + offset;
  return NULL;
}

/* Reads a scalar field's raw bits; *present tells whether it was there. */
static kiln_status *read_scalar(const kiln_fb_table *t, int field, size_t size,
                                uint64_t *bits, bool *present) {
  size_t pos;
  KILN_TRY(field_pos(t, field, size, &pos));
  *present = pos != 0;
  *bits = pos ? load_le(t->fb->buf + pos, size) : 0;
  return NULL;
}

kiln_status *kiln_fb_bool(const kiln_fb_table *t, int field, bool def,
                          bool *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 1, &bits, &present));
  *out = present ? bits != 0 : def;
  return NULL;
}

kiln_status *kiln_fb_i8(const kiln_fb_table *t, int field, int8_t def,
                        int8_t *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 1, &bits, &present));
  uint8_t byte = (uint8_t)bits;
  int8_t value;
  memcpy(&value, &byte, 1);
  *out = present ? value : def;
  return NULL;
}

kiln_status *kiln_fb_u8(const kiln_fb_table *t, int field, uint8_t def,
                        uint8_t *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 1, &bits, &present));
  *out = present ? (uint8_t)bits : def;
  return NULL;
}

kiln_status *kiln_fb_i32(const kiln_fb_table *t, int field, int32_t def,
                         int32_t *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 4, &bits, &present));
  *out = present ? as_i32((uint32_t)bits) : def;
  return NULL;
}

kiln_status *kiln_fb_u32(const kiln_fb_table *t, int field, uint32_t def,
                         uint32_t *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 4, &bits, &present));
  *out = present ? (uint32_t)bits : def;
  return NULL;
}

kiln_status *kiln_fb_u64(const kiln_fb_table *t, int field, uint64_t def,
                         uint64_t *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 8, &bits, &present));
  *out = present ? bits : def;
  return NULL;
}

kiln_status *kiln_fb_f32(const kiln_fb_table *t, int field, float def,
                         float *out) {
  uint64_t bits;
  bool present;
  KILN_TRY(read_scalar(t, field, 4, &bits, &present));
  uint32_t word = (uint32_t)bits;
  float value;
  memcpy(&value, &word, sizeof value);
  *out = present ? value : def;
  return NULL;
}

/* Follows an offset field; *out is 0 when the field is absent. */
static kiln_status *follow_field(const kiln_fb_table *t, int field,
                                 size_t *out) {
  size_t pos;
  *out = 0;
  KILN_TRY(field_pos(t, field, 4, &pos));
  if (!pos) return NULL;
  return kiln_status_wrap(follow(t->fb, pos, out),
                          "%s table at byte %zu: "
                          "field %d",
                          t->name, t->pos, field);
}

kiln_status *kiln_fb_table_field(const kiln_fb_table *t, int field,
                                 const char *name, kiln_fb_table *out,
                                 bool *present) {
  size_t pos;
  kiln_fb_table_empty(t->fb, name, out);
  if (present) *present = false;
  KILN_TRY(follow_field(t, field, &pos));
  if (!pos) return NULL;
  KILN_TRY(kiln_fb_table_at(t->fb, pos, name, out));
  if (present) *present = true;
  return NULL;
}

/* Checks the vector at `pos`: its length word and all of its elements. */
static kiln_status *check_vector(const kiln_fb *fb, size_t pos,
                                 size_t elem_size, kiln_fb_vector *out) {
  if (!fits(fb, pos, 4))
    return FB_ERROR(
        "vector at byte %zu: its length lies past the end of the "
        "buffer (%zu bytes)",
        pos, fb->size);
  uint32_t length = load_u32(fb, pos);
  /* Divide rather than multiply so a huge length cannot overflow. */
  if (elem_size == 0 || length > (fb->size - pos - 4) / elem_size)
    return FB_ERROR(
        "vector at byte %zu of %u elements of %zu bytes runs past "
        "the end of the buffer (%zu bytes)",
        pos, length, elem_size, fb->size);
  out->pos = pos + 4;
  out->length = length;
  return NULL;
}

kiln_status *kiln_fb_vector_field(const kiln_fb_table *t, int field,
                                  size_t elem_size, kiln_fb_vector *out,
                                  bool *present) {
  size_t pos;
  memset(out, 0, sizeof *out);
  out->fb = t->fb;
  out->elem_size = elem_size;
  if (present) *present = false;
  KILN_TRY(follow_field(t, field, &pos));
  if (!pos) return NULL;
  KILN_TRY(kiln_status_wrap(check_vector(t->fb, pos, elem_size, out),
                            "%s table at byte %zu: field %d", t->name, t->pos,
                            field));
  if (present) *present = true;
  return NULL;
}

static kiln_status *check_string(const kiln_fb *fb, size_t pos,
                                 const char **out) {
  if (!fits(fb, pos, 4))
    return FB_ERROR(
        "string at byte %zu: its length lies past the end of the "
        "buffer (%zu bytes)",
        pos, fb->size);
  uint32_t length = load_u32(fb, pos);
  /* length bytes plus the terminating NUL must fit. */
  if (length >= fb->size - pos - 4)
    return FB_ERROR(
        "string at byte %zu of %u bytes runs past the end of the "
        "buffer (%zu bytes)",
        pos, length, fb->size);
  if (fb->buf[pos + 4 + length] != 0)
    return FB_ERROR("string at byte %zu of %u bytes is not NUL-terminated", pos,
                    length);
  *out = (const char *)fb->buf + pos + 4;
  return NULL;
}

kiln_status *kiln_fb_string_field(const kiln_fb_table *t, int field,
                                  const char **out) {
  size_t pos = 0; /* set by follow_element; gcc -O3 cannot see it */
  *out = NULL;
  KILN_TRY(follow_field(t, field, &pos));
  if (!pos) return NULL;
  return kiln_status_wrap(check_string(t->fb, pos, out),
                          "%s table at byte %zu: field %d", t->name, t->pos,
                          field);
}

kiln_status *kiln_fb_union_field(const kiln_fb_table *t, int type_field,
                                 int value_field, const char *name,
                                 uint8_t *out_type, kiln_fb_table *out) {
  bool present = false;
  kiln_fb_table_empty(t->fb, name, out);
  KILN_TRY(kiln_fb_u8(t, type_field, 0, out_type));
  /* A NONE union carries nothing worth reading, whatever its value says. */
  if (*out_type != 0)
    KILN_TRY(kiln_fb_table_field(t, value_field, name, out, &present));
  if (!present) *out_type = 0;
  return NULL;
}

/* Byte offset of element i, or 0 when i is out of range. */
static size_t element_pos(const kiln_fb_vector *v, uint32_t i, size_t size) {
  if (i >= v->length || v->elem_size != size) return 0;
  return v->pos + (size_t)i * size;
}

uint8_t kiln_fb_vec_u8(const kiln_fb_vector *v, uint32_t i) {
  size_t pos = element_pos(v, i, 1);
  return pos ? v->fb->buf[pos] : 0;
}

int32_t kiln_fb_vec_i32(const kiln_fb_vector *v, uint32_t i) {
  size_t pos = element_pos(v, i, 4);
  return pos ? as_i32(load_u32(v->fb, pos)) : 0;
}

int64_t kiln_fb_vec_i64(const kiln_fb_vector *v, uint32_t i) {
  size_t pos = element_pos(v, i, 8);
  if (!pos) return 0;
  uint64_t bits = load_le(v->fb->buf + pos, 8);
  int64_t value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

float kiln_fb_vec_f32(const kiln_fb_vector *v, uint32_t i) {
  size_t pos = element_pos(v, i, 4);
  uint32_t bits = pos ? load_u32(v->fb, pos) : 0;
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

const uint8_t *kiln_fb_vec_data(const kiln_fb_vector *v) {
  return v->length ? v->fb->buf + v->pos : NULL;
}

/* Follows the offset in element i of a vector of tables or strings. */
static kiln_status *follow_element(const kiln_fb_vector *v, uint32_t i,
                                   size_t *out) {
  size_t pos = element_pos(v, i, 4);
  if (!pos)
    return kiln_error(KILN_ERR_INTERNAL,
                      "element %u of a %u-element vector of %zu-byte elements "
                      "read as an offset",
                      i, v->length, v->elem_size);
  return kiln_status_wrap(follow(v->fb, pos, out),
                          "vector at byte %zu: element %u", v->pos - 4, i);
}

kiln_status *kiln_fb_vec_table(const kiln_fb_vector *v, uint32_t i,
                               const char *name, kiln_fb_table *out) {
  size_t pos = 0; /* set by follow_element; gcc -O3 cannot see it */
  kiln_fb_table_empty(v->fb, name, out);
  KILN_TRY(follow_element(v, i, &pos));
  return kiln_fb_table_at(v->fb, pos, name, out);
}

kiln_status *kiln_fb_vec_string(const kiln_fb_vector *v, uint32_t i,
                                const char **out) {
  size_t pos = 0; /* set by follow_element; gcc -O3 cannot see it */
  *out = NULL;
  KILN_TRY(follow_element(v, i, &pos));
  return check_string(v->fb, pos, out);
}
