"""`kiln run` matches LiteRT on the math, logical and reduction operators
added for issue 9, one small tf.function model per operator and type.

Each case builds a tf.function over inputs whose first dimension is None
(so the converter cannot fold the operator away), converts it with TF's
converter, checks the converted file holds the operator meant (so no case
passes by testing something else), and runs it in LiteRT and kiln on fresh
random inputs at two batch sizes. Floats must agree within 1e-5 relative
(of the largest reference value), integers and bools exactly.
"""
import dataclasses
import os
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import pytest

import kiln_e2e as K

FLOAT_TOLERANCE = 1e-5


@dataclasses.dataclass
class Input:
    shape: Tuple  # None for the batch dimension
    dtype: str
    low: float = -4.0
    high: float = 4.0
    nonzero: bool = False  # divisors


@dataclasses.dataclass
class Case:
    id: str
    op: str  # the builtin the converted model must hold
    fn: Callable
    inputs: Sequence[Input]


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


# ----------------------------------------------------------- the cases

FLOAT_UNARY = {
    "SQUARE": lambda tf, x: tf.math.square(x),
    "SIN": lambda tf, x: tf.math.sin(x),
    "COS": lambda tf, x: tf.math.cos(x),
    "FLOOR": lambda tf, x: tf.math.floor(x),
    "CEIL": lambda tf, x: tf.math.ceil(x),
    "ROUND": lambda tf, x: tf.math.round(x),
    "ELU": lambda tf, x: tf.nn.elu(x),
}

BIT_TYPES = ("int8", "uint8", "int16", "int32")
# TF's converter refuses REDUCE_PROD and REDUCE_MIN on 8- and 16-bit
# integers and SELECT on uint8 (it asks for TF ops); the unit tests cover
# those types.
REDUCE_TYPES = ("float32", "int32", "int64")


def _round_input():
    # Many exact halves, so banker's rounding is exercised.
    return Input((None, 5, 3), "float32", -6, 6)


