/* model.c - loading models (a file read into memory, or a memory copy), import,
 * load-time passes, and the read-only accessors of a loaded model. */
#include "runtime/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/custom_op.h"
#include "core/file_kind.h"
#include "formats/keras/keras_import.h"
#include "formats/savedmodel/savedmodel_import.h"
#include "formats/tflite/tflite_import.h"
#include "kernels/custom/builtins.h"
#include "kernels/ref/quant_params.h"
#include "passes/passes.h"

kiln_options kiln_options_default(void) {
  kiln_options options;
  memset(&options, 0, sizeof options);
  options.num_threads = 0;
  options.log_level = KILN_LOG_WARNING;
  return options;
}

void kiln_log(const kiln_options *options, kiln_log_level level,
              const char *fmt, ...) {
  if (!options || !options->log || level > options->log_level) return;
  char message[512];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  options->log(options->log_context, level, message);
}

static kiln_status *new_model(const kiln_options *options, const char *source,
                              kiln_model **out) {
  const kiln_allocator *alloc = options ? options->allocator : NULL;
  kiln_model *m = kiln_calloc(alloc, 1, sizeof *m);
  if (!m) return KILN_OOM();
  m->options = options ? *options : kiln_options_default();
  if (alloc) {
    m->allocator = *alloc;
    m->alloc = &m->allocator;
    m->options.allocator = m->alloc;
  }
  m->source = kiln_strdup(m->alloc, source);
  if (!m->source) {
    kiln_free(alloc, m);
    return KILN_OOM();
  }
  *out = m;
  return NULL;
}

/* A node's inputs and outputs as tensors over the graph's values (their
 * shapes, constant data and quantization): what the build-time steps below
 * hand a kernel hook before any session exists. */
enum { MAX_NODE_IO = 64 };
typedef struct node_tensors {
  kiln_tensor in[MAX_NODE_IO], out[MAX_NODE_IO];
  kiln_tensor *in_ptrs[MAX_NODE_IO], *out_ptrs[MAX_NODE_IO];
} node_tensors;

/* Fills `t` and `ctx` for `node`; false (and nothing built) when the node
 * has more inputs or outputs than MAX_NODE_IO, which these steps skip. */
static bool node_context(const kiln_graph *g, const kiln_node *node,
                         node_tensors *t, kiln_op_ctx *ctx) {
  if (node->num_inputs > MAX_NODE_IO || node->num_outputs > MAX_NODE_IO)
    return false;
  for (int i = 0; i < node->num_inputs; i++) {
    t->in_ptrs[i] = node->inputs[i] < 0 ? NULL : &t->in[i];
    if (t->in_ptrs[i])
      kiln_value_as_tensor(&g->values[node->inputs[i]], &t->in[i]);
  }
  for (int i = 0; i < node->num_outputs; i++) {
    kiln_value_as_tensor(&g->values[node->outputs[i]], &t->out[i]);
    t->out_ptrs[i] = &t->out[i];
  }
  *ctx = (kiln_op_ctx){node->attrs,
                       t->in_ptrs,
                       node->num_inputs,
                       t->out_ptrs,
                       node->num_outputs,
                       NULL,
                       NULL,
                       NULL};
  return true;
}

/* Lets the best variant of each node repack its constant weights once, so
 * that every session (and every input shape) shares them. */
