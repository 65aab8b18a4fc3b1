/* qz_report.c - `kiln quantize --report`: runs the float model and the
 * quantized one side by side on the calibration samples, every tensor of
 * both made an output, and prints for each tensor that has an integer form
 * its signal-to-quantization-noise ratio (10 log10 of sum f^2 over sum
 * (f - dequantized q)^2) and its largest error relative to the float
 * tensor's largest magnitude, worst first. For the weight-only modes the
 * model outputs are compared. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "qz_internal.h"
#include "runtime/model.h"

typedef struct pair {
  int float_out, quant_out; /* output indices in the two models */
  const char *name;
  const char *op;
  double signal, noise, max_err, max_abs;
} pair;

typedef struct side {
  kiln_model *model;
  kiln_session *session;
} side;

static void free_side(side *s) {
  kiln_session_free(s->session);
  kiln_model_free(s->model);
}

static kiln_status *open_side(kiln_graph *g, const char *source,
                              const int *outputs, int count, side *s) {
  KILN_TRY(qz_observing_model(g, source, outputs, count, &s->model));
  KILN_TRY(kiln_session_create(s->model, NULL, &s->session));
  return kiln_session_prepare(s->session);
}

static int by_sqnr(const void *a, const void *b) {
  const pair *x = a, *y = b;
  double sx = x->noise > 0 ? 10 * log10(x->signal / x->noise) : INFINITY;
  double sy = y->noise > 0 ? 10 * log10(y->signal / y->noise) : INFINITY;
  return sx < sy ? -1 : sx > sy;
}

/* One output of the quantized side as float (dequantized). */
static void accumulate(pair *p, const float *f, const void *q,
                       const kiln_value *qv, size_t n) {
  double scale = qv->quant.count ? qv->quant.scale[0] : 1;
  double zp = qv->quant.count ? (double)qv->quant.zero_point[0] : 0;
  for (size_t i = 0; i < n; i++) {
    double y;
    if (qv->dtype == KILN_INT8)
      y = (((const int8_t *)q)[i] - zp) * scale;
    else if (qv->dtype == KILN_INT16)
      y = (((const int16_t *)q)[i] - zp) * scale;
    else
      y = ((const float *)q)[i];
    double e = y - f[i];
    p->signal += (double)f[i] * f[i];
    p->noise += e * e;
    if (fabs(e) > p->max_err) p->max_err = fabs(e);
    if (fabs(f[i]) > p->max_abs) p->max_abs = fabs(f[i]);
  }
}

static void print_table(FILE *out, pair *pairs, int count, int samples) {
  qsort(pairs, (size_t)count, sizeof *pairs, by_sqnr);
  fprintf(out,
          "per-tensor error of the quantized model against the float one "
          "(%d samples), worst first:\n",
          samples);
  fprintf(out, "  %9s  %12s  %-18s %s\n", "SQNR dB", "max rel err", "op",
          "tensor");
  for (int i = 0; i < count; i++) {
    const pair *p = &pairs[i];
    double sqnr = p->noise > 0 ? 10 * log10(p->signal / p->noise) : INFINITY;
    double rel = p->max_abs > 0 ? p->max_err / p->max_abs : 0;
    fprintf(out, "  %9.2f  %12.3e  %-18s %s\n", sqnr, rel, p->op, p->name);
  }
}

/* The pairs to compare and the two graphs' outputs. */
static kiln_status *plan_pairs(kiln_graph *fg, kiln_graph *qg,
                               const qz_mapping *map, int *f_ids, int f_count,
                               pair *pairs, int *q_ids, int *count) {
  *count = 0;
  if (!map) { /* weight-only modes: the model outputs */
    for (int i = 0; i < fg->num_outputs && i < qg->num_outputs; i++) {
      f_ids[*count] = fg->outputs[i];
      q_ids[*count] = qg->outputs[i];
      pairs[*count] = (pair){*count, *count, NULL, "output", 0, 0, 0, 0};
      (*count)++;
    }
    return NULL;
  }
  int n = 0;
  for (int i = 0; i < f_count; i++) {
    int v = f_ids[i];
    int q = v < map->count ? map->int_value[v] : -1;
    if (q < 0) continue;
    f_ids[n] = v;
    q_ids[n] = q;
    pairs[n] = (pair){n, n, NULL, "", 0, 0, 0, 0};
    n++;
  }
  *count = n;
  return NULL;
}

static const char *producer_op(const kiln_graph *g, int v) {
  for (int n = 0; n < g->num_nodes; n++)
    for (int o = 0; o < g->nodes[n].num_outputs; o++)
      if (g->nodes[n].outputs[o] == v)
        return kiln_op_table[g->nodes[n].op].name;
  return "input";
}

