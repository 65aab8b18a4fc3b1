/* tensor_bundle.c - TensorFlow's TensorBundle (checkpoints and SavedModel
 * variables), see tensor_bundle.h. The index is read whole and walked
 * with leveldb_table.c; each value is a protobuf message read with
 * pb_wire (field numbers from TensorFlow's tensor_bundle.proto,
 * tensor_shape.proto and versions.proto). Tensor bytes are read from the
 * shards only on request, with pread: a SavedModel's shards can be larger
 * than the memory kiln wants to hold twice, a tensor is usually copied
 * once into the model's own buffer anyway, and pread lets threads share
 * the bundle without a lock. Shard files are opened per read rather than
 * kept open, so a bundle with many shards holds no descriptors. */
#include "formats/savedmodel/tensor_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file_kind.h"
#include "core/status.h"
#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/crc32c.h"
#include "formats/savedmodel/leveldb_table.h"

/* BundleHeaderProto */
enum { HEADER_NUM_SHARDS = 1, HEADER_ENDIANNESS = 2, HEADER_VERSION = 3 };
/* VersionDef */
enum { VERSION_MIN_CONSUMER = 2, VERSION_BAD_CONSUMERS = 3 };
/* BundleEntryProto */
enum {
  ENTRY_DTYPE = 1,
  ENTRY_SHAPE = 2,
  ENTRY_SHARD_ID = 3,
  ENTRY_OFFSET = 4,
  ENTRY_SIZE = 5,
  ENTRY_CRC32C = 6,
  ENTRY_SLICES = 7,
};
/* TensorShapeProto and its Dim */
enum { SHAPE_DIM = 2, SHAPE_UNKNOWN_RANK = 3, DIM_SIZE = 1 };

/* The bundle format version this reader implements (TensorFlow's
 * kTensorBundleVersion): files naming a higher minimum reader, or this
 * version as a bad one, are refused. */
#define BUNDLE_VERSION 1

struct kiln_bundle {
  kiln_allocator allocator_copy;
  const kiln_allocator *allocator; /* &allocator_copy or NULL */
  char *prefix;                    /* NULL for a bundle in memory */
  kiln_bundle_shard *shards;       /* memory bundles */
  int shard_count;
  int32_t num_shards;
  kiln_bundle_entry *entries;
  size_t count, cap;
  char *names; /* every name, NUL-terminated, one after another */
  size_t names_len, names_cap;
};

typedef struct open_state {
  kiln_bundle *bundle;
  const char *label; /* the index file */
  bool have_header;
  size_t nul_key_offset; /* a key holding a NUL byte (0: none) */
  bool nul_key;
} open_state;

static bool host_little_endian(void) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

/* TensorFlow's DataType codes (types.proto) kiln reads, and the reason
 * for the others it knows. */
static kiln_dtype map_dtype(int tf, const char **refusal) {
  *refusal = NULL;
  switch (tf) {
    case 1:
      return KILN_FLOAT32;
    case 2:
      return KILN_FLOAT64;
    case 3:
      return KILN_INT32;
    case 4:
      return KILN_UINT8;
    case 5:
      return KILN_INT16;
    case 6:
      return KILN_INT8;
    case 8:
      return KILN_COMPLEX64;
    case 9:
      return KILN_INT64;
    case 10:
      return KILN_BOOL;
    case 17:
      return KILN_UINT16;
    case 19:
      return KILN_FLOAT16;
    case 22:
      return KILN_UINT32;
    case 23:
      return KILN_UINT64;
    case 7:
      *refusal =
          "DT_STRING tensors are not read (their bytes interleave "
          "lengths and a checksum)";
      return KILN_DTYPE_INVALID;
    case 14:
      *refusal = "DT_BFLOAT16 has no kiln dtype";
      return KILN_DTYPE_INVALID;
    case 20:
      *refusal = "DT_RESOURCE handles are not data";
      return KILN_DTYPE_INVALID;
    case 21:
      *refusal = "DT_VARIANT tensors are not read";
      return KILN_DTYPE_INVALID;
    default:
      *refusal = "a TensorFlow dtype kiln does not read";
      return KILN_DTYPE_INVALID;
  }
}

/* ------------------------------------------------------------ header */

