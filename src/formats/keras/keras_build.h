/* keras_build.h - what a Keras layer's builder (keras_layers*.c) gets: the
 * graph being built, the layer's config (a jansson object), its weights,
 * and helpers that add constants and operator nodes with their output
 * shapes worked out on the spot, so that the next layer can read them
 * (Flatten needs its input's size, UpSampling2D its height and width).
 *
 * Keras tensors are channels-last like kiln's kernels; a layer configured
 * with data_format "channels_first" is refused by name. */
#ifndef KILN_FORMATS_KERAS_KERAS_BUILD_H
#define KILN_FORMATS_KERAS_KERAS_BUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/op_attrs.h"
#include "formats/keras/keras_file.h"

typedef struct kiln_keras_builder {
  kiln_graph *g;
  kiln_keras_file *file;
  const char *source;
  /* The layer being built. */
  const char *layer;      /* its name, scoped by nested models */
  const char *class_name; /* "Conv2D" */
  const json_t *config;   /* its "config" object */
  int layer_index;        /* in the model's layer list: the node source */
  bool batch_dynamic;     /* the model's inputs have an unknown batch */
  bool conv_1d; /* a 1-D convolution: its kernel lacks the height axis */
  /* The call's inbound node as Keras 3 writes it ({"args": [...],
   * "kwargs": {...}}), whose tensors are the inputs in that order (args,
   * then tensor-valued kwargs); NULL for tf.keras's list form and for
   * Sequential models. A layer whose inputs have roles (MultiHeadAttention's
   * query, value, key) reads them from it. */
  const json_t *call;
} kiln_keras_builder;

/* A layer's builder: reads `inputs` (value ids), adds its nodes, and
 * returns its output value ids (at most KILN_KERAS_MAX_OUTPUTS). */
#define KILN_KERAS_MAX_OUTPUTS 8
typedef kiln_status *(*kiln_keras_build_fn)(kiln_keras_builder *b,
                                            const int *inputs, int num_inputs,
                                            int *outputs, int *num_outputs);

typedef struct kiln_keras_layer_def {
  const char *class_name;
  kiln_keras_build_fn build;
} kiln_keras_layer_def;

/* The builder of `class_name`, or NULL when kiln has none. */
const kiln_keras_layer_def *kiln_keras_find_layer(const char *class_name);

/* An error prefixed with the file, layer name and class. */
kiln_status *kiln_keras_error(const kiln_keras_builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the layer's config ---- */
kiln_status *kiln_keras_int(const kiln_keras_builder *b, const char *key,
                            int fallback, int *out);
kiln_status *kiln_keras_float(const kiln_keras_builder *b, const char *key,
                              double fallback, double *out);
kiln_status *kiln_keras_bool(const kiln_keras_builder *b, const char *key,
                             bool fallback, bool *out);
/* A string, or `fallback` when absent or null. */
const char *kiln_keras_str(const kiln_keras_builder *b, const char *key,
                           const char *fallback);
/* `n` ints from a list of n, or one int repeated (Keras's kernel_size=3). */
kiln_status *kiln_keras_ints(const kiln_keras_builder *b, const char *key,
                             int n, const int *fallback, int *out);
/* Checks the layer is given one input, of `rank` (-1: any). */
kiln_status *kiln_keras_one_input(const kiln_keras_builder *b, const int *in,
                                  int n, int rank);
/* Refuses data_format "channels_first". */
kiln_status *kiln_keras_channels_last(const kiln_keras_builder *b);

/* ---- graph ---- */
/* A constant named "<layer>/<suffix>", zeroed; *out_data is valid until
 * the next value is added. */
kiln_status *kiln_keras_const(kiln_keras_builder *b, const char *suffix,
                              kiln_dtype dtype, int rank, const int64_t *dims,
                              int *out_id, void **out_data);
kiln_status *kiln_keras_const_i32(kiln_keras_builder *b, const char *suffix,
                                  const int32_t *values, int count,
                                  int *out_id);
kiln_status *kiln_keras_const_f32(kiln_keras_builder *b, const char *suffix,
                                  const float *values, int rank,
                                  const int64_t *dims, int *out_id);
/* Weight `index` of the layer as a float32 constant, after checking its
 * rank (and dims where expected[d] >= 0). Its data in *out_data when
 * that is not NULL. */
kiln_status *kiln_keras_weight_const(kiln_keras_builder *b, int index,
                                     const char *suffix, int rank,
                                     const int64_t *expected, int *out_id,
                                     int64_t *out_dims);
/* Weight `index` read into memory (kiln_free it) after the same checks. */
kiln_status *kiln_keras_weight_read(kiln_keras_builder *b, int index, int rank,
                                    const int64_t *expected, int64_t *out_dims,
                                    float **out_data);
int kiln_keras_num_weights(const kiln_keras_builder *b);

/* Adds `op` reading `inputs` with the attribute struct `attrs` (NULL for
 * zeroed), its one output value named "<layer>" or "<layer>/<suffix>" of
 * `dtype` (KILN_DTYPE_INVALID: input 0's), shaped by the op's shape function
 * now. */
kiln_status *kiln_keras_node(kiln_keras_builder *b, kiln_op_type op,
                             const int *inputs, int num_inputs,
                             const void *attrs, const char *suffix,
                             kiln_dtype dtype, int *out_id);
/* An activation by its Keras name ("relu", "swish", ...) applied to x; *out
 * is x itself for "linear". */
kiln_status *kiln_keras_activation(kiln_keras_builder *b, const char *name,
                                   int x, const char *suffix, int *out);

/* The value (its default dims). The pointer is good until the next value
 * is added: adding one may move the graph's value array. */
const kiln_value *kiln_keras_value(const kiln_keras_builder *b, int id);

#endif
