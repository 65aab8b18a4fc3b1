"""`kiln run` matches LiteRT bit for bit on the random operators TF's
converter emits from seeded tf.random calls in a tf.function:
RANDOM_UNIFORM (tf.random.uniform), RANDOM_STANDARD_NORMAL
(tf.random.normal) and MULTINOMIAL (tf.random.categorical, int64 and int32
samples). Seeds and shapes vary per case; each case checks the file holds
the operator meant, then runs it in LiteRT and kiln on a fresh random
input. Uniform floats and sample indices must be equal; the normals
(sin, cos and log of the same words) within 1e-5 of the largest value.

STABLEHLO_RNG_BIT_GENERATOR and LSH_PROJECTION, which the converter does
not emit, run as one-operator files (misc_models.py) with random states,
seeds, shapes and types, and must equal LiteRT; unknown option values
must fail the load with a message naming them.
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


# ------------------------------------------------ one-operator files

import misc_models as M  # noqa: E402

# misc_models writes these types too (RNG_BIT_GENERATOR's state and words)
M._TYPES.setdefault("uint64", "UINT64")
M._TYPES.setdefault("uint32", "UINT32")


def _rng_model(algorithm: int, words: int, out_shape, out_dtype) -> bytes:
    schema = M._schema()
    options = schema.StablehloRngBitGeneratorOptionsT()
    options.algorithm = algorithm
    return M.one_op(
        "STABLEHLO_RNG_BIT_GENERATOR", [("state", (words,), "uint64", None)],
        [("new_state", (words,), "uint64"), ("bits", out_shape, out_dtype)],
        options2_type=(schema.BuiltinOptions2
                       .StablehloRngBitGeneratorOptions),
        options2=options)


def _run_both(path: Path, feed, workdir: Path):
    ref = K.run_litert(path, feed)
    got, _ = K.run_kiln(path, feed, workdir)
    files = {K.output_file_name(n): n for n in ref}
    assert sorted(got) == sorted(files)
    for file_name, name in files.items():
        g, r = got[file_name], ref[name]
        assert g.shape == r.shape and g.dtype == r.dtype, (name, g.dtype,
                                                           r.dtype)
        assert np.array_equal(g, r), f"{name}: kiln {g}\nLiteRT {r}"


@pytest.mark.parametrize("algorithm", ["DEFAULT", "PHILOX", "THREEFRY"])
def test_rng_bit_generator_vs_litert(kiln_bin, tmp_path, algorithm):
    """Random states (full 64-bit words, counters about to wrap now and
    then), output types and shapes with odd word counts."""
    code = getattr(M._schema().RngAlgorithm, algorithm)
    rng, seed = K.make_rng()
    print(f"{algorithm}: seed {seed}")
    for draw in range(6):
        words = 2 if algorithm == "THREEFRY" else int(rng.integers(2, 4))
        dtype = ("int32", "uint32", "int64", "uint64")[draw % 4]
        shape = tuple(int(d) for d in rng.integers(1, 6, rng.integers(1, 4)))
        path = tmp_path / f"rng{draw}.tflite"
        path.write_bytes(_rng_model(code, words, shape, dtype))
        state = rng.integers(0, 2**64, words, dtype=np.uint64)
        if draw % 3 == 0:
            state[1] = np.uint64(2**64 - 2)
        _run_both(path, {"state": state}, tmp_path / f"d{draw}")


def _lsh_model(kind: str, hash_shape, in_shape, in_dtype, weighted: bool,
               rng) -> bytes:
    schema = M._schema()
    options = schema.LSHProjectionOptionsT()
    options.type = getattr(schema.LSHProjectionType, kind)
    hashes = rng.uniform(-5, 5, hash_shape).astype(np.float32)
    inputs = [("hash", hash_shape, "float32", hashes),
              ("x", in_shape, in_dtype, None)]
    if weighted:
        inputs.append(("w", (in_shape[0],), "float32", None))
    count = hash_shape[0] * (hash_shape[1] if kind == "DENSE" else 1)
    return M.one_op("LSH_PROJECTION", inputs, [("y", (count,), "int32")],
                    options_type=schema.BuiltinOptions.LSHProjectionOptions,
                    options=options)


@pytest.mark.parametrize("kind", ["SPARSE", "DENSE"])
def test_lsh_projection_vs_litert(kiln_bin, tmp_path, kind):
    """Random seeds, bit counts up to 31, row sizes that reach every
    length branch of Fingerprint64 (keys of 5 to 84 bytes), int and float
    rows, with and without weights (DENSE)."""
    rng, seed = K.make_rng()
    print(f"{kind}: seed {seed}")
    for draw in range(8):
        hash_shape = (int(rng.integers(1, 5)), int(rng.integers(1, 32)))
        dtype = ("float32", "int32", "int8", "int64")[draw % 4]
        row = (int(rng.integers(1, 11)),) if draw % 2 else ()
        in_shape = (int(rng.integers(1, 6)),) + row
        weighted = kind == "DENSE" and draw % 3 != 0
        path = tmp_path / f"lsh{draw}.tflite"
        path.write_bytes(_lsh_model(kind, hash_shape, in_shape, dtype,
                                    weighted, rng))
        if dtype == "float32":
            x = rng.uniform(-3, 3, in_shape).astype(np.float32)
        else:
            x = rng.integers(-100, 100, in_shape).astype(dtype)
        feed = {"x": x}
        if weighted:
            feed["w"] = rng.uniform(-1, 1, in_shape[0]).astype(np.float32)
        _run_both(path, feed, tmp_path / f"d{draw}")


def test_bad_options_are_refused(kiln_bin, tmp_path):
    """An unknown RNG algorithm or LSH type fails the load, naming it."""
    path = tmp_path / "rng.tflite"
    path.write_bytes(_rng_model(9, 2, (4,), "int32"))
    result = K.run_kiln_command(["run", str(path)], kiln_bin=kiln_bin)
    assert result.returncode != 0
    assert "algorithm 9 is none of" in result.stderr, result.stderr
    path = tmp_path / "lsh.tflite"
    path.write_bytes(_lsh_model("UNKNOWN", (2, 3), (4,), "float32", False,
                                np.random.default_rng(1)))
    result = K.run_kiln_command(["run", str(path)], kiln_bin=kiln_bin)
    assert result.returncode != 0
    assert "type 0 is neither SPARSE" in result.stderr, result.stderr