static kiln_status *read_version(kiln_pb_reader *r) {
  for (;;) {
    kiln_pb_field f;
    bool more = false;
    KILN_TRY(kiln_pb_next(r, &f, &more));
    if (!more) return NULL;
    if (f.number == VERSION_MIN_CONSUMER) {
      int32_t min_consumer;
      KILN_TRY(kiln_pb_int32(r, &f, &min_consumer));
      if (min_consumer > BUNDLE_VERSION)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "header's version at byte offset %zu: needs a "
                          "reader of bundle version %d or later; kiln reads "
                          "version %d",
                          f.offset, min_consumer, BUNDLE_VERSION);
    } else if (f.number == VERSION_BAD_CONSUMERS) {
      /* Repeated int32, packed or one field each. */
      size_t count = 1;
      kiln_pb_reader values = kiln_pb_nested(r, &f, NULL);
      if (f.wire_type == KILN_PB_LEN)
        KILN_TRY(kiln_pb_packed_varints(r, &f, &count));
      for (size_t i = 0; i < count; i++) {
        uint64_t v = f.value;
        if (f.wire_type == KILN_PB_LEN)
          KILN_TRY(kiln_pb_read_varint(&values, &v));
        else
          KILN_TRY(kiln_pb_uint64(r, &f, &v));
        if (v == BUNDLE_VERSION)
          return kiln_error(KILN_ERR_UNSUPPORTED,
                            "header's version at byte offset %zu: names "
                            "bundle version %d (kiln's) as a bad reader",
                            f.offset, BUNDLE_VERSION);
      }
    }
  }
}

static kiln_status *read_header(open_state *s, const uint8_t *value, size_t len,
                                size_t offset) {
  kiln_pb_reader r = kiln_pb_reader_make(value, len, "BundleHeaderProto");
  r.base = offset;
  for (;;) {
    kiln_pb_field f;
    bool more = false;
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number == HEADER_NUM_SHARDS) {
      KILN_TRY(kiln_pb_int32(&r, &f, &s->bundle->num_shards));
      if (s->bundle->num_shards < 0)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "header: num_shards %d at byte offset %zu is "
                          "negative",
                          s->bundle->num_shards, f.offset);
    } else if (f.number == HEADER_ENDIANNESS) {
      int32_t endianness;
      KILN_TRY(kiln_pb_int32(&r, &f, &endianness));
      if (endianness == 1)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "header: the bundle is big-endian (byte offset "
                          "%zu); kiln reads little-endian bundles only",
                          f.offset);
      if (endianness != 0)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "header: endianness %d at byte offset %zu is "
                          "neither LITTLE (0) nor BIG (1)",
                          endianness, f.offset);
    } else if (f.number == HEADER_VERSION) {
      kiln_pb_reader version;
      if (f.wire_type != KILN_PB_LEN)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "header: version at byte offset %zu is not a "
                          "message",
                          f.offset);
      version = kiln_pb_nested(&r, &f, "VersionDef");
      KILN_TRY(read_version(&version));
    }
  }
  s->have_header = true;
  return NULL;
}

/* ------------------------------------------------------------ entries */

static kiln_status *read_shape(kiln_pb_reader *r, kiln_bundle_entry *e,
                               uint64_t *numel) {
  for (;;) {
    kiln_pb_field f;
    bool more = false;
    KILN_TRY(kiln_pb_next(r, &f, &more));
    if (!more) return NULL;
    if (f.number == SHAPE_UNKNOWN_RANK) {
      bool unknown;
      KILN_TRY(kiln_pb_bool(r, &f, &unknown));
      if (unknown)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "shape at byte offset %zu: unknown rank", f.offset);
    } else if (f.number == SHAPE_DIM) {
      if (f.wire_type != KILN_PB_LEN)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "shape: dim at byte offset %zu is not a message",
                          f.offset);
      kiln_pb_reader dim = kiln_pb_nested(r, &f, "TensorShapeProto.Dim");
      int64_t size = 0;
      for (;;) {
        kiln_pb_field d;
        bool dim_more = false;
        KILN_TRY(kiln_pb_next(&dim, &d, &dim_more));
        if (!dim_more) break;
        if (d.number == DIM_SIZE) KILN_TRY(kiln_pb_int64(&dim, &d, &size));
      }
      if (size < 0)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "shape: dimension %d at byte offset %zu is %lld "
                          "(unknown); a stored tensor's shape is known",
                          e->rank, f.offset, (long long)size);
      if (e->rank < KILN_MAX_RANK) e->dims[e->rank] = size;
      if (e->rank == INT32_MAX - 1)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "shape at byte offset %zu: too many dimensions",
                          f.offset);
      e->rank++;
      /* numel saturates at UINT64_MAX, which no size can match. */
      if (size && *numel > UINT64_MAX / (uint64_t)size)
        *numel = UINT64_MAX;
      else
        *numel *= (uint64_t)size;
    }
  }
}

