"""Writes the seed corpora of the server's fuzz targets (pbtxt,
tensor_json, serve_request) into tests/fuzz/corpus/NAME/. The seeds are
committed; run this again after changing it:
    python3 tests/fuzz/make_seeds.py"""
import base64
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def pbtxt_seeds():
    write("pbtxt", "model_config_list.pbtxt", """\
# TF Serving's --model_config_file
model_config_list {
  config {
    name: 'mnist'
    base_path: "/models/mnist"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 3 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 3 }
  }
  config: {
    name: "resnet"; base_path: "/models/res\\x6eet\\n",
    model_version_policy: { latest: { num_versions: 2 } }
  }
}
""")
    write("pbtxt", "batching.pbtxt", """\
max_batch_size { value: 8 }
batch_timeout_micros { value: 1000 }
max_enqueued_batches { value: 4 }
num_batch_threads { value: 2 }
allowed_batch_sizes: 2
allowed_batch_sizes: 4
allowed_batch_sizes: 8
pad_variable_length_inputs: true
""")
    write("pbtxt", "batching_list.pbtxt",
          "max_batch_size: 16 allowed_batch_sizes: [1, 4, 16]\n")
    write("pbtxt", "monitoring.pbtxt", """\
prometheus_config {
  enable: true,
  path: '/monitoring/prometheus/metrics'
}
""")
    write("pbtxt", "nested.pbtxt",
          "a < b { c: [{ d: 0x10 }, { d: -7 }] e: 'x' \"y\" } >\n")


def tensor_json_seeds():
    # byte 0: dtype (FP32 FP64 INT8 UINT8 INT16 INT32 INT64 BOOL FP16 -),
    # byte 1: form (0 nested, 1 flat, 2 b64); flat and b64: rank, dims.
    write("tensor_json", "fp32_nested", b"\x00\x00[[1.5, 2], [3, -4e-3]]")
    write("tensor_json", "fp64_nested", b"\x01\x00[0.1, -0.0, 1e308, 5]")
    write("tensor_json", "int8_nested", b"\x02\x00[[-128, 127], [0, 1]]")
    write("tensor_json", "int64_nested",
          b"\x06\x00[9223372036854775807, -9223372036854775808]")
    write("tensor_json", "bool_nested", b"\x07\x00[[true, false]]")
    write("tensor_json", "scalar", b"\x05\x00" b"42")
    write("tensor_json", "fp32_flat", b"\x00\x01\x02\x02\x03[1,2,3,4,5,6]")
    write("tensor_json", "int16_flat_nested",
          b"\x04\x01\x02\x03\x02[[1,2],[3,4],[5,6]]")
    write("tensor_json", "uint8_b64", b"\x03\x02\x01\x03" b"AQID")
    write("tensor_json", "fp32_b64",
          b"\x00\x02\x01\x02" + base64.b64encode(struct.pack("<2f", 1.5, -2)))
    write("tensor_json", "urlsafe_b64", b"\x03\x02\x01\x03" b"-_-_")


def request(method, path, body=b"", headers=()):
    head = f"{method} {path}\n" + "".join(f"{k}: {v}\n" for k, v in headers)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return head.encode() + b"\n" + body


def kserve_binary(inputs, outputs=None, params=None):
    """A KServe v2 body with the binary extension: inputs are (name,
    datatype, shape, struct format, values, binary)."""
    header = {"inputs": []}
    blobs = b""
    for name, dtype, shape, fmt, values, binary in inputs:
        entry = {"name": name, "datatype": dtype, "shape": shape}
        if binary:
            blob = struct.pack("<%d%s" % (len(values), fmt), *values)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs += blob
        else:
            entry["data"] = values
        header["inputs"].append(entry)
    if outputs is not None:
        header["outputs"] = outputs
    if params is not None:
        header["parameters"] = params
    text = json.dumps(header).encode()
    return text + blobs, len(text)


