/* elementwise_portable.c - elementwise, MEAN and pool kernels in plain C. */
#include <math.h>
#include <string.h>

#include "core/threadpool.h"
#include "kernels/x86/x86_kernels.h"

/* The reference's math specialized per op and activation, with fixed-width
 * inner loops that compilers vectorize at -O2. */

#define EW_INLINE static inline __attribute__((always_inline))

/* Work goes in blocks of LANES elements so that the inner loops have a
 * constant trip count, which -O2's cheap vectorizer requires. */
enum { LANES = 8 };

/* The reference's comparisons, so NaN passes through unchanged. */
EW_INLINE float clamp(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

/* ------------------------------------------------------------ binary */

EW_INLINE float binop(kiln_binop op, float a, float b) {
  switch (op) {
    case KILN_BINOP_ADD:
      return a + b;
    case KILN_BINOP_SUB:
      return a - b;
    case KILN_BINOP_RSUB:
      return b - a;
    default:
      return a * b;
  }
}

EW_INLINE void vbinary(kiln_binop op, bool scalar, size_t n, const float *a,
                       const float *b, float *y, float lo, float hi) {
  const float bs = b[0];
  size_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    /* Through a local block, which cannot alias a or b: the cheap
     * vectorizer does not add the runtime overlap checks y would need. */
    float t[LANES];
    for (size_t l = 0; l < LANES; l++)
      t[l] = clamp(binop(op, a[i + l], scalar ? bs : b[i + l]), lo, hi);
    for (size_t l = 0; l < LANES; l++) y[i + l] = t[l];
  }
  for (; i < n; i++) y[i] = clamp(binop(op, a[i], scalar ? bs : b[i]), lo, hi);
}

#define VBINARY(name, op, scalar)                                      \
  static void name(size_t n, const float *a, const float *b, float *y, \
                   float lo, float hi) {                               \
    vbinary(op, scalar, n, a, b, y, lo, hi);                           \
  }
VBINARY(f32_vadd__portable, KILN_BINOP_ADD, false)
VBINARY(f32_vsub__portable, KILN_BINOP_SUB, false)
VBINARY(f32_vrsub__portable, KILN_BINOP_RSUB, false)
VBINARY(f32_vmul__portable, KILN_BINOP_MUL, false)
VBINARY(f32_vaddc__portable, KILN_BINOP_ADD, true)
VBINARY(f32_vsubc__portable, KILN_BINOP_SUB, true)
VBINARY(f32_vrsubc__portable, KILN_BINOP_RSUB, true)
VBINARY(f32_vmulc__portable, KILN_BINOP_MUL, true)
#undef VBINARY

static const kiln_f32_vbinary_ukernels binary_ukernels = {
    KILN_ISA_PORTABLE,
    {f32_vadd__portable, f32_vsub__portable, f32_vrsub__portable,
     f32_vmul__portable},
    {f32_vaddc__portable, f32_vsubc__portable, f32_vrsubc__portable,
     f32_vmulc__portable},
};

kiln_status *kiln_f32_vadd__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vbinary_run(ctx, KILN_BINOP_ADD, &binary_ukernels);
}
kiln_status *kiln_f32_vsub__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vbinary_run(ctx, KILN_BINOP_SUB, &binary_ukernels);
}
kiln_status *kiln_f32_vmul__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vbinary_run(ctx, KILN_BINOP_MUL, &binary_ukernels);
}

/* ------------------------------------------------------------- unary */

static void f32_vclamp__portable(size_t n, const float *x, float *y, float lo,
                                 float hi) {
  size_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    float t[LANES]; /* no alias with x, as in vbinary */
    for (size_t l = 0; l < LANES; l++) t[l] = clamp(x[i + l], lo, hi);
    for (size_t l = 0; l < LANES; l++) y[i + l] = t[l];
  }
  for (; i < n; i++) y[i] = clamp(x[i], lo, hi);
}

