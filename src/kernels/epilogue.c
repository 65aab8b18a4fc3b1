/* epilogue.c - fused activations over rows an optimized kernel has just
 * written, dispatched to one instruction set's row functions. */
#include "kernels/epilogue.h"

#include "kernels/x86/x86_kernels.h"

bool kiln_f32_activation_rows_supports(kiln_activation act) {
  return kiln_activation_is_clamp(act) || act == KILN_ACT_HARD_SWISH ||
         act == KILN_ACT_LOGISTIC || act == KILN_ACT_SWISH;
}

static const kiln_f32_activation_ukernels *ukernels_for(kiln_isa isa) {
#if defined(__x86_64__)
  if (isa == KILN_ISA_AVX512) return &kiln_f32_activation_ukernels_avx512;
  if (isa == KILN_ISA_AVX2) return &kiln_f32_activation_ukernels_avx2;
#else
  (void)isa;
#endif
  return &kiln_f32_activation_ukernels_portable;
}

kiln_f32_activation_rows_fn kiln_f32_activation_rows_lookup(kiln_activation act,
                                                            kiln_isa isa) {
  const kiln_f32_activation_ukernels *uk = ukernels_for(isa);
  if (act == KILN_ACT_HARD_SWISH) return uk->hard_swish;
  if (act == KILN_ACT_LOGISTIC) return uk->logistic;
  if (act == KILN_ACT_SWISH) return uk->swish;
  return NULL;
}

void kiln_f32_activation_rows(kiln_activation act, kiln_isa isa, float *c,
                              size_t rows, size_t cols, size_t stride) {
  if (act == KILN_ACT_NONE || rows == 0 || cols == 0) return;
  /* Dense rows are one run: fewer calls and no short tails. */
  if (stride == cols) {
    cols *= rows;
    rows = 1;
  }
  if (kiln_activation_is_clamp(act)) {
    const kiln_f32_activation_ukernels *uk = ukernels_for(isa);
    float lo, hi;
    kiln_activation_bounds(act, &lo, &hi);
    for (size_t r = 0; r < rows; r++)
      uk->clamp(cols, c + r * stride, c + r * stride, lo, hi);
    return;
  }
  kiln_f32_activation_rows_fn fn = kiln_f32_activation_rows_lookup(act, isa);
  if (fn) fn(rows, cols, c, stride);
}
