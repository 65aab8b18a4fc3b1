/* qgemm_portable.c - the int8 GEMM microkernel in plain C (4 rows by 8
 * channels), for CPUs without AVX2 and as the readable statement of what
 * the vector kernels compute: int32 sums of flipped activations times
 * weights, from the panel's folded bias, then the scalar output stage. */
#include "kernels/qgemm/qgemm.h"

enum { MR = 4, NR = 8 };

void kiln_q8_gemm_4x8__portable(size_t mr, size_t nc, size_t kp,
                                const uint8_t *a, size_t a_stride,
                                const void *panel, int8_t *c, size_t c_stride,
                                const kiln_qgemm_out *out) {
  const int32_t *bias = kiln_qgemm_param(panel, NR, KILN_QGEMM_BIAS);
  const int8_t *w = kiln_qgemm_weights(panel, NR);
  /* Unsigned sums wrap as TFLite's int32 ones do, without overflow. */
  uint32_t acc[MR][NR];
  for (size_t r = 0; r < mr; r++)
    for (int j = 0; j < NR; j++) acc[r][j] = (uint32_t)bias[j];
  for (size_t g = 0; g < kp / 4; g++, w += NR * 4)
    for (size_t r = 0; r < mr; r++) {
      const uint8_t *x = a + r * a_stride + g * 4;
      for (int j = 0; j < NR; j++) {
        int32_t dot = x[0] * w[j * 4] + x[1] * w[j * 4 + 1] +
                      x[2] * w[j * 4 + 2] + x[3] * w[j * 4 + 3];
        acc[r][j] += (uint32_t)dot;
      }
    }
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nc; j++)
      c[r * c_stride + j] =
          kiln_qgemm_requantize((int32_t)acc[r][j], panel, NR, (int)j, out);
}

const kiln_qgemm_kernel kiln_qgemm_4x8_portable = {MR, NR,
                                                   kiln_q8_gemm_4x8__portable};
