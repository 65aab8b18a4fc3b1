/* kserve_model.c - the KServe facts both fronts share (see kserve_model.h). */
#include "serve/kserve_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/redact.h"

const char *const serve_kserve_extensions[] = {
    "binary_tensor_data", "model_configuration", "statistics",
    "model_repository",   "schedule_policy",     NULL};

bool serve_kserve_tensor_info(const kiln_model *m, bool input, int index,
                              kiln_tensor_info *out) {
  kiln_status *k = input ? kiln_model_input_info(m, index, out)
                         : kiln_model_output_info(m, index, out);
  kiln_status_free(k);
  return !k;
}

bool serve_kserve_batched(const kiln_model *m) {
  for (int i = 0; i < kiln_model_num_inputs(m); i++) {
    kiln_tensor_info info;
    if (!serve_kserve_tensor_info(m, true, i, &info) || info.rank < 1 ||
        info.dims[0] >= 0)
      return false;
  }
  return kiln_model_num_inputs(m) > 0;
}

int64_t serve_kserve_max_batch_size(const serve_version *v, bool batched) {
  return batched ? v->model->batching.max_batch_size : 0;
}

const char *serve_kserve_index_state(serve_version_state state) {
  return state == SERVE_VERSION_AVAILABLE ? "READY"
         : state == SERVE_VERSION_LOADING ? "LOADING"
                                          : "UNAVAILABLE";
}

serve_status *serve_kserve_repository_error(serve_status *status,
                                            const char *model) {
  /* A failed load names the folder it read: the client sees the model. */
  char label[160];
  snprintf(label, sizeof label, "model '%s'", model);
  return serve_redact_status(status, NULL, label);
}

char *serve_kserve_version_reason(const char *error, const char *model,
                                  int64_t version) {
  if (!error) return strdup("");
  char label[192];
  snprintf(label, sizeof label, "model '%s' version %lld", model,
           (long long)version);
  char *text = serve_redact_paths(error, NULL, label);
  return text ? text : strdup("loading failed");
}
