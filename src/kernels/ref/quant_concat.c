/* quant_concat.c - CONCATENATION of uint8 parts whose scale or zero point
 * differ from the output's: TFLite requantizes those parts
 * (ConcatenationWithScaling) as round(q * s + b) + z_out in float, with
 * s = s_in / s_out and b = -z_in * s, clamped to [0, 255]. concat.c first
 * copies every part's stored values; this pass rewrites the blocks of the
 * parts that need it, through a 256-entry map. int8 and int16 parts must
 * match the output exactly, as TFLite requires. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

bool kiln_q_concat_rescales(const kiln_tensor *part, const kiln_tensor *out) {
  return part->dtype == KILN_UINT8 && out->dtype == KILN_UINT8 && part->quant &&
         out->quant && part->quant->count == 1 && out->quant->count == 1;
}

kiln_status *kiln_q_check_concat_part(const kiln_tensor *part, int index,
                                      const kiln_tensor *out) {
  char role[32];
  kiln_qparams q;
  snprintf(role, sizeof role, "input %d", index);
  KILN_TRY(kiln_q_params(part, role, false, &q));
  return kiln_q_params(out, "output 0", false, &q);
}

void kiln_q_concat_rescale(const kiln_op_ctx *ctx, int axis) {
  kiln_tensor *out = ctx->outputs[0];
  int64_t outer = 1, total = 1;
  for (int k = 0; k < axis; k++) outer *= out->dims[k];
  for (int k = axis; k < out->rank; k++) total *= out->dims[k];
  const float out_scale = out->quant->scale[0];
  const int32_t out_zp = (int32_t)out->quant->zero_point[0];
  int64_t start = 0; /* the part's first element within each outer block */
  for (int i = 0; i < ctx->num_inputs; i++) {
    const kiln_tensor *part = ctx->inputs[i];
    int64_t block = 1;
    for (int k = axis; k < part->rank; k++) block *= part->dims[k];
    const float in_scale = part->quant->scale[0];
    const int32_t in_zp = (int32_t)part->quant->zero_point[0];
    if (in_scale != out_scale || in_zp != out_zp) {
      const float scale = in_scale * (1.0f / out_scale);
      const float bias = (float)-in_zp * scale;
      uint8_t map[256];
      for (int q = 0; q < 256; q++) {
        const float r = roundf((float)q * scale + bias);
        const float v = r + (float)out_zp; /* |r| < 2^31 for sane scales */
        map[q] = (uint8_t)(v < 0.0f ? 0 : (v > 255.0f ? 255 : (int32_t)v));
      }
      for (int64_t o = 0; o < outer; o++) {
        uint8_t *p = (uint8_t *)out->data + o * total + start;
        for (int64_t j = 0; j < block; j++) p[j] = map[p[j]];
      }
    }
    start += block;
  }
}
