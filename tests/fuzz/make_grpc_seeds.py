"""Writes the seed corpus of fuzz_grpc_tfs into tests/fuzz/corpus/grpc_tfs/:
PredictRequests (and status and metadata requests) serialized by TF
Serving's own Python client (tensorflow-serving-api), with tensors from
tf.make_tensor_proto in every dtype kiln serves, as tensor_content and in
typed fields. The seeds are committed; run this again after changing it:
    python3 tests/fuzz/make_grpc_seeds.py"""
import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2,
                                     get_model_status_pb2, predict_pb2)

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDER = os.path.join(HERE, "corpus", "grpc_tfs")


def write(name, message):
    os.makedirs(FOLDER, exist_ok=True)
    with open(os.path.join(FOLDER, name), "wb") as f:
        f.write(message.SerializeToString())


def predict(model, inputs, version=None, label=None, filters=()):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(value)
    request.output_filter.extend(filters)
    return request


def main():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 16)).astype(np.float32)
    write("mlp.bin", predict("mlp", {"features": tf.make_tensor_proto(x)},
                             version=1))
    write("label_filter.bin", predict(
        "two", {"features": tf.make_tensor_proto(x[:1]),
                "patch": tf.make_tensor_proto(rng.uniform(
                    -1, 1, (1, 2, 2, 3)).astype(np.float32))},
        label="stable", filters=["out"]))
    for dtype in (np.float64, np.int8, np.int16, np.int32, np.int64,
                  np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
                  np.float16):
        name = np.dtype(dtype).name
        values = (rng.integers(0, 2, (2, 3)) if dtype == np.bool_
                  else rng.uniform(0, 100, (2, 3))).astype(dtype)
        write(f"{name}_content.bin", predict(
            "dtypes", {name: tf.make_tensor_proto(values)}))
        write(f"{name}_typed.bin", predict(
            "dtypes", {name: tf.make_tensor_proto(values.ravel()[0],
                                                  shape=[2, 3])}))
    listed = predict("mlp", {})
    t = listed.inputs["features"]
    t.dtype = tf.float32.as_datatype_enum
    t.tensor_shape.CopyFrom(tf.TensorShape([2, 16]).as_proto())
    t.float_val.extend(x.ravel().tolist())
    write("float_val.bin", listed)
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "mlp"
    status.model_spec.version.value = 2
    write("status.bin", status)
    metadata = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata.model_spec.name = "mlp"
    metadata.metadata_field.append("signature_def")
    write("metadata.bin", metadata)


if __name__ == "__main__":
    main()
