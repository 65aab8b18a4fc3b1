"""`kiln serve` over TLS from TF Serving's --ssl_config_file (issue 10,
part 3: security for exposed deployments).

A CA, a server certificate (for 127.0.0.1 and localhost), a client
certificate signed by the CA and a self-signed "rogue" client certificate
are made at test time with Debian's openssl command; the SSLConfig file
carries the PEM text inline, quoted with \\n escapes as TF Serving's text
format wants. Each test starts the real binary and drives it with real
clients (requests, tritonclient, Python's ssl module): answers over TLS
equal the plaintext server's, plaintext to the TLS port fails cleanly and
the server keeps serving, mutual TLS refuses clients without a
certificate from the CA, and the connection deadlines cut slow handshakes
and bodies without writing plaintext into the TLS stream.
"""
import json
import shutil
import socket
import ssl
import subprocess
import time

import numpy as np
import pytest
import requests

import serve_util as S
from serve_util import SLOW

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="needs the openssl command")


# ------------------------------------------------------- certificates


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def _new_key_and_csr(directory, name, subject):
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", subject, cwd=directory)


def _sign(directory, name, extensions):
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
             "-extfile", f"{name}.ext", cwd=directory)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Paths of ca.pem, server.{key,pem}, client.{key,pem} and
    rogue.{key,pem} (self-signed, not from the CA)."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=kiln test CA", cwd=d)
    _new_key_and_csr(d, "server", "/CN=localhost")
    _sign(d, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
          "extendedKeyUsage=serverAuth\n")
    _new_key_and_csr(d, "client", "/CN=kiln test client")
    _sign(d, "client", "extendedKeyUsage=clientAuth\n")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", "rogue.key",
             "-out", "rogue.pem", "-days", "2", "-subj", "/CN=rogue", cwd=d)
    return d


def pbtxt_string(text):
    """A protocol-buffer text string literal: quoted, with \\n escapes."""
    return json.dumps(text)  # JSON's escapes are valid text-format escapes


def write_ssl_config(path, pki, client_verify=False, key="server.key",
                     cert="server.pem"):
    """TF Serving's SSLConfig, PEM text inline."""
    text = (f"server_key: {pbtxt_string((pki / key).read_text())}\n"
            f"server_cert: {pbtxt_string((pki / cert).read_text())}\n")
    if client_verify:
        text += (f"custom_ca: {pbtxt_string((pki / 'ca.pem').read_text())}\n"
                 "client_verify: true\n")
    path.write_text(text)
    return path


class TLSServer(S.Server):
    """A Server reached over https, trusting the test CA (and presenting
    the client certificate, when given, for mutual TLS)."""

    def __init__(self, kiln_bin, args, workdir, ca, client_cert=None, **kw):
        self.ca = str(ca)
        self.client_cert = client_cert
        super().__init__(kiln_bin, args, workdir, **kw)

    # Per request: a Session's verify loses to $REQUESTS_CA_BUNDLE.
    def get(self, path, **kw):
        kw.setdefault("verify", self.ca)
        kw.setdefault("cert", self.client_cert)
        return super().get(path, **kw)

    def post(self, path, body=None, **kw):
        kw.setdefault("verify", self.ca)
        kw.setdefault("cert", self.client_cert)
        return super().post(path, body, **kw)

    def _wait_live(self, timeout):
        self.url = f"https://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = requests.get(self.url + "/v2/health/live", timeout=1,
                                 verify=self.ca, cert=self.client_cert)
                if r.status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp", "float32")


@pytest.fixture
def base(tmp_path, mlp):
    S.add_version(tmp_path / "models" / "mlp", 1, mlp)
    return tmp_path / "models" / "mlp"


def serve_args(base, *extra):
    return ["--model_name=mlp", f"--model_base_path={base}", "--port=0",
            *extra]


def client_pair(pki, name="client"):
    return (str(pki / f"{name}.pem"), str(pki / f"{name}.key"))


def predict_and_infer(srv, x):
    """TF Serving's predict and KServe's infer on x (JSON over requests):
    (predictions, output data)."""
    r = srv.post("/v1/models/mlp:predict", {"instances": x.tolist()})
    assert r.status_code == 200, r.text
    body = {"inputs": [{"name": "features", "shape": list(x.shape),
                        "datatype": "FP32", "data": x.ravel().tolist()}]}
    k = srv.post("/v2/models/mlp/infer", body)
    assert k.status_code == 200, k.text
    return r.json()["predictions"], k.json()["outputs"][0]["data"]


# =========================================================== server TLS


