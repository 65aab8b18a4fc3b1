/* test_tensor_bundle.c - the TensorBundle reader (formats/savedmodel/
 * tensor_bundle, leveldb_table and crc32c). CRC-32C is checked against
 * the published vectors (RFC 3720's) and a bitwise reference. Bundles are
 * built here, by a small LevelDB table writer of the test's own: random
 * tensors of every dtype kiln reads, spread over data blocks and shards,
 * read back from memory and from files; then each format rule is broken
 * in turn (footer, magic, handles, restart points, block checksums,
 * prefixes, key order, the header, entries, shards, data checksums) and
 * the error must say what and where.
 *
 *   test_tensor_bundle --dump PREFIX   prints the bundle as one JSON object
 *   (name, dtypes, shape, the unmasked CRC-32C the index holds and the
 *   bytes in hex of every tensor), for
 *   tests/e2e/test_tensor_bundle.py. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/crc32c.h"
#include "formats/savedmodel/leveldb_table.h"
#include "formats/savedmodel/tensor_bundle.h"
#include "harness.h"

/* ------------------------------------------------------------- crc32c */

static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
  }
  return ~c;
}

static void test_crc32c(void) {
  CHECK(kiln_crc32c("123456789", 9) == 0xE3069283u);
  CHECK(kiln_crc32c("", 0) == 0);
  uint8_t buf[64];
  memset(buf, 0, 32);
  CHECK(kiln_crc32c(buf, 32) == 0x8A9136AAu); /* RFC 3720 B.4 */
  memset(buf, 0xff, 32);
  CHECK(kiln_crc32c(buf, 32) == 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
  CHECK(kiln_crc32c(buf, 32) == 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
  CHECK(kiln_crc32c(buf, 32) == 0x113FDB5Cu);
  /* Random lengths and split points against the bitwise reference. */
  uint8_t data[300];
  for (int trial = 0; trial < 200; trial++) {
    size_t n = (size_t)kiln_test_int(0, 300);
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)kiln_test_rand();
    size_t cut = (size_t)kiln_test_int(0, (int)n);
    uint32_t whole = kiln_crc32c(data, n);
    CHECK(whole == crc_bitwise(data, n));
    CHECK(kiln_crc32c_extend(kiln_crc32c(data, cut), data + cut, n - cut) ==
          whole);
    CHECK(kiln_crc32c_unmask(kiln_crc32c_mask(whole)) == whole);
    CHECK(kiln_crc32c_mask(whole) != whole || whole == 0xffffffffu);
  }
  /* LevelDB's mask of crc32c("123456789"): rotate right 15, add. */
  uint32_t c = 0xE3069283u;
  CHECK(kiln_crc32c_mask(c) == ((c >> 15 | c << 17) + 0xa282ead8u));
}

/* ------------------------------------------------- a LevelDB writer */

typedef struct {
  const char *key;
  size_t key_len; /* 0: strlen(key) */
  const uint8_t *value;
  size_t value_len;
} kv;

/* Ways to damage the table as it is written (applied to data block 0
 * before its checksum unless said otherwise). */
typedef struct {
  int restart_interval;   /* 0: 2 */
  int per_block;          /* entries per data block; 0: 3 */
  uint32_t restart_count; /* nonzero: written instead of the real count */
  bool flip_crc;          /* damage the block's checksum itself */
  uint8_t compression;
  int force_shared_at;   /* entry index (in block 0) whose shared length ... */
  uint32_t force_shared; /* ... is this (with the key bytes following) */
  uint64_t index_size_add; /* added to the footer's index handle size */
  bool short_separator;    /* block 0's index key below its last key */
  bool bad_restart_point;  /* restart 1 points inside an entry */
  bool repeat_block;       /* index entry 1 points at data block 0 again */
} damage;

static size_t key_len(const kv *e) {
  return e->key_len ? e->key_len : strlen(e->key);
}

static void put_fixed32(kiln_pb_writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  kiln_pb_put_raw(w, b, 4);
}

/* One block of entries into w, with its trailer; *handle_offset/size get
 * where it went. */
static void put_block(kiln_pb_writer *w, const kv *entries, size_t n,
                      int interval, const damage *d, bool first,
                      uint64_t *offset, uint64_t *size) {
  size_t start = w->len;
  uint32_t restarts[256];
  uint32_t count = 0;
  const char *prev = "";
  size_t prev_len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = key_len(&entries[i]);
    size_t shared = 0;
    if (i % (size_t)interval == 0) {
      restarts[count++] = (uint32_t)(w->len - start);
    } else {
      while (shared < len && shared < prev_len &&
             prev[shared] == entries[i].key[shared])
        shared++;
    }
    if (first && d && d->force_shared_at == (int)i && d->force_shared)
      shared = d->force_shared;
    size_t unshared = len > shared ? len - shared : 0;
    kiln_pb_put_varint(w, shared);
    kiln_pb_put_varint(w, unshared);
    kiln_pb_put_varint(w, entries[i].value_len);
    kiln_pb_put_raw(w, entries[i].key + (len - unshared), unshared);
    kiln_pb_put_raw(w, entries[i].value, entries[i].value_len);
    prev = entries[i].key;
    prev_len = len;
  }
  if (count == 0) restarts[count++] = 0;
  if (first && d && d->bad_restart_point && count > 1) restarts[1] += 1;
  for (uint32_t i = 0; i < count; i++) put_fixed32(w, restarts[i]);
  put_fixed32(w, first && d && d->restart_count ? d->restart_count : count);
  *offset = start;
  *size = w->len - start;
  uint8_t type = first && d ? d->compression : 0;
  kiln_pb_put_raw(w, &type, 1);
  uint32_t crc = kiln_crc32c_mask(kiln_crc32c(w->data + start, w->len - start));
  if (first && d && d->flip_crc) crc ^= 1;
  put_fixed32(w, crc);
}

