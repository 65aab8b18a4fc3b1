/* cmd_run.c - `kiln run MODEL`: feed .npy inputs (or random ones), run once,
 * print a summary and write each output as NAME.npy. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const char run_help[] =
    "usage: kiln run MODEL [--input NAME=FILE.npy ...] [--output DIR]\n"
    "                [--shape NAME=D0,D1,... ...] [--threads N] [--top K]\n"
    "                [--max-memory BYTES] [--invokes N]\n\n"
    "Runs the model once, or N times with --invokes (recurrent models carry\n"
    "their state from one invoke to the next, as in TFLite; the last run's\n"
    "outputs are reported). Inputs are given by name (the model's\n"
    "signature names, see 'kiln info'); a model with one input also takes\n"
    "--input FILE.npy. Inputs not given get random values: uniform in [0,1)\n"
    "for floats, 0 or 1 for integers. An input whose shape differs from the\n"
    "model's resizes the model when the differing dimensions are dynamic;\n"
    "--shape gives the sizes of an input's dynamic dimensions for random\n"
    "values (a model whose height and width are dynamic needs them).\n"
    "With --output, each output is written to DIR/NAME.npy, NAME being the\n"
    "output's name with characters outside [A-Za-z0-9_.-] replaced by '_'\n"
    "(output_<i> when empty); a name another output already took gets _<i>\n"
    "appended, i being the output's index. Each line names its file.\n"
    "For each output the shape and the K largest values (default 5) are\n"
    "printed.\n";

typedef struct run_args {
  const char *model_path;
  const char *output_dir;
  int num_threads;
  int top_k;
  int invokes;
  int num_inputs;
  char **input_specs; /* NAME=FILE or FILE */
  cli_shape shapes[CLI_MAX_SHAPES];
  int num_shapes;
  size_t max_memory;
} run_args;

static int parse_args(int argc, char **argv, run_args *args) {
  args->top_k = 5;
  args->invokes = 1;
  args->input_specs = calloc((size_t)argc, sizeof(char *));
  if (!args->input_specs) return cli_usage_error("run", "out of memory");
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int has_value = i + 1 < argc;
    if (cli_is_help(arg)) {
      fputs(run_help, stdout);
      return -1;
    } else if (strcmp(arg, "--input") == 0 && has_value) {
      args->input_specs[args->num_inputs++] = argv[++i];
    } else if (strcmp(arg, "--shape") == 0 && has_value) {
      if (args->num_shapes == CLI_MAX_SHAPES)
        return cli_usage_error("run", "at most %d --shape options",
                               CLI_MAX_SHAPES);
      int rc =
          cli_parse_shape("run", argv[++i], &args->shapes[args->num_shapes++]);
      if (rc) return rc;
    } else if (strcmp(arg, "--max-memory") == 0 && has_value) {
      int rc = cli_parse_bytes("run", arg, argv[++i], &args->max_memory);
      if (rc) return rc;
    } else if (strcmp(arg, "--output") == 0 && has_value) {
      args->output_dir = argv[++i];
    } else if (strcmp(arg, "--threads") == 0 && has_value) {
      if (cli_parse_int(argv[++i], 0, 1024, &args->num_threads))
        return cli_usage_error("run", "--threads takes 0..1024, got '%s'",
                               argv[i]);
    } else if (strcmp(arg, "--top") == 0 && has_value) {
      if (cli_parse_int(argv[++i], 0, 1000000, &args->top_k))
        return cli_usage_error("run", "--top takes a count, got '%s'", argv[i]);
    } else if (strcmp(arg, "--invokes") == 0 && has_value) {
      if (cli_parse_int(argv[++i], 1, 1000000, &args->invokes))
        return cli_usage_error("run", "--invokes takes 1..1000000, got '%s'",
                               argv[i]);
    } else if (arg[0] == '-') {
      return cli_usage_error("run", "unknown option '%s' (or a missing value)",
                             arg);
    } else if (!args->model_path) {
      args->model_path = arg;
    } else {
      return cli_usage_error("run", "unexpected argument '%s'", arg);
    }
  }
  if (!args->model_path)
    return cli_usage_error("run", "a MODEL path is required");
  return 0;
}

