/* tf_ops.c - the table from TensorFlow op names to converters, and the
 * converters of the elementwise, activation, reduction and data-movement
 * ops; convolutions, products and normalization are in tf_ops_nn.c.
 * Operands kiln takes as tensors (a Reshape's shape, a Mean's axes) stay
 * tensors: constant ones have been folded by the time they are read. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "formats/savedmodel/tf_ops_nn.h"
#include "formats/savedmodel/tf_ops_util.h"

/* The most bytes a Const without tensor_content expands to. */
#define SM_MAX_REPEATED_CONST_BYTES ((size_t)64 << 20)

/* ---- elementwise ---- */

typedef struct simple_op {
  const char *tf;
  kiln_op_type op;
  int inputs;
} simple_op;

static const simple_op simple_ops[] = {
    {"Add", KILN_OP_ADD, 2},
    {"AddV2", KILN_OP_ADD, 2},
    {"BiasAdd", KILN_OP_ADD, 2},
    {"Sub", KILN_OP_SUB, 2},
    {"Mul", KILN_OP_MUL, 2},
    {"RealDiv", KILN_OP_DIV, 2},
    {"Maximum", KILN_OP_MAXIMUM, 2},
    {"Minimum", KILN_OP_MINIMUM, 2},
    {"Pow", KILN_OP_POW, 2},
    {"SquaredDifference", KILN_OP_SQUARED_DIFFERENCE, 2},
    {"FloorDiv", KILN_OP_FLOOR_DIV, 2},
    {"FloorMod", KILN_OP_FLOOR_MOD, 2},
    {"Less", KILN_OP_LESS, 2},
    {"LessEqual", KILN_OP_LESS_EQUAL, 2},
    {"Greater", KILN_OP_GREATER, 2},
    {"GreaterEqual", KILN_OP_GREATER_EQUAL, 2},
    {"Equal", KILN_OP_EQUAL, 2},
    {"NotEqual", KILN_OP_NOT_EQUAL, 2},
    {"LogicalAnd", KILN_OP_LOGICAL_AND, 2},
    {"LogicalOr", KILN_OP_LOGICAL_OR, 2},
    {"SelectV2", KILN_OP_SELECT_V2, 3},
    {"Square", KILN_OP_SQUARE, 1},
    {"Sqrt", KILN_OP_SQRT, 1},
    {"Rsqrt", KILN_OP_RSQRT, 1},
    {"Exp", KILN_OP_EXP, 1},
    {"Log", KILN_OP_LOG, 1},
    {"Neg", KILN_OP_NEG, 1},
    {"Abs", KILN_OP_ABS, 1},
    {"Floor", KILN_OP_FLOOR, 1},
    {"Ceil", KILN_OP_CEIL, 1},
    {"Round", KILN_OP_ROUND, 1},
    {"Sign", KILN_OP_SIGN, 1},
    {"Sin", KILN_OP_SIN, 1},
    {"Cos", KILN_OP_COS, 1},
    {"LogicalNot", KILN_OP_LOGICAL_NOT, 1},
    {"ZerosLike", KILN_OP_ZEROS_LIKE, 1},
    {"Relu", KILN_OP_RELU, 1},
    {"Relu6", KILN_OP_RELU6, 1},
    {"Elu", KILN_OP_ELU, 1},
    {"Sigmoid", KILN_OP_LOGISTIC, 1},
    {"Tanh", KILN_OP_TANH, 1},
    {"LogSoftmax", KILN_OP_LOG_SOFTMAX, 1},
    {"Transpose", KILN_OP_TRANSPOSE, 2},
    {"ExpandDims", KILN_OP_EXPAND_DIMS, 2},
    {"Slice", KILN_OP_SLICE, 3},
    {"Pad", KILN_OP_PAD, 2},
    {"PadV2", KILN_OP_PADV2, 3},
    {"Tile", KILN_OP_TILE, 2},
    {"BroadcastTo", KILN_OP_BROADCAST_TO, 2},
    {"Fill", KILN_OP_FILL, 2},
    {"Range", KILN_OP_RANGE, 3},
    {"ArgMax", KILN_OP_ARG_MAX, 2},
    {"ArgMin", KILN_OP_ARG_MIN, 2},
};

static const simple_op *find_simple(kiln_tf_str op) {
  for (size_t i = 0; i < sizeof simple_ops / sizeof simple_ops[0]; i++)
    if (kiln_tf_str_eq(op, simple_ops[i].tf)) return &simple_ops[i];
  return NULL;
}

