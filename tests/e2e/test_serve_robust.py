"""`kiln serve` against what a production deployment throws at it (issue 10).

- A served model file rewritten in place after its load (same size with
  other weights, truncated, half written): the version serving keeps its
  answers, and the server lives (it mapped the file, and died by SIGBUS
  on the next request).
- NaN, Infinity and -Infinity as bare JSON tokens in requests, as TF
  Serving's reader takes them, in both REST APIs; strings holding those
  words are not numbers.
- Requests with zero rows: the same answer in both REST APIs, batched or
  not (a 400 naming the model), and no error message a client reads
  carries a host path.
"""
import json

import numpy as np
import pytest

import kiln_e2e as K
import serve_util as S

RTOL = 1e-5
BATCHING = """max_batch_size { value: 8 }
batch_timeout_micros { value: 20000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 1 }
"""


def rand(*shape, seed=None):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(
        np.float32)


def assert_close(got, want, what="output"):
    got = np.asarray(got, np.float32)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want " \
                                    f"{want.shape}"
    err = K.max_rel_error(got, want)
    assert err <= RTOL, f"{what}: max relative error {err:.3g} > {RTOL}"


def _affine_model(seed):
    """y = x * w + b over [None, 256] with random constant w and b: MUL and
    ADD read their constants from the model's bytes at every invoke (no
    load-time repacking copies them, as FULLY_CONNECTED's weights are). Two
    seeds give two files of one size and layout, with other answers."""
    def make():
        import contextlib
        import io
        import tensorflow as tf
        rng = np.random.default_rng(seed)
        w = tf.constant(rng.uniform(0.5, 2.0, 256).astype(np.float32))
        b = tf.constant(rng.uniform(-1.0, 1.0, 256).astype(np.float32))

        class Affine(tf.Module):
            @tf.function(input_signature=[
                tf.TensorSpec([None, 256], tf.float32, name="features")])
            def run(self, x):
                return {"output_0": x * w + b}

        module = Affine()
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [module.run.get_concrete_function()], module)
        with contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    return make


def overwrite_in_place(path, data, truncate=True):
    """Writes into the existing file (same inode), as cp over it does."""
    with open(path, "r+b") as f:
        if truncate:
            f.truncate(0)
        f.write(data)


@pytest.fixture(scope="module")
def affine(model_cache):
    return (model_cache.custom("serve_affine_1.tflite", _affine_model(1)),
            model_cache.custom("serve_affine_2.tflite", _affine_model(2)))


# ======================================= 1. a model file rewritten in place