static kiln_status *read_entry_fields(open_state *s, kiln_pb_reader *r,
                                      kiln_bundle_entry *e, uint64_t *numel) {
  int64_t offset = 0, size = 0;
  for (;;) {
    kiln_pb_field f;
    bool more = false;
    KILN_TRY(kiln_pb_next(r, &f, &more));
    if (!more) break;
    switch (f.number) {
      case ENTRY_DTYPE:
        KILN_TRY(kiln_pb_int32(r, &f, &e->tf_dtype));
        break;
      case ENTRY_SHAPE: {
        if (f.wire_type != KILN_PB_LEN)
          return kiln_error(KILN_ERR_INVALID_MODEL,
                            "shape at byte offset %zu is not a message",
                            f.offset);
        /* A repeated message field merges, as protobuf does. */
        kiln_pb_reader shape = kiln_pb_nested(r, &f, "TensorShapeProto");
        KILN_TRY(read_shape(&shape, e, numel));
        break;
      }
      case ENTRY_SHARD_ID:
        KILN_TRY(kiln_pb_int32(r, &f, &e->shard_id));
        break;
      case ENTRY_OFFSET:
        KILN_TRY(kiln_pb_int64(r, &f, &offset));
        break;
      case ENTRY_SIZE:
        KILN_TRY(kiln_pb_int64(r, &f, &size));
        break;
      case ENTRY_CRC32C:
        if (f.wire_type != KILN_PB_I32)
          return kiln_error(KILN_ERR_INVALID_MODEL,
                            "crc32c at byte offset %zu is not a fixed32",
                            f.offset);
        e->crc32c = kiln_crc32c_unmask((uint32_t)f.value);
        break;
      case ENTRY_SLICES:
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "a partitioned (sliced) variable (slices at byte "
                          "offset %zu); kiln reads whole tensors only",
                          f.offset);
      default:
        break;
    }
  }
  if (offset < 0 || size < 0 || size > INT64_MAX - offset)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "offset %lld and size %lld are not a byte range",
                      (long long)offset, (long long)size);
  e->offset = (uint64_t)offset;
  e->size = (uint64_t)size;
  if (e->tf_dtype == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "dtype DT_INVALID (0)");
  if (e->shard_id < 0 || e->shard_id >= s->bundle->num_shards)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "shard_id %d, but the header counts %d shards",
                      e->shard_id, s->bundle->num_shards);
  e->dtype = map_dtype(e->tf_dtype, &e->refusal);
  if (e->rank > KILN_MAX_RANK) {
    e->dtype = KILN_DTYPE_INVALID;
    e->refusal = "more dimensions than kiln's KILN_MAX_RANK";
    memset(e->dims, 0, sizeof e->dims);
  }
  if (e->dtype != KILN_DTYPE_INVALID) {
    uint64_t element = kiln_dtype_size(e->dtype);
    if (*numel > UINT64_MAX / element || *numel * element != e->size)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "size %llu bytes, but its shape holds %llu %s "
                        "elements of %llu bytes",
                        (unsigned long long)e->size, (unsigned long long)*numel,
                        kiln_dtype_name(e->dtype), (unsigned long long)element);
  }
  return NULL;
}

static kiln_status *names_append(kiln_bundle *b, const uint8_t *key, size_t len,
                                 size_t *at) {
  if (b->names_len + len + 1 > b->names_cap) {
    size_t cap = b->names_cap ? b->names_cap : 256;
    while (cap < b->names_len + len + 1) cap *= 2;
    char *names = kiln_realloc(b->allocator, b->names, cap);
    if (!names) return KILN_OOM();
    b->names = names;
    b->names_cap = cap;
  }
  *at = b->names_len;
  if (len) memcpy(b->names + b->names_len, key, len);
  b->names[b->names_len + len] = '\0';
  b->names_len += len + 1;
  return NULL;
}

