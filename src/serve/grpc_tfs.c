/* grpc_tfs.c - TF Serving's gRPC services (tensorflow.serving
 * PredictionService and ModelService) on the gRPC front. */
#include "serve/grpc_front.h"

const serve_grpc_method serve_grpc_tfs_methods[] = {{NULL, NULL}};
