/* warmup.h - TF Serving's warm-up requests: a version folder's
 * assets.extra/tf_serving_warmup_requests (a TFRecord file of
 * PredictionLog messages, as TF Serving documents for SavedModels) is
 * replayed through the model before the version becomes AVAILABLE, so
 * that the first real requests find sessions prepared for their shapes. */
#ifndef KILN_SERVE_WARMUP_H
#define KILN_SERVE_WARMUP_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"
#include "serve/status.h"
#include "serve/tfs_proto.h"

/* Where the file sits inside a version folder. */
#define SERVE_WARMUP_FILE "assets.extra/tf_serving_warmup_requests"

/* TF Serving replays at most this many records. */
enum { SERVE_WARMUP_MAX_RECORDS = 1000 };

/* Calls `each` with every record of a TFRecord buffer (length, masked
 * CRC-32C of the length, data, masked CRC-32C of the data), checking both
 * checksums; errors name the record and its byte offset. */
serve_status *serve_tfrecord_each(const uint8_t *data, size_t size,
                                  serve_status *(*each)(void *context,
                                                        int index,
                                                        const uint8_t *record,
                                                        size_t len),
                                  void *context);

/* Decodes record `index` (a PredictionLog) into its PredictRequest; free
 * *out with serve_tfs_predict_free. Other log types are refused by name. */
serve_status *serve_warmup_decode(int index, const uint8_t *record, size_t len,
                                  serve_tfs_predict *out);

/* Replays the warm-up file at `path` through `session` (of `model`): each
 * PredictionLog's predict_log request sets the inputs it names (resizing
 * them to its shapes) and invokes. *out_count gets the number replayed.
 * Any other log type, an input the model lacks, a dtype mismatch or a
 * failing invoke is an error naming the record. */
serve_status *serve_warmup_replay(const char *path, const kiln_model *model,
                                  kiln_session *session, int *out_count);

#endif