static kiln_status *visit_entry(void *context, const uint8_t *key,
                                size_t key_len, size_t key_offset,
                                const uint8_t *value, size_t value_len,
                                size_t value_offset) {
  open_state *s = context;
  kiln_bundle *b = s->bundle;
  if (key_len == 0)
    return kiln_status_wrap(read_header(s, value, value_len, value_offset),
                            "%s", s->label);
  if (!s->have_header)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: no header (the entry with the empty key must come "
                      "first); the first key is at byte offset %zu",
                      s->label, key_offset);
  if (memchr(key, '\0', key_len)) {
    /* Slices of partitioned variables have binary keys; the variable's
     * own entry, later in the order, gives the better error. */
    if (!s->nul_key) s->nul_key_offset = key_offset;
    s->nul_key = true;
    return NULL;
  }
  /* The names' bytes are bounded by the walk's bound on all keys. */
  if (b->count == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    kiln_bundle_entry *entries =
        kiln_realloc(b->allocator, b->entries, cap * sizeof *entries);
    if (!entries) return KILN_OOM();
    b->entries = entries;
    b->cap = cap;
  }
  kiln_bundle_entry *e = &b->entries[b->count];
  memset(e, 0, sizeof *e);
  size_t name_at = 0;
  KILN_TRY(names_append(b, key, key_len, &name_at));
  /* Names point into a buffer that may still move: offsets for now. */
  e->name = (const char *)(uintptr_t)name_at;
  kiln_pb_reader r = kiln_pb_reader_make(value, value_len, "BundleEntryProto");
  r.base = value_offset;
  uint64_t numel = 1;
  kiln_status *status = read_entry_fields(s, &r, e, &numel);
  if (status)
    return kiln_status_wrap(status,
                            "%s: tensor '%s' (entry at byte offset %zu)",
                            s->label, b->names + name_at, key_offset);
  b->count++;
  return NULL;
}

/* ------------------------------------------------------------ shards */

static char *shard_path(const kiln_bundle *b, int32_t shard) {
  size_t len = strlen(b->prefix) + 32;
  char *path = kiln_malloc(b->allocator, len);
  if (path)
    snprintf(path, len, "%s.data-%05d-of-%05d", b->prefix, (int)shard,
             (int)b->num_shards);
  return path;
}

/* The size of a shard, or an error naming it and `tensor`. When fd is
 * given, the file stays open there. */
