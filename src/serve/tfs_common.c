/* tfs_common.c - TF Serving's rules shared by REST and gRPC (see
 * tfs_common.h). */
#include "serve/tfs_common.h"

#include <stdio.h>
#include <string.h>

#include "serve/api_common.h"
#include "serve/redact.h"

serve_status *serve_tfs_check_signature(const char *name) {
  if (!name || !name[0] || !strcmp(name, SERVE_TFS_SIGNATURE)) return NULL;
  return serve_error(SERVE_NOT_FOUND,
                     "Serving signature name: \"%s\" not found in signature "
                     "def",
                     name);
}

serve_status *serve_tfs_acquire(serve_repo *repo, const char *model,
                                int64_t version, const char *label,
                                const char *signature, serve_version **out) {
  *out = NULL;
  SERVE_TRY(serve_tfs_check_signature(signature));
  return serve_repo_acquire(repo, model, version,
                            label && label[0] ? label : NULL, out);
}

serve_status *serve_tfs_model_status(serve_repo *repo, const char *model,
                                     int64_t version, const char *label,
                                     serve_model_report **reports, int *count,
                                     int64_t *only) {
  *only = version;
  SERVE_TRY(serve_repo_report(repo, model, reports, count));
  serve_status *st = NULL;
  if (label && label[0]) {
    serve_version *v;
    st = serve_repo_acquire(repo, model, 0, label, &v);
    if (!st) {
      *only = v->number;
      serve_version_release(v);
    }
  }
  bool found = *only <= 0;
  for (int k = 0; !found && k < (*reports)[0].num_versions; k++)
    found = (*reports)[0].versions[k].number == *only;
  if (!st && !found)
    st = serve_error(SERVE_NOT_FOUND, "Could not find version %lld of model %s",
                     (long long)*only, model);
  if (!st && !(*reports)[0].num_versions)
    st = serve_error(SERVE_NOT_FOUND, "Could not find any versions of model %s",
                     model);
  if (st) {
    serve_repo_report_free(*reports, *count);
    *reports = NULL;
    *count = 0;
  }
  return st;
}

char *serve_tfs_version_error(const char *error, const char *model,
                              int64_t version) {
  if (!error) return NULL;
  char label[192];
  snprintf(label, sizeof label, "model '%s' version %lld", model,
           (long long)version);
  return serve_redact_paths(error, NULL, label);
}

serve_status *serve_tfs_check_inputs(const serve_version *v,
                                     const serve_tensor *inputs,
                                     int num_inputs) {
  for (int i = 0; i < num_inputs; i++)
    SERVE_TRY(serve_check_input(v, i, &inputs[i]));
  return NULL;
}
