/* flatbuffer_builder.c - FlatBuffers writer (see flatbuffer_builder.h). */
#include "formats/tflite/flatbuffer_builder.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

/* FlatBuffers address with 32-bit offsets, signed for vtables: a buffer
 * stays below 2 GiB. */
#define FBB_MAX_SIZE ((size_t)0x7fffffff)

static void fail(kiln_fbb *b, kiln_status *st) {
  if (b->error)
    kiln_status_free(st);
  else
    b->error = st;
}

void kiln_fbb_init(kiln_fbb *b, const kiln_allocator *alloc) {
  memset(b, 0, sizeof *b);
  b->alloc = alloc;
  b->minalign = 1;
}

void kiln_fbb_release(kiln_fbb *b) {
  kiln_free(b->alloc, b->buf);
  kiln_free(b->alloc, b->vtables);
  kiln_status_free(b->error);
  const kiln_allocator *alloc = b->alloc;
  kiln_fbb_init(b, alloc);
}

/* Makes room for n more bytes in front of the data; false after any
 * failure. */
static bool reserve(kiln_fbb *b, size_t n) {
  if (b->error) return false;
  if (n > FBB_MAX_SIZE - b->len) {
    fail(b, kiln_error(KILN_ERR_UNSUPPORTED,
                       "the flatbuffer would exceed FlatBuffers' 2 GiB limit"));
    return false;
  }
  size_t need = b->len + n;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < need) cap = cap > FBB_MAX_SIZE ? need : cap * 2;
  uint8_t *grown = kiln_malloc(b->alloc, cap);
  if (!grown) {
    fail(b, KILN_OOM());
    return false;
  }
  if (b->len) memcpy(grown + cap - b->len, b->buf + b->cap - b->len, b->len);
  kiln_free(b->alloc, b->buf);
  b->buf = grown;
  b->cap = cap;
  return true;
}

static void push(kiln_fbb *b, const void *bytes, size_t n) {
  if (!n || !reserve(b, n)) return;
  b->len += n;
  memcpy(b->buf + b->cap - b->len, bytes, n);
}

static void push_zeros(kiln_fbb *b, size_t n) {
  if (!n || !reserve(b, n)) return;
  b->len += n;
  memset(b->buf + b->cap - b->len, 0, n);
}

static void push_le(kiln_fbb *b, uint64_t value, size_t n) {
  uint8_t bytes[8];
  for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)(value >> (8 * i));
  push(b, bytes, n);
}

/* Pads so that after `additional` more bytes the data is `align`-aligned
 * (align a power of two). */
static void align_for(kiln_fbb *b, size_t additional, size_t align) {
  if (align > b->minalign) b->minalign = align;
  size_t pad = (align - (b->len + additional % align) % align) % align;
  push_zeros(b, pad);
}

/* The reference of what was just written (0 after a failure). */
static kiln_fbb_ref here(const kiln_fbb *b) {
  return b->error ? 0 : (kiln_fbb_ref)b->len;
}

/* Objects may not be written inside an open table: its fields would no
 * longer sit next to it. */
static bool outside_table(kiln_fbb *b, const char *what) {
  if (!b->in_table) return true;
  fail(b, kiln_error(KILN_ERR_INTERNAL,
                     "flatbuffer builder: a %s written inside a table", what));
  return false;
}

kiln_fbb_ref kiln_fbb_string(kiln_fbb *b, const char *s) {
  if (!outside_table(b, "string")) return 0;
  size_t n = strlen(s);
  if (n > FBB_MAX_SIZE) {
    fail(b, kiln_error(KILN_ERR_UNSUPPORTED, "a string of %zu bytes", n));
    return 0;
  }
  align_for(b, n + 1 + 4, 4);
  push_zeros(b, 1);
  push(b, s, n);
  push_le(b, n, 4);
  return here(b);
}

kiln_fbb_ref kiln_fbb_vector(kiln_fbb *b, const void *data, size_t count,
                             size_t elem_size, size_t align) {
  if (!outside_table(b, "vector")) return 0;
  if (elem_size && count > FBB_MAX_SIZE / elem_size) {
    fail(b, kiln_error(KILN_ERR_UNSUPPORTED,
                       "a vector of %zu elements of %zu bytes exceeds "
                       "FlatBuffers' 2 GiB limit",
                       count, elem_size));
    return 0;
  }
  size_t bytes = count * elem_size;
  if (align < 4) align = 4;
  /* element 0 aligned, and the length just before it aligned to 4 */
  align_for(b, bytes, align);
  push(b, data, bytes);
  push_le(b, count, 4);
  return here(b);
}

