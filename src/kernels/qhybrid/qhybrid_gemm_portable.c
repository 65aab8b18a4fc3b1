/* qhybrid_gemm_portable.c - the hybrid GEMM's microkernel in plain C: up to
 * 4 rows of int8 activations by an 8-channel panel, int32 sums. */
#include "kernels/qhybrid/qhybrid.h"

enum { MR = 4, NR = 8 };

static void ukernel_4x8(int mr, int64_t kgroups, const void *a, size_t a_stride,
                        const int8_t *w, const int32_t *init, int32_t *c) {
  int32_t acc[MR][NR];
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < NR; j++) acc[r][j] = init[j];
  for (int64_t g = 0; g < kgroups; g++) {
    const int8_t *wg = w + g * NR * 4;
    for (int r = 0; r < mr; r++) {
      const int8_t *x = (const int8_t *)a + r * a_stride + g * 4;
      for (int j = 0; j < NR; j++)
        acc[r][j] += x[0] * wg[j * 4] + x[1] * wg[j * 4 + 1] +
                     x[2] * wg[j * 4 + 2] + x[3] * wg[j * 4 + 3];
    }
  }
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < NR; j++) c[r * NR + j] = acc[r][j];
}

const qh_kernel kiln_qh_kernel_portable = {MR,          NR,   QH_A_INT8, 0,
                                           ukernel_4x8, NULL, NULL,      NULL};
