"""`kiln run` matches LiteRT bit for bit on the random operators TF's
converter emits from seeded tf.random calls in a tf.function:
RANDOM_UNIFORM (tf.random.uniform), RANDOM_STANDARD_NORMAL
(tf.random.normal) and MULTINOMIAL (tf.random.categorical, int64 and int32
samples). Seeds and shapes vary per case; each case checks the file holds
the operator meant, then runs it in LiteRT and kiln on a fresh random
input. Uniform floats and sample indices must be equal; the normals
(sin, cos and log of the same words) within 1e-5 of the largest value.
"""
import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K

FLOAT_TOLERANCE = 1e-5


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


# id -> (operator, input shape, fn(tf, x) -> output)
CASES = {
    "uniform_2x3_seed5": (
        "RANDOM_UNIFORM", [2, 3],
        lambda tf, x: x + tf.random.uniform([2, 3], seed=5)),
    "uniform_7_seed11": (
        "RANDOM_UNIFORM", [7],
        lambda tf, x: x * tf.random.uniform([7], seed=11)),
    "normal_3x5_seed2": (
        "RANDOM_STANDARD_NORMAL", [3, 5],
        lambda tf, x: x + tf.random.normal([3, 5], seed=2)),
    "normal_1x1x9_seed77": (
        "RANDOM_STANDARD_NORMAL", [1, 1, 9],
        lambda tf, x: x - tf.random.normal([1, 1, 9], seed=77)),
    "categorical_int64": (
        "MULTINOMIAL", [3, 6],
        lambda tf, x: tf.random.categorical(x, 9, seed=4)),
    "categorical_int32": (
        "MULTINOMIAL", [2, 5],
        lambda tf, x: tf.random.categorical(x, 3, dtype=tf.int32, seed=8)),
}


def convert(case_id: str) -> bytes:
    tf = _tf()
    _, shape, fn = CASES[case_id]

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32,
                                                    name="x")])
        def run(self, x):
            return {"y": fn(tf, x)}

    module = Module()
    concrete = module.run.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete],
                                                                module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


@pytest.mark.parametrize("case_id", list(CASES))
def test_random_vs_litert(kiln_bin, tmp_path, case_id):
    op, shape, _ = CASES[case_id]
    path = tmp_path / f"{case_id}.tflite"
    path.write_bytes(convert(case_id))
    hist = K.op_histogram(path)
    assert op in hist, f"converter emitted {dict(hist)}, no {op}"
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"{case_id}: {dict(hist)}; input seed {seed}")
    x = rng.uniform(-2, 2, shape).astype(np.float32)
    feed = {inputs[0].name: x}
    ref = K.run_litert(path, feed)
    got, _ = K.run_kiln(path, feed, tmp_path / "run", kiln_bin=kiln_bin)
    assert len(ref) == 1 and len(got) == 1
    r = next(iter(ref.values()))
    g = next(iter(got.values()))
    assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, r.shape)
    if op == "RANDOM_STANDARD_NORMAL":
        err = float(np.max(np.abs(g - r))) / max(float(np.max(np.abs(r))),
                                                 1e-30)
        assert err <= FLOAT_TOLERANCE, f"relative error {err:.3g}"
    else:
        assert np.array_equal(g, r), f"kiln {g}\nLiteRT {r}"
