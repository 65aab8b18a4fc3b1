/* cmd_quantize.c - `kiln quantize MODEL -o OUT.tflite --mode ...`: kiln's
 * post-training quantizer (the work is in src/quantize/; this reads the
 * files, parses options and writes the result atomically). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kiln_quantize.h"
#include "qz_npz.h"

static const char quantize_help[] =
    "usage: kiln quantize MODEL -o OUT.tflite --mode dynamic|int8|int16x8|"
    "float16\n"
    "         [--calibration CAL.npz|FOLDER] [--method minmax|percentile|"
    "entropy]\n"
    "         [--percentile P] [--per-tensor] [--io float|int8] [--report]\n"
    "         [--report-samples N] [--keep-float NAME...]\n\n"
    "Quantizes a float TFLite model after training, without TensorFlow, and\n"
    "writes a .tflite any TFLite runtime runs:\n"
    "  dynamic   int8 weights of FULLY_CONNECTED, CONV_2D and BATCH_MATMUL\n"
    "            (>= 1024 elements), activations float; no calibration\n"
    "  int8      integer activations (asymmetric int8) and weights (symmetric\n"
    "            int8, per channel unless --per-tensor), int32 biases\n"
    "  int16x8   int16 activations (zero point 0), int8 weights, int64 biases\n"
    "  float16   every float constant stored as float16\n"
    "The integer modes need --calibration: an .npz with one float32 array\n"
    "per model input, keyed by the input's name, samples stacked on axis 0\n"
    "([N,224,224,3] for an input [1,224,224,3]), or a folder of such files.\n"
    "--method picks each tensor's range: minmax (default), percentile (clip\n"
    "|x| at --percentile P, default 99.99) or entropy (TensorRT's KL\n"
    "divergence over a 2048-bin histogram). --io int8 makes the model's\n"
    "inputs and outputs integers (default float: quantized inside).\n"
    "--report prints each quantized tensor's SQNR and largest relative\n"
    "error against the float model over the calibration samples (or the\n"
    "first --report-samples N), worst first; --keep-float NAME... leaves the\n"
    "layers producing those tensors float (int8, int16x8, dynamic).\n"
    "Nothing is written on error.\n";

static int parse_mode(const char *s, kiln_qz_mode *out) {
  static const struct {
    const char *name;
    kiln_qz_mode mode;
  } modes[] = {{"dynamic", KILN_QZ_DYNAMIC},
               {"int8", KILN_QZ_INT8},
               {"int16x8", KILN_QZ_INT16X8},
               {"float16", KILN_QZ_FLOAT16}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (strcmp(s, modes[i].name) == 0) {
      *out = modes[i].mode;
      return 0;
    }
  return -1;
}

static int parse_method(const char *s, kiln_qz_method *out) {
  if (strcmp(s, "minmax") == 0)
    *out = KILN_QZ_MINMAX;
  else if (strcmp(s, "percentile") == 0)
    *out = KILN_QZ_PERCENTILE;
  else if (strcmp(s, "entropy") == 0)
    *out = KILN_QZ_ENTROPY;
  else
    return -1;
  return 0;
}

static kiln_status *read_file(const char *path, void **out, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return kiln_status_create(KILN_ERR_IO, "%s: cannot open: %s", path,
                              strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    fclose(f);
    return kiln_status_create(KILN_ERR_IO, "%s: not a regular, non-empty file",
                              path);
  }
  *size = (size_t)st.st_size;
  *out = malloc(*size);
  size_t got = *out ? fread(*out, 1, *size, f) : 0;
  fclose(f);
  if (got != *size) {
    free(*out);
    *out = NULL;
    return kiln_status_create(KILN_ERR_IO, "%s: cannot read", path);
  }
  return NULL;
}

/* Writes through a temporary file beside `path`, renamed over it once
 * complete, so that a failure leaves no partial file. */
static kiln_status *write_atomically(const char *path, const void *data,
                                     size_t size) {
  size_t len = strlen(path) + 16;
  char *tmp = malloc(len);
  if (!tmp) return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  snprintf(tmp, len, "%s.tmpXXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    kiln_status *st = kiln_status_create(KILN_ERR_IO, "%s: cannot create: %s",
                                         path, strerror(errno));
    free(tmp);
    return st;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, (const char *)data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  int failed = done != size || fchmod(fd, 0644) != 0 || fsync(fd) != 0;
  failed |= close(fd) != 0;
  if (!failed && rename(tmp, path) == 0) {
    free(tmp);
    return NULL;
  }
  kiln_status *st = kiln_status_create(KILN_ERR_IO, "%s: cannot write: %s",
                                       path, strerror(errno));
  unlink(tmp);
  free(tmp);
  return st;
}

static void print_size(FILE *out, size_t bytes) {
  if (bytes < 1024)
    fprintf(out, "%zu B", bytes);
  else if (bytes < 1024 * 1024)
    fprintf(out, "%.1f KiB", bytes / 1024.0);
  else
    fprintf(out, "%.1f MiB", bytes / (1024.0 * 1024.0));
}

typedef struct quantize_args {
  const char *model, *out, *calibration;
  kiln_qz_options opt;
  const char **keep;
  int num_keep;
} quantize_args;

