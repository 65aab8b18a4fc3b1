/* leveldb_table.h - a checked walk over an uncompressed LevelDB table
 * (the SSTable format TensorFlow's TensorBundle index uses), held whole in
 * memory. Layout, from LevelDB's table_format.md: data blocks, a
 * metaindex block, an index block whose values are the data blocks'
 * handles, and a 48-byte footer (the two handles as varints, zero padding
 * to 40 bytes, the magic 0xdb4775248b80fb57). A block is prefix-compressed
 * entries (varint shared, non-shared and value lengths, the key's new
 * bytes, the value), an array of uint32 restart offsets and their count;
 * each block is followed by a compression-type byte and the masked
 * CRC-32C of the block and that byte.
 *
 * Everything is checked as it is read: handles against the file,
 * checksums, restart points, prefix lengths, and that keys strictly
 * increase and fall inside their index block's separators. Errors name
 * `label` (the file) and the byte offset. */
#ifndef KILN_FORMATS_SAVEDMODEL_LEVELDB_TABLE_H
#define KILN_FORMATS_SAVEDMODEL_LEVELDB_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

/* Longest key the walk accepts: tensor names are far shorter, and the
 * bound keeps a hostile prefix chain from growing the key buffer. */
#define KILN_TABLE_MAX_KEY 65536
/* And all keys together (rebuilt from their prefixes) at most this many
 * bytes per byte of the table, plus one longest key: real tables hold
 * about one or two; the bound keeps the walk's work linear in the file. */
#define KILN_TABLE_KEY_BYTES_PER_BYTE 64

#define KILN_TABLE_MAGIC 0xdb4775248b80fb57ull
#define KILN_TABLE_FOOTER_SIZE 48
/* A block's trailer: compression type byte and masked CRC-32C. */
#define KILN_TABLE_TRAILER_SIZE 5

/* Called for each key/value in key order. `key` is valid only during the
 * call; `value` points into the table; offsets count from its start. */
typedef kiln_status *(*kiln_table_visit)(void *context, const uint8_t *key,
                                         size_t key_len, size_t key_offset,
                                         const uint8_t *value, size_t value_len,
                                         size_t value_offset);

kiln_status *kiln_table_walk(const uint8_t *table, size_t size,
                             const char *label, const kiln_allocator *allocator,
                             kiln_table_visit visit, void *context);

#endif
