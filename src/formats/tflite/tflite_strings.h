/* tflite_strings.h - TFLite's packed STRING buffers (string_util.h's
 * layout) turned into kiln_string views (see tflite_strings.c). */
#ifndef KILN_FORMATS_TFLITE_STRINGS_H
#define KILN_FORMATS_TFLITE_STRINGS_H

#include <stdint.h>

#include "kiln.h"

/* Checks the packed buffer `bytes` (`size` bytes) of a STRING tensor of
 * `count` elements and points views[0..count) at its strings. The views
 * point into `bytes`, which must outlive them. The error says what is
 * wrong (the caller names the tensor). */
kiln_status *kiln_tflite_string_views(const uint8_t *bytes, uint64_t size,
                                      int64_t count, kiln_string *views);

#endif
