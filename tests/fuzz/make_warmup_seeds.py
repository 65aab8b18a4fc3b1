"""Writes the seeds of fuzz_warmup: small TF Serving warm-up files
(TFRecord files of PredictionLog messages) made with TF Serving's protos.
Run: python3 tests/fuzz/make_warmup_seeds.py"""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import numpy as np  # noqa: E402

import test_serve_warmup as W  # noqa: E402


def main():
    out = HERE / "corpus" / "warmup"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    W._warmup_file(out / "two_requests", [
        W._predict_log({"features": rng.random((1, 4), np.float32)}),
        W._predict_log({"a": np.arange(6, dtype=np.int32).reshape(2, 3),
                        "b": np.array([b"x", b"yz"])}),
    ])
    W._warmup_file(out / "classify", [W._classify_log()])


if __name__ == "__main__":
    main()
