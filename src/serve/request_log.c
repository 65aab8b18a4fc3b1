/* request_log.c - a finished request's metrics and access log line,
 * shared by the HTTP and gRPC fronts (see request_log.h). */
#include "serve/request_log.h"

#include <time.h>

#include "serve/buf.h"

/* One JSON line per request: what was asked, how it ended, how long. */
static void access_log(serve_server *s, const serve_finished_request *f,
                       double ms) {
  if (!s->access_log) return;
  serve_buf b = {0};
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  serve_buf_printf(&b, "{\"time\":%lld.%03ld,\"method\":", (long long)ts.tv_sec,
                   ts.tv_nsec / 1000000);
  serve_buf_json_string(&b, f->method ? f->method : "");
  serve_buf_puts(&b, ",\"path\":");
  serve_buf_json_string(&b, f->path ? f->path : "");
  /* A gRPC answer is an HTTP/2 200 whatever its outcome; its gRPC code
   * says how it ended. */
  if (f->grpc_status >= 0)
    serve_buf_printf(&b, ",\"status\":200,\"grpc_status\":%d", f->grpc_status);
  else
    serve_buf_printf(&b, ",\"status\":%d", f->http_status);
  serve_buf_printf(&b,
                   ",\"request_bytes\":%zu,\"response_bytes\":%zu,"
                   "\"ms\":%.3f",
                   f->request_bytes, f->response_bytes, ms);
  if (f->model && f->model[0]) {
    serve_buf_puts(&b, ",\"model\":");
    serve_buf_json_string(&b, f->model);
  }
  serve_buf_puts(&b, "}\n");
  if (!b.failed) {
    pthread_mutex_lock(&s->log_lock);
    fwrite(b.data, 1, b.len, s->access_log);
    fflush(s->access_log);
    pthread_mutex_unlock(&s->log_lock);
  }
  serve_buf_free(&b);
}

void serve_request_finished(serve_server *s, const serve_finished_request *f) {
  double ms = serve_now_ms() - f->received_ms;
  if (f->model && f->model[0])
    serve_metrics_request(s->metrics, f->model, f->version,
                          f->api ? f->api : "", f->code_name, f->http_status,
                          f->entrypoint, ms * 1e3);
  access_log(s, f, ms);
}
