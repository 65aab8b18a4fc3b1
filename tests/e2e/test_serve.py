"""`kiln serve` driven over loopback by real clients (issue 4).

Each test starts the real binary (serve_util.Server) on a free port with
model folders laid out as TF Serving wants them, and checks one promise:
TF Serving's REST API (row and columnar formats, b64, status, metadata),
KServe v2 through tritonclient (JSON and binary tensors), outputs equal
to LiteRT's on the same inputs, hot reload with zero failed requests,
isolation of one model's latency from another's reload, broken versions,
error status codes, dynamic batching, metrics, the repository extension
and a graceful SIGTERM.

Models come from kiln_e2e's zoo (the MLP, the two-input two-output
dynamic_batch model, MobileNetV2 0.35, ResNet50) plus two made here: the
MLP with other weights (a second version whose outputs differ) and a
float16-input model (the dtype JSON cannot carry).

Where the server chooses: float16 inputs cannot come as JSON numbers
(501 Unimplemented, TF Serving's answer for DT_HALF) but can as b64 bytes
or KServe binary data; a FP16 datatype for a FP32 input is a 400.

Under ASan (KILN_E2E_ASAN=1, set by `make test-e2e-asan`) waits stretch
and the timing comparisons are skipped.
"""
import base64
import concurrent.futures
import contextlib
import functools
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
import requests

import kiln_e2e as K
import serve_util as S
from serve_util import SLOW

# Outputs must match LiteRT's within this max relative error.
RTOL = 1e-5
POLL = 1  # --file_system_poll_wait_seconds of the reload tests
BATCHING = """max_batch_size { value: 8 }
batch_timeout_micros { value: 5000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 2 }
"""
MONITORING = """prometheus_config {
  enable: true
  path: "/monitoring/prometheus/metrics"
}
"""


# ------------------------------------------------------------- models


def _mlp_other_weights(mlp_path):
    """The MLP with every weight tensor scaled by random factors: the same
    signature, different outputs (a second version to serve)."""
    def make():
        model = K.load_model_object(mlp_path)
        rng = np.random.default_rng(1234)
        for buf in model.buffers:
            if buf.data is None or len(buf.data) < 1024:
                continue  # shapes and small constants stay
            w = np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(),
                              np.float32)
            w = w * rng.uniform(-2.0, 2.0, w.shape).astype(np.float32)
            buf.data = np.frombuffer(w.astype(np.float32).tobytes(), np.uint8)
        return K.pack_model_object(model)
    return make


def _fp16_input_model():
    """A model taking float16 (CAST to float32, times 2): what JSON numbers
    cannot be converted to."""
    import io
    import tensorflow as tf

    class Half(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([None, 4], tf.float16, name="half")])
        def run(self, x):
            return {"doubled": tf.cast(x, tf.float32) * 2.0}

    module = Half()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.run.get_concrete_function()], module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


@pytest.fixture(scope="module")
def models(model_cache):
    mlp = model_cache.path("mlp", "float32")
    return {
        "mlp": mlp,
        "mlp_v2": model_cache.custom("serve_mlp_v2.float32.tflite",
                                     _mlp_other_weights(mlp)),
        "two": model_cache.path("dynamic_batch", "float32"),
        "mobilenet": model_cache.path("mobilenet_v2_035", "float32"),
        "fp16": model_cache.custom("serve_fp16_input.tflite",
                                   _fp16_input_model),
    }


def rand(*shape, seed=None):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def two_inputs(n, seed=None):
    rng = np.random.default_rng(seed)
    return {"features": rng.uniform(-1, 1, (n, 16)).astype(np.float32),
            "patch": rng.uniform(-1, 1, (n, 8, 8, 3)).astype(np.float32)}


def litert(path, feed):
    return K.run_litert(path, feed)


def assert_close(got, want, what="output"):
    got = np.asarray(got, np.float32)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want " \
                                    f"{want.shape}"
    err = K.max_rel_error(got, want)
    assert err <= RTOL, f"{what}: max relative error {err:.3g} > {RTOL}"


def assert_error(resp, code):
    """An error answer: the status code and a JSON {"error": text}."""
    assert resp.status_code == code, (
        f"expected {code}, got {resp.status_code}: {resp.text[:500]}")
    body = resp.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


# ------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def server(kiln_bin, models, tmp_path_factory):
    """mlp, two (two inputs, two outputs) and fp16 from one config file,
    with Prometheus at TF Serving's path, an access log and a small body
    limit."""
    root = tmp_path_factory.mktemp("serve")
    for name in ("mlp", "two", "fp16"):
        S.add_version(root / "models" / name, 1, models[name])
    (root / "models.config").write_text(S.model_config(
        {n: root / "models" / n for n in ("mlp", "two", "fp16")}))
    (root / "monitoring.config").write_text(MONITORING)
    srv = S.Server(kiln_bin, [
        f"--model_config_file={root / 'models.config'}",
        f"--monitoring_config_file={root / 'monitoring.config'}",
        f"--access_log={root / 'access.log'}",
        "--max_body_bytes=65536",
        "--file_system_poll_wait_seconds=1",
    ], root)
    with srv:
        for name in ("mlp", "two", "fp16"):
            srv.wait_available(name, 1)
        yield srv


def predict(srv, model, body, suffix=""):
    return srv.post(f"/v1/models/{model}{suffix}:predict", body)


# ============================================== 1. the seed's request


def test_predict_instances_matches_litert(server, models):
    x = rand(3, 16)
    r = predict(server, "mlp", {"instances": x.tolist()})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["predictions"]
    want = litert(models["mlp"], {"features": x})["output_0"]
    assert_close(body["predictions"], want)


def test_predict_with_curl(server, models):
    """The issue's own command line, literally through curl."""
    x = rand(2, 16)
    payload = json.dumps({"instances": x.tolist()})
    result = subprocess.run(
        ["curl", "-sS", "-X", "POST",
         f"http://localhost:{server.port}/v1/models/mlp:predict",
         "-d", payload], capture_output=True, text=True, timeout=30 * SLOW)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    want = litert(models["mlp"], {"features": x})["output_0"]
    assert_close(body["predictions"], want)


# ====================================== 2. formats, b64, status, metadata


def test_row_format_two_inputs_two_outputs(server, models):
    feed = two_inputs(3)
    instances = [{name: feed[name][i].tolist() for name in feed}
                 for i in range(3)]
    r = predict(server, "two", {"instances": instances})
    assert r.status_code == 200, r.text
    rows = r.json()["predictions"]
    want = litert(models["two"], feed)
    assert len(rows) == 3 and all(set(row) == set(want) for row in rows)
    for name, value in want.items():
        assert_close([row[name] for row in rows], value, name)


