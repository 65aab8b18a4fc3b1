/* keras_file.h - the two containers Keras saves a model in, opened from
 * memory: a legacy HDF5 file (.h5: the model config as the root attribute
 * "model_config", weights under /model_weights/<layer>/ listed by each
 * group's "weight_names" attribute) and a Keras 3 archive (.keras: a zip
 * holding config.json and model.weights.h5, whose weights sit under
 * layers/<path>/vars/<i> with the layer's name as the "name" attribute of
 * vars). Both end as the config JSON text and one open HDF5 file whose
 * weights are found by layer name (keras_weights.c).
 *
 * libhdf5 is not known to be safe to call from two threads at once in
 * Debian's serial build, and its error stack is process-wide: every call
 * into it happens under kiln_keras_hdf5_lock(). */
#ifndef KILN_FORMATS_KERAS_KERAS_FILE_H
#define KILN_FORMATS_KERAS_KERAS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

typedef enum kiln_keras_layout {
  KILN_KERAS_LEGACY_H5, /* model.save("m.h5"), tf.keras or Keras 3 */
  KILN_KERAS_V3,        /* model.save("m.keras") */
} kiln_keras_layout;

/* Where one layer's weights are: an HDF5 group path and how its
 * datasets are named in it. */
typedef struct kiln_keras_weight_group {
  char *layer;  /* the layer's name, scoped by nested models ("inner/conv") */
  char *path;   /* the group ("model_weights/conv" or "layers/conv2d/vars") */
  char **names; /* legacy: dataset paths inside `path`, in weight order */
  int count;    /* how many weights the group holds */
} kiln_keras_weight_group;

/* Bytes libhdf5 reads in place. */
typedef struct kiln_keras_image {
  const void *data;
  size_t size;
} kiln_keras_image;

typedef struct kiln_keras_file {
  const kiln_allocator *alloc;
  const char *source;
  kiln_keras_layout layout;
  char *config; /* the model config JSON, NUL-terminated */
  size_t config_len;
  int64_t h5;  /* hid_t of the weights file, or -1 */
  void *image; /* .keras: model.weights.h5 inflated, which the open file
                  reads in place (owned; .h5 files are read from the
                  caller's bytes) */
  kiln_keras_image borrowed; /* what libhdf5's image callbacks hand out */
  kiln_keras_weight_group *groups;
  int num_groups, cap_groups;
  /* No weights file: every weight asked for is made up, of the shape the
   * layer asks for (the config fuzz target walks configs this way). */
  bool synthetic;
} kiln_keras_file;

/* Opens the container. On failure nothing is left open. */
kiln_status *kiln_keras_file_open(const void *data, size_t size,
                                  const char *source,
                                  const kiln_allocator *alloc,
                                  kiln_keras_file *out);
void kiln_keras_file_close(kiln_keras_file *f);

/* One weight of a layer, read as float32 into memory from `alloc`
 * (*out_data, free with kiln_free), with its shape. `index` counts the
 * layer's weights in Keras's order; want_rank and want (NULL, or -1 for
 * any size) are what the layer expects, which only a synthetic file
 * uses. Errors name the layer and what the file holds. */
kiln_status *kiln_keras_weight(kiln_keras_file *f, const char *layer, int index,
                               int want_rank, const int64_t *want,
                               int *out_rank, int64_t *out_dims,
                               float **out_data);

/* How many weights the file holds for `layer` (0 when it has none). */
int kiln_keras_weight_count(const kiln_keras_file *f, const char *layer);

void kiln_keras_hdf5_lock(void);
void kiln_keras_hdf5_unlock(void);

#endif