static kiln_status *shard_size(const kiln_bundle *b, int32_t shard,
                               const char *tensor, uint64_t *size, int *fd) {
  if (!b->prefix) {
    if (shard >= b->shard_count || !b->shards[shard].data)
      return kiln_error(KILN_ERR_IO,
                        "shard %d of %d (holding tensor '%s') is missing",
                        (int)shard, (int)b->num_shards, tensor);
    *size = b->shards[shard].size;
    return NULL;
  }
  char *path = shard_path(b, shard);
  if (!path) return KILN_OOM();
  kiln_status *status = NULL;
  int file = open(path, O_RDONLY | O_NONBLOCK);
  struct stat st;
  if (file < 0) {
    status = kiln_error(KILN_ERR_IO,
                        "cannot open shard '%s' (holding tensor '%s'): %s",
                        path, tensor, strerror(errno));
  } else if (fstat(file, &st) != 0) {
    status = kiln_error(KILN_ERR_IO, "cannot stat shard '%s': %s", path,
                        strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = kiln_error(KILN_ERR_IO, "shard '%s' is a %s, not a file", path,
                        kiln_file_kind(st.st_mode));
  } else {
    *size = (uint64_t)st.st_size;
  }
  if (status || !fd) {
    if (file >= 0) close(file);
  } else {
    *fd = file;
  }
  kiln_free(b->allocator, path);
  return status;
}

static kiln_status *short_shard(const kiln_bundle *b,
                                const kiln_bundle_entry *e, uint64_t have) {
  char *path = b->prefix ? shard_path(b, e->shard_id) : NULL;
  kiln_status *status = kiln_error(
      KILN_ERR_INVALID_MODEL,
      "shard '%s' has %llu bytes, but tensor '%s' lies at bytes %llu .. %llu "
      "(the shard is truncated)",
      path ? path : "<memory>", (unsigned long long)have, e->name,
      (unsigned long long)e->offset, (unsigned long long)(e->offset + e->size));
  kiln_free(b->allocator, path);
  return status;
}

typedef struct shard_use {
  int32_t shard;
  size_t entry; /* the entry reaching furthest into it */
} shard_use;

static int compare_shard_use(const void *a, const void *b) {
  const shard_use *x = a, *y = b;
  return (x->shard > y->shard) - (x->shard < y->shard);
}

/* Every shard an entry reads from exists and holds the entry's bytes: a
 * missing or truncated shard fails at open, not halfway through loading. */
static kiln_status *check_shards(kiln_bundle *b) {
  shard_use *uses = kiln_calloc(b->allocator, b->count + 1, sizeof *uses);
  if (!uses) return KILN_OOM();
  size_t n = 0;
  for (size_t i = 0; i < b->count; i++)
    if (b->entries[i].size) uses[n++] = (shard_use){b->entries[i].shard_id, i};
  qsort(uses, n, sizeof *uses, compare_shard_use);
  kiln_status *status = NULL;
  for (size_t i = 0; i < n && !status;) {
    size_t furthest = uses[i].entry;
    size_t j = i;
    for (; j < n && uses[j].shard == uses[i].shard; j++) {
      const kiln_bundle_entry *e = &b->entries[uses[j].entry];
      if (e->offset + e->size >
          b->entries[furthest].offset + b->entries[furthest].size)
        furthest = uses[j].entry;
    }
    const kiln_bundle_entry *e = &b->entries[furthest];
    uint64_t size = 0;
    status = shard_size(b, uses[i].shard, e->name, &size, NULL);
    if (!status && e->offset + e->size > size) status = short_shard(b, e, size);
    i = j;
  }
  kiln_free(b->allocator, uses);
  return status;
}

/* ------------------------------------------------------------ opening */

static kiln_status *open_index(kiln_bundle *b, const uint8_t *index,
                               size_t size, const char *label) {
  if (!host_little_endian())
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "TensorBundle reading needs a little-endian host");
  open_state s = {.bundle = b, .label = label};
  KILN_TRY(kiln_table_walk(index, size, label, b->allocator, visit_entry, &s));
  if (!s.have_header)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: no header (the entry with the empty key)", label);
  if (s.nul_key)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: key at byte offset %zu holds a NUL byte (a slice "
                      "of a partitioned variable?); kiln reads whole tensors "
                      "only",
                      label, s.nul_key_offset);
  for (size_t i = 0; i < b->count; i++)
    b->entries[i].name = b->names + (uintptr_t)b->entries[i].name;
  return check_shards(b);
}

static kiln_bundle *bundle_new(const kiln_allocator *allocator) {
  kiln_bundle *b = kiln_calloc(allocator, 1, sizeof *b);
  if (!b) return NULL;
  if (allocator) {
    b->allocator_copy = *allocator;
    b->allocator = &b->allocator_copy;
  }
  return b;
}

kiln_status *kiln_bundle_open_memory(const void *index, size_t index_size,
                                     const kiln_bundle_shard *shards,
                                     int shard_count,
                                     const kiln_allocator *allocator,
                                     kiln_bundle **out) {
  *out = NULL;
  if ((!index && index_size) || shard_count < 0 || (!shards && shard_count))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_bundle_open_memory: no index or bad shards");
  kiln_bundle *b = bundle_new(allocator);
  if (!b) return KILN_OOM();
  if (shard_count) {
    b->shards = kiln_calloc(b->allocator, (size_t)shard_count, sizeof *shards);
    if (!b->shards) {
      kiln_bundle_free(b);
      return KILN_OOM();
    }
    memcpy(b->shards, shards, (size_t)shard_count * sizeof *shards);
    b->shard_count = shard_count;
  }
  kiln_status *status = open_index(b, index, index_size, "<index in memory>");
  if (status) {
    kiln_bundle_free(b);
    return status;
  }
  *out = b;
  return NULL;
}

