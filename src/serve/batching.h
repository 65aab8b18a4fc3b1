/* batching.h - TF Serving's BatchingParameters: how concurrent requests
 * for one model are merged along the batch dimension (scheduler.c does
 * the merging). */
#ifndef KILN_SERVE_BATCHING_H
#define KILN_SERVE_BATCHING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/status.h"

enum { SERVE_MAX_ALLOWED_BATCH_SIZES = 32 };

typedef struct serve_batching {
  bool enabled;
  int64_t max_batch_size;       /* largest batch, and largest request */
  int64_t batch_timeout_micros; /* how long a partial batch waits */
  int64_t max_enqueued_batches; /* queue bound, in batches */
  int64_t num_batch_threads;    /* batches run at once (0: workers) */
  int64_t allowed_batch_sizes[SERVE_MAX_ALLOWED_BATCH_SIZES];
  int num_allowed_batch_sizes;
  bool pad_variable_length_inputs;
} serve_batching;

/* TF Serving's defaults, batching off. */
void serve_batching_defaults(serve_batching *b);

/* Reads a BatchingParameters text file into *b (which keeps its values
 * for fields the file omits) and turns batching on. Checks TF Serving's
 * rules: positive sizes, allowed_batch_sizes increasing and ending at
 * max_batch_size. */
serve_status *serve_batching_parse_file(const char *path, serve_batching *b);
/* The same for text in memory; `name` starts the error messages. */
serve_status *serve_batching_parse_text(const char *text, size_t len,
                                        const char *name, serve_batching *b);

/* The batch size a batch of `size` items runs at: the smallest allowed
 * size that holds it, or `size` when any size is allowed. */
int64_t serve_batching_padded_size(const serve_batching *b, int64_t size);

#endif