def test_columnar_format_one_input(server, models):
    x = rand(4, 16)
    want = litert(models["mlp"], {"features": x})["output_0"]
    # The bare value (one input), and the object naming it.
    for inputs in (x.tolist(), {"features": x.tolist()}):
        r = predict(server, "mlp", {"inputs": inputs})
        assert r.status_code == 200, r.text
        body = r.json()
        assert list(body) == ["outputs"]
        assert_close(body["outputs"], want)


def test_columnar_format_two_inputs_two_outputs(server, models):
    # Columnar inputs may differ in dim 0 from the rows format's instances;
    # here both carry 5 rows.
    feed = two_inputs(5)
    r = predict(server, "two",
                {"inputs": {k: v.tolist() for k, v in feed.items()}})
    assert r.status_code == 200, r.text
    outputs = r.json()["outputs"]
    want = litert(models["two"], feed)
    assert set(outputs) == set(want)
    for name, value in want.items():
        assert_close(outputs[name], value, name)


def b64(array):
    return {"b64": base64.b64encode(np.ascontiguousarray(array).tobytes()
                                    ).decode()}


def test_b64_instances(server, models):
    """{"b64": ...} holds the little-endian bytes of one instance, shaped as
    the input without its batch dimension (api_tfs.c decode_value)."""
    x = rand(3, 16)
    want = litert(models["mlp"], {"features": x})["output_0"]
    for instances in ([b64(row) for row in x],
                      [{"features": b64(row)} for row in x]):
        r = predict(server, "mlp", {"instances": instances})
        assert r.status_code == 200, r.text
        assert_close(r.json()["predictions"], want)
    # Mixed with a list for the other input of a two-input model.
    feed = two_inputs(2)
    instances = [{"features": b64(feed["features"][i]),
                  "patch": feed["patch"][i].tolist()} for i in range(2)]
    r = predict(server, "two", {"instances": instances})
    assert r.status_code == 200, r.text
    want = litert(models["two"], feed)
    for name, value in want.items():
        assert_close([row[name] for row in r.json()["predictions"]], value,
                     name)


def test_b64_carries_float16(server):
    """JSON numbers cannot fill a float16 input (501, below), but b64 bytes
    can."""
    x = rand(2, 4).astype(np.float16)
    r = predict(server, "fp16", {"instances": [b64(row) for row in x]})
    assert r.status_code == 200, r.text
    assert_close(r.json()["predictions"], x.astype(np.float32) * 2)


def test_b64_wrong_size_is_400(server):
    r = predict(server, "mlp", {"instances": [b64(rand(15))]})
    assert_error(r, 400)
    assert server.live()


def test_signature_name_serving_default(server, models):
    x = rand(1, 16)
    want = litert(models["mlp"], {"features": x})["output_0"]
    for body in ({"signature_name": "serving_default",
                  "instances": x.tolist()},
                 {"signature_name": "serving_default",
                  "inputs": {"features": x.tolist()}}):
        r = predict(server, "mlp", body)
        assert r.status_code == 200, r.text
        got = r.json().get("predictions", r.json().get("outputs"))
        assert_close(got, want)


def test_metadata(server, models):
    for name in ("mlp", "two", "fp16"):
        r = server.get(f"/v1/models/{name}/metadata")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_spec"]["name"] == name
        assert body["model_spec"]["version"] == "1"
        sig = body["metadata"]["signature_def"]["signature_def"][
            "serving_default"]
        assert sig["method_name"] == "tensorflow/serving/predict"
        ins, outs = K.signature(models[name])
        for want, got in ((ins, sig["inputs"]), (outs, sig["outputs"])):
            assert set(got) == {t.name for t in want}
            for t in want:
                dtype = {"float32": "DT_FLOAT", "float16": "DT_HALF"}[
                    t.dtype.name]
                assert got[t.name]["dtype"] == dtype
                shape = got[t.name]["tensor_shape"]
                assert not shape["unknown_rank"]
                assert [int(d["size"]) for d in shape["dim"]] == \
                    list(t.shape), t.name
    # By version too.
    r = server.get("/v1/models/mlp/versions/1/metadata")
    assert r.status_code == 200 and r.json()["model_spec"]["version"] == "1"


def test_model_status(server):
    want = [{"version": "1", "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}}]
    for path in ("/v1/models/mlp", "/v1/models/mlp/versions/1"):
        r = server.get(path)
        assert r.status_code == 200, r.text
        assert r.json() == {"model_version_status": want}


def test_model_list(server):
    r = server.get("/v1/models")
    assert r.status_code == 200, r.text
    listed = {m["name"]: m for m in r.json()["models"]}
    assert set(listed) == {"mlp", "two", "fp16"}
    for m in listed.values():
        assert m["model_version_status"][0]["state"] == "AVAILABLE"


# ============================================ 3. KServe v2 (tritonclient)


@pytest.fixture
def triton(server):
    import tritonclient.http as httpclient
    client = httpclient.InferenceServerClient(
        url=f"127.0.0.1:{server.port}", network_timeout=60 * SLOW)
    yield client
    client.close()


def test_kserve_health_and_metadata(triton, models):
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready("two")
    assert triton.is_model_ready("two", "1")
    assert not triton.is_model_ready("no_such_model")
    meta = triton.get_server_metadata()
    for ext in ("binary_tensor_data", "model_configuration", "statistics",
                "model_repository"):
        assert ext in meta["extensions"]
    model = triton.get_model_metadata("two")
    assert model["name"] == "two" and model["versions"] == ["1"]
    ins, outs = K.signature(models["two"])
    for want, got in ((ins, model["inputs"]), (outs, model["outputs"])):
        assert {t["name"]: (t["datatype"], t["shape"]) for t in got} == {
            t.name: ("FP32", list(t.shape)) for t in want}


def test_kserve_model_config(triton):
    config = triton.get_model_config("two")
    assert config["name"] == "two"
    assert config["max_batch_size"] > 0  # batch dimension leads
    dims = {t["name"]: (t["data_type"], t["dims"]) for t in config["input"]}
    assert dims == {"features": ("TYPE_FP32", [16]),
                    "patch": ("TYPE_FP32", [8, 8, 3])}
    assert {t["name"] for t in config["output"]} == {"class-probs/v1:0",
                                                     "raw scores"}


def _infer_inputs(feed, binary):
    import tritonclient.http as httpclient
    out = []
    for name, value in feed.items():
        t = httpclient.InferInput(name, list(value.shape), "FP32")
        t.set_data_from_numpy(value, binary_data=binary)
        out.append(t)
    return out


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_kserve_infer(triton, models, binary):
    import tritonclient.http as httpclient
    feed = two_inputs(3)
    want = litert(models["two"], feed)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary)
               for name in want]
    result = triton.infer("two", _infer_inputs(feed, binary),
                          outputs=outputs, request_id=f"req-{binary}")
    response = result.get_response()
    assert response["id"] == f"req-{binary}"
    assert response["model_name"] == "two"
    assert response["model_version"] == "1"
    for out in response["outputs"]:
        assert ("parameters" in out and "binary_data_size" in
                out["parameters"]) == binary, out
        assert "data" in out or binary
    for name, value in want.items():
        assert_close(result.as_numpy(name), value, name)


