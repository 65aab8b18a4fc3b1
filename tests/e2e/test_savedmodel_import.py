"""SavedModel folders loaded directly (issue 12, part 2): the small Keras
zoo models (kiln_e2e.MODELS, random weights) are written with
tf.saved_model.save(model, dir) and model.export(dir); kiln's outputs on
fresh random inputs must match TensorFlow's own run of the loaded
serving_default signature within 1e-4 relative, keyed by the signature's
output names. A tf.Module with two signatures serves serving_default. Bad
folders (a missing variables shard, a damaged index, an op kiln lacks)
get a clear error, never a crash."""
import os
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K

TOLERANCE = 1e-4
SMALL_ZOO = ["mlp", "cnn", "mobilenet_v2_035", "mobilenet_v3_small", "unet",
             "text_classifier", "quant_core", "dynamic_batch"]


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


def _feed(spec, signature, rng, batch=1):
    """Random inputs for the signature's TensorSpecs, by the spec's kind."""
    tf = _tf()
    feed = {}
    for name, ts in sorted(signature.structured_input_signature[1].items()):
        shape = [batch if d is None else d for d in ts.shape.as_list()]
        if ts.dtype.is_integer:
            feed[name] = rng.integers(0, max(spec.vocab, 2), shape).astype(
                ts.dtype.as_numpy_dtype)
        elif spec.inputs == "image":
            feed[name] = rng.uniform(0, 255, shape).astype(np.float32)
        else:
            feed[name] = rng.uniform(-1, 1, shape).astype(np.float32)
        assert ts.dtype in (tf.float32, tf.int32), ts
    return feed


def _serving(saved_dir):
    return _tf().saved_model.load(str(saved_dir)).signatures[
        "serving_default"]


