/* fuse_swish8.c - the int8 swish of TF's converter, LOGISTIC(x) -> s and
 * MUL(x, s) -> y, becomes one QUANT_LUT8 node (op_attrs.h).
 *
 * Both nodes are functions of one int8 byte of x, their scales and zero
 * points constant, so y is a function of that byte alone: the pass runs
 * kiln's own reference LOGISTIC and MUL kernels once over the 256 possible
 * bytes, with the real tensors' quantization and the MUL's activation, and
 * keeps the results as the new node's table. The fused node therefore
 * computes exactly what the two did, bit for bit, and reads x and writes y
 * once instead of reading x twice, writing and re-reading s, and doing
 * MUL's fixed-point requantization per element. (EfficientNet's swish
 * layers are most of its elementwise time.)
 *
 * Declined: float and int16 pairs (the float one is fused into the
 * producer by fuse_activation.c), per-channel quantization, an s that
 * something else reads or that is a graph output, a MUL whose other
 * operand is not the LOGISTIC's input, and any pair the reference kernels
 * refuse. */
#include <string.h>

#include "core/alloc.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

/* int8 with one scale and zero point. */
static bool int8_per_tensor(const kiln_value *v) {
  return v->dtype == KILN_INT8 && v->quant.count == 1 && v->quant.scale &&
         v->quant.zero_point;
}

/* Runs node `n`'s reference kernel (shape function first, which checks the
 * quantization as at prepare) on 256-element tensors. False when either
 * refuses. */
static bool run_reference(const kiln_node *n, kiln_tensor **ins, int num_ins,
                          kiln_tensor *out) {
  kiln_tensor *outs[1] = {out};
  kiln_op_ctx c = {.attrs = n->attrs,
                   .inputs = ins,
                   .num_inputs = num_ins,
                   .outputs = outs,
                   .num_outputs = 1};
  const kiln_op_def *def = &kiln_op_table[n->op];
  kiln_status *st = def->shape(&c);
  if (!st) st = def->reference(&c);
  if (st) {
    kiln_status_free(st);
    return false;
  }
  return out->rank == 1 && out->dims[0] == 256;
}

/* A 1-D tensor of 256 int8 elements at `data` quantized as value v. */
static kiln_tensor byte_tensor(const kiln_value *v, int8_t *data) {
  kiln_tensor t = {.dtype = KILN_INT8, .rank = 1, .data = data};
  t.dims[0] = 256;
  t.quant = &v->quant;
  return t;
}

/* The swish table of MUL node m, whose operand `side` is LOGISTIC node l's
 * output: table[b + 128] = MUL(b, LOGISTIC(b)) for every byte b. */
static bool swish_table(const kiln_graph *g, const kiln_node *l,
                        const kiln_node *m, int side, int8_t table[256]) {
  int8_t bytes[256], s[256];
  for (int i = 0; i < 256; i++) bytes[i] = (int8_t)(i - 128);
  kiln_tensor x_t = byte_tensor(&g->values[l->inputs[0]], bytes);
  kiln_tensor s_t = byte_tensor(&g->values[l->outputs[0]], s);
  if (!run_reference(l, (kiln_tensor *[]){&x_t}, 1, &s_t)) return false;
  kiln_tensor y_t = byte_tensor(&g->values[m->outputs[0]], table);
  kiln_tensor *operands[2];
  operands[side] = &s_t;
  operands[1 - side] = &x_t;
  return run_reference(m, operands, 2, &y_t);
}

/* MUL node m, when it is an int8 swish: the LOGISTIC's index in
 * *logistic and the table in `table`. */
static bool match(const kiln_graph *g, const kiln_pass_uses *u, int m,
                  int *logistic, int8_t table[256]) {
  const kiln_node *mul = &g->nodes[m];
  if (mul->op != KILN_OP_MUL || mul->num_inputs != 2 || mul->num_outputs != 1 ||
      !int8_per_tensor(&g->values[mul->outputs[0]]))
    return false;
  for (int side = 0; side < 2; side++) {
    int s = mul->inputs[side], x = mul->inputs[1 - side];
    if (s < 0 || x < 0 || s >= u->num_values || u->producer[s] < 0 ||
        u->readers[s] != 1 || u->is_output[s])
      continue;
    const kiln_node *l = &g->nodes[u->producer[s]];
    if (l->op != KILN_OP_LOGISTIC || l->num_inputs != 1 ||
        l->num_outputs != 1 || l->inputs[0] != x ||
        !int8_per_tensor(&g->values[x]) || !int8_per_tensor(&g->values[s]))
      continue;
    if (!swish_table(g, l, mul, side, table)) continue;
    *logistic = u->producer[s];
    return true;
  }
  return false;
}

/* Puts a QUANT_LUT8 node reading x and writing the MUL's output in MUL
 * node m's slot: x is ready there, and every reader of y comes later. */
static kiln_status *replace(kiln_graph *g, int m, int x,
                            const int8_t table[256]) {
  int y = g->nodes[m].outputs[0], source = g->nodes[m].source_index;
  kiln_node *added = NULL;
  KILN_TRY(
      kiln_graph_add_node(g, KILN_OP_QUANT_LUT8, &x, 1, &y, 1, source, &added));
  memcpy(((kiln_lut8_attrs *)added->attrs)->table, table, 256);
  kiln_node *slot = &g->nodes[m];
  kiln_free(g->alloc, slot->inputs);
  kiln_free(g->alloc, slot->outputs);
  kiln_free(g->alloc, slot->attrs);
  *slot = g->nodes[--g->num_nodes];
  return NULL;
}

kiln_status *kiln_pass_fuse_swish8(kiln_graph *g, int *out_fused) {
  *out_fused = 0;
  kiln_pass_uses u;
  KILN_TRY(kiln_pass_uses_build(g, &u));
  bool *remove = kiln_calloc(g->alloc, (size_t)g->num_nodes + 1, 1);
  if (!remove) {
    kiln_pass_uses_free(g, &u);
    return KILN_OOM();
  }
  kiln_status *st = NULL;
  int fused = 0;
  for (int m = 0; m < g->num_nodes && !st; m++) {
    int logistic;
    int8_t table[256];
    if (remove[m] || !match(g, &u, m, &logistic, table)) continue;
    st = replace(g, m, g->nodes[logistic].inputs[0], table);
    if (st) break;
    remove[logistic] = true;
    fused++;
  }
  kiln_pass_remove_nodes(g, remove);
  *out_fused = fused;
  kiln_free(g->alloc, remove);
  kiln_pass_uses_free(g, &u);
  return st;
}
