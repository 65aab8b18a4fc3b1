/* flexbuffer.h - a small, bounds-checked reader of FlexBuffers maps, the
 * schema-less format TFLite's converter uses for some custom operators'
 * custom_options (TFLite_Detection_PostProcess's among them).
 *
 * Only what option maps need: the root must be a map, whose values are
 * read as numbers (ints, uints, floats and bools, stored inline or
 * indirect). Every offset, width, length and key is checked against the
 * buffer; a failure is a KILN_ERR_INVALID_MODEL status naming the byte
 * offset. The reader never recurses and never allocates; a lookup scans
 * the keys (at most one per byte of the buffer). */
#ifndef KILN_FORMATS_TFLITE_FLEXBUFFER_H
#define KILN_FORMATS_TFLITE_FLEXBUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

/* A checked map: its values (`length` of `width` bytes each, then one type
 * byte per value) and its keys vector. */
typedef struct kiln_flex_map {
  const uint8_t *buf;
  size_t size;
  size_t values; /* byte offset of value 0 */
  size_t keys;   /* byte offset of key slot 0 */
  uint64_t length;
  unsigned width, key_width;
} kiln_flex_map;

/* The root of `size` bytes, which must be a map. */
kiln_status *kiln_flex_root_map(const void *data, size_t size,
                                kiln_flex_map *out);

/* Value `key` as a number: *found is false when the map has no such key
 * (*out untouched); a key whose value is not a number is an error. */
kiln_status *kiln_flex_map_number(const kiln_flex_map *m, const char *key,
                                  bool *found, double *out);

#endif
