/* api_common.c - input checks, deadlines and job submission shared by the
 * REST protocols. */
#include "serve/api_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/tensor_json.h"

static void dims_text(const int64_t *dims, int rank, char *out, size_t size) {
  size_t n = (size_t)snprintf(out, size, "[");
  for (int d = 0; d < rank && n < size; d++)
    n += (size_t)snprintf(out + n, size - n, "%s%lld", d ? "," : "",
                          (long long)dims[d]);
  if (n < size) snprintf(out + n, size - n, "]");
}

serve_status *serve_check_input(const serve_version *v, int index,
                                const serve_tensor *t) {
  kiln_tensor_info info;
  SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, index, &info)));
  if (t->dtype != info.dtype)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "input '%s' is %s; the model takes %s", info.name,
                       kiln_dtype_name(t->dtype), kiln_dtype_name(info.dtype));
  bool fits = t->rank == info.rank;
  for (int d = 0; fits && d < t->rank; d++)
    fits = info.dims[d] < 0 || info.dims[d] == t->dims[d];
  if (!fits) {
    char got[160], want[160];
    dims_text(t->dims, t->rank, got, sizeof got);
    dims_text(info.dims, info.rank, want, sizeof want);
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "input '%s' has shape %s; the model takes %s (-1: any "
                       "size)",
                       info.name, got, want);
  }
  return NULL;
}

double serve_request_deadline(const serve_request *r, double timeout_ms) {
  const char *header = serve_request_header(r, "X-Request-Timeout-Ms");
  if (header && atof(header) > 0) timeout_ms = atof(header);
  if (timeout_ms <= 0)
    timeout_ms = (double)r->server->options.rest_api_timeout_in_ms;
  return timeout_ms > 0 ? r->received_ms + timeout_ms : 0;
}

serve_status *serve_parse_body(const serve_request *r, json_t **out) {
  json_error_t error;
  *out = serve_json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &error);
  if (!*out)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "JSON Parse error: %s at line %d, column %d",
                       r->body_len ? error.text : "The document is empty",
                       error.line, error.column);
  if (!json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "the request body must be a JSON object");
  }
  return NULL;
}

void serve_record_inference(serve_server *s, const char *model,
                            double received_ms, serve_job *job) {
  double now = serve_now_ms();
  if (job->queued_ms > 0) {
    int64_t rows =
        job->num_inputs && job->inputs[0].rank ? job->inputs[0].dims[0] : 1;
    double run = job->finished_ms -
                 (job->started_ms > 0 ? job->started_ms : job->finished_ms);
    serve_metrics_inference(
        s->metrics, model, rows, !job->status, (now - received_ms) * 1e6,
        job->started_ms > 0 ? (job->started_ms - job->queued_ms) * 1e6 : -1,
        run * 1e6);
  }
  serve_job_clear(job);
  free(job);
}

void serve_job_done_metrics(serve_request *r, serve_job *job, int http_status) {
  (void)http_status;
  r->version = job->version ? job->version->number : 0;
  serve_record_inference(r->server, r->model, r->received_ms, job);
}

serve_status *serve_submit_job(serve_server *s, serve_version *v,
                               serve_tensor *inputs, int num_inputs,
                               double deadline_ms, void (*done)(serve_job *),
                               void *context, int client_fd,
                               serve_job **out_job) {
  *out_job = NULL;
  serve_job *job = calloc(1, sizeof *job);
  if (!job) {
    for (int i = 0; i < num_inputs; i++) serve_tensor_release(&inputs[i]);
    free(inputs);
    serve_version_release(v);
    return serve_error(SERVE_INTERNAL, "out of memory");
  }
  job->version = v;
  job->inputs = inputs;
  job->num_inputs = num_inputs;
  job->deadline_ms = deadline_ms;
  job->client_fd = client_fd;
  job->done = done;
  job->context = context;
  serve_status *st = serve_scheduler_submit(s->scheduler, job);
  if (st) {
    job->status =
        serve_error(serve_status_code(st), "%s", serve_status_message(st));
    *out_job = job;
  }
  return st;
}

void serve_submit(serve_request *r, serve_version *v, serve_tensor *inputs,
                  int num_inputs, double deadline_ms,
                  void (*done)(serve_job *job)) {
  serve_job *job;
  serve_status *st = serve_submit_job(r->server, v, inputs, num_inputs,
                                      deadline_ms, done, r, r->client_fd, &job);
  if (!st) return;
  int http = serve_status_http(st);
  serve_respond_error(r, st);
  if (job) serve_job_done_metrics(r, job, http);
}

bool serve_parse_version(const char *text, size_t len, int64_t *out) {
  if (!len || len > 18) return false;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return v > 0;
}