/* 2^n for an integer n in [-126, 127], built from its exponent bits. */
EW_INLINE float pow2i(int32_t n) {
  uint32_t bits = (uint32_t)(n + 127) << 23;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* e^x for x in [-104, 0] and not NaN (callers clamp): the same range
 * reduction and polynomial as the SIMD kernels. Rounding to the nearest
 * integer adds and subtracts 1.5 * 2^23, which needs no libm call. */
EW_INLINE float exp_nonpositive(float x) {
  const float magic = 12582912.0f;
  float n = (x * 1.44269504088896341f + magic) - magic;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + (r + 1.0f);
  int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
  return p * pow2i(n1) * pow2i(n2);
}

/* Under the default -ftrapping-math, compilers will not if-convert an
 * ordered comparison (it may raise "invalid" on NaN) into a vector select,
 * so the selects below are bit masks from integer comparisons of float
 * bits (non-negative floats order like their bit patterns) or from the
 * quiet x != x. */

EW_INLINE uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

EW_INLINE float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* All ones when c, else zero. */
EW_INLINE uint32_t mask_if(int c) { return 0u - (uint32_t)c; }

EW_INLINE float select(uint32_t mask, float a, float b) {
  return bits_float((float_bits(a) & mask) | (float_bits(b) & ~mask));
}

EW_INLINE float sigmoid(float x) {
  float ax = fabsf(x);
  /* NaN and |x| > 104 both take -104, keeping the int conversion inside
   * exp_nonpositive defined; NaN comes back at the end. */
  float nx = select(mask_if(float_bits(ax) > float_bits(104.0f)), -104.0f, -ax);
  float e = exp_nonpositive(nx);
  float y = select(mask_if((int)(float_bits(x) >> 31)), e, 1.0f) / (1.0f + e);
  return select(mask_if(x != x), x, y);
}

EW_INLINE float tanh_(float x) {
  float ax = fabsf(x);
  float cx = select(mask_if(float_bits(ax) > float_bits(9.5f)), 9.5f, ax);
  float e = exp_nonpositive(-2.0f * cx);
  float big = (1.0f - e) / (1.0f + e);
  float x2 = ax * ax;
  float p = KILN_TANH_C5;
  p = p * x2 + KILN_TANH_C4;
  p = p * x2 + KILN_TANH_C3;
  p = p * x2 + KILN_TANH_C2;
  p = p * x2 + KILN_TANH_C1;
  float small = ax + ax * (x2 * p);
  float y =
      select(mask_if(float_bits(ax) < float_bits(KILN_TANH_SMALL)), small, big);
  y = bits_float(float_bits(y) | (float_bits(x) & 0x80000000u)); /* sign */
  return select(mask_if(x != x), x, y);
}

EW_INLINE float hswish(float x) {
  float t = x + 3.0f;
  /* relu6(t): a negative sign bit gives 0, then anything above 6 gives 6
   * (NaN included; it comes back at the end). */
  t = select(mask_if((int)(float_bits(t) >> 31)), 0.0f, t);
  t = select(mask_if(float_bits(t) > float_bits(6.0f)), 6.0f, t);
  float y = x * (t * (1.0f / 6.0f));
  /* t == 0 exactly when x <= -3, where the result is +0 even for -inf. */
  y = bits_float(float_bits(y) & mask_if(float_bits(t) != 0));
  return select(mask_if(x != x), x, y);
}

/* x * sigmoid(x): the fused form of MUL(x, LOGISTIC(x)). */
EW_INLINE float swish(float x) { return x * sigmoid(x); }

#define MAP_UNARY(name, f)                                   \
  static void name(size_t n, const float *x, float *y) {     \
    size_t i = 0;                                            \
    for (; i + LANES <= n; i += LANES) {                     \
      float t[LANES]; /* no alias with x, as in vbinary */   \
      for (size_t l = 0; l < LANES; l++) t[l] = f(x[i + l]); \
      for (size_t l = 0; l < LANES; l++) y[i + l] = t[l];    \
    }                                                        \
    for (; i < n; i++) y[i] = f(x[i]);                       \
  }
MAP_UNARY(f32_vsigmoid__portable, sigmoid)
MAP_UNARY(f32_vtanh__portable, tanh_)
MAP_UNARY(f32_vhswish__portable, hswish)
MAP_UNARY(f32_vswish__portable, swish)
#undef MAP_UNARY

/* The epilogue's rows, in place: the same functions as the ops above. */
#define MAP_ROWS(name, row)                                             \
  static void name(size_t rows, size_t cols, float *c, size_t stride) { \
    for (size_t r = 0; r < rows; r++, c += stride) row(cols, c, c);     \
  }
MAP_ROWS(f32_vhswish_rows__portable, f32_vhswish__portable)
MAP_ROWS(f32_vsigmoid_rows__portable, f32_vsigmoid__portable)
MAP_ROWS(f32_vswish_rows__portable, f32_vswish__portable)
#undef MAP_ROWS

const kiln_f32_activation_ukernels kiln_f32_activation_ukernels_portable = {
    f32_vclamp__portable, f32_vhswish_rows__portable,
    f32_vsigmoid_rows__portable, f32_vswish_rows__portable};

kiln_status *kiln_f32_vrelu__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vclamp_run(ctx, f32_vclamp__portable, 0.0f, INFINITY);
}
kiln_status *kiln_f32_vrelu6__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vclamp_run(ctx, f32_vclamp__portable, 0.0f, 6.0f);
}
kiln_status *kiln_f32_vrelu_n1_to_1__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vclamp_run(ctx, f32_vclamp__portable, -1.0f, 1.0f);
}
kiln_status *kiln_f32_vsigmoid__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vunary_run(ctx, f32_vsigmoid__portable, KILN_EW_GRAIN_EXP);
}
kiln_status *kiln_f32_vtanh__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vunary_run(ctx, f32_vtanh__portable, KILN_EW_GRAIN_EXP);
}
kiln_status *kiln_f32_vhswish__portable(const kiln_op_ctx *ctx) {
  return kiln_f32_vunary_run(ctx, f32_vhswish__portable, KILN_EW_GRAIN_CHEAP);
}