/* Loaded .npy arrays, one slot per model input (empty when random). */
typedef struct run_inputs {
  kiln_array *arrays;
  int *given;
  int count;
  int usage_error; /* already printed */
} run_inputs;

static kiln_status *load_inputs(const kiln_model *model, const run_args *args,
                                run_inputs *in) {
  in->count = kiln_model_num_inputs(model);
  in->arrays = calloc((size_t)in->count + 1, sizeof *in->arrays);
  in->given = calloc((size_t)in->count + 1, sizeof *in->given);
  if (!in->arrays || !in->given) return NULL; /* reported by caller */
  for (int k = 0; k < args->num_inputs; k++) {
    const char *spec = args->input_specs[k];
    const char *equals = strchr(spec, '=');
    int index = 0;
    const char *path = spec;
    if (equals) {
      char name[512];
      size_t len = (size_t)(equals - spec);
      if (len >= sizeof name) len = sizeof name - 1;
      memcpy(name, spec, len);
      name[len] = '\0';
      kiln_status *st = kiln_model_find_input(model, name, &index);
      if (st) return st;
      path = equals + 1;
    } else if (in->count != 1) {
      in->usage_error = cli_usage_error(
          "run", "the model has %d inputs; name each: --input NAME=%s",
          in->count, spec);
      return NULL;
    }
    if (in->given[index]) kiln_array_free(&in->arrays[index]);
    kiln_status *st = kiln_npy_load(path, &in->arrays[index]);
    if (st) return st;
    in->given[index] = 1;
  }
  return NULL;
}

static int same_dims(const kiln_tensor_info *t, const kiln_array *a) {
  if (t->rank != a->rank) return 0;
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] != a->dims[d]) return 0;
  return 1;
}

/* Resizes inputs whose given array's shape differs, then applies --shape
 * and prepares once. 0, or an exit code after printing the error. */
static int apply_shapes(kiln_model *model, kiln_session *s,
                        const run_inputs *in, const run_args *args) {
  int given = 0;
  for (int i = 0; i < in->count; i++) {
    if (!in->given[i]) continue;
    given = 1;
    kiln_tensor_info info;
    kiln_status *st = kiln_session_input_info(s, i, &info);
    if (!st && !same_dims(&info, &in->arrays[i]))
      st = kiln_session_resize_input(s, i, in->arrays[i].dims,
                                     in->arrays[i].rank);
    if (st) return cli_fail(st);
  }
  return cli_apply_shapes("run", model, s, args->shapes, args->num_shapes,
                          given);
}

static void fill_random(kiln_dtype dtype, void *data, size_t nbytes) {
  size_t count = kiln_dtype_size(dtype) ? nbytes / kiln_dtype_size(dtype) : 0;
  for (size_t i = 0; i < count; i++) {
    double r = rand() / ((double)RAND_MAX + 1.0);
    switch (dtype) {
      case KILN_FLOAT32:
        ((float *)data)[i] = (float)r;
        break;
      case KILN_FLOAT64:
        ((double *)data)[i] = r;
        break;
      case KILN_COMPLEX64: /* real and imaginary parts */
        ((float *)data)[2 * i] = (float)r;
        ((float *)data)[2 * i + 1] = (float)(rand() / ((double)RAND_MAX + 1.0));
        break;
      case KILN_INT32:
        ((int32_t *)data)[i] = r < 0.5 ? 0 : 1;
        break;
      case KILN_INT64:
        ((int64_t *)data)[i] = r < 0.5 ? 0 : 1;
        break;
      case KILN_UINT16:
        ((uint16_t *)data)[i] = r < 0.5 ? 0 : 1;
        break;
      case KILN_UINT32:
        ((uint32_t *)data)[i] = r < 0.5 ? 0 : 1;
        break;
      case KILN_UINT64:
        ((uint64_t *)data)[i] = r < 0.5 ? 0 : 1;
        break;
      case KILN_FLOAT16: /* 0.0 or 1.0 */
        ((uint16_t *)data)[i] = r < 0.5 ? 0 : 0x3C00;
        break;
      default: /* the one-byte types */
        ((unsigned char *)data)[i * kiln_dtype_size(dtype)] = r < 0.5;
        break;
    }
  }
}

