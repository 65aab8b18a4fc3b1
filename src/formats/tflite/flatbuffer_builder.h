/* flatbuffer_builder.h - writes FlatBuffers (the format of .tflite files),
 * the counterpart of flatbuffer.h's reader, for the TFLite writer.
 *
 * Objects are written back to front, children before their parents, as
 * FlatBuffers' own builder does: a reference to an object is its distance
 * from the end of the buffer, which stays valid as the buffer grows at the
 * front. Failures (out of memory, a buffer past FlatBuffers' 2 GiB limit, a
 * misused table) are sticky: every call after one does nothing, and
 * kiln_fbb_finish reports the first, so callers check once at the end. */
#ifndef KILN_FORMATS_FLATBUFFER_BUILDER_H
#define KILN_FORMATS_FLATBUFFER_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

/* The most fields (slots) one table may have: TFLite's widest table
 * (Operator) has 11; the StableHLO options have up to 20. */
#define KILN_FBB_MAX_SLOTS 48

/* A reference to a written object (0: none). */
typedef uint32_t kiln_fbb_ref;

typedef struct kiln_fbb {
  const kiln_allocator *alloc;
  uint8_t *buf;    /* the data occupies buf[cap - len, cap) */
  size_t cap, len; /* len < 2^31 always */
  size_t minalign; /* the largest alignment any object asked for */
  kiln_status *error;
  /* The open table, if any. */
  bool in_table;
  size_t table_start;                     /* len when it began */
  uint32_t field_ref[KILN_FBB_MAX_SLOTS]; /* 0: field absent */
  int num_slots;
  /* vtables written so far (references), for sharing identical ones */
  kiln_fbb_ref *vtables;
  size_t num_vtables, cap_vtables;
} kiln_fbb;

void kiln_fbb_init(kiln_fbb *b, const kiln_allocator *alloc);
/* Frees the buffer and any pending error. */
void kiln_fbb_release(kiln_fbb *b);

/* A string (UTF-8 bytes, NUL-terminated in the buffer as the format asks). */
kiln_fbb_ref kiln_fbb_string(kiln_fbb *b, const char *s);
/* A vector of `count` scalars of elem_size bytes each, given in
 * little-endian order already, with element 0 aligned to `align` (a power of
 * two; at least 4 is used). */
kiln_fbb_ref kiln_fbb_vector(kiln_fbb *b, const void *data, size_t count,
                             size_t elem_size, size_t align);
kiln_fbb_ref kiln_fbb_vector_i32(kiln_fbb *b, const int32_t *values,
                                 size_t count);
kiln_fbb_ref kiln_fbb_vector_i64(kiln_fbb *b, const int64_t *values,
                                 size_t count);
kiln_fbb_ref kiln_fbb_vector_f32(kiln_fbb *b, const float *values,
                                 size_t count);
/* A vector of references to tables or strings. */
kiln_fbb_ref kiln_fbb_ref_vector(kiln_fbb *b, const kiln_fbb_ref *refs,
                                 size_t count);

/* A table: start, add fields (each slot at most once, any order), end.
 * Objects the table refers to must be written before kiln_fbb_start. */
void kiln_fbb_start(kiln_fbb *b);
void kiln_fbb_add_u8(kiln_fbb *b, int slot, uint8_t value);
void kiln_fbb_add_i8(kiln_fbb *b, int slot, int8_t value);
void kiln_fbb_add_bool(kiln_fbb *b, int slot, bool value);
void kiln_fbb_add_i32(kiln_fbb *b, int slot, int32_t value);
void kiln_fbb_add_u32(kiln_fbb *b, int slot, uint32_t value);
void kiln_fbb_add_i64(kiln_fbb *b, int slot, int64_t value);
void kiln_fbb_add_u64(kiln_fbb *b, int slot, uint64_t value);
void kiln_fbb_add_f32(kiln_fbb *b, int slot, float value);
void kiln_fbb_add_ref(kiln_fbb *b, int slot, kiln_fbb_ref ref);
kiln_fbb_ref kiln_fbb_end(kiln_fbb *b);

/* Writes the root reference (and the 4-byte file identifier when not NULL)
 * and hands the finished buffer over: one block from the builder's
 * allocator, which the caller frees with kiln_free. The builder is left
 * empty. Returns the first failure of any call, if there was one. */
kiln_status *kiln_fbb_finish(kiln_fbb *b, kiln_fbb_ref root,
                             const char *identifier, void **out_bytes,
                             size_t *out_size);

#endif
