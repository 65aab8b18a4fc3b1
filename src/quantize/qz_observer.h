/* qz_observer.h - what calibration learns about one float tensor: its
 * minimum and maximum and, for the percentile and entropy methods, a
 * histogram of |x| (QZ_BINS bins over [0, range), the range doubling, by
 * merging neighbour bins, whenever a larger value arrives, so one pass
 * over the samples suffices). The methods turn this into the range
 * [lo, hi] the tensor is quantized over. */
#ifndef KILN_QUANTIZE_QZ_OBSERVER_H
#define KILN_QUANTIZE_QZ_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln_quantize.h"

enum { QZ_BINS = 2048, QZ_ENTROPY_LEVELS = 128 };

typedef struct qz_observer {
  bool seen;
  double min, max;
  bool histogram;    /* collect bins (percentile, entropy) */
  double hist_range; /* upper edge of the last bin; 0 before any nonzero */
  double *bins;      /* QZ_BINS counts when histogram */
} qz_observer;

/* Adds n values; false (nothing recorded) when one is NaN or infinite. */
bool qz_observe(qz_observer *o, const float *x, size_t n);

/* The threshold on |x| below which `percent` of the values lie (the upper
 * edge of the bin reaching it, at most max|x|). */
double qz_threshold_percentile(const qz_observer *o, double percent);

/* TensorRT's calibration: the threshold (a bin edge from QZ_ENTROPY_LEVELS
 * bins up) minimizing KL(P || Q), P the histogram clipped there with the
 * outliers in its last bin, Q P merged into QZ_ENTROPY_LEVELS levels and
 * spread back over P's nonzero bins. */
double qz_threshold_entropy(const qz_observer *o);

/* The range a tensor is quantized over by `method`: the seen [min, max]
 * clipped to [-t, t] for the histogram methods, always containing 0. */
void qz_observed_range(const qz_observer *o, kiln_qz_method method,
                       double percent, double *lo, double *hi);

/* Asymmetric 8-bit parameters of [lo, hi] (lo <= 0 <= hi) for integers in
 * [qmin, qmax], as TFLite's converter computes them; symmetric int16 ones
 * (zero point 0) from max(|lo|, |hi|). */
void qz_asymmetric_params(double lo, double hi, int qmin, int qmax,
                          float *scale, int *zero_point);
float qz_symmetric_scale(double lo, double hi, int qmax);

#endif