/* The whole table: data blocks, an empty metaindex, the index, footer. */
static kiln_pb_writer build_table(const kv *entries, size_t n,
                                  const damage *d) {
  int interval = d && d->restart_interval ? d->restart_interval : 2;
  size_t per_block = d && d->per_block ? (size_t)d->per_block : 3;
  kiln_pb_writer w = {0};
  kv index[64];
  uint8_t handles[64][20];
  size_t blocks = 0;
  for (size_t at = 0; at < n; at += per_block) {
    size_t m = n - at < per_block ? n - at : per_block;
    uint64_t offset, size;
    put_block(&w, entries + at, m, interval, d, at == 0, &offset, &size);
    kiln_pb_writer h = {0};
    kiln_pb_put_varint(&h, offset);
    kiln_pb_put_varint(&h, size);
    memcpy(handles[blocks], h.data, h.len);

    /* The separator: the block's last key (>= it, < the next block's). */
    const kv *last = &entries[at + m - 1];
    index[blocks] = (kv){last->key, key_len(last), handles[blocks], h.len};
    if (at == 0 && d && d->short_separator) index[blocks].key_len = 1;
    kiln_pb_writer_free(&h);
    blocks++;
  }
  if (d && d->repeat_block && blocks > 1) {
    memcpy(handles[1], handles[0], sizeof handles[0]);
    index[1].value_len = index[0].value_len;
  }
  uint64_t meta_offset, meta_size, index_offset, index_size;
  put_block(&w, NULL, 0, 1, NULL, false, &meta_offset, &meta_size);
  put_block(&w, index, blocks, 1, NULL, false, &index_offset, &index_size);
  size_t footer = w.len;
  kiln_pb_put_varint(&w, meta_offset);
  kiln_pb_put_varint(&w, meta_size);
  kiln_pb_put_varint(&w, index_offset);
  kiln_pb_put_varint(&w, index_size + (d ? d->index_size_add : 0));
  static const uint8_t zeros[40];
  kiln_pb_put_raw(&w, zeros, 40 - (w.len - footer));
  uint64_t magic = KILN_TABLE_MAGIC;
  put_fixed32(&w, (uint32_t)magic);
  put_fixed32(&w, (uint32_t)(magic >> 32));
  return w;
}

/* ------------------------------------------------- bundle contents */

typedef struct {
  const char *name;
  int tf_dtype;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  int shard;
  uint64_t offset, size;
  uint8_t data[512];
  /* damage */
  int64_t size_add;
  bool bad_crc, sliced, unknown_rank;
  int64_t first_dim_override; /* nonzero: written as dims[0] */
  int shard_override;         /* nonzero: written as shard_id */
  /* A scalar string: the checksum is TensorFlow's for strings (the length
   * as a uint32, then the bytes after the varint). */
  bool string_crc;
} tensor_spec;

static kiln_pb_writer header_value(int num_shards, int endianness,
                                   int min_consumer) {
  kiln_pb_writer w = {0};
  kiln_pb_put_int64(&w, 1, num_shards);
  if (endianness) kiln_pb_put_int64(&w, 2, endianness);
  size_t mark = kiln_pb_begin(&w, 3);
  kiln_pb_put_int64(&w, 1, 1);
  if (min_consumer) kiln_pb_put_int64(&w, 2, min_consumer);
  kiln_pb_end(&w, mark);
  return w;
}

static kiln_pb_writer entry_value(const tensor_spec *t) {
  kiln_pb_writer w = {0};
  kiln_pb_put_int64(&w, 1, t->tf_dtype);
  size_t shape = kiln_pb_begin(&w, 2);
  for (int i = 0; i < t->rank; i++) {
    size_t dim = kiln_pb_begin(&w, 2);
    kiln_pb_put_int64(
        &w, 1,
        i == 0 && t->first_dim_override ? t->first_dim_override : t->dims[i]);
    kiln_pb_end(&w, dim);
  }
  if (t->unknown_rank) kiln_pb_put_bool(&w, 3, true);
  kiln_pb_end(&w, shape);
  if (t->shard || t->shard_override)
    kiln_pb_put_int64(&w, 3, t->shard_override ? t->shard_override : t->shard);
  if (t->offset) kiln_pb_put_int64(&w, 4, (int64_t)t->offset);
  kiln_pb_put_int64(&w, 5, (int64_t)t->size + t->size_add);
  uint32_t crc = kiln_crc32c(t->data, (size_t)t->size);
  if (t->string_crc) {
    size_t pos = 0;
    uint32_t len = 0;
    for (int shift = 0; pos < t->size; shift += 7) {
      len |= (uint32_t)(t->data[pos] & 0x7f) << shift;
      if (!(t->data[pos++] & 0x80)) break;
    }
    uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                     (uint8_t)(len >> 24)};
    crc = kiln_crc32c_extend(kiln_crc32c(le, 4), t->data + pos,
                             (size_t)t->size - pos);
  }
  kiln_pb_put_key(&w, 6, KILN_PB_I32);
  put_fixed32(&w, kiln_crc32c_mask(crc) ^ (t->bad_crc ? 4u : 0u));
  if (t->sliced) {
    size_t slice = kiln_pb_begin(&w, 7);
    kiln_pb_end(&w, slice);
  }
  return w;
}

