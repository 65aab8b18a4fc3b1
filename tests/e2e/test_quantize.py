"""End-to-end tests of `kiln quantize`: small Keras models (a CNN, and an
MLP with ADD, CONCATENATION, LOGISTIC and SOFTMAX) converted to float
.tflite, quantized by kiln in each mode on random calibration data, then
run by LiteRT and by kiln on fresh inputs. kiln and LiteRT must agree
(within one output step for the integer modes, 1e-5 relative for the float
ones), and the error of kiln's model against the float one must be no
worse than 1.5x that of TensorFlow's converter given the same calibration
samples (both printed). Bad input (calibration of the wrong name, shape or
dtype, NaN, an empty folder, int8 without calibration, unknown mode or
method, a model with nothing to quantize) fails clearly and writes
nothing.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e

CAL_SAMPLES = 16
TEST_SAMPLES = 8
MODES = ["int8", "int16x8", "dynamic", "float16"]


def _build(kind):
    import tensorflow as tf
    tf.keras.utils.set_random_seed(5)
    L = tf.keras.layers
    if kind == "cnn":
        inp = tf.keras.Input((12, 12, 3), batch_size=1, name="image")
        x = L.Conv2D(16, 3, padding="same", activation="relu")(inp)
        x = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
        a = L.MaxPooling2D(2)(x)
        b = L.AveragePooling2D(2)(x)
        x = L.Concatenate()([a, b])
        x = L.Conv2D(16, 1)(x)
        x = L.Flatten()(x)
        out = L.Dense(10, activation="softmax")(x)
    else:
        inp = tf.keras.Input((48,), batch_size=1, name="features")
        h = L.Dense(64, activation="relu")(inp)
        g = L.Dense(64, activation="sigmoid")(h)
        t = L.Dense(64, activation="tanh")(h)
        x = L.Add()([h, g])
        x = L.Multiply()([x, t])
        x = L.Concatenate()([x, h])
        out = L.Dense(8, activation="softmax")(x)
    return tf.keras.Model(inp, out)


def _tf_convert(model, mode, samples):
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode in ("int8", "int16x8"):
        def representative():
            for s in samples:
                yield [s[None]]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8" else
            tf.lite.OpsSet.
            EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    elif mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    return conv.convert()


class Case:
    """A model: its float file, calibration .npz, test inputs, and TF's
    quantized variants."""

    def __init__(self, kind, root: Path):
        import tensorflow as tf
        self.kind = kind
        self.dir = root / kind
        self.dir.mkdir()
        model = _build(kind)
        self.float_path = self.dir / "float.tflite"
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        self.float_path.write_bytes(conv.convert())
        inputs, _ = kiln_e2e.signature(self.float_path)
        self.input = inputs[0]
        shape = self.input.shape[1:]
        rng = np.random.default_rng(17)
        self.cal = rng.uniform(-1, 1, (CAL_SAMPLES,) + shape).astype(
            np.float32)
        self.cal_path = self.dir / "cal.npz"
        np.savez(self.cal_path, **{self.input.name: self.cal})
        self.test = rng.uniform(-1, 1, (TEST_SAMPLES, 1) + shape).astype(
            np.float32)
        self.tf_paths = {}
        for mode in MODES:
            path = self.dir / f"tf_{mode}.tflite"
            path.write_bytes(_tf_convert(model, mode, self.cal))
            self.tf_paths[mode] = path

    def litert(self, path):
        return np.stack([
            next(iter(kiln_e2e.run_litert(
                path, {self.input.name: x}).values()))
            for x in self.test])


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("quantize")
    return {kind: Case(kind, root) for kind in ("cnn", "mlp")}


def quantize(case, mode, out, *extra):
    args = ["quantize", case.float_path, "-o", out, "--mode", mode]
    if mode in ("int8", "int16x8"):
        args += ["--calibration", case.cal_path]
    return kiln_e2e.run_kiln_command(list(args) + list(extra))


def rel_error(q, f):
    return float(np.linalg.norm(q - f) / np.linalg.norm(f))


def output_step(path):
    """The scale of the integer tensor the model's DEQUANTIZE reads."""
    interp = kiln_e2e._interpreter(path)
    out_index = interp.get_output_details()[0]["index"]
    details = {t["index"]: t for t in interp.get_tensor_details()}
    for op in interp._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and out_index in op["outputs"]:
            return float(details[op["inputs"][0]]["quantization"][0])
    raise AssertionError(f"{path}: no DEQUANTIZE produces the output")


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
@pytest.mark.parametrize("mode", MODES)
def test_quantize_against_litert_and_tf(cases, kind, mode, tmp_path):
    case = cases[kind]
    out = tmp_path / "q.tflite"
    result = quantize(case, mode, out)
    assert result.returncode == 0, result.stderr
    assert "->" in result.stdout and "x)" in result.stdout, result.stdout
    assert out.stat().st_size < case.float_path.stat().st_size
    float_out = case.litert(case.float_path)
    ours = case.litert(out)
    theirs = case.litert(case.tf_paths[mode])
    kiln_out = []
    for i, x in enumerate(case.test):
        arrays, _ = kiln_e2e.run_kiln(out, {case.input.name: x},
                                      tmp_path / f"run{i}")
        kiln_out.append(next(iter(arrays.values())))
    kiln_out = np.stack(kiln_out)
    if mode in ("int8", "int16x8"):
        step = output_step(out)
        diff = float(np.max(np.abs(kiln_out - ours)))
        assert diff <= step * 1.0001, (
            f"kiln and LiteRT differ by {diff / step:.2f} output steps")
    else:
        assert kiln_e2e.max_rel_error(kiln_out, ours) <= 1e-5
    e_kiln, e_tf = rel_error(ours, float_out), rel_error(theirs, float_out)
    print(f"\n{kind} {mode}: relative error against float: kiln "
          f"{e_kiln:.5f}, TensorFlow {e_tf:.5f}; size kiln "
          f"{out.stat().st_size} B, TF "
          f"{case.tf_paths[mode].stat().st_size} B")
    assert e_kiln <= 1.5 * e_tf + 1e-3


