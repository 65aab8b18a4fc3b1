/* grpc_health.c - gRPC's standard health service (grpc.health.v1.Health,
 * Check only) on the gRPC front, so that Kubernetes' gRPC probes,
 * grpc_health_probe and load balancers can ask kiln whether it serves.
 * The empty service name (and the names of the services kiln serves) is
 * the whole server: SERVING once every model given at start has a
 * version AVAILABLE, as KServe's ServerReady. A model's name is that
 * model: SERVING while some version of it is AVAILABLE. Watch (a stream)
 * is not served: the front answers UNIMPLEMENTED. */
#include <stdlib.h>
#include <string.h>

#include "formats/protobuf/pb_wire.h"
#include "serve/grpc_front.h"

/* grpc/health/v1/health.proto: HealthCheckRequest { string service = 1; }
 * HealthCheckResponse { ServingStatus status = 1; } with SERVING 1 and
 * NOT_SERVING 2. */
enum { SERVICE_FIELD = 1, STATUS_FIELD = 1 };

static const char *const server_names[] = {
    "", "tensorflow.serving.PredictionService",
    "tensorflow.serving.ModelService", "inference.GRPCInferenceService", NULL};

static serve_status *read_service(const uint8_t *data, size_t len,
                                  const uint8_t **service,
                                  size_t *service_len) {
  kiln_pb_reader r = kiln_pb_reader_make(data, len, "HealthCheckRequest");
  *service = NULL;
  *service_len = 0;
  for (;;) {
    kiln_pb_field f;
    bool more;
    kiln_status *ks = kiln_pb_next(&r, &f, &more);
    if (!ks && !more) return NULL;
    if (!ks && f.number == SERVICE_FIELD)
      ks = kiln_pb_bytes(&r, &f, service, service_len);
    if (ks) {
      serve_status *st =
          serve_error(SERVE_INVALID_ARGUMENT, "%s", kiln_status_message(ks));
      kiln_status_free(ks);
      return st;
    }
  }
}

serve_status *serve_grpc_health_check(serve_repo *repo, const uint8_t *request,
                                      size_t len, bool *serving) {
  const uint8_t *service;
  size_t service_len;
  SERVE_TRY(read_service(request, len, &service, &service_len));
  if (!service) service = (const uint8_t *)""; /* the field is absent */
  for (int i = 0; server_names[i]; i++)
    if (strlen(server_names[i]) == service_len &&
        !memcmp(server_names[i], service, service_len)) {
      *serving = serve_repo_all_ready(repo);
      return NULL;
    }
  char name[256];
  if (service_len >= sizeof name || memchr(service, '\0', service_len))
    return serve_error(SERVE_NOT_FOUND, "no service or model of that name");
  memcpy(name, service, service_len);
  name[service_len] = '\0';
  /* The health protocol answers NOT_FOUND for a service it does not know;
   * a model that exists but has no version AVAILABLE is NOT_SERVING. */
  serve_model_report *reports = NULL;
  int count = 0;
  SERVE_TRY(serve_repo_report(repo, name, &reports, &count));
  serve_repo_report_free(reports, count);
  serve_version *v = NULL;
  serve_status *st = serve_repo_acquire(repo, name, 0, NULL, &v);
  *serving = st == NULL;
  serve_status_free(st);
  if (v) serve_version_release(v);
  return NULL;
}

static void check(serve_grpc_call *call) {
  call->api = "health";
  bool serving = false;
  serve_status *st = serve_grpc_health_check(call->server->repo, call->request,
                                             call->request_len, &serving);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  kiln_pb_writer w = {0};
  kiln_pb_put_uint64(&w, STATUS_FIELD, serving ? 1 : 2);
  if (w.failed) {
    kiln_pb_writer_free(&w);
    serve_grpc_fail(call, serve_error(SERVE_INTERNAL, "out of memory"));
    return;
  }
  serve_grpc_respond(call, w.data, w.len);
}

const serve_grpc_method serve_grpc_health_methods[] = {
    {"/grpc.health.v1.Health/Check", check}, {NULL, NULL}};