/* -------------------------------------------------------------- MEAN */

typedef struct mean_job {
  const float *x;
  float *y;
  int64_t pixels, channels, blocks;
} mean_job;

/* Sums a block of nc channels over the image in double, like the
 * reference. */
EW_INLINE void mean_block(const float *x, float *y, int64_t pixels, int64_t c,
                          int64_t nc) {
  double acc[LANES] = {0};
  for (int64_t p = 0; p < pixels; p++)
    for (int64_t l = 0; l < nc; l++) acc[l] += x[p * c + l];
  for (int64_t l = 0; l < nc; l++) y[l] = (float)(acc[l] / (double)pixels);
}

static void f32_mean_hw__portable(void *context, int64_t begin, int64_t end) {
  const mean_job *j = context;
  const int64_t c = j->channels;
  for (int64_t item = begin; item < end; item++) {
    int64_t b = item / j->blocks, c0 = item % j->blocks * LANES;
    const float *x = j->x + b * j->pixels * c + c0;
    float *y = j->y + b * c + c0;
    if (c - c0 >= LANES)
      mean_block(x, y, j->pixels, c, LANES);
    else
      mean_block(x, y, j->pixels, c, c - c0);
  }
}

kiln_status *kiln_f32_mean_hw__portable(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  mean_job j = {x->data, ctx->outputs[0]->data, x->dims[1] * x->dims[2],
                x->dims[3], (x->dims[3] + LANES - 1) / LANES};
  int64_t grain = 1 + KILN_EW_GRAIN_CHEAP / (j.pixels * LANES);
  kiln_parallel_for(ctx->pool, x->dims[0] * j.blocks, grain,
                    f32_mean_hw__portable, &j);
  return NULL;
}