enum { MAX_TENSORS = 24, SHARDS = 2 };

typedef struct {
  tensor_spec tensors[MAX_TENSORS];
  size_t count;
  uint8_t shard_data[SHARDS][MAX_TENSORS * 512];
  size_t shard_size[SHARDS];
  kiln_pb_writer index;
} bundle_spec;

static const struct {
  int tf;
  kiln_dtype dtype;
} dtypes[] = {{1, KILN_FLOAT32},  {2, KILN_FLOAT64}, {3, KILN_INT32},
              {4, KILN_UINT8},    {5, KILN_INT16},   {6, KILN_INT8},
              {9, KILN_INT64},    {10, KILN_BOOL},   {17, KILN_UINT16},
              {19, KILN_FLOAT16}, {22, KILN_UINT32}, {23, KILN_UINT64},
              {8, KILN_COMPLEX64}};

static char names[MAX_TENSORS][48];

/* count random tensors with sorted names "t00", "t01" ... spread over
 * both shards. */
static void random_bundle(bundle_spec *b, size_t count) {
  kiln_pb_writer_free(&b->index);
  memset(b, 0, sizeof *b);
  b->count = count;
  for (size_t i = 0; i < count; i++) {
    tensor_spec *t = &b->tensors[i];
    snprintf(names[i], sizeof names[i], "model/layer%02zu/kernel", i);
    t->name = names[i];
    int which = kiln_test_int(0, (int)(sizeof dtypes / sizeof *dtypes) - 1);
    t->tf_dtype = dtypes[which].tf;
    t->dtype = dtypes[which].dtype;
    t->rank = kiln_test_int(0, 4);
    uint64_t numel = 1;
    for (int d = 0; d < t->rank; d++) {
      t->dims[d] = kiln_test_int(d == 0 ? 0 : 1, 3);
      numel *= (uint64_t)t->dims[d];
    }
    t->size = numel * kiln_dtype_size(t->dtype);
    for (uint64_t k = 0; k < t->size; k++)
      t->data[k] = t->dtype == KILN_BOOL ? (uint8_t)(kiln_test_rand() & 1)
                                         : (uint8_t)kiln_test_rand();
    t->shard = kiln_test_int(0, SHARDS - 1);
  }
}

/* Lays the tensors out in their shards and writes the index. */
static void finish_bundle(bundle_spec *b, int num_shards, int endianness,
                          const damage *d) {
  memset(b->shard_size, 0, sizeof b->shard_size);
  kiln_pb_writer values[MAX_TENSORS + 1];
  kv entries[MAX_TENSORS + 1];
  values[0] = header_value(num_shards, endianness, 0);
  entries[0] = (kv){"", 0, values[0].data, values[0].len};
  for (size_t i = 0; i < b->count; i++) {
    tensor_spec *t = &b->tensors[i];
    t->offset = b->shard_size[t->shard];
    memcpy(b->shard_data[t->shard] + t->offset, t->data, (size_t)t->size);
    b->shard_size[t->shard] += (size_t)t->size;
    values[i + 1] = entry_value(t);
    entries[i + 1] = (kv){t->name, 0, values[i + 1].data, values[i + 1].len};
  }
  kiln_pb_writer_free(&b->index);
  b->index = build_table(entries, b->count + 1, d);
  for (size_t i = 0; i <= b->count; i++) kiln_pb_writer_free(&values[i]);
}

static kiln_status *open_spec(const bundle_spec *b, int shards,
                              kiln_bundle **out) {
  kiln_bundle_shard s[SHARDS];
  for (int i = 0; i < SHARDS; i++)
    s[i] = (kiln_bundle_shard){b->shard_data[i], b->shard_size[i]};
  return kiln_bundle_open_memory(b->index.data, b->index.len, s, shards, NULL,
                                 out);
}

/* Every tensor is listed, found and read back as written. */
static void check_contents(const bundle_spec *b, const kiln_bundle *bundle) {
  CHECK(kiln_bundle_count(bundle) == b->count);
  for (size_t i = 0; i < b->count && i < kiln_bundle_count(bundle); i++) {
    const tensor_spec *t = &b->tensors[i];
    const kiln_bundle_entry *e = kiln_bundle_entry_at(bundle, i);
    CHECK(strcmp(e->name, t->name) == 0);
    CHECK(kiln_bundle_find(bundle, t->name) == e);
    CHECK(e->tf_dtype == t->tf_dtype && e->dtype == t->dtype);
    CHECK(e->refusal == NULL);
    CHECK(e->rank == t->rank);
    for (int d = 0; d < t->rank; d++) CHECK(e->dims[d] == t->dims[d]);
    CHECK(e->size == t->size && e->shard_id == t->shard);
    uint8_t got[512];
    CHECK_OK(kiln_bundle_read(bundle, e, got, (size_t)e->size));
    CHECK(memcmp(got, t->data, (size_t)t->size) == 0);
    if (e->size)
      CHECK_ERROR(kiln_bundle_read(bundle, e, got, (size_t)e->size - 1),
                  KILN_ERR_INVALID_ARGUMENT, "has");
  }
  CHECK(kiln_bundle_find(bundle, "model/absent") == NULL);
  CHECK(kiln_bundle_find(bundle, "") == NULL);
  CHECK(kiln_bundle_entry_at(bundle, b->count) == NULL);
}

