"""`kiln run` matches LiteRT on the operators added last for issue 9 that
TF's converter emits: CONV_3D (tf.nn.conv3d with padding, strides,
dilations, a bias and a ReLU the converter fuses), CONV_3D_TRANSPOSE
(tf.nn.conv3d_transpose, its output shape built from the input's dynamic
batch, so kiln computes it at prepare), REVERSE_SEQUENCE
(tf.reverse_sequence on float32 and int32 with int32 and int64 lengths)
and RANK (tf.rank of a squeezed input, whose rank is unknown when
converting); and an empty batch through
CONV_2D, FULLY_CONNECTED and a pool, and through a MobileNetV2 block that
kiln fuses.

Each case builds a tf.function whose inputs have a None batch (so the
converter cannot fold the operator away) and random constant weights,
converts it, checks the converted file holds the operators meant, and runs
it in LiteRT and kiln on fresh random inputs at each batch size. Floats
must agree within 1e-5 of the largest reference value, integers exactly.
"""
import contextlib
import dataclasses
import io
import os
from pathlib import Path
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import pytest

import kiln_e2e as K

FLOAT_TOLERANCE = 1e-5


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


@dataclasses.dataclass
class Case:
    id: str
    ops: Tuple[str, ...]  # builtins the converted model must hold
    make: Callable  # (tf, rng) -> (fn(*inputs), [TensorSpec])
    feed: Callable  # (rng, batch) -> list of arrays
    batches: Tuple[int, ...] = (1, 3)


