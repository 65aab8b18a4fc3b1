/* tf_proto_internal.h - what the saved_model.pb reader's files share: the
 * arena every parsed array comes from, the repeated-scalar iterator (packed
 * and unpacked alike) and the message parsers tf_attr.c gives tf_proto.c.
 * Not for use outside src/formats/savedmodel/. */
#ifndef KILN_FORMATS_SAVEDMODEL_TF_PROTO_INTERNAL_H
#define KILN_FORMATS_SAVEDMODEL_TF_PROTO_INTERNAL_H

#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/tf_proto.h"

/* AttrValues nest through lists and NameAttrLists; deeper than this is
 * refused rather than recursed into (no real graph comes close). */
enum { TF_MAX_ATTR_DEPTH = 16 };

kiln_tf_arena *tf_arena_new(void);
void tf_arena_free(kiln_tf_arena *arena);
/* count zeroed elements of `size` bytes into *out (NULL when count is 0),
 * or an out-of-memory status. */
kiln_status *tf_arena_array(kiln_tf_arena *arena, size_t count, size_t size,
                            void **out);

/* Walks the values of one repeated scalar field of a message in order,
 * whether each occurrence is packed (LEN) or a single value of
 * `wire_type` (VARINT, I32 or I64); any other wire type, or a packed
 * payload that does not split into whole values, is an error naming the
 * field and offset. Raw values: varints as read, fixed ones as their
 * little-endian bits. */
typedef struct tf_scalars {
  kiln_pb_reader message;
  kiln_pb_reader packed;
  uint32_t number;
  int wire_type;
} tf_scalars;

tf_scalars tf_scalars_make(kiln_pb_reader message, uint32_t number,
                           int wire_type);
kiln_status *tf_scalars_next(tf_scalars *it, uint64_t *raw, bool *more);
/* How many values tf_scalars_next will give, checking them all. */
kiln_status *tf_scalars_count(kiln_pb_reader message, uint32_t number,
                              int wire_type, size_t *count);

/* How many times field `number` occurs in the message. */
kiln_status *tf_count_field(kiln_pb_reader message, uint32_t number,
                            size_t *count);

/* A string or bytes field as a view. */
kiln_status *tf_str(const kiln_pb_reader *r, const kiln_pb_field *f,
                    kiln_tf_str *out);
/* A message field as a nested reader named `what`. */
kiln_status *tf_message(const kiln_pb_reader *r, const kiln_pb_field *f,
                        const char *what, kiln_pb_reader *out);

/* Message parsers (tf_attr.c). */
kiln_status *tf_parse_shape(kiln_tf_arena *arena, kiln_pb_reader r,
                            kiln_tf_shape *out);
kiln_status *tf_parse_tensor(kiln_tf_arena *arena, kiln_pb_reader r,
                             kiln_tf_tensor *out);
/* A map<string, AttrValue> field `number` of message r, at AttrValue
 * nesting `depth`. */
kiln_status *tf_parse_attr_map(kiln_tf_arena *arena, kiln_pb_reader r,
                               uint32_t number, int depth, kiln_tf_attr **attrs,
                               size_t *count);

#endif
