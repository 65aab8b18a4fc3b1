/* grpc_front_none.c - the gRPC front of a kiln built without libgrpc
 * (KILN_GRPC=OFF, or AUTO where pkg-config finds no grpc): nothing
 * listens, and a set --port is reported at start so a gRPC client's
 * "connection refused" has an explanation in the log. */
#include <stdlib.h>

#include "serve/grpc_front.h"

bool serve_grpc_start(serve_server *s, char *err, size_t err_size) {
  (void)err;
  (void)err_size;
  const serve_options *o = &s->options;
  if (o->grpc_port || o->kserve_grpc_port || o->grpc_socket_path[0])
    serve_log(NULL,
              "warning: this kiln was built without gRPC (libgrpc): nothing "
              "listens on --port=%lld, --grpc_port=%lld or "
              "--grpc_socket_path; use the REST API (--port=0 silences this)",
              (long long)o->grpc_port, (long long)o->kserve_grpc_port);
  return true;
}

void serve_grpc_stop_accepting(serve_server *s) { (void)s; }

void serve_grpc_stop(serve_server *s) { (void)s; }

void serve_grpc_respond(serve_grpc_call *call, uint8_t *response, size_t len) {
  (void)call;
  (void)len;
  free(response);
}

void serve_grpc_fail(serve_grpc_call *call, serve_status *status) {
  (void)call;
  serve_status_free(status);
}

const char *serve_grpc_metadata(const serve_grpc_call *call, const char *key) {
  (void)call;
  (void)key;
  return NULL;
}