/* ----------------------------------------------------------- pooling */

typedef struct pool_job {
  kiln_pool_geom g;
  const float *x;
  float *y;
} pool_job;

/* A block of nc channels pooled over window rows [y0, y1) and columns
 * [x0, x1) with the reference's operations in its order: equal results. */
EW_INLINE void pool_block(bool average, const float *img, float *y,
                          const kiln_pool_geom *g, int64_t y0, int64_t y1,
                          int64_t x0, int64_t x1, int64_t nc) {
  const int64_t c = g->channels, in_w = g->in_w;
  float acc[LANES];
  for (int64_t l = 0; l < nc; l++)
    acc[l] = average ? 0.0f : img[(y0 * in_w + x0) * c + l];
  for (int64_t yy = y0; yy < y1; yy++)
    for (int64_t xx = x0; xx < x1; xx++) {
      const float *v = img + (yy * in_w + xx) * c;
      for (int64_t l = 0; l < nc; l++)
        acc[l] = average ? acc[l] + v[l] : (v[l] > acc[l] ? v[l] : acc[l]);
    }
  const float count = (float)((y1 - y0) * (x1 - x0));
  for (int64_t l = 0; l < nc; l++)
    y[l] = clamp(average ? acc[l] / count : acc[l], g->act_lo, g->act_hi);
}

EW_INLINE void pool_rows(const pool_job *j, int64_t begin, int64_t end,
                         bool average) {
  const kiln_pool_geom *g = &j->g;
  const int64_t c = g->channels;
  for (int64_t r = begin; r < end; r++) {
    int64_t b = r / g->out_h, oy = r % g->out_h;
    int64_t y0 = oy * g->stride_h - g->pad_top, y1 = y0 + g->filter_h;
    if (y0 < 0) y0 = 0;
    if (y1 > g->in_h) y1 = g->in_h;
    const float *img = j->x + b * g->in_h * g->in_w * c;
    for (int64_t ox = 0; ox < g->out_w; ox++) {
      int64_t x0 = ox * g->stride_w - g->pad_left, x1 = x0 + g->filter_w;
      if (x0 < 0) x0 = 0;
      if (x1 > g->in_w) x1 = g->in_w;
      float *y = j->y + (r * g->out_w + ox) * c;
      int64_t c0 = 0;
      for (; c0 + LANES <= c; c0 += LANES)
        pool_block(average, img + c0, y + c0, g, y0, y1, x0, x1, LANES);
      if (c0 < c)
        pool_block(average, img + c0, y + c0, g, y0, y1, x0, x1, c - c0);
    }
  }
}

static void f32_avgpool_rows__portable(void *context, int64_t begin,
                                       int64_t end) {
  pool_rows(context, begin, end, true);
}
static void f32_maxpool_rows__portable(void *context, int64_t begin,
                                       int64_t end) {
  pool_rows(context, begin, end, false);
}

static kiln_status *pool_run(const kiln_op_ctx *ctx, kiln_range_fn rows) {
  pool_job j;
  kiln_pool_geometry(ctx, &j.g);
  j.x = ctx->inputs[0]->data;
  j.y = ctx->outputs[0]->data;
  /* Rows per chunk: about KILN_EW_GRAIN_CHEAP window reads. */
  int64_t row = j.g.out_w * j.g.channels * j.g.filter_h * j.g.filter_w;
  kiln_parallel_for(ctx->pool, j.g.batch * j.g.out_h,
                    1 + KILN_EW_GRAIN_CHEAP / row, rows, &j);
  return NULL;
}

kiln_status *kiln_f32_avgpool__portable(const kiln_op_ctx *ctx) {
  return pool_run(ctx, f32_avgpool_rows__portable);
}
kiln_status *kiln_f32_maxpool__portable(const kiln_op_ctx *ctx) {
  return pool_run(ctx, f32_maxpool_rows__portable);
}
