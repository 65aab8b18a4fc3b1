/* kiln_quantize.h - kiln's post-training quantizer (`kiln quantize`): a
 * float TFLite model in, a quantized TFLite model out (dynamic range,
 * full int8, int16 activations with int8 weights, or float16 weights),
 * calibrated on samples the caller supplies. This is the library's whole
 * interface; the command (src/cli/cmd_quantize.c) reads the .npz files and
 * hands samples in through kiln_qz_source. */
#ifndef KILN_QUANTIZE_H
#define KILN_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kiln.h"

typedef enum kiln_qz_mode {
  KILN_QZ_DYNAMIC, /* int8 weights of FULLY_CONNECTED / CONV_2D, float rest */
  KILN_QZ_INT8,    /* integer activations (int8) and weights */
  KILN_QZ_INT16X8, /* int16 activations, int8 weights, int64 biases */
  KILN_QZ_FLOAT16, /* float16 constants dequantized at load */
} kiln_qz_mode;

typedef enum kiln_qz_method {
  KILN_QZ_MINMAX,
  KILN_QZ_PERCENTILE, /* clip |x| at a percentile */
  KILN_QZ_ENTROPY,    /* TensorRT's KL-divergence threshold */
} kiln_qz_method;

/* Calibration samples, one at a time. next() fills input i's buffer
 * (nbytes[i] bytes: the model's input i at its own shape, float32) and sets
 * *got to 1, or sets *got to 0 when there are no more. rewind() starts the
 * samples over (the error report reads them again). `count` is the
 * number of samples when known (for the progress bar), else -1. */
typedef struct kiln_qz_source {
  void *context;
  int count;
  kiln_status *(*next)(void *context, void *const *inputs, const size_t *nbytes,
                       int *got);
  kiln_status *(*rewind)(void *context);
} kiln_qz_source;

typedef struct kiln_qz_options {
  kiln_qz_mode mode;
  kiln_qz_method method;
  double percentile; /* KILN_QZ_PERCENTILE: of |x|, in percent (99.99) */
  bool per_tensor;   /* weights per tensor rather than per channel */
  bool io_int8;      /* the model's inputs and outputs become integers */
  const char *const *keep_float; /* tensor names whose layers stay float */
  int num_keep_float;
  FILE *progress;     /* a progress line while calibrating; NULL: none */
  bool progress_tty;  /* redraw one line (\r) rather than print a final one */
  FILE *report;       /* per-tensor error table; NULL: no report */
  int report_samples; /* samples the report runs (0: all) */
} kiln_qz_options;

kiln_qz_options kiln_qz_options_default(void);

/* Quantizes the float TFLite model `model` (size bytes; `source` names it
 * in messages). `calibration` may be NULL for the modes that need none
 * (dynamic, float16); the integer modes require it. On success
 * *out_bytes (free with free()) holds the new .tflite file. */
kiln_status *kiln_qz_quantize(const void *model, size_t size,
                              const char *source, const kiln_qz_options *opt,
                              const kiln_qz_source *calibration,
                              void **out_bytes, size_t *out_size);

/* The model's inputs as the calibration data must give them: names (the
 * SignatureDef keys) and shapes, valid while `info` lives. */
typedef struct kiln_qz_inputs {
  int count;
  char **names;
  kiln_dtype *dtypes;
  int *ranks;
  int64_t (*dims)[KILN_MAX_RANK];
} kiln_qz_inputs;
kiln_status *kiln_qz_read_inputs(const void *model, size_t size,
                                 const char *source, kiln_qz_inputs *info);
void kiln_qz_inputs_free(kiln_qz_inputs *info);

/* Parses one .npy file held in memory (an .npz member) into `out`
 * (release with kiln_array_free); `name` labels messages. */
kiln_status *kiln_qz_parse_npy(const void *data, size_t size, const char *name,
                               kiln_array *out);

#endif
