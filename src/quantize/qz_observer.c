/* qz_observer.c - calibration statistics of one tensor and the three ways
 * (min/max, percentile, entropy) of choosing its quantization range. */
#include "qz_observer.h"

#include <math.h>
#include <string.h>

/* Doubles the histogram's range: bins 2i and 2i+1 become bin i. */
static void widen(qz_observer *o) {
  for (int i = 0; i < QZ_BINS / 2; i++)
    o->bins[i] = o->bins[2 * i] + o->bins[2 * i + 1];
  memset(o->bins + QZ_BINS / 2, 0, sizeof(double) * (QZ_BINS / 2));
  o->hist_range *= 2;
}

bool qz_observe(qz_observer *o, const float *x, size_t n) {
  double lo = o->seen ? o->min : INFINITY, hi = o->seen ? o->max : -INFINITY;
  double peak = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) return false;
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    if (fabs(x[i]) > peak) peak = fabs(x[i]);
  }
  if (n == 0) return true;
  o->seen = true;
  o->min = lo;
  o->max = hi;
  if (!o->histogram || !o->bins) return true;
  if (o->hist_range == 0 && peak > 0) o->hist_range = peak;
  while (peak > o->hist_range) widen(o);
  if (o->hist_range == 0) {
    o->bins[0] += (double)n; /* all zeros so far */
    return true;
  }
  double per_bin = QZ_BINS / o->hist_range;
  for (size_t i = 0; i < n; i++) {
    int bin = (int)(fabs(x[i]) * per_bin);
    o->bins[bin < QZ_BINS ? bin : QZ_BINS - 1] += 1;
  }
  return true;
}

static double max_abs(const qz_observer *o) {
  return fmax(fabs(o->min), fabs(o->max));
}

double qz_threshold_percentile(const qz_observer *o, double percent) {
  if (!o->bins || o->hist_range == 0) return max_abs(o);
  double total = 0;
  for (int i = 0; i < QZ_BINS; i++) total += o->bins[i];
  double target = total * percent / 100.0, sum = 0;
  for (int i = 0; i < QZ_BINS; i++) {
    sum += o->bins[i];
    if (sum >= target)
      return fmin((i + 1) * o->hist_range / QZ_BINS, max_abs(o));
  }
  return max_abs(o);
}

/* KL(P || Q) for P = bins[0, n) with the outliers in bin n-1 and Q the
 * bins [0, n) without them merged into QZ_ENTROPY_LEVELS levels, each
 * level's mass spread evenly over the bins where P is nonzero. */
static double clipped_divergence(const double *bins, int n, double outliers,
                                 double *p, double *q) {
  memcpy(p, bins, sizeof(double) * (size_t)n);
  p[n - 1] += outliers;
  for (int level = 0; level < QZ_ENTROPY_LEVELS; level++) {
    int start = (int)((long)level * n / QZ_ENTROPY_LEVELS);
    int end = (int)((long)(level + 1) * n / QZ_ENTROPY_LEVELS);
    double mass = 0;
    int nonzero = 0;
    /* The level's mass is what the histogram holds there without the
     * outliers: Q is what quantizing the values inside the threshold
     * keeps, so the clipping shows as P's extra mass in its last bin. */
    for (int i = start; i < end; i++) {
      mass += bins[i];
      nonzero += p[i] != 0;
    }
    for (int i = start; i < end; i++)
      q[i] = (p[i] != 0 && nonzero) ? mass / nonzero : 0;
  }
  double p_total = 0, q_total = 0;
  for (int i = 0; i < n; i++) {
    p_total += p[i];
    q_total += q[i];
  }
  if (p_total == 0 || q_total == 0) return 0;
  double kl = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] == 0) continue;
    double pi = p[i] / p_total, qi = q[i] / q_total;
    kl += pi * log(pi / qi);
  }
  return kl;
}

double qz_threshold_entropy(const qz_observer *o) {
  if (!o->bins || o->hist_range == 0) return max_abs(o);
  double p[QZ_BINS], q[QZ_BINS];
  double above[QZ_BINS + 1]; /* above[n]: the mass in bins n.. */
  above[QZ_BINS] = 0;
  for (int i = QZ_BINS - 1; i >= 0; i--) above[i] = above[i + 1] + o->bins[i];
  double best = INFINITY;
  int best_n = QZ_BINS;
  for (int n = QZ_ENTROPY_LEVELS; n <= QZ_BINS; n++) {
    double kl = clipped_divergence(o->bins, n, above[n], p, q);
    if (kl < best) {
      best = kl;
      best_n = n;
    }
  }
  return fmin(best_n * o->hist_range / QZ_BINS, max_abs(o));
}

void qz_observed_range(const qz_observer *o, kiln_qz_method method,
                       double percent, double *lo, double *hi) {
  double min = o->seen ? o->min : 0, max = o->seen ? o->max : 0;
  if (method != KILN_QZ_MINMAX) {
    double t = method == KILN_QZ_ENTROPY ? qz_threshold_entropy(o)
                                         : qz_threshold_percentile(o, percent);
    if (min < -t) min = -t;
    if (max > t) max = t;
  }
  *lo = fmin(min, 0);
  *hi = fmax(max, 0);
}

void qz_asymmetric_params(double lo, double hi, int qmin, int qmax,
                          float *scale, int *zero_point) {
  lo = fmin(lo, 0);
  hi = fmax(hi, 0);
  double s = (hi - lo) / (qmax - qmin);
  if (!(s > 0)) s = 1.0 / (qmax - qmin); /* a constant-zero tensor */
  double zp = qmin - lo / s;
  zp = round(zp);
  if (zp < qmin) zp = qmin;
  if (zp > qmax) zp = qmax;
  *scale = (float)s;
  *zero_point = (int)zp;
}

float qz_symmetric_scale(double lo, double hi, int qmax) {
  double m = fmax(fabs(lo), fabs(hi));
  return m > 0 ? (float)(m / qmax) : 1.0f / (float)qmax;
}
