"""Writes the seed corpus of fuzz_tf_proto (the saved_model.pb reader) into
tests/fuzz/corpus/tf_proto/: the saved_model.pb of a few small SavedModels
TensorFlow writes (constants of several dtypes in tensor_content and in
typed fields, two signatures, a variable with its save and restore
functions), each under 20 KB. The seeds are committed; run this again
after changing it:
    python3 tests/fuzz/make_tf_proto_seeds.py"""
import os
import tempfile

import numpy as np
import tensorflow as tf

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                      "tf_proto")
LIMIT = 20 * 1024


class Consts(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32,
                                                name="x")])
    def f(self, x):
        y = x * tf.constant([1.5, -2.0]) + tf.constant(0.5, shape=[2])
        h = tf.cast(y, tf.float16) + tf.constant([1, 2], tf.float16)
        b = tf.constant(np.array([[True], [False]]))
        i = tf.constant(np.arange(4, dtype=np.int64).reshape(2, 2))
        return {"y": tf.where(tf.reduce_any(b), tf.cast(h, tf.float32), y),
                "i": i + tf.constant(3, tf.int64, shape=[2, 2])}


class TwoSignatures(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="n")])
    def count(self, n):
        return {"out": n + tf.constant(1, tf.int32)}

    @tf.function(input_signature=[tf.TensorSpec([3], tf.uint8, name="u"),
                                  tf.TensorSpec(None, tf.bfloat16, name="b")])
    def mixed(self, u, b):
        return {"u": u + tf.constant([1, 2, 3], tf.uint8),
                "b": b * tf.constant(2.0, tf.bfloat16)}


class WithVariable(tf.Module):
    def __init__(self):
        super().__init__()
        self.v = tf.Variable(np.ones((2,), np.float32))

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def f(self, x):
        return x * self.v


def main():
    os.makedirs(FOLDER, exist_ok=True)
    consts, two, var = Consts(), TwoSignatures(), WithVariable()
    models = {
        "consts": (consts, {"serving_default": consts.f}),
        "two_signatures": (two, {"count": two.count, "mixed": two.mixed}),
        "variable": (var, {"serving_default": var.f}),
    }
    for name, (module, signatures) in models.items():
        with tempfile.TemporaryDirectory() as folder:
            tf.saved_model.save(module, folder, signatures=signatures)
            with open(os.path.join(folder, "saved_model.pb"), "rb") as f:
                data = f.read()
        if len(data) > LIMIT:
            print(f"{name}: {len(data)} bytes, over {LIMIT}: skipped")
            continue
        with open(os.path.join(FOLDER, name + ".pb"), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
