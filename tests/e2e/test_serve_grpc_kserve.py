"""KServe v2 over gRPC (inference.GRPCInferenceService) driven by Triton's
own client, tritonclient.grpc, and by perf_analyzer -i grpc (issue 10).

The server is the real binary (serve_util.Server with grpc=True: --port
on a free port) serving the models the REST tests use (tests/e2e/
test_serve.py: the MLP, the two-input two-output model, a float16-input
model). Each promise is checked against an independent answer: outputs
against LiteRT and against the same server's REST answer (tritonclient.http),
metadata and configuration against the REST endpoints; errors by gRPC
status code and a message naming the input, never a host path.

Typed tensor contents (InferTensorContents), which tritonclient never
sends, and requests tritonclient cannot make (a huge shape with a few raw
bytes, a load with parameters.base_path) go through the generated stub of
tritonclient's own descriptors (service_pb2 / service_pb2_grpc).
"""
import concurrent.futures
import queue
import re
import shutil
import subprocess

import numpy as np
import pytest

import kiln_e2e as K
import serve_util as S
from serve_util import SLOW

grpcclient = pytest.importorskip("tritonclient.grpc")
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

import grpc  # noqa: E402

RTOL = 1e-5
BATCHING = """max_batch_size { value: 8 }
batch_timeout_micros { value: 5000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 2 }
"""


def _fp16_model():
    import test_serve
    return test_serve._fp16_input_model()


@pytest.fixture(scope="module")
def models(model_cache):
    return {
        "mlp": model_cache.path("mlp", "float32"),
        "two": model_cache.path("dynamic_batch", "float32"),
        "fp16": model_cache.custom("serve_fp16_input.tflite", _fp16_model),
    }


