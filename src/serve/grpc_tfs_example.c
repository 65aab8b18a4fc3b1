/* grpc_tfs_example.c - TF Serving's Classify and Regress, which take
 * tf.Example inputs. */
#include "serve/grpc_tfs.h"

void serve_grpc_tfs_classify(serve_grpc_call *call) {
  call->api = "classify";
  serve_grpc_fail(call, serve_error(SERVE_UNIMPLEMENTED,
                                    "Classify is not served yet; use Predict"));
}

void serve_grpc_tfs_regress(serve_grpc_call *call) {
  call->api = "regress";
  serve_grpc_fail(call, serve_error(SERVE_UNIMPLEMENTED,
                                    "Regress is not served yet; use Predict"));
}
