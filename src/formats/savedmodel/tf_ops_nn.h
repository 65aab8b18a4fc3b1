/* tf_ops_nn.h - converters of TensorFlow's convolutions, matrix products,
 * batch normalization and pooling (tf_ops_nn.c). */
#ifndef KILN_FORMATS_SAVEDMODEL_TF_OPS_NN_H
#define KILN_FORMATS_SAVEDMODEL_TF_OPS_NN_H

#include "formats/savedmodel/savedmodel_internal.h"

#define SM_CONVERTER(fn)                                                    \
  kiln_status *fn(sm_importer *im, const kiln_tf_node *n, const char *name, \
                  const sm_ref *in, int num_in, sm_ref *out)

SM_CONVERTER(sm_convert_conv2d);
SM_CONVERTER(sm_convert_depthwise);
SM_CONVERTER(sm_convert_conv2d_transpose);
SM_CONVERTER(sm_convert_matmul);
SM_CONVERTER(sm_convert_batch_matmul);
SM_CONVERTER(sm_convert_batch_norm);
SM_CONVERTER(sm_convert_pool);

#endif
