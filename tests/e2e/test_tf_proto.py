"""kiln's saved_model.pb reader (src/formats/savedmodel/tf_proto) against
TensorFlow's own Python protobuf classes, on SavedModels TensorFlow writes
at test time: a tf.Module with two signatures (different input names,
dtypes and shapes, one with a dynamic batch) whose functions hold constants
of many dtypes (float16, bfloat16, int64, bool, ... and uniform tensors
TensorFlow stores as one value plus a shape), and a small Keras model
exported with model.export. The C side is the unit test binary
test_tf_proto, built next to kiln: `--dump PATH` prints what kiln reads as
JSON (signatures, op histogram, functions, every Const's decoded dtype,
shape and FNV-1a hash of its bytes); the same summary is built here with
saved_model_pb2 and tf.make_ndarray and must be equal. Damaged files must
give a clear error."""
import collections
import json
import os
import subprocess

import numpy as np
import pytest

import kiln_e2e as K

tf = pytest.importorskip("tensorflow")
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402

SEED = int(os.environ.get("KILN_E2E_SEED", "20261207"))
TIMEOUT = 120

# TensorFlow DataType code -> the kiln dtype kiln decodes it to (bfloat16
# is widened to float32); other codes (resource, variant ...) must be
# refused with an error.
KILN_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8",
               5: "int16", 6: "int8", 8: "complex64", 9: "int64", 10: "bool",
               14: "float32", 17: "uint16", 19: "float16", 22: "uint32",
               23: "uint64"}
DT_STRING, DT_BFLOAT16 = 7, 14


