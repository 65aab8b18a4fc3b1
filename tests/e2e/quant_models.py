"""quant_models.py - single-operator models for the quantized e2e tests.

Each entry is a tf.function over float inputs; TensorFlow's converter turns
it into a fully quantized .tflite with a representative dataset, either
int8 (TFLITE_BUILTINS_INT8) or 16x8 (int16 activations, int8 weights). The
representative ranges are lopsided on purpose, so zero points are not 0 and
the two inputs of a binary op get different scales.

    python tests/e2e/quant_models.py DIR [NAME ...]

writes the models into DIR (for surveying them by hand).
"""
import dataclasses
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

MODES = ("int8", "int16")


@dataclasses.dataclass(frozen=True)
class QuantOp:
    name: str
    fn: Callable
    shapes: Tuple[Tuple[int, ...], ...]
    # representative range of each input (low, high)
    ranges: Tuple[Tuple[float, float], ...] = ((-1.0, 3.0), (-2.5, 1.5))
    modes: Tuple[str, ...] = MODES
    # builtin operators the converted model must contain
    expect: Tuple[str, ...] = ()
    # kiln has no quantized form yet: it must refuse the model cleanly
    unsupported: Tuple[str, ...] = ()
    # LiteRT's reference kernel is not the one to match (see the test)
    default_only: bool = False
    # modes where kiln may differ from LiteRT's reference by one unit
    near_modes: Tuple[str, ...] = ()
    # the op is only defined for real values >= 0 (LiteRT refuses others):
    # stored inputs are drawn from the zero point up
    nonnegative: bool = False


def _tf():
    import tensorflow as tf
    return tf


