/* metrics.c - counters and histograms keyed by label sets, and their
 * Prometheus text rendering. Few series exist (per model, API and
 * status), so a locked list is enough. */
#include "serve/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_BUCKETS = 40 };

typedef struct series {
  const char *name; /* metric name; a static string */
  char *labels;     /* rendered: model_name="m",status="OK" */
  bool histogram;
  double value; /* counters and gauges */
  const double *bounds;
  int num_bounds;
  uint64_t buckets[MAX_BUCKETS]; /* not cumulative */
  double sum;
  uint64_t count;
  struct series *next;
} series;

typedef struct model_totals {
  char *model;
  serve_model_stats stats;
  struct model_totals *next;
} model_totals;

struct serve_metrics {
  pthread_mutex_t lock;
  series *all;
  model_totals *totals;
  double latency_bounds[33];
  double batch_bounds[12];
};

static const struct {
  const char *name, *type, *help;
} families[] = {
    {":tensorflow:serving:request_count", "counter",
     "Requests, by model and status (TF Serving's name)."},
    {":tensorflow:serving:request_latency", "histogram",
     "Latency of successful requests in microseconds (TF Serving's name)."},
    {"kiln_requests_total", "counter",
     "Requests, by model, version, API, status and HTTP code."},
    {"kiln_queue_latency_us", "histogram",
     "Time requests waited for an inference worker, in microseconds."},
    {"kiln_batch_size", "histogram", "Rows per batch run, before padding."},
    {"kiln_batch_padding_rows_total", "counter",
     "Rows added to batches to reach an allowed batch size."},
    {"kiln_model_load_total", "counter", "Version loads, by outcome."},
    {"kiln_model_load_ms", "gauge", "How long the version took to load."},
};
enum { NUM_FAMILIES = sizeof families / sizeof families[0] };

serve_metrics *serve_metrics_create(void) {
  serve_metrics *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  pthread_mutex_init(&m->lock, NULL);
  /* TF Serving's buckets: Exponential(10, 1.8, 33) microseconds. */
  double bound = 10;
  for (int i = 0; i < 33; i++, bound *= 1.8) m->latency_bounds[i] = bound;
  for (int i = 0; i < 12; i++) m->batch_bounds[i] = (double)(1 << i);
  return m;
}

