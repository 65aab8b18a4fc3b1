/*
 * kiln.h - the public C API of kiln, a model inference runtime.
 *
 * This header is the only door into the library: the `kiln` command, the
 * server and every embedder use nothing else. Anything not declared here is
 * private and may change.
 *
 * Life cycle (one model, any number of sessions):
 *
 *     kiln_model *model;
 *     kiln_status *st = kiln_model_load_file("mobilenet.tflite", NULL, &model);
 *     if (st) { fprintf(stderr, "%s\n", kiln_status_message(st));
 * kiln_status_free(st); }
 *
 *     kiln_session *s;
 *     st = kiln_session_create(model, NULL, &s);   // plans the arena for the
 *                                                  // model's default shapes
 *     st = kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, pixels, nbytes);
 *     st = kiln_session_invoke(s);                 // allocates nothing
 *     st = kiln_session_get_output(s, 0, scores, sizeof scores);
 *     kiln_session_free(s);
 *     kiln_model_free(model);
 *
 * A loaded model is immutable: sessions created from it share its weights
 * and may run concurrently on different threads. A session is not
 * thread-safe; use one session per thread.
 *
 * Errors: every fallible call returns a kiln_status pointer, NULL on success.
 * A non-NULL status carries a code and a message that says what went wrong
 * and where ("model.tflite: operator 17 (CONV_2D): input 2 ..."); the caller
 * owns it and releases it with kiln_status_free(). The library never aborts,
 * exits or prints; it reports through statuses and the optional log callback.
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_VERSION "0.1.0"

/* Largest tensor rank kiln handles. */
#define KILN_MAX_RANK 8

/* ---------------------------------------------------------------- status */

typedef enum kiln_status_code {
  KILN_OK = 0,
  KILN_ERR_INVALID_ARGUMENT = 1, /* the caller passed something wrong */
  KILN_ERR_INVALID_MODEL = 2,    /* the model file is malformed */
  KILN_ERR_UNSUPPORTED = 3,      /* well-formed, but kiln lacks the feature */
  KILN_ERR_OUT_OF_MEMORY = 4,
  KILN_ERR_IO = 5,                  /* a file could not be opened or read */
  KILN_ERR_FAILED_PRECONDITION = 6, /* call order, e.g. invoke before prepare */
  KILN_ERR_RUNTIME = 7,             /* data-dependent failure during invoke */
  KILN_ERR_INTERNAL = 8,
  KILN_ERR_CANCELLED = 9, /* kiln_session_cancel or the cancel check */
} kiln_status_code;

typedef struct kiln_status kiln_status;

/* Code of a status; KILN_OK for NULL. */
kiln_status_code kiln_status_get_code(const kiln_status *status);
/* Message of a status; "" for NULL. Valid until kiln_status_free. */
const char *kiln_status_message(const kiln_status *status);
/* Releases a status; NULL is fine. */
void kiln_status_free(kiln_status *status);
/* Short name of a code, e.g. "INVALID_MODEL". */
const char *kiln_status_code_name(kiln_status_code code);

/* ---------------------------------------------------------------- dtypes */

typedef enum kiln_dtype {
  KILN_DTYPE_INVALID = 0,
  KILN_FLOAT32 = 1,
  KILN_FLOAT16 = 2,
  KILN_INT8 = 3,
  KILN_UINT8 = 4,
  KILN_INT16 = 5,
  KILN_INT32 = 6,
  KILN_INT64 = 7,
  KILN_BOOL = 8, /* one byte, 0 or 1 */
  KILN_FLOAT64 = 9,
  /* Two float32s, real then imaginary (TFLite's COMPLEX64, numpy's
   * complex64): what RFFT2D produces. */
  KILN_COMPLEX64 = 10,
  /* Unsigned integers wider than a byte (TFLite's UINT16, UINT32 and
   * UINT64): plain values, never quantized. */
  KILN_UINT16 = 11,
  KILN_UINT32 = 12,
  KILN_UINT64 = 13,
  /* Byte strings (TFLite's STRING, numpy's bytes_): each element is a
   * kiln_string, a view of bytes kiln keeps elsewhere (see below). */
  KILN_STRING = 20,
} kiln_dtype;

