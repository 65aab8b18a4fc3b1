/* fft.c - complex64 tensors' operators: RFFT2D (the 2-D discrete Fourier
 * transform of real input, as audio front ends compute spectrograms),
 * COMPLEX_ABS, REAL and IMAG.
 *
 * RFFT2D takes float32 [..., H, W] and a known fft_length [fft_h, fft_w]
 * (powers of two, as TFLite requires); each [H, W] matrix is cropped or
 * zero-padded to [fft_h, fft_w] and its transform's non-redundant half,
 * [fft_h, fft_w / 2 + 1] complex64, written. Kernels have no scratch, so
 * the transform runs in the output itself: each row's fft_w reals are
 * packed as fft_w / 2 complex values (even samples real, odd imaginary),
 * transformed by an in-place radix-2 FFT and unpacked into the row's
 * fft_w / 2 + 1 bins, then every column is transformed in place. Butterfly
 * arithmetic is in double, stored as float between stages; TFLite's
 * transform runs in double throughout, so results agree to a few float
 * roundings of the largest magnitude. Twiddle factors are computed where
 * they are used, once per (stage, offset) for all rows at once, so the
 * trigonometric work is O(fft_h + fft_w) per invoke against the
 * butterflies' O(fft_h fft_w log), and no table (which would need memory
 * kept from prepare) is needed. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"

/* pi to double precision (M_PI is not C11). */
#define PI 3.14159265358979323846

typedef struct cfloat {
  float re, im;
} cfloat;

/* Largest fft_length entry accepted: the transform indexes with int64, so
 * this only bounds what a broken file can ask for before the session's
 * memory limit sees the output's size. */
#define MAX_FFT_LENGTH ((int64_t)1 << 24)

static bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

kiln_status *kiln_shape_rfft2d(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "input"));
  KILN_TRY(kiln_require_known(ctx, 1, "fft_length"));
  const kiln_tensor *in = ctx->inputs[0], *len = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  char buf[KILN_DIMS_STR_SIZE];
  KILN_TRY(kiln_require_dtype(in, KILN_FLOAT32, "input 0 (input)"));
  KILN_TRY(kiln_require_unquantized(in, "input 0 (input)"));
  if (in->rank < 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) must have rank 2 or more, has shape %s",
                      kiln_dims_str(in->dims, in->rank, buf, sizeof buf));
  KILN_TRY(kiln_require_dtype(len, KILN_INT32, "input 1 (fft_length)"));
  if (len->rank != 1 || len->dims[0] != 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (fft_length) must have shape [2], has %s",
                      kiln_dims_str(len->dims, len->rank, buf, sizeof buf));
  KILN_TRY(kiln_require_output_dtype(ctx, KILN_COMPLEX64));
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, in->dims, sizeof dims);
  for (int k = 0; k < 2; k++) {
    int64_t n = kiln_tensor_int(len, k);
    if (!is_power_of_two(n) || n > MAX_FFT_LENGTH)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input 1 (fft_length) element %d is %lld; it must be "
                        "a power of two from 1 to %lld",
                        k, (long long)n, (long long)MAX_FFT_LENGTH);
    dims[in->rank - 2 + k] = k == 0 ? n : n / 2 + 1;
  }
  kiln_set_shape(out, dims, in->rank);
  return NULL;
}

double kiln_flops_rfft2d(const kiln_op_ctx *ctx) {
  const kiln_tensor *out = ctx->outputs[0];
  if (out->rank < 2) return 0.0;
  double n = (double)kiln_tensor_numel(out) * 2.0;
  double points = (double)out->dims[out->rank - 2] *
                  (double)(2 * (out->dims[out->rank - 1] - 1));
  return points > 1.0 ? 2.5 * n * log2(points) : 0.0;
}

/* Puts elements 0..n-1 (n a power of two), `stride` cfloats apart and each
 * `width` cfloats wide, into bit-reversed order. */
static void bit_reverse(cfloat *base, int64_t n, int64_t stride,
                        int64_t width) {
  for (int64_t i = 1, j = 0; i < n; i++) {
    int64_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i >= j) continue;
    cfloat *a = base + i * stride, *b = base + j * stride;
    for (int64_t c = 0; c < width; c++) {
      cfloat t = a[c];
      a[c] = b[c];
      b[c] = t;
    }
  }
}

static inline void butterfly(cfloat *a, cfloat *b, double wr, double wi) {
  double br = (double)b->re * wr - (double)b->im * wi;
  double bi = (double)b->re * wi + (double)b->im * wr;
  double ar = a->re, ai = a->im;
  a->re = (float)(ar + br);
  a->im = (float)(ai + bi);
  b->re = (float)(ar - br);
  b->im = (float)(ai - bi);
}

/* In-place forward FFTs of length n (a power of two, already in
 * bit-reversed order) over `count` independent sequences. Element i of
 * sequence s is base[s * seq_stride + i * stride + c] for c < width (the
 * row pass has width 1 and one sequence per row; the column pass one
 * sequence whose elements are whole rows). */
static void fft_passes(cfloat *base, int64_t n, int64_t stride, int64_t width,
                       int64_t count, int64_t seq_stride) {
  for (int64_t len = 2; len <= n; len <<= 1) {
    int64_t half = len / 2;
    for (int64_t j = 0; j < half; j++) {
      double angle = -2.0 * PI * (double)j / (double)len;
      double wr = cos(angle), wi = sin(angle);
      for (int64_t s = 0; s < count; s++) {
        cfloat *seq = base + s * seq_stride;
        for (int64_t i = j; i < n; i += len) {
          cfloat *a = seq + i * stride, *b = seq + (i + half) * stride;
          for (int64_t c = 0; c < width; c++) butterfly(a + c, b + c, wr, wi);
        }
      }
    }
  }
}

