/* kserve_model.h - what KServe v2's REST (api_kserve.c) and gRPC
 * (grpc_kserve.c) APIs say the same way about the server and its models:
 * the platform and extensions they announce, whether a model batches and
 * how large a batch may be (Triton's max_batch_size, whose config then
 * leaves the batch dimension out), the repository index's state words, and
 * a failed load's error with host paths taken out. */
#ifndef KILN_SERVE_KSERVE_MODEL_H
#define KILN_SERVE_KSERVE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln.h"
#include "serve/repository.h"
#include "serve/status.h"

#define SERVE_KSERVE_PLATFORM "tflite"
#define SERVE_KSERVE_BACKEND "kiln"

/* The server metadata's extensions, ending with NULL. */
extern const char *const serve_kserve_extensions[];

/* A model input's or output's info; false when the model cannot say. */
bool serve_kserve_tensor_info(const kiln_model *m, bool input, int index,
                              kiln_tensor_info *out);

/* Whether every input's first dimension is dynamic (a batch). */
bool serve_kserve_batched(const kiln_model *m);

/* Triton's max_batch_size for the version: the batching's maximum when
 * the model batches, else 0. */
int64_t serve_kserve_max_batch_size(const serve_version *v, bool batched);

/* "READY", "LOADING" or "UNAVAILABLE", as the repository index says. */
const char *serve_kserve_index_state(serve_version_state state);

/* A repository load's or unload's error with paths replaced by the model's
 * name (frees status; NULL stays NULL). */
serve_status *serve_kserve_repository_error(serve_status *status,
                                            const char *model);

/* A version's load error as the repository index's reason, its paths
 * replaced by "model 'NAME' version N": malloc'd ("" when none), or NULL
 * when out of memory. */
char *serve_kserve_version_reason(const char *error, const char *model,
                                  int64_t version);

#endif
