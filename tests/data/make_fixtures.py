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


if __name__ == "__main__":
    save(dynamic_batch_cnn(), "dynamic_batch_cnn.tflite")
    save(two_input_mlp(), "two_input_mlp.tflite")
