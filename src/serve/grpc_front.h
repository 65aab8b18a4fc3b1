/* grpc_front.h - the gRPC front of `kiln serve`: gRPC's C core (Debian's
 * libgrpc) listens on --port (TF Serving's 8500) and, when set,
 * --grpc_port (KServe's / Triton's 8001), each serving every service:
 * TF Serving's PredictionService and ModelService (grpc_tfs.c), KServe
 * v2's GRPCInferenceService (grpc_kserve.c) and grpc.health.v1.Health.
 * Messages are read and written with the schema-free protobuf codec
 * (formats/protobuf/pb_wire.h); the front only moves bytes.
 *
 * A unary call becomes a serve_grpc_call handed to its method's handler
 * on a front thread. The handler decodes the request and either answers
 * at once or submits a job (serve_submit_job) whose done callback answers
 * from a worker: exactly one serve_grpc_respond or serve_grpc_fail per
 * call, from any thread, after which the call is the front's again. */
#ifndef KILN_SERVE_GRPC_FRONT_H
#define KILN_SERVE_GRPC_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "serve/server.h"

typedef struct serve_grpc_call {
  serve_server *server;
  const char *method;     /* "/tensorflow.serving.PredictionService/Predict" */
  const uint8_t *request; /* the request message, whole */
  size_t request_len;
  double received_ms; /* CLOCK_MONOTONIC ms (serve_now_ms) */
  double deadline_ms; /* the client's gRPC deadline; 0: none */
  /* Labels for metrics and the access log, set by the handler. */
  char model[128];
  const char *api;     /* "predict", "infer", ... */
  int64_t version;     /* the version that answered; 0: none */
  void *handler_state; /* the handler's, until it answers */
  struct serve_grpc_call_private *front; /* the transport's */
} serve_grpc_call;

typedef void (*serve_grpc_handler)(serve_grpc_call *call);

typedef struct serve_grpc_method {
  const char *path; /* "/package.Service/Method" */
  serve_grpc_handler handle;
} serve_grpc_method;

/* The services' method tables, each ending with a NULL path. */
extern const serve_grpc_method serve_grpc_tfs_methods[];
extern const serve_grpc_method serve_grpc_kserve_methods[];
/* grpc.health.v1.Health/Check (grpc_health.c). */
extern const serve_grpc_method serve_grpc_health_methods[];

/* The health answer for a HealthCheckRequest: *serving for the server
 * (service "" or a service kiln serves) or for a model (NOT_FOUND when
 * there is none of that name); INVALID_ARGUMENT for a damaged message. */
serve_status *serve_grpc_health_check(serve_repo *repo, const uint8_t *request,
                                      size_t len, bool *serving);

/* Answers OK with a serialized response message (malloc'd; taken, may be
 * NULL when len is 0). */
void serve_grpc_respond(serve_grpc_call *call, uint8_t *response, size_t len);
/* Answers with an error: its serve_code as the gRPC status code, its text
 * as grpc-message (taken). */
void serve_grpc_fail(serve_grpc_call *call, serve_status *status);

/* A request metadata value (keys are lower case), or NULL. */
const char *serve_grpc_metadata(const serve_grpc_call *call, const char *key);

/* Starts listening on the configured ports (none when both are 0). On
 * error, false with a message in err. */
bool serve_grpc_start(serve_server *s, char *err, size_t err_size);
/* Stops accepting calls; calls in flight still answer. */
void serve_grpc_stop_accepting(serve_server *s);
/* Waits for calls in flight to answer, then frees the front. */
void serve_grpc_stop(serve_server *s);

#endif