static kiln_status *pack_weights(kiln_model *m) {
  const kiln_graph *g = m->graph;
  size_t count = (size_t)g->num_nodes + 1;
  m->packed = kiln_calloc(m->alloc, count, sizeof(void *));
  m->packed_by = kiln_calloc(m->alloc, count, sizeof(*m->packed_by));
  if (!m->packed || !m->packed_by) return KILN_OOM();
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    int index = 0;
    const kiln_kernel_variant *v =
        kiln_variant_packer(node->op, m->isa, 0, &index);
    node_tensors tensors;
    kiln_op_ctx ctx;
    if (!v || !node_context(g, node, &tensors, &ctx)) continue;
    /* Packers read the model's choices from the node's quantization; a
     * node without any (ADD, MUL, fused nodes) gets a block that carries
     * only those choices. */
    static const kiln_quant_params fp32_choices = {.fp32_rounding = true};
    ctx.quant = m->quant && m->quant[n] ? m->quant[n]
                : m->int8_fp32_rounding ? &fp32_choices
                                        : NULL;
    for (; v && !m->packed[n];
         v = kiln_variant_packer(node->op, m->isa, index + 1, &index)) {
      KILN_TRY(kiln_status_wrap(v->pack(&ctx, m->alloc, &m->packed[n]),
                                "%s: operator %d (%s): packing weights for %s",
                                m->source, node->source_index,
                                kiln_op_table[node->op].name, v->name));
      if (m->packed[n]) m->packed_by[n] = v;
    }
  }
  return NULL;
}

/* Builds each quantized node's multipliers, corrected biases and clamps
 * once, so sessions share them and kernels compute none at invoke. */
static kiln_status *build_quant_params(kiln_model *m) {
  const kiln_graph *g = m->graph;
  m->quant = kiln_calloc(m->alloc, (size_t)g->num_nodes + 1, sizeof(*m->quant));
  if (!m->quant) return KILN_OOM();
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    node_tensors tensors;
    kiln_op_ctx ctx;
    if (!node_context(g, node, &tensors, &ctx)) continue;
    KILN_TRY(kiln_status_wrap(
        kiln_quant_params_build(node->op, &ctx, m->alloc, &m->quant[n]),
        "%s: operator %d (%s)", m->source, node->source_index,
        kiln_op_table[node->op].name));
    if (m->quant[n]) m->quant[n]->fp32_rounding = m->int8_fp32_rounding;
  }
  return NULL;
}

/* Passes, quantization parameters and packed weights of one graph. */
static kiln_status *optimize_graph(kiln_model *m) {
  KILN_TRY(kiln_run_passes(m->graph, m->source, &m->passes));
  const kiln_pass_report *report = &m->passes;
  kiln_log(&m->options, KILN_LOG_INFO,
           "%s: %d operators in the file, %d after load-time passes (%d "
           "folded into constants, %d batch-norm ops folded, %d activations "
           "fused, %d no-ops and %d dead operators removed, %d bottlenecks "
           "and %d residual ADDs fused, %d int8 swish pairs made tables)",
           m->source, report->nodes_before, report->nodes_after, report->folded,
           report->folded_batchnorms, report->fused_activations,
           report->removed_noops, report->removed_dead,
           report->fused_bottlenecks, report->fused_residuals,
           report->fused_swish8);
  KILN_TRY(build_quant_params(m));
  return pack_weights(m);
}

/* A subgraph run by control flow, as a model sharing the root's bytes,
 * options and instruction set; its messages say "FILE: subgraph N". */