static void test_round_trip(void) {
  static bundle_spec b;
  for (int trial = 0; trial < 30; trial++) {
    size_t count = (size_t)kiln_test_int(0, 20);
    random_bundle(&b, count);
    damage d = {.restart_interval = kiln_test_int(1, 4),
                .per_block = kiln_test_int(1, 6)};
    finish_bundle(&b, SHARDS, 0, &d);
    kiln_bundle *bundle = NULL;
    CHECK_OK(open_spec(&b, SHARDS, &bundle));
    if (bundle) check_contents(&b, bundle);
    kiln_bundle_free(bundle);
  }
  kiln_pb_writer_free(&b.index);
}

/* ------------------------------------------------- files */

static char temp_dir[64];

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  if (len) CHECK(fwrite(data, 1, len, f) == len);
  fclose(f);
}

static void test_files(void) {
  static bundle_spec b;
  random_bundle(&b, 8);
  b.tensors[7].tf_dtype = 1; /* a float tensor in shard 1, for truncation */
  b.tensors[7].dtype = KILN_FLOAT32;
  b.tensors[7].rank = 1;
  b.tensors[7].dims[0] = 4;
  b.tensors[7].size = 16;
  b.tensors[7].shard = 1;
  finish_bundle(&b, SHARDS, 0, NULL);
  char prefix[128], path[160], shard0[160], shard1[160];
  snprintf(prefix, sizeof prefix, "%s/variables", temp_dir);
  snprintf(path, sizeof path, "%s.index", prefix);
  snprintf(shard0, sizeof shard0, "%s.data-00000-of-00002", prefix);
  snprintf(shard1, sizeof shard1, "%s.data-00001-of-00002", prefix);
  write_file(path, b.index.data, b.index.len);
  write_file(shard0, b.shard_data[0], b.shard_size[0]);
  write_file(shard1, b.shard_data[1], b.shard_size[1]);
  kiln_bundle *bundle = NULL;
  CHECK_OK(kiln_bundle_open(prefix, NULL, &bundle));
  if (bundle) check_contents(&b, bundle);

  /* A byte of shard 1 changes after opening: the read says so. */
  b.shard_data[1][b.tensors[7].offset + 3] ^= 0x10;
  write_file(shard1, b.shard_data[1], b.shard_size[1]);
  float values[4];
  if (bundle)
    CHECK_ERROR(kiln_bundle_read(bundle, kiln_bundle_find(bundle, names[7]),
                                 values, sizeof values),
                KILN_ERR_INVALID_MODEL, "checksum mismatch");
  /* Truncated after opening: the read names the shard. */
  write_file(shard1, b.shard_data[1], b.shard_size[1] - 1);
  if (bundle)
    CHECK_ERROR(kiln_bundle_read(bundle, kiln_bundle_find(bundle, names[7]),
                                 values, sizeof values),
                KILN_ERR_INVALID_MODEL, "variables.data-00001-of-00002' has");
  kiln_bundle_free(bundle);
  /* ... and opening it now fails the same way. */
  CHECK_ERROR(kiln_bundle_open(prefix, NULL, &bundle), KILN_ERR_INVALID_MODEL,
              "truncated");
  CHECK(bundle == NULL);
  unlink(shard1);
  CHECK_ERROR(kiln_bundle_open(prefix, NULL, &bundle), KILN_ERR_IO,
              "variables.data-00001-of-00002");
  unlink(shard0);
  unlink(path);
  CHECK_ERROR(kiln_bundle_open(prefix, NULL, &bundle), KILN_ERR_IO,
              "variables.index");
  CHECK_ERROR(kiln_bundle_open(temp_dir, NULL, &bundle), KILN_ERR_IO,
              "cannot open");
  kiln_pb_writer_free(&b.index);
}

/* ------------------------------------------------- bad input */

/* A fresh small valid bundle: 5 float tensors over two shards. */
static void small_bundle(bundle_spec *b) {
  random_bundle(b, 5);
  for (size_t i = 0; i < b->count; i++) {
    tensor_spec *t = &b->tensors[i];
    t->tf_dtype = 1;
    t->dtype = KILN_FLOAT32;
    t->rank = 2;
    t->dims[0] = 2;
    t->dims[1] = 3;
    t->size = 24;
    t->shard = (int)(i % 2);
  }
}

static void expect_open_error(bundle_spec *b, const damage *d,
                              kiln_status_code code, const char *needle) {
  finish_bundle(b, SHARDS, 0, d);
  kiln_bundle *bundle = NULL;
  CHECK_ERROR(open_spec(b, SHARDS, &bundle), code, needle);
  CHECK(bundle == NULL);
  kiln_bundle_free(bundle);
}

