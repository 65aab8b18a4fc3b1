"""`kiln serve --bearer_token_file` (issue 10, part 3: security for exposed
deployments).

Each test starts the real binary with a token file and checks one promise
with real clients (requests, tritonclient, raw sockets): a request without
the token, or with a wrong one, is answered 401 with a JSON error and
RFC 6750's WWW-Authenticate challenge; the right token is served as
without a token file; the health probes and TF Serving's model status
stay open; /metrics needs the token; a refused request is answered at its
headers, so an unauthenticated client cannot make the server read a
60 MB body; refusals are counted in the metrics and the access log.
"""
import json
import socket
import subprocess

import numpy as np
import pytest
import requests

import kiln_e2e as K
import serve_util as S
from serve_util import SLOW

RTOL = 1e-5
TOKEN = "kiln-Test_token.42~+/="


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp", "float32")


@pytest.fixture
def server(kiln_bin, tmp_path, mlp):
    """A server on the MLP with a token file (the token surrounded by the
    whitespace editors leave), an access log, and room for 60 MB bodies
    (so a refusal of one cannot be the size limit's)."""
    S.add_version(tmp_path / "models" / "mlp", 1, mlp)
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\r\n")
    with S.Server(kiln_bin, ["--model_name=mlp",
                             f"--model_base_path={tmp_path / 'models' / 'mlp'}",
                             f"--bearer_token_file={token_file}", "--port=0",
                             "--max_body_bytes=100000000",
                             f"--access_log={tmp_path / 'access.log'}"],
                  tmp_path) as srv:
        srv.wait_available("mlp", 1)
        srv.access_log = tmp_path / "access.log"
        yield srv


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def features(rows=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (rows, 16)).astype(
        np.float32)


def check_401(r, invalid_token):
    assert r.status_code == 401, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert "Bearer" in r.json()["error"] or "bearer" in r.json()["error"]
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer "), challenge
    assert ('error="invalid_token"' in challenge) == invalid_token, challenge


def test_missing_or_wrong_token_is_401(server, mlp):
    x = features()
    body = {"instances": x.tolist()}
    check_401(server.post("/v1/models/mlp:predict", body), False)
    check_401(server.post("/v1/models/mlp:predict", body,
                          headers=auth("wrong")), True)
    check_401(server.post("/v1/models/mlp:predict", body,
                          headers=auth(TOKEN + "x")), True)
    check_401(server.post("/v1/models/mlp:predict", body,
                          headers={"Authorization": f"Basic {TOKEN}"}), False)
    # The right token: served, equal to LiteRT's answer; the scheme's case
    # does not matter (RFC 7235).
    want = K.run_litert(mlp, {"features": x})["output_0"]
    for header in (auth(), {"Authorization": f"bearer {TOKEN}"}):
        r = server.post("/v1/models/mlp:predict", body, headers=header)
        assert r.status_code == 200, r.text
        got = np.asarray(r.json()["predictions"], np.float32)
        assert K.max_rel_error(got, want) <= RTOL


def test_every_api_needs_the_token(server):
    """Metadata, KServe, the repository API and /metrics all need it."""
    for method, path in [("GET", "/v1/models/mlp/metadata"),
                         ("GET", "/v1/models"),
                         ("GET", "/v2"),
                         ("GET", "/v2/models/mlp"),
                         ("GET", "/v2/models/mlp/ready"),
                         ("POST", "/v2/models/mlp/infer"),
                         ("POST", "/v2/repository/index"),
                         ("GET", "/metrics"),
                         ("GET", "/no/such/path")]:
        r = server.http.request(method, server.url + path, timeout=30 * SLOW)
        check_401(r, False)
        r = server.http.request(method, server.url + path, headers=auth(),
                                timeout=30 * SLOW)
        assert r.status_code != 401, (method, path, r.text)


def test_health_and_model_status_are_exempt(server):
    """Load balancers and Kubernetes probes carry no token: KServe's health
    endpoints and TF Serving's model status answer without one."""
    assert server.get("/v2/health/live").status_code == 200
    assert server.get("/v2/health/ready").status_code == 200
    r = server.get("/v1/models/mlp")
    assert r.status_code == 200, r.text
    assert r.json()["model_version_status"][0]["state"] == "AVAILABLE"
    assert server.get("/v1/models/mlp/versions/1").status_code == 200
    # ... and with a wrong token too (it is not looked at).
    assert server.get("/v2/health/ready",
                      headers=auth("wrong")).status_code == 200


