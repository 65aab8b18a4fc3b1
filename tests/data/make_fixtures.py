"""Regenerates the small .tflite fixtures the C unit tests load (random
weights, made with TensorFlow's converter). Run from anywhere:
    python3 tests/data/make_fixtures.py
The fixtures are committed so the C tests need no Python at run time."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(converter.convert())


def dynamic_batch_cnn():
    """Dynamic batch; Flatten makes the converter compute the RESHAPE target
    from SHAPE at run time (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE)."""
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input(shape=(6, 6, 2), name="pixels")
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(5)(x)
    outputs = tf.keras.layers.Softmax(name="probabilities")(x)
    return tf.keras.Model(inputs, outputs)


def two_input_mlp():
    """Two inputs of two dtypes and two outputs, for the server's tests:
    float32 features [-1, 3] and int32 ids [-1, 2] (an embedding: GATHER
    fails at run time on an id out of range) -> logits and softmax."""
    tf.keras.utils.set_random_seed(4)
    features = tf.keras.Input(shape=(3,), name="features")
    ids = tf.keras.Input(shape=(2,), dtype="int32", name="ids")
    e = tf.keras.layers.Embedding(10, 2)(ids)
    e = tf.keras.layers.Flatten()(e)
    x = tf.keras.layers.Concatenate()([features, e])
    h = tf.keras.layers.Dense(4, activation="relu")(x)
    logits = tf.keras.layers.Dense(3, name="logits")(h)
    probs = tf.keras.layers.Softmax(name="probs")(logits)
    return tf.keras.Model([features, ids], [logits, probs])


def quantized_cnn():
    """Conv (3x3, 16 channels: enough weights for dynamic-range
    quantization to take it), depthwise, dense: the nodes whose quantized
    parameters the model builds at load."""
    tf.keras.utils.set_random_seed(5)
    inputs = tf.keras.Input(shape=(6, 6, 8), batch_size=1, name="pixels")
    x = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(
        inputs)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = tf.keras.layers.Flatten()(x)
    outputs = tf.keras.layers.Dense(40, name="scores")(x)
    return tf.keras.Model(inputs, outputs)


def save_quantized(model, name, integer):
    """Dynamic range (integer False: int8 weights, float activations) or
    full int8 with int8 input and output, calibrated on random inputs."""
    import numpy as np
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if integer:
        def calibration():
            rng = np.random.default_rng(0)
            for _ in range(4):
                yield [rng.uniform(-1, 1, (1, 6, 6, 8)).astype(np.float32)]
        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(converter.convert())


if __name__ == "__main__":
    save(dynamic_batch_cnn(), "dynamic_batch_cnn.tflite")
    save(two_input_mlp(), "two_input_mlp.tflite")
    save_quantized(quantized_cnn(), "quantized_cnn_int8.tflite", True)
    save_quantized(quantized_cnn(), "quantized_cnn_dynamic.tflite", False)
