"""int8 movement operators end to end: CONCATENATION, RESIZE_BILINEAR,
RESIZE_NEAREST_NEIGHBOR (and AVERAGE_POOL_2D) in a small Keras model that
TensorFlow's converter quantizes fully to int8 (TFLITE_BUILTINS_INT8).

The concatenation joins tensors of different ranges (a ReLU convolution, a
scaled linear one, the model's input), so the converter gives them
different scales and reconciles them for the int8 CONCATENATION; the
resizes cover Keras' UpSampling2D (bilinear, half-pixel centers) and
tf.image.resize (a 2x nearest and odd sizes up and down), and the align_corners
forms of tf.compat.v1. kiln's integer outputs must equal LiteRT's
reference kernels (BUILTIN_REF) on fresh random inputs, batch 1 and 2, and
`kiln profile` must show that kiln's int8 movement variants
(kernels/qelem) ran the nodes. LiteRT's default kernels are held to one
step, as in test_quant_models: its optimized convolution and requantize
differ from its own reference by one step now and then (measured: the
channels that come from the two convolutions, nearest outputs included,
so not the resizes), which kiln's exact outputs then differ by too.
"""
import numpy as np
import pytest

import kiln_e2e as K

IN_SHAPE = (12, 13, 5)


def build_model():
    import tensorflow as tf
    keras = K._keras()
    layers = keras.layers
    keras.utils.set_random_seed(11)
    inp = keras.Input(IN_SHAPE)
    a = layers.Conv2D(11, 3, padding="same", activation="relu")(inp)
    b = layers.Rescaling(4.0)(layers.Conv2D(7, 1)(inp))
    cat = layers.Concatenate()([a, b, inp])  # 23 channels, 3 ranges
    up_bilinear = layers.UpSampling2D(2, interpolation="bilinear")(cat)
    # (Keras' nearest UpSampling2D converts to TILE, not to the resize op,
    # and LiteRT's reference kernels lack int8 TILE: tf.image.resize.)
    up_nearest = layers.Lambda(
        lambda t: tf.image.resize(t, (24, 26), method="nearest"))(cat)
    odd_bilinear = layers.Lambda(
        lambda t: tf.image.resize(t, (17, 9), method="bilinear"))(cat)
    corners_bilinear = layers.Lambda(
        lambda t: tf.compat.v1.image.resize_bilinear(
            t, (23, 31), align_corners=True))(cat)
    corners_nearest = layers.Lambda(
        lambda t: tf.compat.v1.image.resize_nearest_neighbor(
            t, (7, 20), align_corners=True))(cat)
    odd_nearest = layers.Lambda(
        lambda t: tf.image.resize(t, (29, 5), method="nearest"))(cat)
    both = layers.Concatenate()([up_bilinear, up_nearest])
    pooled = layers.AveragePooling2D(3, strides=2, padding="same")(both)
    outputs = [both, odd_bilinear, corners_bilinear, corners_nearest,
               odd_nearest, pooled]
    return keras.Model(inp, outputs)


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    import contextlib
    import io
    import tensorflow as tf
    model = build_model()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8

    def calibration():
        rng = np.random.default_rng(5)
        for _ in range(8):
            yield [rng.uniform(-1, 3, (1,) + IN_SHAPE).astype(np.float32)]

    converter.representative_dataset = calibration
    with contextlib.redirect_stdout(io.StringIO()):
        data = converter.convert()
    path = tmp_path_factory.mktemp("quant_movement") / "movement_int8.tflite"
    path.write_bytes(data)
    return path


def test_model_has_the_ops(int8_model):
    ops = K.op_histogram(int8_model)
    assert ops["CONCATENATION"] >= 2, ops
    assert ops["RESIZE_BILINEAR"] >= 3, ops
    assert ops["RESIZE_NEAREST_NEIGHBOR"] >= 3, ops


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("resolver", ["BUILTIN_REF", None],
                         ids=["reference", "default"])
def test_equals_litert(int8_model, kiln_bin, tmp_path, batch, resolver):
    rng, seed = K.make_rng()
    print(f"seed {seed}")
    inputs, outputs = K.signature(int8_model)
    feed = {s.name: rng.integers(-128, 127, (batch,) + IN_SHAPE,
                                 endpoint=True).astype(np.int8)
            for s in inputs}
    want = K.run_litert(int8_model, feed, resolver=resolver)
    got, _ = K.run_kiln(int8_model, feed, tmp_path, kiln_bin=kiln_bin)
    assert len(want) == len(outputs) == 6
    for name, expected in want.items():
        mine = got[K.output_file_name(name)]
        assert expected.dtype == np.int8
        assert mine.shape == expected.shape and mine.dtype == expected.dtype
        steps = np.abs(mine.astype(np.int32) - expected.astype(np.int32))
        allowed = 0 if resolver else 1
        differ = int(np.count_nonzero(steps > allowed))
        assert differ == 0, (f"{name}: {differ} of {expected.size} values "
                             f"differ from LiteRT ({resolver or 'default'}) "
                             f"by more than {allowed} (seed {seed})")


def test_profile_names_the_variants(int8_model, kiln_bin):
    result = K.run_kiln_command(["profile", str(int8_model)],
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    for prefix in ("q8-concat-", "q8-resize-bilinear-",
                   "q8-resize-nearest-", "q8-avgpool-"):
        assert prefix in text, f"{prefix}* not in kiln profile:\n{text}"
