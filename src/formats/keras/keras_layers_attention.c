/* keras_layers_attention.c - MultiHeadAttention as plain IR operators.
 * Keras computes it with four EinsumDense sublayers (query, key, value:
 * [B, T, D] x [D, heads, dim] + [heads, dim]; attention_output:
 * [B, T, heads, value_dim] x [heads, value_dim, D_out] + [D_out]) around a
 * scaled dot product per head. Each projection here is a FULLY_CONNECTED
 * over the flattened heads (its kernel reordered to [heads * dim, D] at
 * import), RESHAPE and TRANSPOSE to [B, heads, T, dim]; the scores are a
 * BATCH_MATMUL with adj_y, a SOFTMAX over the keys, and a BATCH_MATMUL with
 * the values, moved back to [B, T, heads * value_dim] for the output
 * projection. The batch stays -1 in every RESHAPE, so an unknown batch
 * runs at any size; sequence lengths are the inputs' static ones.
 *
 * Supported: rank-3 inputs with the default attention_axes, an optional
 * key, use_causal_mask and return_attention_scores; dropout is ignored at
 * inference. An attention mask, query/value/key masks, use_gate and
 * sliding_window are refused by name. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "formats/keras/keras_layers.h"

/* Sizes kiln accepts for heads and per-head widths: far past any real
 * model, and small enough that heads * dim fits RESHAPE's int32. */
#define MAX_HEADS_DIM (1 << 16)
#define MAX_FLAT (1 << 24)
/* Attention scores per batch item: far past any model kiln can run, and
 * far from overflowing a tensor's size. */
#define MAX_SCORES ((int64_t)1 << 32)
/* The causal mask is a [T, S] constant made at import. */
#define MAX_CAUSAL_ELEMENTS (1 << 22)

typedef struct mha_config {
  int heads, key_dim, value_dim, out_dim;
  bool use_bias;
} mha_config;

typedef struct mha_call {
  int query, value, key; /* input ids, -1 when not given */
  bool causal, scores;
} mha_call;

/* MultiHeadAttention.call's parameters in positional order. */
static const char *const call_params[] = {"query",
                                          "value",
                                          "key",
                                          "query_mask",
                                          "value_mask",
                                          "key_mask",
                                          "attention_mask",
                                          "return_attention_scores",
                                          "training",
                                          "use_causal_mask"};

static bool is_keras_tensor(const json_t *item) {
  const json_t *cls = json_object_get(item, "class_name");
  return json_is_object(item) && json_is_string(cls) &&
         strcmp(json_string_value(cls), "__keras_tensor__") == 0;
}

/* How many of the layer's inputs the importer made of one argument (as
 * keras_import.c's collect_v3 counts: every tensor inside it, and a number
 * at the top of args). */
static int inputs_in(const json_t *item, bool in_args, int depth) {
  if (depth > 8) return 0;
  if (json_is_array(item)) {
    int count = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(item, i, e) count += inputs_in(e, in_args, depth + 1);
    return count;
  }
  if (json_is_number(item)) return in_args && depth <= 1;
  return is_keras_tensor(item);
}

/* One argument of the call, by parameter name: a tensor for query, value
 * or key, a flag, or something refused. *next is the index of the input
 * the argument's tensors start at. */