def test_tls_answers_equal_plaintext(kiln_bin, base, pki, tmp_path):
    """TF Serving REST and KServe REST over TLS give the plaintext
    server's answers; the log says https://; a client that does not trust
    the test CA is refused by its own verification."""
    config = write_ssl_config(tmp_path / "ssl.config", pki)
    x = np.random.default_rng(3).uniform(-1, 1, (3, 16)).astype(np.float32)
    with S.Server(kiln_bin, serve_args(base), tmp_path / "plain") as plain:
        plain.wait_available("mlp", 1)
        want = predict_and_infer(plain, x)
    with TLSServer(kiln_bin, serve_args(base, f"--ssl_config_file={config}"),
                   tmp_path / "tls", ca=pki / "ca.pem") as srv:
        srv.wait_available("mlp", 1)
        assert predict_and_infer(srv, x) == want
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(srv.url + "/v2/health/live", timeout=10 * SLOW)
        log = srv.log()
    assert f"serving on https://127.0.0.1:{srv.port}" in log, log


def test_tls_tritonclient(kiln_bin, base, pki, tmp_path):
    """Triton's own HTTP client with ssl=True against the TLS port."""
    import tritonclient.http as httpclient
    config = write_ssl_config(tmp_path / "ssl.config", pki)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 16)).astype(np.float32)
    with S.Server(kiln_bin, serve_args(base), tmp_path / "plain") as plain:
        plain.wait_available("mlp", 1)
        _, want = predict_and_infer(plain, x)
    with TLSServer(kiln_bin, serve_args(base, f"--ssl_config_file={config}"),
                   tmp_path / "tls", ca=pki / "ca.pem") as srv:
        srv.wait_available("mlp", 1)
        client = httpclient.InferenceServerClient(
            f"127.0.0.1:{srv.port}", ssl=True,
            ssl_options={"ca_certs": str(pki / "ca.pem")},
            network_timeout=60 * SLOW)
        try:
            assert client.is_server_ready()
            for binary in (False, True):
                inp = httpclient.InferInput("features", list(x.shape), "FP32")
                inp.set_data_from_numpy(x, binary_data=binary)
                result = client.infer("mlp", [inp])
                name = result.get_response()["outputs"][0]["name"]
                got = result.as_numpy(name)
                assert np.array_equal(got.ravel(),
                                      np.asarray(want, np.float32)), binary
        finally:
            client.close()


def test_plaintext_to_tls_port_fails_cleanly(kiln_bin, base, pki, tmp_path):
    """HTTP without TLS to the TLS port gets no answer (the handshake
    fails and the connection closes), garbage likewise; TLS clients are
    served before, between and after."""
    config = write_ssl_config(tmp_path / "ssl.config", pki)
    with TLSServer(kiln_bin, serve_args(base, f"--ssl_config_file={config}"),
                   tmp_path, ca=pki / "ca.pem") as srv:
        srv.wait_available("mlp", 1)
        for _ in range(3):
            with pytest.raises(requests.exceptions.ConnectionError):
                requests.get(f"http://127.0.0.1:{srv.port}/v2/health/live",
                             timeout=10 * SLOW)
            with socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=10 * SLOW) as s:
                s.sendall(b"\x16\x03\x01\xff\xff" + bytes(range(256)) * 4)
                try:
                    data = s.recv(4096)
                except ConnectionResetError:
                    data = b""
                assert not data.startswith(b"HTTP/"), data
            assert srv.get("/v2/health/ready").status_code == 200
        x = np.ones((1, 16), np.float32)
        predict_and_infer(srv, x)
        assert srv.alive()


def _tls_socket(port, ca, timeout):
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _read_until_closed(s):
    """What a socket yields until the server closes it (an SSLError other
    than an abrupt end means the stream was corrupted: re-raised)."""
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except (ConnectionResetError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError):
            return data
        if not chunk:
            return data
        data += chunk