static kiln_status *child_model(kiln_model *root, kiln_graph *graph, int index,
                                kiln_model **out) {
  kiln_model *c = kiln_calloc(root->alloc, 1, sizeof *c);
  size_t size = strlen(root->source) + 32;
  char *source = kiln_malloc(root->alloc, size);
  if (!c || !source) {
    kiln_free(root->alloc, c);
    kiln_free(root->alloc, source);
    kiln_graph_free(graph);
    return KILN_OOM();
  }
  snprintf(source, size, "%s: subgraph %d", root->source, index);
  c->options = root->options;
  c->alloc = root->alloc;
  c->graph = graph;
  c->source = source;
  c->format = root->format;
  c->isa = root->isa;
  c->int8_fp32_rounding = root->int8_fp32_rounding;
  c->root = root;
  *out = c;
  return optimize_graph(c);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static int compare_handles(const void *a, const void *b) {
  const kiln_var_handle_attrs *x = *(kiln_var_handle_attrs *const *)a;
  const kiln_var_handle_attrs *y = *(kiln_var_handle_attrs *const *)b;
  int c = strcmp(or_empty(x->container), or_empty(y->container));
  return c ? c : strcmp(or_empty(x->shared_name), or_empty(y->shared_name));
}

/* Gives each distinct (container, shared_name) of the VAR_HANDLEs in all
 * subgraphs one id: a session keeps one variable per id, so every
 * subgraph naming it reaches the same one. Sorting keeps this n log n
 * however many handles a file has. */
static kiln_status *number_variables(kiln_model *m) {
  size_t count = 0;
  for (int s = 0; s < m->num_subgraphs; s++) {
    const kiln_graph *g = m->subgraphs[s] ? m->subgraphs[s]->graph : NULL;
    for (int n = 0; g && n < g->num_nodes; n++)
      count += g->nodes[n].op == KILN_OP_VAR_HANDLE;
  }
  m->num_variables = 0;
  if (!count) return NULL;
  kiln_var_handle_attrs **handles =
      kiln_calloc(m->alloc, count, sizeof *handles);
  if (!handles) return KILN_OOM();
  size_t k = 0;
  for (int s = 0; s < m->num_subgraphs; s++) {
    kiln_graph *g = m->subgraphs[s] ? m->subgraphs[s]->graph : NULL;
    for (int n = 0; g && n < g->num_nodes; n++)
      if (g->nodes[n].op == KILN_OP_VAR_HANDLE)
        handles[k++] = g->nodes[n].attrs;
  }
  qsort(handles, count, sizeof *handles, compare_handles);
  for (size_t i = 0; i < count; i++) {
    if (i == 0 || compare_handles(&handles[i - 1], &handles[i]) != 0)
      m->num_variables++;
    handles[i]->variable = m->num_variables - 1;
  }
  kiln_free(m->alloc, handles);
  return NULL;
}

/* The load-time choices every format's model makes from its options:
 * the instruction set its kernels may use and the int8 rounding. */
static void resolve_choices(kiln_model *m) {
  m->isa = kiln_isa_resolve(m->options.max_isa);
  m->int8_fp32_rounding =
      kiln_int8_rounding_resolve(m->options.int8_rounding) ==
      KILN_INT8_ROUNDING_FP32;
}

/* The rest of loading for a format with one graph (Keras, SavedModel):
 * the model is its only subgraph, optimized. */
static kiln_status *finish_single_graph(kiln_model *m) {
  resolve_choices(m);
  m->subgraphs = kiln_calloc(m->alloc, 1, sizeof *m->subgraphs);
  if (!m->subgraphs) return KILN_OOM();
  m->num_subgraphs = 1;
  m->subgraphs[0] = m;
  KILN_TRY(optimize_graph(m));
  return number_variables(m);
}

/* A Keras file's one graph, optimized. */
static kiln_status *import_keras(kiln_model *m, const void *data, size_t size) {
  m->format = "keras";
  m->root = m;
  KILN_TRY(kiln_keras_import(data, size, m->source, m->alloc, &m->graph));
  /* The graph owns copies of the weights, in kiln's layouts: the file's
   * bytes go now, before weight packing makes a third copy. */
  if (data == m->buffer) {
    kiln_free(m->alloc, m->buffer);
    m->buffer = NULL;
  }
  return finish_single_graph(m);
}

/* A SavedModel folder's serving graph, optimized: `pb` is its
 * saved_model.pb, `variables` the prefix of its variables/ files. */
static kiln_status *import_savedmodel(kiln_model *m, const void *pb,
                                      size_t size, const char *variables) {
  m->format = "savedmodel";
  m->root = m;
  KILN_TRY(kiln_savedmodel_import(pb, size, variables, m->source, m->alloc,
                                  &m->graph));
  return finish_single_graph(m);
}

/* Turns the model's bytes into optimized graphs. */
static kiln_status *import_graph(kiln_model *m, const void *data, size_t size) {
  if (!kiln_tflite_detect(data, size) && kiln_keras_detect(data, size))
    return import_keras(m, data, size);
  if (!kiln_tflite_detect(data, size))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: not a model format kiln reads (%zu bytes; a TFLite "
                      "file has the identifier 'TFL3' at byte 4, a Keras "
                      ".h5 file is HDF5, a .keras file a zip archive)",
                      m->source, size);
  m->format = "tflite";
  m->root = m;
  kiln_custom_resolver custom = {m->options.custom_ops, NULL, 0};
  custom.builtins = kiln_builtin_custom_ops(&custom.num_builtins);
  /* The registry is only read here; the graph keeps copies. */
  m->options.custom_ops = NULL;
  kiln_graph **graphs = NULL;
  int count = 0;
  KILN_TRY(kiln_tflite_import_all(data, size, m->source, m->alloc, &custom,
                                  &graphs, &count));
  m->graph = graphs[0];
  graphs[0] = NULL;
  resolve_choices(m);
  m->subgraphs = kiln_calloc(m->alloc, (size_t)count, sizeof *m->subgraphs);
  kiln_status *st = m->subgraphs ? NULL : KILN_OOM();
  if (!st) {
    m->num_subgraphs = count;
    m->subgraphs[0] = m;
  }
  for (int i = 1; !st && i < count; i++) {
    if (!graphs[i]) continue;
    st = child_model(m, graphs[i], i, &m->subgraphs[i]);
    graphs[i] = NULL;
  }
  kiln_tflite_free_graphs(graphs, count, m->alloc);
  if (!st) st = optimize_graph(m);
  if (!st) st = number_variables(m);
  return st;
}

/* Reads `size` bytes of the open file fd into buf; an error when the file
 * ends early (it was truncated while being read) or a read fails. */
static kiln_status *read_whole(int fd, const char *path, void *buf,
                               size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(fd, (char *)buf + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return kiln_error(KILN_ERR_IO, "%s: cannot read: %s", path,
                        strerror(errno));
    if (n == 0)
      return kiln_error(KILN_ERR_IO,
                        "%s: the file ended after %zu of its %zu bytes (it "
                        "changed while being read)",
                        path, done, size);
    done += (size_t)n;
  }
  return NULL;
}

static kiln_status *load_savedmodel(const char *dir,
                                    const kiln_options *options,
                                    kiln_model **out_model);

kiln_status *kiln_model_load_file(const char *path, const kiln_options *options,
                                  kiln_model **out_model) {
  if (!path || !out_model)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_model_load_file: path and out_model are required");
  *out_model = NULL;
  /* Non-blocking, so that opening a FIFO does not wait for a writer; only
   * regular files are read (their size is known up front). */
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return kiln_error(KILN_ERR_IO, "%s: cannot open: %s", path,
                      strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    int error = errno;
    bool stat_failed = fstat(fd, &info) != 0;
    close(fd);
    if (stat_failed)
      return kiln_error(KILN_ERR_IO, "%s: cannot stat: %s", path,
                        strerror(error));
    /* A directory holding saved_model.pb is a SavedModel. */
    char pb[4096];
    struct stat pb_info;
    if (S_ISDIR(info.st_mode) &&
        (size_t)snprintf(pb, sizeof pb, "%s/saved_model.pb", path) <
            sizeof pb &&
        stat(pb, &pb_info) == 0)
      return load_savedmodel(path, options, out_model);
    return kiln_error(KILN_ERR_IO, "%s: not a regular file (a %s)", path,
                      kiln_file_kind(info.st_mode));
  }
  if (info.st_size == 0) {
    close(fd);
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s: the file is empty", path);
  }
  if ((uintmax_t)info.st_size > SIZE_MAX) {
    close(fd);
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: the file is too large to load (%jd bytes)", path,
                      (intmax_t)info.st_size);
  }
  /* The bytes are read into memory the model owns rather than mapped: a
   * mapping would let a file rewritten in place (cp over it, a partial
   * write, a truncation) change the constants of a model already running,
   * or fault (SIGBUS) on the pages the truncation removed. */
  size_t size = (size_t)info.st_size;
  kiln_model *m = NULL;
  kiln_status *st = new_model(options, path, &m);
  if (!st) {
    m->buffer = kiln_malloc(m->alloc, size);
    if (!m->buffer)
      st = kiln_error(KILN_ERR_OUT_OF_MEMORY,
                      "%s: cannot allocate %zu bytes to read the model into",
                      path, size);
  }
  if (!st) st = read_whole(fd, path, m->buffer, size);
  close(fd);
  if (!st) st = import_graph(m, m->buffer, size);
  if (st) {
    kiln_model_free(m);
    return st;
  }
  *out_model = m;
  return NULL;
}

