/* fuzz_pbtxt.c - libFuzzer target for the protocol-buffer text reader
 * (model_config_list, BatchingParameters and MonitoringConfig files):
 * parses the input, walks the whole tree through every accessor, reads it
 * as BatchingParameters, checking TF Serving's rules hold for whatever is
 * accepted, and as a model_config_list file (written to a temporary file)
 * into a repository that never loads. Seeds: tests/fuzz/corpus/pbtxt/. */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/batching.h"
#include "serve/pbtxt.h"
#include "serve/repository.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char config_path[64];

static void remove_config(void) { unlink(config_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(config_path, sizeof config_path, "/tmp/kiln-fuzz-pbtxt-XXXXXX");
  int fd = mkstemp(config_path);
  if (fd < 0) abort();
  close(fd);
  atexit(remove_config);
  return 0;
}

static void quiet_log(void *context, const char *fmt, ...) {
  (void)context;
  (void)fmt;
}

/* The input as a --model_config_file: what is accepted lists models with
 * names the APIs can route to. */
static void check_model_config(const uint8_t *data, size_t size) {
  FILE *f = fopen(config_path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f)) abort();
  serve_repo_config rc = {.poll_seconds = -1, .log = quiet_log};
  serve_repo *repo;
  if (serve_repo_create(&rc, &repo)) abort();
  serve_status *st = serve_repo_add_config_file(repo, config_path);
  if (st) {
    if (!serve_status_message(st)[0]) abort();
    serve_status_free(st);
  } else {
    serve_model_report *reports;
    int count;
    if (serve_repo_report(repo, NULL, &reports, &count) || count < 1) abort();
    for (int i = 0; i < count; i++)
      if (!reports[i].name[0] || strpbrk(reports[i].name, "/:") ||
          reports[i].num_versions)
        abort();
    serve_repo_report_free(reports, count);
  }
  serve_repo_free(repo);
}

/* Visits every field below msg; returns how many there are. */
static size_t walk(const pbtxt_node *msg, int depth) {
  if (depth > 65) abort(); /* the parser bounds nesting at 64 */
  size_t count = 0;
  char err[256];
  for (const pbtxt_node *f = msg->children; f; f = f->next) {
    count++;
    if (!f->name || !f->name[0] || f->line < 1) abort();
    if (f->value && f->children) abort(); /* a scalar or a message */
    if (f->is_string && !f->value) abort();
    /* Finding a field by its name lands on it or an earlier namesake,
     * and walking namesakes from there reaches it. */
    const pbtxt_node *g = pbtxt_find(msg, f->name, NULL);
    while (g && g != f) g = pbtxt_find_next(g, f->name);
    if (g != f) abort();
    int64_t i;
    bool b;
    err[0] = '\0';
    if (!pbtxt_int(f, &i, err, sizeof err) && strncmp(err, "line ", 5)) abort();
    if (!pbtxt_bool(f, &b, err, sizeof err) && strncmp(err, "line ", 5))
      abort();
    const char *s = pbtxt_string(f, err, sizeof err);
    if (s && !f->is_string && !pbtxt_find(f, "value", NULL)) abort();
    if (!f->value) count += walk(f, depth + 1);
  }
  return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  err[0] = '\0';
  pbtxt_node *root = pbtxt_parse((const char *)data, size, err, sizeof err);
  bool parsed = root != NULL;
  if (!root) {
    if (strncmp(err, "line ", 5)) abort(); /* errors say where */
  } else {
    walk(root, 0);
    pbtxt_free(root);
  }

  /* Files cost a write and a 16 MiB read buffer: only for inputs that
   * could be model lists. */
  if (memmem(data, size, "model_config_list", 17))
    check_model_config(data, size);

  serve_batching b;
  serve_batching_defaults(&b);
  serve_status *st =
      serve_batching_parse_text((const char *)data, size, "fuzz.pbtxt", &b);
  if (st) {
    if (b.enabled || serve_status_code(st) != SERVE_INVALID_ARGUMENT ||
        strncmp(serve_status_message(st), "fuzz.pbtxt: ", 12))
      abort();
    serve_status_free(st);
    return 0;
  }
  if (!parsed || !b.enabled) abort(); /* what parses as batching is pbtxt */
  if (b.max_batch_size < 1 || b.batch_timeout_micros < 0 ||
      b.max_enqueued_batches < 1 || b.num_batch_threads < 0 ||
      b.num_allowed_batch_sizes < 0 ||
      b.num_allowed_batch_sizes > SERVE_MAX_ALLOWED_BATCH_SIZES)
    abort();
  for (int i = 0; i < b.num_allowed_batch_sizes; i++)
    if (b.allowed_batch_sizes[i] < 1 ||
        (i && b.allowed_batch_sizes[i] <= b.allowed_batch_sizes[i - 1]))
      abort();
  if (b.num_allowed_batch_sizes &&
      b.allowed_batch_sizes[b.num_allowed_batch_sizes - 1] != b.max_batch_size)
    abort();
  /* Every batch up to the largest runs at an allowed size that holds it. */
  for (int64_t n = 1; n <= b.max_batch_size && n <= 64; n++) {
    int64_t padded = serve_batching_padded_size(&b, n);
    if (padded < n || padded > b.max_batch_size) abort();
  }
  return 0;
}