static void test_table_damage(void) {
  static bundle_spec b;
  kiln_bundle *bundle = NULL;
  small_bundle(&b);
  finish_bundle(&b, SHARDS, 0, NULL);
  CHECK_OK(open_spec(&b, SHARDS, &bundle));
  kiln_bundle_free(bundle);
  bundle = NULL;
  kiln_bundle_shard none[1];
  /* Truncated: shorter than a footer, and cut anywhere (the magic moves). */
  CHECK_ERROR(kiln_bundle_open_memory(b.index.data, 47, none, 0, NULL, &bundle),
              KILN_ERR_INVALID_MODEL, "shorter than a table's 48-byte footer");
  CHECK_ERROR(kiln_bundle_open_memory(b.index.data, 0, none, 0, NULL, &bundle),
              KILN_ERR_INVALID_MODEL, "truncated");
  CHECK_ERROR(kiln_bundle_open_memory(b.index.data, b.index.len - 1, none, 0,
                                      NULL, &bundle),
              KILN_ERR_INVALID_MODEL, "magic");
  b.index.data[b.index.len - 1] ^= 0xff;
  CHECK_ERROR(open_spec(&b, SHARDS, &bundle), KILN_ERR_INVALID_MODEL,
              "is not a LevelDB table's");
  damage d = {.index_size_add = 1000};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                    "index block handle (offset");
  d = (damage){.restart_count = 9999};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                    "restart count 9999 past the block's end");
  d = (damage){.restart_count = 0xffffffffu};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL, "past the block's end");
  d = (damage){.flip_crc = true};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                    "data block at byte offset 0: checksum mismatch");
  d = (damage){.compression = 1};
  expect_open_error(&b, &d, KILN_ERR_UNSUPPORTED,
                    "compressed (type 1, Snappy)");
  /* Entry 1 of block 0 claims more shared bytes than the key before. */
  d = (damage){.restart_interval = 3, .force_shared_at = 2, .force_shared = 40};
  expect_open_error(
      &b, &d, KILN_ERR_INVALID_MODEL,
      "shared prefix of 40 bytes is longer than the previous key");
  /* A restart point with a shared prefix. */
  d = (damage){.restart_interval = 1, .force_shared_at = 2, .force_shared = 2};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL, "a restart point, but");
  d = (damage){.restart_interval = 1, .bad_restart_point = true};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                    "is not at an entry's start");
  d = (damage){.repeat_block = true};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                    "data block at byte offset 0 overlaps or precedes");
  d = (damage){.short_separator = true};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                    "outside its block's range");
  /* Keys out of order, within a block and across blocks. */
  for (int per_block = 2; per_block <= 6; per_block += 4) {
    small_bundle(&b);
    const char *swap = b.tensors[1].name;
    b.tensors[1].name = b.tensors[2].name;
    b.tensors[2].name = swap;
    d = (damage){.per_block = per_block};
    expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL,
                      per_block == 6 ? "strictly increasing" : "range");
  }
  /* Long keys sharing their prefixes, entry after entry: cheap in the
   * file, but the walk refuses to rebuild more than its bound. */
  {
    enum { LONG = 60000, COUNT = 200 };
    static char keys[COUNT][LONG + 8];
    static kv entries[COUNT + 1];
    kiln_pb_writer h = header_value(1, 0, 0);
    tensor_spec empty = {.tf_dtype = 1, .rank = 1};
    kiln_pb_writer v = entry_value(&empty);
    entries[0] = (kv){"", 0, h.data, h.len};
    for (int i = 0; i < COUNT; i++) {
      memset(keys[i], 'k', LONG);
      snprintf(keys[i] + LONG, 8, "%05d", i);
      entries[i + 1] = (kv){keys[i], 0, v.data, v.len};
    }
    damage wide = {.restart_interval = 250, .per_block = 250};
    kiln_pb_writer t = build_table(entries, COUNT + 1, &wide);
    /* One key whole in the data block, once in the index, the rest
     * short: 12 MB of keys in 124 KB, past 64 bytes a byte. */
    CHECK(t.len < 2 * LONG + 30 * COUNT);
    CHECK_ERROR(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle),
                KILN_ERR_INVALID_MODEL, "implausibly many for a");
    kiln_pb_writer_free(&t);
    /* A tenth as many open. */
    t = build_table(entries, COUNT / 10 + 1, &wide);
    CHECK_OK(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle));
    CHECK(kiln_bundle_count(bundle) == COUNT / 10);
    kiln_bundle_free(bundle);
    bundle = NULL;
    kiln_pb_writer_free(&t);
    kiln_pb_writer_free(&v);
    kiln_pb_writer_free(&h);
  }
  /* A duplicated key. */
  small_bundle(&b);
  b.tensors[2].name = b.tensors[1].name;
  d = (damage){.per_block = 6};
  expect_open_error(&b, &d, KILN_ERR_INVALID_MODEL, "strictly increasing");
  kiln_pb_writer_free(&b.index);
}

