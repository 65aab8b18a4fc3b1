/* qz_npz.h - kiln quantize's calibration samples from .npz files (numpy's
 * zip of .npy arrays, one per model input keyed by the input's name,
 * samples stacked on axis 0), or from a folder of them read in turn,
 * handed to the quantizer one sample at a time (kiln_qz_source). */
#ifndef KILN_CLI_QZ_NPZ_H
#define KILN_CLI_QZ_NPZ_H

#include "kiln_quantize.h"

typedef struct qz_npz qz_npz;

/* Opens PATH (a file or a folder of .npz files) for `inputs` and checks
 * every file up front: each input's array present, float32, of the
 * input's shape after axis 0, the same sample count for all inputs, and
 * free of NaN and infinities. Errors name the file, input and sample. */
kiln_status *qz_npz_open(const char *path, const kiln_qz_inputs *inputs,
                         qz_npz **out);
void qz_npz_close(qz_npz *npz);
/* The source reading it (valid while npz lives). */
kiln_qz_source qz_npz_source(qz_npz *npz);

#endif