static kiln_status *take_arg(const kiln_keras_builder *b, const char *name,
                             const json_t *item, bool in_args, const int *in,
                             int n, int *next, mha_call *c) {
  int count = inputs_in(item, in_args, in_args ? 1 : 0);
  if (*next + count > n)
    return kiln_keras_error(b,
                            "its call's arguments name more tensors (%d) "
                            "than it is given (%d)",
                            *next + count, n);
  int first = *next;
  *next += count;
  bool tensor = count == 1 && is_keras_tensor(item);
  int *role = strcmp(name, "query") == 0   ? &c->query
              : strcmp(name, "value") == 0 ? &c->value
              : strcmp(name, "key") == 0   ? &c->key
                                           : NULL;
  if (role && tensor) {
    if (*role >= 0)
      return kiln_keras_error(b, "its call gives '%s' twice", name);
    *role = in[first];
    return NULL;
  }
  if (count == 0 && json_is_null(item)) return NULL; /* key=None, ... */
  if (strstr(name, "mask") && strcmp(name, "use_causal_mask") != 0)
    return kiln_keras_error(b,
                            "its call passes '%s': attention masks are not "
                            "supported",
                            name);
  if (count == 0 && json_is_boolean(item)) {
    if (strcmp(name, "use_causal_mask") == 0) {
      c->causal = json_is_true(item);
      return NULL;
    }
    if (strcmp(name, "return_attention_scores") == 0) {
      c->scores = json_is_true(item);
      return NULL;
    }
    if (strcmp(name, "training") == 0) return NULL; /* inference either way */
  }
  return kiln_keras_error(b,
                          "its call argument '%s' is not supported (kiln "
                          "takes query, value and key tensors, "
                          "use_causal_mask and return_attention_scores)",
                          name);
}

/* Which inputs are query, value and key, and the call's flags. */
static kiln_status *read_call(const kiln_keras_builder *b, const int *in, int n,
                              mha_call *c) {
  memset(c, 0, sizeof *c);
  c->query = c->value = c->key = -1;
  if (!b->call) {
    /* Positional only (tf.keras's list form keeps keyword tensors out of
     * the inputs, so a value passed by keyword is missing here). */
    if (n < 2 || n > 3)
      return kiln_keras_error(b,
                              "takes query, value and an optional key, and "
                              "is given %d inputs",
                              n);
    c->query = in[0];
    c->value = in[1];
    c->key = n == 3 ? in[2] : -1;
    return NULL;
  }
  const json_t *args = json_object_get(b->call, "args");
  const json_t *kwargs = json_object_get(b->call, "kwargs");
  int next = 0;
  size_t i;
  const json_t *e;
  json_array_foreach(args, i, e) {
    if (i >= sizeof call_params / sizeof call_params[0])
      return kiln_keras_error(b, "its call has %zu positional arguments",
                              json_array_size(args));
    KILN_TRY(take_arg(b, call_params[i], e, true, in, n, &next, c));
  }
  const char *key;
  json_object_foreach((json_t *)kwargs, key, e)
      KILN_TRY(take_arg(b, key, e, false, in, n, &next, c));
  if (next != n)
    return kiln_keras_error(b,
                            "its call's arguments name %d tensors and it is "
                            "given %d",
                            next, n);
  if (c->query < 0 || c->value < 0)
    return kiln_keras_error(b, "its call gives no %s tensor",
                            c->query < 0 ? "query" : "value");
  return NULL;
}