/* One element of a KILN_STRING tensor: `size` bytes at `data`, any bytes
 * (no terminating NUL is implied). A STRING tensor's data is an array of
 * these, so its byte size is numel * sizeof(kiln_string) whatever the
 * strings hold, and shapes are planned as for any other type.
 * kiln_session_set_input copies the bytes the views point to into the
 * session (the caller's may be freed at once); kiln_session_input_buffer
 * refuses STRING inputs (views filled in place would point into the
 * caller's memory). The views kiln_session_get_output and
 * kiln_session_output_buffer give point into the model's constants or
 * the session's memory and stay valid until the next set_input, invoke,
 * prepare or free of that session. kiln_npy_load reads numpy's '|S<n>'
 * arrays as STRING (views followed by the bytes, in one block) and
 * kiln_npy_save writes them with the longest string's width; numpy drops
 * trailing NUL bytes. */
typedef struct kiln_string {
  const char *data;
  size_t size;
} kiln_string;

/* "float32", "int8", ...; "invalid" for unknown values. */
const char *kiln_dtype_name(kiln_dtype dtype);
/* Bytes per element; 0 for unknown values. */
size_t kiln_dtype_size(kiln_dtype dtype);

/* ------------------------------------------------------------- options */

/* Memory hooks. All of kiln's heap memory goes through these when given.
 * The functions must be thread-safe if sessions run on several threads. */
typedef struct kiln_allocator {
  void *context;
  void *(*allocate)(void *context, size_t size);
  void *(*reallocate)(void *context, void *pointer, size_t size);
  void (*release)(void *context, void *pointer);
} kiln_allocator;

typedef enum kiln_log_level {
  KILN_LOG_ERROR = 0,
  KILN_LOG_WARNING = 1,
  KILN_LOG_INFO = 2,
  KILN_LOG_DEBUG = 3,
} kiln_log_level;

typedef void (*kiln_log_fn)(void *context, kiln_log_level level,
                            const char *message);

/* Instruction sets kiln's kernels are built for. By default the best one
 * the CPU offers is used; a lower one may be forced (to compare, or to test
 * every kernel level on one machine) with kiln_options.max_isa or the
 * environment variable KILN_ISA=portable|avx2|avx512. A level the CPU lacks
 * is never used. */
typedef enum kiln_isa {
  KILN_ISA_AUTO = 0,
  KILN_ISA_PORTABLE = 1, /* plain C, every machine */
  KILN_ISA_AVX2 = 2,     /* x86-64 AVX2 + FMA */
  KILN_ISA_AVX512 = 3,   /* x86-64 AVX-512 F/BW/DQ/VL */
  /* AVX-512 plus VNNI (vpdpbusd: int8 dot products into int32), for the
   * int8 kernels. */
  KILN_ISA_AVX512_VNNI = 4,
} kiln_isa;

/* "portable", "avx2", "avx512", "avx512vnni" ("auto" for KILN_ISA_AUTO). */
const char *kiln_isa_name(kiln_isa isa);

/* How int8 kernels requantize their int32 sums to int8. EXACT is TFLite's
 * reference integer arithmetic (a Q31 multiplier, double rounding), equal
 * bit for bit to LiteRT's reference kernels. FP32 multiplies the sum by the
 * channel's scale in float and rounds half to even, as XNNPACK (LiteRT's
 * default delegate) does: fewer instructions per output, and each output
 * of an operator at most one step from EXACT's. Chosen at load with
 * kiln_options.int8_rounding or KILN_INT8_ROUNDING=exact|fp32; operators
 * without an FP32 form keep EXACT. */
typedef enum kiln_int8_rounding {
  KILN_INT8_ROUNDING_DEFAULT = 0, /* KILN_INT8_ROUNDING, else EXACT */
  KILN_INT8_ROUNDING_EXACT = 1,
  KILN_INT8_ROUNDING_FP32 = 2,
} kiln_int8_rounding;

/* A set of custom operators (see "Custom operators" below). */
typedef struct kiln_op_registry kiln_op_registry;

/* Options for loading a model and creating sessions. Start from
 * kiln_options_default() and change what you need; a NULL options pointer
 * means the defaults. */
