/* variant_list.h - THE list of optimized kernel variants, best first for
 * each op. KILN_VARIANT(op, isa, name, pack, applies, run); a NULL pack
 * means the variant reads weights as they are. KILN_VARIANT_WS adds a
 * function giving the per-thread scratch bytes the variant needs. Declarations
 * of the named functions live in the variant's own header under
 * src/kernels/gemm/ or src/kernels/x86/, included by variants.c. */
/* GEMM on weights packed at load (kernels/gemm/gemm.h). */
#if defined(__x86_64__)
KILN_VARIANT(FULLY_CONNECTED, KILN_ISA_AVX512, "f32-gemm-12x32-avx512",
             kiln_fc_gemm_pack_avx512, kiln_fc_gemm_applies_avx512,
             kiln_fc_gemm_run_avx512)
KILN_VARIANT(FULLY_CONNECTED, KILN_ISA_AVX2, "f32-gemm-6x16-avx2",
             kiln_fc_gemm_pack_avx2, kiln_fc_gemm_applies_avx2,
             kiln_fc_gemm_run_avx2)
#endif
KILN_VARIANT(FULLY_CONNECTED, KILN_ISA_PORTABLE, "f32-gemm-4x8-portable",
             kiln_fc_gemm_pack_portable, kiln_fc_gemm_applies_portable,
             kiln_fc_gemm_run_portable)
#if defined(__x86_64__)
KILN_VARIANT(CONV_2D, KILN_ISA_AVX512, "f32-conv1x1-gemm-12x32-avx512",
             kiln_conv1x1_gemm_pack_avx512, kiln_conv1x1_gemm_applies_avx512,
             kiln_conv1x1_gemm_run_avx512)
KILN_VARIANT(CONV_2D, KILN_ISA_AVX2, "f32-conv1x1-gemm-6x16-avx2",
             kiln_conv1x1_gemm_pack_avx2, kiln_conv1x1_gemm_applies_avx2,
             kiln_conv1x1_gemm_run_avx2)
#endif
KILN_VARIANT(CONV_2D, KILN_ISA_PORTABLE, "f32-conv1x1-gemm-4x8-portable",
             kiln_conv1x1_gemm_pack_portable,
             kiln_conv1x1_gemm_applies_portable, kiln_conv1x1_gemm_run_portable)
/* 3x3 stride-1 CONV_2D through Winograd F(4x4, 3x3) or F(2x2, 3x3); each
 * packer takes the layers its tile size runs fastest
 * (kernels/gemm/conv_winograd.h). */