void serve_metrics_free(serve_metrics *m) {
  if (!m) return;
  while (m->totals) {
    model_totals *t = m->totals;
    m->totals = t->next;
    free(t->model);
    free(t);
  }
  while (m->all) {
    series *s = m->all;
    m->all = s->next;
    free(s->labels);
    free(s);
  }
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* Label values escape backslash, quote and newline. */
static void append_label(serve_buf *b, const char *key, const char *value) {
  if (b->len) serve_buf_puts(b, ",");
  serve_buf_printf(b, "%s=\"", key);
  for (const char *p = value; *p; p++) {
    if (*p == '\\' || *p == '"')
      serve_buf_printf(b, "\\%c", *p);
    else if (*p == '\n')
      serve_buf_puts(b, "\\n");
    else
      serve_buf_append(b, p, 1);
  }
  serve_buf_puts(b, "\"");
}

/* The series (lock held), made on first use. */
static series *get(serve_metrics *m, const char *name, const char *labels,
                   const double *bounds, int num_bounds) {
  for (series *s = m->all; s; s = s->next)
    if (s->name == name && !strcmp(s->labels, labels)) return s;
  series *s = calloc(1, sizeof *s);
  if (!s || !(s->labels = strdup(labels))) {
    free(s);
    return NULL;
  }
  s->name = name;
  s->histogram = bounds != NULL;
  s->bounds = bounds;
  s->num_bounds = num_bounds;
  series **tail = &m->all;
  while (*tail) tail = &(*tail)->next;
  *tail = s;
  return s;
}

static void observe(series *s, double value) {
  if (!s) return;
  int i = 0;
  while (i < s->num_bounds && value > s->bounds[i]) i++;
  s->buckets[i]++; /* i == num_bounds: the +Inf bucket */
  s->sum += value;
  s->count++;
}

void serve_metrics_request(serve_metrics *m, const char *model, int64_t version,
                           const char *api, const char *status, int http_status,
                           const char *entrypoint, double latency_us) {
  if (!m) return;
  serve_buf tf = {0}, kiln = {0}, lat = {0};
  char text[32];
  append_label(&tf, "model_name", model);
  append_label(&tf, "status", status);
  append_label(&kiln, "model", model);
  snprintf(text, sizeof text, "%lld", (long long)(version > 0 ? version : 0));
  append_label(&kiln, "version", version > 0 ? text : "");
  append_label(&kiln, "api", api);
  append_label(&kiln, "status", status);
  snprintf(text, sizeof text, "%d", http_status);
  append_label(&kiln, "code", text);
  append_label(&lat, "model_name", model);
  append_label(&lat, "API", api);
  append_label(&lat, "entrypoint", entrypoint);
  if (!tf.failed && !kiln.failed && !lat.failed) {
    pthread_mutex_lock(&m->lock);
    series *s = get(m, families[0].name, tf.data, NULL, 0);
    if (s) s->value++;
    s = get(m, families[2].name, kiln.data, NULL, 0);
    if (s) s->value++;
    if (!strcmp(status, "OK"))
      observe(get(m, families[1].name, lat.data, m->latency_bounds, 33),
              latency_us);
    pthread_mutex_unlock(&m->lock);
  }
  serve_buf_free(&tf);
  serve_buf_free(&kiln);
  serve_buf_free(&lat);
}

static model_totals *totals_for(serve_metrics *m, const char *model) {
  for (model_totals *t = m->totals; t; t = t->next)
    if (!strcmp(t->model, model)) return t;
  model_totals *t = calloc(1, sizeof *t);
  if (!t || !(t->model = strdup(model))) {
    free(t);
    return NULL;
  }
  t->next = m->totals;
  m->totals = t;
  return t;
}

void serve_metrics_inference(serve_metrics *m, const char *model, int64_t rows,
                             bool ok, double total_ns, double queue_ns,
                             double compute_ns) {
  if (!m) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  serve_buf q = {0};
  append_label(&q, "model", model);
  pthread_mutex_lock(&m->lock);
  if (queue_ns >= 0 && !q.failed)
    observe(get(m, families[3].name, q.data, m->latency_bounds, 33),
            queue_ns / 1e3);
  model_totals *t = totals_for(m, model);
  if (t) {
    serve_model_stats *s = &t->stats;
    if (ok) {
      s->success_count++;
      s->success_ns += total_ns;
      s->inference_count += (uint64_t)rows;
      s->execution_count++;
      s->queue_ns += queue_ns > 0 ? queue_ns : 0;
      s->compute_ns += compute_ns;
      s->last_inference_ms =
          (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
    } else {
      s->fail_count++;
      s->fail_ns += total_ns;
    }
  }
  pthread_mutex_unlock(&m->lock);
  serve_buf_free(&q);
}

serve_model_stats serve_metrics_model_stats(serve_metrics *m,
                                            const char *model) {
  serve_model_stats copy = {0};
  pthread_mutex_lock(&m->lock);
  for (model_totals *t = m->totals; t; t = t->next)
    if (!strcmp(t->model, model)) copy = t->stats;
  pthread_mutex_unlock(&m->lock);
  return copy;
}

void serve_metrics_batch(serve_metrics *m, const char *model, int64_t size,
                         int64_t padded) {
  if (!m) return;
  serve_buf l = {0};
  append_label(&l, "model", model);
  if (!l.failed) {
    pthread_mutex_lock(&m->lock);
    observe(get(m, families[4].name, l.data, m->batch_bounds, 12),
            (double)size);
    series *s = get(m, families[5].name, l.data, NULL, 0);
    if (s) s->value += (double)(padded - size);
    pthread_mutex_unlock(&m->lock);
  }
  serve_buf_free(&l);
}

void serve_metrics_load(serve_metrics *m, const char *model, int64_t version,
                        bool ok, double ms) {
  if (!m) return;
  serve_buf outcome = {0}, which = {0};
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)version);
  append_label(&outcome, "model", model);
  append_label(&outcome, "status", ok ? "success" : "fail");
  append_label(&which, "model", model);
  append_label(&which, "version", text);
  if (!outcome.failed && !which.failed) {
    pthread_mutex_lock(&m->lock);
    series *s = get(m, families[6].name, outcome.data, NULL, 0);
    if (s) s->value++;
    if (ok && (s = get(m, families[7].name, which.data, NULL, 0)))
      s->value = ms;
    pthread_mutex_unlock(&m->lock);
  }
  serve_buf_free(&outcome);
  serve_buf_free(&which);
}

