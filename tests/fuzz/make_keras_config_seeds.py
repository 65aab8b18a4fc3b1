"""Writes the seeds of fuzz_keras_config: the config.json of small Keras
models (one per family of layers kiln builds), as Keras 3 writes them, and
one as tf.keras's legacy .h5 attribute holds it.
Run: python3 tests/fuzz/make_keras_config_seeds.py"""
import os
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import h5py  # noqa: E402

import test_keras_import as T  # noqa: E402
import kiln_e2e as K  # noqa: E402


def main():
    out = HERE / "corpus" / "keras_config"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "keras_config_seeds"
    tmp.mkdir(exist_ok=True)
    builders = dict(T.LAYER_MODELS)
    builders["mlp"] = K.build_mlp
    builders["cnn"] = K.build_cnn
    for name, build in builders.items():
        model = build()
        path = tmp / f"{name}.keras"
        model.save(path)
        with zipfile.ZipFile(path) as z:
            (out / f"{name}.json").write_bytes(z.read("config.json"))
    model = K.build_cnn()
    path = tmp / "cnn.h5"
    model.save(path)
    with h5py.File(path) as f:
        config = f.attrs["model_config"]
    (out / "cnn_legacy.json").write_bytes(
        config if isinstance(config, bytes) else config.encode())


if __name__ == "__main__":
    main()
