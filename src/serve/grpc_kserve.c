/* grpc_kserve.c - KServe v2's gRPC service (inference.GRPCInferenceService)
 * on the gRPC front. */
#include "serve/grpc_front.h"

const serve_grpc_method serve_grpc_kserve_methods[] = {{NULL, NULL}};