def test_model_file_rewritten_in_place_keeps_serving(kiln_bin, affine,
                                                     tmp_path):
    model, changed = affine
    original, other = model.read_bytes(), changed.read_bytes()
    assert len(other) == len(original) and other != original
    x = rand(3, 256, seed=1)
    want = K.run_litert(model, {"features": x})["output_0"]
    want_other = K.run_litert(changed, {"features": x})["output_0"]
    assert K.max_rel_error(want_other, want) > 1e-3  # the rewrite matters

    S.add_version(tmp_path / "models" / "mlp", 1, model)
    served = tmp_path / "models" / "mlp" / "1" / "model.tflite"
    # Polling off: only the version loaded at start serves.
    with S.Server(kiln_bin, ["--model_name=mlp",
                             f"--model_base_path={tmp_path / 'models' / 'mlp'}",
                             "--file_system_poll_wait_seconds=0"],
                  tmp_path) as srv:
        srv.wait_available("mlp", 1)

        def predict_tfs():
            r = srv.post("/v1/models/mlp:predict", {"instances": x.tolist()})
            assert r.status_code == 200, r.text
            return r.json()["predictions"]

        def predict_kserve():
            r = srv.post("/v2/models/mlp/infer", {"inputs": [{
                "name": "features", "shape": list(x.shape),
                "datatype": "FP32", "data": x.ravel().tolist()}]})
            assert r.status_code == 200, r.text
            out = r.json()["outputs"][0]
            return np.reshape(out["data"], out["shape"])

        assert_close(predict_tfs(), want)
        # Same size, other weights, in place (no new inode).
        overwrite_in_place(served, other, truncate=False)
        assert served.read_bytes() == other
        assert_close(predict_tfs(), want, "after a same-size rewrite")
        assert_close(predict_kserve(), want, "after a same-size rewrite")
        # Truncated to nothing, then half written (a cp caught midway).
        overwrite_in_place(served, b"")
        assert srv.alive()
        assert_close(predict_tfs(), want, "after truncation")
        overwrite_in_place(served, other[:len(other) // 2])
        assert_close(predict_tfs(), want, "after a partial write")
        assert_close(predict_kserve(), want, "after a partial write")
        assert srv.alive(), srv.log()


# ================================= 2. NaN and Infinity in request JSON


@pytest.fixture(scope="module")
def affine_server(kiln_bin, affine, tmp_path_factory):
    """The affine model as "affine" (no batching) and as "batched"
    (dynamic batching, a 20 ms window so requests sent together merge)."""
    root = tmp_path_factory.mktemp("robust")
    S.add_version(root / "models" / "affine", 1, affine[0])
    S.add_version(root / "models" / "batched", 1, affine[0])
    (root / "models.config").write_text(S.model_config(
        {n: root / "models" / n for n in ("affine", "batched")}))
    (root / "batching.config").write_text(BATCHING)
    # Batching is per model here: only "batched" has the file.
    (root / "models" / "batched" / "1" / "batching_params.pbtxt").write_text(
        BATCHING)
    srv = S.Server(kiln_bin, [
        f"--model_config_file={root / 'models.config'}",
        "--enable_batching=true",
        "--enable_per_model_batching_parameters=true",
        f"--batching_parameters_file={root / 'batching.config'}",
        "--file_system_poll_wait_seconds=0",
    ], root)
    with srv:
        srv.wait_available("affine", 1)
        srv.wait_available("batched", 1)
        srv.root = root
        yield srv


def nonfinite_input(seed):
    """A [2, 256] input with NaN, Infinity and -Infinity among its values,
    and the JSON text of its rows with those as bare tokens."""
    x = rand(2, 256, seed=seed)
    x[0, 0], x[0, 5], x[1, 7], x[1, 255] = (np.nan, np.inf, -np.inf,
                                            np.nan)
    rows = json.dumps(x.tolist())  # Python writes NaN, Infinity, -Infinity
    assert "NaN" in rows and "-Infinity" in rows
    return x, rows


def assert_same_values(got, want):
    """Equal as floats, NaN where want has NaN."""
    got = np.asarray(got, np.float32)
    assert got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True), (got, want)


def test_nan_and_infinity_in_requests(affine_server, affine, kiln_bin,
                                      tmp_path):
    """The server reads the tokens as the floats they name: its answers
    equal `kiln run` on the same array (read from .npy, no JSON), and
    LiteRT's where LiteRT's are finite. (LiteRT's float ADD clamps
    +-Infinity to +-FLT_MAX through its activation bounds; kiln keeps the
    infinity, a kernel difference outside this test.)"""
    x, rows = nonfinite_input(3)
    outputs, _ = K.run_kiln(affine[0], {"features": x}, tmp_path,
                            kiln_bin=kiln_bin)
    want = next(iter(outputs.values()))
    assert np.isnan(want).any() and np.isinf(want).any()
    litert = K.run_litert(affine[0], {"features": x})["output_0"]
    both = np.isfinite(litert) & (np.abs(litert) < 3e38)
    assert np.array_equal(np.isnan(want), np.isnan(litert))
    assert_close(want[both], litert[both])
    headers = {"Content-Type": "application/json"}
    # TF Serving: row and columnar forms.
    for body in ('{"instances": %s}' % rows,
                 '{"inputs": {"features": %s}}' % rows):
        r = affine_server.post("/v1/models/affine:predict", body,
                               headers=headers)
        assert r.status_code == 200, r.text
        out = r.json()  # Python's reader takes NaN and Infinity back
        assert_same_values(out.get("predictions", out.get("outputs")), want)
    # KServe v2: flat data.
    flat = json.dumps(x.ravel().tolist())
    body = ('{"inputs": [{"name": "features", "shape": [2, 256], '
            '"datatype": "FP32", "data": %s}]}' % flat)
    r = affine_server.post("/v2/models/affine/infer", body, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert_same_values(np.reshape(out["data"], out["shape"]), want)


def test_nan_words_in_strings_stay_strings(affine_server):
    headers = {"Content-Type": "application/json"}
    row = ["NaN"] + [1.0] * 255
    r = affine_server.post("/v1/models/affine:predict",
                           json.dumps({"instances": [row]}), headers=headers)
    assert r.status_code == 400, r.text
    assert "expected a number but got a string" in r.json()["error"]
    # A string value elsewhere keeps its text: the id comes back as sent.
    x = rand(1, 256, seed=4)
    body = ('{"id": "NaN -Infinity", "inputs": [{"name": "features", '
            '"shape": [1, 256], "datatype": "FP32", "data": %s}]}'
            % json.dumps(x.ravel().tolist()))
    r = affine_server.post("/v2/models/affine/infer", body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "NaN -Infinity"
    # Not TF Serving's tokens: still a JSON error.
    r = affine_server.post("/v1/models/affine:predict",
                           '{"instances": [[nan]]}', headers=headers)
    assert r.status_code == 400, r.text


# ============================== 3. zero rows, and no host paths in errors


def zero_rows_kserve(srv, model):
    return srv.post(f"/v2/models/{model}/infer", {"inputs": [{
        "name": "features", "shape": [0, 256], "datatype": "FP32",
        "data": []}]})


def test_zero_rows_answered_alike(affine_server):
    """A 400 naming the model, alone or sent among requests that batching
    merges; TF Serving's forms of zero rows are 400s too."""
    srv = affine_server
    root = str(srv.root)
    for model in ("affine", "batched"):
        r = zero_rows_kserve(srv, model)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert f"model '{model}' version 1" in error and "0 rows" in error
        assert root not in error and "/tmp" not in error
    for body in ({"instances": []}, {"inputs": {"features": []}}):
        r = srv.post("/v1/models/batched:predict", body)
        assert r.status_code == 400, r.text
        assert root not in r.json()["error"]
    # Among others inside one batching window: the same 400, and the
    # others are answered as usual.
    import concurrent.futures
    x = rand(2, 256, seed=5)
    normal = {"inputs": [{"name": "features", "shape": [2, 256],
                          "datatype": "FP32", "data": x.ravel().tolist()}]}
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(zero_rows_kserve, srv, "batched")
                 if i % 2 else
                 pool.submit(srv.post, "/v2/models/batched/infer", normal)
                 for i in range(6)]
        answers = [c.result() for c in calls]
    for i, r in enumerate(answers):
        assert r.status_code == (400 if i % 2 else 200), r.text


def test_load_errors_carry_no_host_path(kiln_bin, affine, tmp_path):
    """A version that fails to load: its status in both APIs names the
    model and version, not the folder or file."""
    base = tmp_path / "models" / "m"
    S.add_version(base, 1, affine[0])
    bad = tmp_path / "garbage.tflite"
    bad.write_bytes(b"not a model at all" * 64)
    with S.Server(kiln_bin, ["--model_name=m", f"--model_base_path={base}",
                             "--file_system_poll_wait_seconds=1"],
                  tmp_path) as srv:
        srv.wait_available("m", 1)
        S.add_version(base, 2, bad)
        S.wait_for(lambda: srv.status("m").get(2, {}).get("state") == "END",
                   30 * S.SLOW, what="version 2 failed")
        r = srv.get("/v1/models/m")
        assert r.status_code == 200, r.text
        errors = [v["status"]["error_message"]
                  for v in r.json()["model_version_status"]
                  if v["version"] == "2"]
        assert errors and errors[0], r.text
        assert "model 'm' version 2" in errors[0], errors[0]
        r = srv.post("/v2/repository/index", {})
        assert r.status_code == 200, r.text
        reasons = [e.get("reason", "") for e in r.json()
                   if e.get("version") == "2"]
        for text in errors + reasons:
            assert str(tmp_path) not in text and "/tmp" not in text, text
        # The server log keeps the path for its operator.
        assert str(base) in srv.log()


# ============== a model that runs past the deadline (a WHILE that never ends)


def _endless_loop_model():
    """y = x + steps, by adding 1 `steps` times in a WHILE: a request with
    steps near 2**31 runs for hours unless the server stops it."""
    def make():
        import contextlib
        import io
        import tensorflow as tf

        class Loop(tf.Module):
            @tf.function(input_signature=[
                tf.TensorSpec([None, 4], tf.float32, name="x"),
                tf.TensorSpec([None], tf.int32, name="steps")])
            def run(self, x, steps):
                def body(i, acc):
                    return i + 1, acc + 1.0
                _, y = tf.while_loop(lambda i, acc: i < steps[0], body,
                                     [tf.constant(0), x])
                return {"y": y}

        module = Loop()
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [module.run.get_concrete_function()], module)
        with contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    return make


def test_model_running_past_deadline_is_stopped(kiln_bin, model_cache,
                                                tmp_path):
    model = model_cache.custom("serve_endless_loop.tflite",
                               _endless_loop_model())
    S.add_version(tmp_path / "models" / "loop", 1, model)
    with S.Server(kiln_bin, ["--model_name=loop",
                             f"--model_base_path={tmp_path / 'models' / 'loop'}",
                             "--num_workers=1"],
                  tmp_path) as srv:
        srv.wait_available("loop", 1)
        x = rand(1, 4, seed=3)

        def ask(steps, **kw):
            return srv.post("/v1/models/loop:predict", {"inputs": {
                "x": x.tolist(), "steps": [steps]}}, **kw)

        r = ask(5)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["outputs"], x + 5, rtol=1e-6)
        # Two billion rounds: stopped at its 300 ms deadline, with 504.
        r = ask(2**31 - 1, headers={"X-Request-Timeout-Ms": "300"},
                timeout=30)
        assert r.status_code == 504, r.text
        assert "deadline" in r.json()["error"].lower()
        # The worker is free again.
        r = ask(7)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["outputs"], x + 7, rtol=1e-6)
        assert srv.alive(), srv.log()
