/* cmd_convert.c - `kiln convert MODEL -o OUT.tflite`: reads a model into
 * kiln's graph (as the importer builds it, before any load-time pass) and
 * writes it back out with kiln's .tflite writer. It makes the writer usable
 * and testable from outside: a file converted this way must run the same
 * in any TFLite runtime as the original. Unlike the other commands it
 * reaches below kiln.h, to the importer and the writer themselves. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/alloc.h"
#include "core/file_kind.h"
#include "core/graph.h"
#include "core/status.h"
#include "formats/keras/keras_import.h"
#include "formats/tflite/tflite_export.h"
#include "formats/tflite/tflite_import.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: kiln convert MODEL -o OUT.tflite\n\n"
          "Reads MODEL (a .tflite file) into kiln's graph and writes it as a\n"
          "TensorFlow Lite flatbuffer with kiln's writer.\n");
}

/* The whole file in memory (malloc'd, 16-byte aligned as malloc's are). */
static kiln_status *read_whole(const char *path, void **out, size_t *size) {
  struct stat st;
  if (stat(path, &st) != 0)
    return kiln_status_create(KILN_ERR_IO, "%s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return kiln_status_create(KILN_ERR_IO, "%s is a %s, not a file", path,
                              kiln_file_kind(st.st_mode));
  FILE *f = fopen(path, "rb");
  if (!f)
    return kiln_status_create(KILN_ERR_IO, "%s: %s", path, strerror(errno));
  size_t n = (size_t)st.st_size;
  void *data = malloc(n ? n : 1);
  if (!data) {
    fclose(f);
    return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory",
                              path);
  }
  size_t got = fread(data, 1, n, f);
  fclose(f);
  if (got != n) {
    free(data);
    return kiln_status_create(KILN_ERR_IO, "%s: read %zu of %zu bytes", path,
                              got, n);
  }
  *out = data;
  *size = n;
  return NULL;
}

/* Writes through a temporary file renamed into place, so that a failed
 * write never leaves half a model under the output's name. */
static kiln_status *write_whole(const char *path, const void *data,
                                size_t size) {
  size_t len = strlen(path) + 16;
  char *tmp = malloc(len);
  if (!tmp) return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  snprintf(tmp, len, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  kiln_status *st = NULL;
  if (!f) {
    st = kiln_status_create(KILN_ERR_IO, "%s: %s", tmp, strerror(errno));
  } else {
    bool ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
      st = kiln_status_create(KILN_ERR_IO, "%s: write failed", tmp);
    else if (rename(tmp, path) != 0)
      st = kiln_status_create(KILN_ERR_IO, "%s: %s", path, strerror(errno));
    if (st) remove(tmp);
  }
  free(tmp);
  return st;
}

static kiln_status *convert(const char *in_path, const char *out_path,
                            size_t *in_size, size_t *out_size, int *nodes) {
  void *data = NULL;
  KILN_TRY(read_whole(in_path, &data, in_size));
  kiln_status *st = NULL;
  bool tflite = kiln_tflite_detect(data, *in_size);
  if (!tflite && !kiln_keras_detect(data, *in_size)) {
    st = kiln_status_create(KILN_ERR_UNSUPPORTED,
                            "%s: not a model kiln convert reads (.tflite, "
                            "Keras .h5 or .keras)",
                            in_path);
    free(data);
    return st;
  }
  kiln_graph *g = NULL;
  void *bytes = NULL;
  st = tflite ? kiln_tflite_import(data, *in_size, in_path, NULL, &g)
              : kiln_keras_import(data, *in_size, in_path, NULL, &g);
  if (!st) {
    *nodes = g->num_nodes;
    st = kiln_tflite_export(g, NULL, &bytes, out_size);
    if (st) st = kiln_status_wrap(st, "%s: writing TFLite", in_path);
  }
  if (!st) st = write_whole(out_path, bytes, *out_size);
  kiln_free(NULL, bytes);
  kiln_graph_free(g);
  free(data);
  return st;
}

int cmd_convert(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
      if (i + 1 >= argc)
        return cli_usage_error("convert", "%s needs a file name", argv[i]);
      out = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage_error("convert", "unknown option '%s'", argv[i]);
    } else if (!in) {
      in = argv[i];
    } else {
      return cli_usage_error("convert", "more than one model given");
    }
  }
  if (!in || !out) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  size_t in_size = 0, out_size = 0;
  int nodes = 0;
  kiln_status *st = convert(in, out, &in_size, &out_size, &nodes);
  if (st) return cli_fail(st);
  printf("%s (%zu bytes) -> %s (%zu bytes), %d operators\n", in, in_size, out,
         out_size, nodes);
  return 0;
}