/* Turns each row's transform Z of the packed sequence z[n] = x[2n] +
 * i x[2n+1] (m = fft_w / 2 values) into bins 0..m of x's transform:
 * X[k] = E[k] + w^k O[k] with E, O the even and odd samples' transforms,
 * E[k] = (Z[k] + conj Z[m-k]) / 2, O[k] = (Z[k] - conj Z[m-k]) / 2i and
 * w = exp(-2 pi i / fft_w); X[m-k] = conj(E[k] - w^k O[k]) as x is real.
 * Bins k and m-k are made from Z[k] and Z[m-k] together, in place. */
static void unpack_rows(cfloat *out, int64_t rows, int64_t m) {
  int64_t cols = m + 1;
  for (int64_t r = 0; r < rows; r++) {
    cfloat *row = out + r * cols;
    double z_re = row[0].re, z_im = row[0].im;
    row[0] = (cfloat){(float)(z_re + z_im), 0.0f};
    row[m] = (cfloat){(float)(z_re - z_im), 0.0f};
  }
  for (int64_t k = 1; 2 * k <= m; k++) {
    double angle = -2.0 * PI * (double)k / (double)(2 * m);
    double wr = cos(angle), wi = sin(angle);
    for (int64_t r = 0; r < rows; r++) {
      cfloat *row = out + r * cols;
      double ar = row[k].re, ai = row[k].im;
      double br = row[m - k].re, bi = row[m - k].im;
      double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
      double or_ = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
      double wor = wr * or_ - wi * oi, woi = wr * oi + wi * or_;
      row[k] = (cfloat){(float)(er + wor), (float)(ei + woi)};
      row[m - k] = (cfloat){(float)(er - wor), (float)(-(ei - woi))};
    }
  }
}

kiln_status *kiln_ref_rfft2d(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out_t = ctx->outputs[0];
  const float *x = in->data;
  cfloat *out = out_t->data;
  int rank = in->rank;
  int64_t h_in = in->dims[rank - 2], w_in = in->dims[rank - 1];
  int64_t fft_h = out_t->dims[rank - 2];
  int64_t cols = out_t->dims[rank - 1];
  int64_t fft_w = kiln_tensor_int(ctx->inputs[1], 1);
  int64_t outer = 1;
  for (int d = 0; d < rank - 2; d++) outer *= in->dims[d];
  int64_t rows = outer * fft_h;
  if (rows == 0) return NULL;
  int64_t m = fft_w / 2; /* packed values per row; 0 when fft_w is 1 */

  /* Load each (cropped, zero-padded) row: packed pairs, or the single
   * sample when fft_w is 1. */
  for (int64_t b = 0; b < outer; b++) {
    for (int64_t i = 0; i < fft_h; i++) {
      cfloat *row = out + (b * fft_h + i) * cols;
      const float *src = x + (b * h_in + i) * w_in;
      bool inside = i < h_in;
      if (m == 0) {
        row[0] = (cfloat){inside && w_in > 0 ? src[0] : 0.0f, 0.0f};
        continue;
      }
      for (int64_t n = 0; n < m; n++) {
        int64_t j = 2 * n;
        row[n].re = inside && j < w_in ? src[j] : 0.0f;
        row[n].im = inside && j + 1 < w_in ? src[j + 1] : 0.0f;
      }
      row[m] = (cfloat){0.0f, 0.0f};
    }
  }
  if (m > 0) {
    for (int64_t r = 0; r < rows; r++) bit_reverse(out + r * cols, m, 1, 1);
    fft_passes(out, m, 1, 1, rows, cols);
    unpack_rows(out, rows, m);
  }
  /* Columns: one transform of length fft_h per batch entry, whole rows at
   * a time so the inner loop runs along memory. */
  for (int64_t b = 0; b < outer; b++) {
    cfloat *block = out + b * fft_h * cols;
    bit_reverse(block, fft_h, cols, cols);
    fft_passes(block, fft_h, cols, cols, 1, 0);
  }
  return NULL;
}

/* ------------------------------------------------ COMPLEX_ABS, REAL, IMAG */

kiln_status *kiln_shape_complex_abs(const kiln_op_ctx *ctx) {
  return kiln_shape_map(ctx, KILN_DT(KILN_COMPLEX64), KILN_FLOAT32);
}

kiln_status *kiln_shape_complex_part(const kiln_op_ctx *ctx) {
  return kiln_shape_map(ctx, KILN_DT(KILN_COMPLEX64), KILN_FLOAT32);
}

kiln_status *kiln_ref_complex_abs(const kiln_op_ctx *ctx) {
  const cfloat *in = ctx->inputs[0]->data;
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  /* hypotf, as std::abs of a std::complex<float> computes it: no overflow
   * for large parts. */
  for (int64_t i = 0; i < n; i++) out[i] = hypotf(in[i].re, in[i].im);
  return NULL;
}

static kiln_status *complex_part(const kiln_op_ctx *ctx, int part) {
  const float *in = ctx->inputs[0]->data;
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++) out[i] = in[2 * i + part];
  return NULL;
}

kiln_status *kiln_ref_real(const kiln_op_ctx *ctx) {
  return complex_part(ctx, 0);
}

kiln_status *kiln_ref_imag(const kiln_op_ctx *ctx) {
  return complex_part(ctx, 1);
}