#define KILN_WINOGRAD_VARIANTS(tile, isa_id, isa)                          \
  KILN_VARIANT_WS(CONV_2D, isa_id, "f32-conv3x3-winograd-" #tile "-" #isa, \
                  kiln_conv_winograd_##tile##_pack_##isa,                  \
                  kiln_conv_winograd_##tile##_applies_##isa,               \
                  kiln_conv_winograd_##tile##_run_##isa,                   \
                  kiln_conv_winograd_##tile##_workspace_##isa)
#if defined(__x86_64__)
KILN_WINOGRAD_VARIANTS(f43, KILN_ISA_AVX512, avx512)
KILN_WINOGRAD_VARIANTS(f23, KILN_ISA_AVX512, avx512)
KILN_WINOGRAD_VARIANTS(f43, KILN_ISA_AVX2, avx2)
KILN_WINOGRAD_VARIANTS(f23, KILN_ISA_AVX2, avx2)
#endif
KILN_WINOGRAD_VARIANTS(f43, KILN_ISA_PORTABLE, portable)
KILN_WINOGRAD_VARIANTS(f23, KILN_ISA_PORTABLE, portable)
#undef KILN_WINOGRAD_VARIANTS
/* CONV_2D with a KxK filter (K > 1): its packer declines 1x1 filters,
 * which the variants above pack. */
#if defined(__x86_64__)
KILN_VARIANT(CONV_2D, KILN_ISA_AVX512, "f32-conv-gemm-12x32-avx512",
             kiln_conv_gemm_pack_avx512, kiln_conv_gemm_applies_avx512,
             kiln_conv_gemm_run_avx512)
KILN_VARIANT(CONV_2D, KILN_ISA_AVX2, "f32-conv-gemm-6x16-avx2",
             kiln_conv_gemm_pack_avx2, kiln_conv_gemm_applies_avx2,
             kiln_conv_gemm_run_avx2)
#endif
KILN_VARIANT(CONV_2D, KILN_ISA_PORTABLE, "f32-conv-gemm-4x8-portable",
             kiln_conv_gemm_pack_portable, kiln_conv_gemm_applies_portable,
             kiln_conv_gemm_run_portable)
/* DEPTHWISE_CONV_2D on channel-blocked weights packed at load, then the
 * elementwise ops, MEAN over H,W and the 2-D pools (kernels/x86/
 * x86_kernels.h). A depthwise packer declines nodes outside its window
 * shape, so the first one that fits packs and runs. */
#if defined(__x86_64__)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX512, "f32-dwconv-3x3s1-avx512",
             kiln_f32_dwconv_3x3s1__avx512_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_3x3s1__avx512)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX512, "f32-dwconv-3x3s2-avx512",
             kiln_f32_dwconv_3x3s2__avx512_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_3x3s2__avx512)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX512, "f32-dwconv-5x5s1-avx512",
             kiln_f32_dwconv_5x5s1__avx512_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_5x5s1__avx512)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX512, "f32-dwconv-5x5s2-avx512",
             kiln_f32_dwconv_5x5s2__avx512_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_5x5s2__avx512)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX512, "f32-dwconv-generic-avx512",
             kiln_f32_dwconv_generic__avx512_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_generic__avx512)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX2, "f32-dwconv-3x3s1-avx2",
             kiln_f32_dwconv_3x3s1__avx2_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_3x3s1__avx2)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX2, "f32-dwconv-3x3s2-avx2",
             kiln_f32_dwconv_3x3s2__avx2_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_3x3s2__avx2)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX2, "f32-dwconv-5x5s1-avx2",
             kiln_f32_dwconv_5x5s1__avx2_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_5x5s1__avx2)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX2, "f32-dwconv-5x5s2-avx2",
             kiln_f32_dwconv_5x5s2__avx2_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_5x5s2__avx2)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_AVX2, "f32-dwconv-generic-avx2",
             kiln_f32_dwconv_generic__avx2_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_generic__avx2)
#endif
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_PORTABLE, "f32-dwconv-3x3-portable",
             kiln_f32_dwconv_3x3__portable_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_3x3__portable)
KILN_VARIANT(DEPTHWISE_CONV_2D, KILN_ISA_PORTABLE,
             "f32-dwconv-generic-portable",
             kiln_f32_dwconv_generic__portable_pack, kiln_f32_dwconv_applies,
             kiln_f32_dwconv_generic__portable)
/* int8 DEPTHWISE_CONV_2D (depth multiplier 1, weights' zero point 0) on
 * channel blocks packed at load (kernels/qdw/qdw.h); the float packers
 * above decline int8 nodes and these decline float ones. */