/* Ops whose kiln form is the same op on the same inputs. */
static kiln_status *convert_simple(sm_importer *im, const kiln_tf_node *n,
                                   const char *name, const sm_ref *in,
                                   int num_in, sm_ref *out) {
  const simple_op *s = find_simple(n->op);
  KILN_TRY(sm_inputs(im, n, num_in, s->inputs, s->inputs));
  if (kiln_tf_str_eq(n->op, "BiasAdd")) KILN_TRY(sm_nhwc(im, n));
  int ids[3];
  for (int i = 0; i < num_in; i++) ids[i] = in[i].id;
  kiln_dtype dtype = KILN_DTYPE_INVALID;
  if (kiln_tf_str_eq(n->op, "ArgMax") || kiln_tf_str_eq(n->op, "ArgMin"))
    KILN_TRY(sm_attr_dtype(im, n, "output_type", &dtype));
  if (s->op == KILN_OP_LESS || s->op == KILN_OP_LESS_EQUAL ||
      s->op == KILN_OP_GREATER || s->op == KILN_OP_GREATER_EQUAL ||
      s->op == KILN_OP_EQUAL || s->op == KILN_OP_NOT_EQUAL)
    dtype = KILN_BOOL;
  if (kiln_tf_str_eq(n->op, "Fill") || kiln_tf_str_eq(n->op, "SelectV2"))
    dtype = sm_value(im, ids[1])->dtype;
  out->kind = SM_VALUE;
  return sm_node(im, s->op, ids, num_in, NULL, name, NULL, dtype, &out->id);
}

static kiln_status *convert_const(sm_importer *im, const kiln_tf_node *n,
                                  const char *name, const sm_ref *in,
                                  int num_in, sm_ref *out) {
  (void)in;
  KILN_TRY(sm_inputs(im, n, num_in, 0, 0));
  const kiln_tf_attr_value *v = kiln_tf_node_attr(n, "value");
  if (!v || v->kind != KILN_TF_ATTR_TENSOR || !v->tensor)
    return sm_node_error(im, n, "has no tensor attribute 'value'");
  /* A tensor whose bytes are in the file (tensor_content) may be as large
   * as the file allows; one made of repeated values (a few bytes claiming
   * any shape) is held to a smaller bound. */
  kiln_tf_decoded d;
  kiln_status *st = kiln_tf_tensor_decode(
      v->tensor, v->tensor->has_content ? 0 : SM_MAX_REPEATED_CONST_BYTES, &d);
  if (st) {
    kiln_status *e = sm_node_error(im, n, "%s", kiln_status_message(st));
    kiln_status_free(st);
    return e;
  }
  void *data;
  st = kiln_gb_const(&im->gb, name, d.dtype, d.rank, d.rank ? d.dims : NULL,
                     &out->id, &data);
  if (!st && d.nbytes) memcpy(data, d.data, d.nbytes);
  kiln_tf_decoded_free(&d);
  out->kind = SM_VALUE;
  return st;
}

static kiln_status *convert_shape(sm_importer *im, const kiln_tf_node *n,
                                  const char *name, const sm_ref *in,
                                  int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  kiln_dtype dtype = KILN_INT32;
  if (kiln_tf_node_attr(n, "out_type"))
    KILN_TRY(sm_attr_dtype(im, n, "out_type", &dtype));
  if (dtype != KILN_INT32 && dtype != KILN_INT64)
    return sm_node_error(im, n, "out_type must be int32 or int64");
  /* The shape is known now (an unknown batch taken as 1, which then
   * fixes the batch: sm_importer.fixed_batch). */
  const kiln_value *x = sm_value(im, in[0].id);
  int rank = x->rank;
  int64_t dims[KILN_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    dims[d] = x->dims[d];
    if (!x->is_constant && x->signature[d] < 0) im->fixed_batch = true;
  }
  int64_t len[1] = {rank};
  void *data;
  KILN_TRY(kiln_gb_const(&im->gb, name, dtype, 1, len, &out->id, &data));
  for (int d = 0; d < rank; d++) {
    if (dtype == KILN_INT32)
      ((int32_t *)data)[d] = (int32_t)dims[d];
    else
      ((int64_t *)data)[d] = dims[d];
  }
  out->kind = SM_VALUE;
  return NULL;
}