static int parse_args(int argc, char **argv, quantize_args *a) {
  const char *cmd = "quantize";
  int mode_given = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    int takes_value =
        strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0 ||
        strcmp(arg, "--mode") == 0 || strcmp(arg, "--calibration") == 0 ||
        strcmp(arg, "--method") == 0 || strcmp(arg, "--percentile") == 0 ||
        strcmp(arg, "--io") == 0 || strcmp(arg, "--report-samples") == 0;
    if (takes_value && !value)
      return cli_usage_error(cmd, "%s needs a value", arg);
    if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
      a->out = argv[++i];
    } else if (strcmp(arg, "--mode") == 0) {
      if (parse_mode(argv[++i], &a->opt.mode) != 0)
        return cli_usage_error(cmd,
                               "unknown mode '%s' (dynamic, int8, int16x8 or "
                               "float16)",
                               argv[i]);
      mode_given = 1;
    } else if (strcmp(arg, "--calibration") == 0) {
      a->calibration = argv[++i];
    } else if (strcmp(arg, "--method") == 0) {
      if (parse_method(argv[++i], &a->opt.method) != 0)
        return cli_usage_error(cmd,
                               "unknown method '%s' (minmax, percentile or "
                               "entropy)",
                               argv[i]);
    } else if (strcmp(arg, "--percentile") == 0) {
      char *end;
      double p = strtod(argv[++i], &end);
      if (*end || !(p > 0 && p <= 100))
        return cli_usage_error(
            cmd, "--percentile must be in (0, 100], not '%s'", argv[i]);
      a->opt.percentile = p;
    } else if (strcmp(arg, "--per-tensor") == 0) {
      a->opt.per_tensor = true;
    } else if (strcmp(arg, "--io") == 0) {
      i++;
      if (strcmp(argv[i], "float") == 0)
        a->opt.io_int8 = false;
      else if (strcmp(argv[i], "int8") == 0)
        a->opt.io_int8 = true;
      else
        return cli_usage_error(cmd, "--io is float or int8, not '%s'", argv[i]);
    } else if (strcmp(arg, "--report") == 0) {
      a->opt.report = stdout;
    } else if (strcmp(arg, "--report-samples") == 0) {
      if (cli_parse_int(argv[++i], 1, 1 << 30, &a->opt.report_samples) != 0)
        return cli_usage_error(cmd, "--report-samples needs a positive count");
      a->opt.report = stdout;
    } else if (strcmp(arg, "--keep-float") == 0) {
      if (!value || value[0] == '-')
        return cli_usage_error(cmd, "--keep-float needs tensor names");
      while (i + 1 < argc && argv[i + 1][0] != '-')
        a->keep[a->num_keep++] = argv[++i];
    } else if (arg[0] == '-') {
      return cli_usage_error(cmd, "unknown option '%s'", arg);
    } else if (!a->model) {
      a->model = arg;
    } else {
      return cli_usage_error(cmd, "one model only ('%s' and '%s')", a->model,
                             arg);
    }
  }
  if (!a->model) return cli_usage_error(cmd, "which model? (MODEL)");
  if (!a->out) return cli_usage_error(cmd, "where to? (-o OUT.tflite)");
  if (!mode_given)
    return cli_usage_error(cmd,
                           "--mode is required (dynamic, int8, int16x8 or "
                           "float16)");
  a->opt.keep_float = a->keep;
  a->opt.num_keep_float = a->num_keep;
  return 0;
}

int cmd_quantize(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (cli_is_help(argv[i])) {
      fputs(quantize_help, stdout);
      return 0;
    }
  quantize_args a;
  memset(&a, 0, sizeof a);
  a.opt = kiln_qz_options_default();
  a.keep = calloc((size_t)argc + 1, sizeof(char *));
  if (!a.keep)
    return cli_fail(
        kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
  int rc = parse_args(argc, argv, &a);
  if (rc) {
    free(a.keep);
    return rc;
  }
  a.opt.progress = stderr;
  a.opt.progress_tty = isatty(fileno(stderr));
  void *model = NULL, *out = NULL;
  size_t size = 0, out_size = 0;
  kiln_qz_inputs inputs = {0};
  qz_npz *npz = NULL;
  kiln_qz_source source;
  kiln_status *st = read_file(a.model, &model, &size);
  if (!st && a.calibration) {
    st = kiln_qz_read_inputs(model, size, a.model, &inputs);
    if (!st) st = qz_npz_open(a.calibration, &inputs, &npz);
    if (!st) source = qz_npz_source(npz);
  }
  if (!st)
    st = kiln_qz_quantize(model, size, a.model, &a.opt, npz ? &source : NULL,
                          &out, &out_size);
  if (!st) st = write_atomically(a.out, out, out_size);
  if (!st) {
    fprintf(stdout, "%s: ", a.out);
    print_size(stdout, size);
    fputs(" -> ", stdout);
    print_size(stdout, out_size);
    fprintf(stdout, " (%.2fx)\n", (double)out_size / (double)size);
  }
  qz_npz_close(npz);
  kiln_qz_inputs_free(&inputs);
  free(model);
  free(out);
  free(a.keep);
  return st ? cli_fail(st) : 0;
}