/* Scalars in little-endian order through a bounce buffer. */
static kiln_fbb_ref scalar_vector(kiln_fbb *b, const void *values, size_t count,
                                  size_t elem_size) {
  if (!outside_table(b, "vector")) return 0;
  if (!count) return kiln_fbb_vector(b, NULL, 0, elem_size, elem_size);
  uint8_t *bytes = kiln_calloc(b->alloc, count, elem_size);
  if (!bytes) {
    fail(b, KILN_OOM());
    return 0;
  }
  const uint8_t *in = values;
  for (size_t i = 0; i < count; i++) {
    uint64_t v = 0;
    if (elem_size == 4) {
      uint32_t w;
      memcpy(&w, in + 4 * i, 4);
      v = w;
    } else {
      memcpy(&v, in + 8 * i, 8);
    }
    for (size_t k = 0; k < elem_size; k++)
      bytes[i * elem_size + k] = (uint8_t)(v >> (8 * k));
  }
  kiln_fbb_ref ref = kiln_fbb_vector(b, bytes, count, elem_size, elem_size);
  kiln_free(b->alloc, bytes);
  return ref;
}

kiln_fbb_ref kiln_fbb_vector_i32(kiln_fbb *b, const int32_t *values,
                                 size_t count) {
  return scalar_vector(b, values, count, 4);
}

kiln_fbb_ref kiln_fbb_vector_i64(kiln_fbb *b, const int64_t *values,
                                 size_t count) {
  return scalar_vector(b, values, count, 8);
}

kiln_fbb_ref kiln_fbb_vector_f32(kiln_fbb *b, const float *values,
                                 size_t count) {
  return scalar_vector(b, values, count, 4);
}

/* A uoffset at the front pointing at `ref`: its distance from itself. */
static void push_ref(kiln_fbb *b, kiln_fbb_ref ref) {
  align_for(b, 4, 4);
  if (b->error) return;
  if (ref == 0 || ref > b->len) {
    fail(b, kiln_error(KILN_ERR_INTERNAL,
                       "flatbuffer builder: a reference to an object not "
                       "written yet"));
    return;
  }
  push_le(b, b->len + 4 - ref, 4);
}

kiln_fbb_ref kiln_fbb_ref_vector(kiln_fbb *b, const kiln_fbb_ref *refs,
                                 size_t count) {
  if (!outside_table(b, "vector")) return 0;
  if (count > FBB_MAX_SIZE / 4) {
    fail(b,
         kiln_error(KILN_ERR_UNSUPPORTED, "a vector of %zu references", count));
    return 0;
  }
  align_for(b, count * 4, 4);
  for (size_t i = count; i-- > 0;) push_ref(b, refs[i]);
  push_le(b, count, 4);
  return here(b);
}

void kiln_fbb_start(kiln_fbb *b) {
  if (!outside_table(b, "table")) return;
  b->in_table = true;
  b->table_start = b->len;
  memset(b->field_ref, 0, sizeof b->field_ref);
  b->num_slots = 0;
}

/* Checks that a field may go into the open table at `slot`. */
static bool field_ok(kiln_fbb *b, int slot) {
  if (b->error) return false;
  if (!b->in_table || slot < 0 || slot >= KILN_FBB_MAX_SLOTS ||
      b->field_ref[slot]) {
    fail(b, kiln_error(KILN_ERR_INTERNAL,
                       "flatbuffer builder: field slot %d added outside a "
                       "table, out of range or twice",
                       slot));
    return false;
  }
  return true;
}

static void field_done(kiln_fbb *b, int slot) {
  if (b->error) return;
  b->field_ref[slot] = (uint32_t)b->len;
  if (slot + 1 > b->num_slots) b->num_slots = slot + 1;
}

static void add_scalar(kiln_fbb *b, int slot, uint64_t value, size_t n) {
  if (!field_ok(b, slot)) return;
  align_for(b, n, n);
  push_le(b, value, n);
  field_done(b, slot);
}

void kiln_fbb_add_u8(kiln_fbb *b, int slot, uint8_t value) {
  add_scalar(b, slot, value, 1);
}

void kiln_fbb_add_i8(kiln_fbb *b, int slot, int8_t value) {
  add_scalar(b, slot, (uint8_t)value, 1);
}

void kiln_fbb_add_bool(kiln_fbb *b, int slot, bool value) {
  add_scalar(b, slot, value ? 1 : 0, 1);
}

void kiln_fbb_add_i32(kiln_fbb *b, int slot, int32_t value) {
  add_scalar(b, slot, (uint32_t)value, 4);
}

void kiln_fbb_add_u32(kiln_fbb *b, int slot, uint32_t value) {
  add_scalar(b, slot, value, 4);
}

void kiln_fbb_add_i64(kiln_fbb *b, int slot, int64_t value) {
  add_scalar(b, slot, (uint64_t)value, 8);
}