/* The whole index file, which must be a regular file. */
static kiln_status *read_file(const kiln_bundle *b, const char *path,
                              uint8_t **data, size_t *size) {
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return kiln_error(KILN_ERR_IO, "cannot open '%s': %s", path,
                      strerror(errno));
  struct stat st;
  kiln_status *status = NULL;
  if (fstat(fd, &st) != 0) {
    status =
        kiln_error(KILN_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = kiln_error(KILN_ERR_IO, "'%s' is a %s, not a file", path,
                        kiln_file_kind(st.st_mode));
  } else if ((uint64_t)st.st_size > SIZE_MAX - 1) {
    status = kiln_error(KILN_ERR_IO, "'%s' is too large", path);
  } else {
    *size = (size_t)st.st_size;
    *data = kiln_malloc(b->allocator, *size ? *size : 1);
    if (!*data) status = KILN_OOM();
    size_t got = 0;
    while (!status && got < *size) {
      ssize_t n = pread(fd, *data + got, *size - got, (off_t)got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        status = kiln_error(KILN_ERR_IO, "cannot read '%s': %s", path,
                            n < 0 ? strerror(errno) : "it shrank while read");
      else
        got += (size_t)n;
    }
    if (status) {
      kiln_free(b->allocator, *data);
      *data = NULL;
    }
  }
  close(fd);
  return status;
}

kiln_status *kiln_bundle_open(const char *prefix,
                              const kiln_allocator *allocator,
                              kiln_bundle **out) {
  *out = NULL;
  if (!prefix || !*prefix)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_bundle_open: no path prefix");
  kiln_bundle *b = bundle_new(allocator);
  if (!b) return KILN_OOM();
  b->prefix = kiln_strdup(b->allocator, prefix);
  size_t len = strlen(prefix) + sizeof ".index";
  char *index_path = kiln_malloc(b->allocator, len);
  if (!b->prefix || !index_path) {
    kiln_free(b->allocator, index_path);
    kiln_bundle_free(b);
    return KILN_OOM();
  }
  snprintf(index_path, len, "%s.index", prefix);
  uint8_t *index = NULL;
  size_t size = 0;
  kiln_status *status = read_file(b, index_path, &index, &size);
  if (!status) status = open_index(b, index, size, index_path);
  kiln_free(b->allocator, index);
  kiln_free(b->allocator, index_path);
  if (status) {
    kiln_bundle_free(b);
    return status;
  }
  *out = b;
  return NULL;
}

/* ------------------------------------------------------------ access */

size_t kiln_bundle_count(const kiln_bundle *bundle) {
  return bundle ? bundle->count : 0;
}

const kiln_bundle_entry *kiln_bundle_entry_at(const kiln_bundle *bundle,
                                              size_t i) {
  return bundle && i < bundle->count ? &bundle->entries[i] : NULL;
}

const kiln_bundle_entry *kiln_bundle_find(const kiln_bundle *bundle,
                                          const char *name) {
  if (!bundle || !name) return NULL;
  /* The index is sorted bytewise (unsigned), as strcmp compares. */
  size_t lo = 0, hi = bundle->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(bundle->entries[mid].name, name);
    if (c == 0) return &bundle->entries[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static kiln_status *read_bytes(const kiln_bundle *b, const kiln_bundle_entry *e,
                               uint8_t *dst) {
  /* An empty tensor needs no shard (open checks none for it either). */
  if (e->size == 0) return NULL;
  uint64_t size = 0;
  int fd = -1;
  KILN_TRY(shard_size(b, e->shard_id, e->name, &size, b->prefix ? &fd : NULL));
  kiln_status *status = NULL;
  if (e->offset + e->size > size) {
    status = short_shard(b, e, size);
  } else if (!b->prefix) {
    if (e->size)
      memcpy(dst, (const uint8_t *)b->shards[e->shard_id].data + e->offset,
             (size_t)e->size);
  } else {
    uint64_t got = 0;
    while (!status && got < e->size) {
      ssize_t n = pread(fd, dst + got, (size_t)(e->size - got),
                        (off_t)(e->offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        char *path = shard_path(b, e->shard_id);
        status = kiln_error(
            KILN_ERR_IO, "cannot read tensor '%s' from shard '%s': %s", e->name,
            path ? path : "?", n < 0 ? strerror(errno) : "it ended early");
        kiln_free(b->allocator, path);
      } else {
        got += (uint64_t)n;
      }
    }
  }
  if (fd >= 0) close(fd);
  return status;
}

kiln_status *kiln_bundle_read(const kiln_bundle *bundle,
                              const kiln_bundle_entry *entry, void *dst,
                              size_t dst_size) {
  if (!bundle || !entry || entry < bundle->entries ||
      entry >= bundle->entries + bundle->count || (!dst && dst_size))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_bundle_read: not an entry of this bundle");
  if (entry->refusal)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "tensor '%s' (TensorFlow dtype %d): %s", entry->name,
                      entry->tf_dtype, entry->refusal);
  if (dst_size != entry->size)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_bundle_read: tensor '%s' has %llu bytes, the "
                      "buffer %zu",
                      entry->name, (unsigned long long)entry->size, dst_size);
  KILN_TRY(read_bytes(bundle, entry, dst));
  uint32_t actual = kiln_crc32c(dst, dst_size);
  if (actual != entry->crc32c) {
    char *path = bundle->prefix ? shard_path(bundle, entry->shard_id) : NULL;
    kiln_status *status = kiln_error(
        KILN_ERR_INVALID_MODEL,
        "tensor '%s' in shard '%s': checksum mismatch (the index says "
        "0x%08x, the bytes give 0x%08x): the shard is damaged",
        entry->name, path ? path : "<memory>", entry->crc32c, actual);
    kiln_free(bundle->allocator, path);
    return status;
  }
  if (entry->dtype == KILN_BOOL) {
    const uint8_t *bytes = dst;
    for (size_t i = 0; i < dst_size; i++)
      if (bytes[i] > 1)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "tensor '%s': bool element %zu is %u, not 0 or 1",
                          entry->name, i, bytes[i]);
  }
  return NULL;
}

kiln_status *kiln_bundle_read_string(const kiln_bundle *bundle,
                                     const kiln_bundle_entry *entry,
                                     uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (!bundle || !entry || entry < bundle->entries ||
      entry >= bundle->entries + bundle->count)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_bundle_read_string: not an entry of this bundle");
  if (entry->tf_dtype != 7 /* DT_STRING */ || entry->rank != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "tensor '%s' is not a scalar string (TensorFlow dtype "
                      "%d, rank %d)",
                      entry->name, entry->tf_dtype, entry->rank);
  /* A scalar's bytes: its length as a varint, a 4-byte checksum of the
   * lengths, then the string; the entry's CRC covers them all. Open
   * checked the entry lies inside its shard, which exists. */
  if (entry->size > ((uint64_t)1 << 30))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "tensor '%s': %llu bytes is more than kiln reads for a "
                      "string",
                      entry->name, (unsigned long long)entry->size);
  size_t size = (size_t)entry->size;
  uint8_t *buf = kiln_malloc(bundle->allocator, size ? size : 1);
  if (!buf) return KILN_OOM();
  kiln_status *st = read_bytes(bundle, entry, buf);
  uint64_t len = 0;
  size_t pos = 0;
  for (int shift = 0; !st; shift += 7) {
    if (pos >= size || shift > 63) {
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "tensor '%s': the string's length runs past its %zu "
                      "bytes",
                      entry->name, size);
      break;
    }
    len |= (uint64_t)(buf[pos] & 0x7f) << shift;
    if (!(buf[pos++] & 0x80)) break;
  }
  if (!st && (size - pos < 4 || len != size - pos - 4))
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "tensor '%s': a string of %llu bytes does not fit the "
                    "entry's %zu",
                    entry->name, (unsigned long long)len, size);
  if (!st) {
    /* TensorFlow's checksum of a string tensor covers each length as a
     * little-endian uint32 (not the varint; checked against files it
     * wrote), then the 4 checksum bytes, then the strings. */
    uint8_t len32[4];
    for (int i = 0; i < 4; i++) len32[i] = (uint8_t)(len >> (8 * i));
    uint32_t crc = kiln_crc32c_extend(0, len32, sizeof len32);
    crc = kiln_crc32c_extend(crc, buf + pos, 4 + (size_t)len);
    if (crc != entry->crc32c)
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "tensor '%s': checksum mismatch (the index says "
                      "0x%08x, the bytes give 0x%08x): the shard is damaged",
                      entry->name, entry->crc32c, crc);
  }
  if (st) {
    kiln_free(bundle->allocator, buf);
    return st;
  }
  memmove(buf, buf + pos + 4, (size_t)len);
  *out = buf;
  *out_len = (size_t)len;
  return NULL;
}

void kiln_bundle_free(kiln_bundle *bundle) {
  if (!bundle) return;
  const kiln_allocator *a = bundle->allocator;
  kiln_free(a, bundle->prefix);
  kiln_free(a, bundle->shards);
  kiln_free(a, bundle->entries);
  kiln_free(a, bundle->names);
  kiln_free(a, bundle);
}