def _weights(rng, shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def _conv3d(shape, kernel, strides, padding, dilations, bias_relu):
    def make(tf, rng):
        w = tf.constant(_weights(rng, kernel))
        b = tf.constant(_weights(rng, kernel[-1:]))

        def fn(x):
            y = tf.nn.conv3d(x, w, strides=[1, *strides, 1], padding=padding,
                             dilations=[1, *dilations, 1])
            return tf.nn.relu(y + b) if bias_relu else y
        return fn, [tf.TensorSpec([None, *shape], tf.float32, name="in0")]
    return make


def _conv3d_transpose(shape, kernel, out_spatial, strides, padding):
    def make(tf, rng):
        w = tf.constant(_weights(rng, kernel))
        b = tf.constant(_weights(rng, kernel[3:4]))

        def fn(x):
            out_shape = tf.stack([tf.shape(x)[0], *out_spatial, kernel[3]])
            y = tf.nn.conv3d_transpose(x, w, out_shape,
                                       strides=[1, *strides, 1],
                                       padding=padding)
            return y + b
        return fn, [tf.TensorSpec([None, *shape], tf.float32, name="in0")]
    return make


def _uniform(shape):
    return lambda rng, b: [rng.uniform(-1, 1, (b, *shape)).astype(np.float32)]


def _reverse_sequence(dtype, len_dtype, seq_len, width):
    def make(tf, rng):
        def fn(x, lens):
            return tf.reverse_sequence(x, lens, seq_axis=1, batch_axis=0)
        return fn, [
            tf.TensorSpec([None, seq_len, width], getattr(tf, dtype),
                          name="in0"),
            tf.TensorSpec([None], getattr(tf, len_dtype), name="in1")]

    def feed(rng, b):
        if dtype == "float32":
            x = rng.uniform(-1, 1, (b, seq_len, width)).astype(np.float32)
        else:
            x = rng.integers(-1000, 1000, (b, seq_len, width)).astype(dtype)
        lens = rng.integers(0, seq_len + 1, (b,)).astype(len_dtype)
        return [x, lens]
    return make, feed


def _rank():
    """tf.rank after tf.squeeze of an input whose every dimension is
    dynamic: its rank is unknown when converting, so RANK stays."""
    def make(tf, rng):
        def fn(x):
            return tf.rank(tf.squeeze(x))
        return fn, [tf.TensorSpec([None, None, None], tf.float32, name="in0")]

    def feed(rng, b):
        shape = (b,) + tuple(int(d) for d in rng.integers(1, 3, 2))
        return [rng.uniform(-1, 1, shape).astype(np.float32)]
    return make, feed


def _batch_ops():
    """CONV_2D -> FULLY_CONNECTED -> MAX_POOL_2D, run at batch 0 too."""
    def make(tf, rng):
        w = tf.constant(_weights(rng, (3, 3, 3, 4)))
        fc = tf.constant(_weights(rng, (4, 6)))

        def fn(x):
            y = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"))
            y = tf.reshape(tf.matmul(tf.reshape(y, [-1, 4]), fc),
                           [-1, 5, 5, 6])
            return tf.nn.max_pool2d(y, 2, 2, "VALID")
        return fn, [tf.TensorSpec([None, 5, 5, 3], tf.float32, name="in0")]
    return make


def _bottleneck():
    """MobileNetV2's block (1x1 expand, 3x3 depthwise, 1x1 project, ReLU6
    between): kiln fuses it into one FUSED_BOTTLENECK node at load."""
    def make(tf, rng):
        expand = tf.constant(_weights(rng, (1, 1, 8, 48)) * 0.5)
        depthwise = tf.constant(_weights(rng, (3, 3, 48, 1)) * 0.5)
        project = tf.constant(_weights(rng, (1, 1, 48, 8)) * 0.5)

        def fn(x):
            y = tf.nn.relu6(tf.nn.conv2d(x, expand, 1, "SAME"))
            y = tf.nn.relu6(tf.nn.depthwise_conv2d(y, depthwise, [1, 1, 1, 1],
                                                   "SAME"))
            return tf.nn.conv2d(y, project, 1, "SAME")
        return fn, [tf.TensorSpec([None, 16, 16, 8], tf.float32, name="in0")]
    return make


def cases():
    found = [
        Case("conv3d_same_bias_relu", ("CONV_3D",),
             _conv3d((4, 5, 5, 2), (2, 3, 3, 2, 3), (1, 1, 1), "SAME",
                     (1, 1, 1), True), _uniform((4, 5, 5, 2))),
        Case("conv3d_valid_stride2", ("CONV_3D",),
             _conv3d((5, 6, 7, 3), (2, 2, 3, 3, 2), (2, 2, 1), "VALID",
                     (1, 1, 1), False), _uniform((5, 6, 7, 3))),
        Case("conv3d_dilated", ("CONV_3D",),
             _conv3d((5, 6, 6, 1), (2, 3, 2, 1, 2), (1, 1, 1), "SAME",
                     (2, 1, 2), False), _uniform((5, 6, 6, 1))),
        Case("conv3d_transpose_same", ("CONV_3D_TRANSPOSE",),
             _conv3d_transpose((2, 3, 3, 2), (2, 2, 2, 3, 2), (4, 6, 6),
                               (2, 2, 2), "SAME"), _uniform((2, 3, 3, 2))),
        Case("conv3d_transpose_valid", ("CONV_3D_TRANSPOSE",),
             _conv3d_transpose((2, 2, 3, 1), (3, 3, 2, 2, 1), (5, 5, 6),
                               (2, 2, 2), "VALID"), _uniform((2, 2, 3, 1))),
        Case("batch0_conv_fc_pool",
             ("CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D"), _batch_ops(),
             _uniform((5, 5, 3)), batches=(0, 2, 0)),
        Case("batch0_bottleneck", ("CONV_2D", "DEPTHWISE_CONV_2D"),
             _bottleneck(), _uniform((16, 16, 8)), batches=(0, 2, 0)),
    ]
    for dtype, len_dtype in (("float32", "int32"), ("int32", "int64")):
        make, feed = _reverse_sequence(dtype, len_dtype, 6, 3)
        found.append(Case(f"reverse_sequence_{dtype}_{len_dtype}",
                          ("REVERSE_SEQUENCE",), make, feed))
    make, feed = _rank()
    found.append(Case("rank_unknown_rank", ("RANK",), make, feed))
    return {c.id: c for c in found}


CASES = cases()


def convert_case(case: Case, rng) -> bytes:
    tf = _tf()
    fn, specs = case.make(tf, rng)

    class Module(tf.Module):
        @tf.function(input_signature=specs)
        def run(self, *args):
            return {"out": fn(*args)}

    module = Module()
    concrete = module.run.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete],
                                                                module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def compare(got: Dict[str, np.ndarray], ref: Dict[str, np.ndarray]) -> None:
    assert len(got) == 1 and len(ref) == 1, (sorted(got), sorted(ref))
    g, r = next(iter(got.values())), next(iter(ref.values()))
    assert g.shape == r.shape, f"kiln shape {g.shape}, LiteRT {r.shape}"
    assert g.dtype == r.dtype, f"kiln dtype {g.dtype}, LiteRT {r.dtype}"
    if np.issubdtype(r.dtype, np.floating):
        err = K.max_rel_error(g, r)
        assert err <= FLOAT_TOLERANCE, f"max relative error {err:.3g}"
    else:
        assert np.array_equal(g, r), f"kiln {g}, LiteRT {r}"


@pytest.fixture(scope="session")
def new_op_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("new_ops")


@pytest.mark.parametrize("case_id", list(CASES))
def test_new_op_vs_litert(new_op_dir, kiln_bin, tmp_path, case_id):
    case = CASES[case_id]
    rng, seed = K.make_rng()
    path = new_op_dir / f"{case_id}.tflite"
    path.write_bytes(convert_case(case, rng))
    hist = K.op_histogram(path)
    for op in case.ops:
        assert op in hist, f"converter emitted {dict(hist)}, no {op}"
    inputs, _ = K.signature(path)
    print(f"{case_id}: {dict(hist)}; seed {seed}")
    for k, batch in enumerate(case.batches):
        arrays = case.feed(rng, batch)
        feed = {sig.name: arrays[int(sig.name[2:])] for sig in inputs}
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"run{k}",
                            kiln_bin=kiln_bin)
        compare(got, ref)
