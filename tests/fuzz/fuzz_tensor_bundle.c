/* fuzz_tensor_bundle.c - libFuzzer target for the TensorBundle reader
 * (formats/savedmodel/tensor_bundle and leveldb_table): the input is a
 * bundle's index (variables.index), opened from memory with two synthetic
 * 64 KiB shards. Each input is opened twice: as it is, and with the block
 * checksums the fuzzer cannot hope to guess recomputed for every block
 * the footer and the index block point to (found here with a loose
 * reading of its own), so that mutations reach the entries and the
 * protobuf values behind the checksums. A bundle that opens must keep
 * its promises: entries in strictly increasing order, each found by name,
 * inside its shard, and read (or refused) without harm; an error must
 * carry a message, and a byte offset it names must lie in the input.
 * Seeds: tests/fuzz/corpus/tensor_bundle/ (small indexes TensorFlow wrote,
 * tests/fuzz/make_tensor_bundle_seeds.py).
 *
 *   CC=clang cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON
 *   cmake --build build-fuzz -t fuzz_tensor_bundle
 *   scripts/fuzz build-fuzz 60 fuzz_tensor_bundle
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/savedmodel/crc32c.h"
#include "formats/savedmodel/leveldb_table.h"
#include "formats/savedmodel/tensor_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { SHARD_SIZE = 65536, MAX_FIXED_BLOCKS = 256 };

static uint8_t shard_bytes[2][SHARD_SIZE];
static uint8_t read_buffer[SHARD_SIZE];

static void check_error(kiln_status *status, size_t input_size) {
  if (!status) abort();
  const char *message = kiln_status_message(status);
  kiln_status_code code = kiln_status_get_code(status);
  if (!message[0] ||
      (code != KILN_ERR_INVALID_MODEL && code != KILN_ERR_UNSUPPORTED &&
       code != KILN_ERR_IO && code != KILN_ERR_OUT_OF_MEMORY))
    abort();
  const char *at = strstr(message, "byte offset ");
  if (at && strtoull(at + strlen("byte offset "), NULL, 10) >= input_size)
    abort();
  kiln_status_free(status);
}

static void check_bundle(const kiln_bundle *bundle) {
  size_t count = kiln_bundle_count(bundle);
  for (size_t i = 0; i < count; i++) {
    const kiln_bundle_entry *e = kiln_bundle_entry_at(bundle, i);
    if (!e || !e->name || !e->name[0]) abort();
    if (i && strcmp(kiln_bundle_entry_at(bundle, i - 1)->name, e->name) >= 0)
      abort();
    if (kiln_bundle_find(bundle, e->name) != e) abort();
    if (e->shard_id < 0 || e->shard_id > 1 || e->rank < 0) abort();
    if (e->size && (e->offset > SHARD_SIZE || e->size > SHARD_SIZE - e->offset))
      abort();
    if ((e->dtype == KILN_DTYPE_INVALID) != (e->refusal != NULL)) abort();
    kiln_status *status =
        kiln_bundle_read(bundle, e, read_buffer, (size_t)e->size);
    if (status) {
      kiln_status_code code = kiln_status_get_code(status);
      if (code != KILN_ERR_INVALID_MODEL && code != KILN_ERR_UNSUPPORTED)
        abort();
      kiln_status_free(status);
    } else if (e->refusal ||
               (e->size &&
                memcmp(read_buffer, shard_bytes[e->shard_id] + e->offset,
                       (size_t)e->size) != 0)) {
      abort();
    }
  }
  if (kiln_bundle_entry_at(bundle, count)) abort();
}

static void open_and_check(const uint8_t *index, size_t size) {
  kiln_bundle_shard shards[2] = {{shard_bytes[0], SHARD_SIZE},
                                 {shard_bytes[1], SHARD_SIZE}};
  kiln_bundle *bundle = NULL;
  kiln_status *status =
      kiln_bundle_open_memory(index, size, shards, 2, NULL, &bundle);
  if (status) {
    if (bundle) abort();
    check_error(status, size);
    return;
  }
  check_bundle(bundle);
  kiln_bundle_free(bundle);
}

/* ----------------------------------------- repairing block checksums */

static bool loose_varint(const uint8_t *p, size_t *pos, size_t end,
                         uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 10 && *pos < end; i++) {
    uint8_t byte = p[(*pos)++];
    v |= (uint64_t)(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

static bool block_fits(size_t size, uint64_t offset, uint64_t len) {
  return offset <= size && len <= size - offset &&
         KILN_TABLE_TRAILER_SIZE <= size - offset - len;
}

static void fix_crc(uint8_t *p, size_t size, uint64_t offset, uint64_t len) {
  if (!block_fits(size, offset, len)) return;
  uint32_t crc = kiln_crc32c_mask(kiln_crc32c(p + offset, (size_t)len + 1));
  for (int i = 0; i < 4; i++)
    p[offset + len + 1 + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

/* Recomputes the checksums of the blocks the footer names and of the data
 * blocks the index block's values name (read loosely: entry by entry, no
 * keys rebuilt). */
static void repair(uint8_t *p, size_t size) {
  if (size < KILN_TABLE_FOOTER_SIZE) return;
  size_t pos = size - KILN_TABLE_FOOTER_SIZE, end = pos + 40;
  uint64_t handles[4];
  for (int i = 0; i < 4; i++)
    if (!loose_varint(p, &pos, end, &handles[i])) return;
  uint64_t index = handles[2], index_len = handles[3];
  if (block_fits(size, index, index_len) && index_len >= 4) {
    size_t at = (size_t)index, block_end = (size_t)(index + index_len) - 4;
    for (int n = 0; n < MAX_FIXED_BLOCKS && at < block_end; n++) {
      uint64_t shared, unshared, value_len, offset, len;
      if (!loose_varint(p, &at, block_end, &shared) ||
          !loose_varint(p, &at, block_end, &unshared) ||
          !loose_varint(p, &at, block_end, &value_len) ||
          unshared > block_end - at)
        break;
      at += (size_t)unshared;
      size_t value = at;
      if (value_len > block_end - at) break;
      at += (size_t)value_len;
      if (loose_varint(p, &value, at, &offset) &&
          loose_varint(p, &value, at, &len) &&
          !(offset < index + index_len + KILN_TABLE_TRAILER_SIZE &&
            index < offset + len + KILN_TABLE_TRAILER_SIZE))
        fix_crc(p, size, offset, len); /* not overlapping the index */
    }
  }
  fix_crc(p, size, handles[0], handles[1]);
  fix_crc(p, size, index, index_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    for (size_t i = 0; i < SHARD_SIZE; i++) {
      shard_bytes[0][i] = (uint8_t)(i * 7 + 1);
      shard_bytes[1][i] = (uint8_t)(i >> 3);
    }
    ready = true;
  }
  if (size > (1u << 20)) return 0;
  open_and_check(data, size);
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  if (size) memcpy(copy, data, size);
  repair(copy, size);
  open_and_check(copy, size);
  free(copy);
  return 0;
}
