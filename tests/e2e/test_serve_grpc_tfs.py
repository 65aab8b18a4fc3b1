"""TF Serving's gRPC API of `kiln serve` (issue 10), driven with TF
Serving's own Python client (tensorflow-serving-api) as its documentation
shows: PredictionServiceStub and ModelServiceStub on a grpc channel,
requests filled with tf.make_tensor_proto and answers read with
tf.make_ndarray.

On the models the REST tests use (the MLP in two versions with labels,
the two-input two-output dynamic_batch model, the float16-input model)
and a model taking one input of each integer and float dtype kiln serves,
every answer is compared with REST's for the same inputs and with
LiteRT's. Errors (unknown model, bad dtype or shape, deadlines) carry
gRPC's status codes and no host path; metadata and status equal REST's
in content; HandleReloadConfigRequest changes the served set only under
--model_control_mode=explicit.
"""
import contextlib
import io

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (classification_pb2,
                                     get_model_metadata_pb2,
                                     get_model_status_pb2, model_management_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc,
                                     regression_pb2)

import kiln_e2e as K
import serve_util as S
from serve_util import SLOW
from test_serve import assert_close, models, rand, two_inputs  # noqa: F401

TIMEOUT = 30 * SLOW  # seconds a call may take (not a deadline under test)

DTYPES = {  # input name -> numpy dtype of the dtypes model
    "f64": np.float64, "i8": np.int8, "i16": np.int16, "i32": np.int32,
    "i64": np.int64, "u8": np.uint8, "flag": np.bool_,
}


def _dtypes_model():
    """One input of each dtype, each cast to float32 and summed per row;
    and the int32 and int64 inputs doubled in their own dtypes."""
    class Dtypes(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([None, 3], tf.as_dtype(t), name=n)
            for n, t in DTYPES.items()])
        def run(self, f64, i8, i16, i32, i64, u8, flag):
            parts = [tf.cast(v, tf.float32)
                     for v in (f64, i8, i16, i32, i64, u8, flag)]
            return {"total": tf.add_n(parts), "i32x2": i32 * 2,
                    "i64x2": i64 * 2}

    module = Dtypes()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.run.get_concrete_function()], module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def _convert(module):
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.run.get_concrete_function()], module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def _classifier_model():
    """x (float32 [batch, 4]) and k (int64 [batch, 1]) to softmax scores
    over 3 classes: a model Classify serves by kiln's rule."""
    rng = np.random.default_rng(20)
    w = tf.constant(rng.uniform(-1, 1, (4, 3)).astype(np.float32))

    class Classifier(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([None, 4], tf.float32, name="x"),
            tf.TensorSpec([None, 1], tf.int64, name="k")])
        def run(self, x, k):
            logits = tf.matmul(x, w) + tf.cast(k, tf.float32)
            return {"scores": tf.nn.softmax(logits)}

    return _convert(Classifier())


def _regressor_model():
    """x (float32 [batch, 4]) to one value per row ("outputs")."""
    rng = np.random.default_rng(21)
    w = tf.constant(rng.uniform(-1, 1, (4, 1)).astype(np.float32))

    class Regressor(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([None, 4], tf.float32, name="x")])
        def run(self, x):
            return {"outputs": tf.matmul(x, w) + 0.5}

    return _convert(Regressor())


def dtype_feed(n, seed):
    rng = np.random.default_rng(seed)
    feed = {}
    for name, dtype in DTYPES.items():
        if dtype == np.bool_:
            feed[name] = rng.integers(0, 2, (n, 3)).astype(bool)
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            feed[name] = rng.integers(max(info.min, -100),
                                      min(info.max, 100) + 1,
                                      (n, 3)).astype(dtype)
        else:
            feed[name] = rng.uniform(-5, 5, (n, 3)).astype(dtype)
    return feed


def config_text(entries):
    """A model_config_list; entries: (name, base, extra text) tuples."""
    body = "".join(
        f"  config {{ name: '{name}' base_path: '{base}' "
        f"model_platform: 'tensorflow' {extra} }}\n"
        for name, base, extra in entries)
    return "model_config_list {\n" + body + "}\n"


EXTRA = ("two", "fp16", "dtypes", "classifier", "regressor")


@pytest.fixture(scope="module")
def all_models(models, model_cache):  # noqa: F811
    return dict(models,
                dtypes=model_cache.custom("serve_dtypes.tflite",
                                          _dtypes_model),
                classifier=model_cache.custom("serve_classifier.tflite",
                                              _classifier_model),
                regressor=model_cache.custom("serve_regressor.tflite",
                                             _regressor_model))