def test_kserve_infer_all_outputs_by_default(triton, models):
    feed = two_inputs(2)
    result = triton.infer("two", _infer_inputs(feed, False))
    want = litert(models["two"], feed)
    for name, value in want.items():
        assert_close(result.as_numpy(name), value, name)


def test_kserve_requested_output_subset(triton, models):
    import tritonclient.http as httpclient
    feed = two_inputs(2)
    want = litert(models["two"], feed)
    result = triton.infer(
        "two", _infer_inputs(feed, True), request_id="only-scores",
        outputs=[httpclient.InferRequestedOutput("raw scores",
                                                 binary_data=True)])
    names = [o["name"] for o in result.get_response()["outputs"]]
    assert names == ["raw scores"]
    assert result.as_numpy("class-probs/v1:0") is None
    assert_close(result.as_numpy("raw scores"), want["raw scores"])


def test_kserve_float16_binary(triton):
    import tritonclient.http as httpclient
    x = rand(3, 4).astype(np.float16)
    t = httpclient.InferInput("half", [3, 4], "FP16")
    t.set_data_from_numpy(x, binary_data=True)
    result = triton.infer("fp16", [t])
    assert_close(result.as_numpy("doubled"), x.astype(np.float32) * 2)


def test_kserve_statistics(triton):
    before = triton.get_inference_statistics("mlp")["model_stats"][0]
    x = rand(2, 16)
    for _ in range(3):
        triton.infer("mlp", _infer_inputs({"features": x}, True))
    stats = triton.get_inference_statistics("mlp")["model_stats"]
    assert len(stats) == 1 and stats[0]["name"] == "mlp"
    s = stats[0]
    success = s["inference_stats"]["success"]
    assert success["count"] >= before["inference_stats"]["success"]["count"] \
        + 3
    assert success["ns"] > 0
    assert s["inference_count"] >= before["inference_count"] + 6  # rows
    assert s["last_inference"] > 0
    every = triton.get_inference_statistics()["model_stats"]
    assert {m["name"] for m in every} >= {"mlp", "two", "fp16"}


# ==================================================== 4. hot reload


def _request_loop(port, path, body, stop, record):
    """Sends body to path until stop is set; records (sent at, seconds,
    status, response body or the exception)."""
    conn = S.Connection(port)
    try:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                status, _, data = conn.request(
                    "POST", path, body, {"Content-Type": "application/json"})
            except Exception as e:  # noqa: BLE001 - every failure counts
                status, data = None, e
            record.append((start, time.perf_counter() - start, status, data))
    finally:
        conn.close()


def test_hot_reload_zero_failures(kiln_bin, models, tmp_path):
    """Version 2 dropped into the folder while two clients send requests:
    served within two poll periods, and no request fails."""
    base = tmp_path / "models" / "mlp"
    S.add_version(base, 1, models["mlp"])
    x = rand(2, 16)
    want = {v: litert(models[m], {"features": x})["output_0"]
            for v, m in ((1, "mlp"), (2, "mlp_v2"))}
    assert K.max_rel_error(want[1], want[2]) > 0.1  # versions differ
    body = json.dumps({"instances": x.tolist()}).encode()
    with S.Server(kiln_bin, [f"--model_base_path={base}",
                             "--model_name=mlp",
                             f"--file_system_poll_wait_seconds={POLL}"],
                  tmp_path) as srv:
        srv.wait_available("mlp", 1)
        stop = threading.Event()
        records = [[], []]
        clients = [threading.Thread(target=_request_loop, args=(
            srv.port, "/v1/models/mlp:predict", body, stop, rec))
            for rec in records]
        for c in clients:
            c.start()
        try:
            time.sleep(0.5)
            dropped = time.perf_counter()
            S.add_version(base, 2, models["mlp_v2"])
            srv.wait_available("mlp", 2, timeout=4 * POLL + 5)
            available = time.perf_counter()
            time.sleep(0.5)
        finally:
            stop.set()
            for c in clients:
                c.join()
        took = available - dropped
        print(f"version 2 AVAILABLE {took:.2f}s after the drop; "
              f"{sum(map(len, records))} requests")
        assert took <= (2 * POLL + 1.0) * SLOW, f"took {took:.2f}s"
        failed, seen = [], {1: 0, 2: 0}
        for start, _, status, data in (r for rec in records for r in rec):
            if status != 200:
                failed.append((status, data))
                continue
            got = np.asarray(json.loads(data)["predictions"], np.float32)
            version = next((v for v in (1, 2)
                            if K.max_rel_error(got, want[v]) <= RTOL), None)
            if version is None:
                failed.append((status, "outputs of neither version"))
                continue
            seen[version] += 1
            # Sent after the status said AVAILABLE: answered by version 2.
            if start > available and version != 2:
                failed.append((status, "version 1 answered after the swap"))
        assert not failed, f"{len(failed)} failed: {failed[:5]}"
        assert seen[1] > 0 and seen[2] > 0, seen
        # The latest-version policy unloads version 1 once 2 serves.
        S.wait_for(lambda: set(srv.status("mlp")) == {2}, 5 * SLOW,
                   what="version 1 unloaded")
        assert "model mlp version 2 is AVAILABLE" in srv.log()


def _timed_requests(conn, path, body, count):
    """Latencies (seconds) of count sequential requests; all must be 200."""
    out = []
    for _ in range(count):
        start = time.perf_counter()
        status, _, data = conn.request("POST", path, body,
                                       {"Content-Type": "application/json"})
        out.append(time.perf_counter() - start)
        assert status == 200, data
    return out


RELOAD_ATTEMPTS = 5
# A window without a reload counts as a reference only if its p99 is
# within this factor of its median: a larger tail there is another
# process's burst (this machine is shared), not the server.
QUIET_TAIL = 3.0