typedef struct kiln_options {
  int num_threads;                 /* threads per session; 0 = all cores */
  const kiln_allocator *allocator; /* NULL: libc malloc/realloc/free */
  kiln_log_fn log;                 /* NULL: no logging */
  void *log_context;
  kiln_log_level log_level; /* messages above this are dropped */
  kiln_isa max_isa;         /* AUTO: the best the CPU has */
  /* Most bytes of activation memory one session may plan: its arena plus
   * the values computed at prepare, and any single tensor. A shape that
   * needs more (a tiny file declaring a batch of 262,145) fails to prepare
   * with an error naming the tensor, instead of taking the machine's
   * memory. 0 means KILN_DEFAULT_MAX_MEMORY. */
  size_t max_memory_bytes;

  /* Custom operators models loaded with these options may use, looked up
   * by their custom code before kiln's built-in ones; NULL: built-ins only.
   * Only read during the load. */
  const kiln_op_registry *custom_ops;

  /* int8 requantization (see kiln_int8_rounding). */
  kiln_int8_rounding int8_rounding;
} kiln_options;

/* The default limit on a session's activation memory: 4 GiB. */
#define KILN_DEFAULT_MAX_MEMORY ((size_t)4 << 30)

kiln_options kiln_options_default(void);

/* ----------------------------------------------------- custom operators
 *
 * A TFLite operator with builtin code CUSTOM names itself by a string (its
 * custom code) and carries opaque option bytes (custom_options). kiln runs
 * such an operator when a registration of that name is found: first in
 * the registry of kiln_options.custom_ops, then among the ones kiln ships
 * (Convolution2DTransposeBias, MaxPoolingWithArgmax2D, MaxUnpooling2D,
 * TFLite_Detection_PostProcess, as LiteRT does). A model whose custom code
 * nothing registers fails to load with a status naming the code.
 *
 *     static kiln_status *prepare(kiln_custom_context *ctx) {
 *       const kiln_custom_tensor *x = kiln_custom_input(ctx, 0);
 *       if (!x || x->dtype != KILN_FLOAT32)
 *         return kiln_status_create(KILN_ERR_INVALID_MODEL, "x: float32");
 *       kiln_custom_tensor *y = kiln_custom_output(ctx, 0);
 *       y->rank = x->rank;                       // y's dtype comes from the
 *       memcpy(y->dims, x->dims, sizeof y->dims); // model; keep or check it
 *       return NULL;
 *     }
 *     static kiln_status *invoke(kiln_custom_context *ctx) { ... }
 *
 *     kiln_custom_op op = {sizeof op, "MySquare", NULL, NULL, NULL,
 *                          prepare, invoke};
 *     kiln_op_registry *ops;
 *     kiln_op_registry_create(&ops);
 *     kiln_op_registry_add(ops, &op);
 *     kiln_options options = kiln_options_default();
 *     options.custom_ops = ops;
 *     kiln_model_load_file("model.tflite", &options, &model);
 *     kiln_op_registry_free(ops);  // the model keeps what it needs
 *
 * Life cycle of one operator node:
 *   init     (optional) once per node when the model loads, with the node's
 *            custom_options bytes: parse them and return a node state (or
 *            fail: the load fails). The state belongs to the model and is
 *            shared by all its sessions, which may run on several threads
 *            at once: treat it as read-only after init.
 *   release  (optional) frees a node state when the model is freed.
 *   prepare  whenever kiln infers shapes: at every session prepare (input
 *            shapes may change between calls), and at load, where shape
 *            inference lets kiln simplify the graph (scratch cannot be had
 *            there; asking for it only leaves the shapes unknown at load).
 *            It checks the inputs and sets each output's rank and
 *            dims. Outputs arrive with the dtype and shape the model file
 *            declares; a changed dtype is an error (the model's types are
 *            fixed). Input data is there only for constants (else NULL).
 *            May ask for scratch memory (kiln_custom_request_scratch).
 *   invoke   computes the outputs: every tensor has its data, outputs have
 *            the shapes prepare set. It must not allocate and fails only
 *            on data-dependent errors. Invokes of different sessions may
 *            run at the same time on different threads.
 * Failures are statuses made with kiln_status_create; kiln prefixes the
 * model, operator index and custom code.
 *
 * ABI: struct_size is the caller's sizeof(kiln_custom_op). A library newer
 * than the caller's header treats fields past struct_size as absent; one
 * older refuses a registration that sets fields it does not know. */

/* A tensor as a custom operator sees it. */
typedef struct kiln_custom_tensor {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  void *data; /* invoke: always; prepare: constants only, else NULL */
  const struct kiln_quant_info *quant; /* NULL when not quantized */
} kiln_custom_tensor;

/* What a callback is running for: the node, its tensors and options. */
typedef struct kiln_custom_context kiln_custom_context;

