/* leveldb_table.c - the checked walk over an uncompressed LevelDB table
 * (see leveldb_table.h). The index block is read with a cursor of its
 * own, and each data block it points to with a second cursor; each
 * cursor rebuilds its keys from the shared prefixes in a buffer of its
 * own, bounded by KILN_TABLE_MAX_KEY. */
#include "formats/savedmodel/leveldb_table.h"

#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/savedmodel/crc32c.h"

typedef struct key_buffer {
  uint8_t *data;
  size_t len, cap;
} key_buffer;

typedef struct block_cursor {
  const uint8_t *table;
  size_t table_size;
  const char *label;
  const char *what; /* "index block", "data block" */
  const kiln_allocator *allocator;
  size_t block;      /* offset of the block in the table */
  size_t end;        /* of its entries (where the restart array starts) */
  uint32_t restarts; /* count */
  uint32_t next_restart;
  size_t pos;
  key_buffer key;
  uint64_t *key_bytes; /* every key rebuilt so far, all cursors together */
  size_t key_offset;   /* of the current entry */
  const uint8_t *value;
  size_t value_len, value_offset;
} block_cursor;

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t load_le64(const uint8_t *p) {
  return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

/* A varint of at most `max_bytes` bytes (5 for varint32, 10 for varint64)
 * from table[*pos .. limit). */
static bool read_varint(const uint8_t *table, size_t *pos, size_t limit,
                        int max_bytes, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes && *pos < limit; i++) {
    uint8_t byte = table[(*pos)++];
    if (i == 9 && byte > 1) return false; /* past 64 bits */
    v |= (uint64_t)(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) {
      if (max_bytes == 5 && v > UINT32_MAX) return false;
      *out = v;
      return true;
    }
  }
  return false;
}

static int compare_keys(const uint8_t *a, size_t a_len, const uint8_t *b,
                        size_t b_len) {
  size_t n = a_len < b_len ? a_len : b_len;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return a_len < b_len ? -1 : a_len > b_len;
}

static kiln_status *key_reserve(key_buffer *k, const kiln_allocator *a,
                                size_t len) {
  if (len <= k->cap) return NULL;
  size_t cap = k->cap ? k->cap : 64;
  while (cap < len) cap *= 2;
  uint8_t *data = kiln_realloc(a, k->data, cap);
  if (!data) return KILN_OOM();
  k->data = data;
  k->cap = cap;
  return NULL;
}

/* A BlockHandle (varint64 offset, varint64 size) from table[*pos, limit). */
static kiln_status *read_handle(const block_cursor *c, size_t *pos,
                                size_t limit, const char *what,
                                uint64_t *offset, uint64_t *size) {
  size_t at = *pos;
  if (!read_varint(c->table, pos, limit, 10, offset) ||
      !read_varint(c->table, pos, limit, 10, size))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s handle at byte offset %zu is not two varints",
                      c->label, what, at);
  return NULL;
}

/* Checks the block at [offset, offset + size) and its trailer and points
 * the cursor at its first entry. */
static kiln_status *block_open(block_cursor *c, uint64_t offset, uint64_t size,
                               const char *what) {
  c->what = what;
  c->key.len = 0;
  if (offset > c->table_size || size > c->table_size - offset ||
      KILN_TABLE_TRAILER_SIZE > c->table_size - offset - size)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s handle (offset %llu, size %llu, and a %d-byte "
                      "trailer) runs past the end of the file (%zu bytes)",
                      c->label, what, (unsigned long long)offset,
                      (unsigned long long)size, KILN_TABLE_TRAILER_SIZE,
                      c->table_size);
  const uint8_t *block = c->table + offset;
  uint8_t type = block[size];
  uint32_t stored = kiln_crc32c_unmask(load_le32(block + size + 1));
  uint32_t actual = kiln_crc32c((const void *)block, (size_t)size + 1);
  if (stored != actual)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s at byte offset %llu: checksum mismatch (stored "
                      "0x%08x, computed 0x%08x): the file is damaged",
                      c->label, what, (unsigned long long)offset, stored,
                      actual);
  if (type != 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: %s at byte offset %llu is compressed (type %u%s); "
                      "kiln reads only uncompressed tables, as TensorFlow "
                      "writes them",
                      c->label, what, (unsigned long long)offset, type,
                      type == 1   ? ", Snappy"
                      : type == 2 ? ", Zstd"
                                  : "");
  if (size < 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s at byte offset %llu: %llu bytes, too short for "
                      "its restart count",
                      c->label, what, (unsigned long long)offset,
                      (unsigned long long)size);
  uint32_t restarts = load_le32(block + size - 4);
  if (restarts == 0 || restarts > (size - 4) / 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s at byte offset %llu: restart count %u %s",
                      c->label, what, (unsigned long long)offset, restarts,
                      restarts ? "past the block's end" : "(needs at least 1)");
  c->block = (size_t)offset;
  c->end = c->block + (size_t)size - 4 - 4 * (size_t)restarts;
  c->restarts = restarts;
  c->next_restart = 0;
  c->pos = c->block;
  /* Restart points: the first at 0, then increasing, all inside the
   * entries (an empty block has just the one at 0). */
  size_t entries = c->end - c->block;
  for (uint32_t i = 0; i < restarts; i++) {
    uint32_t point = load_le32(c->table + c->end + 4 * (size_t)i);
    bool ok = i == 0
                  ? point == 0
                  : point > load_le32(c->table + c->end + 4 * (size_t)i - 4) &&
                        point < entries;
    if (!ok)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: %s at byte offset %zu: restart point %u is %u, "
                        "out of order or past the entries (%zu bytes)",
                        c->label, what, c->block, i, point, entries);
  }
  return NULL;
}

