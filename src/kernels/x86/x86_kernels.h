/* x86_kernels.h - depthwise, elementwise, MEAN and pooling variants. */
#ifndef KILN_KERNELS_X86_X86_KERNELS_H
#define KILN_KERNELS_X86_X86_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/activation.h"
#include "kernels/epilogue.h"
#include "kernels/kernel.h"

/* The AVX-512, AVX2 and portable C variants variant_list.h names, and the
 * ISA-independent helpers they share: applies() checks, weight packing,
 * broadcast plans and the parallel walkers that call each instruction set's
 * microkernels. */

/* ================================================= DEPTHWISE_CONV_2D */

/* The window shapes with a specialized microkernel; GENERIC takes any size,
 * stride and dilation. */
typedef enum kiln_dw_kind {
  KILN_DW_3X3S1,
  KILN_DW_3X3S2,
  KILN_DW_5X5S1,
  KILN_DW_5X5S2,
  KILN_DW_GENERIC,
} kiln_dw_kind;

/* Channels per block of packed weights at instruction set `isa`: its
 * vector width (LANES in simd_<isa>.h; depthwise.inc checks). */
#define KILN_DW_BLOCK(isa) \
  ((isa) == KILN_ISA_AVX512 ? 16 : (isa) == KILN_ISA_AVX2 ? 8 : 4)

/* Weights packed at load: channel blocks of `block` lanes, each block the
 * bias followed by the kh*kw taps (row-major), zero-padded past `channels`
 * so a tail block still loads whole vectors. The floats start `offset`
 * bytes into the allocation, on a KILN_ALIGNMENT boundary. */
typedef struct kiln_dw_packed {
  int64_t channels;
  int32_t kh, kw, block;
  kiln_dw_kind kind;
  size_t offset;
} kiln_dw_packed;

static inline const float *kiln_dw_weights(const kiln_dw_packed *p) {
  return (const float *)(const void *)((const char *)p + p->offset);
}

/* Everything a depthwise microkernel needs, read from prepared tensors. */
typedef struct kiln_dw_geom {
  int64_t batch, in_h, in_w, channels, out_h, out_w;
  int64_t kh, kw, pad_top, pad_left;
  int stride_h, stride_w, dil_h, dil_w;
  /* Output columns [ox_lo, ox_hi) whose whole window lies inside the input
   * width; the others clip it. */
  int64_t ox_lo, ox_hi;
  float act_lo, act_hi; /* the fused activation as a clamp */
  /* A fused activation that is not a clamp (else NONE), which the kernels
   * apply to each tile of output rows through kernels/epilogue.h. */
  kiln_activation epilogue;
} kiln_dw_geom;

void kiln_dw_geometry(const kiln_op_ctx *ctx, kiln_dw_geom *g);

/* Valid taps [k0, k1) of a window axis starting at input `origin`, taps
 * `dil` apart, over an input of `n` elements. */
static inline void kiln_dw_tap_range(int64_t origin, int64_t k, int64_t dil,
                                     int64_t n, int64_t *k0, int64_t *k1) {
  int64_t lo = origin < 0 ? (-origin + dil - 1) / dil : 0;
  int64_t hi = n - origin > 0 ? (n - origin + dil - 1) / dil : 0;
  *k0 = lo;
  *k1 = hi < k ? hi : k;
}

/* Every depthwise variant accepts a node when it packed it (the header says
 * which kind) and the prepared shapes still fit. */
bool kiln_f32_dwconv_applies(const kiln_op_ctx *ctx);

#define KILN_DW_DECLARE(kind, isa)                                         \
  kiln_status *kiln_f32_dwconv_##kind##__##isa##_pack(                     \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  kiln_status *kiln_f32_dwconv_##kind##__##isa(const kiln_op_ctx *ctx);
KILN_DW_DECLARE(3x3s1, avx512)
KILN_DW_DECLARE(3x3s2, avx512)
KILN_DW_DECLARE(5x5s1, avx512)
KILN_DW_DECLARE(5x5s2, avx512)
KILN_DW_DECLARE(generic, avx512)
KILN_DW_DECLARE(3x3s1, avx2)
KILN_DW_DECLARE(3x3s2, avx2)
KILN_DW_DECLARE(5x5s1, avx2)
KILN_DW_DECLARE(5x5s2, avx2)
KILN_DW_DECLARE(generic, avx2)
KILN_DW_DECLARE(3x3, portable)
KILN_DW_DECLARE(generic, portable)
#undef KILN_DW_DECLARE

/* ================================================ elementwise binary */

/* y = op(a, b) for a walked in full and b either a vector (b[i]) or one
 * value (b[0]), then clamped to [lo, hi] NaN-preserving. RSUB is b - a, for
 * a SUB whose broadcast operand is the first input. */
typedef enum kiln_binop {
  KILN_BINOP_ADD,
  KILN_BINOP_SUB,
  KILN_BINOP_RSUB,
  KILN_BINOP_MUL,
  KILN_BINOP_COUNT
} kiln_binop;

typedef void (*kiln_f32_vbinary_ukernel)(size_t n, const float *a,
                                         const float *b, float *y, float lo,
                                         float hi);

typedef struct kiln_f32_vbinary_ukernels {
  kiln_isa isa; /* whose row functions apply activations that are not clamps */
  kiln_f32_vbinary_ukernel vector[KILN_BINOP_COUNT]; /* b[i] */
  kiln_f32_vbinary_ukernel scalar[KILN_BINOP_COUNT]; /* b[0] */
} kiln_f32_vbinary_ukernels;

/* ADD, SUB or MUL on float32 when one input has the output's layout and the
 * other is the same, a scalar, or broadcast along a middle run of axes
 * ([C] or [N,1,1,C] against [N,H,W,C]); any fused activation the epilogue
 * computes (kernels/epilogue.h). */
