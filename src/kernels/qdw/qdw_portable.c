/* qdw_portable.c - int8 DEPTHWISE_CONV_2D in plain C, blocks of 8
 * channels: qdw.inc over GNU vectors of 8 lanes, and
 * the scalar requantization of kernels/ref/quant_math.h. */
#include <string.h>

#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_params.h"

#define QDW_LANES 8
#define QDW_OX 4
#define QDW_NAME(kind) kiln_q8_dwconv_##kind##__portable

/* A GNU vector of unsigned lanes: the compiler maps it to whatever SIMD
 * the target has, and unsigned arithmetic wraps as TFLite's int32
 * accumulator does (the product of two int8 is exact either way). */
typedef uint32_t qv __attribute__((vector_size(QDW_LANES * 4)));
/* Every function taking or returning a qv is static inline in this file,
 * so no call crosses an ABI boundary: clang's warning that a 32-byte vector
 * is passed differently without AVX does not apply. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#endif

static inline qv q_load(const int8_t *p, int n, bool tail) {
  qv r = {0};
  if (!tail) n = QDW_LANES;
  for (int l = 0; l < n; l++) r[l] = (uint32_t)(int32_t)p[l];
  return r;
}

static inline qv q_splat(int32_t x) {
  qv r;
  for (int l = 0; l < QDW_LANES; l++) r[l] = (uint32_t)x;
  return r;
}

static inline qv q_w(const int32_t *w) {
  qv r;
  memcpy(&r, w, sizeof r);
  return r;
}

static inline qv q_madd(qv acc, qv x, qv w) { return acc + x * w; }

typedef struct q_rq {
  const kiln_quant_params *q;
  int64_t c0;
} q_rq;

static inline q_rq q_rq_load(const kiln_quant_params *q, int64_t c0, int n,
                             bool tail) {
  (void)n, (void)tail;
  return (q_rq){q, c0};
}

static inline qv q_rq_bias(const q_rq *rq) {
  qv r = q_splat(0);
  for (int64_t l = 0; l < QDW_LANES && rq->c0 + l < rq->q->channels; l++)
    r[l] = (uint32_t)rq->q->bias32[rq->c0 + l];
  return r;
}

static inline void q_store(int8_t *p, qv acc, const q_rq *rq, int n,
                           bool tail) {
  const kiln_quant_params *q = rq->q;
  if (!tail) n = QDW_LANES;
  for (int l = 0; l < n; l++) {
    int64_t ch = rq->c0 + l;
    if (q->fp32_rounding) {
      p[l] = (int8_t)kiln_fp32_requantize(
          (int32_t)acc[l],
          kiln_fp32_requant_scale(q->multiplier[ch], q->shift[ch]),
          q->output_zp, q->act_min, q->act_max);
      continue;
    }
    int32_t v = kiln_mul_by_quantized_multiplier(
                    (int32_t)acc[l], q->multiplier[ch], q->shift[ch]) +
                q->output_zp;
    v = v < q->act_min ? q->act_min : (v > q->act_max ? q->act_max : v);
    p[l] = (int8_t)v;
  }
}

#include "kernels/qdw/qdw.inc"
