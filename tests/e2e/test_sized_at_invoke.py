"""`kiln run` matches LiteRT on models whose output sizes come from input
values: tf.where, tf.unique, tf.range with limits from the model's inputs
and tf.math.segment_sum with ids computed at run time, each followed by
further operators that read the value-sized result (kiln sizes these at
invoke; ARCHITECTURE.md, "Outputs sized at invoke").

Each case is a tf.function converted with TF's converter; the test checks
the converted file holds the operator meant, then runs LiteRT and kiln on
several fresh random inputs, chosen so that the value-sized outputs differ
in size (empty ones included). Floats agree within 1e-5 relative, integers
exactly, and shapes exactly.
"""
import dataclasses
from pathlib import Path
from typing import Callable, List

import numpy as np
import pytest

import kiln_e2e as K
from test_more_ops import FLOAT_TOLERANCE, _tf, convert_case


@dataclasses.dataclass
class Case:
    id: str
    op: str
    fn: Callable
    inputs: List  # test_more_ops.Input-like: shape and dtype
    feed: Callable  # (rng, trial) -> list of arrays, one per input


@dataclasses.dataclass
class Spec:
    shape: tuple
    dtype: str


def _masked(rng, trial, shape):
    """float32 values of which a trial-dependent share is zero (none, all,
    or part), so WHERE's row count moves up and down."""
    share = (0.0, 1.0, 0.5, 0.9, 0.2)[trial % 5]
    x = rng.uniform(0.5, 4.0, shape).astype(np.float32)
    x *= np.where(rng.random(shape) < 0.5, -1, 1).astype(np.float32)
    x[rng.random(shape) < share] = 0.0
    return x


def cases() -> List[Case]:
    out = []
    out.append(Case(
        "where-gather", "WHERE",
        lambda tf, x: tf.gather_nd(x, tf.where(tf.not_equal(x, 0.0))) * 2.0,
        [Spec((None, 5), "float32")],
        lambda rng, t: [_masked(rng, t, (3 + t, 5))]))
    out.append(Case(
        "where-cast", "WHERE",
        lambda tf, x: tf.cast(tf.where(x), tf.float32) * 0.5
        + tf.reduce_sum(tf.cast(x, tf.float32)),
        [Spec((None, 4), "int32")],
        lambda rng, t: [(_masked(rng, t, (2 + t, 4)) * 3).astype(np.int32)]))
    out.append(Case(
        "unique", "UNIQUE",
        lambda tf, v: tf.cast(tf.unique(v)[0], tf.float32) * 1.5
        + tf.cast(tf.reduce_sum(tf.unique(v)[1]), tf.float32),
        [Spec((None,), "int32")],
        lambda rng, t: [rng.integers(-1 - 2 * t, 2 + 2 * t,
                                     4 + 3 * t).astype(np.int32)]))
    out.append(Case(
        "range-int32", "RANGE",
        lambda tf, s, l, d: tf.range(s, l, d) * 3,
        [Spec((), "int32"), Spec((), "int32"), Spec((), "int32")],
        lambda rng, t: [np.array(v, np.int32) for v in (
            (0, 10, 1), (5, 5, 2), (7, -8, -3), (-3, 40, 4), (2, 3, 7))[
                t % 5]]))
    out.append(Case(
        "range-float32", "RANGE",
        lambda tf, s, l: tf.range(s, l, 0.25) + 1.0,
        [Spec((), "float32"), Spec((), "float32")],
        lambda rng, t: [np.array(v, np.float32) for v in (
            (0.0, 3.3), (1.0, 1.0), (-2.5, 6.1), (0.5, 0.6), (3.0, 9.75))[
                t % 5]]))
    out.append(Case(
        "segment-sum", "SEGMENT_SUM",
        lambda tf, x: tf.math.segment_sum(
            x, tf.math.cumsum(tf.cast(x[:, 0] > 0, tf.int32), exclusive=True))
        * 2.0,
        [Spec((None, 3), "float32")],
        lambda rng, t: [rng.uniform(-2, 2, (2 + 2 * t, 3)).astype(
            np.float32)]))
    out.append(Case(
        "where-in-while", "WHILE",
        lambda tf, x: tf.while_loop(
            lambda i, acc: i < 3,
            lambda i, acc: (i + 1, acc + tf.reduce_sum(tf.cast(tf.where(
                x > tf.cast(i, tf.float32)), tf.float32))),
            (tf.constant(0), tf.constant(0.0)))[1],
        [Spec((None, 3), "float32")],
        lambda rng, t: [rng.uniform(-1, 4, (1 + 2 * t, 3)).astype(
            np.float32)]))
    return out


CASES = {c.id: c for c in cases()}


def _convert(case: Case) -> bytes:
    shim = dataclasses.make_dataclass("Shim", ["fn", "inputs"])
    return convert_case(shim(case.fn, case.inputs))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sized_at_invoke")


@pytest.mark.parametrize("case_id", list(CASES))
def test_value_sized_vs_litert(model_dir, kiln_bin, tmp_path, case_id):
    case = CASES[case_id]
    path = model_dir / f"{case_id}.tflite"
    path.write_bytes(_convert(case))
    hist = K.op_histogram(path)
    assert case.op in hist, f"converter emitted {dict(hist)}, no {case.op}"
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"{case_id}: {dict(hist)}; input seed {seed}")
    sizes = set()
    for trial in range(5):
        arrays = case.feed(rng, trial)
        feed = {sig.name: arrays[int(sig.name[2:])] for sig in inputs}
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"t{trial}",
                            kiln_bin=kiln_bin)
        K.compare_outputs(got, ref, FLOAT_TOLERANCE)
        sizes.add(tuple(next(iter(ref.values())).shape))
    assert len(sizes) > 1 or case.op == "WHILE", (
        f"every trial gave one output shape {sizes}")


def test_served_where_vs_litert(model_dir, kiln_bin, tmp_path):
    """`kiln serve` answers with the real shape of an output sized at
    invoke, request after request on the same model (one session, its
    blocks growing and shrinking)."""
    import serve_util as S
    case = CASES["where-gather"]
    path = model_dir / "served-where.tflite"
    path.write_bytes(_convert(case))
    root = tmp_path / "serve"
    S.add_version(root / "models" / "where", 1, path)
    (root / "models.config").write_text(
        S.model_config({"where": root / "models" / "where"}))
    rng, seed = K.make_rng()
    print(f"input seed {seed}")
    with S.Server(kiln_bin, [f"--model_config_file={root / 'models.config'}"],
                  root) as srv:
        srv.wait_available("where", 1)
        for trial in (2, 0, 3, 1, 4):
            x = case.feed(rng, trial)[0]
            want = next(iter(K.run_litert(path, {"in0": x}).values()))
            r = srv.post("/v1/models/where:predict",
                         {"inputs": {"in0": x.tolist()}})
            assert r.status_code == 200, r.text
            got = np.asarray(r.json()["outputs"], np.float32)
            assert got.shape == want.shape, f"{got.shape} vs {want.shape}"
            assert K.max_rel_error(got, want) <= FLOAT_TOLERANCE