static void test_entry_damage(void) {
  static bundle_spec b;
  kiln_bundle *bundle = NULL;
  small_bundle(&b);
  b.tensors[1].size_add = 4;
  expect_open_error(&b, NULL, KILN_ERR_INVALID_MODEL,
                    "tensor 'model/layer01/kernel' (entry at byte offset");
  small_bundle(&b);
  b.tensors[2].first_dim_override = 3;
  expect_open_error(&b, NULL, KILN_ERR_INVALID_MODEL,
                    "size 24 bytes, but its shape holds 9 float32 elements");
  small_bundle(&b);
  b.tensors[2].first_dim_override = -1;
  expect_open_error(&b, NULL, KILN_ERR_INVALID_MODEL, "(unknown)");
  small_bundle(&b);
  b.tensors[2].unknown_rank = true;
  expect_open_error(&b, NULL, KILN_ERR_INVALID_MODEL, "unknown rank");
  small_bundle(&b);
  b.tensors[3].shard_override = 2;
  expect_open_error(&b, NULL, KILN_ERR_INVALID_MODEL,
                    "shard_id 2, but the header counts 2 shards");
  small_bundle(&b);
  b.tensors[3].shard_override = -1;
  expect_open_error(&b, NULL, KILN_ERR_INVALID_MODEL, "shard_id -1");
  small_bundle(&b);
  b.tensors[4].sliced = true;
  expect_open_error(&b, NULL, KILN_ERR_UNSUPPORTED,
                    "'model/layer04/kernel' (entry at byte offset");
  expect_open_error(&b, NULL, KILN_ERR_UNSUPPORTED, "partitioned");

  /* The header: big-endian, newer readers only, absent. */
  small_bundle(&b);
  finish_bundle(&b, SHARDS, 1, NULL);
  CHECK_ERROR(open_spec(&b, SHARDS, &bundle), KILN_ERR_UNSUPPORTED,
              "big-endian");
  finish_bundle(&b, SHARDS, 7, NULL);
  CHECK_ERROR(open_spec(&b, SHARDS, &bundle), KILN_ERR_INVALID_MODEL,
              "endianness 7");
  {
    kiln_pb_writer h = header_value(1, 0, 2);
    kv only[1] = {{"", 0, h.data, h.len}};
    kiln_pb_writer t = build_table(only, 1, NULL);
    CHECK_ERROR(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle),
                KILN_ERR_UNSUPPORTED, "version 2 or later");
    kiln_pb_writer_free(&t);
    kiln_pb_writer_free(&h);
    /* An empty bundle (header only) opens. */
    h = header_value(1, 0, 0);
    only[0] = (kv){"", 0, h.data, h.len};
    t = build_table(only, 1, NULL);
    CHECK_OK(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle));
    CHECK(kiln_bundle_count(bundle) == 0);
    kiln_bundle_free(bundle);
    bundle = NULL;
    kiln_pb_writer_free(&t);
    /* No header. */
    only[0] = (kv){"a", 0, h.data, h.len};
    t = build_table(only, 1, NULL);
    CHECK_ERROR(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle),
                KILN_ERR_INVALID_MODEL, "no header");
    kiln_pb_writer_free(&t);
    /* A key holding a NUL byte. */
    kv two[2] = {{"", 0, h.data, h.len}, {"a\0b", 3, h.data, h.len}};
    t = build_table(two, 2, NULL);
    CHECK_ERROR(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle),
                KILN_ERR_UNSUPPORTED, "NUL byte");
    kiln_pb_writer_free(&t);
    /* An entry that is not a message. */
    static const uint8_t junk[] = {0x0a, 0x05, 0x01};
    two[1] = (kv){"a", 0, junk, sizeof junk};
    t = build_table(two, 2, NULL);
    CHECK_ERROR(kiln_bundle_open_memory(t.data, t.len, NULL, 0, NULL, &bundle),
                KILN_ERR_INVALID_MODEL, "tensor 'a'");
    kiln_pb_writer_free(&t);
    kiln_pb_writer_free(&h);
  }

  /* Shards: missing, short; data checksums. */
  small_bundle(&b);
  finish_bundle(&b, SHARDS, 0, NULL);
  CHECK_ERROR(open_spec(&b, 1, &bundle), KILN_ERR_IO,
              "shard 1 of 2 (holding tensor 'model/layer0");
  b.shard_size[1] -= 1;
  CHECK_ERROR(open_spec(&b, SHARDS, &bundle), KILN_ERR_INVALID_MODEL,
              "tensor 'model/layer03/kernel' lies at bytes 24 .. 48");
  /* A shard holding only empty tensors need not exist. */
  small_bundle(&b);
  for (int i = 1; i < 5; i += 2) {
    b.tensors[i].dims[0] = 0;
    b.tensors[i].size = 0;
  }
  finish_bundle(&b, SHARDS, 0, NULL);
  CHECK_OK(open_spec(&b, 1, &bundle));
  if (bundle) {
    CHECK_OK(
        kiln_bundle_read(bundle, kiln_bundle_entry_at(bundle, 1), NULL, 0));
    CHECK(kiln_bundle_entry_at(bundle, 3)->rank == 2);
  }
  kiln_bundle_free(bundle);
  bundle = NULL;
  small_bundle(&b);
  b.tensors[3].bad_crc = true;
  finish_bundle(&b, SHARDS, 0, NULL);
  CHECK_OK(open_spec(&b, SHARDS, &bundle));
  float values[6];
  if (bundle) {
    CHECK_OK(kiln_bundle_read(bundle, kiln_bundle_entry_at(bundle, 2), values,
                              sizeof values));
    CHECK_ERROR(kiln_bundle_read(bundle, kiln_bundle_entry_at(bundle, 3),
                                 values, sizeof values),
                KILN_ERR_INVALID_MODEL,
                "tensor 'model/layer03/kernel' in shard '<memory>': checksum "
                "mismatch");
  }
  kiln_bundle_free(bundle);
  bundle = NULL;

  /* Types kiln lists but does not read; a bool byte that is not 0/1. */
  small_bundle(&b);
  b.tensors[0].tf_dtype = 7;  /* DT_STRING: any size */
  b.tensors[1].tf_dtype = 14; /* DT_BFLOAT16 */
  b.tensors[2].tf_dtype = 10; /* DT_BOOL, 6 bytes */
  b.tensors[2].dtype = KILN_BOOL;
  b.tensors[2].size = 6;
  memset(b.tensors[2].data, 1, 6);
  b.tensors[2].data[4] = 2;
  finish_bundle(&b, SHARDS, 0, NULL);
  CHECK_OK(open_spec(&b, SHARDS, &bundle));
  if (bundle) {
    const kiln_bundle_entry *s = kiln_bundle_entry_at(bundle, 0);
    CHECK(s->dtype == KILN_DTYPE_INVALID && s->tf_dtype == 7 && s->refusal);
    CHECK_ERROR(kiln_bundle_read(bundle, s, values, (size_t)s->size),
                KILN_ERR_UNSUPPORTED, "DT_STRING");
    CHECK_ERROR(
        kiln_bundle_read(bundle, kiln_bundle_entry_at(bundle, 1), values, 24),
        KILN_ERR_UNSUPPORTED, "DT_BFLOAT16");
    CHECK_ERROR(
        kiln_bundle_read(bundle, kiln_bundle_entry_at(bundle, 2), values, 6),
        KILN_ERR_INVALID_MODEL, "bool element 4 is 2");
  }
  kiln_bundle_free(bundle);
  kiln_pb_writer_free(&b.index);
}

