"""Writes the seeds of fuzz_tensor_bundle (tests/fuzz/corpus/tensor_bundle/):
small TensorBundle indexes TensorFlow wrote - a checkpoint of a few
variables of several dtypes and shapes, and a SavedModel's variables.index.
Run from the repository root: python3 tests/fuzz/make_tensor_bundle_seeds.py
"""
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "corpus" / "tensor_bundle"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    work = Path(tempfile.mkdtemp())
    try:
        small = tf.train.Checkpoint(
            w=tf.Variable(rng.standard_normal((2, 3)).astype(np.float32)),
            step=tf.Variable(np.int64(5)),
            flags=tf.Variable([True, False, True]),
            half=tf.Variable(np.ones((1, 2, 2, 1), np.float16)),
            bytes_=tf.Variable(np.arange(4, dtype=np.uint8)))
        prefix = small.write(str(work / "small"))
        shutil.copy(prefix + ".index", OUT / "checkpoint_small.index")

        many = tf.train.Checkpoint(v=[tf.Variable(np.zeros(2, np.int32))
                                      for _ in range(40)])
        prefix = many.write(str(work / "many"))
        shutil.copy(prefix + ".index", OUT / "checkpoint_40_variables.index")

        module = tf.Module()
        module.kernel = tf.Variable(np.zeros((4, 3), np.float32))
        module.bias = tf.Variable(np.zeros(3, np.float64))
        tf.saved_model.save(module, str(work / "saved"))
        shutil.copy(work / "saved" / "variables" / "variables.index",
                    OUT / "saved_model_variables.index")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