bool kiln_f32_vbinary_applies(const kiln_op_ctx *ctx);
/* Runs op (ADD, SUB or MUL) with an instruction set's microkernels. */
kiln_status *kiln_f32_vbinary_run(const kiln_op_ctx *ctx, kiln_binop op,
                                  const kiln_f32_vbinary_ukernels *uk);

/* ================================================= elementwise unary */

typedef void (*kiln_f32_vunary_ukernel)(size_t n, const float *x, float *y);
typedef void (*kiln_f32_vclamp_ukernel)(size_t n, const float *x, float *y,
                                        float lo, float hi);

/* tanh(x) = x + x^3 * P(x^2) for |x| < 0.5625, P(u) = C1 + C2 u + ... +
 * C5 u^4: a weighted least-squares fit of (tanh(x) - x) / x^3 whose error
 * is below 2e-9 relative to tanh (rounding adds less than an ulp). */
#define KILN_TANH_C1 -3.333331347e-01f
#define KILN_TANH_C2 1.333247125e-01f
#define KILN_TANH_C3 -5.383922905e-02f
#define KILN_TANH_C4 2.101420797e-02f
#define KILN_TANH_C5 -6.188551895e-03f
#define KILN_TANH_SMALL 0.5625f

/* Elements per parallel chunk. Waking a worker costs microseconds, so a
 * chunk must hold at least that much work: memory-bound ops (add, clamps,
 * hard swish, MEAN, pools) need many more elements than exp-based ones.
 * Both are multiples of every vector width, so chunks start aligned. */
#define KILN_EW_GRAIN_CHEAP 65536
#define KILN_EW_GRAIN_EXP 16384

/* float32 in and out, same element count. */
bool kiln_f32_vunary_applies(const kiln_op_ctx *ctx);
/* Maps uk over the input in parallel chunks of `grain` elements. */
kiln_status *kiln_f32_vunary_run(const kiln_op_ctx *ctx,
                                 kiln_f32_vunary_ukernel uk, int64_t grain);
kiln_status *kiln_f32_vclamp_run(const kiln_op_ctx *ctx,
                                 kiln_f32_vclamp_ukernel uk, float lo,
                                 float hi);

/* An instruction set's functions for the activation epilogue
 * (kernels/epilogue.c): the clamp (over n floats, x == y allowed), and the
 * activations that are not clamps, in place over rows (one call per GEMM
 * tile, so the row loop is theirs). */
typedef struct kiln_f32_activation_ukernels {
  kiln_f32_vclamp_ukernel clamp;
  kiln_f32_activation_rows_fn hard_swish, logistic, swish;
} kiln_f32_activation_ukernels;

extern const kiln_f32_activation_ukernels kiln_f32_activation_ukernels_avx512;
extern const kiln_f32_activation_ukernels kiln_f32_activation_ukernels_avx2;
extern const kiln_f32_activation_ukernels kiln_f32_activation_ukernels_portable;

/* ============================================== MEAN and 2-D pooling */

/* MEAN of a float32 NHWC tensor over exactly axes {1, 2}. */
bool kiln_f32_mean_hw_applies(const kiln_op_ctx *ctx);
/* AVERAGE_POOL_2D / MAX_POOL_2D float32 with a clamp activation. */
bool kiln_f32_pool_applies(const kiln_op_ctx *ctx);

/* Sizes, padding and activation of a prepared 2-D pooling node. */
typedef struct kiln_pool_geom {
  int64_t batch, in_h, in_w, channels, out_h, out_w, pad_top, pad_left;
  int stride_h, stride_w, filter_h, filter_w;
  float act_lo, act_hi;
} kiln_pool_geom;

void kiln_pool_geometry(const kiln_op_ctx *ctx, kiln_pool_geom *g);

/* Output rows per parallel chunk of a pool: at least KILN_POOL_GRAIN_BYTES
 * of output, so that a chunk's work (as many window reads, or more)
 * outweighs waking a worker. ResNet50's 112x112x64 -> 56x56 max pool
 * splits in chunks of 3 of its 56 rows. */
#define KILN_POOL_GRAIN_BYTES (32 * 1024)
int64_t kiln_pool_row_grain(const kiln_pool_geom *g);

/* ================================================= the run functions */

#define KILN_EW_DECLARE(isa)                                          \
  kiln_status *kiln_f32_vadd__##isa(const kiln_op_ctx *ctx);          \
  kiln_status *kiln_f32_vsub__##isa(const kiln_op_ctx *ctx);          \
  kiln_status *kiln_f32_vmul__##isa(const kiln_op_ctx *ctx);          \
  kiln_status *kiln_f32_vrelu__##isa(const kiln_op_ctx *ctx);         \
  kiln_status *kiln_f32_vrelu6__##isa(const kiln_op_ctx *ctx);        \
  kiln_status *kiln_f32_vrelu_n1_to_1__##isa(const kiln_op_ctx *ctx); \
  kiln_status *kiln_f32_vsigmoid__##isa(const kiln_op_ctx *ctx);      \
  kiln_status *kiln_f32_vtanh__##isa(const kiln_op_ctx *ctx);         \
  kiln_status *kiln_f32_vhswish__##isa(const kiln_op_ctx *ctx);       \
  kiln_status *kiln_f32_mean_hw__##isa(const kiln_op_ctx *ctx);       \
  kiln_status *kiln_f32_avgpool__##isa(const kiln_op_ctx *ctx);       \
  kiln_status *kiln_f32_maxpool__##isa(const kiln_op_ctx *ctx);
KILN_EW_DECLARE(avx512)
KILN_EW_DECLARE(avx2)
KILN_EW_DECLARE(portable)
#undef KILN_EW_DECLARE

#endif