#define KILN_QDW_VARIANTS(isa_id, isa)                                       \
  KILN_VARIANT(DEPTHWISE_CONV_2D, isa_id, "q8-dwconv-3x3s1-" #isa,           \
               kiln_q8_dwconv_3x3s1__##isa##_pack, kiln_q8_dwconv_applies,   \
               kiln_q8_dwconv_3x3s1__##isa)                                  \
  KILN_VARIANT(DEPTHWISE_CONV_2D, isa_id, "q8-dwconv-3x3s2-" #isa,           \
               kiln_q8_dwconv_3x3s2__##isa##_pack, kiln_q8_dwconv_applies,   \
               kiln_q8_dwconv_3x3s2__##isa)                                  \
  KILN_VARIANT(DEPTHWISE_CONV_2D, isa_id, "q8-dwconv-5x5s1-" #isa,           \
               kiln_q8_dwconv_5x5s1__##isa##_pack, kiln_q8_dwconv_applies,   \
               kiln_q8_dwconv_5x5s1__##isa)                                  \
  KILN_VARIANT(DEPTHWISE_CONV_2D, isa_id, "q8-dwconv-5x5s2-" #isa,           \
               kiln_q8_dwconv_5x5s2__##isa##_pack, kiln_q8_dwconv_applies,   \
               kiln_q8_dwconv_5x5s2__##isa)                                  \
  KILN_VARIANT(DEPTHWISE_CONV_2D, isa_id, "q8-dwconv-generic-" #isa,         \
               kiln_q8_dwconv_generic__##isa##_pack, kiln_q8_dwconv_applies, \
               kiln_q8_dwconv_generic__##isa)
#if defined(__x86_64__)
KILN_QDW_VARIANTS(KILN_ISA_AVX512_VNNI, vnni)
KILN_QDW_VARIANTS(KILN_ISA_AVX512, avx512)
KILN_QDW_VARIANTS(KILN_ISA_AVX2, avx2)
#endif
KILN_QDW_VARIANTS(KILN_ISA_PORTABLE, portable)
#undef KILN_QDW_VARIANTS
/* The same twelve elementwise variants for each instruction set. */
#define KILN_EW_VARIANTS(isa_id, isa)                                          \
  KILN_VARIANT(ADD, isa_id, "f32-vadd-" #isa, NULL, kiln_f32_vbinary_applies,  \
               kiln_f32_vadd__##isa)                                           \
  KILN_VARIANT(SUB, isa_id, "f32-vsub-" #isa, NULL, kiln_f32_vbinary_applies,  \
               kiln_f32_vsub__##isa)                                           \
  KILN_VARIANT(MUL, isa_id, "f32-vmul-" #isa, NULL, kiln_f32_vbinary_applies,  \
               kiln_f32_vmul__##isa)                                           \
  KILN_VARIANT(RELU, isa_id, "f32-vrelu-" #isa, NULL, kiln_f32_vunary_applies, \
               kiln_f32_vrelu__##isa)                                          \
  KILN_VARIANT(RELU6, isa_id, "f32-vrelu6-" #isa, NULL,                        \
               kiln_f32_vunary_applies, kiln_f32_vrelu6__##isa)                \
  KILN_VARIANT(RELU_N1_TO_1, isa_id, "f32-vrelu-n1-to-1-" #isa, NULL,          \
               kiln_f32_vunary_applies, kiln_f32_vrelu_n1_to_1__##isa)         \
  KILN_VARIANT(LOGISTIC, isa_id, "f32-vsigmoid-" #isa, NULL,                   \
               kiln_f32_vunary_applies, kiln_f32_vsigmoid__##isa)              \
  KILN_VARIANT(TANH, isa_id, "f32-vtanh-" #isa, NULL, kiln_f32_vunary_applies, \
               kiln_f32_vtanh__##isa)                                          \
  KILN_VARIANT(HARD_SWISH, isa_id, "f32-vhswish-" #isa, NULL,                  \
               kiln_f32_vunary_applies, kiln_f32_vhswish__##isa)               \
  KILN_VARIANT(MEAN, isa_id, "f32-mean-hw-" #isa, NULL,                        \
               kiln_f32_mean_hw_applies, kiln_f32_mean_hw__##isa)              \
  KILN_VARIANT(AVERAGE_POOL_2D, isa_id, "f32-avgpool-" #isa, NULL,             \
               kiln_f32_pool_applies, kiln_f32_avgpool__##isa)                 \
  KILN_VARIANT(MAX_POOL_2D, isa_id, "f32-maxpool-" #isa, NULL,                 \
               kiln_f32_pool_applies, kiln_f32_maxpool__##isa)
#if defined(__x86_64__)
KILN_EW_VARIANTS(KILN_ISA_AVX512, avx512)
KILN_EW_VARIANTS(KILN_ISA_AVX2, avx2)
#endif
KILN_EW_VARIANTS(KILN_ISA_PORTABLE, portable)
#undef KILN_EW_VARIANTS
#if defined(__x86_64__)
KILN_VARIANT(BATCH_MATMUL, KILN_ISA_AVX512, "f32-bmm-gemm-12x32-avx512", NULL,
             kiln_bmm_gemm_applies_avx512, kiln_bmm_gemm_run_avx512)
KILN_VARIANT(BATCH_MATMUL, KILN_ISA_AVX2, "f32-bmm-gemm-6x16-avx2", NULL,
             kiln_bmm_gemm_applies_avx2, kiln_bmm_gemm_run_avx2)
#endif
KILN_VARIANT(BATCH_MATMUL, KILN_ISA_PORTABLE, "f32-bmm-gemm-4x8-portable", NULL,
             kiln_bmm_gemm_applies_portable, kiln_bmm_gemm_run_portable)
/* FUSED_BOTTLENECK: expand, 3x3 depthwise and project row by row in
 * per-thread scratch (kernels/bottleneck/bottleneck.h). */
#if defined(__x86_64__)
KILN_VARIANT_WS(FUSED_BOTTLENECK, KILN_ISA_AVX512,
                "f32-bottleneck-12x32-avx512", kiln_bottleneck_pack_avx512,
                kiln_bottleneck_applies_avx512, kiln_bottleneck_run_avx512,
                kiln_bottleneck_workspace_avx512)
KILN_VARIANT_WS(FUSED_BOTTLENECK, KILN_ISA_AVX2, "f32-bottleneck-6x16-avx2",
                kiln_bottleneck_pack_avx2, kiln_bottleneck_applies_avx2,
                kiln_bottleneck_run_avx2, kiln_bottleneck_workspace_avx2)
#endif
KILN_VARIANT_WS(FUSED_BOTTLENECK, KILN_ISA_PORTABLE,
                "f32-bottleneck-4x8-portable", kiln_bottleneck_pack_portable,
                kiln_bottleneck_applies_portable, kiln_bottleneck_run_portable,
                kiln_bottleneck_workspace_portable)
/* int8 FUSED_BOTTLENECK: the int8 GEMM and depthwise pieces on row bands in
 * per-thread scratch (kernels/bottleneck/qbottleneck.h). */
#if defined(__x86_64__)
KILN_VARIANT_WS(FUSED_BOTTLENECK, KILN_ISA_AVX512_VNNI,
                "q8-bottleneck-avx512vnni", kiln_qbottleneck_pack_avx512vnni,
                kiln_qbottleneck_applies_avx512vnni,
                kiln_qbottleneck_run_avx512vnni,
                kiln_qbottleneck_workspace_avx512vnni)
KILN_VARIANT_WS(FUSED_BOTTLENECK, KILN_ISA_AVX2, "q8-bottleneck-avx2",
                kiln_qbottleneck_pack_avx2, kiln_qbottleneck_applies_avx2,
                kiln_qbottleneck_run_avx2, kiln_qbottleneck_workspace_avx2)
#endif
KILN_VARIANT_WS(FUSED_BOTTLENECK, KILN_ISA_PORTABLE, "q8-bottleneck-portable",
                kiln_qbottleneck_pack_portable,
                kiln_qbottleneck_applies_portable,
                kiln_qbottleneck_run_portable,
                kiln_qbottleneck_workspace_portable)
/* Data movement, for every level (kernels/movement/movement_variants.h). */
KILN_VARIANT(PAD, KILN_ISA_PORTABLE, "pad-rows", NULL, kiln_pad_rows_applies,
             kiln_pad_rows)
KILN_VARIANT(PADV2, KILN_ISA_PORTABLE, "pad-rows", NULL, kiln_pad_rows_applies,
             kiln_pad_rows)
/* int8 LOGISTIC and TANH by a vector table lookup (kernels/qelem/qelem.h),
 * ahead of the scalar "q8-lut" below, whose packer would otherwise take
 * the node first. */
#if defined(__x86_64__)
KILN_VARIANT(LOGISTIC, KILN_ISA_AVX512, "q8-lut-avx512",
             kiln_q8_lut_pack_logistic_ref, kiln_q8_table_applies,
             kiln_q8_table_run_avx512)
KILN_VARIANT(TANH, KILN_ISA_AVX512, "q8-lut-avx512", kiln_q8_lut_pack_tanh_ref,
             kiln_q8_table_applies, kiln_q8_table_run_avx512)
KILN_VARIANT(LOGISTIC, KILN_ISA_AVX2, "q8-lut-avx2",
             kiln_q8_lut_pack_logistic_ref, kiln_q8_table_applies,
             kiln_q8_table_run_avx2)
KILN_VARIANT(TANH, KILN_ISA_AVX2, "q8-lut-avx2", kiln_q8_lut_pack_tanh_ref,
             kiln_q8_table_applies, kiln_q8_table_run_avx2)
#endif
/* Quantized nodes (kernels/quant/quant_variants.h): tables built at load. */
KILN_VARIANT(LOGISTIC, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_logistic,
             kiln_q8_lut_applies, kiln_q8_lut_run)
KILN_VARIANT(TANH, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_tanh,
             kiln_q8_lut_applies, kiln_q8_lut_run)
KILN_VARIANT(GELU, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_gelu,
             kiln_q8_lut_applies, kiln_q8_lut_run)
KILN_VARIANT(EXP, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_exp,
             kiln_q8_lut_applies, kiln_q8_lut_run)
KILN_VARIANT(LOG, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_log,
             kiln_q8_lut_applies, kiln_q8_lut_run)
KILN_VARIANT(RSQRT, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_rsqrt,
             kiln_q8_lut_applies, kiln_q8_lut_run)
KILN_VARIANT(ELU, KILN_ISA_PORTABLE, "q8-lut", kiln_q8_lut_pack_elu,
             kiln_q8_lut_applies, kiln_q8_lut_run)
/* int8 GEMM on weights packed at load with their requantization
 * (kernels/qgemm/qgemm.h): FULLY_CONNECTED, 1x1 and KxK CONV_2D. The
 * float packers above decline int8 weights, and these decline float. */
#define KILN_QGEMM_VARIANTS(isa_id, isa)                                     \
  KILN_VARIANT_WS(FULLY_CONNECTED, isa_id, "q8-gemm-fc-" #isa,               \
                  kiln_q8_fc_pack_##isa, kiln_q8_fc_applies, kiln_q8_fc_run, \
                  kiln_q8_fc_workspace)                                      \
  KILN_VARIANT_WS(CONV_2D, isa_id, "q8-conv1x1-gemm-" #isa,                  \
                  kiln_q8_conv1x1_pack_##isa, kiln_q8_conv1x1_applies,       \
                  kiln_q8_conv1x1_run, kiln_q8_conv_workspace)               \
  KILN_VARIANT_WS(CONV_2D, isa_id, "q8-conv-gemm-" #isa,                     \
                  kiln_q8_conv_pack_##isa, kiln_q8_conv_applies,             \
                  kiln_q8_conv_run, kiln_q8_conv_workspace)
#if defined(__x86_64__)
KILN_QGEMM_VARIANTS(KILN_ISA_AVX512_VNNI, avx512vnni)
KILN_QGEMM_VARIANTS(KILN_ISA_AVX2, avx2)
#endif
KILN_QGEMM_VARIANTS(KILN_ISA_PORTABLE, portable)
#undef KILN_QGEMM_VARIANTS
/* int8 BATCH_MATMUL on the same microkernels (kernels/qgemm/qbmm.c): y
 * packed at load when constant, else per batch at invoke into scratch. */
#define KILN_QBMM_VARIANTS(isa_id, isa)                        \
  KILN_VARIANT_WS(BATCH_MATMUL, isa_id, "q8-bmm-gemm-" #isa,   \
                  kiln_q8_bmm_pack_##isa, kiln_q8_bmm_applies, \
                  kiln_q8_bmm_run, kiln_q8_bmm_workspace)
#if defined(__x86_64__)
KILN_QBMM_VARIANTS(KILN_ISA_AVX512_VNNI, avx512vnni)
KILN_QBMM_VARIANTS(KILN_ISA_AVX2, avx2)
#endif
KILN_QBMM_VARIANTS(KILN_ISA_PORTABLE, portable)
#undef KILN_QBMM_VARIANTS
/* Hybrid (dynamic-range) FULLY_CONNECTED, CONV_2D and BATCH_MATMUL (y a
 * constant matrix), then DEPTHWISE_CONV_2D: float32 activations
 * quantized per row / image at invoke, int8 weights packed at load
 * (kernels/qhybrid/qhybrid.h); bit-identical to the reference. Their
 * packers take only float-activation, int8-weight nodes. */
#define KILN_QH_VARIANTS(isa_id, isa, tile)                                  \
  KILN_VARIANT_WS(FULLY_CONNECTED, isa_id, "qd8-f32-fc-gemm-" tile "-" #isa, \
                  kiln_qh_fc_pack_##isa, kiln_qh_fc_applies_##isa,           \
                  kiln_qh_fc_run_##isa, kiln_qh_fc_workspace_##isa)          \
  KILN_VARIANT_WS(CONV_2D, isa_id, "qd8-f32-conv-gemm-" tile "-" #isa,       \
                  kiln_qh_conv_pack_##isa, kiln_qh_conv_applies_##isa,       \
                  kiln_qh_conv_run_##isa, kiln_qh_conv_workspace_##isa)      \
  KILN_VARIANT_WS(BATCH_MATMUL, isa_id, "qd8-f32-bmm-gemm-" tile "-" #isa,   \
                  kiln_qh_bmm_pack_##isa, kiln_qh_bmm_applies_##isa,         \
                  kiln_qh_bmm_run_##isa, kiln_qh_bmm_workspace_##isa)
#if defined(__x86_64__)
KILN_QH_VARIANTS(KILN_ISA_AVX512_VNNI, vnni, "8x32")
KILN_QH_VARIANTS(KILN_ISA_AVX2, avx2, "4x8")
#endif
KILN_QH_VARIANTS(KILN_ISA_PORTABLE, portable, "4x8")
#undef KILN_QH_VARIANTS
#if defined(__x86_64__)
KILN_VARIANT_WS(DEPTHWISE_CONV_2D, KILN_ISA_AVX512, "qd8-f32-dwconv-avx512",
                kiln_qh_dw_pack_avx512, kiln_qh_dw_applies_avx512,
                kiln_qh_dw_run_avx512, kiln_qh_dw_workspace_avx512)
KILN_VARIANT_WS(DEPTHWISE_CONV_2D, KILN_ISA_AVX2, "qd8-f32-dwconv-avx2",
                kiln_qh_dw_pack_avx2, kiln_qh_dw_applies_avx2,
                kiln_qh_dw_run_avx2, kiln_qh_dw_workspace_avx2)
#endif
KILN_VARIANT_WS(DEPTHWISE_CONV_2D, KILN_ISA_PORTABLE, "qd8-f32-dwconv-portable",
                kiln_qh_dw_pack_portable, kiln_qh_dw_applies_portable,
                kiln_qh_dw_run_portable, kiln_qh_dw_workspace_portable)
/* int8 ADD, SUB, MUL, MEAN over H,W, the 2-D pools and table-driven unary ops
 * of the quantized zoo (kernels/qelem/qelem.h): equal to the reference int8
 * kernels. */
#if defined(__x86_64__)
KILN_VARIANT(ADD, KILN_ISA_AVX512, "q8-add-avx512", kiln_q8_add_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_avx512)
KILN_VARIANT(SUB, KILN_ISA_AVX512, "q8-sub-avx512", kiln_q8_sub_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_avx512)
KILN_VARIANT(MUL, KILN_ISA_AVX512, "q8-mul-avx512", kiln_q8_mul_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_avx512)
KILN_VARIANT(MEAN, KILN_ISA_AVX512, "q8-mean-hw-avx512", NULL,
             kiln_q8_mean_hw_applies, kiln_q8_mean_hw_run_avx512)
KILN_VARIANT(MAX_POOL_2D, KILN_ISA_AVX512, "q8-maxpool-avx512", NULL,
             kiln_q8_maxpool_applies, kiln_q8_maxpool_run_avx512)
KILN_VARIANT(AVERAGE_POOL_2D, KILN_ISA_AVX512, "q8-avgpool-avx512", NULL,
             kiln_q8_avgpool_applies, kiln_q8_avgpool_run_avx512)
KILN_VARIANT(ADD, KILN_ISA_AVX2, "q8-add-avx2", kiln_q8_add_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_avx2)
KILN_VARIANT(SUB, KILN_ISA_AVX2, "q8-sub-avx2", kiln_q8_sub_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_avx2)
KILN_VARIANT(MUL, KILN_ISA_AVX2, "q8-mul-avx2", kiln_q8_mul_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_avx2)
KILN_VARIANT(MEAN, KILN_ISA_AVX2, "q8-mean-hw-avx2", NULL,
             kiln_q8_mean_hw_applies, kiln_q8_mean_hw_run_avx2)
KILN_VARIANT(MAX_POOL_2D, KILN_ISA_AVX2, "q8-maxpool-avx2", NULL,
             kiln_q8_maxpool_applies, kiln_q8_maxpool_run_avx2)
KILN_VARIANT(AVERAGE_POOL_2D, KILN_ISA_AVX2, "q8-avgpool-avx2", NULL,
             kiln_q8_avgpool_applies, kiln_q8_avgpool_run_avx2)
#endif
KILN_VARIANT(ADD, KILN_ISA_PORTABLE, "q8-add-portable", kiln_q8_add_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_portable)
KILN_VARIANT(SUB, KILN_ISA_PORTABLE, "q8-sub-portable", kiln_q8_sub_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_portable)
KILN_VARIANT(MUL, KILN_ISA_PORTABLE, "q8-mul-portable", kiln_q8_mul_pack,
             kiln_q8_binary_applies, kiln_q8_binary_run_portable)
KILN_VARIANT(MEAN, KILN_ISA_PORTABLE, "q8-mean-hw-portable", NULL,
             kiln_q8_mean_hw_applies, kiln_q8_mean_hw_run_portable)
KILN_VARIANT(MAX_POOL_2D, KILN_ISA_PORTABLE, "q8-maxpool-portable", NULL,
             kiln_q8_maxpool_applies, kiln_q8_maxpool_run_portable)
KILN_VARIANT(AVERAGE_POOL_2D, KILN_ISA_PORTABLE, "q8-avgpool-portable", NULL,
             kiln_q8_avgpool_applies, kiln_q8_avgpool_run_portable)
#if defined(__x86_64__)
KILN_VARIANT(HARD_SWISH, KILN_ISA_AVX512, "q8-hardswish-lut-avx512",
             kiln_q8_hardswish_lut_pack, kiln_q8_table_applies,
             kiln_q8_table_run_avx512)
KILN_VARIANT(HARD_SWISH, KILN_ISA_AVX2, "q8-hardswish-lut-avx2",
             kiln_q8_hardswish_lut_pack, kiln_q8_table_applies,
             kiln_q8_table_run_avx2)
#endif
KILN_VARIANT(HARD_SWISH, KILN_ISA_PORTABLE, "q8-hardswish-lut",
             kiln_q8_hardswish_lut_pack, kiln_q8_table_applies,
             kiln_q8_table_run_portable)
KILN_VARIANT(SOFTMAX, KILN_ISA_PORTABLE, "q8-softmax-table",
             kiln_q8_softmax_pack, kiln_q8_softmax_applies, kiln_q8_softmax_run)
#if defined(__x86_64__)
KILN_VARIANT(QUANTIZE, KILN_ISA_AVX512, "q8-quantize-avx512", NULL,
             kiln_q8_quantize_applies, kiln_q8_quantize_run_avx512)
KILN_VARIANT(QUANTIZE, KILN_ISA_AVX2, "q8-quantize-avx2", NULL,
             kiln_q8_quantize_applies, kiln_q8_quantize_run_avx2)
#endif
KILN_VARIANT(QUANTIZE, KILN_ISA_PORTABLE, "q8-quantize-portable", NULL,
             kiln_q8_quantize_applies, kiln_q8_quantize_run_portable)
/* QUANT_LUT8 (passes/fuse_swish8.c): the node's table through qelem's
 * lookup micro-kernels (kernels/qelem/lut8.h). */
#if defined(__x86_64__)
KILN_VARIANT(QUANT_LUT8, KILN_ISA_AVX512, "q8-lut8-avx512", NULL,
             kiln_lut8_applies, kiln_lut8_run_avx512)
KILN_VARIANT(QUANT_LUT8, KILN_ISA_AVX2, "q8-lut8-avx2", NULL, kiln_lut8_applies,
             kiln_lut8_run_avx2)
#endif
KILN_VARIANT(QUANT_LUT8, KILN_ISA_PORTABLE, "q8-lut8-portable", NULL,
             kiln_lut8_applies, kiln_lut8_run_portable)
/* int8/uint8 CONCATENATION, int8 RESIZE_BILINEAR and 1-byte
 * RESIZE_NEAREST_NEIGHBOR (kernels/qelem/concat.c, resize.c): equal to the
 * reference kernels. */
#if defined(__x86_64__)
KILN_VARIANT(CONCATENATION, KILN_ISA_AVX512, "q8-concat-avx512", NULL,
             kiln_q8_concat_applies, kiln_q8_concat_run_avx512)
KILN_VARIANT(RESIZE_BILINEAR, KILN_ISA_AVX512, "q8-resize-bilinear-avx512",
             NULL, kiln_q8_resize_bilinear_applies,
             kiln_q8_resize_bilinear_run_avx512)
KILN_VARIANT(CONCATENATION, KILN_ISA_AVX2, "q8-concat-avx2", NULL,
             kiln_q8_concat_applies, kiln_q8_concat_run_avx2)
KILN_VARIANT(RESIZE_BILINEAR, KILN_ISA_AVX2, "q8-resize-bilinear-avx2", NULL,
             kiln_q8_resize_bilinear_applies, kiln_q8_resize_bilinear_run_avx2)
#endif
KILN_VARIANT(CONCATENATION, KILN_ISA_PORTABLE, "q8-concat-portable", NULL,
             kiln_q8_concat_applies, kiln_q8_concat_run_portable)
KILN_VARIANT(RESIZE_BILINEAR, KILN_ISA_PORTABLE, "q8-resize-bilinear-portable",
             NULL, kiln_q8_resize_bilinear_applies,
             kiln_q8_resize_bilinear_run_portable)
KILN_VARIANT(RESIZE_NEAREST_NEIGHBOR, KILN_ISA_PORTABLE,
             "q8-resize-nearest-portable", NULL, kiln_q8_resize_nearest_applies,
             kiln_q8_resize_nearest_run_portable)
