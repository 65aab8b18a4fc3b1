"""Keras files loaded directly (issue 12): every model of the Keras zoo
(kiln_e2e.MODELS) and a set of layer-coverage models are saved as .h5
(legacy HDF5) and .keras (Keras 3 archive); kiln's outputs on fresh random
inputs must match Keras's own predict within 1e-4 relative, and the two
files of a model must give kiln the same outputs. Bad files (a Lambda
layer, a custom layer, channels_first, a damaged file) get a clear error
naming the layer, never a crash."""
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K

TOLERANCE = 1e-4


def _keras():
    import keras
    return keras


# ----------------------------------------------------- layer-coverage models

def build_layers_conv():
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((20, 18, 6), name="image")
    x = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = L.SeparableConv2D(8, 3, depth_multiplier=2, activation="swish")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                          activation="relu6")(x)
    x = L.Conv2D(12, (3, 1), dilation_rate=(2, 1), padding="same",
                 activation="gelu")(x)
    x = L.Conv2D(12, 3, groups=3, padding="same", activation="hard_sigmoid")(x)
    x = L.Cropping2D(((1, 0), (2, 1)))(x)
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    x = L.PReLU(shared_axes=[1, 2])(x)
    x = L.LayerNormalization()(x)
    x = L.Conv2DTranspose(6, 3, strides=2, padding="valid",
                          activation="elu")(x)
    x = L.UpSampling2D((2, 3))(x)
    x = L.BatchNormalization(center=False)(x)
    x = L.LeakyReLU(negative_slope=0.1)(x)
    x = L.GlobalMaxPooling2D(keepdims=True)(x)
    x = L.Flatten()(x)
    out = L.Dense(7, activation="log_softmax")(x)
    return keras.Model(inp, out, name="layers_conv")


def build_layers_sequence():
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((30, 5), name="series")
    x = L.Conv1D(8, 5, padding="causal", dilation_rate=2, activation="tanh")(x)
    x = L.ZeroPadding1D((2, 1))(x)
    x = L.Conv1D(8, 3, strides=2, activation="elu")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.AveragePooling1D(2, padding="same")(x)
    x = L.Permute((2, 1))(x)
    x = L.Reshape((-1, 2))(x)
    x = L.Dense(6, activation="sigmoid")(x)
    x = L.Dropout(0.5)(x)
    x = L.GlobalAveragePooling1D()(x)
    out = L.ReLU(max_value=0.6, negative_slope=0.1)(x)
    return keras.Model(inp, out, name="layers_sequence")


def build_layers_merge():
    """Several named inputs and outputs, a shared layer, a nested model,
    every merge layer and the preprocessing layers."""
    keras = _keras()
    L = keras.layers
    a = keras.Input((8, 8, 3), name="left")
    b = keras.Input((8, 8, 3), name="right")
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in,
                        L.Conv2D(4, 3, padding="same", activation="relu")(
                            L.Rescaling(1 / 127.5, offset=-1)(inner_in)),
                        name="inner")
    shared = L.Dense(4, name="shared")
    fa, fb = inner(a), inner(b)
    fa2, fb2 = shared(fa), shared(fb)
    s = L.Add()([fa2, fb2, fa])
    d = L.Subtract()([fa2, fb2])
    m = L.Multiply()([fa2, fb2])
    v = L.Average()([fa2, fb2, s])
    mx = L.Maximum()([d, m])
    mn = L.Minimum()([d, m, v])
    c = L.Concatenate(axis=-1)([s, d, m, v, mx, mn])
    norm = L.Normalization(mean=[0.1 * i for i in range(24)],
                           variance=[1.0 + 0.05 * i for i in range(24)])(c)
    pooled = L.GlobalAveragePooling2D()(norm)
    first = L.Dense(3, activation="softmax", name="first")(pooled)
    second = L.Activation("swish", name="second")(L.Dense(5)(pooled))
    return keras.Model([a, b], [first, second], name="layers_merge")


def build_layers_sequential():
    keras = _keras()
    L = keras.layers
    return keras.Sequential([
        keras.Input((12,), name="x"),
        L.Dense(16, activation="relu"),
        L.BatchNormalization(),
        L.Reshape((4, 4)),
        L.Flatten(),
        L.Dense(3),
        L.Softmax(),
    ], name="layers_sequential")