def serve_request_seeds():
    pixels = [[[0.1 * (i + j + c) for c in range(2)] for j in range(6)]
              for i in range(6)]
    flat = [v for row in pixels for px in row for v in px]
    w = lambda name, *args, **kw: write("serve_request", name,
                                        request(*args, **kw))
    w("tfs_row_cnn", "POST", "/v1/models/cnn:predict",
      {"instances": [pixels, pixels]})
    w("tfs_columns_cnn", "POST", "/v1/models/cnn/versions/1:predict",
      {"signature_name": "serving_default", "inputs": [pixels]})
    raw = base64.b64encode(struct.pack("<72f", *flat)).decode()
    w("tfs_b64_cnn", "POST", "/v1/models/cnn:predict",
      {"instances": [{"b64": raw}]})
    w("tfs_columns_b64_cnn", "POST", "/v1/models/cnn:predict",
      {"inputs": {"b64": base64.b64encode(
          struct.pack("<144f", *(flat * 2))).decode()}})
    w("tfs_row_mlp", "POST", "/v1/models/mlp/labels/stable:predict",
      {"instances": [{"features": [1, 2, 3], "ids": [1, 2]},
                     {"features": [0, -1, 0.5], "ids": [9, 0]}]})
    w("tfs_columns_mlp", "POST", "/v1/models/mlp:predict",
      {"inputs": {"features": [[1, 2, 3]], "ids": [[0, 9]]}},
      headers=[("X-Fuzz-Copies", "4")])
    w("tfs_bad_id_mlp", "POST", "/v1/models/mlp:predict",
      {"inputs": {"features": [[1, 2, 3]], "ids": [[0, 10]]}})
    w("tfs_status", "GET", "/v1/models/cnn")
    w("tfs_status_version", "GET", "/v1/models/mlp/versions/1")
    w("tfs_status_label", "GET", "/v1/models/mlp/labels/stable")
    w("tfs_metadata", "GET", "/v1/models/mlp/metadata")
    w("tfs_list", "GET", "/v1/models")
    w("tfs_classify", "POST", "/v1/models/cnn:classify", {"examples": []})
    w("kserve_json_cnn", "POST", "/v2/models/cnn/infer",
      {"id": "r1", "inputs": [{"name": "pixels", "shape": [1, 6, 6, 2],
                               "datatype": "FP32", "data": flat}]},
      headers=[("X-Request-Timeout-Ms", "1000")])
    body, n = kserve_binary(
        [("pixels", "FP32", [1, 6, 6, 2], "f", flat, True)],
        params={"binary_data_output": True})
    w("kserve_binary_cnn", "POST", "/v2/models/cnn/infer", body,
      headers=[("Inference-Header-Content-Length", str(n))])
    body, n = kserve_binary(
        [("features", "FP32", [2, 3], "f", [1, 2, 3, 4, 5, 6], True),
         ("ids", "INT32", [2, 2], "i", [1, 2, 3, 4], False)],
        outputs=[{"name": "output_1", "parameters": {"binary_data": True}},
                 {"name": "output_0"}])
    w("kserve_mixed_mlp", "POST", "/v2/models/mlp/versions/1/infer", body,
      headers=[("Inference-Header-Content-Length", str(n)),
               ("X-Fuzz-Copies", "3")])
    body, n = kserve_binary(
        [("pixels", "FP32", [1, 6, 6, 2], "f",
          [float("nan"), float("inf")] + flat[2:], True)])
    w("kserve_binary_nan_cnn", "POST", "/v2/models/cnn/infer", body,
      headers=[("Inference-Header-Content-Length", str(n))])
    w("kserve_json_mlp", "POST", "/v2/models/mlp/infer",
      {"inputs": [{"name": "ids", "shape": [1, 2], "datatype": "INT32",
                   "data": [[3, 4]]},
                  {"name": "features", "shape": [1, 3], "datatype": "FP32",
                   "data": [0.5, 0.25, -1]}],
       "parameters": {"timeout": 500000}})
    w("kserve_metadata", "GET", "/v2/models/mlp")
    w("kserve_config", "GET", "/v2/models/mlp/config")
    w("kserve_ready", "GET", "/v2/models/cnn/versions/1/ready")
    w("kserve_stats", "GET", "/v2/models/stats")
    w("kserve_model_stats", "GET", "/v2/models/cnn/stats")
    w("kserve_server", "GET", "/v2")
    w("kserve_health", "GET", "/v2/health/ready")
    w("kserve_index", "POST", "/v2/repository/index")
    w("metrics", "GET", "/metrics")
    w("prometheus", "GET", "/monitoring/prometheus/metrics")


if __name__ == "__main__":
    pbtxt_seeds()
    tensor_json_seeds()
    serve_request_seeds()