static void render_number(serve_buf *b, double v) {
  if (isinf(v))
    serve_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else
    serve_buf_printf(b, "%.10g", v);
}

void serve_metrics_render(serve_metrics *m, serve_repo *repo, int64_t pending,
                          serve_buf *out) {
  pthread_mutex_lock(&m->lock);
  for (int f = 0; f < NUM_FAMILIES; f++) {
    bool any = false;
    for (series *s = m->all; s && !any; s = s->next)
      any = s->name == families[f].name;
    if (!any) continue;
    serve_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                     families[f].help, families[f].name, families[f].type);
    for (series *s = m->all; s; s = s->next) {
      if (s->name != families[f].name) continue;
      if (!s->histogram) {
        serve_buf_printf(out, "%s{%s} ", s->name, s->labels);
        render_number(out, s->value);
        serve_buf_puts(out, "\n");
        continue;
      }
      uint64_t cumulative = 0;
      for (int i = 0; i <= s->num_bounds; i++) {
        cumulative += s->buckets[i];
        serve_buf_printf(out, "%s_bucket{%s,le=\"", s->name, s->labels);
        render_number(out, i < s->num_bounds ? s->bounds[i] : INFINITY);
        serve_buf_printf(out, "\"} %llu\n", (unsigned long long)cumulative);
      }
      serve_buf_printf(out, "%s_sum{%s} ", s->name, s->labels);
      render_number(out, s->sum);
      serve_buf_printf(out, "\n%s_count{%s} %llu\n", s->name, s->labels,
                       (unsigned long long)s->count);
    }
  }
  pthread_mutex_unlock(&m->lock);
  serve_buf_puts(out,
                 "# HELP kiln_queue_pending Requests waiting for a worker.\n"
                 "# TYPE kiln_queue_pending gauge\n");
  serve_buf_printf(out, "kiln_queue_pending %lld\n", (long long)pending);
  serve_model_report *reports;
  int count;
  serve_status *st = serve_repo_report(repo, NULL, &reports, &count);
  if (st) {
    serve_status_free(st);
    return;
  }
  serve_buf_puts(out,
                 "# HELP kiln_model_version_state Version states as TF "
                 "Serving numbers them (30 AVAILABLE, 50 END).\n"
                 "# TYPE kiln_model_version_state gauge\n");
  for (int i = 0; i < count; i++)
    for (int k = 0; k < reports[i].num_versions; k++) {
      serve_buf l = {0};
      char text[32];
      snprintf(text, sizeof text, "%lld",
               (long long)reports[i].versions[k].number);
      append_label(&l, "model", reports[i].name);
      append_label(&l, "version", text);
      serve_buf_printf(out, "kiln_model_version_state{%s} %d\n",
                       l.data ? l.data : "",
                       10 * (int)reports[i].versions[k].state + 10);
      serve_buf_free(&l);
    }
  serve_repo_report_free(reports, count);
}
