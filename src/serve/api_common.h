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

/* The protocol-free parts, for fronts without a serve_request (gRPC). */

/* Queues a job for the version `v` (held reference taken) on `inputs`
 * (num_inputs, in model order, taken). done runs once on a worker with
 * job->context = context. client_fd: the client's socket, polled while
 * the job waits so a client that hung up is dropped (-1: none). On error (out
 * of memory, a full queue) the job is not queued: the error is returned and
 * *out_job holds the job for the caller's metrics (serve_record_inference), or
 * NULL. */
serve_status *serve_submit_job(serve_server *s, serve_version *v,
                               serve_tensor *inputs, int num_inputs,
                               double deadline_ms, void (*done)(serve_job *),
                               void *context, int client_fd,
                               serve_job **out_job);

/* Records a finished job's inference metrics under `model`, from
 * `received_ms`, and frees the job. */
void serve_record_inference(serve_server *s, const char *model,
                            double received_ms, serve_job *job);

/* Parses "N" as a positive version number; false if it is not one. */
bool serve_parse_version(const char *text, size_t len, int64_t *out);

#endif
