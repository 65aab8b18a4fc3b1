/* pb_wire.h - the protocol buffers wire format, read and written without
 * a schema: the gRPC front decodes requests with it, and the ONNX and
 * SavedModel readers of later issues walk their files with it. Reading
 * never copies: a field's bytes point into the caller's buffer, and every
 * error names the byte offset (from the start of the outermost buffer)
 * where the damage is. Writing appends to a growable buffer.
 *
 * Wire facts (protobuf's encoding spec): a field is a varint key
 * (number << 3 | wire type); types 0 VARINT, 1 I64 (little-endian 8
 * bytes), 2 LEN (varint length, then bytes), 5 I32; 3 and 4 (groups) are
 * obsolete and refused here. Field numbers run 1 .. 2^29 - 1.
 *
 * Stricter than Google's parsers in two places, on purpose: a varint's
 * 10th byte may hold only bit 63 (Google drops any higher bits), and
 * kiln_pb_int32 refuses a value outside int32 (Google truncates, so a
 * 5-byte 0xffffffff reads as -1 there; its own writers always sign-extend
 * a negative int32 to 10 bytes). */
#ifndef KILN_FORMATS_PROTOBUF_PB_WIRE_H
#define KILN_FORMATS_PROTOBUF_PB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

enum {
  KILN_PB_VARINT = 0,
  KILN_PB_I64 = 1,
  KILN_PB_LEN = 2,
  KILN_PB_I32 = 5,
};

typedef struct kiln_pb_reader {
  const uint8_t *data;
  size_t size;
  size_t pos;
  size_t base;      /* offset of data[0] in the outermost buffer */
  const char *what; /* message name for errors ("PredictRequest") */
} kiln_pb_reader;

typedef struct kiln_pb_field {
  uint32_t number;
  int wire_type;
  uint64_t value;       /* VARINT, I64 and I32 (raw bits) */
  const uint8_t *bytes; /* LEN: its payload */
  size_t len;
  size_t offset; /* of the key, in the outermost buffer */
} kiln_pb_field;

/* A reader over size bytes; `what` names the message in errors. */
kiln_pb_reader kiln_pb_reader_make(const void *data, size_t size,
                                   const char *what);

/* Reads the next field into *f. Returns NULL with *more true, or NULL with
 * *more false at the end, or an INVALID_MODEL error naming the offset. */
kiln_status *kiln_pb_next(kiln_pb_reader *r, kiln_pb_field *f, bool *more);

/* A reader over a LEN field's payload (a nested message or a packed
 * repeated field), keeping offsets relative to the outermost buffer. */
kiln_pb_reader kiln_pb_nested(const kiln_pb_reader *r, const kiln_pb_field *f,
                              const char *what);

/* Values of a field, checked against its wire type (an error names the
 * field number and offset). */
kiln_status *kiln_pb_uint64(const kiln_pb_reader *r, const kiln_pb_field *f,
                            uint64_t *out);
kiln_status *kiln_pb_int64(const kiln_pb_reader *r, const kiln_pb_field *f,
                           int64_t *out); /* int64/int32 (two's complement) */
kiln_status *kiln_pb_int32(const kiln_pb_reader *r, const kiln_pb_field *f,
                           int32_t *out); /* refuses values outside int32 */
kiln_status *kiln_pb_bool(const kiln_pb_reader *r, const kiln_pb_field *f,
                          bool *out);
kiln_status *kiln_pb_float(const kiln_pb_reader *r, const kiln_pb_field *f,
                           float *out);
kiln_status *kiln_pb_double(const kiln_pb_reader *r, const kiln_pb_field *f,
                            double *out);
kiln_status *kiln_pb_bytes(const kiln_pb_reader *r, const kiln_pb_field *f,
                           const uint8_t **out, size_t *out_len);

/* Repeated scalars come packed (one LEN field) or one field each; both
 * are legal for the same field. These count and read the packed form:
 * elements of a packed varint payload, and its i-th-next value. Counting
 * checks every varint, so reading `count` values after it cannot fail. */
kiln_status *kiln_pb_packed_varints(const kiln_pb_reader *r,
                                    const kiln_pb_field *f, size_t *count);
/* Reads one varint from a nested reader (packed payloads). */
kiln_status *kiln_pb_read_varint(kiln_pb_reader *r, uint64_t *out);

/* Zigzag decoding (sint32/sint64). */
static inline int64_t kiln_pb_unzigzag(uint64_t v) {
  return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Zigzag encoding, for writing sint32/sint64: 0, -1, 1, -2 .. become
 * 0, 1, 2, 3 .. (shifted unsigned, so INT64_MIN is defined). */
static inline uint64_t kiln_pb_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

/* ------------------------------------------------------------ writing */

typedef struct kiln_pb_writer {
  uint8_t *data; /* malloc'd; the caller takes it when done */
  size_t len, cap;
  bool failed; /* an allocation failed: everything after is dropped */
} kiln_pb_writer;

/* Bytes a varint takes (1 .. 10). */
size_t kiln_pb_varint_size(uint64_t v);

void kiln_pb_put_raw(kiln_pb_writer *w, const void *data, size_t len);
void kiln_pb_put_varint(kiln_pb_writer *w, uint64_t v); /* bare, no key */
void kiln_pb_put_key(kiln_pb_writer *w, uint32_t number, int wire_type);
/* Whole fields: key and value. */
void kiln_pb_put_uint64(kiln_pb_writer *w, uint32_t number, uint64_t v);
void kiln_pb_put_int64(kiln_pb_writer *w, uint32_t number, int64_t v);
void kiln_pb_put_bool(kiln_pb_writer *w, uint32_t number, bool v);
void kiln_pb_put_float(kiln_pb_writer *w, uint32_t number, float v);
void kiln_pb_put_double(kiln_pb_writer *w, uint32_t number, double v);
void kiln_pb_put_bytes(kiln_pb_writer *w, uint32_t number, const void *data,
                       size_t len);
void kiln_pb_put_string(kiln_pb_writer *w, uint32_t number, const char *s);

/* A nested message whose length is not known yet: begin returns a mark,
 * end writes the length in front of what was put since (moving it when
 * the length needs more than one byte). Nest freely; for a large payload
 * whose size is known, put the key and length directly instead. */
size_t kiln_pb_begin(kiln_pb_writer *w, uint32_t number);
void kiln_pb_end(kiln_pb_writer *w, size_t mark);

/* Frees the buffer (a writer not taken). */
void kiln_pb_writer_free(kiln_pb_writer *w);

#endif