/* Reads DIR/saved_model.pb and builds the model with DIR/variables. */
static kiln_status *load_savedmodel(const char *dir,
                                    const kiln_options *options,
                                    kiln_model **out_model) {
  char pb[4096], variables[4096];
  snprintf(pb, sizeof pb, "%s/saved_model.pb", dir);
  snprintf(variables, sizeof variables, "%s/variables/variables", dir);
  int fd = open(pb, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return kiln_error(KILN_ERR_IO, "%s: cannot open: %s", pb, strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size == 0 ||
      (uintmax_t)info.st_size > SIZE_MAX) {
    close(fd);
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: not a regular, non-empty file of a size kiln can "
                      "load",
                      pb);
  }
  size_t size = (size_t)info.st_size;
  kiln_model *m = NULL;
  kiln_status *st = new_model(options, dir, &m);
  if (!st) {
    m->buffer = kiln_malloc(m->alloc, size);
    if (!m->buffer)
      st =
          kiln_error(KILN_ERR_OUT_OF_MEMORY,
                     "%s: cannot allocate %zu bytes to read it into", pb, size);
  }
  if (!st) st = read_whole(fd, pb, m->buffer, size);
  close(fd);
  if (!st) st = import_savedmodel(m, m->buffer, size, variables);
  if (st) {
    kiln_model_free(m);
    return st;
  }
  *out_model = m;
  return NULL;
}

