/* metrics.h - Prometheus metrics of the server: TF Serving's request
 * count and latency under its exported names, plus kiln's own request,
 * queue, batch and model-load series. Rendered in the text exposition
 * format at /metrics, and at TF Serving's path when
 * --monitoring_config_file enables it. */
#ifndef KILN_SERVE_METRICS_H
#define KILN_SERVE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "serve/buf.h"
#include "serve/repository.h"

typedef struct serve_metrics serve_metrics;

serve_metrics *serve_metrics_create(void);
void serve_metrics_free(serve_metrics *m);

/* One answered request about a model (version <= 0 when none was
 * chosen); entrypoint "REST" or "GRPC", as TF Serving labels latency. */
void serve_metrics_request(serve_metrics *m, const char *model, int64_t version,
                           const char *api, const char *status, int http_status,
                           const char *entrypoint, double latency_us);
/* Per-model totals for KServe's statistics extension. */
typedef struct serve_model_stats {
  uint64_t success_count, fail_count, execution_count, inference_count;
  double success_ns, fail_ns, queue_ns, compute_ns;
  double last_inference_ms; /* wall clock, ms since the epoch */
} serve_model_stats;

/* One finished inference: rows run, whether it succeeded, and its time in
 * the queue and computing (ns); queue_ns < 0 when it never queued. */
void serve_metrics_inference(serve_metrics *m, const char *model, int64_t rows,
                             bool ok, double total_ns, double queue_ns,
                             double compute_ns);
/* A copy of a model's totals (zeros when it has none). */
serve_model_stats serve_metrics_model_stats(serve_metrics *m,
                                            const char *model);

/* One batch run: rows of the requests, and rows after padding. */
void serve_metrics_batch(serve_metrics *m, const char *model, int64_t size,
                         int64_t padded);
/* One version load, successful or not. */
void serve_metrics_load(serve_metrics *m, const char *model, int64_t version,
                        bool ok, double ms);
/* The exposition text; version states come from the repository. */
void serve_metrics_render(serve_metrics *m, serve_repo *repo, int64_t pending,
                          serve_buf *out);

#endif