@pytest.fixture(scope="module")
def server(kiln_bin, all_models, tmp_path_factory):
    """mlp (versions 1 and 2, labelled stable and canary), two, fp16,
    dtypes, classifier and regressor, on REST and gRPC."""
    root = tmp_path_factory.mktemp("grpc_tfs")
    S.add_version(root / "models" / "mlp", 1, all_models["mlp"])
    S.add_version(root / "models" / "mlp", 2, all_models["mlp_v2"])
    for name in EXTRA:
        S.add_version(root / "models" / name, 1, all_models[name])
    entries = [("mlp", root / "models" / "mlp",
                "model_version_policy { all {} } "
                "version_labels { key: 'stable' value: 1 } "
                "version_labels { key: 'canary' value: 2 }")]
    entries += [(n, root / "models" / n, "") for n in EXTRA]
    (root / "models.config").write_text(config_text(entries))
    srv = S.Server(kiln_bin, [f"--model_config_file={root / 'models.config'}",
                              "--file_system_poll_wait_seconds=1"], root,
                   grpc=True)
    with srv:
        srv.wait_available("mlp", 1)
        srv.wait_available("mlp", 2)
        for name in EXTRA:
            srv.wait_available(name, 1)
        srv.root = root
        yield srv


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_stub(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


def predict_request(model, feed, version=None, label=None, signature=None,
                    output_filter=()):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    if signature is not None:
        request.model_spec.signature_name = signature
    for name, value in feed.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    request.output_filter.extend(output_filter)
    return request


def outputs_of(response):
    return {name: tf.make_ndarray(t) for name, t in response.outputs.items()}


def rest_outputs(server, model, feed, suffix=""):
    """REST's columnar answer for the same inputs, by output name."""
    inputs = {k: v.tolist() for k, v in feed.items()}
    r = server.post(f"/v1/models/{model}{suffix}:predict", {"inputs": inputs})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"]
    return out if isinstance(out, dict) else {None: out}


def assert_same_as_rest(got, rest):
    """gRPC's outputs equal REST's (one unnamed output: the only one)."""
    if None in rest:
        assert len(got) == 1
        rest = {next(iter(got)): rest[None]}
    assert set(got) == set(rest)
    for name, value in got.items():
        want = np.asarray(rest[name], dtype=value.dtype)
        assert value.shape == want.shape, name
        np.testing.assert_array_equal(value, want, err_msg=name)


def grpc_error(call, *args, **kw):
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=kw.pop("timeout", TIMEOUT), **kw)
    return info.value


def assert_no_path(server, error):
    text = error.details() or ""
    assert str(server.root) not in text and "/tmp" not in text, text


# ===================================================== Predict


def test_predict_matches_litert_and_rest(server, stub, all_models):
    x = rand(3, 16, seed=1)
    response = stub.Predict(predict_request("mlp", {"features": x}),
                            timeout=TIMEOUT)
    got = outputs_of(response)
    want = K.run_litert(all_models["mlp_v2"], {"features": x})
    for name, value in want.items():
        assert got[name].dtype == np.float32
        assert_close(got[name], value, name)
    assert_same_as_rest(got, rest_outputs(server, "mlp", {"features": x}))
    # The answer names the version that answered and the signature.
    assert response.model_spec.name == "mlp"
    assert response.model_spec.version.value == 2
    assert response.model_spec.signature_name == "serving_default"


def test_two_inputs_two_outputs_and_output_filter(server, stub, all_models):
    feed = two_inputs(4, seed=2)
    got = outputs_of(stub.Predict(predict_request("two", feed),
                                  timeout=TIMEOUT))
    want = K.run_litert(all_models["two"], feed)
    assert set(got) == set(want) and len(want) == 2
    for name, value in want.items():
        assert_close(got[name], value, name)
    assert_same_as_rest(got, rest_outputs(server, "two", feed))
    first = sorted(want)[0]
    filtered = outputs_of(stub.Predict(
        predict_request("two", feed, output_filter=[first]),
        timeout=TIMEOUT))
    assert list(filtered) == [first]
    np.testing.assert_array_equal(filtered[first], got[first])


@pytest.mark.parametrize("how,suffix", [
    ({"version": 1}, "/versions/1"), ({"version": 2}, "/versions/2"),
    ({"label": "stable"}, "/labels/stable"),
    ({"label": "canary"}, "/labels/canary")])