def _ops() -> Sequence[QuantOp]:
    tf = _tf()
    s4 = (2, 5, 6, 3)
    img = (1, 8, 9, 4)
    # PRELU comes from Keras' layer (its alpha a constant per channel).
    import keras
    prelu = keras.layers.PReLU(
        alpha_initializer=keras.initializers.RandomUniform(0.05, 0.6, seed=7),
        shared_axes=[1, 2])
    prelu.build(s4)
    return [
        QuantOp("add", lambda a, b: a + b, (s4, s4), expect=("ADD",)),
        QuantOp("add_bcast_relu", lambda a, b: tf.nn.relu(a + b),
                (s4, (1, 1, 6, 3)), expect=("ADD",)),
        QuantOp("sub", lambda a, b: a - b, (s4, s4), expect=("SUB",)),
        QuantOp("sub_bcast", lambda a, b: a - b, (s4, (3,)),
                expect=("SUB",)),
        QuantOp("mul", lambda a, b: a * b, (s4, s4), expect=("MUL",)),
        QuantOp("mul_bcast_relu6", lambda a, b: tf.nn.relu6(a * b),
                (s4, (5, 1, 3)), expect=("MUL",)),
        QuantOp("squared_difference", tf.math.squared_difference, (s4, s4),
                modes=("int8",), expect=("SQUARED_DIFFERENCE",)),
        QuantOp("maximum", tf.maximum, (s4, s4), expect=("MAXIMUM",)),
        QuantOp("minimum", tf.minimum, (s4, (1, 6, 3)),
                expect=("MINIMUM",)),
        QuantOp("less", tf.less, (s4, s4), modes=("int8",),
                expect=("LESS",)),
        QuantOp("greater_equal", tf.greater_equal, (s4, (1, 1, 3)),
                modes=("int8",), expect=("GREATER_EQUAL",)),
        QuantOp("equal", tf.equal, (s4, s4), modes=("int8",),
                expect=("EQUAL",)),
        QuantOp("not_equal", tf.not_equal, (s4, s4), modes=("int8",),
                expect=("NOT_EQUAL",)),
        QuantOp("select_v2", lambda a, b: tf.where(a > 0.5, a, b),
                (s4, (6, 3)), modes=("int8",), expect=("SELECT_V2",)),
        QuantOp("average_pool", lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"),
                (img,), expect=("AVERAGE_POOL_2D",)),
        QuantOp("max_pool", lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"),
                (img,), expect=("MAX_POOL_2D",)),
        QuantOp("relu", tf.nn.relu, (s4,), expect=()),
        QuantOp("relu6", tf.nn.relu6, (s4,), expect=()),
        QuantOp("leaky_relu", lambda x: tf.nn.leaky_relu(x, 0.2), (s4,),
                expect=("LEAKY_RELU",)),
        # a negative alpha (in 16x8 the scales come out equal, so every odd
        # input is a tie that LiteRT's reference rounds toward zero)
        QuantOp("leaky_relu_negative", lambda x: tf.nn.leaky_relu(x, -0.5),
                (s4,), expect=("LEAKY_RELU",)),
        QuantOp("logistic", tf.sigmoid, (s4,), expect=("LOGISTIC",)),
        QuantOp("tanh", tf.tanh, (s4,), expect=("TANH",)),
        QuantOp("logistic_wide", tf.sigmoid, (s4,), ranges=((-12.0, 9.0),),
                modes=("int16",), expect=("LOGISTIC",)),
        QuantOp("tanh_wide", tf.tanh, (s4,), ranges=((-6.0, 5.0),),
                modes=("int16",), expect=("TANH",)),
        QuantOp("gelu", lambda x: tf.nn.gelu(x, approximate=False), (s4,),
                ranges=((-4.0, 2.0),), modes=("int8",), expect=("GELU",)),
        QuantOp("gelu_tanh", lambda x: tf.nn.gelu(x, approximate=True),
                (s4,), ranges=((-4.0, 2.0),), modes=("int8",),
                expect=("GELU",)),
        QuantOp("gelu_16x8", lambda x: tf.nn.gelu(x, approximate=False),
                (s4,), ranges=((-4.0, 2.0),), modes=("int16",),
                expect=("GELU",)),
        QuantOp("log_softmax", tf.nn.log_softmax, ((3, 10),),
                modes=("int8",), expect=("LOG_SOFTMAX",)),
        QuantOp("abs", tf.abs, (s4,), expect=("ABS",)),
        QuantOp("prelu", lambda x: prelu(x), (s4,), modes=("int8",),
                expect=("PRELU",)),
        QuantOp("exp", tf.exp, (s4,), ranges=((-3.0, 1.5),),
                expect=("EXP",)),
        QuantOp("log", tf.math.log, (s4,), ranges=((0.05, 6.0),),
                expect=("LOG",)),
        QuantOp("rsqrt", tf.math.rsqrt, (s4,), ranges=((0.05, 6.0),),
                expect=("RSQRT",), nonnegative=True),
        QuantOp("sqrt", tf.sqrt, (s4,), ranges=((0.05, 6.0),),
                modes=("int8",), expect=("SQRT",), nonnegative=True),
        QuantOp("hard_swish", lambda x: x * tf.nn.relu6(x + 3.0) / 6.0,
                (s4,), modes=("int8",), expect=("HARD_SWISH",)),
        # Swish as TF's converter writes it (EfficientNet): LOGISTIC and
        # MUL, which kiln's passes make one table lookup on int8.
        QuantOp("swish", lambda x: x * tf.sigmoid(x), (s4,),
                ranges=((-6.0, 4.0),), expect=("LOGISTIC", "MUL")),
        QuantOp("swish_reversed", lambda x: tf.sigmoid(x) * x, (s4,),
                ranges=((-6.0, 4.0),), expect=("LOGISTIC", "MUL")),
        QuantOp("softmax", tf.nn.softmax, ((3, 10),), expect=("SOFTMAX",)),
        QuantOp("softmax_wide", tf.nn.softmax, ((2, 3, 300),),
                ranges=((-20.0, 12.0),), expect=("SOFTMAX",)),
        QuantOp("l2_normalization",
                lambda x: tf.math.l2_normalize(x, axis=-1), ((4, 3, 40),),
                modes=("int8",), expect=("L2_NORMALIZATION",)),
        QuantOp("mean", lambda x: tf.reduce_mean(x, axis=[1, 2]), (img,),
                expect=("MEAN",)),
        QuantOp("mean_keep", lambda x: tf.reduce_mean(x, axis=[1, 2],
                                                      keepdims=True),
                (img,), expect=("MEAN",)),
        QuantOp("mean_last", lambda x: tf.reduce_mean(x, axis=-1), (s4,),
                expect=("MEAN",)),
        QuantOp("sum", lambda x: tf.reduce_sum(x, axis=[2]), (s4,),
                expect=("SUM",), default_only=True),
        QuantOp("reduce_max", lambda x: tf.reduce_max(x, axis=[0, 3]),
                (s4,), expect=("REDUCE_MAX",)),
        QuantOp("reduce_min", lambda x: tf.reduce_min(x, axis=[1, 3]),
                (s4,), expect=("REDUCE_MIN",)),
        QuantOp("reduce_prod", lambda x: tf.reduce_prod(x, axis=[2]),
                (s4,), ranges=((0.5, 1.5),), expect=("REDUCE_PROD",)),
        # a divisor kept away from zero (stored values cover the range)
        QuantOp("div", lambda a, b: a / (b * b + 0.5), (s4, (6, 3)),
                modes=("int8",), expect=("DIV",)),
        QuantOp("arg_max", lambda x: tf.argmax(x, axis=2), (s4,),
                modes=("int8",), expect=("ARG_MAX",)),
        QuantOp("concat", lambda a, b: tf.concat([a, b], axis=3),
                (s4, s4), expect=("CONCATENATION",)),
        QuantOp("pad", lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 0], [0, 1]]),
                (s4,), expect=("PAD",)),
        QuantOp("reshape", lambda x: tf.reshape(x, (10, 18)), (s4,),
                expect=("RESHAPE",)),
        QuantOp("transpose", lambda x: tf.transpose(x, (0, 3, 1, 2)), (s4,),
                expect=("TRANSPOSE",)),
        QuantOp("resize_bilinear",
                lambda x: tf.image.resize(x, (13, 7), "bilinear"), (img,),
                expect=("RESIZE_BILINEAR",)),
        QuantOp("resize_nearest",
                lambda x: tf.image.resize(x, (16, 5), "nearest"), (img,),
                expect=("RESIZE_NEAREST_NEIGHBOR",)),
        QuantOp("strided_slice", lambda x: x[:, 1:4, ::2, :], (s4,),
                expect=("STRIDED_SLICE",)),
        QuantOp("gather", lambda x: tf.gather(x, [2, 0, 4, 4], axis=1),
                (s4,), expect=("GATHER",)),
        QuantOp("pack", lambda a, b: tf.stack([a, b], axis=1), (s4, s4),
                ranges=((-1.0, 3.0),), expect=("PACK",)),
        QuantOp("unpack", lambda x: tf.unstack(x, axis=2)[1:4], (s4,),
                expect=("UNPACK",)),
        QuantOp("split", lambda x: tf.split(x, 3, axis=2), (s4,),
                expect=("SPLIT",)),
        QuantOp("split_v", lambda x: tf.split(x, [1, 3, 2], axis=2), (s4,),
                expect=("SPLIT_V",)),
        QuantOp("slice", lambda x: tf.slice(x, [0, 1, 2, 0], [2, 3, 3, 2]),
                (s4,), expect=("SLICE",)),
        QuantOp("squeeze", lambda x: tf.squeeze(x, axis=1),
                ((3, 1, 4, 2),), expect=("RESHAPE",)),
        QuantOp("expand_dims", lambda x: tf.expand_dims(x, 2), (s4,),
                expect=("RESHAPE",)),
        QuantOp("mirror_pad",
                lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]],
                                 mode="REFLECT"),
                (s4,), expect=("MIRROR_PAD",)),
        QuantOp("padv2",
                lambda x: tf.pad(x, [[0, 0], [1, 1], [0, 2], [0, 0]],
                                 constant_values=1.5),
                (s4,), modes=("int8",), expect=("PADV2",)),
        QuantOp("broadcast_to", lambda x: tf.broadcast_to(x, (2, 5, 6, 3)),
                ((5, 1, 3),), expect=("BROADCAST_TO",)),
    ]


def ops() -> Sequence[QuantOp]:
    return _ops()


def convert(op: QuantOp, mode: str, seed: int = 0) -> bytes:
    """The op as a fully quantized .tflite (int8 or 16x8 activations)."""
    tf = _tf()
    specs = [tf.TensorSpec(s, tf.float32) for s in op.shapes]
    fn = tf.function(op.fn, input_signature=specs)
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [fn.get_concrete_function()], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(seed)
    ranges = op.ranges

    def representative():
        for _ in range(32):
            yield [rng.uniform(*ranges[i % len(ranges)], s).astype(np.float32)
                   for i, s in enumerate(op.shapes)]

    conv.representative_dataset = representative
    if mode == "int8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    else:
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.
            EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = tf.int16
        conv.inference_output_type = tf.int16
    return conv.convert()


def main(argv: Sequence[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(argv[1:])
    for op in ops():
        if wanted and op.name not in wanted:
            continue
        for mode in op.modes:
            path = out / f"{op.name}_{mode}.tflite"
            try:
                path.write_bytes(convert(op, mode))
            except Exception as e:  # noqa: BLE001 (a survey: report, go on)
                print(f"{path.name}: conversion failed: {e}"[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