def _reference(saved_dir, feed, fn=None):
    """TensorFlow's outputs of serving_default (loaded from saved_dir
    unless given)."""
    tf = _tf()
    fn = fn or _serving(saved_dir)
    out = fn(**{k: tf.constant(v) for k, v in feed.items()})
    return {k: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module")
def zoo_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("savedmodels")
    tf = _tf()
    dirs = {}
    for name in SMALL_ZOO:
        model = K.build_keras_model(K.MODELS[name])
        tf.saved_model.save(model, str(root / f"{name}_save"))
        model.export(str(root / f"{name}_export"), verbose=False)
        dirs[name] = (root / f"{name}_save", root / f"{name}_export")
    return dirs


@pytest.mark.parametrize("how", ["save", "export"])
@pytest.mark.parametrize("name", SMALL_ZOO)
def test_zoo_savedmodel_matches_tensorflow(name, how, zoo_dirs, kiln_bin,
                                           tmp_path):
    spec = K.MODELS[name]
    saved_dir = zoo_dirs[name][0 if how == "save" else 1]
    rng, _ = K.make_rng()
    signature = _serving(saved_dir)
    feed = _feed(spec, signature, rng)
    expected = _reference(saved_dir, feed, signature)
    got, _ = K.run_kiln(saved_dir, feed, tmp_path, kiln_bin=kiln_bin)
    errors = K.compare_outputs(got, expected, tolerance=TOLERANCE)
    print(f"{name} ({how}): max relative error "
          f"{max(errors.values()):.3g}")


class TwoSignatures:
    """A tf.Module whose serving_default and a second signature differ."""

    @staticmethod
    def build():
        tf = _tf()

        class M(tf.Module):
            def __init__(self):
                super().__init__()
                rng = np.random.default_rng(5)
                self.w = tf.Variable(rng.normal(size=(6, 3)).astype(
                    np.float32))
                self.b = tf.Variable(rng.normal(size=(3,)).astype(
                    np.float32))

            @tf.function(input_signature=[tf.TensorSpec([None, 6],
                                                         tf.float32)])
            def serve(self, x):
                return {"scores": tf.nn.relu(tf.matmul(x, self.w) + self.b)}

            @tf.function(input_signature=[tf.TensorSpec([None, 6],
                                                         tf.float32)])
            def other(self, x):
                return {"other": tf.tanh(x) * 2.0}

        return M()


def test_module_with_two_signatures_serves_serving_default(kiln_bin,
                                                           tmp_path):
    tf = _tf()
    m = TwoSignatures.build()
    d = tmp_path / "two"
    tf.saved_model.save(m, str(d), signatures={"serving_default": m.serve,
                                               "other": m.other})
    x = np.random.default_rng(1).uniform(-1, 1, (2, 6)).astype(np.float32)
    expected = _reference(d, {"x": x})
    assert list(expected) == ["scores"]
    got, _ = K.run_kiln(d, {"x": x}, tmp_path / "run", kiln_bin=kiln_bin)
    K.compare_outputs(got, expected, tolerance=TOLERANCE)


def _small_module_dir(tmp_path, body=None):
    tf = _tf()

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.ones((4, 2), np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def serve(self, x):
            y = tf.matmul(x, self.w)
            return {"y": body(y) if body else y}

    m = M()
    d = tmp_path / "small"
    tf.saved_model.save(m, str(d), signatures={"serving_default": m.serve})
    return d


def _kiln_error(kiln_bin, d):
    result = K.run_kiln_command(["info", str(d)], kiln_bin=kiln_bin)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    assert result.returncode < 128, K.describe_exit(result)
    return result.stderr


def test_missing_variables_shard_is_named(kiln_bin, tmp_path):
    d = _small_module_dir(tmp_path)
    shard = next((d / "variables").glob("variables.data-*"))
    shard.unlink()
    err = _kiln_error(kiln_bin, d)
    assert shard.name in err, err


def test_damaged_index_is_refused(kiln_bin, tmp_path):
    d = _small_module_dir(tmp_path)
    index = d / "variables" / "variables.index"
    data = bytearray(index.read_bytes())
    for i in range(8, len(data) - 48, 7):
        data[i] ^= 0x5A
    index.write_bytes(bytes(data))
    err = _kiln_error(kiln_bin, d)
    assert "variables.index" in err, err


def test_unsupported_op_is_named(kiln_bin, tmp_path):
    tf = _tf()
    d = _small_module_dir(tmp_path, body=lambda y: tf.math.cumprod(y, axis=1))
    err = _kiln_error(kiln_bin, d)
    assert "(op Cumprod) is not supported" in err, err


def test_folder_without_saved_model_keeps_its_error(kiln_bin, tmp_path):
    result = K.run_kiln_command(["info", str(tmp_path)], kiln_bin=kiln_bin)
    assert result.returncode != 0
    assert "not a regular file" in result.stderr, result.stderr


def _op_coverage_module():
    """One tf.function over the ops the Keras zoo does not reach (explicit
    padding, depthwise, fused batch norm, pools, resize, slicing, batch
    matmul, gather, reductions, elementwise math), random weights."""
    tf = _tf()
    rng = np.random.default_rng(7)

    def var(*shape, lo=-1.0, hi=1.0):
        return tf.Variable(rng.uniform(lo, hi, shape).astype(np.float32))

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = var(3, 2, 4, 5)
            self.b = var(5)
            self.dw = var(3, 3, 4, 2)
            self.scale, self.offset = var(4), var(4)
            self.mean, self.var = var(4), var(4, lo=0.5, hi=1.5)
            self.bmm = var(1, 20, 6)
            self.table = var(10, 6)

        @tf.function(input_signature=[
            tf.TensorSpec([1, 8, 8, 4], tf.float32),
            tf.TensorSpec([1, 5], tf.int32)])
        def serve(self, x, ids):
            a = tf.nn.conv2d(x, self.k, strides=1,
                             padding=[[0, 0], [1, 2], [2, 1], [0, 0]])
            a = tf.nn.elu(tf.nn.bias_add(a, self.b))
            d = tf.nn.selu(tf.nn.depthwise_conv2d(
                x, self.dw, strides=[1, 2, 2, 1], padding="SAME"))
            p = tf.nn.avg_pool2d(x, 2, 2, "VALID")
            bn = tf.compat.v1.nn.fused_batch_norm(
                p, self.scale, self.offset, self.mean, self.var,
                epsilon=0.001, is_training=False)[0]
            c = tf.concat([d, bn, tf.nn.softplus(p),
                           tf.nn.leaky_relu(p, 0.3),
                           tf.nn.max_pool2d(x, 3, 2, "SAME")], axis=-1)
            r = tf.image.resize(c, [6, 6], method="nearest")
            t = tf.transpose(r, [0, 2, 1, 3])[:, 1:5, ::2, :]
            s = tf.slice(t, [0, 0, 0, 0], [1, 3, 3, 24])
            m = tf.reduce_sum(s, axis=[1, 2])
            mx = tf.reduce_max(s, axis=[1, 2])
            q = tf.maximum(m, mx) / (tf.square(tf.minimum(m, mx)) + 1.0)
            e = (tf.exp(-tf.abs(q)) + tf.math.log(tf.sqrt(tf.square(q) + 1.0))
                 + tf.pow(tf.square(q) + 1.0, 0.5) - tf.math.rsqrt(
                     tf.square(q) + 2.0))
            mm = tf.squeeze(tf.linalg.matmul(tf.expand_dims(e[:, :20], 1),
                                             self.bmm), axis=1)
            g = tf.reduce_mean(tf.gather(self.table, ids, axis=0), axis=1)
            h = tf.nn.relu6(mm + g) - tf.nn.relu(g - mm)
            pad = tf.pad(x, [[0, 0], [1, 1], [0, 0], [0, 0]])
            cast = tf.cast(tf.cast(pad * 4.0, tf.int32), tf.float32)
            return {"head": tf.stack([tf.sigmoid(h), tf.tanh(h)], axis=1),
                    "pad": tf.reduce_mean(pad * cast, axis=[1, 2]),
                    "conv": a}

    return M()


def test_op_coverage_module_matches_tensorflow(kiln_bin, tmp_path):
    tf = _tf()
    m = _op_coverage_module()
    d = tmp_path / "ops"
    tf.saved_model.save(m, str(d), signatures={"serving_default": m.serve})
    rng = np.random.default_rng(3)
    feed = {"x": rng.uniform(-1, 1, (1, 8, 8, 4)).astype(np.float32),
            "ids": rng.integers(0, 10, (1, 5)).astype(np.int32)}
    expected = _reference(d, feed)
    got, _ = K.run_kiln(d, feed, tmp_path / "run", kiln_bin=kiln_bin)
    errors = K.compare_outputs(got, expected, tolerance=TOLERANCE)
    print("op coverage: max relative error", max(errors.values()))


def test_nchw_is_refused_by_node_name(kiln_bin, tmp_path):
    tf = _tf()

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = tf.Variable(np.ones((3, 3, 4, 2), np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 4, 8, 8],
                                                    tf.float32)])
        def serve(self, x):
            return {"y": tf.nn.conv2d(x, self.k, 1, "SAME",
                                      data_format="NCHW", name="nchw_conv")}

    m = M()
    d = tmp_path / "nchw"
    tf.saved_model.save(m, str(d), signatures={"serving_default": m.serve})
    err = _kiln_error(kiln_bin, d)
    assert "nchw_conv" in err and "data_format NCHW is not supported" in err, \
        err