static kiln_status *convert_cast(sm_importer *im, const kiln_tf_node *n,
                                 const char *name, const sm_ref *in, int num_in,
                                 sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  kiln_dtype dtype;
  KILN_TRY(sm_attr_dtype(im, n, "DstT", &dtype));
  out->kind = SM_VALUE;
  if (dtype == sm_value(im, in[0].id)->dtype) {
    out->id = in[0].id;
    return NULL;
  }
  return sm_node(im, KILN_OP_CAST, &in[0].id, 1, NULL, name, NULL, dtype,
                 &out->id);
}

static kiln_status *convert_softmax(sm_importer *im, const kiln_tf_node *n,
                                    const char *name, const sm_ref *in,
                                    int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  kiln_softmax_attrs a = {.beta = 1.0f};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_SOFTMAX, &in[0].id, 1, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_leaky_relu(sm_importer *im, const kiln_tf_node *n,
                                       const char *name, const sm_ref *in,
                                       int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  kiln_leaky_relu_attrs a = {.alpha = sm_attr_float(n, "alpha", 0.2f)};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_LEAKY_RELU, &in[0].id, 1, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

/* selu(x) = scale * (relu(x) + alpha * min(elu(x), 0)), TensorFlow's
 * constants. */
static kiln_status *convert_selu(sm_importer *im, const kiln_tf_node *n,
                                 const char *name, const sm_ref *in, int num_in,
                                 sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  const float alpha = 1.6732632423543772f, scale = 1.0507009873554805f;
  int x = in[0].id, zero, c_pos, c_neg, elu, neg, pos, a, b;
  KILN_TRY(sm_const_f32(im, name, "zero", 0.0f, &zero));
  KILN_TRY(sm_const_f32(im, name, "scale", scale, &c_pos));
  KILN_TRY(sm_const_f32(im, name, "scale_alpha", scale * alpha, &c_neg));
  KILN_TRY(sm_unary(im, KILN_OP_ELU, x, name, "elu", &elu));
  KILN_TRY(sm_binary(im, KILN_OP_MINIMUM, elu, zero, name, "negative", &neg));
  KILN_TRY(sm_unary(im, KILN_OP_RELU, x, name, "positive", &pos));
  KILN_TRY(sm_binary(im, KILN_OP_MUL, pos, c_pos, name, "scaled_positive", &a));
  KILN_TRY(sm_binary(im, KILN_OP_MUL, neg, c_neg, name, "scaled_negative", &b));
  out->kind = SM_VALUE;
  return sm_binary(im, KILN_OP_ADD, a, b, name, NULL, &out->id);
}

/* softplus(x) = relu(x) + log(1 + exp(-|x|)), which never overflows. */
static kiln_status *convert_softplus(sm_importer *im, const kiln_tf_node *n,
                                     const char *name, const sm_ref *in,
                                     int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  int x = in[0].id, one, abs, neg, e, sum, lg, pos;
  KILN_TRY(sm_const_f32(im, name, "one", 1.0f, &one));
  KILN_TRY(sm_unary(im, KILN_OP_ABS, x, name, "abs", &abs));
  KILN_TRY(sm_unary(im, KILN_OP_NEG, abs, name, "neg", &neg));
  KILN_TRY(sm_unary(im, KILN_OP_EXP, neg, name, "exp", &e));
  KILN_TRY(sm_binary(im, KILN_OP_ADD, e, one, name, "add", &sum));
  KILN_TRY(sm_unary(im, KILN_OP_LOG, sum, name, "log", &lg));
  KILN_TRY(sm_unary(im, KILN_OP_RELU, x, name, "relu", &pos));
  out->kind = SM_VALUE;
  return sm_binary(im, KILN_OP_ADD, pos, lg, name, NULL, &out->id);
}

/* erf(x) = sign(x) * (1 - poly(t) * exp(-x^2)), t = 1 / (1 + p|x|):
 * Abramowitz and Stegun's 7.1.26, within 1.5e-7 of erf everywhere (about
 * float32's own rounding), built from kiln's elementwise operators since
 * kiln has no ERF. */
static kiln_status *convert_erf(sm_importer *im, const kiln_tf_node *n,
                                const char *name, const sm_ref *in, int num_in,
                                sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  static const float a[5] = {0.254829592f, -0.284496736f, 1.421413741f,
                             -1.453152027f, 1.061405429f};
  int x = in[0].id, ax, sg, c_p, one, t0, t1, t, sq, nsq, e, acc, k, tmp;
  if (sm_value(im, x)->dtype != KILN_FLOAT32)
    return sm_node_error(im, n, "kiln computes Erf on float32 only");
  KILN_TRY(sm_const_f32(im, name, "p", 0.3275911f, &c_p));
  KILN_TRY(sm_const_f32(im, name, "one", 1.0f, &one));
  KILN_TRY(sm_unary(im, KILN_OP_ABS, x, name, "abs", &ax));
  KILN_TRY(sm_unary(im, KILN_OP_SIGN, x, name, "sign", &sg));
  KILN_TRY(sm_binary(im, KILN_OP_MUL, ax, c_p, name, "px", &t0));
  KILN_TRY(sm_binary(im, KILN_OP_ADD, t0, one, name, "one_px", &t1));
  KILN_TRY(sm_binary(im, KILN_OP_DIV, one, t1, name, "t", &t));
  /* Horner: ((((a5 t + a4) t + a3) t + a2) t + a1) t. */
  KILN_TRY(sm_const_f32(im, name, "a5", a[4], &k));
  KILN_TRY(sm_binary(im, KILN_OP_MUL, t, k, name, "h5", &acc));
  for (int j = 3; j >= 0; j--) {
    char suffix[16];
    snprintf(suffix, sizeof suffix, "a%d", j + 1);
    KILN_TRY(sm_const_f32(im, name, suffix, a[j], &k));
    snprintf(suffix, sizeof suffix, "h%d_add", j + 1);
    KILN_TRY(sm_binary(im, KILN_OP_ADD, acc, k, name, suffix, &tmp));
    snprintf(suffix, sizeof suffix, "h%d", j + 1);
    KILN_TRY(sm_binary(im, KILN_OP_MUL, tmp, t, name, suffix, &acc));
  }
  KILN_TRY(sm_binary(im, KILN_OP_MUL, ax, ax, name, "x2", &sq));
  KILN_TRY(sm_unary(im, KILN_OP_NEG, sq, name, "neg_x2", &nsq));
  KILN_TRY(sm_unary(im, KILN_OP_EXP, nsq, name, "exp", &e));
  KILN_TRY(sm_binary(im, KILN_OP_MUL, acc, e, name, "tail", &tmp));
  KILN_TRY(sm_binary(im, KILN_OP_SUB, one, tmp, name, "erf_abs", &tmp));
  out->kind = SM_VALUE;
  return sm_binary(im, KILN_OP_MUL, sg, tmp, name, NULL, &out->id);
}

/* erfc(x) = 1 - erf(x) (absolute error as erf's). */
static kiln_status *convert_erfc(sm_importer *im, const kiln_tf_node *n,
                                 const char *name, const sm_ref *in, int num_in,
                                 sm_ref *out) {
  char erf_name[600];
  snprintf(erf_name, sizeof erf_name, "%s/erf", name);
  sm_ref erf = {0};
  KILN_TRY(convert_erf(im, n, erf_name, in, num_in, &erf));
  int one;
  KILN_TRY(sm_const_f32(im, name, "one", 1.0f, &one));
  out->kind = SM_VALUE;
  return sm_binary(im, KILN_OP_SUB, one, erf.id, name, NULL, &out->id);
}

/* ---- reductions ---- */

static kiln_status *convert_reduce(sm_importer *im, const kiln_tf_node *n,
                                   const char *name, const sm_ref *in,
                                   int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  kiln_op_type op = KILN_OP_MEAN;
  if (kiln_tf_str_eq(n->op, "Sum")) op = KILN_OP_SUM;
  if (kiln_tf_str_eq(n->op, "Max")) op = KILN_OP_REDUCE_MAX;
  if (kiln_tf_str_eq(n->op, "Min")) op = KILN_OP_REDUCE_MIN;
  if (kiln_tf_str_eq(n->op, "Prod")) op = KILN_OP_REDUCE_PROD;
  if (kiln_tf_str_eq(n->op, "Any")) op = KILN_OP_REDUCE_ANY;
  if (kiln_tf_str_eq(n->op, "All")) op = KILN_OP_REDUCE_ALL;
  kiln_reduce_attrs a = {.keep_dims = sm_attr_bool(n, "keep_dims", false)};
  int ids[2] = {in[0].id, in[1].id};
  out->kind = SM_VALUE;
  return sm_node(im, op, ids, 2, &a, name, NULL, KILN_DTYPE_INVALID, &out->id);
}

/* ---- data movement ---- */

static kiln_status *convert_reshape(sm_importer *im, const kiln_tf_node *n,
                                    const char *name, const sm_ref *in,
                                    int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  kiln_reshape_attrs a = {.num_dims = -1};
  int ids[2] = {in[0].id, in[1].id};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_RESHAPE, ids, 2, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_squeeze(sm_importer *im, const kiln_tf_node *n,
                                    const char *name, const sm_ref *in,
                                    int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, 1));
  int64_t axes[KILN_MAX_RANK];
  int count = 0;
  KILN_TRY(
      sm_attr_ints(im, n, "squeeze_dims", -1, KILN_MAX_RANK, axes, &count));
  kiln_squeeze_attrs a = {.num_axes = count};
  for (int i = 0; i < count; i++) a.axes[i] = (int32_t)axes[i];
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_SQUEEZE, &in[0].id, 1, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

/* A scalar int constant input (an axis). */
static kiln_status *const_int(sm_importer *im, const kiln_tf_node *n, int id,
                              const char *what, int *out) {
  const kiln_value *v = sm_value(im, id);
  if (!v->is_constant || (v->dtype != KILN_INT32 && v->dtype != KILN_INT64) ||
      v->nbytes < (v->dtype == KILN_INT32 ? 4u : 8u))
    return sm_node_error(im, n, "its %s must be a constant integer", what);
  int64_t x = v->dtype == KILN_INT32 ? *(const int32_t *)v->data
                                     : *(const int64_t *)v->data;
  if (x < -KILN_MAX_RANK - 1 || x > KILN_MAX_RANK)
    return sm_node_error(im, n, "its %s %lld is out of range", what,
                         (long long)x);
  *out = (int)x;
  return NULL;
}

static kiln_status *convert_concat(sm_importer *im, const kiln_tf_node *n,
                                   const char *name, const sm_ref *in,
                                   int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, KILN_GB_MAX_INPUTS + 1));
  kiln_concat_attrs a = {0};
  KILN_TRY(const_int(im, n, in[num_in - 1].id, "axis", &a.axis));
  int ids[KILN_GB_MAX_INPUTS];
  for (int i = 0; i < num_in - 1; i++) ids[i] = in[i].id;
  out->kind = SM_VALUE;
  if (num_in == 2) {
    out->id = ids[0];
    return NULL;
  }
  return sm_node(im, KILN_OP_CONCATENATION, ids, num_in - 1, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_pack(sm_importer *im, const kiln_tf_node *n,
                                 const char *name, const sm_ref *in, int num_in,
                                 sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, KILN_GB_MAX_INPUTS));
  kiln_pack_attrs a = {.count = num_in, .axis = (int)sm_attr_int(n, "axis", 0)};
  int ids[KILN_GB_MAX_INPUTS];
  for (int i = 0; i < num_in; i++) ids[i] = in[i].id;
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_PACK, ids, num_in, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_strided_slice(sm_importer *im,
                                          const kiln_tf_node *n,
                                          const char *name, const sm_ref *in,
                                          int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 4, 4));
  kiln_strided_slice_attrs a = {
      .begin_mask = (int32_t)sm_attr_int(n, "begin_mask", 0),
      .end_mask = (int32_t)sm_attr_int(n, "end_mask", 0),
      .ellipsis_mask = (int32_t)sm_attr_int(n, "ellipsis_mask", 0),
      .new_axis_mask = (int32_t)sm_attr_int(n, "new_axis_mask", 0),
      .shrink_axis_mask = (int32_t)sm_attr_int(n, "shrink_axis_mask", 0)};
  int ids[4] = {in[0].id, in[1].id, in[2].id, in[3].id};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_STRIDED_SLICE, ids, 4, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_gather(sm_importer *im, const kiln_tf_node *n,
                                   const char *name, const sm_ref *in,
                                   int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 3, 3));
  kiln_gather_attrs a = {.batch_dims = (int)sm_attr_int(n, "batch_dims", 0)};
  KILN_TRY(const_int(im, n, in[2].id, "axis", &a.axis));
  int ids[2] = {in[0].id, in[1].id};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_GATHER, ids, 2, &a, name, NULL, KILN_DTYPE_INVALID,
                 &out->id);
}

