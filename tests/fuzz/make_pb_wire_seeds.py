"""Writes the seed corpus of fuzz_pb_wire (the protobuf wire reader) into
tests/fuzz/corpus/pb_wire/: small messages serialized by Google's protobuf
(well-known types, KServe's ModelInferRequest, TF Serving's
PredictRequest) and a few made by hand at the wire format's edges. The
seeds are committed; run this again after changing it:
    python3 tests/fuzz/make_pb_wire_seeds.py"""
import math
import os
import struct

from google.protobuf import descriptor_pb2, struct_pb2, wrappers_pb2

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                      "pb_wire")


def write(name, data):
    os.makedirs(FOLDER, exist_ok=True)
    with open(os.path.join(FOLDER, name), "wb") as f:
        f.write(data)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7f | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def key(number, wire_type):
    return varint(number << 3 | wire_type)


def google_seeds():
    write("struct_descriptor.pb", descriptor_pb2.FileDescriptorProto(
        name="s.proto", package="p", message_type=[
            descriptor_pb2.DescriptorProto(name="M", field=[
                descriptor_pb2.FieldDescriptorProto(
                    name="x", number=1, type=3, label=3,
                    options=descriptor_pb2.FieldOptions(packed=True))])])
          .SerializeToString())
    value = struct_pb2.Struct()
    value.update({"a": 1.5, "b": [True, None, "text", {"c": -0.0}],
                  "d": {"e": {"f": math.inf}}})
    write("struct.pb", value.SerializeToString())
    write("int64_minus_one.pb", wrappers_pb2.Int64Value(
        value=-1).SerializeToString())
    write("uint64_max.pb", wrappers_pb2.UInt64Value(
        value=2**64 - 1).SerializeToString())
    write("float_nan.pb", wrappers_pb2.FloatValue(
        value=math.nan).SerializeToString())
    write("bytes.pb", wrappers_pb2.BytesValue(
        value=bytes(range(200))).SerializeToString())


def serving_seeds():
    from tritonclient.grpc import service_pb2
    request = service_pb2.ModelInferRequest(model_name="m", id="1")
    request.parameters["priority"].int64_param = -3
    tensor = request.inputs.add(name="x", datatype="INT32", shape=[2, 2])
    tensor.contents.int_contents.extend([1, -1, 300, -70000])
    request.inputs.add(name="y", datatype="FP32", shape=[2])
    request.raw_input_contents.append(struct.pack("<2f", 0.5, -2.0))
    request.outputs.add(name="z")
    write("model_infer_request.pb", request.SerializeToString())

    from tensorflow_serving.apis import predict_pb2
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.version.value = 1
    x = request.inputs["x"]
    x.dtype = 1
    x.tensor_shape.dim.add(size=1)
    x.tensor_shape.dim.add(size=3)
    x.float_val.extend([1.0, -2.5, 3.25])
    request.inputs["s"].string_val.append(b"hello")
    request.output_filter.append("y")
    write("predict_request.pb", request.SerializeToString())


def handmade_seeds():
    # Packed varints of every length, in a nested message two deep.
    packed = b"".join(varint(v) for v in (0, 1, 127, 128, 2**35, 2**63,
                                          2**64 - 1))
    inner = key(4, 2) + varint(len(packed)) + packed + key(5, 5) + \
        struct.pack("<f", -0.0) + key(6, 1) + struct.pack("<d", 1e300)
    middle = key(2, 2) + varint(len(inner)) + inner + key(3, 0) + varint(1)
    write("nested_packed.pb", key(1, 2) + varint(len(middle)) + middle)
    # Keys at the field number's edges, one of them in overlong form.
    write("edge_keys.pb", key(2**29 - 1, 0) + varint(7) + key(16, 0) +
          varint(1) + b"\x88\x80\x80\x00" + varint(2))
    # Damaged: a group, a LEN past the end, an 11-byte varint.
    write("group.pb", key(1, 3) + key(1, 4))
    write("len_past_end.pb", key(1, 2) + varint(50) + b"abc")
    write("long_varint.pb", key(1, 0) + b"\xff" * 10 + b"\x01")


if __name__ == "__main__":
    google_seeds()
    handmade_seeds()
    serving_seeds()
