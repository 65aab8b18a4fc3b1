/* test_quantize_observer.c - kiln quantize's calibration observers
 * (src/quantize/qz_observer.c) on known distributions: min/max, the
 * percentile of |x| against a sort of the same values, the KL-divergence
 * threshold against a direct implementation of TensorRT's search written
 * here, the histogram's range doubling, and the quantization parameters
 * computed from ranges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "qz_observer.h"

static qz_observer new_observer(void) {
  qz_observer o;
  memset(&o, 0, sizeof o);
  o.histogram = true;
  o.bins = calloc(QZ_BINS, sizeof(double));
  return o;
}

static int by_value(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Box-Muller normal samples. */
static float normal(void) {
  float u = kiln_test_uniform(1e-7f, 1), v = kiln_test_uniform(0, 1);
  return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

static void test_minmax_and_nan(void) {
  qz_observer o = new_observer();
  float a[] = {0.5f, -2.0f, 3.0f}, b[] = {-4.0f, 1.0f};
  CHECK(qz_observe(&o, a, 3));
  CHECK(qz_observe(&o, b, 2));
  CHECK(o.min == -4 && o.max == 3);
  double lo, hi;
  qz_observed_range(&o, KILN_QZ_MINMAX, 0, &lo, &hi);
  CHECK(lo == -4 && hi == 3);
  float bad[] = {1, NAN};
  CHECK(!qz_observe(&o, bad, 2));
  float inf[] = {INFINITY};
  CHECK(!qz_observe(&o, inf, 1));
  CHECK(o.min == -4 && o.max == 3); /* nothing recorded */
  /* a range is widened to hold 0 (asymmetric params need it) */
  qz_observer p = new_observer();
  float pos[] = {2, 3};
  CHECK(qz_observe(&p, pos, 2));
  qz_observed_range(&p, KILN_QZ_MINMAX, 0, &lo, &hi);
  CHECK(lo == 0 && hi == 3);
  free(o.bins);
  free(p.bins);
}

/* Batches of growing magnitude make the histogram double its range; the
 * counts must still add up, and every value sit in the bin of its
 * magnitude at the final range (checked through the cumulative counts). */
static void test_histogram_doubling(void) {
  qz_observer o = new_observer();
  enum { N = 3000 };
  float *all = malloc(sizeof(float) * N);
  for (int batch = 0; batch < 3; batch++) {
    float scale = batch == 0 ? 1 : batch == 1 ? 5 : 37;
    float *x = all + batch * 1000;
    kiln_test_fill(x, 1000, -scale, scale);
    CHECK(qz_observe(&o, x, 1000));
  }
  double total = 0;
  for (int i = 0; i < QZ_BINS; i++) total += o.bins[i];
  CHECK(total == N);
  CHECK(o.hist_range >= 37 * 0.99 && o.hist_range < 2 * 37);
  double width = o.hist_range / QZ_BINS;
  /* each value's bin, counted independently */
  double *expect = calloc(QZ_BINS, sizeof(double));
  for (int i = 0; i < N; i++) {
    int bin = (int)floor(fabs(all[i]) / width);
    expect[bin < QZ_BINS ? bin : QZ_BINS - 1] += 1;
  }
  /* merging may move a value across a boundary by float rounding only:
   * compare cumulative counts with a one-value slack */
  double ca = 0, cb = 0, worst = 0;
  for (int i = 0; i < QZ_BINS; i++) {
    ca += o.bins[i];
    cb += expect[i];
    worst = fmax(worst, fabs(ca - cb));
  }
  CHECK(worst <= 2);
  free(expect);
  free(all);
  free(o.bins);
}

static void test_percentile(void) {
  enum { N = 200000 };
  float *x = malloc(sizeof(float) * N), *mag = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) x[i] = normal();
  qz_observer o = new_observer();
  CHECK(qz_observe(&o, x, N));
  for (int i = 0; i < N; i++) mag[i] = fabsf(x[i]);
  qsort(mag, N, sizeof(float), by_value);
  double width = o.hist_range / QZ_BINS;
  const double percents[] = {50, 90, 99, 99.9, 99.99};
  for (int k = 0; k < 5; k++) {
    /* the value that brings the count of |x| <= it to percent of N */
    double exact = mag[(size_t)llround(percents[k] / 100 * N) - 1];
    double t = qz_threshold_percentile(&o, percents[k]);
    printf("  percentile %6.2f%%: %.4f (sorted %.4f, bin %.4f)\n", percents[k],
           t, exact, width);
    CHECK(t >= exact - 1e-6 && t <= exact + width + 1e-6);
  }
  CHECK(qz_threshold_percentile(&o, 100) <= mag[N - 1] + 1e-6);
  double lo, hi;
  qz_observed_range(&o, KILN_QZ_PERCENTILE, 99, &lo, &hi);
  double t = qz_threshold_percentile(&o, 99);
  CHECK(lo == -t && hi == t);
  free(x);
  free(mag);
  free(o.bins);
}