@pytest.fixture(scope="module")
def server(kiln_bin, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("grpc_kserve")
    for name in models:
        S.add_version(root / "models" / name, 1, models[name])
    (root / "models.config").write_text(S.model_config(
        {n: root / "models" / n for n in models}))
    with S.Server(kiln_bin, [f"--model_config_file={root / 'models.config'}"],
                  root, grpc=True) as srv:
        for name in models:
            srv.wait_available(name, 1)
        srv.root = root
        yield srv


@pytest.fixture
def client(server):
    c = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    yield c
    c.close()


@pytest.fixture
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def two_inputs(n, seed=None):
    rng = np.random.default_rng(seed)
    return {"features": rng.uniform(-1, 1, (n, 16)).astype(np.float32),
            "patch": rng.uniform(-1, 1, (n, 8, 8, 3)).astype(np.float32)}


def feeds(model, n, seed=0):
    rng = np.random.default_rng(seed)
    if model == "two":
        return two_inputs(n, seed)
    if model == "fp16":
        return {"half": rng.uniform(-1, 1, (n, 4)).astype(np.float16)}
    return {"features": rng.uniform(-1, 1, (n, 16)).astype(np.float32)}


def dtype_name(array):
    return {np.float32: "FP32", np.float16: "FP16",
            np.float64: "FP64"}[array.dtype.type]


def grpc_inputs(feed):
    out = []
    for name, value in feed.items():
        t = grpcclient.InferInput(name, list(value.shape), dtype_name(value))
        t.set_data_from_numpy(value)  # raw_input_contents
        out.append(t)
    return out


def rest_infer(server, model, feed):
    import tritonclient.http as httpclient
    c = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    inputs = []
    for name, value in feed.items():
        t = httpclient.InferInput(name, list(value.shape), dtype_name(value))
        t.set_data_from_numpy(value, binary_data=True)
        inputs.append(t)
    result = c.infer(model, inputs)
    c.close()
    return result


def assert_close(got, want, what="output"):
    got = np.asarray(got, np.float32)
    assert got.shape == want.shape, f"{what}: {got.shape} vs {want.shape}"
    err = K.max_rel_error(got, want)
    assert err <= RTOL, f"{what}: max relative error {err:.3g} > {RTOL}"


def expect_error(call, code, *needles, root=None):
    """call() fails with gRPC status `code` and a message holding each
    needle and no host path; returns the message."""
    with pytest.raises(InferenceServerException) as info:
        call()
    e = info.value
    assert e.status() == str(code), (e.status(), e.message())
    for needle in needles:
        assert needle in e.message(), e.message()
    if root is not None:
        assert str(root) not in e.message()
    return e.message()


# ====================================================== health, metadata


def test_health(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("two")
    assert client.is_model_ready("two", "1")
    assert not client.is_model_ready("two", "7")
    assert not client.is_model_ready("no_such_model")


def test_server_metadata_matches_rest(client, server):
    meta = client.get_server_metadata(as_json=True)
    rest = server.get("/v2").json()
    assert meta["name"] == rest["name"] == "kiln"
    assert meta["version"] == rest["version"]
    assert meta["extensions"] == rest["extensions"]


@pytest.mark.parametrize("model", ["mlp", "two", "fp16"])
def test_model_metadata_matches_rest(client, server, models, model):
    meta = client.get_model_metadata(model, as_json=True)
    rest = server.get(f"/v2/models/{model}").json()
    assert meta["name"] == rest["name"] == model
    assert meta["versions"] == rest["versions"] == ["1"]
    assert meta["platform"] == rest["platform"]

    def tensors(listed):  # protobuf's JSON writes int64s as strings
        return {t["name"]: (t["datatype"], [int(d) for d in t["shape"]])
                for t in listed}
    for key in ("inputs", "outputs"):
        assert tensors(meta[key]) == tensors(rest[key])
    ins, _ = K.signature(models[model])
    assert set(tensors(meta["inputs"])) == {t.name for t in ins}


@pytest.mark.parametrize("model", ["mlp", "two"])
def test_model_config_matches_rest(client, server, model):
    config = client.get_model_config(model, as_json=True)["config"]
    rest = server.get(f"/v2/models/{model}/config").json()
    assert config["name"] == rest["name"]
    assert config["platform"] == rest["platform"]
    assert config["backend"] == rest["backend"]
    assert int(config.get("max_batch_size", 0)) == rest["max_batch_size"]
    assert int(config.get("max_batch_size", 0)) > 0

    def tensors(listed):
        return {t["name"]: (t["data_type"], [int(d) for d in t["dims"]])
                for t in listed}
    for key in ("input", "output"):
        assert tensors(config[key]) == tensors(rest[key])


def test_statistics_match_rest(client, server):
    x = feeds("mlp", 2, seed=5)
    for _ in range(3):
        client.infer("mlp", grpc_inputs(x))
    stats = client.get_inference_statistics("mlp", as_json=True)
    rest = server.get("/v2/models/mlp/stats").json()["model_stats"][0]
    s = stats["model_stats"][0]
    assert s["name"] == "mlp" and s["version"] == "1"
    success = s["inference_stats"]["success"]
    assert int(success["count"]) == rest["inference_stats"]["success"]["count"]
    assert int(success["count"]) >= 3 and int(success["ns"]) > 0
    assert int(s["inference_count"]) == rest["inference_count"] >= 6
    every = client.get_inference_statistics(as_json=True)["model_stats"]
    assert {m["name"] for m in every} == {"mlp", "two", "fp16"}


# ================================================================ infer


@pytest.mark.parametrize("model", ["mlp", "two", "fp16"])
def test_infer_matches_rest_and_litert(client, server, models, model):
    feed = feeds(model, 3, seed=1)
    want = K.run_litert(models[model], feed)
    result = client.infer(model, grpc_inputs(feed), request_id="req-7")
    response = result.get_response(as_json=True)
    assert response["id"] == "req-7"
    assert response["model_name"] == model
    assert response["model_version"] == "1"
    rest = rest_infer(server, model, feed)
    assert {o["name"] for o in response["outputs"]} == set(want)
    for name, value in want.items():
        got = result.as_numpy(name)
        assert_close(got, value, name)
        np.testing.assert_array_equal(got, rest.as_numpy(name))


def test_requested_outputs_filter_the_answer(client, models):
    feed = two_inputs(2, seed=2)
    want = K.run_litert(models["two"], feed)
    result = client.infer(
        "two", grpc_inputs(feed), request_id="only-scores",
        outputs=[grpcclient.InferRequestedOutput("raw scores")])
    response = result.get_response()
    assert [o.name for o in response.outputs] == ["raw scores"]
    assert len(response.raw_output_contents) == 1
    assert response.id == "only-scores"
    assert result.as_numpy("class-probs/v1:0") is None
    assert_close(result.as_numpy("raw scores"), want["raw scores"])
    expect_error(lambda: client.infer(
        "two", grpc_inputs(feed),
        outputs=[grpcclient.InferRequestedOutput("nope")]),
        "StatusCode.INVALID_ARGUMENT", "'nope'")


def _typed_request(model, feed, version=""):
    """A ModelInferRequest with InferTensorContents (fp32_contents) instead
    of raw_input_contents."""
    req = service_pb2.ModelInferRequest(model_name=model,
                                        model_version=version, id="typed")
    for name, value in feed.items():
        t = req.inputs.add(name=name, datatype="FP32", shape=value.shape)
        t.contents.fp32_contents.extend(value.ravel().tolist())
    return req


def test_typed_contents_match_raw(stub, client, models):
    feed = two_inputs(3, seed=3)
    want = K.run_litert(models["two"], feed)
    raw = client.infer("two", grpc_inputs(feed))
    response = stub.ModelInfer(_typed_request("two", feed, "1"),
                               timeout=30 * SLOW)
    assert response.id == "typed"
    for meta, data in zip(response.outputs, response.raw_output_contents):
        got = np.frombuffer(data, np.float32).reshape(list(meta.shape))
        assert_close(got, want[meta.name], meta.name)
        np.testing.assert_array_equal(got, raw.as_numpy(meta.name))


def test_async_and_concurrent_with_batching(kiln_bin, models, tmp_path):
    S.add_version(tmp_path / "models" / "mlp", 1, models["mlp"])
    (tmp_path / "batching.config").write_text(BATCHING)
    xs = np.random.default_rng(4).uniform(-1, 1, (48, 16)).astype(np.float32)
    want = K.run_litert(models["mlp"], {"features": xs})["output_0"]
    with S.Server(kiln_bin, [f"--model_base_path={tmp_path / 'models/mlp'}",
                             "--model_name=mlp", "--enable_batching",
                             f"--batching_parameters_file="
                             f"{tmp_path / 'batching.config'}"],
                  tmp_path / "run", grpc=True) as srv:
        srv.wait_available("mlp", 1)
        url = f"127.0.0.1:{srv.grpc_port}"
        # async_infer: every call in flight at once on one channel.
        c = grpcclient.InferenceServerClient(url)
        done = queue.Queue()
        for i in range(len(xs)):
            c.async_infer("mlp", grpc_inputs({"features": xs[i:i + 1]}),
                          callback=lambda result, error, i=i: done.put(
                              (i, result, error)),
                          request_id=str(i))
        for _ in range(len(xs)):
            i, result, error = done.get(timeout=60 * SLOW)
            assert error is None, error
            assert result.get_response().id == str(i)
            assert_close(result.as_numpy("output_0"), want[i:i + 1], f"#{i}")
        c.close()

        # Blocking calls from threads, a client each.
        def one(i):
            with grpcclient.InferenceServerClient(url) as ci:
                r = ci.infer("mlp", grpc_inputs({"features": xs[i:i + 1]}))
                return r.as_numpy("output_0")
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            for i, got in enumerate(pool.map(one, range(len(xs)))):
                assert_close(got, want[i:i + 1], f"thread #{i}")

        # Batching shared with REST: requests were merged (the batch size
        # histogram REST's batching test reads).
        from test_serve import _batch_histogram
        batches, single = _batch_histogram(srv, "mlp")
        print(f"{batches:.0f} batches for {2 * len(xs)} requests; "
              f"{single:.0f} of one row")
        assert batches - single > 0, "no batch held more than one row"
        assert batches < 2 * len(xs)


def test_grpc_deadline_drops_queued_call(kiln_bin, model_cache, tmp_path):
    """Behind a backlog on one worker, a call whose gRPC deadline passes
    while it waits is dropped from the queue (counted as failed) instead of
    run: the server takes the call's deadline as REST takes its timeout."""
    from test_serve import _images, _pending
    S.add_version(tmp_path / "models" / "mobilenet", 1,
                  model_cache.path("mobilenet_v2_035", "float32"))
    with S.Server(kiln_bin, [
            f"--model_base_path={tmp_path / 'models' / 'mobilenet'}",
            "--model_name=mobilenet", "--num_workers=1",
            "--max_queued_requests=16"], tmp_path / "run", grpc=True) as srv:
        srv.wait_available("mobilenet", 1)
        url = f"127.0.0.1:{srv.grpc_port}"
        images = _images()

        def slow(_):
            with grpcclient.InferenceServerClient(url) as c:
                return c.infer("mobilenet", grpc_inputs({"image": images}))
        backlog = 6
        with concurrent.futures.ThreadPoolExecutor(backlog) as pool:
            futures = [pool.submit(slow, i) for i in range(backlog)]
            S.wait_for(lambda: _pending(srv) >= 2, 30 * SLOW, interval=0.002,
                       what="a backlog")
            with grpcclient.InferenceServerClient(url) as c:
                expect_error(lambda: c.infer(
                    "mobilenet", grpc_inputs({"image": images[:1]}),
                    client_timeout=0.05), "StatusCode.DEADLINE_EXCEEDED")
            for f in futures:
                f.result(timeout=120 * SLOW)
        stats = grpcclient.InferenceServerClient(url).get_inference_statistics(
            "mobilenet").model_stats[0].inference_stats
        assert stats.success.count == backlog, stats
        assert stats.fail.count == 1, stats


# =============================================================== errors


def test_errors(client, stub, server):
    root = server.root
    feed = feeds("mlp", 2)
    expect_error(lambda: client.infer("no_such_model", grpc_inputs(feed)),
                 "StatusCode.NOT_FOUND", "no_such_model", root=root)
    expect_error(lambda: client.get_model_metadata("no_such_model"),
                 "StatusCode.NOT_FOUND", root=root)
    expect_error(lambda: client.get_model_config("mlp", "9"),
                 "StatusCode.NOT_FOUND", root=root)
    # Wrong datatype, wrong shape, wrong name: INVALID_ARGUMENT naming it.
    wrong = {"features": feed["features"].astype(np.float64)}
    expect_error(lambda: client.infer("mlp", grpc_inputs(wrong)),
                 "StatusCode.INVALID_ARGUMENT", "'features'", "FP64",
                 root=root)
    short = {"features": np.zeros((2, 15), np.float32)}
    expect_error(lambda: client.infer("mlp", grpc_inputs(short)),
                 "StatusCode.INVALID_ARGUMENT", "'features'", root=root)
    renamed = {"feature": feed["features"]}
    expect_error(lambda: client.infer("mlp", grpc_inputs(renamed)),
                 "StatusCode.INVALID_ARGUMENT", "'feature'", root=root)
    empty = {"features": np.zeros((0, 16), np.float32)}
    expect_error(lambda: client.infer("mlp", grpc_inputs(empty)),
                 "StatusCode.INVALID_ARGUMENT", "mlp", root=root)
    expect_error(lambda: client.infer("mlp", grpc_inputs(feed),
                                      model_version="x"),
                 "StatusCode.INVALID_ARGUMENT", "model_version", root=root)

    # A shape of 2^40 rows with 4 raw bytes: refused, not allocated.
    req = service_pb2.ModelInferRequest(model_name="mlp")
    req.inputs.add(name="features", datatype="FP32", shape=[1 << 40, 16])
    req.raw_input_contents.append(b"abcd")
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(req, timeout=30 * SLOW)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'features'" in info.value.details()
    assert "raw_input_contents[0]" in info.value.details()
    # Bytes that are no message at all.
    bad = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}").unary_unary(
        "/inference.GRPCInferenceService/ModelInfer")
    with pytest.raises(grpc.RpcError) as info:
        bad(b"\x0a\xff\xff\xff\x0f", timeout=30 * SLOW)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "byte offset" in info.value.details()
    # And it still serves.
    assert client.infer("mlp", grpc_inputs(feed)).as_numpy("output_0") \
        is not None