/* A STRING input nobody gave: empty strings (random bytes would say
 * nothing more, and kiln_session_input_buffer refuses strings). */
static kiln_status *feed_empty_strings(kiln_session *s, int index,
                                       const kiln_tensor_info *info) {
  size_t count = 1;
  for (int d = 0; d < info->rank; d++) count *= (size_t)info->dims[d];
  kiln_string *views = calloc(count ? count : 1, sizeof *views);
  if (!views)
    return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  kiln_status *st =
      kiln_session_set_input(s, index, KILN_STRING, info->dims, info->rank,
                             views, count * sizeof *views);
  free(views);
  return st;
}

static kiln_status *feed_inputs(kiln_session *s, const run_inputs *in) {
  for (int i = 0; i < in->count; i++) {
    kiln_status *st;
    if (in->given[i]) {
      const kiln_array *a = &in->arrays[i];
      st = kiln_session_set_input(s, i, a->dtype, a->dims, a->rank, a->data,
                                  a->nbytes);
    } else {
      kiln_tensor_info info;
      void *data;
      size_t nbytes;
      st = kiln_session_input_info(s, i, &info);
      if (!st && info.dtype == KILN_STRING) {
        st = feed_empty_strings(s, i, &info);
        if (st) return st;
        continue;
      }
      if (!st) st = kiln_session_input_buffer(s, i, &data, &nbytes);
      if (!st) {
        memset(data, 0, nbytes);
        fill_random(info.dtype, data, nbytes);
      }
    }
    if (st) return st;
  }
  return NULL;
}

/* The file name (without .npy) of output `index`: its name with every
 * character outside [A-Za-z0-9_.-] replaced by '_'; "output_<index>"
 * for an empty name, "." or "..". */
static void sanitize_name(const char *name, int index, char *out, size_t size) {
  size_t n = 0;
  for (; name[n] && n + 1 < size; n++) {
    char c = name[n];
    int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    out[n] = keep ? c : '_';
  }
  out[n] = '\0';
  if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
    snprintf(out, size, "output_%d", index);
}

enum { FILE_STEM_SIZE = 512 };

/* File stems for every output, distinct: a stem already taken by an
 * earlier output ('output/0' and 'output_0', or one tensor listed twice)
 * gets "_<index>" appended (again until it is free), so no output
 * overwrites another's file. */
static void output_stems(const kiln_session *s, int count,
                         char (*stems)[FILE_STEM_SIZE]) {
  for (int i = 0; i < count; i++) {
    kiln_tensor_info t;
    kiln_status *st = kiln_session_output_info(s, i, &t);
    sanitize_name(st ? "" : t.name, i, stems[i], FILE_STEM_SIZE);
    kiln_status_free(st);
    for (int taken = 1; taken;) {
      taken = 0;
      for (int j = 0; j < i && !taken; j++) taken = !strcmp(stems[i], stems[j]);
      if (taken) {
        size_t len = strlen(stems[i]);
        if (len > FILE_STEM_SIZE - 16) len = FILE_STEM_SIZE - 16;
        snprintf(stems[i] + len, FILE_STEM_SIZE - len, "_%d", i);
      }
    }
  }
}

static void print_top(const kiln_tensor_info *t, const void *data,
                      size_t nbytes, int k) {
  if (t->dtype != KILN_FLOAT32 || k <= 0) return;
  const float *values = data;
  size_t count = nbytes / sizeof(float);
  if ((size_t)k > count) k = (int)count;
  /* Selection by repeated scans: k is small and this runs once. */
  size_t chosen[64];
  if (k > 64) k = 64;
  printf("    top-%d:", k);
  for (int j = 0; j < k; j++) {
    size_t best = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
      int taken = 0;
      for (int c = 0; c < j; c++) taken |= chosen[c] == i;
      if (taken || isnan(values[i])) continue;
      if (best == (size_t)-1 || values[i] > values[best]) best = i;
    }
    if (best == (size_t)-1) break;
    chosen[j] = best;
    printf(" [%zu]=%.6g", best, values[best]);
  }
  printf("\n");
}