/* The config: sizes, and a refusal for what kiln does not build. */
static kiln_status *read_config(kiln_keras_builder *b, int query_dim,
                                mha_config *m) {
  KILN_TRY(kiln_keras_int(b, "num_heads", 0, &m->heads));
  KILN_TRY(kiln_keras_int(b, "key_dim", 0, &m->key_dim));
  KILN_TRY(kiln_keras_int(b, "value_dim", m->key_dim, &m->value_dim));
  KILN_TRY(kiln_keras_bool(b, "use_bias", true, &m->use_bias));
  int sizes[3] = {m->heads, m->key_dim, m->value_dim};
  static const char *const names[3] = {"num_heads", "key_dim", "value_dim"};
  for (int i = 0; i < 3; i++)
    if (sizes[i] < 1 || sizes[i] > MAX_HEADS_DIM)
      return kiln_keras_error(b, "%s = %d (1 to %d supported)", names[i],
                              sizes[i], MAX_HEADS_DIM);
  if ((int64_t)m->heads * m->key_dim > MAX_FLAT ||
      (int64_t)m->heads * m->value_dim > MAX_FLAT)
    return kiln_keras_error(b, "num_heads * key_dim or value_dim is over %d",
                            MAX_FLAT);
  bool gate;
  KILN_TRY(kiln_keras_bool(b, "use_gate", false, &gate));
  if (gate) return kiln_keras_error(b, "use_gate is not supported");
  const json_t *window = json_object_get(b->config, "sliding_window");
  if (window && !json_is_null(window))
    return kiln_keras_error(b, "sliding_window is not supported");
  /* Attention over the one sequence axis: Keras writes [1] once built. */
  const json_t *axes = json_object_get(b->config, "attention_axes");
  if (json_is_array(axes) && json_array_size(axes) == 1)
    axes = json_array_get(axes, 0);
  if (axes && !json_is_null(axes) &&
      !(json_is_integer(axes) && json_integer_value(axes) == 1))
    return kiln_keras_error(b,
                            "attention_axes other than the default (the "
                            "sequence axis of [batch, sequence, features] "
                            "inputs) are not supported");
  /* output_shape: None (the query's features), an int or [int]. */
  const json_t *shape = json_object_get(b->config, "output_shape");
  if (json_is_array(shape) && json_array_size(shape) == 1)
    shape = json_array_get(shape, 0);
  m->out_dim = query_dim;
  if (shape && !json_is_null(shape)) {
    if (!json_is_integer(shape) || json_integer_value(shape) < 1 ||
        json_integer_value(shape) > MAX_FLAT)
      return kiln_keras_error(b,
                              "output_shape is not one size (only a last "
                              "axis of features is supported)");
    m->out_dim = (int)json_integer_value(shape);
  }
  return NULL;
}

static kiln_status *check_input(const kiln_keras_builder *b, const char *what,
                                int id) {
  const kiln_value *v = kiln_keras_value(b, id);
  if (v->rank != 3)
    return kiln_keras_error(b,
                            "its %s has rank %d: only [batch, sequence, "
                            "features] inputs are supported",
                            what, v->rank);
  if (v->dtype != KILN_FLOAT32)
    return kiln_keras_error(b, "its %s is not float32", what);
  if (v->signature[1] < 0)
    return kiln_keras_error(b,
                            "its %s has an unknown sequence length: only "
                            "the batch may be None",
                            what);
  return NULL;
}

/* The name a sublayer's weights are indexed under (keras_file.c):
 * "<layer>/<sub>" in both layouts. */
static void sublayer_name(const kiln_keras_builder *b, const char *sub,
                          char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", b->layer, sub);
}

static kiln_status *reshape(kiln_keras_builder *b, int x, const int32_t *shape,
                            int rank, const char *suffix, int *out) {
  kiln_reshape_attrs a = {.num_dims = rank};
  memcpy(a.new_shape, shape, sizeof(int32_t) * (size_t)rank);
  char name[64];
  snprintf(name, sizeof name, "%s_shape", suffix);
  int s;
  KILN_TRY(kiln_keras_const_i32(b, name, shape, rank, &s));
  int ins[2] = {x, s};
  return kiln_keras_node(b, KILN_OP_RESHAPE, ins, 2, &a, suffix,
                         KILN_DTYPE_INVALID, out);
}

/* [B, X, Y, Z] -> [B, Y, X, Z]: between heads-major and sequence-major. */
static kiln_status *swap_heads(kiln_keras_builder *b, int x, const char *suffix,
                               int *out) {
  static const int32_t perm[4] = {0, 2, 1, 3};
  char name[64];
  snprintf(name, sizeof name, "%s_perm", suffix);
  int p;
  KILN_TRY(kiln_keras_const_i32(b, name, perm, 4, &p));
  int ins[2] = {x, p};
  return kiln_keras_node(b, KILN_OP_TRANSPOSE, ins, 2, NULL, suffix,
                         KILN_DTYPE_INVALID, out);
}

/* FULLY_CONNECTED of x ([B, T, in]) by a kernel read as [in, outs] (the
 * sublayer's weight 0, of rank 3 or 2 as `want` says) and its bias
 * (weight 1, `outs` values however shaped), both times `scale`. */
static kiln_status *projection(kiln_keras_builder *b, int x, int want_rank,
                               const int64_t *want, int64_t in, int64_t outs,
                               int bias_rank, const int64_t *bias_want,
                               bool use_bias, float scale, int *out) {
  float *kernel = NULL;
  int64_t dims[KILN_MAX_RANK];
  KILN_TRY(kiln_keras_weight_read(b, 0, want_rank, want, dims, &kernel));
  /* Keras keeps [in, outs]; FULLY_CONNECTED takes [outs, in]. */
  int w;
  void *data;
  int64_t wdims[2] = {outs, in};
  kiln_status *st =
      kiln_keras_const(b, "kernel", KILN_FLOAT32, 2, wdims, &w, &data);
  if (!st) {
    float *t = data;
    for (int64_t i = 0; i < in; i++)
      for (int64_t o = 0; o < outs; o++)
        t[o * in + i] = scale * kernel[i * outs + o];
  }
  kiln_free(b->g->alloc, kernel);
  KILN_TRY(st);
  int bias = -1;
  if (use_bias) {
    float *values = NULL;
    KILN_TRY(kiln_keras_weight_read(b, 1, bias_rank, bias_want, dims, &values));
    for (int64_t o = 0; o < outs; o++) values[o] *= scale;
    int64_t bdims[1] = {outs};
    st = kiln_keras_const_f32(b, "bias", values, 1, bdims, &bias);
    kiln_free(b->g->alloc, values);
    KILN_TRY(st);
  }
  kiln_fully_connected_attrs attrs = {.keep_num_dims = true};
  int ins[3] = {x, w, bias};
  return kiln_keras_node(b, KILN_OP_FULLY_CONNECTED, ins, 3, &attrs, "matmul",
                         KILN_FLOAT32, out);
}

/* Query, key or value: x [B, T, D] projected by sublayer `sub` to
 * [B, heads, T, dim], times `scale` (folded into its kernel and bias). */
static kiln_status *project_heads(kiln_keras_builder *b, const mha_config *m,
                                  int x, const char *sub, int dim, float scale,
                                  int *out) {
  const kiln_value *v = kiln_keras_value(b, x);
  int64_t in = v->dims[2], seq = v->dims[1];
  int64_t want[3] = {in, m->heads, dim}, bias_want[2] = {m->heads, dim};
  char name[600];
  sublayer_name(b, sub, name, sizeof name);
  /* The sublayer's weights and values are named after it. */
  const char *layer = b->layer;
  b->layer = name;
  int y;
  kiln_status *st = projection(b, x, 3, want, in, (int64_t)m->heads * dim, 2,
                               bias_want, m->use_bias, scale, &y);
  int32_t split[4] = {-1, (int32_t)seq, m->heads, dim};
  if (!st) st = reshape(b, y, split, 4, "heads", &y);
  if (!st) st = swap_heads(b, y, "transpose", out);
  b->layer = layer;
  return st;
}

/* The [1, 1, T, S] constant added to the scores so that query t sees keys
 * s <= t only: 0 where allowed, -1e9 (Keras's masked softmax value) where
 * not. */
static kiln_status *causal_mask(kiln_keras_builder *b, int64_t t, int64_t s,
                                int *out) {
  if (t * s > MAX_CAUSAL_ELEMENTS)
    return kiln_keras_error(b,
                            "a causal mask of %lld x %lld is over %d "
                            "elements",
                            (long long)t, (long long)s, MAX_CAUSAL_ELEMENTS);
  int64_t dims[4] = {1, 1, t, s};
  void *data;
  KILN_TRY(
      kiln_keras_const(b, "causal_mask", KILN_FLOAT32, 4, dims, out, &data));
  float *mask = data;
  for (int64_t i = 0; i < t; i++)
    for (int64_t j = 0; j < s; j++) mask[i * s + j] = j <= i ? 0.0f : -1e9f;
  return NULL;
}

kiln_status *kiln_keras_build_multi_head_attention(kiln_keras_builder *b,
                                                   const int *in, int n,
                                                   int *out, int *num_out) {
  mha_call c;
  KILN_TRY(read_call(b, in, n, &c));
  if (c.key < 0) c.key = c.value;
  KILN_TRY(check_input(b, "query", c.query));
  KILN_TRY(check_input(b, "value", c.value));
  KILN_TRY(check_input(b, "key", c.key));
  int64_t t = kiln_keras_value(b, c.query)->dims[1];
  int64_t s = kiln_keras_value(b, c.value)->dims[1];
  int64_t query_dim = kiln_keras_value(b, c.query)->dims[2];
  if (kiln_keras_value(b, c.key)->dims[1] != s)
    return kiln_keras_error(b,
                            "its key has %lld steps and its value %lld: "
                            "they must match",
                            (long long)kiln_keras_value(b, c.key)->dims[1],
                            (long long)s);
  mha_config m;
  KILN_TRY(read_config(b, (int)query_dim, &m));
  /* The scores hold heads * T * S values per batch item. */
  if ((int64_t)m.heads * t * s > MAX_SCORES)
    return kiln_keras_error(b,
                            "%d heads over %lld queries and %lld keys make "
                            "over %lld attention scores",
                            m.heads, (long long)t, (long long)s,
                            (long long)MAX_SCORES);
  /* Keras scales the projected query by 1/sqrt(key_dim) before the dot
   * product; scaling its kernel and bias instead saves a MUL. */
  float scale = (float)(1.0 / sqrt((double)m.key_dim));
  int q, k, v;
  KILN_TRY(project_heads(b, &m, c.query, "query", m.key_dim, scale, &q));
  KILN_TRY(project_heads(b, &m, c.key, "key", m.key_dim, 1.0f, &k));
  KILN_TRY(project_heads(b, &m, c.value, "value", m.value_dim, 1.0f, &v));
  /* scores [B, heads, T, S] = q [B, heads, T, key_dim] . k^T. */
  kiln_batch_matmul_attrs qk = {.adj_y = true};
  int scores, probs, ctx;
  int qk_in[2] = {q, k};
  KILN_TRY(kiln_keras_node(b, KILN_OP_BATCH_MATMUL, qk_in, 2, &qk, "scores",
                           KILN_FLOAT32, &scores));
  if (c.causal) {
    int mask;
    KILN_TRY(causal_mask(b, t, s, &mask));
    int add_in[2] = {scores, mask};
    KILN_TRY(kiln_keras_node(b, KILN_OP_ADD, add_in, 2, NULL, "masked",
                             KILN_DTYPE_INVALID, &scores));
  }
  kiln_softmax_attrs sm = {.beta = 1.0f};
  KILN_TRY(kiln_keras_node(b, KILN_OP_SOFTMAX, &scores, 1, &sm, "softmax",
                           KILN_DTYPE_INVALID, &probs));
  /* context [B, heads, T, value_dim] -> [B, T, heads * value_dim]. */
  kiln_batch_matmul_attrs pv = {0};
  int pv_in[2] = {probs, v};
  KILN_TRY(kiln_keras_node(b, KILN_OP_BATCH_MATMUL, pv_in, 2, &pv, "context",
                           KILN_FLOAT32, &ctx));
  KILN_TRY(swap_heads(b, ctx, "context_transpose", &ctx));
  int64_t flat = (int64_t)m.heads * m.value_dim;
  int32_t merge[3] = {-1, (int32_t)t, (int32_t)flat};
  KILN_TRY(reshape(b, ctx, merge, 3, "context_merge", &ctx));
  /* attention_output: [heads, value_dim, D_out] read as [flat, D_out]. */
  char name[600];
  sublayer_name(b, "attention_output", name, sizeof name);
  const char *layer = b->layer;
  b->layer = name;
  int64_t want[3] = {m.heads, m.value_dim, m.out_dim},
          bias_want[1] = {m.out_dim};
  kiln_status *st = projection(b, ctx, 3, want, flat, m.out_dim, 1, bias_want,
                               m.use_bias, 1.0f, &out[0]);
  b->layer = layer;
  KILN_TRY(st);
  *num_out = 1;
  if (c.scores) out[(*num_out)++] = probs;
  return NULL;
}
