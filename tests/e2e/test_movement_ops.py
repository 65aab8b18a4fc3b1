"""The data-movement and indexing operators of issue 9, end to end: small
tf.function models, converted by TensorFlow's converter at test time (the
test also checks the converter emitted the operator meant), run by `kiln
run` and by LiteRT on the same fresh random inputs. Floats must agree to
1e-5 relative, integers exactly.

Each case builds its own model: a function, its input signature, a maker
of valid random inputs (indices within range and so on), and the builtin
operators the converted file must contain."""
import contextlib
import dataclasses
import io
from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

import kiln_e2e as K

TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], object]  # -> (function, specs), or a Keras model
    inputs: Callable[[np.random.Generator], Dict[str, np.ndarray]]
    expect_ops: Tuple[str, ...]


def _tf():
    import tensorflow as tf
    return tf


def convert(fn, specs, workdir) -> bytes:
    """fn as .tflite, through a SavedModel so that the file has a
    signature (which names inputs and outputs for both runtimes)."""
    tf = _tf()
    module = tf.Module()
    module.serve = tf.function(fn, input_signature=specs)
    saved = str(workdir / "saved_model")
    with contextlib.redirect_stdout(io.StringIO()):
        tf.saved_model.save(module, saved,
                            signatures=module.serve.get_concrete_function())
        return tf.lite.TFLiteConverter.from_saved_model(saved).convert()


def spec(shape, dtype, name):
    tf = _tf()
    return tf.TensorSpec(shape, getattr(tf, dtype), name=name)


def uniform(rng, shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


# ------------------------------------------------------------ the cases


def dilated_conv():
    """A Keras Conv2D with dilation_rate=2 on a dynamic batch: the
    converter wraps it in SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND."""
    keras = K._keras()
    keras.utils.set_random_seed(1)
    x = inp = keras.Input((13, 11, 3), name="x")
    x = keras.layers.Conv2D(5, 3, dilation_rate=2, padding="same",
                            bias_initializer="uniform")(x)
    return keras.Model(inp, x)


def space_to_batch():
    tf = _tf()
    return ((lambda x: tf.space_to_batch_nd(x, [2, 3], [[1, 2], [2, 0]])),
            [spec((2, 7, 7, 3), "float32", "x")])


def batch_to_space_int():
    tf = _tf()
    return ((lambda x: tf.batch_to_space(x, [2, 2], [[1, 0], [0, 1]])),
            [spec((4, 3, 4, 2), "int32", "x")])


def depth_to_space():
    tf = _tf()
    return ((lambda x: tf.nn.depth_to_space(x, 2)),
            [spec((2, 3, 4, 8), "float32", "x")])


def space_to_depth():
    tf = _tf()
    return ((lambda x: tf.nn.space_to_depth(x, 3)),
            [spec((1, 6, 9, 2), "float32", "x")])


def gather_nd():
    tf = _tf()
    return ((lambda p, i: tf.gather_nd(p, i)),
            [spec((4, 5, 3), "float32", "params"),
             spec((6, 2), "int32", "indices")])


def scatter_nd():
    tf = _tf()
    return ((lambda i, u: tf.scatter_nd(i, u, [4, 5, 3])),
            [spec((6, 2), "int32", "indices"),
             spec((6, 3), "float32", "updates")])


def index_pairs(rng, rows, limits):
    return np.stack([rng.integers(0, n, rows) for n in limits],
                    axis=1).astype(np.int32)


CASES: List[Case] = [
    Case("dilated_conv", dilated_conv,
         lambda rng: {"x": uniform(rng, (2, 13, 11, 3))},
         ("SPACE_TO_BATCH_ND", "CONV_2D", "BATCH_TO_SPACE_ND")),
    Case("space_to_batch", space_to_batch,
         lambda rng: {"x": uniform(rng, (2, 7, 7, 3))},
         ("SPACE_TO_BATCH_ND",)),
    Case("batch_to_space_int", batch_to_space_int,
         lambda rng: {"x": rng.integers(-99, 99, (4, 3, 4, 2), np.int32)},
         ("BATCH_TO_SPACE_ND",)),
    Case("depth_to_space", depth_to_space,
         lambda rng: {"x": uniform(rng, (2, 3, 4, 8))}, ("DEPTH_TO_SPACE",)),
    Case("space_to_depth", space_to_depth,
         lambda rng: {"x": uniform(rng, (1, 6, 9, 2))}, ("SPACE_TO_DEPTH",)),
    Case("gather_nd", gather_nd,
         lambda rng: {"params": uniform(rng, (4, 5, 3)),
                      "indices": index_pairs(rng, 6, (4, 5))},
         ("GATHER_ND",)),
    Case("scatter_nd", scatter_nd,
         lambda rng: {"indices": index_pairs(rng, 6, (4, 5)),
                      "updates": uniform(rng, (6, 3))},
         ("SCATTER_ND",)),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("movement_models")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_movement_op_matches_litert(case, kiln_bin, model_dir, tmp_path):
    path = model_dir / f"{case.name}.tflite"
    if not path.exists():
        built = case.build()
        path.write_bytes(K.convert(built, "float32")
                         if not isinstance(built, tuple) else
                         convert(*built, tmp_path))
    ops = K.op_histogram(path)
    for op in case.expect_ops:
        assert ops[op] >= 1, f"converter emitted {dict(ops)}, no {op}"
    rng, seed = K.make_rng()
    print(f"seed {seed}")
    for _ in range(2):  # two draws: indices differ between them
        inputs = case.inputs(rng)
        reference = K.run_litert(path, inputs)
        got, _ = K.run_kiln(path, inputs, tmp_path, kiln_bin=kiln_bin)
        K.compare_outputs(got, reference, tolerance=TOLERANCE)