def cases() -> List[Case]:
    out: List[Case] = []
    x3 = Input((None, 5, 3), "float32")
    for op, f in FLOAT_UNARY.items():
        inp = _round_input() if op == "ROUND" else x3
        out.append(Case(f"{op}-float32", op, f, [inp]))
    for t in ("float32", "int32"):
        out.append(Case(f"SIGN-{t}", "SIGN", lambda tf, x: tf.math.sign(x),
                        [Input((None, 4, 3), t, -3, 3)]))
    for t in ("float32", "int32", "int64"):
        out.append(Case(f"ZEROS_LIKE-{t}", "ZEROS_LIKE",
                        lambda tf, x: tf.zeros_like(x),
                        [Input((None, 3), t)]))
    for t in ("float32", "int32"):
        out.append(Case(f"FLOOR_DIV-{t}", "FLOOR_DIV",
                        lambda tf, x, y: tf.math.floordiv(x, y),
                        [Input((None, 4, 3), t, -50, 50),
                         Input((4, 1), t, -7, 7, nonzero=True)]))
    for t in ("float32", "int32", "int64"):
        out.append(Case(f"FLOOR_MOD-{t}", "FLOOR_MOD",
                        lambda tf, x, y: tf.math.floormod(x, y),
                        [Input((None, 4, 3), t, -50, 50),
                         Input((3,), t, -7, 7, nonzero=True)]))
    out.append(Case("ATAN2-float32", "ATAN2",
                    lambda tf, x, y: tf.math.atan2(x, y),
                    # TFLite's ATAN2 takes equal shapes only
                    [Input((None, 4, 3), "float32"),
                     Input((None, 4, 3), "float32")]))
    for t in BIT_TYPES:
        out.append(Case(f"BITWISE_XOR-{t}", "BITWISE_XOR",
                        lambda tf, x, y: tf.bitwise.bitwise_xor(x, y),
                        [Input((None, 4, 3), t, -100, 100),
                         Input((3,), t, -100, 100)]))
        bits = np.dtype(t).itemsize * 8
        out.append(Case(f"RIGHT_SHIFT-{t}", "RIGHT_SHIFT",
                        lambda tf, x, y: tf.bitwise.right_shift(x, y),
                        [Input((None, 4, 3), t, -100, 100),
                         Input((4, 3), t, 0, bits - 1)]))
    for t in ("float32", "int32"):
        out.append(Case(f"ADD_N-{t}", "ADD_N",
                        lambda tf, a, b, c: tf.math.add_n([a, b, c]),
                        [Input((None, 4), t)] * 3))
        out.append(Case(f"POW-{t}", "POW", lambda tf, x, y: tf.math.pow(x, y),
                        [Input((None, 4), t, 0.5 if t == "float32" else -9, 3),
                         Input((4,), t, 0, 4)]))
        out.append(Case(f"SQUARED_DIFFERENCE-{t}", "SQUARED_DIFFERENCE",
                        lambda tf, x, y: tf.math.squared_difference(x, y),
                        [Input((None, 4), t, -1000, 1000),
                         Input((4,), t, -1000, 1000)]))
    out.append(Case("NEG-int64", "NEG", lambda tf, x: tf.math.negative(x),
                    [Input((None, 4), "int64", -100, 100)]))
    for src, dst in (("float32", "int32"), ("int32", "int8"),
                     ("int16", "int32"), ("int64", "float32")):
        wider = np.dtype(dst).itemsize > np.dtype(src).itemsize
        shape = (None, 3, np.dtype(dst).itemsize // np.dtype(src).itemsize
                 ) if wider else (None, 3)
        out.append(Case(f"BITCAST-{src}-{dst}", "BITCAST",
                        (lambda d: lambda tf, x: tf.bitcast(
                            x, getattr(tf, d)))(dst),
                        [Input(shape, src, -1000, 1000)]))
    out.append(Case("LOGICAL_AND-bool", "LOGICAL_AND",
                    lambda tf, x, y: tf.math.logical_and(x, y),
                    [Input((None, 4, 3), "bool"), Input((3,), "bool")]))
    out.append(Case("LOGICAL_OR-bool", "LOGICAL_OR",
                    lambda tf, x, y: tf.math.logical_or(x, y),
                    [Input((None, 4, 3), "bool"), Input((4, 1), "bool")]))
    out.append(Case("LOGICAL_NOT-bool", "LOGICAL_NOT",
                    lambda tf, x: tf.math.logical_not(x),
                    [Input((None, 4), "bool")]))
    for t in ("float32", "int32", "int64", "int8", "int16", "bool"):
        out.append(Case(f"SELECT-{t}", "SELECT",
                        lambda tf, c, x, y: tf.raw_ops.Select(
                            condition=c, x=x, y=y),
                        [Input((None, 3), "bool"), Input((None, 3), t),
                         Input((None, 3), t)]))
    out.append(Case("SELECT-rows", "SELECT",
                    lambda tf, c, x, y: tf.raw_ops.Select(
                        condition=c, x=x, y=y),
                    [Input((None,), "bool"), Input((None, 3, 2), "float32"),
                     Input((None, 3, 2), "float32")]))
    for t in REDUCE_TYPES:
        lo, hi = (-1.5, 1.5) if t == "float32" else (-3, 3)
        out.append(Case(f"REDUCE_PROD-{t}", "REDUCE_PROD",
                        lambda tf, x: tf.math.reduce_prod(x, axis=[1]),
                        [Input((None, 4, 3), t, lo, hi)]))
        out.append(Case(f"REDUCE_PROD-keep-{t}", "REDUCE_PROD",
                        lambda tf, x: tf.math.reduce_prod(
                            x, axis=[0, 2], keepdims=True),
                        [Input((None, 4, 3), t, lo, hi)]))
        out.append(Case(f"REDUCE_MIN-{t}", "REDUCE_MIN",
                        lambda tf, x: tf.math.reduce_min(x, axis=[-1, 1]),
                        [Input((None, 4, 3), t, -100, 100)]))
    # the reductions kiln had, in the integer types LiteRT gives them
    for t in ("int32", "int64"):
        for op, f in (("SUM", "reduce_sum"), ("MEAN", "reduce_mean"),
                      ("REDUCE_MAX", "reduce_max")):
            out.append(Case(f"{op}-{t}", op,
                            (lambda f: lambda tf, x: getattr(tf.math, f)(
                                x, axis=[1]))(f),
                            [Input((None, 5, 3), t, -100, 100)]))
    out.append(Case("REDUCE_ANY-bool", "REDUCE_ANY",
                    lambda tf, x: tf.math.reduce_any(x, axis=[1]),
                    [Input((None, 4, 3), "bool")]))
    out.append(Case("REDUCE_ALL-bool", "REDUCE_ALL",
                    lambda tf, x: tf.math.reduce_all(
                        x, axis=[0, 2], keepdims=True),
                    [Input((None, 2, 3), "bool")]))
    for t in ("float32", "int32", "int8", "uint8", "bool"):
        for out_t in ("int32", "int64"):
            for op, f in (("ARG_MIN", "argmin"), ("ARG_MAX", "argmax")):
                if t == "bool" and op == "ARG_MAX" and out_t == "int64":
                    continue
                out.append(Case(
                    f"{op}-{t}-{out_t}", op,
                    (lambda f, out_t: lambda tf, x: getattr(tf.math, f)(
                        x, axis=1, output_type=getattr(tf, out_t)))(f, out_t),
                    [Input((None, 5, 3), t, -3, 3)]))
    for t in ("float32", "int32", "int64"):
        for exclusive in (False, True):
            for reverse in (False, True):
                out.append(Case(
                    f"CUMSUM-{t}-ex{int(exclusive)}-rev{int(reverse)}",
                    "CUMSUM",
                    (lambda e, r: lambda tf, x: tf.math.cumsum(
                        x, axis=1, exclusive=e, reverse=r))(exclusive, reverse),
                    [Input((None, 5, 3), t, -100, 100)]))
    for t in ("float32", "int32", "int64", "bool"):
        out.append(Case(
            f"FILL-{t}", "FILL",
            lambda tf, x, v: tf.fill(tf.shape(x), v[0]),
            [Input((None, 3), "float32"), Input((1,), t)]))
    out.append(Case(
        "RANGE-int32", "RANGE",
        lambda tf, x: tf.cast(tf.range(1, tf.shape(x)[0] * 7, 3), tf.float32)
        + tf.reduce_sum(x),
        [Input((None, 2), "float32")]))
    out.append(Case(
        "RANGE-float32", "RANGE",
        lambda tf, x: tf.range(0.5, tf.cast(tf.shape(x)[0], tf.float32) * 2.1,
                               0.3) + tf.reduce_sum(x),
        [Input((None, 2), "float32")]))
    out.append(Case(
        "RANGE-int64", "RANGE",
        lambda tf, x: tf.range(tf.cast(tf.shape(x)[0], tf.int64) * 5, -3,
                               tf.constant(-2, tf.int64))
        + tf.cast(tf.reduce_sum(x), tf.int64),
        [Input((None, 2), "float32")]))
    # The unsigned types TF's converter emits (the whole range, so products
    # wrap and shifts see the top bit).
    for t in ("uint16", "uint32"):
        top = np.iinfo(t).max
        out.append(Case(f"BITWISE_XOR-{t}", "BITWISE_XOR",
                        lambda tf, x, y: tf.bitwise.bitwise_xor(x, y),
                        [Input((None, 4, 3), t, 0, top),
                         Input((3,), t, 0, top)]))
        bits = np.dtype(t).itemsize * 8
        out.append(Case(f"RIGHT_SHIFT-{t}", "RIGHT_SHIFT",
                        lambda tf, x, y: tf.bitwise.right_shift(x, y),
                        [Input((None, 4, 3), t, 0, top),
                         Input((4, 3), t, 0, bits - 1)]))
    out.append(Case("MUL-uint32", "MUL", lambda tf, x, y: x * y,
                    [Input((None, 4, 3), "uint32", 0, 2**32 - 1),
                     Input((3,), "uint32", 0, 2**32 - 1)]))
    return out