def test_folder_of_npz_equals_one_file(cases, tmp_path):
    case = cases["mlp"]
    folder = tmp_path / "cal"
    folder.mkdir()
    half = CAL_SAMPLES // 2
    np.savez(folder / "a.npz", **{case.input.name: case.cal[:half]})
    np.savez_compressed(folder / "b.npz", **{case.input.name: case.cal[half:]})
    one, two = tmp_path / "one.tflite", tmp_path / "two.tflite"
    assert quantize(case, "int8", one).returncode == 0
    result = kiln_e2e.run_kiln_command(
        ["quantize", case.float_path, "-o", two, "--mode", "int8",
         "--calibration", folder])
    assert result.returncode == 0, result.stderr
    assert one.read_bytes() == two.read_bytes()


def test_methods_io_int8_report_keep_float(cases, tmp_path):
    case = cases["cnn"]
    float_out = case.litert(case.float_path)
    for method in ("percentile", "entropy"):
        out = tmp_path / f"{method}.tflite"
        result = quantize(case, "int8", out, "--method", method)
        assert result.returncode == 0, result.stderr
        err = rel_error(case.litert(out), float_out)
        print(f"\ncnn int8 {method}: relative error {err:.5f}")
        assert err < 0.5
    out = tmp_path / "io.tflite"
    result = quantize(case, "int8", out, "--io", "int8", "--report")
    assert result.returncode == 0, result.stderr
    inputs, outputs = kiln_e2e.signature(out)
    assert inputs[0].dtype == np.int8 and outputs[0].dtype == np.int8
    lines = [line for line in result.stdout.splitlines()
             if line.strip() and line.strip()[0].isdigit()]
    assert len(lines) >= 6, result.stdout
    sqnr = [float(line.split()[0]) for line in lines]
    assert sqnr == sorted(sqnr), "the report lists the worst tensor first"
    # keep the worst tensor's layer in float: it must stay float32
    worst = lines[0].split()[-1]
    out = tmp_path / "keep.tflite"
    result = quantize(case, "int8", out, "--keep-float", worst)
    assert result.returncode == 0, result.stderr
    interp = kiln_e2e._interpreter(out)
    types = {t["name"]: t["dtype"] for t in interp.get_tensor_details()}
    assert types.get(worst) == np.float32, (worst, types)
    err = rel_error(case.litert(out), float_out)
    assert err < 0.5


def _fails(result, out, *needles):
    assert result.returncode != 0, result.stdout
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert not Path(out).exists()
    assert not list(Path(out).parent.glob(Path(out).name + ".tmp*"))


def test_bad_input(cases, tmp_path):
    case = cases["mlp"]
    name = case.input.name
    out = tmp_path / "out.tflite"

    def run(*args):
        return kiln_e2e.run_kiln_command(
            ["quantize", case.float_path, "-o", out] + list(args))

    bad = tmp_path / "bad.npz"
    np.savez(bad, wrong_name=case.cal)
    _fails(run("--mode", "int8", "--calibration", bad), out, str(bad),
           f"'{name}'", "wrong_name")
    np.savez(bad, **{name: case.cal[:, :10]})
    _fails(run("--mode", "int8", "--calibration", bad), out, str(bad),
           "shape", name)
    np.savez(bad, **{name: case.cal.astype(np.float64)})
    _fails(run("--mode", "int8", "--calibration", bad), out, "float64", name)
    nan = case.cal.copy()
    nan[5, 3] = np.nan
    np.savez(bad, **{name: nan})
    _fails(run("--mode", "int8", "--calibration", bad), out, str(bad),
           "sample 5", "NaN", name)
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(run("--mode", "int8", "--calibration", empty), out, "no .npz")
    _fails(run("--mode", "int8"), out, "calibration")
    _fails(run("--mode", "int4"), out, "unknown mode")
    _fails(run("--mode", "int8", "--calibration", case.cal_path,
               "--method", "median"), out, "unknown method")
    _fails(run("--mode", "int8", "--calibration", case.cal_path,
               "--keep-float", "no_such_tensor"), out, "no_such_tensor")
    result = kiln_e2e.run_kiln_command(
        ["quantize", case.tf_paths["int8"], "-o", out, "--mode", "int8",
         "--calibration", case.cal_path])
    _fails(result, out, "no float operators")


