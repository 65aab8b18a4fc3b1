/* pad_rows.c - PAD and PADV2 (constant padding) as row copies, on the
 * thread pool: one pass that writes each output byte once, where the
 * reference kernel fills the whole output and then copies the input over
 * its interior. */
#include <string.h>

#include "core/threadpool.h"
#include "kernels/movement/movement_variants.h"
#include "kernels/ref/movement.h"

/* Bytes a thread's share of rows should at least hold. */
#define MIN_CHUNK_BYTES (32 * 1024)

typedef struct pad_job {
  const char *in;
  char *out;
  int axis; /* the last padded axis; rows run over the axes before it */
  int64_t out_dims[KILN_MAX_RANK], in_dims[KILN_MAX_RANK];
  int64_t before[KILN_MAX_RANK];
  size_t unit;   /* bytes of one step along `axis` (the axes after it) */
  size_t row;    /* bytes of one output row: out_dims[axis] units */
  size_t in_row; /* bytes of one input row */
  unsigned char value[16];
  size_t elem;
  bool zero; /* the padding element is all zero bytes */
} pad_job;

static void fill(const pad_job *j, char *dst, size_t bytes) {
  if (j->zero)
    memset(dst, 0, bytes);
  else
    kiln_fill_elements(dst, (int64_t)(bytes / j->elem), j->value, j->elem);
}

static void pad_rows(void *context, int64_t begin, int64_t end) {
  const pad_job *j = context;
  for (int64_t r = begin; r < end; r++) {
    char *dst = j->out + (size_t)r * j->row;
    /* The row's index along the axes before `axis`, last axis fastest. */
    int64_t rest = r, in_row = 0, in_scale = 1;
    bool padding = false;
    for (int k = j->axis - 1; k >= 0; k--) {
      int64_t i = rest % j->out_dims[k] - j->before[k];
      rest /= j->out_dims[k];
      if (i < 0 || i >= j->in_dims[k]) padding = true;
      in_row += i * in_scale;
      in_scale *= j->in_dims[k];
    }
    if (padding) {
      fill(j, dst, j->row);
      continue;
    }
    size_t lead = (size_t)j->before[j->axis] * j->unit;
    fill(j, dst, lead);
    memcpy(dst + lead, j->in + (size_t)in_row * j->in_row, j->in_row);
    fill(j, dst + lead + j->in_row, j->row - lead - j->in_row);
  }
}

bool kiln_pad_rows_applies(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  return in->rank >= 1 && kiln_dtype_size(in->dtype) <= 16 &&
         kiln_tensor_numel(in) > 0 && kiln_tensor_numel(out) > 0;
}

kiln_status *kiln_pad_rows(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  pad_job j = {.in = in->data, .out = out->data};
  int64_t after[KILN_MAX_RANK];
  KILN_TRY(kiln_pad_read_paddings(ctx, j.before, after));
  kiln_pad_value(ctx, j.value);
  j.elem = kiln_dtype_size(in->dtype);
  j.zero = true;
  for (size_t i = 0; i < j.elem; i++) j.zero = j.zero && j.value[i] == 0;
  j.axis = 0;
  for (int k = 0; k < in->rank; k++) {
    j.out_dims[k] = out->dims[k];
    j.in_dims[k] = in->dims[k];
    if (j.before[k] || after[k]) j.axis = k;
  }
  j.unit = j.elem;
  for (int k = j.axis + 1; k < in->rank; k++) j.unit *= (size_t)in->dims[k];
  j.row = j.unit * (size_t)out->dims[j.axis];
  j.in_row = j.unit * (size_t)in->dims[j.axis];
  int64_t rows = 1;
  for (int k = 0; k < j.axis; k++) rows *= out->dims[k];
  int64_t grain = (int64_t)(MIN_CHUNK_BYTES / j.row) + 1;
  kiln_parallel_for(ctx->pool, rows, grain, pad_rows, &j);
  return NULL;
}