def build_layers_text():
    keras = _keras()
    L = keras.layers
    tokens = keras.Input((10,), dtype="int32", name="tokens")
    e = L.Embedding(50, 8)(tokens)
    e = L.LayerNormalization(epsilon=1e-5)(e)
    e = L.Dense(8, activation="relu")(e)
    out = L.GlobalAveragePooling1D()(e)
    return keras.Model(tokens, out, name="layers_text")


def build_layers_attention():
    """A small transformer block: self attention (key_dim != value_dim),
    cross attention with a key of its own (by keyword; named "key", which
    the legacy file's weight names make ambiguous), causal self attention
    returning its scores (no bias, output_shape), Add, LayerNormalization
    and Dense; and one block inside a nested model (its legacy weight
    names are "attention/query/kernel" in the nested model's group)."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((12, 16), name="sequence")
    memory = keras.Input((7, 10), name="memory")
    a = L.MultiHeadAttention(num_heads=2, key_dim=8, value_dim=6,
                             name="self_attention")(x, x)
    x = L.LayerNormalization(epsilon=1e-5)(L.Add()([x, a]))
    block_in = keras.Input((12, 16))
    block_out = L.MultiHeadAttention(num_heads=4, key_dim=4,
                                     name="attention")(block_in, block_in)
    block = keras.Model(block_in, L.Add()([block_in, block_out]),
                        name="encoder")
    x = block(x)
    k = L.Dense(9, name="memory_key")(memory)
    c = L.MultiHeadAttention(num_heads=4, key_dim=5, value_dim=3,
                             name="key")(query=x, value=memory, key=k)
    x = L.LayerNormalization()(L.Add()([x, c]))
    y, scores = L.MultiHeadAttention(
        num_heads=2, key_dim=4, use_bias=False, output_shape=20,
        name="causal")(x, x, use_causal_mask=True,
                       return_attention_scores=True)
    out = L.Dense(8, activation="relu", name="head")(
        L.Concatenate()([x, y]))
    scores = L.Flatten(name="scores")(scores)
    return keras.Model([inp, memory], [out, scores], name="layers_attention")


def build_layers_ops():
    """Operations on tensors (Keras 3 writes each as a keras.src.ops
    layer: TrueDivide with a number on either side, Subtract from a number,
    Negative, Absolute, Sqrt, Exp, Tanh, Power, Transpose, Matmul, Mean),
    Cropping1D, UpSampling1D, LayerNormalization over two axes and
    GlobalAveragePooling1D with keepdims."""
    keras = _keras()
    L = keras.layers
    ops = keras.ops
    x = inp = keras.Input((10, 6), name="series")
    x = L.Cropping1D((2, 1))(x)
    x = L.UpSampling1D(3)(x)
    x = L.LayerNormalization(axis=[1, 2])(x)
    a = x / 2.0
    b = 1.5 / (ops.abs(x) + 1.0)
    c = 1.0 - ops.tanh(x)
    d = ops.sqrt(ops.exp(-x)) + x ** 2
    m = ops.matmul(ops.transpose(a, (0, 2, 1)), b)
    m = L.LayerNormalization(axis=[-2, -1], center=False)(m)
    mean = ops.mean(c * d, axis=1, keepdims=True)
    mean = mean + L.GlobalAveragePooling1D(keepdims=True)(d)
    out = L.Dense(4, name="out")(L.Flatten()(m) + ops.mean(mean, axis=-1))
    return keras.Model(inp, out, name="layers_ops")


LAYER_MODELS = {
    "layers_conv": build_layers_conv,
    "layers_sequence": build_layers_sequence,
    "layers_merge": build_layers_merge,
    "layers_sequential": build_layers_sequential,
    "layers_text": build_layers_text,
    "layers_attention": build_layers_attention,
    "layers_ops": build_layers_ops,
}

# Models whose layers reshape by the batch: run at batch 1 and 3.
BOTH_BATCHES = {"layers_attention", "layers_ops"}


def _randomize(model, seed):
    """Non-trivial statistics for every normalization layer, and biases
    away from zero, so folding and bias handling are tested."""
    keras = _keras()
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False):
        for w in layer.weights:
            if "moving_variance" in w.path or w.path.endswith("/variance"):
                w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
            elif ("bias" in w.path or "beta" in w.path or
                  "moving_mean" in w.path or "gamma" in w.path or
                  "alpha" in w.path):
                w.assign(rng.normal(0.0, 0.2, w.shape).astype(np.float32)
                         + (1.0 if "gamma" in w.path else 0.0))
    del keras


def _random_inputs(model, rng, batch):
    inputs = {}
    for t in model.inputs:
        fixed = t.shape[0]
        shape = [batch if fixed is None else int(fixed)] + [
            int(d) for d in t.shape[1:]]
        name = t.name.split(":")[0]
        if "int" in str(t.dtype):
            hi = 50 if name == "tokens" and shape[1] == 10 else K.TEXT_VOCAB
            inputs[name] = rng.integers(0, hi, shape).astype(np.int32)
        else:
            inputs[name] = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    return inputs


def _layer_names(model):
    """The Keras output names kiln gives the outputs: the output layers'."""
    return [t._keras_history.operation.name for t in model.outputs]


