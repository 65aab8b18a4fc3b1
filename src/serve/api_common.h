/* api_common.h - what the TF Serving and KServe handlers share: checking
 * decoded inputs against the model, deadlines, submitting a job, and
 * recording the outcome in metrics. */
#ifndef KILN_SERVE_API_COMMON_H
#define KILN_SERVE_API_COMMON_H

#include <jansson.h>

#include "serve/server.h"

/* Checks t against model input `index` (dtype, rank, fixed dims). */
serve_status *serve_check_input(const serve_version *v, int index,
                                const serve_tensor *t);

/* The deadline of a request (CLOCK_MONOTONIC ms, 0: none): the
 * X-Request-Timeout-Ms header, a protocol's own value (timeout_ms > 0),
 * or --rest_api_timeout_in_ms. */
double serve_request_deadline(const serve_request *r, double timeout_ms);

/* Parses the body as a JSON object; 400 with the parser's words if not. */
serve_status *serve_parse_body(const serve_request *r, json_t **out);

/* A job for the request: takes `inputs` (num_inputs of them, in model
 * order) and the version reference. done runs on a worker with the
 * outputs; job->context is r. On a submit error the request is answered
 * here and the job freed. */
void serve_submit(serve_request *r, serve_version *v, serve_tensor *inputs,
                  int num_inputs, double deadline_ms,
                  void (*done)(serve_job *job));

/* Records metrics for a finished request and frees the job. */
void serve_job_done_metrics(serve_request *r, serve_job *job, int http_status);

/* Parses "N" as a positive version number; false if it is not one. */
bool serve_parse_version(const char *text, size_t len, int64_t *out);

#endif
