/* epilogue.h - a fused activation applied by an optimized kernel to the
 * block of output it has just written, while that block is still in L1 or
 * L2: the clamps, and HARD_SWISH, LOGISTIC and SWISH on the vectorized row
 * functions of the elementwise kernels (kernels/x86/elementwise_*.c).
 * Kernels whose microkernels clamp as they store (GEMM, depthwise) keep
 * doing so and call this only for the activations that are not clamps. */
#ifndef KILN_KERNELS_EPILOGUE_H
#define KILN_KERNELS_EPILOGUE_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/activation.h"
#include "kiln.h"

/* Whether kiln_f32_activation_rows computes `act`: NONE, the clamps,
 * HARD_SWISH, LOGISTIC and SWISH (not TANH or SIGN_BIT). */
bool kiln_f32_activation_rows_supports(kiln_activation act);

/* Applies `act` in place to `rows` rows of `cols` floats, row r starting at
 * c + r * stride (stride in floats, >= cols), with the row functions of
 * instruction set `isa` (AUTO, and sets this build lacks, mean portable).
 * The results match the standalone LOGISTIC / HARD_SWISH variants of the
 * same set bit for bit. Does nothing for an activation it does not
 * support: callers ask kiln_f32_activation_rows_supports when choosing the
 * kernel. */
void kiln_f32_activation_rows(kiln_activation act, kiln_isa isa, float *c,
                              size_t rows, size_t cols, size_t stride);

/* An activation that is not a clamp over rows as above, for a kernel that
 * calls it once per small tile: looked up once per run, it saves the
 * dispatch above on every call (a GEMM tile is a few hundred floats). */
typedef void (*kiln_f32_activation_rows_fn)(size_t rows, size_t cols, float *c,
                                            size_t stride);
/* The function for HARD_SWISH, LOGISTIC or SWISH at `isa`; NULL for NONE,
 * the clamps (which microkernels apply as they store) and the rest. */
kiln_f32_activation_rows_fn kiln_f32_activation_rows_lookup(kiln_activation act,
                                                            kiln_isa isa);

#endif