def fnv1a(data: bytes) -> str:
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def text(s) -> str:
    """A proto string or bytes as kiln's JSON writes it (bytes as
    latin-1)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return s.decode("latin-1")


def shape_of(proto):
    if proto.unknown_rank:
        return None
    return [d.size for d in proto.dim]


def tensor_info(info):
    return {"name": text(info.name), "dtype": info.dtype,
            "shape": shape_of(info.tensor_shape)
            if info.HasField("tensor_shape") else "none"}


def fn_args(args):
    return [{"name": text(a.name), "type": a.type,
             "type_attr": text(a.type_attr),
             "number_attr": text(a.number_attr),
             "type_list_attr": text(a.type_list_attr)} for a in args]


def const_summary(where, node):
    out = {"where": text(where), "node": text(node.name)}
    tensor = node.attr["value"].tensor
    code = tensor.dtype % 100
    if code == DT_STRING:
        values = tf.make_ndarray(tensor).reshape(-1)
        data = b"".join(len(v).to_bytes(8, "little") + v for v in values)
        out.update(dtype="string", shape=shape_of(tensor.tensor_shape),
                   hash=fnv1a(data))
    elif code in KILN_DTYPES:
        array = tf.make_ndarray(tensor)
        if code == DT_BFLOAT16:
            array = array.astype(np.float32)
        out.update(dtype=KILN_DTYPES[code], shape=list(array.shape),
                   hash=fnv1a(np.ascontiguousarray(array).tobytes()))
    else:
        out["error"] = code  # only its presence is compared
    return out


def expected_summary(path):
    model = saved_model_pb2.SavedModel()
    model.ParseFromString(path.read_bytes())
    serving = [i for i, mg in enumerate(model.meta_graphs)
               if "serve" in mg.meta_info_def.tags]
    graphs = []
    for mg in model.meta_graphs:
        graph = mg.graph_def
        consts = [const_summary("", n) for n in graph.node if n.op == "Const"]
        functions = {}
        for fn in graph.library.function:
            functions[text(fn.signature.name)] = {
                "inputs": fn_args(fn.signature.input_arg),
                "outputs": fn_args(fn.signature.output_arg),
                "node_count": len(fn.node_def), "attr_count": len(fn.attr),
                "ret": {text(k): text(v) for k, v in fn.ret.items()}}
            consts += [const_summary(fn.signature.name, n)
                       for n in fn.node_def if n.op == "Const"]
        graphs.append({
            "tags": [text(t) for t in mg.meta_info_def.tags],
            "signatures": {text(k): {
                "method_name": text(s.method_name),
                "inputs": {text(i): tensor_info(v)
                           for i, v in s.inputs.items()},
                "outputs": {text(o): tensor_info(v)
                            for o, v in s.outputs.items()}}
                for k, s in mg.signature_def.items()},
            "node_count": len(graph.node),
            "producer": graph.versions.producer,
            "ops": dict(collections.Counter(text(n.op) for n in graph.node)),
            "functions": functions,
            "consts": consts})
    return {"schema_version": model.saved_model_schema_version,
            "serving": serving[0] if serving else 0, "meta_graphs": graphs}


@pytest.fixture(scope="module")
def dump_tool():
    path = K.kiln_binary().parent / "test_tf_proto"
    if not path.is_file():
        pytest.fail(f"{path} not found: build the unit tests "
                    f"(cmake --build build)", pytrace=False)
    return path


def kiln_dump(tool, path):
    result = subprocess.run([str(tool), "--dump", str(path)],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def normalize_consts(summary):
    """Consts keyed by (function, node); an error's text is kiln's, so only
    its presence is compared."""
    for mg in summary["meta_graphs"]:
        consts = {}
        for c in mg["consts"]:
            if "error" in c:
                c["error"] = True
            consts[(c["where"], c["node"])] = c
        mg["consts"] = consts
    return summary


def compare(tool, saved_model_dir):
    path = saved_model_dir / "saved_model.pb"
    got = kiln_dump(tool, path)
    assert "error" not in got, got["error"]
    want = expected_summary(path)
    got, want = normalize_consts(got), normalize_consts(want)
    for g, w in zip(got["meta_graphs"], want["meta_graphs"]):
        for key in w:
            if key != "consts":
                assert g[key] == w[key], key
        assert g["consts"].keys() == w["consts"].keys()
        for name, c in w["consts"].items():
            assert g["consts"][name] == c, name
    assert got == want
    return got


class Constants(tf.Module):
    """Two signatures whose bodies hold constants of many dtypes and
    forms."""

    def __init__(self, rng):
        super().__init__()
        self.w = tf.Variable(rng.normal(size=(3, 4)).astype(np.float32))
        r = rng
        self.c = {
            "f32": r.normal(size=4).astype(np.float32),
            "f16": r.normal(size=(2, 4)).astype(np.float16),
            "f64": r.normal(size=3),
            "i64": r.integers(-2**60, 2**60, size=5),
            "i8": r.integers(-128, 128, size=6).astype(np.int8),
            "u8": r.integers(0, 256, size=6).astype(np.uint8),
            "i16": r.integers(-2**15, 2**15, size=3).astype(np.int16),
            "u16": r.integers(0, 2**16, size=3).astype(np.uint16),
            "u32": r.integers(0, 2**32, size=3).astype(np.uint32),
            "u64": r.integers(0, 2**63, size=3).astype(np.uint64),
            "mask": r.integers(0, 2, size=4).astype(bool),
            "grid": r.integers(-9, 9, size=(2, 2)).astype(np.int32),
            "scalar": float(r.normal()),
            "bf16": r.normal(size=3).astype(np.float32),
        }

    @tf.function(input_signature=[
        tf.TensorSpec([None, 3], tf.float32, name="features")])
    def predict(self, features):
        c = self.c
        h = tf.matmul(features, self.w) + tf.constant(c["f32"])
        # uniform tensors: one value and a shape in the proto
        h = h * tf.constant(c["scalar"], shape=[4], dtype=tf.float32)
        h16 = tf.cast(h[:, :4], tf.float16) * tf.constant(c["f16"][0])
        h16 = h16 + tf.reduce_sum(tf.constant(c["f16"]), axis=0)
        mask = tf.constant(c["mask"])
        bf = tf.reduce_sum(tf.cast(tf.constant(c["bf16"], tf.bfloat16),
                                   tf.float32))
        # scalars and uniform tensors of 16-bit floats: half_val
        bf += tf.cast(tf.constant(c["scalar"], tf.bfloat16), tf.float32)
        h16 += tf.constant(c["scalar"], tf.float16, shape=[4])
        out = tf.where(mask, tf.cast(h16, tf.float32), bf)
        return {"scores": out,
                "zeros": tf.constant(0, tf.int64, shape=[2, 3]),
                "flag": tf.constant(True),
                "name": tf.constant(["kiln", "tf"])}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.int64, name="ids"),
        tf.TensorSpec([2, 2], tf.int32, name="grid")])
    def lookup(self, ids, grid):
        c = self.c
        total = tf.reduce_sum(tf.constant(c["i64"]))
        small = tf.reduce_sum(tf.cast(tf.constant(c["i8"]), tf.int64))
        small += tf.reduce_sum(tf.cast(tf.constant(c["u8"]), tf.int64))
        small += tf.reduce_sum(tf.cast(tf.constant(c["i16"]), tf.int64))
        small += tf.reduce_sum(tf.cast(tf.constant(c["u16"]), tf.int64))
        small += tf.reduce_sum(tf.cast(tf.constant(c["u32"]), tf.int64))
        big = tf.reduce_sum(tf.constant(c["u64"]))
        g = grid * tf.constant(c["grid"]) + tf.constant(7, tf.int32,
                                                        shape=[2, 2])
        return {"ids_out": ids + total + small,
                "grid_out": g,
                "big": big,
                "f64": tf.constant(c["f64"]) * 2.0}


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    rng = np.random.default_rng(SEED)
    root = tmp_path_factory.mktemp("tf_proto")
    module = Constants(rng)
    module_dir = root / "module"
    tf.saved_model.save(module, str(module_dir), signatures={
        "predict": module.predict, "lookup": module.lookup})
    keras = pytest.importorskip("keras")
    tf.keras.utils.set_random_seed(SEED % 2**31)
    model = keras.Sequential([
        keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
        keras.layers.Dense(2)])
    keras_dir = root / "keras"
    model.export(str(keras_dir), verbose=False)
    return {"module": module_dir, "keras": keras_dir}


def test_module_signatures_and_constants(dump_tool, saved_models):
    got = compare(dump_tool, saved_models["module"])
    serving = got["meta_graphs"][got["serving"]]
    assert serving["tags"] == ["serve"]
    sigs = serving["signatures"]
    assert sigs["predict"]["inputs"]["features"]["shape"] == [-1, 3]
    assert sigs["predict"]["inputs"]["features"]["dtype"] == 1
    assert sigs["lookup"]["inputs"]["ids"]["dtype"] == 9
    assert sigs["lookup"]["inputs"]["grid"]["shape"] == [2, 2]
    # the constants above all reached the comparison, each dtype decoded
    dtypes = collections.Counter(c["dtype"] for c in serving["consts"].values()
                                 if "dtype" in c)
    for name in ("float32", "float16", "float64", "int64", "int8", "uint8",
                 "int16", "uint16", "uint32", "uint64", "bool", "int32",
                 "string"):
        assert dtypes[name] > 0, (name, dtypes)
    assert len(serving["functions"]) >= 2


def test_keras_export(dump_tool, saved_models):
    got = compare(dump_tool, saved_models["keras"])
    serving = got["meta_graphs"][got["serving"]]
    assert "serve" in serving["signatures"] or \
        "serving_default" in serving["signatures"]
    assert serving["functions"]


def test_damaged_files(dump_tool, saved_models, tmp_path):
    data = (saved_models["module"] / "saved_model.pb").read_bytes()
    rng = np.random.default_rng(SEED + 1)
    cases = {"truncated": data[:len(data) // 2],
             "random": rng.integers(0, 256, size=4096,
                                    dtype=np.uint8).tobytes(),
             "empty": b""}
    for name, content in cases.items():
        path = tmp_path / f"{name}.pb"
        path.write_bytes(content)
        got = kiln_dump(dump_tool, path)
        assert "error" in got, name
        assert got["error"].startswith("saved_model.pb: "), got["error"]
        if name != "empty":
            assert "byte offset" in got["error"], got["error"]
