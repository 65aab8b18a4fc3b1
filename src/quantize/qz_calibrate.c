/* qz_calibrate.c - runs the float model on each calibration sample (one
 * batch of the model's own input shape at a time) and feeds every float
 * tensor to its observer, drawing a progress bar. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "qz_internal.h"
#include "runtime/model.h"

static void progress(const kiln_qz_options *opt, int done, int total,
                     bool final) {
  if (!opt->progress) return;
  if (!opt->progress_tty) {
    if (final) fprintf(opt->progress, "calibrated on %d samples\n", done);
    return;
  }
  enum { WIDTH = 30 };
  int filled = total > 0 ? (int)((long)done * WIDTH / total) : done % WIDTH;
  char bar[WIDTH + 1];
  for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
  bar[WIDTH] = 0;
  if (total > 0)
    fprintf(opt->progress, "\rcalibrating [%s] %d/%d", bar, done, total);
  else
    fprintf(opt->progress, "\rcalibrating [%s] %d", bar, done);
  if (final) fputc('\n', opt->progress);
  fflush(opt->progress);
}

/* The input buffers of one sample, sized as the graph's inputs. */
typedef struct sample_buffers {
  int count;
  void **data;
  size_t *nbytes;
} sample_buffers;

static void free_buffers(sample_buffers *b) {
  for (int i = 0; b->data && i < b->count; i++) free(b->data[i]);
  free(b->data);
  free(b->nbytes);
}

static kiln_status *alloc_buffers(const kiln_graph *g, sample_buffers *b) {
  b->count = g->num_inputs;
  b->data = calloc((size_t)b->count + 1, sizeof(void *));
  b->nbytes = calloc((size_t)b->count + 1, sizeof(size_t));
  if (!b->data || !b->nbytes) return KILN_OOM();
  for (int i = 0; i < b->count; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    if (v->dtype != KILN_FLOAT32)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input '%s' is %s: kiln quantize calibrates float32 "
                        "inputs only",
                        g->input_names[i], kiln_dtype_name(v->dtype));
    KILN_TRY(kiln_value_nbytes(v, &b->nbytes[i]));
    b->data[i] = malloc(b->nbytes[i] ? b->nbytes[i] : 1);
    if (!b->data[i]) return KILN_OOM();
  }
  return NULL;
}

/* Feeds one sample to the session; the inputs are observed here. */
static kiln_status *run_sample(const kiln_graph *g, kiln_session *s,
                               const sample_buffers *b, qz_observer *obs,
                               int sample) {
  for (int i = 0; i < b->count; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    if (obs && !qz_observe(&obs[g->inputs[i]], b->data[i],
                           b->nbytes[i] / sizeof(float)))
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "calibration sample %d: input '%s' holds NaN or "
                        "infinity",
                        sample, g->input_names[i]);
    KILN_TRY(kiln_session_set_input(s, i, KILN_FLOAT32, v->dims, v->rank,
                                    b->data[i], b->nbytes[i]));
  }
  return kiln_session_invoke(s);
}

kiln_status *qz_calibrate(const void *model, size_t size, const char *source,
                          const kiln_qz_options *opt, const kiln_qz_source *src,
                          qz_observer *obs, int num_obs) {
  kiln_graph *g = NULL;
  KILN_TRY(qz_import(model, size, source, &g));
  return qz_calibrate_graph(g, source, opt, src, obs, num_obs);
}

kiln_status *qz_calibrate_graph(kiln_graph *g, const char *source,
                                const kiln_qz_options *opt,
                                const kiln_qz_source *src, qz_observer *obs,
                                int num_obs) {
  if (g->num_values != num_obs) {
    kiln_graph_free(g);
    return kiln_error(KILN_ERR_INTERNAL, "%s: the model imported differently",
                      source);
  }
  int *ids = NULL, count = 0;
  sample_buffers b = {0};
  kiln_status *st = qz_float_activations(g, &ids, &count);
  if (!st) st = alloc_buffers(g, &b);
  kiln_model *m = NULL;
  kiln_session *s = NULL;
  if (!st) {
    st = qz_observing_model(g, source, ids, count, &m);
    g = NULL; /* the model has it (or freed it) */
  }
  if (!st) st = kiln_session_create(m, NULL, &s);
  if (!st) st = kiln_session_prepare(s);
  if (!st && src->rewind) st = src->rewind(src->context);
  const kiln_graph *mg = m ? m->graph : NULL;
  int done = 0;
  while (!st) {
    int got = 0;
    st = src->next(src->context, b.data, b.nbytes, &got);
    if (st || !got) break;
    st = run_sample(mg, s, &b, obs, done);
    for (int j = 0; !st && j < count; j++) {
      const void *data;
      size_t nbytes;
      st = kiln_session_output_buffer(s, j, &data, &nbytes);
      if (!st && !qz_observe(&obs[ids[j]], data, nbytes / sizeof(float)))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "calibration sample %d: the float model computes NaN "
                        "or infinity in tensor '%s'",
                        done, mg->values[ids[j]].name);
    }
    if (!st) progress(opt, ++done, src->count, false);
  }
  if (!st && done == 0)
    st = kiln_error(KILN_ERR_INVALID_ARGUMENT,
                    "the calibration data holds no samples");
  if (!st)
    progress(opt, done, src->count, true);
  else if (opt->progress && opt->progress_tty && done)
    fputc('\n', opt->progress);
  kiln_session_free(s);
  kiln_model_free(m);
  kiln_graph_free(g);
  free_buffers(&b);
  free(ids);
  return st;
}
