/* crc32c.h - CRC-32C (Castagnoli), the checksum of LevelDB tables and of
 * TensorFlow's checkpoint data (the TensorBundle reader uses it for the
 * index's blocks and for every tensor's bytes), with LevelDB's masking.
 *
 * Masking exists because LevelDB stores CRCs inside data that is itself
 * CRC'd: the CRC of a string holding its own CRC is degenerate, so the
 * stored value is rotated and offset instead of the plain CRC. */
#ifndef KILN_FORMATS_SAVEDMODEL_CRC32C_H
#define KILN_FORMATS_SAVEDMODEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of `size` bytes continuing from `crc` (a previous result;
 * 0 to start): kiln_crc32c_extend(kiln_crc32c_extend(0, a), b) is the CRC
 * of a followed by b. */
uint32_t kiln_crc32c_extend(uint32_t crc, const void *data, size_t size);

static inline uint32_t kiln_crc32c(const void *data, size_t size) {
  return kiln_crc32c_extend(0, data, size);
}

/* LevelDB's mask: rotate right by 15 bits and add a constant. */
static inline uint32_t kiln_crc32c_mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline uint32_t kiln_crc32c_unmask(uint32_t masked) {
  uint32_t rotated = masked - 0xa282ead8u;
  return (rotated >> 17) | (rotated << 15);
}

#endif