kiln_status *kiln_model_load_buffer(const void *data, size_t size,
                                    const char *name,
                                    const kiln_options *options,
                                    kiln_model **out_model) {
  if (!data || !out_model)
    return kiln_error(
        KILN_ERR_INVALID_ARGUMENT,
        "kiln_model_load_buffer: data and out_model are required");
  *out_model = NULL;
  kiln_model *m = NULL;
  KILN_TRY(new_model(options, name ? name : "<buffer>", &m));
  m->buffer = kiln_malloc(m->alloc, size);
  if (!m->buffer) {
    kiln_model_free(m);
    return KILN_OOM();
  }
  memcpy(m->buffer, data, size);
  kiln_status *st = import_graph(m, m->buffer, size);
  if (st) {
    kiln_model_free(m);
    return st;
  }
  *out_model = m;
  return NULL;
}

/* What one graph's model holds: its packed weights, quantization
 * parameters and graph. */
static void free_graph_parts(kiln_model *model) {
  if (model->packed)
    for (int n = 0; n < model->graph->num_nodes; n++)
      kiln_free(model->alloc, model->packed[n]);
  kiln_free(model->alloc, model->packed);
  kiln_free(model->alloc, model->packed_by);
  if (model->quant)
    for (int n = 0; n < model->graph->num_nodes; n++)
      kiln_free(model->alloc, model->quant[n]);
  kiln_free(model->alloc, model->quant);
  kiln_graph_free(model->graph);
}