/* TensorRT's search, written directly: for each candidate n, P = bins
 * [0, n) with the outliers added to bin n-1, Q = the outlier-free bins
 * merged into 128 levels and spread over P's nonzero bins. */
static double reference_entropy(const double *bins, double range) {
  double best = INFINITY;
  int best_n = QZ_BINS;
  double *p = malloc(sizeof(double) * QZ_BINS);
  double *q = malloc(sizeof(double) * QZ_BINS);
  for (int n = 128; n <= QZ_BINS; n++) {
    double outliers = 0;
    for (int i = n; i < QZ_BINS; i++) outliers += bins[i];
    for (int i = 0; i < n; i++) p[i] = bins[i];
    p[n - 1] += outliers;
    for (int level = 0; level < 128; level++) {
      int a = (int)((long)level * n / 128),
          b = (int)((long)(level + 1) * n / 128);
      double mass = 0;
      int used = 0;
      for (int i = a; i < b; i++) {
        mass += bins[i];
        if (p[i] > 0) used++;
      }
      for (int i = a; i < b; i++) q[i] = p[i] > 0 ? mass / used : 0;
    }
    double sp = 0, sq = 0;
    for (int i = 0; i < n; i++) {
      sp += p[i];
      sq += q[i];
    }
    double kl = 0;
    for (int i = 0; i < n; i++)
      if (p[i] > 0) kl += p[i] / sp * log((p[i] / sp) / (q[i] / sq));
    if (kl < best) {
      best = kl;
      best_n = n;
    }
  }
  free(p);
  free(q);
  return best_n * range / QZ_BINS;
}

static void test_entropy(void) {
  enum { N = 100000 };
  float *x = malloc(sizeof(float) * (N + 10));
  for (int i = 0; i < N; i++) x[i] = normal();
  /* a few far outliers that min/max would follow */
  for (int i = 0; i < 10; i++) x[N + i] = 40.0f + i;
  qz_observer o = new_observer();
  CHECK(qz_observe(&o, x, N + 10));
  double t = qz_threshold_entropy(&o);
  double ref = reference_entropy(o.bins, o.hist_range);
  printf("  entropy threshold %.4f (reference %.4f, max %.1f)\n", t, ref,
         o.max);
  CHECK(fabs(t - ref) <= 1e-9 * ref);
  /* the outliers are clipped, the bulk of the normal is kept */
  CHECK(t > 2.5 && t < 20);
  double lo, hi;
  qz_observed_range(&o, KILN_QZ_ENTROPY, 0, &lo, &hi);
  CHECK(hi == t && lo >= -t);
  free(x);
  free(o.bins);
}

static void test_params(void) {
  float scale;
  int zp;
  qz_asymmetric_params(-1.0, 3.0, -128, 127, &scale, &zp);
  CHECK(fabsf(scale - 4.0f / 255) < 1e-7f);
  /* zero is exactly representable: zp = round(-128 + 1 / scale) */
  CHECK(zp == (int)lround(-128 + 1.0 / (4.0 / 255)));
  qz_asymmetric_params(0, 6, -128, 127, &scale, &zp);
  CHECK(zp == -128);
  qz_asymmetric_params(-2, 0, -128, 127, &scale, &zp);
  CHECK(zp == 127);
  qz_asymmetric_params(0, 0, -128, 127, &scale, &zp); /* all zeros */
  CHECK(scale > 0 && zp >= -128 && zp <= 127);
  CHECK(fabsf(qz_symmetric_scale(-3, 2, 32767) - 3.0f / 32767) < 1e-9f);
}

int main(void) {
  kiln_test_seed(7);
  test_minmax_and_nan();
  test_histogram_doubling();
  test_percentile();
  test_entropy();
  test_params();
  return kiln_test_finish("quantize observers");
}