/* The next entry into c->key / c->value; *more false at the block's end. */
static kiln_status *block_next(block_cursor *c, bool *more) {
  uint32_t point = c->next_restart < c->restarts
                       ? load_le32(c->table + c->end + 4 * c->next_restart)
                       : 0;
  if (c->pos == c->end) {
    /* Every restart point must have been an entry's start, except the
     * single one of an empty block. */
    if (c->next_restart < c->restarts && !(c->end == c->block))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: %s at byte offset %zu: restart point %u (%u) is "
                        "not at an entry's start",
                        c->label, c->what, c->block, c->next_restart, point);
    *more = false;
    return NULL;
  }
  size_t at = c->pos;
  uint64_t shared, unshared, value_len;
  if (!read_varint(c->table, &c->pos, c->end, 5, &shared) ||
      !read_varint(c->table, &c->pos, c->end, 5, &unshared) ||
      !read_varint(c->table, &c->pos, c->end, 5, &value_len))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s entry at byte offset %zu: its lengths are not "
                      "three varint32s inside the block",
                      c->label, c->what, at);
  if (c->next_restart < c->restarts && at - c->block >= point) {
    if (at - c->block > point)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: %s at byte offset %zu: restart point %u (%u) is "
                        "not at an entry's start",
                        c->label, c->what, c->block, c->next_restart, point);
    if (shared != 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: %s entry at byte offset %zu: a restart point, "
                        "but it shares %llu bytes with the key before",
                        c->label, c->what, at, (unsigned long long)shared);
    c->next_restart++;
  }
  if (shared > c->key.len)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s entry at byte offset %zu: shared prefix of %llu "
                      "bytes is longer than the previous key (%zu bytes)",
                      c->label, c->what, at, (unsigned long long)shared,
                      c->key.len);
  size_t left = c->end - c->pos;
  if (unshared > left || value_len > left - unshared)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s entry at byte offset %zu: key bytes (%llu) and "
                      "value (%llu) run past the block's entries",
                      c->label, c->what, at, (unsigned long long)unshared,
                      (unsigned long long)value_len);
  if (shared + unshared > KILN_TABLE_MAX_KEY)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s entry at byte offset %zu: key of %llu bytes, "
                      "longer than kiln accepts (%d)",
                      c->label, c->what, at,
                      (unsigned long long)(shared + unshared),
                      KILN_TABLE_MAX_KEY);
  /* The walk copies and compares whole keys, so long shared prefixes
   * repeated entry after entry would cost far more than the file. */
  *c->key_bytes += shared + unshared;
  if (*c->key_bytes > KILN_TABLE_KEY_BYTES_PER_BYTE * (uint64_t)c->table_size +
                          KILN_TABLE_MAX_KEY)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s entry at byte offset %zu: the keys so far hold "
                      "%llu bytes, implausibly many for a %zu-byte table",
                      c->label, c->what, at, (unsigned long long)*c->key_bytes,
                      c->table_size);
  KILN_TRY(key_reserve(&c->key, c->allocator, (size_t)(shared + unshared)));
  if (unshared)
    memcpy(c->key.data + shared, c->table + c->pos, (size_t)unshared);
  c->key.len = (size_t)(shared + unshared);
  c->key_offset = at;
  c->pos += (size_t)unshared;
  c->value = c->table + c->pos;
  c->value_len = (size_t)value_len;
  c->value_offset = c->pos;
  c->pos += (size_t)value_len;
  *more = true;
  return NULL;
}

typedef struct walk_state {
  block_cursor index, data;
  key_buffer last; /* the last data key seen */
  bool have_last;
  key_buffer separator; /* the previous index key */
  bool have_separator;
  /* Where the next data block may start: LevelDB writes them one after
   * another, and holding files to that keeps a hostile index from
   * pointing many entries at one large block (a checksum each time). */
  uint64_t next_data;
} walk_state;

static kiln_status *copy_key(key_buffer *to, const kiln_allocator *a,
                             const key_buffer *from) {
  KILN_TRY(key_reserve(to, a, from->len));
  if (from->len) memcpy(to->data, from->data, from->len);
  to->len = from->len;
  return NULL;
}

