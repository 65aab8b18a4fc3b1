/* npy.h - NumPy .npy files: the in-memory entry point behind kiln_npy_load.
 *
 * kiln_npy_load and kiln_npy_save (declared in kiln.h) read and write files;
 * kiln_npy_parse reads the same format from a buffer, for the fuzzer and for
 * callers that already hold the bytes. */
#ifndef KILN_FORMATS_NPY_NPY_H
#define KILN_FORMATS_NPY_NPY_H

#include <stddef.h>

#include "kiln.h"

/* Parses a whole .npy file held in memory (format 1.0-3.0, C order, host
 * byte order). The array data is copied into a new block from
 * kiln_malloc(NULL, ...); release it with kiln_array_free. `name` labels
 * error messages (NULL: "<memory>"). On error *out_array is zeroed. Bytes
 * after the data the shape needs are ignored, as numpy does. */
kiln_status *kiln_npy_parse(const void *data, size_t size, const char *name,
                            kiln_array *out_array);

#endif