_SAVED = {}


def _saved(name, tmp_path_factory):
    """The model built once and saved as .h5 and .keras."""
    if name in _SAVED:
        return _SAVED[name]
    keras = _keras()
    if name in K.MODELS:
        model = K.build_keras_model(K.MODELS[name])
    else:
        keras.utils.set_random_seed(sum(map(ord, name)))
        model = LAYER_MODELS[name]()
        _randomize(model, sum(map(ord, name)))
    directory = tmp_path_factory.mktemp(name)
    h5, archive = directory / f"{name}.h5", directory / f"{name}.keras"
    model.save(h5)
    model.save(archive)
    _SAVED[name] = (model, h5, archive)
    return _SAVED[name]


def _cases():
    cases = []
    for spec in K.MODELS.values():
        # The dict-output model is covered by layers_merge's list outputs;
        # its dict keys are not layer names.
        if spec.name == "dynamic_batch":
            continue
        marks = [pytest.mark.heavy] if spec.heavy else []
        cases.append(pytest.param(spec.name, marks=marks, id=spec.name))
    cases += [pytest.param(n, id=n) for n in LAYER_MODELS]
    return cases


@pytest.mark.parametrize("name", _cases())
def test_keras_files_match_keras(name, kiln_bin, tmp_path, tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    model, h5, archive = _saved(name, tmp_path_factory)
    rng, seed = K.make_rng()
    batch = 1 if name in K.MODELS and K.MODELS[name].heavy else 3
    for batch in (1, 3) if name in BOTH_BATCHES else (batch,):
        inputs = _random_inputs(model, rng, batch)
        feed = [inputs[t.name.split(":")[0]] for t in model.inputs]
        expected = model.predict(feed if len(feed) > 1 else feed[0],
                                 verbose=0)
        if not isinstance(expected, (list, tuple)):
            expected = [expected]
        names = _layer_names(model)
        reference = {n: np.asarray(e) for n, e in zip(names, expected)}
        outputs = {}
        for path in (h5, archive):
            got, _ = K.run_kiln(path, inputs,
                                tmp_path / f"{path.suffix[1:]}{batch}",
                                kiln_bin=kiln_bin)
            errors = K.compare_outputs(got, reference, tolerance=TOLERANCE)
            print(f"{name}{path.suffix} batch {batch} (seed {seed}): max rel "
                  "error "
                  + ", ".join(f"{k} {v:.2g}" for k, v in errors.items()))
            outputs[path.suffix] = got
        for key in outputs[".h5"]:
            np.testing.assert_array_equal(outputs[".h5"][key],
                                          outputs[".keras"][key])


# --------------------------------------------------------------- bad input

def _kiln_fails(kiln_bin, path, *needles):
    result = K.run_kiln_command(["info", str(path)], kiln_bin=kiln_bin)
    assert result.returncode not in (0,) and result.returncode < 128, (
        K.describe_exit(result))
    message = result.stderr
    for needle in needles:
        assert needle in message, message
    return message


def test_lambda_layer_is_refused_by_name(kiln_bin, tmp_path):
    keras = _keras()
    inp = keras.Input((4,), name="x")
    out = keras.layers.Lambda(lambda t: t * 2.0, name="doubler")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(out))
    for suffix in (".h5", ".keras"):
        path = tmp_path / f"lambda{suffix}"
        model.save(path)
        _kiln_fails(kiln_bin, path, "doubler", "Lambda")


def test_custom_layer_is_refused_by_name_and_class(kiln_bin, tmp_path):
    keras = _keras()

    @keras.saving.register_keras_serializable(package="kiln_test")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, Twice(name="twice")(inp))
    path = tmp_path / "custom.keras"
    model.save(path)
    _kiln_fails(kiln_bin, path, "twice", "Twice")


