"""Builds kiln's bundled example: MobileNetV2 (alpha 0.35, 224x224, 1000
classes) with random weights, converted to a float32 .tflite by TensorFlow's
converter. Nothing is downloaded. Usage: make_demo_model.py OUT.tflite"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(path):
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), alpha=0.35, weights=None)
    # Freshly initialized batch norms are identities and the classifier's
    # logits come out nearly equal; random statistics give a varied top-5.
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.uniform(-0.2, 0.2, beta.shape).astype("float32"),
                rng.uniform(-0.2, 0.2, mean.shape).astype("float32"),
                rng.uniform(0.5, 1.5, var.shape).astype("float32")])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with open(path, "wb") as f:
        f.write(converter.convert())


if __name__ == "__main__":
    main(sys.argv[1])
