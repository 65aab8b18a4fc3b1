/* fuzz_warmup.c - libFuzzer target for TF Serving's warm-up file reader
 * (serve/warmup.h): the input is a whole TFRecord file; every record whose
 * checksums hold is decoded as a PredictionLog down to its PredictRequest's
 * tensors. A failure must say something. The checksums would stop almost
 * every mutation at the first record, so each input is also read with its
 * records' checksums recomputed. Seeds: tests/fuzz/corpus/warmup/ (made by
 * tests/fuzz/make_warmup_seeds.py with TF Serving's protos).
 *
 *   cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON \
 *         -DCMAKE_C_COMPILER=clang && cmake --build build-fuzz -t fuzz_warmup
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/savedmodel/crc32c.h"
#include "serve/warmup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static serve_status *decode(void *context, int index, const uint8_t *record,
                            size_t len) {
  (void)context;
  serve_tfs_predict p;
  serve_status *st = serve_warmup_decode(index, record, len, &p);
  if (st) return st;
  for (int i = 0; i < p.num_inputs; i++) {
    /* Touch every byte so the sanitizers see the whole tensor. */
    volatile uint8_t sum = 0;
    for (size_t b = 0; b < p.inputs[i].nbytes; b++)
      sum += ((const uint8_t *)p.inputs[i].data)[b];
    (void)sum;
  }
  serve_tfs_predict_free(&p);
  return NULL;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void check(const uint8_t *data, size_t size) {
  serve_status *st = serve_tfrecord_each(data, size, decode, NULL);
  if (st) {
    if (!serve_status_message(st)[0]) abort();
    serve_status_free(st);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size);
  /* Again with every record's checksums made right. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  size_t pos = 0;
  while (size - pos >= 12) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | copy[pos + i];
    put32(copy + pos + 8, kiln_crc32c_mask(kiln_crc32c(copy + pos, 8)));
    if (len > size - pos - 12 || size - pos - 12 - len < 4) break;
    put32(copy + pos + 12 + len,
          kiln_crc32c_mask(kiln_crc32c(copy + pos + 12, (size_t)len)));
    pos += 12 + (size_t)len + 4;
  }
  check(copy, size);
  free(copy);
  return 0;
}