void kiln_model_free(kiln_model *model) {
  if (!model) return;
  for (int i = 1; i < model->num_subgraphs; i++) {
    kiln_model *child = model->subgraphs[i];
    if (!child) continue;
    free_graph_parts(child);
    kiln_free(model->alloc, child->source);
    kiln_free(model->alloc, child);
  }
  kiln_free(model->alloc, model->subgraphs);
  free_graph_parts(model);
  kiln_free(model->alloc, model->buffer);
  kiln_free(model->alloc, model->source);
  kiln_allocator copy = model->allocator;
  kiln_free(model->alloc ? &copy : NULL, model);
}

int kiln_model_num_inputs(const kiln_model *model) {
  return model ? model->graph->num_inputs : 0;
}

int kiln_model_num_outputs(const kiln_model *model) {
  return model ? model->graph->num_outputs : 0;
}

static void fill_info(const kiln_value *v, const char *name,
                      kiln_tensor_info *info) {
  memset(info, 0, sizeof *info);
  info->name = name;
  info->dtype = v->dtype;
  info->rank = v->rank;
  memcpy(info->dims, v->signature, sizeof info->dims);
  info->quant = v->quant;
}

static kiln_status *check_index(int index, int count, const char *what) {
  if (index < 0 || index >= count)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s index %d is out of range (the model has %d)", what,
                      index, count);
  return NULL;
}

kiln_status *kiln_model_input_info(const kiln_model *model, int index,
                                   kiln_tensor_info *out_info) {
  const kiln_graph *g = model->graph;
  KILN_TRY(check_index(index, g->num_inputs, "input"));
  fill_info(&g->values[g->inputs[index]], g->input_names[index], out_info);
  return NULL;
}

kiln_status *kiln_model_output_info(const kiln_model *model, int index,
                                    kiln_tensor_info *out_info) {
  const kiln_graph *g = model->graph;
  KILN_TRY(check_index(index, g->num_outputs, "output"));
  fill_info(&g->values[g->outputs[index]], g->output_names[index], out_info);
  return NULL;
}

static kiln_status *find_name(char *const *names, int count, const char *name,
                              const char *what, int *out_index) {
  for (int i = 0; i < count; i++)
    if (strcmp(names[i], name) == 0) {
      *out_index = i;
      return NULL;
    }
  char known[512] = "";
  size_t used = 0;
  for (int i = 0; i < count && used < sizeof known; i++)
    used += (size_t)snprintf(known + used, sizeof known - used, "%s'%s'",
                             i ? ", " : "", names[i]);
  return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                    "the model has no %s named '%s' (its %ss: %s)", what, name,
                    what, known);
}

kiln_status *kiln_model_find_input(const kiln_model *model, const char *name,
                                   int *out_index) {
  return find_name(model->graph->input_names, model->graph->num_inputs, name,
                   "input", out_index);
}

kiln_status *kiln_model_find_output(const kiln_model *model, const char *name,
                                    int *out_index) {
  return find_name(model->graph->output_names, model->graph->num_outputs, name,
                   "output", out_index);
}

kiln_status *kiln_model_stats_get(const kiln_model *model,
                                  kiln_model_stats *out_stats) {
  const kiln_graph *g = model->graph;
  memset(out_stats, 0, sizeof *out_stats);
  out_stats->format = model->format;
  out_stats->num_nodes = g->num_nodes;
  out_stats->num_source_ops = g->num_source_ops;
  out_stats->folded_constants = model->passes.folded;
  out_stats->folded_batchnorms = model->passes.folded_batchnorms;
  out_stats->fused_activations = model->passes.fused_activations;
  out_stats->removed_noops = model->passes.removed_noops;
  out_stats->removed_dead = model->passes.removed_dead;
  out_stats->fused_bottlenecks = model->passes.fused_bottlenecks;
  out_stats->fused_residuals = model->passes.fused_residuals;
  /* Count each constant once, however many nodes read it. */
  unsigned char *seen = kiln_calloc(model->alloc, (size_t)g->num_values + 1, 1);
  if (!seen) return KILN_OOM();
  for (int n = 0; n < g->num_nodes; n++)
    for (int i = 0; i < g->nodes[n].num_inputs; i++) {
      int id = g->nodes[n].inputs[i];
      if (id < 0 || seen[id] || !g->values[id].is_constant) continue;
      seen[id] = 1;
      const kiln_value *v = &g->values[id];
      size_t elem = kiln_dtype_size(v->dtype);
      out_stats->num_parameters += elem ? (int64_t)(v->nbytes / elem) : 0;
      out_stats->parameter_bytes += (int64_t)v->nbytes;
    }
  kiln_free(model->alloc, seen);
  return NULL;
}

