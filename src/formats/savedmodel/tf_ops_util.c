/* tf_ops_util.c - attribute access and node helpers for the op converters
 * (tf_ops_util.h). */
#include "formats/savedmodel/tf_ops_util.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"

int64_t sm_attr_int(const kiln_tf_node *n, const char *key, int64_t fallback) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, key);
  return v && v->kind == KILN_TF_ATTR_I ? v->i : fallback;
}

float sm_attr_float(const kiln_tf_node *n, const char *key, float fallback) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, key);
  return v && v->kind == KILN_TF_ATTR_F ? v->f : fallback;
}

bool sm_attr_bool(const kiln_tf_node *n, const char *key, bool fallback) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, key);
  return v && v->kind == KILN_TF_ATTR_B ? v->b : fallback;
}

const char *sm_attr_str(const kiln_tf_node *n, const char *key,
                        const char *fallback, char *buf, size_t size) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, key);
  if (!v || v->kind != KILN_TF_ATTR_S) return fallback;
  snprintf(buf, size, "%.*s", (int)v->s.len, v->s.data);
  return buf;
}

kiln_status *sm_attr_ints(const sm_importer *im, const kiln_tf_node *n,
                          const char *key, int count, int max, int64_t *out,
                          int *got) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, key);
  size_t have = 0;
  if (v && v->kind == KILN_TF_ATTR_LIST && v->list) have = v->list->i_count;
  if (!v || (v->kind != KILN_TF_ATTR_LIST && v->kind != KILN_TF_ATTR_NONE))
    have = 0;
  if (count >= 0 ? have != (size_t)count : have > (size_t)max)
    return sm_node_error(im, n, "attribute '%s' has %zu values where %d %s",
                         key, have, count >= 0 ? count : max,
                         count >= 0 ? "are needed" : "at most are read");
  for (size_t i = 0; i < have; i++) out[i] = v->list->i[i];
  if (got) *got = (int)have;
  return NULL;
}

kiln_status *sm_attr_dtype(const sm_importer *im, const kiln_tf_node *n,
                           const char *key, kiln_dtype *out) {
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, key);
  if (!v || v->kind != KILN_TF_ATTR_TYPE)
    return sm_node_error(im, n, "has no type attribute '%s'", key);
  kiln_status *st = kiln_tf_dtype_to_kiln(v->type, out);
  if (st) {
    kiln_status *e = sm_node_error(im, n, "attribute '%s': %s", key,
                                   kiln_status_message(st));
    kiln_status_free(st);
    return e;
  }
  return NULL;
}

kiln_status *sm_inputs(const sm_importer *im, const kiln_tf_node *n, int num_in,
                       int lo, int hi) {
  if (num_in < lo || num_in > hi)
    return sm_node_error(im, n, "has %d inputs where %d to %d are expected",
                         num_in, lo, hi);
  return NULL;
}

kiln_status *sm_nhwc(const sm_importer *im, const kiln_tf_node *n) {
  char buf[32];
  const char *f = sm_attr_str(n, "data_format", "NHWC", buf, sizeof buf);
  if (strcmp(f, "NHWC") != 0 && strcmp(f, "NWC") != 0 &&
      strcmp(f, "NDHWC") != 0)
    return sm_node_error(im, n,
                         "data_format %s is not supported (kiln runs "
                         "channels-last, NHWC)",
                         f);
  return NULL;
}

static void value_name(const char *name, const char *suffix, char *buf,
                       size_t size) {
  if (suffix)
    snprintf(buf, size, "%s/%s", name, suffix);
  else
    snprintf(buf, size, "%s", name);
}

kiln_status *sm_node(sm_importer *im, kiln_op_type op, const int *inputs,
                     int num_inputs, const void *attrs, const char *name,
                     const char *suffix, kiln_dtype dtype, int *out) {
  char full[600];
  value_name(name, suffix, full, sizeof full);
  return kiln_gb_node(&im->gb, op, inputs, num_inputs, attrs, full, dtype, out);
}

kiln_status *sm_unary(sm_importer *im, kiln_op_type op, int x, const char *name,
                      const char *suffix, int *out) {
  return sm_node(im, op, &x, 1, NULL, name, suffix, KILN_DTYPE_INVALID, out);
}

kiln_status *sm_binary(sm_importer *im, kiln_op_type op, int a, int b,
                       const char *name, const char *suffix, int *out) {
  int ins[2] = {a, b};
  return sm_node(im, op, ins, 2, NULL, name, suffix, KILN_DTYPE_INVALID, out);
}

kiln_status *sm_const_i32(sm_importer *im, const char *name, const char *suffix,
                          const int32_t *values, int count, int *out) {
  char full[600];
  value_name(name, suffix, full, sizeof full);
  return kiln_gb_const_i32(&im->gb, full, values, count, out);
}

kiln_status *sm_const_f32(sm_importer *im, const char *name, const char *suffix,
                          float value, int *out) {
  char full[600];
  value_name(name, suffix, full, sizeof full);
  void *data;
  KILN_TRY(kiln_gb_const(&im->gb, full, KILN_FLOAT32, 0, NULL, out, &data));
  memcpy(data, &value, sizeof value);
  return NULL;
}

const kiln_value *sm_value(const sm_importer *im, int id) {
  return &im->gb.g->values[id];
}
