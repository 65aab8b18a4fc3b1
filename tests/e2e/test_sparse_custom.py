"""Sparse weights and custom operators: `kiln run` matches LiteRT.

Sparse: Keras models whose Dense / Conv2D weights are mostly zero (random
pruning, or the 1x4 block pattern TFLite's sparse FULLY_CONNECTED kernel
uses), converted with Optimize.EXPERIMENTAL_SPARSITY so the converter
stores them with SparsityParameters (a DENSIFY op in front of Conv2D).
kiln expands them at load; outputs must match LiteRT's on fresh random
inputs.
"""
import numpy as np
import pytest

import kiln_e2e as K


def _sparsity_of(path):
    """(tensors with sparsity parameters, number of SPARSE_CSR levels)."""
    model = K.load_model_object(path)
    sparse, csr = 0, 0
    for t in model.subgraphs[0].tensors:
        if t.sparsity is not None:
            sparse += 1
            csr += sum(1 for d in t.sparsity.dimMetadata if d.format == 1)
    return sparse, csr


def _prune(weights, rng, keep, block=None):
    """Zeroes all but a fraction `keep` of weights; `block` = (axis, n)
    zeroes whole runs of n along axis (Keras Dense kernels are [in, out],
    so TFLite's 1x4 blocks along the input are runs along axis 0)."""
    if block is None:
        return weights * (rng.random(weights.shape) < keep)
    axis, n = block
    shape = list(weights.shape)
    shape[axis] //= n
    mask = (rng.random(shape) < keep).repeat(n, axis=axis)
    return weights * mask


def _build(kind, seed):
    import contextlib
    import io
    import tensorflow as tf
    keras = K._keras()
    rng = np.random.default_rng(seed)
    if kind in ("dense_random", "dense_block"):
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48),
                                  keras.layers.Dense(16, activation="relu")])
    else:
        model = keras.Sequential([keras.Input((10, 10, 8)),
                                  keras.layers.Conv2D(16, 3, padding="same"),
                                  keras.layers.DepthwiseConv2D(3),
                                  keras.layers.Flatten(),
                                  keras.layers.Dense(8)])
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        block = (0, 4) if kind == "dense_block" else None
        weights[0] = _prune(weights[0], rng, 0.25, block)
        weights[-1] = rng.normal(size=weights[-1].shape).astype(np.float32)
        layer.set_weights(weights)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


SPARSE_KINDS = ["dense_random", "dense_block", "conv_random"]


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_sparse_weights_match_litert(model_cache, kiln_bin, tmp_path, kind):
    path = model_cache.custom(f"sparse_{kind}.tflite",
                              lambda: _build(kind, 1234))
    sparse, csr = _sparsity_of(path)
    assert sparse > 0 and csr > 0, (
        f"the converter stored no sparse tensor in {kind}")
    hist = K.op_histogram(path)
    print(f"{kind}: {sparse} sparse tensors, {csr} CSR levels, ops {dict(hist)}")
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"input seed {seed} (replay with KILN_E2E_SEED={seed})")
    for batch in (1, 3):
        feed = {}
        for sig in inputs:
            shape = tuple(batch if d == -1 else d for d in sig.shape)
            feed[sig.name] = rng.uniform(-1, 1, shape).astype(sig.dtype)
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"b{batch}",
                            kiln_bin=kiln_bin)
        errors = K.compare_outputs(got, ref, tolerance=1e-5)
        print(f"{kind} batch {batch}: " +
              ", ".join(f"{n}: {e:.3g}" for n, e in errors.items()))
