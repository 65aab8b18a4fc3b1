/* api_metrics.c - the Prometheus scrape endpoints: /metrics always, and
 * TF Serving's path when --monitoring_config_file enables it. */
#include <string.h>

#include "serve/server.h"

bool serve_api_metrics(serve_request *r) {
  serve_server *s = r->server;
  bool ours = !strcmp(r->path, "/metrics") ||
              (s->prometheus_path && !strcmp(r->path, s->prometheus_path));
  if (!ours) return false;
  r->api = "metrics";
  serve_buf b = {0};
  serve_metrics_render(s->metrics, s->repo,
                       serve_scheduler_pending(s->scheduler), &b);
  if (b.failed) {
    serve_buf_free(&b);
    serve_respond_error(r, serve_error(SERVE_INTERNAL, "out of memory"));
    return true;
  }
  size_t len;
  char *body = serve_buf_take(&b, &len);
  serve_respond(r, 200, body, len, "text/plain; version=0.0.4");
  return true;
}