static kiln_status *convert_resize(sm_importer *im, const kiln_tf_node *n,
                                   const char *name, const sm_ref *in,
                                   int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  kiln_resize_attrs a = {
      .align_corners = sm_attr_bool(n, "align_corners", false),
      .half_pixel_centers = sm_attr_bool(n, "half_pixel_centers", false)};
  kiln_op_type op = kiln_tf_str_eq(n->op, "ResizeBilinear")
                        ? KILN_OP_RESIZE_BILINEAR
                        : KILN_OP_RESIZE_NEAREST_NEIGHBOR;
  int ids[2] = {in[0].id, in[1].id};
  out->kind = SM_VALUE;
  return sm_node(im, op, ids, 2, &a, name, NULL, KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_mirror_pad(sm_importer *im, const kiln_tf_node *n,
                                       const char *name, const sm_ref *in,
                                       int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 2, 2));
  char buf[32];
  const char *mode = sm_attr_str(n, "mode", "", buf, sizeof buf);
  kiln_mirror_pad_attrs a;
  if (strcmp(mode, "REFLECT") == 0)
    a.mode = KILN_MIRROR_REFLECT;
  else if (strcmp(mode, "SYMMETRIC") == 0)
    a.mode = KILN_MIRROR_SYMMETRIC;
  else
    return sm_node_error(im, n, "mode '%s' is not REFLECT or SYMMETRIC", mode);
  int ids[2] = {in[0].id, in[1].id};
  out->kind = SM_VALUE;
  return sm_node(im, KILN_OP_MIRROR_PAD, ids, 2, &a, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

static kiln_status *convert_add_n(sm_importer *im, const kiln_tf_node *n,
                                  const char *name, const sm_ref *in,
                                  int num_in, sm_ref *out) {
  KILN_TRY(sm_inputs(im, n, num_in, 1, KILN_GB_MAX_INPUTS));
  int ids[KILN_GB_MAX_INPUTS];
  for (int i = 0; i < num_in; i++) ids[i] = in[i].id;
  out->kind = SM_VALUE;
  if (num_in == 1) {
    out->id = ids[0];
    return NULL;
  }
  return sm_node(im, KILN_OP_ADD_N, ids, num_in, NULL, name, NULL,
                 KILN_DTYPE_INVALID, &out->id);
}

typedef struct op_entry {
  const char *tf;
  sm_convert_fn fn;
} op_entry;

static const op_entry ops[] = {
    {"Const", convert_const},
    {"Shape", convert_shape},
    {"Cast", convert_cast},
    {"Softmax", convert_softmax},
    {"LeakyRelu", convert_leaky_relu},
    {"Selu", convert_selu},
    {"Softplus", convert_softplus},
    {"Erf", convert_erf},
    {"Erfc", convert_erfc},
    {"Mean", convert_reduce},
    {"Sum", convert_reduce},
    {"Max", convert_reduce},
    {"Min", convert_reduce},
    {"Prod", convert_reduce},
    {"Any", convert_reduce},
    {"All", convert_reduce},
    {"Reshape", convert_reshape},
    {"Squeeze", convert_squeeze},
    {"ConcatV2", convert_concat},
    {"Pack", convert_pack},
    {"StridedSlice", convert_strided_slice},
    {"GatherV2", convert_gather},
    {"ResizeBilinear", convert_resize},
    {"ResizeNearestNeighbor", convert_resize},
    {"MirrorPad", convert_mirror_pad},
    {"AddN", convert_add_n},
    {"Conv2D", sm_convert_conv2d},
    {"DepthwiseConv2dNative", sm_convert_depthwise},
    {"Conv2DBackpropInput", sm_convert_conv2d_transpose},
    {"MatMul", sm_convert_matmul},
    {"BatchMatMulV2", sm_convert_batch_matmul},
    {"BatchMatMulV3", sm_convert_batch_matmul},
    {"BatchMatMul", sm_convert_batch_matmul},
    {"FusedBatchNormV3", sm_convert_batch_norm},
    {"FusedBatchNorm", sm_convert_batch_norm},
    {"AvgPool", sm_convert_pool},
    {"MaxPool", sm_convert_pool},
};

sm_convert_fn sm_find_op(kiln_tf_str op) {
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (kiln_tf_str_eq(op, ops[i].tf)) return ops[i].fn;
  return find_simple(op) ? convert_simple : NULL;
}