@pytest.mark.skipif(S.ASAN, reason="latency is not measured under ASan")
def test_reload_keeps_other_models_latency(kiln_bin, models, model_cache,
                                           tmp_path):
    """While a large model (ResNet50: a quarter second of loading and
    warm-up at full speed; MobileNetV2 0.35 loads in under 10 ms) reloads,
    the p99 latency of the MLP beside it stays within 1.5x of its p99
    without a reload.

    The window during the reload runs from the drop of the new version
    (and a repository API load that makes the poller scan at once) until
    it serves and the old one is gone; the same number of requests
    right after it, and 3000 right before it, are the windows without; the
    quieter is the reference. Other processes' bursts can spoil a window,
    so each attempt drops a new version: an attempt whose reference is not
    quiet (p99 > QUIET_TAIL x p50) is inconclusive, and the first
    conclusive attempt within the bound passes. A loader competing at full
    priority for the two cores made the MLP's p99 2-4 ms against 0.15, in
    every conclusive attempt."""
    big = model_cache.path("resnet50", "float32")
    root = tmp_path / "models"
    S.add_version(root / "mlp", 1, models["mlp"])
    S.add_version(root / "big", 1, big)
    config = tmp_path / "models.config"
    config.write_text(S.model_config({"mlp": root / "mlp",
                                      "big": root / "big"}))
    body = json.dumps({"instances": rand(1, 16).tolist()}).encode()
    path = "/v1/models/mlp:predict"
    ms = lambda values, q: S.percentile(values, q) * 1e3  # noqa: E731
    with S.Server(kiln_bin, [f"--model_config_file={config}",
                             "--model_control_mode=explicit",
                             f"--file_system_poll_wait_seconds={POLL}"],
                  tmp_path) as srv:
        srv.wait_available("big", 1)
        conn = S.Connection(srv.port)
        _timed_requests(conn, path, body, 500)  # warm
        conclusive, report = [], []
        for version in range(2, 2 + RELOAD_ATTEMPTS):
            # The copy is made before, outside the windows.
            incoming = root / "big" / f".incoming-{version}"
            incoming.mkdir()
            (incoming / "model.tflite").write_bytes(big.read_bytes())
            before = _timed_requests(conn, path, body, 3000)
            os.rename(incoming, root / "big" / str(version))
            # The poller would find it within a period; the repository
            # API's load makes it scan now, so the window holds the load
            # and little idle waiting. It answers once the scan is over.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                scan = pool.submit(requests.post, srv.url +
                                   "/v2/repository/models/big/load",
                                   timeout=120)
                during = []
                while not scan.done():
                    during += _timed_requests(conn, path, body, 20)
                assert scan.result().status_code == 200, scan.result().text
            assert set(srv.status("big")) == {version}
            after = _timed_requests(conn, path, body, len(during))
            reference = min((before, after), key=lambda w: ms(w, 99))
            quiet = ms(reference, 99) <= QUIET_TAIL * ms(reference, 50)
            line = (f"version {version}: {len(during)} requests during the "
                    f"reload: p99 {ms(during, 99):.3f} ms (p50 "
                    f"{ms(during, 50):.3f}); without: p99 "
                    f"{ms(before, 99):.3f} before, {ms(after, 99):.3f} "
                    f"after (p50 {ms(reference, 50):.3f})"
                    + ("" if quiet else " - not quiet, inconclusive"))
            print(line)
            report.append(line)
            if quiet:
                conclusive.append(ms(during, 99) <= 1.5 * ms(reference, 99))
                if conclusive[-1]:
                    break
        conn.close()
        assert f"model big version {version} is AVAILABLE" in srv.log()
        if not conclusive:
            pytest.skip("the machine was too busy for a quiet reference "
                        "window in any attempt:\n" + "\n".join(report))
        assert conclusive[-1], (
            "p99 during the reload above 1.5x the p99 without, in every "
            "conclusive attempt:\n" + "\n".join(report))


# =============================================== 5. a broken version


def test_broken_version_keeps_old_serving(kiln_bin, models, tmp_path):
    base = tmp_path / "models" / "mlp"
    S.add_version(base, 2, models["mlp"])
    x = rand(1, 16)
    want = litert(models["mlp"], {"features": x})["output_0"]
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"this is not a flatbuffer" * 40)
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=mlp",
                             f"--file_system_poll_wait_seconds={POLL}"],
                  tmp_path) as srv:
        srv.wait_available("mlp", 2)
        S.add_version(base, 3, garbage)
        versions = S.wait_for(
            lambda: (lambda v: v if v.get(3, {}).get("state") == "END"
                     else None)(srv.status("mlp")),
            (3 * POLL + 5) * SLOW, what="version 3 END")
        v3 = versions[3]
        assert v3["status"]["error_code"] != "OK"
        assert v3["status"]["error_message"], v3
        assert versions[2]["state"] == "AVAILABLE"
        assert "model mlp version 3 failed to load" in srv.log()
        r = srv.post("/v1/models/mlp:predict", {"instances": x.tolist()})
        assert r.status_code == 200, r.text
        assert_close(r.json()["predictions"], want)
        # A specific request for the broken version is a 404, not a crash.
        r = srv.post("/v1/models/mlp/versions/3:predict",
                     {"instances": x.tolist()})
        assert_error(r, 404)
        # Still serving version 2 after more polls.
        time.sleep(1.5 * POLL)
        assert srv.status("mlp")[2]["state"] == "AVAILABLE"
        assert srv.post("/v1/models/mlp:predict",
                        {"instances": x.tolist()}).status_code == 200


# ================================================== 6. bad requests

ROW16 = [0.5] * 16