def test_unknown_batch_stays_dynamic_without_shape_ops(zoo_dirs, kiln_bin,
                                                       tmp_path):
    """mlp's signature has batch None and no Shape op: kiln runs batch 3.
    dynamic_batch takes a Shape of it: kiln fixes the batch at 1 and says
    so for another batch rather than computing a wrong answer."""
    d = zoo_dirs["mlp"][1]
    sig = _serving(d)
    rng, _ = K.make_rng()
    feed = _feed(K.MODELS["mlp"], sig, rng, batch=3)
    expected = _reference(d, feed, sig)
    got, _ = K.run_kiln(d, feed, tmp_path / "mlp", kiln_bin=kiln_bin)
    K.compare_outputs(got, expected, tolerance=TOLERANCE)
    d = zoo_dirs["dynamic_batch"][1]
    feed = _feed(K.MODELS["dynamic_batch"], _serving(d), rng, batch=2)
    with pytest.raises(K.KilnError, match="dimension 0 is fixed"):
        K.run_kiln(d, feed, tmp_path / "dyn", kiln_bin=kiln_bin)


def test_erf_and_exact_gelu_match_tensorflow(kiln_bin, tmp_path):
    """kiln has no ERF operator: Erf is composed (Abramowitz-Stegun 7.1.26,
    within 1.5e-7), so exact GELU (Keras's default) loads."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2, 64], tf.float32)])
        def serve(self, x):
            return {"erf": tf.math.erf(x * 3.0),
                    "gelu": tf.nn.gelu(x * 4.0, approximate=False)}

    m = M()
    d = tmp_path / "erf"
    tf.saved_model.save(m, str(d), signatures={"serving_default": m.serve})
    x = np.random.default_rng(4).uniform(-1.5, 1.5, (2, 64)).astype(
        np.float32)
    x[0, :3] = [0.0, 1e-8, -1e-8]
    expected = _reference(d, {"x": x})
    got, _ = K.run_kiln(d, {"x": x}, tmp_path / "run", kiln_bin=kiln_bin)
    errors = K.compare_outputs(got, expected, tolerance=TOLERANCE)
    assert max(errors.values()) < 1e-6, errors