def test_tritonclient_with_the_token(server):
    """Triton's own client passes the header on each call."""
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}",
                                              network_timeout=60 * SLOW)
    try:
        x = features(3, seed=1)
        inp = httpclient.InferInput("features", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=True)
        with pytest.raises(InferenceServerException) as refused:
            client.infer("mlp", [inp])
        assert "401" in str(refused.value) or "Bearer" in str(refused.value)
        result = client.infer("mlp", [inp], headers=auth())
        name = result.get_response()["outputs"][0]["name"]
        r = server.post("/v1/models/mlp:predict", {"instances": x.tolist()},
                        headers=auth())
        assert np.array_equal(result.as_numpy(name),
                              np.asarray(r.json()["predictions"], np.float32))
    finally:
        client.close()


def _answer_to_headers(port, headers):
    """Sends only a request's headers (announcing a 60 MB body that never
    comes) and returns what the server answers, or a marker when it
    answers nothing (it would be waiting for the body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    try:
        s.sendall(b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n" + headers +
                  b"Content-Length: 60000000\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head, rest
    except socket.timeout:
        return b"(no answer within 10 s)", b""
    finally:
        s.close()


def test_refused_at_the_headers_without_reading_the_body(server):
    """An announced 60 MB body (within --max_body_bytes) without the token
    is answered 401 at once, none of it sent; with Expect: 100-continue
    the server does not invite the body either."""
    for extra, invalid in ((b"", False),
                           (b"Authorization: Bearer nope\r\n", True),
                           (b"Expect: 100-continue\r\n", False)):
        head, body = _answer_to_headers(server.port, extra)
        assert head.startswith(b"HTTP/1.1 401"), head
        lines = head.decode().lower()
        assert "www-authenticate: bearer" in lines, head
        assert ('error="invalid_token"' in lines) == invalid, head
        assert "error" in json.loads(body)
    assert server.get("/v2/health/live").status_code == 200
    r = server.post("/v1/models/mlp:predict",
                    {"instances": features().tolist()}, headers=auth())
    assert r.status_code == 200, r.text


def test_refusals_are_counted(server):
    """401s appear in the metrics (TF Serving's request_count, under no
    model: a client without the token cannot add series by naming models)
    and in the access log."""
    for path in ("/v1/models/a:predict", "/v1/models/b:predict"):
        assert server.post(path, {"instances": [[0.0] * 16]}
                           ).status_code == 401
    text = server.get("/metrics", headers=auth()).text
    counts = [(labels, value) for labels, value in S.metric_samples(
        text, ":tensorflow:serving:request_count")
        if labels.get("status") == "UNAUTHENTICATED"]
    assert counts and sum(v for _, v in counts) >= 2, text
    assert all(labels.get("model_name") == "" for labels, _ in counts), counts
    assert 'model_name="a"' not in text and 'model_name="b"' not in text
    log = [json.loads(line) for line in
           server.access_log.read_text().splitlines()]
    refused = [e for e in log if e["status"] == 401]
    assert {e["path"] for e in refused} >= {"/v1/models/a:predict",
                                            "/v1/models/b:predict"}, log


@pytest.mark.parametrize("content", ["", "\n\n", "two words\n",
                                     "quote\"d\n"])
def test_unusable_token_file_refuses_to_start(kiln_bin, tmp_path, mlp,
                                              content):
    S.add_version(tmp_path / "models" / "mlp", 1, mlp)
    token_file = tmp_path / "token"
    token_file.write_text(content)
    result = subprocess.run(
        [str(kiln_bin), "serve", f"--rest_api_port={S.free_port()}",
         "--host=127.0.0.1", "--port=0",
         f"--model_base_path={tmp_path / 'models' / 'mlp'}",
         f"--bearer_token_file={token_file}"],
        capture_output=True, text=True, timeout=30 * SLOW)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"--bearer_token_file={token_file}" in out, out
    assert "serving on" not in out, out