def test_two_inputs_dynamic_batch(tmp_path):
    """A model of two inputs (dynamic batch dimension) calibrates from one
    .npz holding both, keyed by name, and runs in LiteRT and kiln."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(9)
    L = tf.keras.layers
    a = tf.keras.Input((20,), name="left")
    b = tf.keras.Input((12,), name="right")
    x = L.Concatenate()([L.Dense(16, activation="relu")(a),
                         L.Dense(16, activation="tanh")(b)])
    out = L.Dense(4)(x)
    model = tf.keras.Model([a, b], out)
    path = tmp_path / "two.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    inputs, _ = kiln_e2e.signature(path)
    assert [i.shape[0] for i in inputs] == [-1, -1]
    rng = np.random.default_rng(3)
    cal = {i.name: rng.uniform(-1, 1, (12, i.shape[1])).astype(np.float32)
           for i in inputs}
    np.savez(tmp_path / "cal.npz", **cal)
    out_path = tmp_path / "q.tflite"
    result = kiln_e2e.run_kiln_command(
        ["quantize", path, "-o", out_path, "--mode", "int8", "--calibration",
         tmp_path / "cal.npz"])
    assert result.returncode == 0, result.stderr
    test = {i.name: rng.uniform(-1, 1, (1, i.shape[1])).astype(np.float32)
            for i in inputs}
    f = next(iter(kiln_e2e.run_litert(path, test).values()))
    q = next(iter(kiln_e2e.run_litert(out_path, test).values()))
    k, _ = kiln_e2e.run_kiln(out_path, test, tmp_path / "run")
    k = next(iter(k.values()))
    step = output_step(out_path)
    assert float(np.max(np.abs(k - q))) <= step * 1.0001
    assert rel_error(q, f) < 0.05, rel_error(q, f)
    # one input missing from the file: named, nothing written
    np.savez(tmp_path / "half.npz", left=cal["left"])
    out2 = tmp_path / "q2.tflite"
    result = kiln_e2e.run_kiln_command(
        ["quantize", path, "-o", out2, "--mode", "int8", "--calibration",
         tmp_path / "half.npz"])
    _fails(result, out2, "'right'", "half.npz")


@pytest.mark.parametrize("mode", ["int8", "int16x8", "dynamic"])
def test_batch_matmul_constant_operand(tmp_path, mode):
    """BATCH_MATMUL with a constant right operand: quantized as TF's
    converter writes it (int8: the constant as an activation; dynamic: int8
    per tensor), run by LiteRT and kiln."""
    import tensorflow as tf
    rng = np.random.default_rng(21)
    w = rng.uniform(-1, 1, (1, 64, 48)).astype(np.float32)
    inp = tf.keras.Input((5, 64), batch_size=1, name="x")
    out = tf.keras.layers.Lambda(lambda x: tf.matmul(x, w))(inp)
    model = tf.keras.Model(inp, out)
    path = tmp_path / "bmm.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    assert "BATCH_MATMUL" in kiln_e2e.op_histogram(path)
    (sig,), _ = kiln_e2e.signature(path)
    np.savez(tmp_path / "cal.npz", **{
        sig.name: rng.uniform(-1, 1, (8, 5, 64)).astype(np.float32)})
    out_path = tmp_path / "q.tflite"
    result = kiln_e2e.run_kiln_command(
        ["quantize", path, "-o", out_path, "--mode", mode, "--calibration",
         tmp_path / "cal.npz"])
    assert result.returncode == 0, result.stderr
    x = {sig.name: rng.uniform(-1, 1, (1, 5, 64)).astype(np.float32)}
    f = next(iter(kiln_e2e.run_litert(path, x).values()))
    q = next(iter(kiln_e2e.run_litert(out_path, x).values()))
    k, _ = kiln_e2e.run_kiln(out_path, x, tmp_path / "run")
    k = next(iter(k.values()))
    if mode == "dynamic":
        assert kiln_e2e.max_rel_error(k, q) <= 1e-5
    else:
        assert float(np.max(np.abs(k - q))) <= output_step(out_path) * 1.0001
    err = rel_error(q, f)
    print(f"\nbatch matmul {mode}: relative error against float {err:.5f}")
    assert err < 0.03