/* Random damage to a valid index: opening fails cleanly or succeeds, and a
 * bundle that opens reads without crashing (ASan builds watch). */
static void test_random_damage(void) {
  static bundle_spec b;
  for (int trial = 0; trial < 400; trial++) {
    random_bundle(&b, (size_t)kiln_test_int(1, 8));
    finish_bundle(&b, SHARDS, 0, NULL);
    int flips = kiln_test_int(1, 3);
    for (int i = 0; i < flips; i++)
      b.index.data[kiln_test_int(0, (int)b.index.len - 1)] ^=
          (uint8_t)(1u << kiln_test_int(0, 7));
    kiln_bundle *bundle = NULL;
    kiln_status *status = open_spec(&b, SHARDS, &bundle);
    CHECK((status == NULL) != (bundle == NULL));
    if (status) CHECK(kiln_status_message(status)[0] != '\0');
    kiln_status_free(status);
    for (size_t i = 0; i < kiln_bundle_count(bundle); i++) {
      const kiln_bundle_entry *e = kiln_bundle_entry_at(bundle, i);
      uint8_t buf[512];
      if (e->size <= sizeof buf)
        kiln_status_free(kiln_bundle_read(bundle, e, buf, (size_t)e->size));
    }
    kiln_bundle_free(bundle);
  }
  kiln_pb_writer_free(&b.index);
}

/* Every allocation failing in turn, opening from memory and from files:
 * an out-of-memory error (never a crash or a half-built bundle), nothing
 * left allocated, and all of kiln's memory through the allocator given. */
static void test_allocation_failures(void) {
  static bundle_spec b;
  random_bundle(&b, 6);
  finish_bundle(&b, SHARDS, 0, NULL);
  char prefix[128], path[160], shard0[160], shard1[160];
  snprintf(prefix, sizeof prefix, "%s/oom", temp_dir);
  snprintf(path, sizeof path, "%s.index", prefix);
  snprintf(shard0, sizeof shard0, "%s.data-00000-of-00002", prefix);
  snprintf(shard1, sizeof shard1, "%s.data-00001-of-00002", prefix);
  write_file(path, b.index.data, b.index.len);
  write_file(shard0, b.shard_data[0], b.shard_size[0]);
  write_file(shard1, b.shard_data[1], b.shard_size[1]);
  for (int from_files = 0; from_files < 2; from_files++) {
    bool opened = false;
    for (long fail_at = 0; fail_at < 200 && !opened; fail_at++) {
      kiln_test_allocator counter;
      const kiln_allocator *hooks = kiln_test_allocator_init(&counter, fail_at);
      kiln_bundle *bundle = NULL;
      kiln_bundle_shard s[SHARDS] = {{b.shard_data[0], b.shard_size[0]},
                                     {b.shard_data[1], b.shard_size[1]}};
      kiln_status *status =
          from_files ? kiln_bundle_open(prefix, hooks, &bundle)
                     : kiln_bundle_open_memory(b.index.data, b.index.len, s,
                                               SHARDS, hooks, &bundle);
      if (status) {
        CHECK(kiln_status_get_code(status) == KILN_ERR_OUT_OF_MEMORY);
        CHECK(bundle == NULL);
        kiln_status_free(status);
      } else {
        opened = true;
        counter.fail_at = -1; /* reads allocate a shard's path */
        check_contents(&b, bundle);
      }
      kiln_bundle_free(bundle);
      CHECK(counter.live == 0);
    }
    CHECK(opened);
  }
  unlink(path);
  unlink(shard0);
  unlink(shard1);
  kiln_pb_writer_free(&b.index);
}

/* ------------------------------------------------- --dump */

