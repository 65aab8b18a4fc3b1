"""int8 BATCH_MATMUL through kiln's GEMM variants (q8-bmm-gemm-*): a Keras
model with attention's products of two activations (q k^T, s v and q^T v,
so adj_y, plain and adj_x) and a product with a constant 3-D y (which the
converter keeps as BATCH_MATMUL, not FULLY_CONNECTED), fully quantized by
TensorFlow's converter (TFLITE_BUILTINS_INT8, int8 inputs and outputs,
random weights, 8 random calibration inputs). Every operand has its own
zero point. `kiln run` must equal LiteRT's reference kernels
(BUILTIN_REF) exactly on fresh random inputs, on one thread and two
(LiteRT's default int8 kernels differ from its own reference by a unit in
places on this model, so they are no oracle); and `kiln profile` must show the variant running each BATCH_MATMUL.
"""
import contextlib
import io
import re

import numpy as np
import pytest

import kiln_e2e as K

SHAPE = (1, 4, 24, 16)
TIMEOUT = 120
# profile: step, op, kernel, types, output shape, median us, share, GFLOP/s
PROFILE_ROW = re.compile(r"^\s+(\d+)\s+([A-Z0-9_]+)\s+(\S+)\s+([a-z0-9>,:-]+)\s+"
                         r"(\[[-\d,]*\])\s+([\d.]+)\s+([\d.]+)%\s+(\S+)\s*$")


def build_model(rng):
    import tensorflow as tf
    w = tf.constant(rng.normal(0, 0.3, (4, 16, 8)).astype(np.float32))
    a = tf.keras.Input(SHAPE[1:], batch_size=1)
    dense = [tf.keras.layers.Dense(16) for _ in range(3)]
    q, k, v = (d(a) for d in dense)
    for d in dense:
        d.set_weights([rng.normal(0, 0.4, (16, 16)).astype(np.float32),
                       rng.normal(0, 0.1, (16,)).astype(np.float32)])
    lam = tf.keras.layers.Lambda
    s = lam(lambda t: tf.linalg.matmul(t[0], t[1], transpose_b=True))([q, k])
    o = lam(lambda t: tf.linalg.matmul(t[0], t[1]))([s, v])
    g = lam(lambda t: tf.linalg.matmul(t[0], t[1], transpose_a=True))([q, v])
    c = lam(lambda t: tf.linalg.matmul(t, w))(k)
    return tf.keras.Model(a, [o, g, c])


def convert(model, rng):
    import tensorflow as tf

    def calibration():
        for _ in range(8):
            yield [rng.uniform(-1, 1, SHAPE).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    rng, seed = K.make_rng()
    print(f"model seed {seed}")
    path = tmp_path_factory.mktemp("qbmm") / "attention_int8.tflite"
    path.write_bytes(convert(build_model(rng), rng))
    ops = K.op_histogram(path)
    assert ops["BATCH_MATMUL"] == 4, ops
    return path


@pytest.mark.parametrize("threads", [1, 2])
def test_kiln_equals_litert(kiln_bin, model_path, tmp_path, threads):
    rng, seed = K.make_rng()
    print(f"input seed {seed}")
    inputs, _ = K.signature(model_path)
    assert len(inputs) == 1 and inputs[0].dtype == np.int8
    for _ in range(3):
        x = rng.integers(-128, 128, SHAPE, dtype=np.int8)
        feed = {inputs[0].name: x}
        got, _ = K.run_kiln(model_path, feed, tmp_path, threads=threads,
                            kiln_bin=kiln_bin)
        want = K.run_litert(model_path, feed, resolver="BUILTIN_REF")
        assert len(want) == 3
        for name, expected in want.items():
            mine = got[K.output_file_name(name)]
            assert mine.dtype == np.int8 and mine.shape == expected.shape
            diff = np.count_nonzero(mine != expected)
            assert diff == 0, (f"{name}: {diff} of {expected.size} differ "
                               f"from LiteRT's reference kernels")


def test_profile_shows_the_variant(kiln_bin, model_path):
    result = K.run_kiln_command(["profile", str(model_path), "--runs", "2"],
                                timeout=TIMEOUT, kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    head = result.stdout.partition("by operator:")[0]
    rows = [m for m in map(PROFILE_ROW.match, head.splitlines()) if m]
    kernels = [m[3] for m in rows if m[2] == "BATCH_MATMUL"]
    assert len(kernels) == 4, result.stdout
    assert all(k.startswith("q8-bmm-gemm-") for k in kernels), kernels