def test_tls_early_answers_go_through_tls(kiln_bin, base, pki, tmp_path):
    """An announced oversized body is refused 413 at the headers, before
    any of it is sent, and the answer arrives inside TLS (readable JSON,
    not plaintext bytes)."""
    config = write_ssl_config(tmp_path / "ssl.config", pki)
    with TLSServer(kiln_bin, serve_args(base, f"--ssl_config_file={config}",
                                        "--max_body_bytes=10000"),
                   tmp_path, ca=pki / "ca.pem") as srv:
        srv.wait_available("mlp", 1)
        s = _tls_socket(srv.port, pki / "ca.pem", 10 * SLOW)
        try:
            s.sendall(b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: 100000000\r\n\r\n")
            answer = _read_until_closed(s)
        finally:
            s.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"max_body_bytes" in answer.split(b"\r\n\r\n", 1)[1]
        assert srv.get("/v2/health/live").status_code == 200


def test_deadlines_under_tls(kiln_bin, base, pki, tmp_path):
    """The header deadline covers the TLS handshake (a client that
    connects and says nothing is cut), and a body past its deadline closes
    the connection without a plaintext 408 written into the TLS stream
    (the client's TLS layer would read it as a corrupt record)."""
    config = write_ssl_config(tmp_path / "ssl.config", pki)
    with TLSServer(kiln_bin, serve_args(base, f"--ssl_config_file={config}",
                                        "--request_header_timeout_ms=500",
                                        "--request_body_timeout_ms=500"),
                   tmp_path, ca=pki / "ca.pem") as srv:
        srv.wait_available("mlp", 1)
        # No handshake at all: closed, and no plaintext 408 is written.
        with socket.create_connection(("127.0.0.1", srv.port),
                                      timeout=20 * SLOW) as s:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert data == b"", data
        # A body that stops arriving, then resumes past its deadline.
        s = _tls_socket(srv.port, pki / "ca.pem", 20 * SLOW)
        try:
            s.sendall(b"POST /v1/models/mlp:predict HTTP/1.1\r\n"
                      b"Host: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"instances\": [")
            time.sleep(0.9)  # past the body deadline, before the reaper
            try:
                s.sendall(b"1" * 100)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass
            data = _read_until_closed(s)
        finally:
            s.close()
        assert not data or data.startswith(b"HTTP/1.1 408"), data
        assert srv.get("/v2/health/live").status_code == 200
        assert srv.alive()


# =========================================================== mutual TLS


def test_mutual_tls(kiln_bin, base, pki, tmp_path):
    """client_verify: a client without a certificate, or with one the
    custom_ca did not sign, is refused; one with the CA's client
    certificate is served, before and after the refusals."""
    config = write_ssl_config(tmp_path / "ssl.config", pki,
                              client_verify=True)
    x = np.random.default_rng(5).uniform(-1, 1, (2, 16)).astype(np.float32)
    with S.Server(kiln_bin, serve_args(base), tmp_path / "plain") as plain:
        plain.wait_available("mlp", 1)
        want = predict_and_infer(plain, x)
    with TLSServer(kiln_bin, serve_args(base, f"--ssl_config_file={config}"),
                   tmp_path / "tls", ca=pki / "ca.pem",
                   client_cert=client_pair(pki)) as srv:
        srv.wait_available("mlp", 1)
        assert predict_and_infer(srv, x) == want
        url = srv.url + "/v1/models/mlp:predict"
        body = json.dumps({"instances": x.tolist()})
        for cert in (None, client_pair(pki, "rogue")):
            with pytest.raises(requests.exceptions.RequestException):
                requests.post(url, data=body, verify=str(pki / "ca.pem"),
                              cert=cert, timeout=10 * SLOW)
        # Nor does a client without a certificate get a health answer.
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(srv.url + "/v2/health/live",
                         verify=str(pki / "ca.pem"), timeout=10 * SLOW)
        assert predict_and_infer(srv, x) == want
        assert srv.alive()


# ============================================== files kiln cannot use


@pytest.mark.parametrize("case", ["mismatched_key", "no_custom_ca",
                                  "path_not_pem"])
def test_bad_ssl_config_refuses_to_start(kiln_bin, base, pki, tmp_path,
                                         case):
    """A file kiln cannot serve with stops the start with a message naming
    the file and the field; nothing listens."""
    path = tmp_path / "ssl.config"
    if case == "mismatched_key":
        write_ssl_config(path, pki, key="client.key")
        want = "server_key does not go with server_cert"
    elif case == "no_custom_ca":
        write_ssl_config(path, pki)
        path.write_text(path.read_text() + "client_verify: true\n")
        want = "client_verify needs custom_ca"
    else:
        path.write_text(f'server_key: "{pki / "server.key"}"\n'
                        f'server_cert: "{pki / "server.pem"}"\n')
        want = "server_key is not PEM text"
    port = S.free_port()
    result = subprocess.run(
        [str(kiln_bin), "serve", f"--rest_api_port={port}",
         "--host=127.0.0.1", *serve_args(base), f"--ssl_config_file={path}"],
        capture_output=True, text=True, timeout=30 * SLOW)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert str(path) in out and want in out, out
    assert "serving on" not in out, out