# (id, method, path, body, expected status). Bodies: dicts are sent as
# JSON, bytes/str as they are.
BAD_REQUESTS = [
    ("bad-json", "POST", "/v1/models/mlp:predict", b"{\"instances\": [1,",
     400),
    ("empty-body", "POST", "/v1/models/mlp:predict", b"", 400),
    ("not-an-object", "POST", "/v1/models/mlp:predict", [ROW16], 400),
    ("no-inputs-key", "POST", "/v1/models/mlp:predict", {"rows": [ROW16]},
     400),
    ("both-keys", "POST", "/v1/models/mlp:predict",
     {"instances": [ROW16], "inputs": [ROW16]}, 400),
    ("empty-instances", "POST", "/v1/models/mlp:predict", {"instances": []},
     400),
    ("wrong-shape", "POST", "/v1/models/mlp:predict",
     {"instances": [[0.5] * 15]}, 400),
    ("ragged", "POST", "/v1/models/mlp:predict",
     {"instances": [ROW16, [0.5] * 15]}, 400),
    ("wrong-rank", "POST", "/v1/models/mlp:predict",
     {"inputs": ROW16}, 400),
    ("wrong-dtype-string", "POST", "/v1/models/mlp:predict",
     {"instances": [["x"] * 16]}, 400),
    ("wrong-dtype-bool", "POST", "/v1/models/mlp:predict",
     {"instances": [[True] * 16]}, 400),
    ("missing-named-input", "POST", "/v1/models/two:predict",
     {"inputs": {"features": [ROW16]}}, 400),
    ("instance-missing-key", "POST", "/v1/models/two:predict",
     {"instances": [{"features": ROW16}]}, 400),
    ("bad-b64", "POST", "/v1/models/mlp:predict",
     {"instances": [{"b64": "%%%%"}]}, 400),
    ("unknown-model", "POST", "/v1/models/nope:predict",
     {"instances": [ROW16]}, 404),
    ("unknown-model-status", "GET", "/v1/models/nope", None, 404),
    ("unknown-model-metadata", "GET", "/v1/models/nope/metadata", None, 404),
    ("unknown-version", "POST", "/v1/models/mlp/versions/7:predict",
     {"instances": [ROW16]}, 404),
    ("unknown-version-status", "GET", "/v1/models/mlp/versions/7", None, 404),
    ("unknown-signature", "POST", "/v1/models/mlp:predict",
     {"signature_name": "nope", "instances": [ROW16]}, 404),
    ("malformed-path", "POST", "/v1/models/mlp:explode",
     {"instances": [ROW16]}, 400),
    ("get-predict", "GET", "/v1/models/mlp:predict", None, 400),
    ("classify", "POST", "/v1/models/mlp:classify",
     {"examples": [{"x": 1.0}]}, 501),
    ("regress", "POST", "/v1/models/mlp:regress",
     {"examples": [{"x": 1.0}]}, 501),
    # JSON numbers cannot become float16: 501 Unimplemented, as TF Serving
    # answers for DT_HALF (send b64 or KServe binary data instead).
    ("fp16-json", "POST", "/v1/models/fp16:predict",
     {"instances": [[1.0, 2.0, 3.0, 4.0]]}, 501),
    ("too-large", "POST", "/v1/models/mlp:predict",
     {"instances": [ROW16] * 2000}, 413),
    # KServe v2: the same classes of error, as {"error": ...}.
    ("kserve-bad-json", "POST", "/v2/models/mlp/infer", b"{]", 400),
    ("kserve-unknown-model", "POST", "/v2/models/nope/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "FP32",
                  "data": ROW16}]}, 404),
    ("kserve-unknown-version", "POST", "/v2/models/mlp/versions/9/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "FP32",
                  "data": ROW16}]}, 404),
    ("kserve-wrong-datatype", "POST", "/v2/models/mlp/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "INT32",
                  "data": [1] * 16}]}, 400),
    ("kserve-fp16-to-fp32-model", "POST", "/v2/models/mlp/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "FP16",
                  "data": ROW16}]}, 400),
    ("kserve-fp16-json", "POST", "/v2/models/fp16/infer",
     {"inputs": [{"name": "half", "shape": [1, 4], "datatype": "FP16",
                  "data": [1.0, 2.0, 3.0, 4.0]}]}, 501),
    ("kserve-wrong-shape", "POST", "/v2/models/mlp/infer",
     {"inputs": [{"name": "features", "shape": [2, 8], "datatype": "FP32",
                  "data": ROW16}]}, 400),
    ("kserve-data-count", "POST", "/v2/models/mlp/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "FP32",
                  "data": [0.5] * 17}]}, 400),
    ("kserve-unknown-input", "POST", "/v2/models/mlp/infer",
     {"inputs": [{"name": "nope", "shape": [1, 16], "datatype": "FP32",
                  "data": ROW16}]}, 400),
    ("kserve-missing-input", "POST", "/v2/models/two/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "FP32",
                  "data": ROW16}]}, 400),
    ("kserve-unknown-output", "POST", "/v2/models/mlp/infer",
     {"inputs": [{"name": "features", "shape": [1, 16], "datatype": "FP32",
                  "data": ROW16}], "outputs": [{"name": "nope"}]}, 400),
    ("kserve-unknown-path", "GET", "/v2/models/mlp/nothing", None, 404),
    ("kserve-unknown-model-metadata", "GET", "/v2/models/nope", None, 404),
    ("unknown-api", "GET", "/v3/anything", None, 404),
]


@pytest.mark.parametrize("method,path,body,code",
                         [pytest.param(*case[1:], id=case[0])
                          for case in BAD_REQUESTS])
def test_bad_request(server, method, path, body, code):
    if method == "GET":
        r = server.get(path)
    else:
        r = server.post(path, body)
    message = assert_error(r, code)
    print(f"{code}: {message}")
    assert server.live(), "the server went down"