def test_damaged_files_give_clear_errors(kiln_bin, tmp_path,
                                         tmp_path_factory):
    _, h5, archive = _saved("mlp", tmp_path_factory)
    data = h5.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 3])
    _kiln_fails(kiln_bin, truncated, "truncated.h5")
    # A .keras archive whose weights file is missing.
    broken = tmp_path / "noweights.keras"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.namelist():
            if item != "model.weights.h5":
                dst.writestr(item, src.read(item))
    _kiln_fails(kiln_bin, broken, "model.weights.h5")
    # A config that is not JSON.
    badjson = tmp_path / "badjson.keras"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(badjson, "w") as dst:
        for item in src.namelist():
            body = src.read(item)
            dst.writestr(item, body[:40] if item == "config.json" else body)
    _kiln_fails(kiln_bin, badjson, "JSON")
    # Random bytes behind the signatures.
    rng = np.random.default_rng(5)
    for name, head in (("junk.h5", b"\x89HDF\r\n\x1a\n"),
                       ("junk.keras", b"PK\x03\x04")):
        path = tmp_path / name
        path.write_bytes(head + rng.bytes(4000))
        _kiln_fails(kiln_bin, path, name)


# ----------------------------------------------------------------- serving

def test_server_serves_keras_version_folders(kiln_bin, tmp_path,
                                             tmp_path_factory):
    """Version folders holding model.keras and model.h5 are served as TF
    Serving serves SavedModel versions; the answers match Keras."""
    import serve_util as S
    model, h5, archive = _saved("cnn", tmp_path_factory)
    base = tmp_path / "models" / "cnn"
    for version, source, name in ((1, archive, "model.keras"),
                                  (2, h5, "model.h5")):
        folder = base / str(version)
        folder.mkdir(parents=True)
        (folder / name).write_bytes(source.read_bytes())
    rng, _ = K.make_rng()
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=cnn",
                             "--file_system_poll_wait_seconds=1"],
                  tmp_path / "srv", grpc=True) as srv:
        srv.wait_available("cnn", 2)
        r = srv.post("/v1/models/cnn:predict", {"instances": x.tolist()})
        assert r.status_code == 200, r.text
        got = np.asarray(r.json()["predictions"], np.float32)
        assert K.max_rel_error(got, expected) <= TOLERANCE
        meta = srv.http.get(srv.url + "/v1/models/cnn/metadata").json()
        inputs = meta["metadata"]["signature_def"]["signature_def"][
            "serving_default"]["inputs"]
        assert list(inputs) == ["image"], meta
        # TF Serving's gRPC client, unchanged.
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import (predict_pb2,
                                             prediction_service_pb2_grpc)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "cnn"
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(x))
        with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as ch:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(ch)
            response = stub.Predict(request, timeout=60)
        name = _layer_names(model)[0]
        got = tf.make_ndarray(response.outputs[name])
        assert K.max_rel_error(got, expected) <= TOLERANCE


def test_convert_and_quantize_keras_files(kiln_bin, tmp_path,
                                          tmp_path_factory):
    """kiln convert writes a Keras model as .tflite that LiteRT runs to
    Keras's outputs; kiln quantize takes the Keras file as it is."""
    model, h5, archive = _saved("cnn", tmp_path_factory)
    rng, _ = K.make_rng()
    x = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    for source in (h5, archive):
        out = tmp_path / f"{source.suffix[1:]}.tflite"
        r = K.run_kiln_command(["convert", str(source), "-o", str(out)],
                               kiln_bin=kiln_bin)
        assert r.returncode == 0, r.stderr
        got = K.run_litert(out, {"image": x})
        assert K.max_rel_error(list(got.values())[0], expected) <= TOLERANCE
    cal = tmp_path / "cal.npz"
    np.savez(cal, image=rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32))
    q = tmp_path / "cnn.int8.tflite"
    r = K.run_kiln_command(["quantize", str(archive), "-o", str(q), "--mode",
                            "int8", "--calibration", str(cal)],
                           kiln_bin=kiln_bin)
    assert r.returncode == 0, r.stderr
    got = list(K.run_litert(q, {"image": x}).values())[0]
    # int8: the class scores stay close to the float model's.
    assert np.max(np.abs(got - expected)) < 0.1
