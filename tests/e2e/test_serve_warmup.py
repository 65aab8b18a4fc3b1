"""TF Serving's warm-up requests (issue 12): a version folder's
assets.extra/tf_serving_warmup_requests, a TFRecord file of PredictionLog
messages written here with TF Serving's own protos and TensorFlow's
TFRecordWriter, is replayed before the version is AVAILABLE; a damaged
file, a record that is not a predict log, or a request naming an input the
model lacks fails the version's load with a message naming the record,
and the server keeps serving its other models."""
import os

import numpy as np
import pytest

import kiln_e2e as K
import serve_util as S


def _warmup_file(path, records):
    """records: list of serialized PredictionLog messages."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def _predict_log(inputs):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    return log.SerializeToString()


def _classify_log():
    from tensorflow_serving.apis import prediction_log_pb2
    return prediction_log_pb2.PredictionLog(
        classify_log=prediction_log_pb2.ClassifyLog()).SerializeToString()


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp")


def _version(base, version, model, records=None, raw=None):
    folder = base / str(version)
    folder.mkdir(parents=True)
    (folder / "model.tflite").write_bytes(model.read_bytes())
    target = folder / "assets.extra" / "tf_serving_warmup_requests"
    if records is not None:
        _warmup_file(target, records)
    if raw is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
    return folder


def test_warmup_requests_are_replayed(kiln_bin, mlp, tmp_path):
    rng, _ = K.make_rng()
    batches = [rng.uniform(-1, 1, (n, 16)).astype(np.float32)
               for n in (1, 4, 7)]
    base = tmp_path / "models" / "m"
    _version(base, 1, mlp, [_predict_log({"features": b}) for b in batches])
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=m"],
                  tmp_path / "srv") as srv:
        srv.wait_available("m", 1)
        assert "replayed 3 warm-up requests" in srv.log()
        x = batches[1]
        r = srv.post("/v1/models/m:predict", {"instances": x.tolist()})
        assert r.status_code == 200, r.text
        want = list(K.run_litert(mlp, {"features": x}).values())[0]
        got = np.asarray(r.json()["predictions"], np.float32)
        assert K.max_rel_error(got, want) <= 1e-5


@pytest.mark.parametrize("case", ["crc", "truncated", "classify", "input"])
def test_bad_warmup_files_fail_the_load(kiln_bin, mlp, tmp_path, case):
    rng, _ = K.make_rng()
    good = _predict_log(
        {"features": rng.uniform(-1, 1, (2, 16)).astype(np.float32)})
    base = tmp_path / "models" / "m"
    other = tmp_path / "models" / "ok"
    _version(other, 1, mlp)
    if case in ("crc", "truncated"):
        _warmup_file(tmp_path / "w", [good, good])
        data = bytearray((tmp_path / "w").read_bytes())
        if case == "crc":
            data[20] ^= 0x40
        else:
            data = data[:len(data) - 9]
        _version(base, 1, mlp, raw=bytes(data))
        needle = "checksum" if case == "crc" else "record 1"
    elif case == "classify":
        _version(base, 1, mlp, [good, _classify_log()])
        needle = "record 1 holds classify_log"
    else:
        _version(base, 1, mlp, [_predict_log(
            {"pixels": np.zeros((1, 16), np.float32)})])
        needle = "'pixels'"
    config = tmp_path / "models.config"
    config.write_text(S.model_config({"m": base, "ok": other}))
    with S.Server(kiln_bin, [f"--model_config_file={config}"],
                  tmp_path / "srv") as srv:
        srv.wait_available("ok", 1)
        S.wait_for(lambda: "failed to load" in srv.log(), 30,
                   what="the warm-up failure")
        log = srv.log()
        assert "tf_serving_warmup_requests" in log and needle in log, log
        status = srv.http.get(srv.url + "/v1/models/m").json()
        assert "AVAILABLE" not in str(status), status
        r = srv.post("/v1/models/ok:predict",
                     {"instances": np.zeros((1, 16)).tolist()})
        assert r.status_code == 200, r.text
