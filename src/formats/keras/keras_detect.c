/* keras_detect.c - whether bytes look like a Keras file: the HDF5
 * signature at byte 0 (.h5) or a zip local-file header (.keras). Built
 * with or without the Keras reader, so that a build without it still
 * recognizes the file and says what it lacks. */
#include <string.h>

#include "formats/keras/keras_import.h"

static const unsigned char hdf5_signature[8] = {0x89, 'H',  'D',  'F',
                                                '\r', '\n', 0x1a, '\n'};

bool kiln_keras_is_hdf5(const void *data, size_t size) {
  return size >= 8 && memcmp(data, hdf5_signature, 8) == 0;
}

bool kiln_keras_is_zip(const void *data, size_t size) {
  return size >= 4 && memcmp(data, "PK\003\004", 4) == 0;
}

bool kiln_keras_detect(const void *data, size_t size) {
  return kiln_keras_is_hdf5(data, size) || kiln_keras_is_zip(data, size);
}