CASES = {c.id: c for c in cases()}


# ------------------------------------------------------------ helpers


def convert_case(case: Case) -> bytes:
    import contextlib
    import io
    tf = _tf()
    specs = [tf.TensorSpec(i.shape, getattr(tf, i.dtype), name=f"in{k}")
             for k, i in enumerate(case.inputs)]

    class Module(tf.Module):
        @tf.function(input_signature=specs)
        def run(self, *args):
            return {"out": case.fn(tf, *args)}

    module = Module()
    fn = module.run.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def random_input(spec: Input, batch: int, rng: np.random.Generator
                 ) -> np.ndarray:
    shape = tuple(batch if d is None else d for d in spec.shape)
    if spec.dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if spec.dtype == "float32":
        values = rng.uniform(spec.low, spec.high, shape).astype(np.float32)
        if spec.low <= -6:  # exact halves for ROUND
            values = (np.round(values * 2) / 2).astype(np.float32)
        if spec.nonzero:
            values[np.abs(values) < 0.25] = 1.5
        return values
    info = np.iinfo(spec.dtype)
    lo, hi = max(int(spec.low), info.min), min(int(spec.high), info.max)
    values = rng.integers(lo, hi + 1, shape).astype(spec.dtype)
    if spec.nonzero:
        values[values == 0] = 3
    return values