/* The data block the current index entry points to, entry by entry. */
static kiln_status *walk_data_block(walk_state *w, kiln_table_visit visit,
                                    void *context) {
  block_cursor *ix = &w->index, *d = &w->data;
  size_t pos = ix->value_offset, limit = ix->value_offset + ix->value_len;
  uint64_t offset, size;
  KILN_TRY(read_handle(ix, &pos, limit, "data block", &offset, &size));
  if (pos != limit)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: index entry at byte offset %zu: %zu bytes after "
                      "its block handle",
                      ix->label, ix->key_offset, limit - pos);
  if (offset < w->next_data)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: index entry at byte offset %zu: data block at "
                      "byte offset %llu overlaps or precedes the block "
                      "before (which ends at %llu)",
                      ix->label, ix->key_offset, (unsigned long long)offset,
                      (unsigned long long)w->next_data);
  KILN_TRY(block_open(d, offset, size, "data block"));
  w->next_data = offset + size + KILN_TABLE_TRAILER_SIZE;
  for (;;) {
    bool more = false;
    KILN_TRY(block_next(d, &more));
    if (!more) return NULL;
    if (w->have_last &&
        compare_keys(d->key.data, d->key.len, w->last.data, w->last.len) <= 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: data block entry at byte offset %zu: key is not "
                        "greater than the key before (keys must be strictly "
                        "increasing)",
                        d->label, d->key_offset);
    if (compare_keys(d->key.data, d->key.len, ix->key.data, ix->key.len) > 0 ||
        (w->have_separator &&
         compare_keys(d->key.data, d->key.len, w->separator.data,
                      w->separator.len) <= 0))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: data block entry at byte offset %zu: key lies "
                        "outside its block's range in the index (index entry "
                        "at byte offset %zu)",
                        d->label, d->key_offset, ix->key_offset);
    KILN_TRY(copy_key(&w->last, ix->allocator, &d->key));
    w->have_last = true;
    KILN_TRY(visit(context, d->key.data, d->key.len, d->key_offset, d->value,
                   d->value_len, d->value_offset));
  }
}

static kiln_status *walk(walk_state *w, kiln_table_visit visit, void *context) {
  block_cursor *ix = &w->index;
  if (ix->table_size < KILN_TABLE_FOOTER_SIZE)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: truncated: %zu bytes, shorter than a table's "
                      "%d-byte footer",
                      ix->label, ix->table_size, KILN_TABLE_FOOTER_SIZE);
  size_t footer = ix->table_size - KILN_TABLE_FOOTER_SIZE;
  uint64_t magic = load_le64(ix->table + ix->table_size - 8);
  if (magic != KILN_TABLE_MAGIC)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: footer at byte offset %zu: magic 0x%016llx is not "
                      "a LevelDB table's (0x%016llx); truncated or not a "
                      "TensorBundle index",
                      ix->label, footer, (unsigned long long)magic,
                      (unsigned long long)KILN_TABLE_MAGIC);
  size_t pos = footer, limit = footer + 40;
  uint64_t meta_offset, meta_size, index_offset, index_size;
  KILN_TRY(read_handle(ix, &pos, limit, "footer's metaindex", &meta_offset,
                       &meta_size));
  KILN_TRY(read_handle(ix, &pos, limit, "footer's index", &index_offset,
                       &index_size));
  /* The metaindex block (TensorFlow leaves it empty) is checked, not used. */
  KILN_TRY(block_open(&w->data, meta_offset, meta_size, "metaindex block"));
  for (bool more = true; more;) KILN_TRY(block_next(&w->data, &more));
  KILN_TRY(block_open(ix, index_offset, index_size, "index block"));
  for (;;) {
    bool more = false;
    KILN_TRY(block_next(ix, &more));
    if (!more) return NULL;
    if (w->have_separator &&
        compare_keys(ix->key.data, ix->key.len, w->separator.data,
                     w->separator.len) <= 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: index block entry at byte offset %zu: key is not "
                        "greater than the key before",
                        ix->label, ix->key_offset);
    KILN_TRY(walk_data_block(w, visit, context));
    KILN_TRY(copy_key(&w->separator, ix->allocator, &ix->key));
    w->have_separator = true;
  }
}

kiln_status *kiln_table_walk(const uint8_t *table, size_t size,
                             const char *label, const kiln_allocator *allocator,
                             kiln_table_visit visit, void *context) {
  walk_state w;
  memset(&w, 0, sizeof w);
  uint64_t key_bytes = 0;
  block_cursor base = {.table = table,
                       .table_size = size,
                       .label = label,
                       .allocator = allocator,
                       .key_bytes = &key_bytes};
  w.index = base;
  w.data = base;
  kiln_status *status = walk(&w, visit, context);
  kiln_free(allocator, w.index.key.data);
  kiln_free(allocator, w.data.key.data);
  kiln_free(allocator, w.last.data);
  kiln_free(allocator, w.separator.data);
  return status;
}
