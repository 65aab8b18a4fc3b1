/* tf_ops_util.h - what the TensorFlow op converters (tf_ops*.c) share:
 * reading a NodeDef's attributes with errors naming the node, and adding
 * IR nodes and constants named after it. Not for use outside
 * src/formats/savedmodel/. */
#ifndef KILN_FORMATS_SAVEDMODEL_TF_OPS_UTIL_H
#define KILN_FORMATS_SAVEDMODEL_TF_OPS_UTIL_H

#include "formats/savedmodel/savedmodel_internal.h"

/* An int attribute, or `fallback` when absent. */
int64_t sm_attr_int(const kiln_tf_node *n, const char *key, int64_t fallback);
float sm_attr_float(const kiln_tf_node *n, const char *key, float fallback);
bool sm_attr_bool(const kiln_tf_node *n, const char *key, bool fallback);
/* A string attribute copied into buf (NUL-terminated), or `fallback`. */
const char *sm_attr_str(const kiln_tf_node *n, const char *key,
                        const char *fallback, char *buf, size_t size);
/* A list(int) attribute of exactly `count` values (`count` < 0: any up to
 * `max`, their number in *got). */
kiln_status *sm_attr_ints(const sm_importer *im, const kiln_tf_node *n,
                          const char *key, int count, int max, int64_t *out,
                          int *got);
/* A type attribute as a kiln dtype. */
kiln_status *sm_attr_dtype(const sm_importer *im, const kiln_tf_node *n,
                           const char *key, kiln_dtype *out);

/* Checks the node has between lo and hi data inputs. */
kiln_status *sm_inputs(const sm_importer *im, const kiln_tf_node *n, int num_in,
                       int lo, int hi);
/* Refuses data_format other than NHWC (or NWC/NDHWC's channels-last). */
kiln_status *sm_nhwc(const sm_importer *im, const kiln_tf_node *n);

/* An IR node named name + "/" + suffix (suffix NULL: name itself). */
kiln_status *sm_node(sm_importer *im, kiln_op_type op, const int *inputs,
                     int num_inputs, const void *attrs, const char *name,
                     const char *suffix, kiln_dtype dtype, int *out);
/* Attribute-free elementwise nodes of input 0's dtype: what composed
 * operators (Selu, Softplus, Erf) are built of. */
kiln_status *sm_unary(sm_importer *im, kiln_op_type op, int x, const char *name,
                      const char *suffix, int *out);
kiln_status *sm_binary(sm_importer *im, kiln_op_type op, int a, int b,
                       const char *name, const char *suffix, int *out);
kiln_status *sm_const_i32(sm_importer *im, const char *name, const char *suffix,
                          const int32_t *values, int count, int *out);
kiln_status *sm_const_f32(sm_importer *im, const char *name, const char *suffix,
                          float value, int *out);
const kiln_value *sm_value(const sm_importer *im, int id);

#endif