def test_version_selection_as_rest(server, stub, how, suffix):
    x = rand(2, 16, seed=3)
    response = stub.Predict(predict_request("mlp", {"features": x}, **how),
                            timeout=TIMEOUT)
    assert_same_as_rest(outputs_of(response),
                        rest_outputs(server, "mlp", {"features": x}, suffix))
    number = how.get("version") or {"stable": 1, "canary": 2}[how["label"]]
    assert response.model_spec.version.value == number


def test_versions_answer_differently(stub):
    """Version selection is not a no-op: the two versions differ."""
    x = rand(2, 16, seed=4)
    one, two = (outputs_of(stub.Predict(
        predict_request("mlp", {"features": x}, version=v), timeout=TIMEOUT))
        for v in (1, 2))
    assert any(not np.array_equal(one[k], two[k]) for k in one)


def test_every_dtype(server, stub, all_models):
    feed = dtype_feed(5, seed=5)
    response = stub.Predict(predict_request("dtypes", feed), timeout=TIMEOUT)
    got = outputs_of(response)
    want = K.run_litert(all_models["dtypes"], feed)
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype, name
        np.testing.assert_allclose(got[name], value, rtol=1e-6, err_msg=name)
    assert_same_as_rest(got, rest_outputs(server, "dtypes", feed))


def test_float16_both_ways(stub, all_models):
    x = np.random.default_rng(6).uniform(-4, 4, (3, 4)).astype(np.float16)
    got = outputs_of(stub.Predict(predict_request("fp16", {"half": x}),
                                  timeout=TIMEOUT))
    want = K.run_litert(all_models["fp16"], {"half": x})
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value)


def test_one_value_fills_the_shape(stub, all_models):
    """make_tensor_proto(value, shape=...) sends one value in the typed
    field (float_val, half_val, int_val, ...): it fills the shape."""
    request = predict_request("mlp", {})
    request.inputs["features"].CopyFrom(
        tf.make_tensor_proto(0.25, dtype=tf.float32, shape=[2, 16]))
    got = outputs_of(stub.Predict(request, timeout=TIMEOUT))
    full = np.full((2, 16), 0.25, np.float32)
    want = K.run_litert(all_models["mlp_v2"], {"features": full})
    for name, value in want.items():
        assert_close(got[name], value, name)
    request = predict_request("fp16", {})
    request.inputs["half"].CopyFrom(
        tf.make_tensor_proto(1.5, dtype=tf.float16, shape=[2, 4]))
    got = outputs_of(stub.Predict(request, timeout=TIMEOUT))
    want = K.run_litert(all_models["fp16"],
                        {"half": np.full((2, 4), 1.5, np.float16)})
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value)
    feed = {n: v[:1, :1].reshape(()) for n, v in dtype_feed(1, 7).items()}
    request = predict_request("dtypes", {})
    for name, value in feed.items():
        request.inputs[name].CopyFrom(
            tf.make_tensor_proto(value, shape=[2, 3]))
        assert not request.inputs[name].tensor_content, name  # typed field
    got = outputs_of(stub.Predict(request, timeout=TIMEOUT))
    want = K.run_litert(all_models["dtypes"], {
        n: np.full((2, 3), v, DTYPES[n]) for n, v in feed.items()})
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-6, err_msg=name)


def test_typed_values_of_every_element(stub, all_models):
    """Values in float_val, one per element, rather than tensor_content."""
    x = rand(2, 16, seed=8)
    request = predict_request("mlp", {})
    t = request.inputs["features"]
    t.dtype = tf.float32.as_datatype_enum
    t.tensor_shape.CopyFrom(tf.TensorShape([2, 16]).as_proto())
    t.float_val.extend(x.ravel().tolist())
    got = outputs_of(stub.Predict(request, timeout=TIMEOUT))
    want = K.run_litert(all_models["mlp_v2"], {"features": x})
    for name, value in want.items():
        assert_close(got[name], value, name)


# ===================================================== errors


def test_unknown_model_is_not_found(server, stub):
    error = grpc_error(stub.Predict,
                       predict_request("nope", {"features": rand(1, 16)}))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error
    assert "nope" in error.details()
    error = grpc_error(stub.Predict, predict_request(
        "mlp", {"features": rand(1, 16)}, version=7))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error
    error = grpc_error(stub.Predict, predict_request(
        "mlp", {"features": rand(1, 16)}, signature="other"))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error