kiln_status *qz_report(const void *model, size_t size, const char *source,
                       const kiln_qz_options *opt, const kiln_qz_source *src,
                       const qz_observer *obs, int num_obs) {
  kiln_graph *fg = NULL, *qg = NULL;
  qz_mapping map = {0};
  bool integer = opt->mode == KILN_QZ_INT8 || opt->mode == KILN_QZ_INT16X8;
  int *f_ids = NULL, f_count = 0, *q_ids = NULL, count = 0, quantized = 0;
  pair *pairs = NULL;
  side fs = {0}, qs = {0};
  char **names = NULL;
  kiln_status *st = qz_import(model, size, source, &fg);
  if (!st) st = qz_import(model, size, source, &qg);
  if (!st) {
    if (integer)
      st = qz_rewrite_integer(qg, opt, obs, num_obs, &map, &quantized);
    else if (opt->mode == KILN_QZ_DYNAMIC)
      st = qz_rewrite_dynamic(qg, opt, &quantized);
    else
      st = qz_rewrite_float16(qg, &quantized);
  }
  if (!st) st = qz_float_activations(fg, &f_ids, &f_count);
  if (!st) {
    size_t cap = (size_t)f_count + (size_t)fg->num_outputs + 1;
    q_ids = malloc(sizeof(int) * cap);
    pairs = calloc(cap, sizeof(pair));
    names = calloc(cap, sizeof(char *));
    int *grown = realloc(f_ids, sizeof(int) * cap);
    if (grown) f_ids = grown;
    if (!q_ids || !pairs || !names || !grown) st = KILN_OOM();
  }
  if (!st)
    st = plan_pairs(fg, qg, integer ? &map : NULL, f_ids, f_count, pairs, q_ids,
                    &count);
  for (int i = 0; !st && i < count; i++) {
    names[i] = strdup(fg->values[f_ids[i]].name);
    if (!names[i]) st = KILN_OOM();
    pairs[i].name = names[i];
    if (integer) pairs[i].op = producer_op(fg, f_ids[i]);
  }
  if (!st) {
    st = open_side(fg, source, f_ids, count, &fs);
    fg = NULL;
  }
  if (!st) {
    st = open_side(qg, source, q_ids, count, &qs);
    qg = NULL;
  }
  if (!st && src->rewind) st = src->rewind(src->context);
  const kiln_graph *g = fs.model ? fs.model->graph : NULL;
  int samples = 0;
  void **bufs = NULL;
  size_t *nbytes = NULL;
  if (!st) {
    bufs = calloc((size_t)g->num_inputs + 1, sizeof(void *));
    nbytes = calloc((size_t)g->num_inputs + 1, sizeof(size_t));
    if (!bufs || !nbytes) st = KILN_OOM();
    for (int i = 0; !st && i < g->num_inputs; i++) {
      st = kiln_value_nbytes(&g->values[g->inputs[i]], &nbytes[i]);
      if (!st && !(bufs[i] = malloc(nbytes[i] + 1))) st = KILN_OOM();
    }
  }
  while (!st && (opt->report_samples <= 0 || samples < opt->report_samples)) {
    int got = 0;
    st = src->next(src->context, bufs, nbytes, &got);
    if (st || !got) break;
    const kiln_graph *qgr = qs.model->graph;
    for (int i = 0; !st && i < g->num_inputs; i++) {
      const kiln_value *v = &g->values[g->inputs[i]];
      st = kiln_session_set_input(fs.session, i, KILN_FLOAT32, v->dims, v->rank,
                                  bufs[i], nbytes[i]);
      if (st) break;
      const kiln_value *qv = &qgr->values[qgr->inputs[i]];
      if (qv->dtype == KILN_FLOAT32) {
        st = kiln_session_set_input(qs.session, i, KILN_FLOAT32, qv->dims,
                                    qv->rank, bufs[i], nbytes[i]);
        continue;
      }
      /* --io int8: the quantized model takes the input in integers */
      size_t n = nbytes[i] / sizeof(float);
      size_t elem = kiln_dtype_size(qv->dtype);
      void *qin = malloc(n * elem + 1);
      if (!qin) {
        st = KILN_OOM();
        break;
      }
      double s = qv->quant.scale[0], z = (double)qv->quant.zero_point[0];
      double lo = qv->dtype == KILN_INT8 ? -128 : -32768;
      double hi = qv->dtype == KILN_INT8 ? 127 : 32767;
      for (size_t k = 0; k < n; k++) {
        double y = round(((float *)bufs[i])[k] / s) + z;
        y = y < lo ? lo : y > hi ? hi : y;
        if (qv->dtype == KILN_INT8)
          ((int8_t *)qin)[k] = (int8_t)y;
        else
          ((int16_t *)qin)[k] = (int16_t)y;
      }
      st = kiln_session_set_input(qs.session, i, qv->dtype, qv->dims, qv->rank,
                                  qin, n * elem);
      free(qin);
    }
    if (!st) st = kiln_session_invoke(fs.session);
    if (!st) st = kiln_session_invoke(qs.session);
    for (int p = 0; !st && p < count; p++) {
      const void *f, *q;
      size_t fb, qb;
      st = kiln_session_output_buffer(fs.session, p, &f, &fb);
      if (!st) st = kiln_session_output_buffer(qs.session, p, &q, &qb);
      if (!st)
        accumulate(&pairs[p], f, q, &qgr->values[qgr->outputs[p]],
                   fb / sizeof(float));
    }
    samples++;
  }
  if (!st) print_table(opt->report, pairs, count, samples);
  for (int i = 0; bufs && i < g->num_inputs; i++) free(bufs[i]);
  free(bufs);
  free(nbytes);
  free_side(&fs);
  free_side(&qs);
  kiln_graph_free(fg);
  kiln_graph_free(qg);
  for (int i = 0; names && i < count; i++) free(names[i]);
  free(names);
  free(pairs);
  free(q_ids);
  free(f_ids);
  free(map.int_value);
  return st;
}