# =========================================================== repository


def test_repository_refused_unless_explicit(client, stub, server):
    expect_error(lambda: client.unload_model("mlp"),
                 "StatusCode.FAILED_PRECONDITION", "model_control_mode",
                 root=server.root)
    expect_error(lambda: client.load_model("mlp"),
                 "StatusCode.FAILED_PRECONDITION", "model_control_mode")
    assert client.is_model_ready("mlp")
    index = client.get_model_repository_index(as_json=True)["models"]
    assert {m["name"]: m["state"] for m in index} == {
        "mlp": "READY", "two": "READY", "fp16": "READY"}


def _load_request(name, base_path=None):
    req = service_pb2.RepositoryModelLoadRequest(model_name=name)
    if base_path is not None:
        req.parameters["base_path"].string_param = str(base_path)
    return req


def test_repository_explicit(kiln_bin, models, tmp_path):
    root = tmp_path / "models"
    S.add_version(root / "mlp", 1, models["mlp"])
    S.add_version(tmp_path / "repo" / "extra", 1, models["two"])
    S.add_version(tmp_path / "outside" / "secret", 1, models["mlp"])
    config = tmp_path / "models.config"
    config.write_text(S.model_config({"mlp": root / "mlp"}))
    with S.Server(kiln_bin, [f"--model_config_file={config}",
                             "--model_control_mode=explicit",
                             f"--model_repository={tmp_path / 'repo'}",
                             "--file_system_poll_wait_seconds=1"],
                  tmp_path / "run", grpc=True) as srv:
        srv.wait_available("mlp", 1)
        url = f"127.0.0.1:{srv.grpc_port}"
        c = grpcclient.InferenceServerClient(url)
        c.unload_model("mlp")
        assert not c.is_model_ready("mlp")
        assert srv.get("/v2/models/mlp/ready").status_code != 200
        c.load_model("mlp")
        assert c.is_model_ready("mlp")
        # By name under --model_repository: loads and serves.
        c.load_model("extra")
        assert c.is_model_ready("extra")
        index = {m["name"]: m for m in
                 c.get_model_repository_index(as_json=True)["models"]}
        assert index["extra"]["state"] == "READY"
        # parameters.base_path outside the roots: refused, no path shown.
        channel = grpc.insecure_channel(url)
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.RepositoryModelLoad(
                _load_request("secret", tmp_path / "outside" / "secret"),
                timeout=30 * SLOW)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert str(tmp_path) not in info.value.details()
        assert not c.is_model_ready("secret")
        assert srv.get("/v2/health/ready").status_code == 200
        channel.close()
        c.close()