@pytest.mark.parametrize("feed,words", [
    ({"features": rand(2, 16).astype(np.float64)}, "float64"),
    ({"features": rand(2, 15)}, "shape"),
    ({"features": rand(2, 16), "extra": rand(1)}, "extra"),
    ({}, "features"),
    ({"features": np.array([[b"a"] * 16], dtype=object)}, "DT_STRING"),
])
def test_bad_input_is_invalid_argument(server, stub, feed, words):
    error = grpc_error(stub.Predict, predict_request("mlp", feed))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert words in error.details(), error.details()
    assert_no_path(server, error)
    # And the server keeps serving.
    stub.Predict(predict_request("mlp", {"features": rand(1, 16)}),
                 timeout=TIMEOUT)


def test_content_size_not_matching_shape(server, stub):
    request = predict_request("mlp", {"features": rand(2, 16)})
    request.inputs["features"].tensor_shape.dim[0].size = 1 << 40
    error = grpc_error(stub.Predict, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert "tensor_content" in error.details(), error.details()


@pytest.fixture(scope="module")
def slow(kiln_bin, all_models, tmp_path_factory):
    """MobileNetV2 on one worker with --rest_api_timeout_in_ms=1: a call
    of 16 images takes far longer than a millisecond."""
    root = tmp_path_factory.mktemp("grpc_tfs_slow")
    S.add_version(root / "models" / "mobilenet", 1, all_models["mobilenet"])
    with S.Server(kiln_bin, [
            f"--model_base_path={root / 'models' / 'mobilenet'}",
            "--model_name=mobilenet", "--num_workers=1",
            "--rest_api_timeout_in_ms=1",
            "--file_system_poll_wait_seconds=0"], root, grpc=True) as srv:
        srv.wait_available("mobilenet")
        srv.root = root
        with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as ch:
            srv.stub = prediction_service_pb2_grpc.PredictionServiceStub(ch)
            yield srv


def slow_request():
    return predict_request("mobilenet",
                           {"image": rand(16, 224, 224, 3, seed=9)})


def test_server_deadline(slow):
    """Without a client deadline, --rest_api_timeout_in_ms bounds the call
    as it bounds REST's: the server answers DEADLINE_EXCEEDED."""
    with pytest.raises(grpc.RpcError) as info:
        slow.stub.Predict(slow_request())
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert_no_path(slow, info.value)


def test_client_deadline_replaces_the_flag(slow, all_models):
    """The client's own deadline is the call's: a long one lets the call
    finish despite the 1 ms flag, a 1 ms one ends it."""
    request = slow_request()
    got = outputs_of(slow.stub.Predict(request, timeout=120 * SLOW))
    want = K.run_litert(all_models["mobilenet"],
                        {"image": tf.make_ndarray(request.inputs["image"])})
    for name, value in want.items():
        assert_close(got[name], value, name)
    with pytest.raises(grpc.RpcError) as info:
        slow.stub.Predict(request, timeout=0.001)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    slow.stub.Predict(request, timeout=120 * SLOW)  # and it goes on serving


# ===================================================== metadata, status


def _signature_from_rest(server, model, suffix=""):
    r = server.get(f"/v1/models/{model}{suffix}/metadata")
    assert r.status_code == 200, r.text
    body = r.json()
    sig = body["metadata"]["signature_def"]["signature_def"]
    return body["model_spec"], sig


def _infos(infos):
    """TensorInfo maps (dict form) as comparable tuples."""
    return {name: (info["name"], info["dtype"],
                   [int(d.get("size", 0))
                    for d in info.get("tensor_shape", {}).get("dim", [])])
            for name, info in infos.items()}


@pytest.mark.parametrize("model", ["mlp", "two", "fp16", "dtypes"])
def test_metadata_equals_rest(server, stub, model):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = model
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=TIMEOUT)
    any_value = response.metadata["signature_def"]
    assert any_value.type_url == \
        "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    sigmap = get_model_metadata_pb2.SignatureDefMap()
    assert any_value.Unpack(sigmap)
    got = json_format.MessageToDict(
        sigmap, preserving_proto_field_name=True)["signature_def"]
    rest_spec, want = _signature_from_rest(server, model)
    assert set(got) == set(want) == {"serving_default"}
    for name in want:
        assert got[name]["method_name"] == want[name]["method_name"]
        for part in ("inputs", "outputs"):
            assert _infos(got[name][part]) == _infos(want[name][part]), part
    assert response.model_spec.name == model
    assert str(response.model_spec.version.value) == rest_spec["version"]


