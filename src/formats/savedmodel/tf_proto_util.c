/* tf_proto_util.c - the saved_model.pb reader's plumbing: the arena that
 * owns every parsed array (freed at once, so an error half way through a
 * parse leaks nothing), counting a field before its array is allocated,
 * and iterating a repeated scalar field whose values may come packed or
 * one field each. */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/savedmodel/tf_proto_internal.h"

/* Small arrays share 64 KiB chunks; a larger one gets a block of its own
 * (both on one list), so the waste stays under a chunk. */
enum { CHUNK_BYTES = 64 * 1024, OWN_BLOCK_BYTES = 8 * 1024 };

typedef struct arena_block {
  struct arena_block *next;
  _Alignas(16) unsigned char data[];
} arena_block;

struct kiln_tf_arena {
  arena_block *blocks;
  unsigned char *free_at; /* in the newest chunk */
  size_t free_left;
};

kiln_tf_arena *tf_arena_new(void) {
  return kiln_calloc(NULL, 1, sizeof(kiln_tf_arena));
}

void tf_arena_free(kiln_tf_arena *arena) {
  if (!arena) return;
  for (arena_block *b = arena->blocks; b;) {
    arena_block *next = b->next;
    kiln_free(NULL, b);
    b = next;
  }
  kiln_free(NULL, arena);
}

static void *new_block(kiln_tf_arena *arena, size_t bytes) {
  if (bytes > SIZE_MAX - sizeof(arena_block)) return NULL;
  arena_block *b = kiln_calloc(NULL, 1, sizeof(arena_block) + bytes);
  if (!b) return NULL;
  b->next = arena->blocks;
  arena->blocks = b;
  return b->data;
}

kiln_status *tf_arena_array(kiln_tf_arena *arena, size_t count, size_t size,
                            void **out) {
  *out = NULL;
  if (count == 0 || size == 0) return NULL;
  if (count > SIZE_MAX / size) return KILN_OOM();
  size_t bytes = (count * size + 15) & ~(size_t)15;
  if (bytes < count * size) return KILN_OOM();
  if (bytes >= OWN_BLOCK_BYTES) {
    *out = new_block(arena, bytes);
    return *out ? NULL : KILN_OOM();
  }
  if (arena->free_left < bytes) {
    unsigned char *chunk = new_block(arena, CHUNK_BYTES);
    if (!chunk) return KILN_OOM();
    arena->free_at = chunk;
    arena->free_left = CHUNK_BYTES;
  }
  *out = arena->free_at; /* zeroed by calloc, never handed out before */
  arena->free_at += bytes;
  arena->free_left -= bytes;
  return NULL;
}

tf_scalars tf_scalars_make(kiln_pb_reader message, uint32_t number,
                           int wire_type) {
  tf_scalars it;
  memset(&it, 0, sizeof it);
  it.message = message;
  it.number = number;
  it.wire_type = wire_type;
  return it;
}

static size_t fixed_width(int wire_type) {
  return wire_type == KILN_PB_I32 ? 4 : wire_type == KILN_PB_I64 ? 8 : 0;
}

/* The next value of the packed payload being read (it has one). */
static kiln_status *next_packed(tf_scalars *it, uint64_t *raw) {
  kiln_pb_reader *p = &it->packed;
  size_t width = fixed_width(it->wire_type);
  if (!width) return kiln_pb_read_varint(p, raw);
  if (p->size - p->pos < width)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: packed field %u holds a partial %zu-byte value at "
                      "byte offset %zu",
                      p->what, it->number, width, p->base + p->pos);
  uint64_t v = 0;
  for (size_t i = 0; i < width; i++)
    v |= (uint64_t)p->data[p->pos + i] << (8 * i);
  p->pos += width;
  *raw = v;
  return NULL;
}

kiln_status *tf_scalars_next(tf_scalars *it, uint64_t *raw, bool *more) {
  *more = false;
  for (;;) {
    if (it->packed.pos < it->packed.size) {
      KILN_TRY(next_packed(it, raw));
      *more = true;
      return NULL;
    }
    kiln_pb_field f;
    bool any;
    KILN_TRY(kiln_pb_next(&it->message, &f, &any));
    if (!any) return NULL;
    if (f.number != it->number) continue;
    if (f.wire_type == KILN_PB_LEN) {
      it->packed = kiln_pb_nested(&it->message, &f, it->message.what);
      continue;
    }
    if (f.wire_type != it->wire_type)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: field %u at byte offset %zu has wire type %d; "
                        "%d or packed (2) expected",
                        it->message.what, f.number, f.offset, f.wire_type,
                        it->wire_type);
    *raw = f.value;
    *more = true;
    return NULL;
  }
}

kiln_status *tf_scalars_count(kiln_pb_reader message, uint32_t number,
                              int wire_type, size_t *count) {
  *count = 0;
  tf_scalars it = tf_scalars_make(message, number, wire_type);
  for (;;) {
    uint64_t raw;
    bool more;
    KILN_TRY(tf_scalars_next(&it, &raw, &more));
    if (!more) return NULL;
    (*count)++;
  }
}

kiln_status *tf_count_field(kiln_pb_reader message, uint32_t number,
                            size_t *count) {
  *count = 0;
  for (;;) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(&message, &f, &more));
    if (!more) return NULL;
    if (f.number == number) (*count)++;
  }
}

kiln_status *tf_str(const kiln_pb_reader *r, const kiln_pb_field *f,
                    kiln_tf_str *out) {
  const uint8_t *bytes;
  size_t len;
  KILN_TRY(kiln_pb_bytes(r, f, &bytes, &len));
  out->data = (const char *)bytes;
  out->len = len;
  return NULL;
}

kiln_status *tf_message(const kiln_pb_reader *r, const kiln_pb_field *f,
                        const char *what, kiln_pb_reader *out) {
  const uint8_t *bytes;
  size_t len;
  KILN_TRY(kiln_pb_bytes(r, f, &bytes, &len));
  *out = kiln_pb_nested(r, f, what);
  return NULL;
}

bool kiln_tf_str_eq(kiln_tf_str s, const char *c) {
  size_t n = strlen(c);
  return s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}
