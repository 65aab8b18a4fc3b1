/* qgemm_portable.c - the int8 GEMM microkernel in plain C (4 rows by 8
 * channels), for CPUs without AVX2 and as the readable statement of what
 * the vector kernels compute: int32 sums of flipped activations times
 * weights, from the panel's folded bias, then the scalar output stage. */
#include <string.h>

#include "kernels/qgemm/qgemm.h"

enum { MR = 4, NR = 8 };

void kiln_q8_gemm_4x8__portable(size_t mr, size_t nc, size_t kp,
                                const uint8_t *a, size_t a_stride,
                                const void *panel, int8_t *c, size_t c_stride,
                                const kiln_qgemm_out *out) {
  const int32_t *bias = kiln_qgemm_param(panel, NR, KILN_QGEMM_BIAS);
  for (size_t r = 0; r < mr; r++) {
    /* Unsigned sums wrap as TFLite's int32 ones do, without overflow. */
    uint32_t acc[NR];
    for (int j = 0; j < NR; j++) acc[j] = (uint32_t)bias[j];
    const uint8_t *x = a + r * a_stride;
    const int8_t *w = kiln_qgemm_weights(panel, NR);
    for (size_t g = 0; g < kp; g += 4, w += NR * 4)
      for (int j = 0; j < NR; j++)
        acc[j] += (uint32_t)(x[g] * w[j * 4] + x[g + 1] * w[j * 4 + 1] +
                             x[g + 2] * w[j * 4 + 2] + x[g + 3] * w[j * 4 + 3]);
    for (size_t j = 0; j < nc; j++)
      c[r * c_stride + j] =
          kiln_qgemm_requantize((int32_t)acc[j], panel, NR, (int)j, out);
  }
}

void kiln_qgemm_flip__portable(uint8_t *dst, const int8_t *src, int64_t n) {
  int64_t i = 0;
  /* Eight at a time without assuming an instruction set. */
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= UINT64_C(0x8080808080808080);
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; i++) dst[i] = (uint8_t)(src[i] ^ 0x80);
}

const kiln_qgemm_kernel kiln_qgemm_4x8_portable = {
    MR, NR, kiln_q8_gemm_4x8__portable, kiln_qgemm_flip__portable};
