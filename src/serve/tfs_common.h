/* tfs_common.h - what TF Serving's REST API (api_tfs.c) and its gRPC
 * services (grpc_tfs.c) share, so both answer alike: the signature check,
 * choosing the version a request names, which versions a status request
 * reports, and binding a request's named tensors to the model's inputs. */
#ifndef KILN_SERVE_TFS_COMMON_H
#define KILN_SERVE_TFS_COMMON_H

#include <stdint.h>

#include "serve/repository.h"
#include "serve/scheduler.h"
#include "serve/status.h"

/* The one signature a .tflite model has, as TF Serving names it. */
#define SERVE_TFS_SIGNATURE "serving_default"

/* NULL when `name` ("" or NULL: the default) is the model's signature;
 * else NOT_FOUND in TF Serving's words. */
serve_status *serve_tfs_check_signature(const char *name);

/* The version a request asks for (version > 0, else label when not NULL
 * or empty, else the newest available), after checking the signature;
 * holds a reference. */
serve_status *serve_tfs_acquire(serve_repo *repo, const char *model,
                                int64_t version, const char *label,
                                const char *signature, serve_version **out);

/* The status of one model: *reports (count 1, for
 * serve_repo_report_free) and in *only the version to report (0: every
 * one). NOT_FOUND, in TF Serving's words, for an unknown model, version
 * or label, or a model without versions. */
serve_status *serve_tfs_model_status(serve_repo *repo, const char *model,
                                     int64_t version, const char *label,
                                     serve_model_report **reports, int *count,
                                     int64_t *only);

/* A version's load error as a client may read it, its paths replaced by
 * "model 'NAME' version N" (malloc'd; NULL when error is NULL or memory
 * ran out). */
char *serve_tfs_version_error(const char *error, const char *model,
                              int64_t version);

/* Checks the model inputs `inputs` (num_inputs, in model order) against
 * the version (dtype, rank, fixed dims). */
serve_status *serve_tfs_check_inputs(const serve_version *v,
                                     const serve_tensor *inputs,
                                     int num_inputs);

#endif
