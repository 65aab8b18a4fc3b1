/* variant_list.h - THE list of optimized kernel variants, best first for
 * each op. KILN_VARIANT(op, isa, name, pack, applies, run); a NULL pack
 * means the variant reads weights as they are. Declarations of the named
 * functions live in the variant's own header under src/kernels/x86/ or
 * src/kernels/portable/, included by variants.c. */
