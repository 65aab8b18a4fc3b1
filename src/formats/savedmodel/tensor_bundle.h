/* tensor_bundle.h - reading TensorFlow's TensorBundle: the variables of a
 * SavedModel (variables/variables.index and variables.data-NNNNN-of-MMMMM)
 * and the checkpoints tf.train.Checkpoint writes, without TensorFlow.
 *
 * The index is a LevelDB table (no compression) mapping tensor names to
 * BundleEntryProto messages (dtype, shape, shard, offset, size, CRC-32C);
 * the empty key holds the BundleHeaderProto (number of shards,
 * endianness, version). Opening reads and checks the whole index - it is
 * small, one entry per variable - and checks that every shard an entry
 * points into exists and is long enough; the tensors' bytes stay in the
 * shards until kiln_bundle_read asks for one (shards can hold gigabytes).
 * Errors name the file, the entry and the byte offset. */
#ifndef KILN_FORMATS_SAVEDMODEL_TENSOR_BUNDLE_H
#define KILN_FORMATS_SAVEDMODEL_TENSOR_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

typedef struct kiln_bundle kiln_bundle;

typedef struct kiln_bundle_entry {
  const char *name; /* the tensor's key; owned by the bundle */
  int tf_dtype;     /* TensorFlow's DataType code, as in the file */
  /* kiln's type, or KILN_DTYPE_INVALID when kiln cannot read the tensor
   * (strings, bfloat16, resources ...; `refusal` says why). */
  kiln_dtype dtype;
  const char *refusal; /* NULL when the tensor can be read */
  int rank;
  int64_t dims[KILN_MAX_RANK];
  int32_t shard_id;
  uint64_t offset, size; /* bytes in the shard */
  uint32_t crc32c;       /* of the bytes, unmasked */
} kiln_bundle_entry;

/* A shard held in memory (kiln_bundle_open_memory; fuzzing and tests). */
typedef struct kiln_bundle_shard {
  const void *data;
  size_t size;
} kiln_bundle_shard;

/* Opens the bundle whose files start with `prefix`
 * (".../variables/variables" reads variables.index and its shards). */
kiln_status *kiln_bundle_open(const char *prefix,
                              const kiln_allocator *allocator,
                              kiln_bundle **out);

/* The same from bytes: the index (copied while opening, not kept) and
 * `shard_count` shards, which must stay alive until kiln_bundle_free; a
 * shard the header counts but `shards` lacks reads as a missing file. */
kiln_status *kiln_bundle_open_memory(const void *index, size_t index_size,
                                     const kiln_bundle_shard *shards,
                                     int shard_count,
                                     const kiln_allocator *allocator,
                                     kiln_bundle **out);

/* Tensors, in the index's (bytewise sorted) order. */
size_t kiln_bundle_count(const kiln_bundle *bundle);
const kiln_bundle_entry *kiln_bundle_entry_at(const kiln_bundle *bundle,
                                              size_t i);
/* The tensor named `name`, or NULL. */
const kiln_bundle_entry *kiln_bundle_find(const kiln_bundle *bundle,
                                          const char *name);

/* Copies a tensor's bytes (entry->size of them; dst_size must be that)
 * into dst, checking their CRC-32C ("checksum mismatch") and, for bool,
 * that every byte is 0 or 1. Reads from the shard file with pread, so
 * several threads may read one bundle at once. */
kiln_status *kiln_bundle_read(const kiln_bundle *bundle,
                              const kiln_bundle_entry *entry, void *dst,
                              size_t dst_size);

/* A scalar DT_STRING tensor's bytes (the checkpoint's
 * _CHECKPOINTABLE_OBJECT_GRAPH), checked against the entry's CRC-32C, in
 * memory the caller frees with kiln_free(allocator given to open, *out). */
kiln_status *kiln_bundle_read_string(const kiln_bundle *bundle,
                                     const kiln_bundle_entry *entry,
                                     uint8_t **out, size_t *out_len);

void kiln_bundle_free(kiln_bundle *bundle);

#endif