const char *kiln_model_source_op_name(const kiln_model *model, int index) {
  if (!model || index < 0 || index >= model->graph->num_source_ops) return "";
  return model->graph->source_ops[index];
}

const char *kiln_model_node_op_name(const kiln_model *model, int index) {
  if (!model || index < 0 || index >= model->graph->num_nodes) return "";
  return kiln_op_table[model->graph->nodes[index].op].name;
}

/* For tools that build or rewrite a graph in memory (kiln quantize runs
 * its calibration copy and its rewritten graph this way, before any file
 * exists): the graph's constants must outlive the model. */
kiln_status *kiln_model_from_graph(kiln_graph *graph, const char *source,
                                   const kiln_options *options, bool run_passes,
                                   kiln_model **out_model) {
  *out_model = NULL;
  kiln_model *m = NULL;
  kiln_status *st = new_model(options, source ? source : "<graph>", &m);
  if (st) {
    kiln_graph_free(graph);
    return st;
  }
  m->graph = graph;
  m->format = "graph";
  m->root = m;
  resolve_choices(m);
  m->options.custom_ops = NULL;
  m->subgraphs = kiln_calloc(m->alloc, 1, sizeof *m->subgraphs);
  st = m->subgraphs ? NULL : KILN_OOM();
  if (!st) {
    m->num_subgraphs = 1;
    m->subgraphs[0] = m;
    st = kiln_graph_validate(graph, m->source);
  }
  if (!st && run_passes) st = kiln_run_passes(m->graph, m->source, &m->passes);
  if (!st) st = build_quant_params(m);
  if (!st) st = pack_weights(m);
  if (!st) st = number_variables(m);
  if (st) {
    kiln_model_free(m);
    return st;
  }
  *out_model = m;
  return NULL;
}

int kiln_model_num_tensors(const kiln_model *model) {
  return model ? model->graph->num_values : 0;
}

/* Whether value `id` is a graph input or output or an operand of a node:
 * the passes leave folded values in the array, unreferenced. */
static bool value_is_used(const kiln_graph *g, int id) {
  for (int i = 0; i < g->num_inputs; i++)
    if (g->inputs[i] == id) return true;
  for (int i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] == id) return true;
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    for (int i = 0; i < node->num_inputs; i++)
      if (node->inputs[i] == id) return true;
    for (int i = 0; i < node->num_outputs; i++)
      if (node->outputs[i] == id) return true;
  }
  return false;
}

kiln_status *kiln_model_tensor_info(const kiln_model *model, int index,
                                    kiln_tensor_info *out_info,
                                    int *out_flags) {
  if (!model || !out_info)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_model_tensor_info: NULL");
  const kiln_graph *g = model->graph;
  KILN_TRY(check_index(index, g->num_values, "tensor"));
  const kiln_value *v = &g->values[index];
  fill_info(v, v->name ? v->name : "", out_info);
  if (out_flags)
    *out_flags = (v->is_constant ? KILN_TENSOR_CONSTANT : 0) |
                 (value_is_used(g, index) ? 0 : KILN_TENSOR_UNUSED);
  return NULL;
}