def test_metadata_needs_signature_def(stub):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "mlp"
    error = grpc_error(stub.GetModelMetadata, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    request.metadata_field.append("something_else")
    error = grpc_error(stub.GetModelMetadata, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


STATES = {v: k for k, v in
          get_model_status_pb2.ModelVersionStatus.State.items()}


@pytest.mark.parametrize("how,suffix", [
    ({}, ""), ({"version": 1}, "/versions/1"),
    ({"label": "canary"}, "/labels/canary")])
def test_status_equals_rest(server, model_stub, how, suffix):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "mlp"
    if "version" in how:
        request.model_spec.version.value = how["version"]
    if "label" in how:
        request.model_spec.version_label = how["label"]
    response = model_stub.GetModelStatus(request, timeout=TIMEOUT)
    got = [{"version": str(s.version), "state": STATES[s.state],
            "status": {"error_code": "OK" if not s.status.error_code
                       else "UNKNOWN",
                       "error_message": s.status.error_message}}
           for s in response.model_version_status]
    r = server.get(f"/v1/models/mlp{suffix}")
    assert r.status_code == 200, r.text
    assert got == r.json()["model_version_status"]
    assert got


def test_status_of_unknown_model(model_stub):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    error = grpc_error(model_stub.GetModelStatus, request)
    assert error.code() == grpc.StatusCode.NOT_FOUND


# ===================================================== Classify, Regress


def example_input(message, rows, context=None):
    """Fills message.input with one tf.Example per row (rows: a list of
    {feature: numpy row}); context: features shared by every example."""
    def fill(example, features):
        for name, value in features.items():
            feature = example.features.feature[name]
            if value.dtype.kind == "f":
                feature.float_list.value.extend(value.ravel().tolist())
            else:
                feature.int64_list.value.extend(value.ravel().tolist())
    if context is None:
        for row in rows:
            fill(message.input.example_list.examples.add(), row)
    else:
        with_context = message.input.example_list_with_context
        fill(with_context.context, context)
        for row in rows:
            fill(with_context.examples.add(), row)


def test_classify(stub, all_models):
    rng = np.random.default_rng(22)
    x = rng.uniform(-1, 1, (5, 4)).astype(np.float32)
    k = rng.integers(-3, 3, (5, 1)).astype(np.int64)
    want = K.run_litert(all_models["classifier"], {"x": x, "k": k})["scores"]
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "classifier"
    example_input(request, [{"x": x[i], "k": k[i]} for i in range(5)])
    response = stub.Classify(request, timeout=TIMEOUT)
    assert response.model_spec.name == "classifier"
    assert response.model_spec.version.value == 1
    got = response.result.classifications
    assert len(got) == 5
    for i, row in enumerate(got):
        assert [c.label for c in row.classes] == ["0", "1", "2"]
        assert_close([c.score for c in row.classes], want[i], f"row {i}")
    # k from the context example, shared by every row.
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "classifier"
    example_input(request, [{"x": x[i]} for i in range(5)],
                  context={"k": np.array([2], np.int64)})
    want = K.run_litert(all_models["classifier"], {
        "x": x, "k": np.full((5, 1), 2, np.int64)})["scores"]
    got = stub.Classify(request, timeout=TIMEOUT).result.classifications
    for i, row in enumerate(got):
        assert_close([c.score for c in row.classes], want[i], f"row {i}")


def test_regress(stub, all_models):
    x = np.random.default_rng(23).uniform(-1, 1, (4, 4)).astype(np.float32)
    want = K.run_litert(all_models["regressor"], {"x": x})["outputs"]
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "regressor"
    example_input(request, [{"x": x[i]} for i in range(4)])
    response = stub.Regress(request, timeout=TIMEOUT)
    got = [r.value for r in response.result.regressions]
    assert_close(np.array(got).reshape(want.shape), want)
    assert response.model_spec.version.value == 1


def test_classify_regress_refused_where_the_rule_fails(server, stub):
    """Two outputs, none named scores (Classify) or outputs (Regress), and
    a [batch, 8] output (Regress): FAILED_PRECONDITION naming why; a
    feature missing or of the wrong kind: INVALID_ARGUMENT."""
    feed = two_inputs(1, seed=24)
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "two"
    example_input(request, [{n: v[0] for n, v in feed.items()}])
    error = grpc_error(stub.Classify, request)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
    assert "scores" in error.details()
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "mlp"
    example_input(request, [{"features": rand(16, seed=25)}])
    error = grpc_error(stub.Regress, request)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
    assert "[batch, 1]" in error.details()
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "regressor"
    example_input(request, [{"y": rand(4, seed=26)}])
    error = grpc_error(stub.Regress, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert "'x'" in error.details()
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "regressor"
    example_input(request, [{"x": np.arange(4, dtype=np.int64)}])
    error = grpc_error(stub.Regress, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert "float_list" in error.details()
    assert_no_path(server, error)


# ===================================================== reload config


def reload_request(entries, labels=None):
    """entries: (name, base path); labels: {name: {label: version}}, given
    with the policy that serves every version."""
    request = model_management_pb2.ReloadConfigRequest()
    for name, base in entries:
        config = request.config.model_config_list.config.add()
        config.name = name
        config.base_path = str(base)
        config.model_platform = "tensorflow"
        if labels and name in labels:
            config.model_version_policy.all.SetInParent()
            for label, version in labels[name].items():
                config.version_labels[label] = version
    return request


def test_reload_refused_unless_explicit(server, model_stub):
    error = grpc_error(model_stub.HandleReloadConfigRequest,
                       reload_request([("mlp", server.root / "models" /
                                        "mlp")]))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
    assert "--model_control_mode=explicit" in error.details()
    assert_no_path(server, error)
    # Nothing changed.
    assert set(server.status("two")) == {1}


def test_reload_adds_and_removes_models(kiln_bin, all_models, tmp_path):
    models_dir = tmp_path / "models"
    S.add_version(models_dir / "mlp", 1, all_models["mlp"])
    S.add_version(models_dir / "two", 1, all_models["two"])
    (tmp_path / "models.config").write_text(config_text([
        ("mlp", models_dir / "mlp",
         "model_version_policy { all {} } "
         "version_labels { key: 'stable' value: 1 }")]))
    # The config mlp was started with: reloads keep it so.
    mlp_labels = {"mlp": {"stable": 1}}
    with S.Server(kiln_bin, [
            f"--model_config_file={tmp_path / 'models.config'}",
            "--model_control_mode=explicit",
            f"--model_repository={models_dir}",
            "--file_system_poll_wait_seconds=0"], tmp_path,
            grpc=True) as srv:
        srv.wait_available("mlp")
        with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as ch:
            models = model_service_pb2_grpc.ModelServiceStub(ch)
            predict = prediction_service_pb2_grpc.PredictionServiceStub(ch)
            feed = two_inputs(2, seed=10)
            error = grpc_error(predict.Predict, predict_request("two", feed))
            assert error.code() == grpc.StatusCode.NOT_FOUND
            # Add two.
            response = models.HandleReloadConfigRequest(reload_request([
                ("mlp", models_dir / "mlp"), ("two", models_dir / "two")],
                mlp_labels), timeout=TIMEOUT)
            assert response.status.error_code == 0, response
            got = outputs_of(predict.Predict(predict_request("two", feed),
                                             timeout=TIMEOUT))
            want = K.run_litert(all_models["two"], feed)
            for name, value in want.items():
                assert_close(got[name], value, name)
            # mlp by its label still answers (its config was kept).
            predict.Predict(predict_request(
                "mlp", {"features": rand(1, 16)}, label="stable"),
                timeout=TIMEOUT)
            # Changing mlp's labels or policy is refused, and changes
            # nothing: two stays.
            for changed in ({"mlp": {"stable": 1, "canary": 1}},
                            {"mlp": {"other": 1}}, None):
                error = grpc_error(models.HandleReloadConfigRequest,
                                   reload_request([("mlp",
                                                    models_dir / "mlp")],
                                                  changed))
                assert error.code() == grpc.StatusCode.UNIMPLEMENTED, error
                assert "mlp" in error.details()
            predict.Predict(predict_request("two", feed), timeout=TIMEOUT)
            # Drop mlp.
            models.HandleReloadConfigRequest(reload_request([
                ("two", models_dir / "two")]), timeout=TIMEOUT)
            error = grpc_error(predict.Predict, predict_request(
                "mlp", {"features": rand(1, 16)}))
            assert error.code() == grpc.StatusCode.NOT_FOUND
            predict.Predict(predict_request("two", feed), timeout=TIMEOUT)
            # A base path outside the model roots is refused, and says
            # nothing of the host's folders.
            error = grpc_error(models.HandleReloadConfigRequest,
                               reload_request([("two", models_dir / "two"),
                                               ("etc", "/etc")]))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
            assert "/etc" not in error.details()
        srv.check_clean_exit()
