/* flatbuffer.h - a small, bounds-checked reader of FlatBuffers binaries.
 *
 * Model files come from anywhere, so every access here is checked against
 * the buffer: offsets, vtables, field sizes against the table's inline size,
 * vector and string extents. A failed check is a KILN_ERR_INVALID_MODEL
 * status naming the byte offset and what was being read; callers prefix
 * their own context (the file, the tensor). Reads decode little-endian bytes
 * one at a time, so nothing depends on alignment or host byte order. The
 * reader never recurses: callers walk a schema of fixed depth.
 *
 * Tables, vectors and strings are small handles into the buffer; the
 * kiln_fb they point to must outlive them. */
#ifndef KILN_FORMATS_TFLITE_FLATBUFFER_H
#define KILN_FORMATS_TFLITE_FLATBUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

typedef struct kiln_fb {
  const uint8_t *buf;
  size_t size;
} kiln_fb;

/* A table whose vtable has been checked. An absent table (vtable_size 0)
 * reads every field as its default. */
typedef struct kiln_fb_table {
  const kiln_fb *fb;
  const char *name; /* schema type for messages, e.g. "Tensor" */
  size_t pos;       /* byte offset of the table */
  size_t vtable;    /* byte offset of its vtable */
  uint16_t vtable_size;
  uint16_t inline_size;
} kiln_fb_table;

/* A vector whose extent lies inside the buffer. */
typedef struct kiln_fb_vector {
  const kiln_fb *fb;
  size_t pos; /* byte offset of element 0 */
  uint32_t length;
  size_t elem_size;
} kiln_fb_vector;

/* The root table (uoffset at byte 0). */
kiln_status *kiln_fb_root(const kiln_fb *fb, const char *name,
                          kiln_fb_table *out);
/* The table at byte `pos`. */
kiln_status *kiln_fb_table_at(const kiln_fb *fb, size_t pos, const char *name,
                              kiln_fb_table *out);
/* A table with no fields, for absent sub-tables. */
void kiln_fb_table_empty(const kiln_fb *fb, const char *name,
                         kiln_fb_table *out);

/* Whether the vtable lists `field` (slot N = vtable offset 4 + 2N). */
bool kiln_fb_has_field(const kiln_fb_table *t, int field);

/* Scalar fields: *out is `def` when the field is absent. */
kiln_status *kiln_fb_bool(const kiln_fb_table *t, int field, bool def,
                          bool *out);
kiln_status *kiln_fb_i8(const kiln_fb_table *t, int field, int8_t def,
                        int8_t *out);
kiln_status *kiln_fb_u8(const kiln_fb_table *t, int field, uint8_t def,
                        uint8_t *out);
kiln_status *kiln_fb_i32(const kiln_fb_table *t, int field, int32_t def,
                         int32_t *out);
kiln_status *kiln_fb_u32(const kiln_fb_table *t, int field, uint32_t def,
                         uint32_t *out);
kiln_status *kiln_fb_u64(const kiln_fb_table *t, int field, uint64_t def,
                         uint64_t *out);
kiln_status *kiln_fb_f32(const kiln_fb_table *t, int field, float def,
                         float *out);

/* A sub-table field; absent gives an empty table. `present` may be NULL. */
kiln_status *kiln_fb_table_field(const kiln_fb_table *t, int field,
                                 const char *name, kiln_fb_table *out,
                                 bool *present);
/* A vector field of `elem_size`-byte elements (scalars, or 4-byte offsets
 * for vectors of tables and strings); absent gives length 0. */
kiln_status *kiln_fb_vector_field(const kiln_fb_table *t, int field,
                                  size_t elem_size, kiln_fb_vector *out,
                                  bool *present);
/* A string field: NUL-terminated inside the buffer. Absent gives NULL. */
kiln_status *kiln_fb_string_field(const kiln_fb_table *t, int field,
                                  const char **out);
/* A union: its type field (u8) and value field (a table). A NONE type or a
 * missing value gives type 0 and an empty table. */
kiln_status *kiln_fb_union_field(const kiln_fb_table *t, int type_field,
                                 int value_field, const char *name,
                                 uint8_t *out_type, kiln_fb_table *out);

/* Elements of a checked vector; an index past the end reads 0. */
uint8_t kiln_fb_vec_u8(const kiln_fb_vector *v, uint32_t i);
int32_t kiln_fb_vec_i32(const kiln_fb_vector *v, uint32_t i);
int64_t kiln_fb_vec_i64(const kiln_fb_vector *v, uint32_t i);
float kiln_fb_vec_f32(const kiln_fb_vector *v, uint32_t i);
/* The bytes of a vector (element 0), for raw data such as weights. */
const uint8_t *kiln_fb_vec_data(const kiln_fb_vector *v);
/* Element i of a vector of tables or strings. */
kiln_status *kiln_fb_vec_table(const kiln_fb_vector *v, uint32_t i,
                               const char *name, kiln_fb_table *out);
kiln_status *kiln_fb_vec_string(const kiln_fb_vector *v, uint32_t i,
                                const char **out);

#endif
