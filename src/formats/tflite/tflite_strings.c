/* tflite_strings.c - reading TFLite's STRING tensor buffers.
 *
 * A STRING constant is stored packed: a little-endian int32 count, count + 1
 * int32 byte offsets from the start of the buffer, then the strings' bytes
 * back to back; string i is bytes [offset i, offset i+1). kiln keeps the
 * bytes where they are (in the model) and gives each element a
 * kiln_string view, so every offset is checked here, once, at load: a
 * hostile file must not make a view reach outside its buffer. */
#include "formats/tflite/tflite_strings.h"

#include "core/status.h"

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

#define BAD(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

kiln_status *kiln_tflite_string_views(const uint8_t *bytes, uint64_t size,
                                      int64_t count, kiln_string *views) {
  if (size < 4)
    return BAD("STRING buffer has %llu bytes, too few for its count",
               (unsigned long long)size);
  int64_t stored = (int32_t)read_u32(bytes);
  if (stored != count)
    return BAD(
        "STRING buffer holds %lld strings but the shape has %lld "
        "elements",
        (long long)stored, (long long)count);
  /* count is the shape's element count, which the importer bounded; the
   * offsets table must fit before any of it is read. */
  uint64_t table_end = 4 + 4 * ((uint64_t)count + 1);
  if (table_end > size)
    return BAD(
        "STRING buffer has %llu bytes, too few for %lld strings' "
        "offsets (%llu bytes)",
        (unsigned long long)size, (long long)count,
        (unsigned long long)table_end);
  uint64_t previous = read_u32(bytes + 4);
  if (previous < table_end || previous > size)
    return BAD(
        "STRING buffer offset 0 is %llu, outside the string bytes "
        "[%llu, %llu]",
        (unsigned long long)previous, (unsigned long long)table_end,
        (unsigned long long)size);
  for (int64_t i = 0; i < count; i++) {
    uint64_t next = read_u32(bytes + 4 + 4 * (uint64_t)(i + 1));
    if (next < previous)
      return BAD(
          "STRING buffer offset %lld (%llu) is before offset %lld "
          "(%llu): offsets must not decrease",
          (long long)(i + 1), (unsigned long long)next, (long long)i,
          (unsigned long long)previous);
    if (next > size)
      return BAD(
          "STRING buffer offset %lld (%llu) is past the end of its "
          "%llu bytes",
          (long long)(i + 1), (unsigned long long)next,
          (unsigned long long)size);
    views[i].data = (const char *)bytes + previous;
    views[i].size = (size_t)(next - previous);
    previous = next;
  }
  return NULL;
}