void kiln_fbb_add_u64(kiln_fbb *b, int slot, uint64_t value) {
  add_scalar(b, slot, value, 8);
}

void kiln_fbb_add_f32(kiln_fbb *b, int slot, float value) {
  uint32_t bits;
  memcpy(&bits, &value, 4);
  add_scalar(b, slot, bits, 4);
}

void kiln_fbb_add_ref(kiln_fbb *b, int slot, kiln_fbb_ref ref) {
  if (!field_ok(b, slot)) return;
  push_ref(b, ref);
  field_done(b, slot);
}

/* The vtable already written with exactly these bytes, or 0. */
static kiln_fbb_ref find_vtable(const kiln_fbb *b, const uint8_t *vt,
                                size_t size) {
  for (size_t i = 0; i < b->num_vtables; i++) {
    const uint8_t *old = b->buf + b->cap - b->vtables[i];
    if (old[0] == vt[0] && old[1] == vt[1] && memcmp(old, vt, size) == 0)
      return b->vtables[i];
  }
  return 0;
}

static void remember_vtable(kiln_fbb *b, kiln_fbb_ref ref) {
  if (b->num_vtables == b->cap_vtables) {
    size_t cap = b->cap_vtables ? b->cap_vtables * 2 : 16;
    kiln_fbb_ref *grown =
        kiln_realloc(b->alloc, b->vtables, cap * sizeof *grown);
    if (!grown) return; /* only sharing is lost */
    b->vtables = grown;
    b->cap_vtables = cap;
  }
  b->vtables[b->num_vtables++] = ref;
}

static void put_u16(uint8_t *p, size_t value) {
  p[0] = (uint8_t)value;
  p[1] = (uint8_t)(value >> 8);
}

kiln_fbb_ref kiln_fbb_end(kiln_fbb *b) {
  if (b->error) {
    b->in_table = false;
    return 0;
  }
  if (!b->in_table) {
    fail(b, kiln_error(KILN_ERR_INTERNAL,
                       "flatbuffer builder: a table ended that never began"));
    return 0;
  }
  /* the table begins with the signed offset to its vtable */
  align_for(b, 4, 4);
  push_zeros(b, 4);
  b->in_table = false;
  if (b->error) return 0;
  size_t table_ref = b->len;
  size_t object_size = table_ref - b->table_start;
  uint8_t vt[4 + 2 * KILN_FBB_MAX_SLOTS];
  size_t vt_size = 4 + 2 * (size_t)b->num_slots;
  if (object_size > 0xffff) {
    fail(b, kiln_error(KILN_ERR_UNSUPPORTED,
                       "a table's fields take %zu bytes; FlatBuffers allows "
                       "65535",
                       object_size));
    return 0;
  }
  put_u16(vt, vt_size);
  put_u16(vt + 2, object_size);
  for (int s = 0; s < b->num_slots; s++)
    put_u16(vt + 4 + 2 * s, b->field_ref[s] ? table_ref - b->field_ref[s] : 0);
  kiln_fbb_ref vtable = find_vtable(b, vt, vt_size);
  if (!vtable) {
    push(b, vt, vt_size);
    if (b->error) return 0;
    vtable = (kiln_fbb_ref)b->len;
    remember_vtable(b, vtable);
  }
  /* vtable address = table address - soffset; addresses are cap - ref */
  int64_t soffset = (int64_t)vtable - (int64_t)table_ref;
  uint32_t bits = (uint32_t)(int32_t)soffset;
  uint8_t *at = b->buf + b->cap - table_ref;
  for (int k = 0; k < 4; k++) at[k] = (uint8_t)(bits >> (8 * k));
  return (kiln_fbb_ref)table_ref;
}

kiln_status *kiln_fbb_finish(kiln_fbb *b, kiln_fbb_ref root,
                             const char *identifier, void **out_bytes,
                             size_t *out_size) {
  *out_bytes = NULL;
  *out_size = 0;
  outside_table(b, "root"); /* a table left open is an error to report */
  size_t id_len = identifier ? 4 : 0;
  if (!b->error) {
    align_for(b, 4 + id_len, b->minalign > 4 ? b->minalign : 4);
    if (identifier) push(b, identifier, 4);
    push_ref(b, root);
  }
  if (b->error) {
    kiln_status *st = b->error;
    b->error = NULL;
    kiln_fbb_release(b);
    return st;
  }
  /* hand over the buffer with the data moved to its front */
  uint8_t *bytes = b->buf;
  size_t len = b->len;
  memmove(bytes, bytes + b->cap - len, len);
  uint8_t *shrunk = kiln_realloc(b->alloc, bytes, len);
  if (shrunk) bytes = shrunk;
  b->buf = NULL;
  kiln_fbb_release(b);
  *out_bytes = bytes;
  *out_size = len;
  return NULL;
}
