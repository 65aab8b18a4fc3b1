/* fuzz_npy.c - libFuzzer target for the .npy reader: parses the input as a
 * whole .npy file in memory and checks that a successful parse describes
 * itself consistently. Seeds: tests/fuzz/corpus/npy/.
 *
 *   cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON \
 *         -DCMAKE_C_COMPILER=clang && cmake --build build-fuzz -t fuzz_npy
 *   mkdir -p /tmp/npy-corpus    # libFuzzer adds new inputs to the first dir
 *   build-fuzz/fuzz_npy -max_len=4096 /tmp/npy-corpus tests/fuzz/corpus/npy
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/npy/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kiln_array array;
  kiln_status *status = kiln_npy_parse(data, size, "fuzz.npy", &array);
  if (status) {
    /* A failed parse leaves no array and always says something. */
    if (array.data || array.nbytes || !kiln_status_message(status)[0]) abort();
    kiln_status_free(status);
    return 0;
  }
  if (array.rank < 0 || array.rank > KILN_MAX_RANK || !array.data) abort();
  size_t count = 1;
  for (int i = 0; i < array.rank; i++) {
    if (array.dims[i] < 0) abort();
    count *= (size_t)array.dims[i];
  }
  if (count * kiln_dtype_size(array.dtype) != array.nbytes) abort();
  /* Never more than the input holds: for plain types its bytes, for
   * '|S<n>' strings (n >= 1) one kiln_string view per input byte at most. */
  if (array.dtype == KILN_STRING ? count > size : array.nbytes > size) abort();
  /* Touch every byte so the sanitizers see the whole allocation. */
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < array.nbytes; i++) sum += ((uint8_t *)array.data)[i];
  (void)sum;
  kiln_array_free(&array);
  return 0;
}