static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20)
      printf("\\u%04x", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

static int dump(const char *prefix) {
  kiln_bundle *bundle = NULL;
  kiln_status *status = kiln_bundle_open(prefix, NULL, &bundle);
  if (status) {
    printf("{\"error\": ");
    json_string(kiln_status_message(status));
    printf(", \"code\": \"%s\"}\n",
           kiln_status_code_name(kiln_status_get_code(status)));
    kiln_status_free(status);
    return 0;
  }
  printf("{\"entries\": [");
  for (size_t i = 0; i < kiln_bundle_count(bundle); i++) {
    const kiln_bundle_entry *e = kiln_bundle_entry_at(bundle, i);
    printf("%s\n {\"name\": ", i ? "," : "");
    json_string(e->name);
    printf(", \"tf_dtype\": %d, \"dtype\": \"%s\", \"shape\": [", e->tf_dtype,
           kiln_dtype_name(e->dtype));
    for (int d = 0; d < e->rank && d < KILN_MAX_RANK; d++)
      printf("%s%lld", d ? ", " : "", (long long)e->dims[d]);
    printf("]");
    uint8_t *data = e->refusal ? NULL : malloc(e->size ? (size_t)e->size : 1);
    status = e->refusal ? kiln_bundle_read(bundle, e, NULL, 0)
             : data     ? kiln_bundle_read(bundle, e, data, (size_t)e->size)
                        : kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (status) {
      printf(", \"error\": ");
      json_string(kiln_status_message(status));
      printf(", \"code\": \"%s\"",
             kiln_status_code_name(kiln_status_get_code(status)));
      kiln_status_free(status);
    } else {
      printf(", \"crc32c\": %u, \"hex\": \"", (unsigned)e->crc32c);
      for (uint64_t k = 0; k < e->size; k++) printf("%02x", data[k]);
      printf("\"");
    }
    free(data);
    printf("}");
  }
  printf("\n]}\n");
  kiln_bundle_free(bundle);
  return 0;
}

/* A scalar string tensor t (varint length, 4 checksum bytes, the bytes)
 * holding `len` random bytes, or claiming `claimed` bytes when nonzero. */
static void string_tensor(tensor_spec *t, size_t len, size_t claimed,
                          uint8_t *bytes) {
  t->tf_dtype = 7;
  t->dtype = KILN_DTYPE_INVALID;
  t->rank = 0;
  size_t n = claimed ? claimed : len, pos = 0;
  do {
    t->data[pos++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n);
  for (int i = 0; i < 4; i++) t->data[pos++] = (uint8_t)kiln_test_rand();
  for (size_t i = 0; i < len; i++)
    t->data[pos++] = bytes[i] = (uint8_t)kiln_test_rand();
  t->size = pos;
  t->string_crc = true;
}

static void test_read_string(void) {
  bundle_spec *b = calloc(1, sizeof *b);
  uint8_t bytes[400];
  for (int trial = 0; trial < 20; trial++) {
    small_bundle(b);
    size_t len = (size_t)kiln_test_int(0, 400);
    string_tensor(&b->tensors[0], len, 0, bytes);
    finish_bundle(b, SHARDS, 0, NULL);
    kiln_bundle *bundle = NULL;
    CHECK_OK(open_spec(b, SHARDS, &bundle));
    if (!bundle) continue;
    uint8_t *got = NULL;
    size_t got_len = 0;
    CHECK_OK(kiln_bundle_read_string(bundle, kiln_bundle_entry_at(bundle, 0),
                                     &got, &got_len));
    CHECK(got_len == len && (len == 0 || memcmp(got, bytes, len) == 0));
    free(got);
    CHECK_ERROR(kiln_bundle_read_string(bundle, kiln_bundle_entry_at(bundle, 1),
                                        &got, &got_len),
                KILN_ERR_INVALID_MODEL, "is not a scalar string");
    CHECK(got == NULL);
    kiln_bundle_free(bundle);
  }
  /* A length past the entry's bytes, and damaged bytes. */
  small_bundle(b);
  string_tensor(&b->tensors[0], 10, 11, bytes);
  finish_bundle(b, SHARDS, 0, NULL);
  kiln_bundle *bundle = NULL;
  CHECK_OK(open_spec(b, SHARDS, &bundle));
  uint8_t *got = NULL;
  size_t got_len = 0;
  if (bundle)
    CHECK_ERROR(kiln_bundle_read_string(bundle, kiln_bundle_entry_at(bundle, 0),
                                        &got, &got_len),
                KILN_ERR_INVALID_MODEL, "a string of 11 bytes does not fit");
  kiln_bundle_free(bundle);
  small_bundle(b);
  string_tensor(&b->tensors[0], 10, 0, bytes);
  finish_bundle(b, SHARDS, 0, NULL);
  b->shard_data[b->tensors[0].shard][b->tensors[0].offset + 7] ^= 1;
  bundle = NULL;
  CHECK_OK(open_spec(b, SHARDS, &bundle));
  if (bundle)
    CHECK_ERROR(kiln_bundle_read_string(bundle, kiln_bundle_entry_at(bundle, 0),
                                        &got, &got_len),
                KILN_ERR_INVALID_MODEL, "checksum mismatch");
  CHECK(got == NULL);
  kiln_bundle_free(bundle);
  kiln_pb_writer_free(&b->index);
  free(b);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--dump") == 0) return dump(argv[2]);
  kiln_test_seed(0x7e45031e);
  strcpy(temp_dir, "/tmp/kiln-bundle-XXXXXX");
  if (!mkdtemp(temp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_crc32c();
  test_round_trip();
  test_files();
  test_table_damage();
  test_entry_damage();
  test_random_damage();
  test_allocation_failures();
  test_read_string();
  rmdir(temp_dir);
  return kiln_test_finish("test_tensor_bundle");
}