# ======================================================== perf_analyzer


@pytest.mark.parametrize("protocol,mode", [
    ("grpc", "sync"), ("grpc", "async"), ("http", "sync"), ("http", "async")])
def test_perf_analyzer(server, protocol, mode):
    """Triton's load tool, unchanged, over both protocols: it reads the
    model's metadata and config, then drives infer at concurrency 1 to 4
    (sync) or 16 (async, where issue 10 saw the HTTP client print
    "Unexpected error: received CURLMsg=..." lines)."""
    binary = shutil.which("perf_analyzer")
    if not binary:
        pytest.skip("perf_analyzer is not installed (scripts/setup installs "
                    "it from tritonclient 2.41.0's wheel on x86-64)")
    port = server.grpc_port if protocol == "grpc" else server.port
    args = [binary, "-m", "mlp", "-u", f"127.0.0.1:{port}", "-i", protocol,
            "--measurement-interval", "1000", "--stability-percentage", "1000",
            "--max-trials", "5"]
    args += (["--concurrency-range", "1:4"] if mode == "sync" else
             ["--async", "--concurrency-range", "16"])
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    print(out.stdout[-3000:])
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    assert "Throughput" in out.stdout
    if protocol == "http" and mode == "async":
        # The client's own defect (docs/ARCHITECTURE.md, "perf_analyzer
        # --async"): its HTTP client reads each finished transfer's CURLMsg
        # after freeing it, so a garbage number is printed for requests
        # that completed. Only those lines are set aside; the server's own
        # counts below show every request it got succeeded.
        text = re.sub(r"Unexpected error: received CURLMsg=-?\d+\n?", "",
                      text)
    assert "error" not in text.lower(), text[-4000:]
    counts = re.findall(r"Inference count: (\d+)\s+Execution count: \d+\s+"
                        r"Successful request count: (\d+)", out.stdout)
    assert counts and all(int(a) == int(b) > 0 for a, b in counts), \
        out.stdout[-3000:]
