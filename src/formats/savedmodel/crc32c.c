/* crc32c.c - CRC-32C in portable C: slicing-by-8 tables (eight bytes per
 * step, about 1 GB/s, enough for checkpoint files that are read once at
 * load) built on first use. The polynomial is Castagnoli's 0x1EDC6F41,
 * reflected 0x82F63B78; the register starts at all ones and is inverted at
 * the end, as iSCSI, LevelDB and TensorFlow compute it. */
#include "formats/savedmodel/crc32c.h"

#include <pthread.h>

#define CRC32C_POLY_REFLECTED 0x82F63B78u

/* table[k][b]: the CRC of byte b followed by k zero bytes. */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; bit++)
      crc = (crc >> 1) ^ ((crc & 1) ? CRC32C_POLY_REFLECTED : 0);
    table[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; b++)
    for (int k = 1; k < 8; k++)
      table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

uint32_t kiln_crc32c_extend(uint32_t crc, const void *data, size_t size) {
  pthread_once(&table_once, build_table);
  const uint8_t *p = data;
  uint32_t c = ~crc;
  /* Bytes one at a time are folded in little-endian order, so the
   * eight-byte step reads them explicitly rather than as a host word. */
  while (size >= 8) {
    uint32_t low = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                        (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    c = table[7][low & 0xff] ^ table[6][(low >> 8) & 0xff] ^
        table[5][(low >> 16) & 0xff] ^ table[4][low >> 24] ^ table[3][p[4]] ^
        table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
    p += 8;
    size -= 8;
  }
  while (size--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
  return ~c;
}