/* Prints every output and, with --output, writes each as DIR/STEM.npy.
 * 0, or an exit code after printing the error. */
static int report_outputs(const kiln_session *s, int num_outputs,
                          const run_args *args) {
  const char *dir = args->output_dir; /* made by cmd_run */
  char(*stems)[FILE_STEM_SIZE] = calloc((size_t)num_outputs + 1, sizeof *stems);
  if (!stems) return cli_usage_error("run", "out of memory");
  output_stems(s, num_outputs, stems);
  int rc = 0;
  for (int i = 0; i < num_outputs && !rc; i++) {
    kiln_tensor_info t;
    const void *data;
    size_t nbytes;
    kiln_status *st = kiln_session_output_info(s, i, &t);
    if (!st) st = kiln_session_output_buffer(s, i, &data, &nbytes);
    if (st) {
      rc = cli_fail(st);
      break;
    }
    printf("  ");
    cli_print_name(stdout, t.name);
    printf(" %s ", kiln_dtype_name(t.dtype));
    cli_print_dims(stdout, t.dims, t.rank);
    if (dir) printf(" -> %s.npy", stems[i]);
    printf("\n");
    print_top(&t, data, nbytes, args->top_k);
    if (!dir) continue;
    char file[1024];
    snprintf(file, sizeof file, "%s/%s.npy", dir, stems[i]);
    kiln_array array = {t.dtype, t.rank, {0}, (void *)data, nbytes};
    memcpy(array.dims, t.dims, sizeof array.dims);
    st = kiln_npy_save(file, &array);
    if (st) rc = cli_fail(st);
  }
  free(stems);
  return rc;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int cmd_run(int argc, char **argv) {
  run_args args = {0};
  int rc = parse_args(argc, argv, &args);
  if (rc) {
    free(args.input_specs);
    return rc < 0 ? 0 : rc;
  }
  /* The output folder first, so a bad path fails before the model runs. */
  struct stat dir_info;
  if (args.output_dir && mkdir(args.output_dir, 0777) != 0 &&
      (errno != EEXIST || stat(args.output_dir, &dir_info) != 0 ||
       !S_ISDIR(dir_info.st_mode))) {
    fprintf(stderr,
            "kiln: error: cannot create the output directory '%s': %s\n",
            args.output_dir,
            errno == EEXIST ? "a file is in the way" : strerror(errno));
    free(args.input_specs);
    return CLI_EXIT_FAILURE;
  }
  kiln_options options = kiln_options_default();
  options.num_threads = args.num_threads;
  options.max_memory_bytes = args.max_memory;
  kiln_model *model = NULL;
  kiln_session *session = NULL;
  run_inputs in = {0};
  kiln_status *st = kiln_model_load_file(args.model_path, &options, &model);
  if (!st) st = load_inputs(model, &args, &in);
  if (!st && (!in.arrays || !in.given))
    rc = cli_usage_error("run", "out of memory");
  else if (!st && in.usage_error)
    rc = in.usage_error;
  if (!st && !rc) st = kiln_session_create(model, &options, &session);
  if (!st && !rc) rc = apply_shapes(model, session, &in, &args);
  if (!st && !rc) st = feed_inputs(session, &in);
  double start = now_ms();
  for (int k = 0; k < args.invokes && !st && !rc; k++) {
    start = now_ms();
    st = kiln_session_invoke(session);
  }
  double elapsed = now_ms() - start;
  if (!st && !rc) {
    printf("ran %s in %.3f ms\noutputs:\n", args.model_path, elapsed);
    rc = report_outputs(session, kiln_model_num_outputs(model), &args);
  }
  for (int i = 0; in.arrays && i < in.count; i++)
    if (in.given[i]) kiln_array_free(&in.arrays[i]);
  free(in.arrays);
  free(in.given);
  free(args.input_specs);
  kiln_session_free(session);
  kiln_model_free(model);
  if (st) return cli_fail(st);
  return rc;
}
