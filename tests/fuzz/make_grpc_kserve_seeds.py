"""Writes the seed corpus of fuzz_grpc_kserve into
tests/fuzz/corpus/grpc_kserve/: KServe v2 gRPC requests serialized by
tritonclient's own generated messages (tritonclient.grpc.service_pb2), as
tritonclient and perf_analyzer send them (raw_input_contents) and in the
typed InferTensorContents fields. The seeds are committed; run this again
after changing it:
    python3 tests/fuzz/make_grpc_kserve_seeds.py"""
import os

import numpy as np
from tritonclient.grpc import service_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDER = os.path.join(HERE, "corpus", "grpc_kserve")


def write(name, message):
    os.makedirs(FOLDER, exist_ok=True)
    with open(os.path.join(FOLDER, name), "wb") as f:
        f.write(message.SerializeToString())


def raw_request(model, tensors, outputs=(), version="", request_id=""):
    req = service_pb2.ModelInferRequest(model_name=model,
                                        model_version=version, id=request_id)
    for name, value in tensors.items():
        dtype = {np.float32: "FP32", np.float16: "FP16", np.int8: "INT8",
                 np.uint8: "UINT8", np.int64: "INT64", np.bool_: "BOOL",
                 np.float64: "FP64"}[value.dtype.type]
        req.inputs.add(name=name, datatype=dtype, shape=value.shape)
        req.raw_input_contents.append(value.tobytes())
    for name in outputs:
        req.outputs.add(name=name)
    return req


def main():
    rng = np.random.default_rng(7)
    write("infer_raw_mlp", raw_request(
        "mlp", {"features": rng.standard_normal((2, 16), np.float32)},
        request_id="seed-1"))
    write("infer_raw_two_outputs", raw_request(
        "two", {"features": rng.standard_normal((1, 16), np.float32),
                "patch": rng.standard_normal((1, 8, 8, 3), np.float32)},
        outputs=["raw scores"], version="1"))
    write("infer_raw_fp16", raw_request(
        "fp16", {"half": rng.standard_normal((3, 4)).astype(np.float16)}))
    write("infer_raw_types", raw_request("m", {
        "a": np.array([[1, -2, 3]], np.int8),
        "b": np.array([7, 255], np.uint8),
        "c": np.array([1 << 40], np.int64),
        "d": np.array([True, False]),
        "e": np.array([0.5], np.float64)}))
    write("infer_zero_rows", raw_request(
        "mlp", {"features": np.zeros((0, 16), np.float32)}))

    typed = service_pb2.ModelInferRequest(model_name="mlp", id="typed")
    t = typed.inputs.add(name="features", datatype="FP32", shape=[1, 4])
    t.contents.fp32_contents.extend([0.25, -1.5, 3.0, float("inf")])
    t = typed.inputs.add(name="ids", datatype="INT32", shape=[3])
    t.contents.int_contents.extend([-1, 0, 2147483647])
    t = typed.inputs.add(name="big", datatype="UINT64", shape=[2])
    t.contents.uint64_contents.extend([0, (1 << 64) - 1])
    t = typed.inputs.add(name="flags", datatype="BOOL", shape=[2])
    t.contents.bool_contents.extend([True, False])
    t = typed.inputs.add(name="wide", datatype="FP64", shape=[1])
    t.contents.fp64_contents.append(1e300)
    typed.parameters["timeout"].int64_param = 2000
    typed.outputs.add(name="output_0").parameters[
        "binary_data"].bool_param = True
    write("infer_typed_contents", typed)

    huge = service_pb2.ModelInferRequest(model_name="mlp")
    huge.inputs.add(name="features", datatype="FP32", shape=[1 << 40, 16])
    huge.raw_input_contents.append(b"abcd")
    write("infer_huge_shape", huge)

    write("model_ready", service_pb2.ModelReadyRequest(name="mlp",
                                                       version="1"))
    write("model_metadata", service_pb2.ModelMetadataRequest(name="two"))
    write("model_config", service_pb2.ModelConfigRequest(name="two",
                                                         version="1"))
    write("model_statistics", service_pb2.ModelStatisticsRequest(name=""))
    write("repository_index", service_pb2.RepositoryIndexRequest(ready=True))
    load = service_pb2.RepositoryModelLoadRequest(model_name="extra")
    load.parameters["base_path"].string_param = "/models/extra"
    write("repository_load", load)
    write("repository_unload",
          service_pb2.RepositoryModelUnloadRequest(model_name="mlp"))


if __name__ == "__main__":
    main()
