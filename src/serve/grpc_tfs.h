/* grpc_tfs.h - the pieces TF Serving's gRPC handlers share across their
 * files: grpc_tfs.c (Predict, GetModelMetadata, GetModelStatus),
 * grpc_tfs_reload.c (HandleReloadConfigRequest) and grpc_tfs_example.c
 * (Classify and Regress on tf.Example inputs). */
#ifndef KILN_SERVE_GRPC_TFS_H
#define KILN_SERVE_GRPC_TFS_H

#include "serve/grpc_front.h"
#include "serve/tfs_proto.h"

/* The version a ModelSpec names, for serve_repo_acquire (0: the newest);
 * NOT_FOUND for an explicit version of 0 or less. */
serve_status *serve_grpc_tfs_spec_version(const serve_tfs_spec *spec,
                                          int64_t *version);
/* Labels the call with the model and holds the version the spec names
 * (after the signature check). */
serve_status *serve_grpc_tfs_acquire(serve_grpc_call *call,
                                     const serve_tfs_spec *spec,
                                     serve_version **out);
/* The call's deadline: the client's, else --rest_api_timeout_in_ms from
 * when it came (0: none). */
double serve_grpc_tfs_deadline(const serve_grpc_call *call);
/* Answers with what w holds (taken), or INTERNAL when it ran out of
 * memory. */
void serve_grpc_tfs_answer(serve_grpc_call *call, kiln_pb_writer *w);

/* Runs a call's inference: with st NULL, submits `inputs` (taken) on `v`
 * (its reference taken), with `state` as call->handler_state until done
 * answers. When st is an earlier error, or the submit fails, everything
 * is released (state through free_state) and the call answered with the
 * error (st taken). */
void serve_grpc_tfs_run(serve_grpc_call *call, serve_status *st,
                        serve_version *v, serve_tensor *inputs, int num_inputs,
                        void (*done)(serve_job *), void *state,
                        void (*free_state)(void *));

/* A done callback's two ends: a copy of the job's error (NULL when it
 * ran), and the call answered with w (taken) or failed with st (taken),
 * after recording the inference, which frees the job. */
serve_status *serve_grpc_tfs_job_error(const serve_job *job);
void serve_grpc_tfs_finish(serve_grpc_call *call, serve_job *job,
                           serve_status *st, kiln_pb_writer *w);

void serve_grpc_tfs_reload(serve_grpc_call *call);
void serve_grpc_tfs_classify(serve_grpc_call *call);
void serve_grpc_tfs_regress(serve_grpc_call *call);

#endif