def _kserve_binary(inputs, outputs=None, params=None):
    """A KServe binary-extension body: the JSON header then the tensors'
    bytes; returns (body, headers)."""
    header = {"inputs": [], "outputs": outputs or []}
    if params:
        header["parameters"] = params
    blobs = []
    for name, value in inputs.items():
        raw = np.ascontiguousarray(value).tobytes()
        header["inputs"].append({
            "name": name, "shape": list(value.shape), "datatype": "FP32",
            "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream"}


def test_kserve_binary_size_past_end_is_400(server):
    body, headers = _kserve_binary({"features": rand(1, 16)})
    r = server.post("/v2/models/mlp/infer", body[:-8], headers=headers)
    assert_error(r, 400)
    headers["Inference-Header-Content-Length"] = str(len(body) + 5)
    r = server.post("/v2/models/mlp/infer", body, headers=headers)
    assert_error(r, 400)
    assert server.live()


def _one_worker_mobilenet(kiln_bin, models, root, *flags):
    """MobileNetV2 0.35 on a single inference worker (not yet started)."""
    S.add_version(root / "models" / "mobilenet", 1, models["mobilenet"])
    return S.Server(kiln_bin, [
        f"--model_base_path={root / 'models' / 'mobilenet'}",
        "--model_name=mobilenet", "--num_workers=1",
        "--file_system_poll_wait_seconds=0", *flags], root)


@pytest.fixture(scope="module")
def slow_server(kiln_bin, models, tmp_path_factory):
    """One worker and room for one queued request."""
    with _one_worker_mobilenet(kiln_bin, models,
                               tmp_path_factory.mktemp("slow"),
                               "--max_queued_requests=1") as srv:
        srv.wait_available("mobilenet")
        yield srv


# Images per slow request: MobileNetV2 0.35 takes about 2 ms an image
# here, so a request holds the one worker for tens of milliseconds (under
# ASan's unoptimized build, a second for 4 images).
SLOW_BATCH = 4 if S.ASAN else 16


@functools.lru_cache(maxsize=1)
def _images():
    return np.random.default_rng(5).uniform(
        -1, 1, (SLOW_BATCH, 224, 224, 3)).astype(np.float32)


def _slow_infer(srv, extra_headers=None, params=None, timeout=60):
    body, headers = _kserve_binary({"image": _images()}, params=params)
    headers.update(extra_headers or {})
    return requests.post(f"{srv.url}/v2/models/mobilenet/infer", data=body,
                         headers=headers, timeout=timeout * SLOW)


def test_full_queue_is_503_with_retry_after(slow_server):
    """--max_queued_requests=1 and one worker: of eight concurrent slow
    requests, one runs, one waits, and the others are refused at once."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _slow_infer(slow_server),
                                range(8)))
    codes = sorted(r.status_code for r in results)
    print("codes:", codes)
    assert set(codes) <= {200, 503}, codes
    assert codes.count(200) >= 2 and codes.count(503) >= 1, codes
    for r in results:
        if r.status_code == 503:
            assert r.headers.get("Retry-After"), r.headers
            assert "queue" in r.json()["error"]
    assert slow_server.live()


@pytest.fixture(scope="module")
def deadline_server(kiln_bin, models, tmp_path_factory):
    """Like slow_server but with room in the queue, so requests wait."""
    with _one_worker_mobilenet(kiln_bin, models,
                               tmp_path_factory.mktemp("deadline"),
                               "--max_queued_requests=16") as srv:
        srv.wait_available("mobilenet")
        yield srv


def _backlog(srv, pool, count):
    """Submits count slow requests to pool and returns their futures once
    the server holds two in its queue (one worker: the rest wait)."""
    futures = [pool.submit(_slow_infer, srv) for _ in range(count)]
    S.wait_for(lambda: _pending(srv) >= 2, 30 * SLOW, interval=0.002,
               what="a queued request")
    return futures


def _pending(srv):
    text = srv.metrics()
    return sum(v for _, v in S.metric_samples(text, "kiln_queue_pending"))


@pytest.mark.parametrize("how", ["header", "kserve-timeout", "tfs-header"])
def test_deadline_in_queue_is_504(deadline_server, how):
    """Behind a backlog of slow requests, one with a 1 ms deadline is
    dropped from the queue and answered 504; the backlog succeeds."""
    srv = deadline_server
    one = _images()[:1]
    # Made before the backlog starts, so it is sent at once.
    if how == "header":
        path = "/v2/models/mobilenet/infer"
        body, headers = _kserve_binary({"image": one})
        headers["X-Request-Timeout-Ms"] = "1"
    elif how == "kserve-timeout":
        path = "/v2/models/mobilenet/infer"
        body, headers = _kserve_binary({"image": one},
                                       params={"timeout": 1000})  # µs
    else:
        # b64: a JSON list of 150528 numbers would take longer to build
        # and parse than the backlog takes to run.
        path = "/v1/models/mobilenet:predict"
        body = json.dumps({"instances": [b64(one[0])]}).encode()
        headers = {"X-Request-Timeout-Ms": "1",
                   "Content-Type": "application/json"}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        backlog = _backlog(srv, pool, 8)
        late = srv.post(path, body, headers=headers)
        codes = [f.result().status_code for f in backlog]
    message = assert_error(late, 504)
    print("504:", message)
    assert codes == [200] * len(backlog), codes
    assert srv.live()


# ============================================== 7. dynamic batching


@pytest.fixture(scope="module")
def batching_server(kiln_bin, models, tmp_path_factory):
    """--enable_batching with max_batch_size 8; model small_batches carries
    its own batching_params.pbtxt (max_batch_size 2)."""
    root = tmp_path_factory.mktemp("batching")
    S.add_version(root / "models" / "mlp", 1, models["mlp"])
    S.add_version(root / "models" / "small_batches", 1, models["mlp"], {
        "batching_params.pbtxt":
            "max_batch_size { value: 2 }\nbatch_timeout_micros { value: 0 }"
            "\n"})
    (root / "batching.config").write_text(BATCHING)
    (root / "models.config").write_text(S.model_config({
        n: root / "models" / n for n in ("mlp", "small_batches")}))
    srv = S.Server(kiln_bin, [
        f"--model_config_file={root / 'models.config'}",
        "--enable_batching",
        f"--batching_parameters_file={root / 'batching.config'}",
        "--file_system_poll_wait_seconds=0"], root)
    with srv:
        srv.wait_available("mlp")
        srv.wait_available("small_batches")
        yield srv


def _batch_histogram(srv, model):
    """kiln_batch_size for model: (observations, observations of 1 row)."""
    samples = S.metric_samples(srv.metrics(), "kiln_batch_size_bucket")
    ones = [v for labels, v in samples
            if labels.get("model") == model and labels["le"] == "1"]
    count = [v for labels, v in S.metric_samples(srv.metrics(),
                                                 "kiln_batch_size_count")
             if labels.get("model") == model]
    return (count[0] if count else 0), (ones[0] if ones else 0)


def test_batching_merges_concurrent_requests(batching_server, models):
    srv = batching_server
    xs = rand(64, 16)
    want = litert(models["mlp"], {"features": xs})["output_0"]

    def one(i):
        with requests.Session() as s:
            r = s.post(f"{srv.url}/v1/models/mlp:predict",
                       data=json.dumps({"instances": xs[i:i + 1].tolist()}),
                       timeout=30 * SLOW)
        assert r.status_code == 200, r.text
        return np.asarray(r.json()["predictions"], np.float32)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(one, range(len(xs))))
    for i, row in enumerate(got):
        assert_close(row, want[i:i + 1], f"request {i}")
    batches, single = _batch_histogram(srv, "mlp")
    print(f"{batches:.0f} batches for {len(xs)} requests; "
          f"{single:.0f} of one row")
    assert batches > 0
    assert batches - single > 0, "no batch held more than one row"
    assert batches < len(xs)


def test_clients_leaving_while_answered(batching_server):
    """Clients that send a predict and hang up at once, or a moment later,
    while their requests are queued, batched, run and answered: the server
    keeps serving (under ASan: touches no freed request). The race this
    guards, a request freed while the worker answering it still held it,
    struck about one run in ten when wrk stopped 32 connections at once;
    this test walks the same paths but cannot promise to hit that window."""
    srv = batching_server
    body = json.dumps({"instances": rand(1, 16).tolist()}).encode()
    request = (f"POST /v1/models/mlp:predict HTTP/1.1\r\n"
               f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    rng = np.random.default_rng(11)
    delays = rng.uniform(0, 0.004, 2000 if not S.ASAN else 300)

    def hang_up(delay):
        with socket.create_connection(("127.0.0.1", srv.port), 10) as sock:
            sock.sendall(request)
            if delay > 0.002:  # half the time, reset instead of closing
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                b"\x01\x00\x00\x00\x00\x00\x00\x00")
            time.sleep(delay % 0.002)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(hang_up, delays))
    assert srv.live()
    r = predict(srv, "mlp", {"instances": rand(1, 16).tolist()})
    assert r.status_code == 200, r.text


def test_batching_rejects_requests_over_max_batch_size(batching_server,
                                                      models):
    srv = batching_server
    x = rand(9, 16)
    r = predict(srv, "mlp", {"instances": x.tolist()})
    assert "larger than maximum input batch size 8" in assert_error(r, 400)
    r = predict(srv, "mlp", {"instances": x[:8].tolist()})
    assert r.status_code == 200, r.text
    assert_close(r.json()["predictions"],
                 litert(models["mlp"], {"features": x[:8]})["output_0"])
    assert srv.live()


def test_batching_params_per_model(batching_server, models):
    """batching_params.pbtxt in the version folder overrides the server's
    file for that model only."""
    srv = batching_server
    x = rand(3, 16)
    r = predict(srv, "small_batches", {"instances": x.tolist()})
    assert "larger than maximum input batch size 2" in assert_error(r, 400)
    r = predict(srv, "small_batches", {"instances": x[:2].tolist()})
    assert r.status_code == 200, r.text
    assert predict(srv, "mlp", {"instances": x.tolist()}).status_code == 200
    config = srv.get("/v2/models/small_batches/config").json()
    assert config["max_batch_size"] == 2
    assert srv.get("/v2/models/mlp/config").json()["max_batch_size"] == 8
    assert srv.get("/v2/models/mlp/config").json()["dynamic_batching"][
        "max_queue_delay_microseconds"] == 5000


# ==================================================== 8. metrics


def test_metrics(server):
    x = rand(1, 16)
    assert predict(server, "mlp", {"instances": x.tolist()}
                   ).status_code == 200
    assert predict(server, "mlp", {"instances": [[1.0]]}).status_code == 400
    for path in ("/metrics", "/monitoring/prometheus/metrics"):
        r = server.get(path)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.text
        assert "# TYPE :tensorflow:serving:request_count counter" in text
        assert "# TYPE :tensorflow:serving:request_latency histogram" in text
        counts = {(labels["model_name"], labels["status"]): value
                  for labels, value in S.metric_samples(
                      text, ":tensorflow:serving:request_count")}
        assert counts.get(("mlp", "OK"), 0) >= 1, counts
        assert counts.get(("mlp", "INVALID_ARGUMENT"), 0) >= 1, counts
        buckets = [(labels, v) for labels, v in S.metric_samples(
            text, ":tensorflow:serving:request_latency_bucket")
            if labels.get("model_name") == "mlp"
            and labels.get("API") == "predict"]
        assert buckets, "no latency histogram for mlp predict"
        assert buckets[-1][0]["le"] == "+Inf"
        total = [v for labels, v in S.metric_samples(
            text, ":tensorflow:serving:request_latency_count")
            if labels.get("model_name") == "mlp"
            and labels.get("API") == "predict"]
        assert total and total[0] == buckets[-1][1] >= 1
        values = [v for _, v in buckets]
        assert values == sorted(values), "buckets must be cumulative"
    # The monitoring path exists only because the config enabled it.
    assert server.get("/monitoring/other").status_code == 404


def test_access_log(server):
    assert predict(server, "mlp", {"instances": [ROW16]}).status_code == 200
    log = server.workdir / "access.log"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    hits = [e for e in lines if e["path"] == "/v1/models/mlp:predict"
            and e["status"] == 200]
    assert hits and hits[-1]["model"] == "mlp" and hits[-1]["ms"] >= 0


# ================================= 9. the KServe repository extension


def test_repository_unload_load(kiln_bin, models, tmp_path):
    root = tmp_path / "models"
    for name in ("mlp", "two"):
        S.add_version(root / name, 1, models[name])
    S.add_version(tmp_path / "later" / "extra", 4, models["mlp_v2"])
    config = tmp_path / "models.config"
    config.write_text(S.model_config({n: root / n for n in ("mlp", "two")}))
    import tritonclient.http as httpclient
    x = rand(1, 16)
    with S.Server(kiln_bin, [f"--model_config_file={config}",
                             "--file_system_poll_wait_seconds=1",
                             "--model_control_mode=explicit",
                             f"--model_repository={tmp_path / 'later'}"],
                  tmp_path) as srv:
        srv.wait_available("two")
        client = httpclient.InferenceServerClient(f"127.0.0.1:{srv.port}")
        index = {m["name"]: m for m in client.get_model_repository_index()}
        assert index["two"]["state"] == "READY"

        client.unload_model("two")
        assert not client.is_model_ready("two")
        assert srv.get("/v2/models/two/ready").status_code in (404, 503)
        assert_error(srv.post("/v2/models/two/infer", {"inputs": []}), 404)
        assert_error(predict(srv, "two", {"inputs": {}}), 404)
        index = {m["name"]: m for m in client.get_model_repository_index()}
        assert index["two"]["state"] != "READY"
        # The others are untouched, and a poll does not bring it back.
        assert client.is_model_ready("mlp")
        time.sleep(1.5)
        assert not client.is_model_ready("two")

        client.load_model("two")
        assert client.is_model_ready("two")
        feed = two_inputs(1)
        r = predict(srv, "two",
                    {"inputs": {k: v.tolist() for k, v in feed.items()}})
        assert r.status_code == 200, r.text

        # A model the server never had, by parameters.base_path.
        r = srv.post("/v2/repository/models/extra/load",
                     {"parameters": {"base_path":
                                     str(tmp_path / "later" / "extra")}})
        assert r.status_code == 200, r.text
        assert client.is_model_ready("extra")
        index = {m["name"]: m for m in client.get_model_repository_index()}
        assert index["extra"]["state"] == "READY"
        assert index["extra"]["version"] == "4"
        r = predict(srv, "extra", {"instances": x.tolist()})
        assert r.status_code == 200, r.text
        assert_close(r.json()["predictions"],
                     litert(models["mlp_v2"], {"features": x})["output_0"])
        # Loading an unknown model without a base path is an error.
        assert_error(srv.post("/v2/repository/models/ghost/load"), 404)
        client.close()


@pytest.mark.skipif(S.ASAN, reason="timing is not measured under ASan")
def test_repository_load_does_not_stall_other_connections(kiln_bin, models,
                                                           model_cache,
                                                           tmp_path):
    """POST .../load of ResNet50 takes a while; requests to another model
    on other keep-alive connections (some served by the same HTTP thread
    as the load request) go on meanwhile: none waits for the load."""
    big = model_cache.path("resnet50", "float32")
    S.add_version(tmp_path / "models" / "mlp", 1, models["mlp"])
    S.add_version(tmp_path / "later" / "big", 1, big)
    body = json.dumps({"instances": [ROW16]}).encode()
    path = "/v1/models/mlp:predict"
    with S.Server(kiln_bin, [f"--model_base_path={tmp_path / 'models/mlp'}",
                             "--model_name=mlp", "--rest_api_num_threads=2",
                             "--model_control_mode=explicit",
                             f"--model_repository={tmp_path / 'later'}"],
                  tmp_path) as srv:
        conns = [S.Connection(srv.port) for _ in range(4)]
        worst = [0.0] * len(conns)
        stop = threading.Event()

        def loop(i):
            while not stop.is_set():
                start = time.perf_counter()
                status, _, data = conns[i].request(
                    "POST", path, body, {"Content-Type": "application/json"})
                assert status == 200, data
                worst[i] = max(worst[i], time.perf_counter() - start)

        with concurrent.futures.ThreadPoolExecutor(len(conns)) as pool:
            loops = [pool.submit(loop, i) for i in range(len(conns))]
            time.sleep(0.2)
            start = time.perf_counter()
            r = srv.post("/v2/repository/models/big/load",
                         {"parameters": {"base_path":
                                         str(tmp_path / "later" / "big")}})
            took = time.perf_counter() - start
            stop.set()
            for f in loops:
                f.result()
        for c in conns:
            c.close()
        assert r.status_code == 200, r.text
        print(f"load took {took * 1e3:.0f} ms; worst latency per "
              f"connection meanwhile (ms): "
              + ", ".join(f"{w * 1e3:.1f}" for w in worst))
        assert max(worst) < 0.5 * took, "a connection waited for the load"
        assert srv.get("/v2/models/big/ready").status_code == 200


# ============================================================ 10. SIGTERM


def _half_sent_infer(port, sent, go):
    """A slow KServe request sent in two halves: the first, then (after
    sent.release()) waits for go before the second; go None sends it
    whole. A health check first on the same keep-alive connection makes
    sure the server has accepted it. Returns the status."""
    body, headers = _kserve_binary({"image": _images()})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60 * SLOW)
    try:
        conn.request("GET", "/v2/health/live")
        assert conn.getresponse().read() is not None
        conn.putrequest("POST", "/v2/models/mobilenet/infer")
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        half = len(body) // 2 if go else len(body)
        conn.send(body[:half])
        sent.release()
        if go:
            go.wait()
            conn.send(body[half:])
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_sigterm_finishes_requests_in_flight(kiln_bin, models, tmp_path):
    """SIGTERM with requests in flight (queued, running, and still sending
    their bodies): new connections are refused at once, every request
    begun is answered 200, and the exit status is 0 (under ASan: with no
    leak)."""
    srv = _one_worker_mobilenet(kiln_bin, models, tmp_path)
    try:
        srv.wait_available("mobilenet")
        sent, go = threading.Semaphore(0), threading.Event()
        with concurrent.futures.ThreadPoolExecutor(9) as pool:
            # Three wait half sent; six are queued or running.
            futures = [pool.submit(_half_sent_infer, srv.port, sent,
                                   go if i < 3 else None) for i in range(9)]
            for _ in futures:
                assert sent.acquire(timeout=30 * SLOW)
            time.sleep(0.1 * SLOW)  # the server reads what was sent
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.05)
            refused = _connection_refused(srv.port)
            draining = srv.alive()
            go.set()
            codes = [f.result() for f in futures]
        assert codes == [200] * 9, codes
        assert draining, "the server exited before its requests finished"
        assert refused, "a new connection was accepted after SIGTERM"
        srv.proc.wait(30 * SLOW)
        srv.check_clean_exit()
        assert _connection_refused(srv.port)
        assert "stopped" in srv.log()
    finally:
        srv.kill()


def _connection_refused(port):
    """Whether a new connection to port is refused (rather than accepted,
    or left waiting in the listen backlog until the server exits)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# ============================================ unsigned integer tensors


def _uint32_model():
    """uint32 in and out (MUL by 3, which wraps, and RIGHT_SHIFT by 1):
    integers JSON carries up to 2^32 - 1."""
    import io
    import tensorflow as tf

    class Unsigned(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([None, 4], tf.uint32, name="u")])
        def run(self, x):
            return {"tripled": x * tf.constant(3, tf.uint32),
                    "halved": tf.bitwise.right_shift(
                        x, tf.constant(1, tf.uint32))}

    module = Unsigned()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.run.get_concrete_function()], module)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def test_unsigned_integers(kiln_bin, model_cache, tmp_path):
    """uint32 through TF Serving's JSON (range-checked both ends, DT_UINT32
    in the metadata) and KServe's UINT32 in JSON and binary: outputs equal
    LiteRT's, values past INT32_MAX included."""
    import tritonclient.http as httpclient
    path = model_cache.custom("serve_uint32.tflite", _uint32_model)
    base = tmp_path / "models" / "u32"
    S.add_version(base, 1, path)
    rng = np.random.default_rng()
    x = rng.integers(0, 2**32, (3, 4), dtype=np.uint64).astype(np.uint32)
    x[0, :2] = [0, 2**32 - 1]
    want = litert(path, {"u": x})
    with S.Server(kiln_bin, [f"--model_base_path={base}",
                             "--model_name=u32"], tmp_path) as srv:
        srv.wait_available("u32", 1)
        r = predict(srv, "u32", {"inputs": {"u": x.tolist()}})
        assert r.status_code == 200, r.text
        outs = r.json()["outputs"]
        for name, value in want.items():
            got = np.array(outs[name], dtype=np.int64)
            assert got.shape == value.shape and \
                np.array_equal(got, value.astype(np.int64)), name
        for bad in (2**32, -1):
            message = assert_error(
                predict(srv, "u32", {"instances": [[bad, 0, 0, 0]]}), 400)
            assert f"{bad} does not fit uint32" in message, message
        sig = srv.get("/v1/models/u32/metadata").json()["metadata"][
            "signature_def"]["signature_def"]["serving_default"]
        assert sig["inputs"]["u"]["dtype"] == "DT_UINT32"
        assert {o["dtype"] for o in sig["outputs"].values()} == {"DT_UINT32"}
        client = httpclient.InferenceServerClient(
            url=f"127.0.0.1:{srv.port}", network_timeout=60 * SLOW)
        try:
            meta = client.get_model_metadata("u32")
            assert meta["inputs"][0]["datatype"] == "UINT32"
            for binary in (False, True):
                t = httpclient.InferInput("u", list(x.shape), "UINT32")
                t.set_data_from_numpy(x, binary_data=binary)
                outputs = [httpclient.InferRequestedOutput(
                    name, binary_data=binary) for name in want]
                result = client.infer("u32", [t], outputs=outputs)
                for name, value in want.items():
                    got = result.as_numpy(name)
                    assert got.dtype == np.uint32, (name, got.dtype)
                    assert np.array_equal(got, value), (name, binary)
        finally:
            client.close()
