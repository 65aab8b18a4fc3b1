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


if __name__ == "__main__":
    save(dynamic_batch_cnn(), "dynamic_batch_cnn.tflite")