typedef struct kiln_custom_op {
  size_t struct_size; /* sizeof(kiln_custom_op) */
  const char *name;   /* the custom code, e.g. "Convolution2DTransposeBias" */
  void *user_data;    /* handed back by kiln_custom_user_data and to init */
  kiln_status *(*init)(void *user_data, const void *options,
                       size_t options_size, void **out_node_state);
  void (*release)(void *user_data, void *node_state);
  kiln_status *(*prepare)(kiln_custom_context *ctx); /* required */
  kiln_status *(*invoke)(kiln_custom_context *ctx);  /* required */
} kiln_custom_op;

/* A status for a callback to return, with a printf-style message. */
kiln_status *kiln_status_create(kiln_status_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

kiln_status *kiln_op_registry_create(kiln_op_registry **out_registry);
void kiln_op_registry_free(kiln_op_registry *registry);
/* Copies a registration in (name included; user_data is kept as a
 * pointer and must outlive every model loaded with it). A name may be
 * registered once per registry; it may shadow a built-in one. */
kiln_status *kiln_op_registry_add(kiln_op_registry *registry,
                                  const kiln_custom_op *op);

/* Accessors for the callbacks. Out-of-range indices and omitted optional
 * inputs give NULL. */
int kiln_custom_num_inputs(const kiln_custom_context *ctx);
int kiln_custom_num_outputs(const kiln_custom_context *ctx);
const kiln_custom_tensor *kiln_custom_input(const kiln_custom_context *ctx,
                                            int index);
/* Prepare sets rank and dims (and may restate dtype); invoke writes data. */
kiln_custom_tensor *kiln_custom_output(kiln_custom_context *ctx, int index);
/* The node's custom_options bytes (size 0 when it has none). */
const void *kiln_custom_options(const kiln_custom_context *ctx,
                                size_t *out_size);
void *kiln_custom_user_data(const kiln_custom_context *ctx);
void *kiln_custom_node_state(const kiln_custom_context *ctx);
/* Prepare only: asks for `bytes` of scratch for the next invokes. */
kiln_status *kiln_custom_request_scratch(kiln_custom_context *ctx,
                                         size_t bytes);
/* Invoke only: at least the bytes asked for at prepare, 64-byte aligned
 * (NULL when no operator of the session asked for any). */
void *kiln_custom_scratch(const kiln_custom_context *ctx);

/* --------------------------------------------------------------- models */

typedef struct kiln_model kiln_model;

/* Quantization parameters of a tensor. count is 0 for float tensors, 1 for
 * per-tensor quantization, and the size of dimension `axis` for per-channel
 * quantization. real = scale * (quantized - zero_point). */
typedef struct kiln_quant_info {
  int count;
  const float *scale;
  const int64_t *zero_point;
  int axis;
} kiln_quant_info;

/* Description of a model input or output. `dims` holds -1 for a dimension
 * that may change (for example a dynamic batch) when read from the model,
 * and the current size when read from a session. Pointers stay valid while
 * the model (or session) lives. */
typedef struct kiln_tensor_info {
  const char *name;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  kiln_quant_info quant;
} kiln_tensor_info;

/* Loads a model from a file; the format is recognized from the contents.
 * The file's bytes are read into memory the model owns, so changing the
 * file after load affects nothing loaded from it. */
kiln_status *kiln_model_load_file(const char *path, const kiln_options *options,
                                  kiln_model **out_model);

/* Loads a model from memory. The bytes are copied, so the buffer may be
 * released as soon as this returns. `name` labels error messages (may be
 * NULL). */
kiln_status *kiln_model_load_buffer(const void *data, size_t size,
                                    const char *name,
                                    const kiln_options *options,
                                    kiln_model **out_model);

/* Releases a model. Every session made from it must be released first. */
void kiln_model_free(kiln_model *model);

int kiln_model_num_inputs(const kiln_model *model);
int kiln_model_num_outputs(const kiln_model *model);
kiln_status *kiln_model_input_info(const kiln_model *model, int index,
                                   kiln_tensor_info *out_info);
kiln_status *kiln_model_output_info(const kiln_model *model, int index,
                                    kiln_tensor_info *out_info);
/* Index of the input (or output) called `name`, or a status naming the
 * names that exist. */
kiln_status *kiln_model_find_input(const kiln_model *model, const char *name,
                                   int *out_index);
kiln_status *kiln_model_find_output(const kiln_model *model, const char *name,
                                    int *out_index);

/* Facts about a loaded model for tools such as `kiln info`. */
typedef struct kiln_model_stats {
  const char *format;     /* "tflite" */
  int num_nodes;          /* operators left to run after load-time folding */
  int num_source_ops;     /* operators in the file */
  int64_t num_parameters; /* elements of constant tensors used by operators */
  int64_t parameter_bytes;
  /* What the load-time passes did between num_source_ops and num_nodes. */
  int folded_constants;  /* operators computed once at load */
  int folded_batchnorms; /* MUL/ADD/SUB merged into convolution weights */
  /* activations merged into operators: RELU, RELU6, RELU_N1_TO_1,
   * HARD_SWISH, LOGISTIC, and swish (MUL(x, LOGISTIC(x)), counted once) */
  int fused_activations;
  int removed_noops; /* operators that passed their input through */
  int removed_dead;  /* operators whose results reached no output */
  /* 1x1 -> depthwise -> 1x1 chains run as one FUSED_BOTTLENECK */
  int fused_bottlenecks;
  int fused_residuals; /* ADDs merged into the 1x1 CONV_2D before them */
} kiln_model_stats;

kiln_status *kiln_model_stats_get(const kiln_model *model,
                                  kiln_model_stats *out_stats);
/* The operator name of node `index` as it is in the file's op set
 * ("CONV_2D"), for every operator in the file, folded ones included. */
const char *kiln_model_source_op_name(const kiln_model *model, int index);
/* The operator name of node `index` (0 .. num_nodes-1) of the graph that
 * sessions run, after the load-time passes; "" when out of range. */
const char *kiln_model_node_op_name(const kiln_model *model, int index);

/* Every tensor of the graph that sessions run (values of the model after
 * the load-time passes), for tools such as `kiln info --tensors`: index
 * 0 .. kiln_model_num_tensors()-1. `out_flags` (may be NULL) gets
 * KILN_TENSOR_* bits. The info's name is the tensor's name in the file. */
enum {
  KILN_TENSOR_CONSTANT = 1, /* weights and other constants */
  KILN_TENSOR_UNUSED = 2    /* no operator, input or output refers to it
                               after the passes (folded away) */
};
int kiln_model_num_tensors(const kiln_model *model);
kiln_status *kiln_model_tensor_info(const kiln_model *model, int index,
                                    kiln_tensor_info *out_info, int *out_flags);

/* ------------------------------------------------------------- sessions */

typedef struct kiln_session kiln_session;

/* Creates a session and prepares it for the model's default input shapes
 * (dynamic dimensions at the file's placeholder sizes, often 1). When the
 * model has dynamic input dimensions and those placeholder shapes do not
 * prepare (a 1x1 image under a 3x3 window), the session is still created,
 * unprepared: resize the inputs to real shapes and call
 * kiln_session_prepare, which checks every operator on them. Calls that
 * need a prepared session say why until then. `options` may be NULL: the
 * model's. */
kiln_status *kiln_session_create(const kiln_model *model,
                                 const kiln_options *options,
                                 kiln_session **out_session);
void kiln_session_free(kiln_session *session);

/* Current inputs and outputs with concrete shapes. An output whose size
 * depends on values computed during invoke (WHERE, UNIQUE, RANGE on model
 * inputs) has its real shape after each invoke, and -1 in those dimensions
 * before the first; its buffer is then not available yet. */
kiln_status *kiln_session_input_info(const kiln_session *session, int index,
                                     kiln_tensor_info *out_info);
kiln_status *kiln_session_output_info(const kiln_session *session, int index,
                                      kiln_tensor_info *out_info);

/* Changes the shape of an input. Only dimensions the model marks dynamic
 * (-1) may change. Takes effect at the next kiln_session_prepare(). */
kiln_status *kiln_session_resize_input(kiln_session *session, int index,
                                       const int64_t *dims, int rank);

/* Infers every shape and plans the activation arena. Needed after a resize;
 * allocates only when the arena must grow. Also resets the variables (see
 * kiln_session_reset_variables). */
kiln_status *kiln_session_prepare(kiln_session *session);

/* 1 when the session is prepared for its current input shapes, else 0. */
int kiln_session_is_prepared(const kiln_session *session);

/* Sets the model's variables (state that recurrent operators such as LSTM
 * carry from one invoke to the next) back to their initial values, as
 * TFLite's ResetVariableTensors does. */
kiln_status *kiln_session_reset_variables(kiln_session *session);

/* Copies an input in. dtype and shape must match the prepared input
 * exactly, and nbytes must equal its byte size. For a KILN_STRING input,
 * data is an array of kiln_string and the bytes they point to are copied
 * too. */
kiln_status *kiln_session_set_input(kiln_session *session, int index,
                                    kiln_dtype dtype, const int64_t *dims,
                                    int rank, const void *data, size_t nbytes);

/* Borrows an input's storage to fill it in place (no copy). Valid until the
 * next prepare or free. Refused for KILN_STRING inputs (use set_input). */
kiln_status *kiln_session_input_buffer(kiln_session *session, int index,
                                       void **out_data, size_t *out_nbytes);

/* Runs the model. Performs no heap allocation. Inputs keep their values,
 * so invoking again without setting them repeats the same run. */
kiln_status *kiln_session_invoke(kiln_session *session);

/* Stops an invoke in flight on another thread: it returns
 * KILN_ERR_CANCELLED at the next kernel boundary or loop round (a WHILE
 * whose condition never turns false runs until cancelled, as in LiteRT).
 * Safe to call from any thread while `session` lives; a request made when
 * no invoke runs is dropped when the next one starts. */
void kiln_session_cancel(kiln_session *session);

/* A function invoke calls between kernels and loop rounds; nonzero stops
 * the invoke with KILN_ERR_CANCELLED (a deadline, a budget). NULL removes
 * it. Called on the invoking thread. */
typedef int (*kiln_cancel_check_fn)(void *context);
kiln_status *kiln_session_set_cancel_check(kiln_session *session,
                                           kiln_cancel_check_fn check,
                                           void *context);

/* Copies an output out; nbytes must be at least its byte size. */
kiln_status *kiln_session_get_output(const kiln_session *session, int index,
                                     void *data, size_t nbytes);

/* Borrows an output without copying. Valid until the next invoke, prepare
 * or free. */
kiln_status *kiln_session_output_buffer(const kiln_session *session, int index,
                                        const void **out_data,
                                        size_t *out_nbytes);

/* Facts about the prepared session. */
typedef struct kiln_session_stats {
  size_t arena_bytes; /* planned activation memory */
  size_t naive_bytes; /* what one buffer per tensor would take */
  double flops;       /* floating-point operations of one invoke */
  int num_steps;      /* kernels run per invoke */
  int num_threads;    /* threads taking part in each invoke */
} kiln_session_stats;

kiln_status *kiln_session_stats_get(const kiln_session *session,
                                    kiln_session_stats *out_stats);

/* ------------------------------------------------------------- profiling */

/* One kernel of a profiled invoke. */
typedef struct kiln_profile_entry {
  const char *op;     /* "CONV_2D" */
  const char *kernel; /* implementation chosen, e.g. "ref" */
  int source_index;   /* the operator's index in the model file */
  int rank;           /* shape of the first output */
  int64_t dims[KILN_MAX_RANK];
  double flops;
  double start_us; /* from the start of the invoke */
  double duration_us;
  /* Element types of the first non-constant input (else the last input)
   * and of the first output (KILN_FLOAT32 when the operator has none), so
   * int8 kernels stand out; and of the first constant input of rank 2 or
   * more (the weights; KILN_DTYPE_INVALID when there is none), so hybrid
   * kernels (float activations, int8 weights) do too. */
  kiln_dtype input_dtype, output_dtype, weights_dtype;
} kiln_profile_entry;

/* Turns per-kernel timing on or off for later invokes (off by default; on
 * costs two clock reads per kernel and still allocates nothing). */
kiln_status *kiln_session_set_profiling(kiln_session *session, int enabled);

/* Kernel `step` (0 .. num_steps-1) of the last profiled invoke. */
kiln_status *kiln_session_profile_entry(const kiln_session *session, int step,
                                        kiln_profile_entry *out_entry);

/* The instruction set the session's kernels use. */
kiln_isa kiln_session_isa(const kiln_session *session);

/* ------------------------------------------------------------ npy files */

/* A dense array in host memory, as read from or written to a .npy file. */
typedef struct kiln_array {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  void *data;
  size_t nbytes;
} kiln_array;

/* Reads a NumPy .npy file (format 1.0-3.0, little-endian, C order). */
kiln_status *kiln_npy_load(const char *path, kiln_array *out_array);
/* Writes a .npy file (format 1.0). */
kiln_status *kiln_npy_save(const char *path, const kiln_array *array);
/* Releases an array's data filled by kiln_npy_load. */
void kiln_array_free(kiln_array *array);

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */
