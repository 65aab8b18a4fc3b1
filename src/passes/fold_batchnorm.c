/* fold_batchnorm.c - per-channel MUL/ADD/SUB merged into conv/FC weights. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/activation.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* Where the output channels lie in a layer's weights. */
typedef struct layout {
  int64_t channels;  /* output channels = bias length */
  bool channel_last; /* depthwise [1,H,W,C]: channel is the fastest axis */
  int out_rank;      /* rank of the layer's output */
} layout;

static bool weights_layout(const kiln_graph *g, const kiln_node *n,
                           layout *out) {
  if (n->num_inputs < 2 || n->inputs[1] < 0 || n->inputs[0] < 0) return false;
  const kiln_value *w = &g->values[n->inputs[1]];
  if (!w->is_constant || !w->data || !kiln_pass_is_plain_float(w)) return false;
  if ((size_t)kiln_pass_numel(w) * sizeof(float) > w->nbytes) return false;
  switch (n->op) {
    case KILN_OP_CONV_2D:
    case KILN_OP_DEPTHWISE_CONV_2D:
      if (w->rank != 4) return false;
      out->channel_last = n->op == KILN_OP_DEPTHWISE_CONV_2D;
      out->channels = out->channel_last ? w->dims[3] : w->dims[0];
      out->out_rank = 4;
      break;
    case KILN_OP_FULLY_CONNECTED: {
      const kiln_fully_connected_attrs *a = n->attrs;
      if (w->rank != 2) return false;
      out->channel_last = false;
      out->channels = w->dims[0];
      out->out_rank = a->keep_num_dims ? g->values[n->inputs[0]].rank : 2;
      break;
    }
    default:
      return false;
  }
  if (out->channels <= 0 || kiln_pass_numel(w) % out->channels != 0)
    return false;
  /* The bias, when there is one, must be a constant we can rewrite. */
  if (n->num_inputs > 2 && n->inputs[2] >= 0) {
    const kiln_value *b = &g->values[n->inputs[2]];
    if (!b->is_constant || !b->data || !kiln_pass_is_plain_float(b) ||
        b->rank != 1 || b->dims[0] != out->channels ||
        b->nbytes < sizeof(float) * (size_t)out->channels)
      return false;
  }
  return n->num_inputs <= 3;
}

/* A finite float32 constant that broadcasts along the last axis only: all
 * dimensions 1 except the last, which is 1 or `channels`; its rank does not
 * exceed the layer output's, so the result keeps the layer's shape. */
static bool per_channel(const kiln_value *k, const layout *l) {
  if (!k->is_constant || !k->data || !kiln_pass_is_plain_float(k)) return false;
  if (k->rank > l->out_rank) return false;
  for (int d = 0; d + 1 < k->rank; d++)
    if (k->dims[d] != 1) return false;
  int64_t n = kiln_pass_numel(k);
  if (n != 1 && !(k->rank > 0 && k->dims[k->rank - 1] == l->channels))
    return false;
  if (k->nbytes < sizeof(float) * (size_t)n) return false;
  const float *values = k->data;
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(values[i])) return false;
  return true;
}

/* A copy of constant `src` (or zeros shaped [channels] when src < 0) that
 * this pass owns, or src itself when the pass made it: weights may be
 * shared with other nodes, so the originals are never written. */
static kiln_status *own_copy(kiln_graph *g, int src, int64_t channels,
                             int first_new, const char *what, int *out_id) {
  if (src >= first_new) {
    *out_id = src;
    return NULL;
  }
  char name[256];
  int64_t bias_dims[1] = {channels};
  int rank = 1;
  const int64_t *dims = bias_dims;
  if (src >= 0) {
    snprintf(name, sizeof name, "%s/%s", g->values[src].name, what);
    rank = g->values[src].rank;
    dims = g->values[src].dims;
  } else {
    snprintf(name, sizeof name, "%s", what);
  }
  int64_t copy_dims[KILN_MAX_RANK];
  memcpy(copy_dims, dims, sizeof(int64_t) * (size_t)rank);
  void *data = NULL;
  KILN_TRY(kiln_pass_add_constant(g, name, KILN_FLOAT32, rank, copy_dims,
                                  out_id, &data));
  if (src >= 0) memcpy(data, g->values[src].data, g->values[*out_id].nbytes);
  return NULL;
}

/* Gives the node a bias slot (omitted) so a folded ADD has somewhere to go. */
static kiln_status *ensure_bias_slot(kiln_graph *g, kiln_node *n) {
  if (n->num_inputs >= 3) return NULL;
  int *grown = kiln_realloc(g->alloc, n->inputs, sizeof(int) * 3);
  if (!grown) return KILN_OOM();
  grown[2] = -1;
  n->inputs = grown;
  n->num_inputs = 3;
  return NULL;
}

/* Folds consumer C (MUL/ADD/SUB of x by constant k) into layer P. */
static kiln_status *fold_one(kiln_graph *g, int p, const kiln_node *c, int k_id,
                             const layout *l, int first_new) {
  kiln_node *layer = &g->nodes[p];
  KILN_TRY(ensure_bias_slot(g, layer));
  int filter = layer->inputs[1], bias = layer->inputs[2];
  if (c->op == KILN_OP_MUL)
    KILN_TRY(own_copy(g, filter, l->channels, first_new, "bn_filter", &filter));
  /* A MUL scales an existing bias; ADD and SUB need one. */
  if (bias >= 0 || c->op != KILN_OP_MUL) {
    char name[256];
    snprintf(name, sizeof name, "%s/bn_bias",
             g->values[layer->outputs[0]].name);
    KILN_TRY(own_copy(g, bias, l->channels, first_new,
                      bias >= 0 ? "bn_bias" : name, &bias));
  }
  /* Everything is allocated; from here on nothing fails. */
  const kiln_value *k = &g->values[k_id];
  const float *coef = k->data;
  bool broadcast = kiln_pass_numel(k) == 1;
  if (c->op == KILN_OP_MUL) {
    float *w = g->values[filter].owned_data;
    int64_t n = kiln_pass_numel(&g->values[filter]);
    int64_t run = n / l->channels;
    for (int64_t i = 0; i < n; i++) {
      int64_t ch = l->channel_last ? i % l->channels : i / run;
      w[i] *= coef[broadcast ? 0 : ch];
    }
  }
  if (bias >= 0) {
    float *b = g->values[bias].owned_data;
    for (int64_t ch = 0; ch < l->channels; ch++) {
      float v = coef[broadcast ? 0 : ch];
      if (c->op == KILN_OP_MUL)
        b[ch] *= v;
      else if (c->op == KILN_OP_ADD)
        b[ch] += v;
      else
        b[ch] -= v;
    }
  }
  layer->inputs[1] = filter;
  layer->inputs[2] = bias;
  return NULL;
}

kiln_status *kiln_pass_fold_batchnorm(kiln_graph *g, int *out_folded) {
  *out_folded = 0;
  kiln_pass_uses u;
  KILN_TRY(kiln_pass_uses_build(g, &u));
  bool *remove = kiln_calloc(g->alloc, (size_t)g->num_nodes + 1, 1);
  if (!remove) {
    kiln_pass_uses_free(g, &u);
    return KILN_OOM();
  }
  int first_new = g->num_values;
  kiln_status *st = NULL;
  for (int p = 0; p < g->num_nodes && !st; p++) {
    layout l;
    kiln_activation *act = kiln_pass_fused_activation(&g->nodes[p]);
    if (!act || *act != KILN_ACT_NONE || g->nodes[p].num_outputs != 1 ||
        !weights_layout(g, &g->nodes[p], &l))
      continue;
    /* Fold one consumer at a time: MUL then ADD (or any run of them) each
     * leave the layer writing the consumer's output, ready for the next. */
    for (;;) {
      kiln_node *layer = &g->nodes[p];
      int x = layer->outputs[0];
      if (x >= u.num_values || u.readers[x] != 1 || u.is_output[x] ||
          !kiln_pass_is_plain_float(&g->values[x]))
        break;
      int c = kiln_pass_next_reader(g, x, p + 1);
      if (c < 0) break;
      const kiln_node *consumer = &g->nodes[c];
      if ((consumer->op != KILN_OP_MUL && consumer->op != KILN_OP_ADD &&
           consumer->op != KILN_OP_SUB) ||
          consumer->num_inputs != 2 || consumer->num_outputs != 1)
        break;
      int side = consumer->inputs[0] == x ? 0 : 1;
      int k_id = consumer->inputs[1 - side];
      /* x - k folds; k - x would negate the weights too, so leave it. */
      if (k_id < 0 || k_id == x || (consumer->op == KILN_OP_SUB && side != 0))
        break;
      int y = consumer->outputs[0];
      kiln_activation then =
          ((const kiln_activation_attrs *)consumer->attrs)->activation;
      /* The layer takes over the folded op's activation: one its every
       * kernel computes. */
      if (!per_channel(&g->values[k_id], &l) ||
          !kiln_activation_fusable(layer->op, then) ||
          !kiln_pass_is_plain_float(&g->values[y]))
        break;
      st = fold_one(g, p, consumer, k_id, &l, first_new);
      if (st) break;
      layer = &g->nodes[p];
      layer->outputs[0] = y;
      *kiln_pass_fused_activation(layer) = then;
      if (y < u.num_values) u.producer[y] = p;
      u.readers[x] = 0;
      remove[c] = true;
      (*out_folded)++;
      if (then != KILN_ACT_NONE) break;
    }
  }
  /* Even after a failure the graph stays whole: every fold done so far is
   * complete, so its consumers go. */
  kiln_pass_remove_nodes(g, remove);
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return st;
}
