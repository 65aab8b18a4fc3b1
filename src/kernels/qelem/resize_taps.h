/* resize_taps.h - where one output row or column of an int8
 * RESIZE_BILINEAR reads, in TFLite's 10-bit fixed point as
 * kernels/ref/quant_resize.c computes it: the source coordinate times 1024,
 * its two neighbouring input indices (the lower one clamped at 0, the upper
 * at the last index) and the weights 1024 - f and f of the two, f the
 * coordinate's distance from the lower index in 1/1024ths. Shared by the
 * row drivers (resize.c) and the instruction-set row ukernels. */
#ifndef KILN_KERNELS_QELEM_RESIZE_TAPS_H
#define KILN_KERNELS_QELEM_RESIZE_TAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/qelem/qelem.h"

/* The taps of output index i along `axis`. The row driver has checked (in
 * applies) that i * scale stays inside int32 and that the lower index
 * never passes the last input index. */
static inline void kiln_q8_bilinear_tap(const kiln_q8_resize_axis *axis,
                                        int64_t i, int64_t *lo, int64_t *hi,
                                        int32_t *w0, int32_t *w1) {
  const int32_t pos = axis->half_pixel
                          ? (int32_t)i * axis->scale + axis->scale / 2 - 512
                          : (int32_t)i * axis->scale;
  /* Division truncating toward zero, as TFLite's. */
  const int32_t l = pos / 1024, h = (pos + 1023) / 1024;
  *lo = l > 0 ? l : 0;
  *hi = h < axis->in - 1 ? h : axis->in - 1;
  *w1 = pos - 1024 * (int32_t)*lo;
  *w0 = 1024 - *w1;
}

#endif