def compare(got: Dict[str, np.ndarray], ref: Dict[str, np.ndarray]) -> None:
    assert len(got) == 1 and len(ref) == 1, (sorted(got), sorted(ref))
    g, r = next(iter(got.values())), next(iter(ref.values()))
    assert g.shape == r.shape, f"kiln shape {g.shape}, LiteRT {r.shape}"
    assert g.dtype == r.dtype, f"kiln dtype {g.dtype}, LiteRT {r.dtype}"
    if np.issubdtype(r.dtype, np.floating):
        assert np.array_equal(np.isnan(g), np.isnan(r)), "NaNs differ"
        finite = ~np.isnan(r)
        err = K.max_rel_error(g[finite], r[finite])
        assert err <= FLOAT_TOLERANCE, f"max relative error {err:.3g}"
    else:
        bad = np.argwhere(g != r)
        assert bad.size == 0, (
            f"{len(bad)} elements differ, first at {tuple(bad[0])}: "
            f"kiln {g[tuple(bad[0])]}, LiteRT {r[tuple(bad[0])]}")


@pytest.fixture(scope="session")
def op_model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("more_ops")


@pytest.mark.parametrize("case_id", list(CASES))
def test_op_vs_litert(op_model_dir, kiln_bin, tmp_path, case_id):
    case = CASES[case_id]
    path = op_model_dir / f"{case_id}.tflite"
    path.write_bytes(convert_case(case))
    hist = K.op_histogram(path)
    assert case.op in hist, f"converter emitted {dict(hist)}, no {case.op}"
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"{case_id}: {dict(hist)}; input seed {seed}")
    for batch in (1, 3):
        specs = dict(zip((f"in{k}" for k in range(len(case.inputs))),
                         case.inputs))
        feed = {sig.name: random_input(specs[sig.name], batch, rng)
                for sig in inputs}
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"b{batch}",
                            kiln_bin=kiln_bin)
        compare(got, ref)


# ------------------------------------------- Keras 3 dynamic-batch reshape


def build_merge_batch_model():
    """Keras 3 with batch None merging the batch into the next axis: the
    converter computes the new leading dimension at run time as SHAPE ->
    STRIDED_SLICE -> REDUCE_PROD -> PACK -> RESHAPE, which kiln evaluates at
    prepare from the input's shape."""
    keras = K._keras()
    keras.utils.set_random_seed(12)
    inp = keras.Input((4, 6), name="seq")
    x = keras.layers.Dense(5, activation="tanh")(inp)
    x = keras.layers.Lambda(lambda t: keras.ops.reshape(
        t, (keras.ops.prod(keras.ops.shape(t)[:2]), 5)))(x)
    x = keras.layers.Dense(3)(x)
    return keras.Model(inp, x, name="merge_batch")


def test_keras_dynamic_batch_reduce_prod(op_model_dir, kiln_bin, tmp_path):
    path = op_model_dir / "merge_batch.tflite"
    path.write_bytes(K.convert(build_merge_batch_model(), "float32"))
    hist = K.op_histogram(path)
    for op in ("SHAPE", "REDUCE_PROD", "PACK", "RESHAPE"):
        assert op in hist, f"converter emitted {dict(hist)}, no {op}"
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"input seed {seed}")
    for batch in (1, 5):
        feed = {sig.name: rng.uniform(-1, 1, (batch, 4, 6)).astype(np.float32)
                for sig in inputs}
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"b{batch}",
                            kiln_bin=kiln_bin)
        compare(got, ref)
        assert next(iter(got.values())).shape == (batch * 4, 3)
