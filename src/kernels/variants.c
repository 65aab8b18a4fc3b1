/* variants.c - instruction-set detection and the choice of kernel. */
#include "kernels/variants.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/bottleneck/bottleneck.h"
#include "kernels/bottleneck/qbottleneck.h"
#include "kernels/gemm/conv_winograd.h"
#include "kernels/gemm/gemm.h"
#include "kernels/movement/movement_variants.h"
#include "kernels/qdw/qdw.h"
#include "kernels/qelem/lut8.h"
#include "kernels/qelem/qelem.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/qhybrid/qhybrid.h"
#include "kernels/quant/quant_variants.h"
#include "kernels/x86/x86_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define KILN_X86 1
#endif

static const kiln_kernel_variant variants[] = {
#define KILN_VARIANT(op, isa, name, pack, applies, run) \
  {KILN_OP_##op, isa, name, pack, applies, run, NULL},
#define KILN_VARIANT_WS(op, isa, name, pack, applies, run, workspace) \
  {KILN_OP_##op, isa, name, pack, applies, run, workspace},
#include "kernels/variant_list.h"
#undef KILN_VARIANT
#undef KILN_VARIANT_WS
    {KILN_OP_COUNT, KILN_ISA_PORTABLE, "end", NULL, NULL, NULL, NULL},
};
enum { NUM_VARIANTS = sizeof variants / sizeof variants[0] - 1 };

const char *kiln_isa_name(kiln_isa isa) {
  switch (isa) {
    case KILN_ISA_AUTO:
      return "auto";
    case KILN_ISA_PORTABLE:
      return "portable";
    case KILN_ISA_AVX2:
      return "avx2";
    case KILN_ISA_AVX512:
      return "avx512";
    case KILN_ISA_AVX512_VNNI:
      return "avx512vnni";
  }
  return "unknown";
}

#ifdef KILN_X86
/* XCR0 says which register states the OS saves on a context switch. */
static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static kiln_isa detect_isa(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return KILN_ISA_PORTABLE;
  bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
  if (!osxsave || !avx || !fma) return KILN_ISA_PORTABLE;
  uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) return KILN_ISA_PORTABLE; /* SSE + AVX state */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return KILN_ISA_PORTABLE;
  bool avx2 = b & (1u << 5);
  bool avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) &&
                (b & (1u << 31)); /* F, DQ, BW, VL */
  bool vnni = c & (1u << 11);     /* AVX512_VNNI */
  if (avx512 && (xcr0 & 0xe6) == 0xe6)
    return vnni ? KILN_ISA_AVX512_VNNI : KILN_ISA_AVX512;
  return avx2 ? KILN_ISA_AVX2 : KILN_ISA_PORTABLE;
}
#else
static kiln_isa detect_isa(void) { return KILN_ISA_PORTABLE; }
#endif

static kiln_isa isa_from_env(void) {
  const char *value = getenv("KILN_ISA");
  if (!value) return KILN_ISA_AUTO;
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++)
    if (strcmp(value, kiln_isa_name((kiln_isa)isa)) == 0) return (kiln_isa)isa;
  return KILN_ISA_AUTO;
}

kiln_int8_rounding kiln_int8_rounding_resolve(kiln_int8_rounding asked) {
  if (asked != KILN_INT8_ROUNDING_DEFAULT) return asked;
  const char *value = getenv("KILN_INT8_ROUNDING");
  return value && strcmp(value, "fp32") == 0 ? KILN_INT8_ROUNDING_FP32
                                             : KILN_INT8_ROUNDING_EXACT;
}

kiln_isa kiln_isa_resolve(kiln_isa limit) {
  kiln_isa best = detect_isa();
  if (limit == KILN_ISA_AUTO) limit = isa_from_env();
  return limit != KILN_ISA_AUTO && limit < best ? limit : best;
}

const kiln_kernel_variant *kiln_variant_select(
    kiln_op_type op, kiln_isa isa, const kiln_kernel_variant *packed_by,
    const kiln_op_ctx *ctx) {
  for (const kiln_kernel_variant *v = variants; v->op != KILN_OP_COUNT; v++) {
    if (v->op != op || v->isa > isa) continue;
    if (v->pack && v != packed_by) continue;
    if (v->applies(ctx)) return v;
  }
  return NULL;
}

const kiln_kernel_variant *kiln_variant_packer(kiln_op_type op, kiln_isa isa,
                                               int start, int *out_index) {
  if (start < 0 || start > NUM_VARIANTS) return NULL;
  /* The sentinel at NUM_VARIANTS ends every walk. */
  for (const kiln_kernel_variant *v = variants + start; v->op != KILN_OP_COUNT;
       v++) {
    if (v->op == op && v->isa <= isa && v->pack) {
      *out_index = (int)(v - variants);
      return v;
    }
  }
  return NULL;
}
