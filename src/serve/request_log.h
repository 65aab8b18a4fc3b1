/* request_log.h - what every front records once a request is finished:
 * TF Serving's request count and latency and kiln's own request series
 * (when the request named a model), and one access log line. The HTTP
 * front and the gRPC front both call it, so both count alike. */
#ifndef KILN_SERVE_REQUEST_LOG_H
#define KILN_SERVE_REQUEST_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "serve/server.h"

typedef struct serve_finished_request {
  const char *entrypoint; /* "REST" or "GRPC" (TF Serving's latency label) */
  const char *method;     /* "POST", ... */
  const char *path;       /* the URL path, or gRPC's "/package.Service/M" */
  int http_status;        /* gRPC: the HTTP equivalent of its code */
  int grpc_status;        /* gRPC's status code; -1 for REST */
  const char *code_name;  /* "OK", "NOT_FOUND", ... */
  size_t request_bytes, response_bytes;
  double received_ms; /* serve_now_ms() when it arrived */
  const char *model;  /* "" when none: not counted in metrics */
  int64_t version;
  const char *api;
} serve_finished_request;

void serve_request_finished(serve_server *s, const serve_finished_request *f);

#endif
