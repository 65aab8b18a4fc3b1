"""`kiln serve` started with TF Serving's command lines (issue 10, defects 7
and 8 and the docker-style line).

Each test starts the real binary: TF Serving's flags that mean nothing to
kiln start it with one warning each; an unusable --ssl_config_file and a
server with nothing to serve refuse to start with a clear message; --port
serves gRPC (--port=0: off); the default address is every interface (IPv6 and
IPv4), --host takes IPv4, IPv6 (bracketed or not) and names; and TF
Serving's docker command line serves REST and gRPC unchanged, with
answers equal to LiteRT's.
"""
import socket
import subprocess

import numpy as np
import pytest
import requests

import kiln_e2e as K
import serve_util as S
from serve_util import SLOW

RTOL = 1e-5


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp", "float32")


@pytest.fixture
def base(tmp_path, mlp):
    """A TF Serving model folder: BASE/1/model.tflite."""
    S.add_version(tmp_path / "models" / "mlp", 1, mlp)
    return tmp_path / "models" / "mlp"


class HostServer(S.Server):
    """A Server reached through url_host instead of 127.0.0.1."""

    def __init__(self, url_host, *args, **kw):
        self.url_host = url_host
        super().__init__(*args, **kw)

    def _wait_live(self, timeout):
        self.url = f"http://{self.url_host}:{self.port}"
        return super()._wait_live(timeout)


def check_predict(srv, mlp, model="mlp"):
    """One predict through srv.url, equal to LiteRT's answer."""
    x = np.random.default_rng().uniform(-1, 1, (2, 16)).astype(np.float32)
    r = srv.post(f"/v1/models/{model}:predict", {"instances": x.tolist()})
    assert r.status_code == 200, r.text
    want = K.run_litert(mlp, {"features": x})["output_0"]
    got = np.asarray(r.json()["predictions"], np.float32)
    assert got.shape == want.shape
    assert K.max_rel_error(got, want) <= RTOL


def refused_start(kiln_bin, args):
    """Runs `kiln serve ARGS`, which must exit at once; returns (code,
    output)."""
    result = subprocess.run([str(kiln_bin), "serve", *map(str, args)],
                            capture_output=True, text=True, timeout=30 * SLOW)
    return result.returncode, result.stdout + result.stderr


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def outward_ipv4():
    """This host's address on its default route (no packet is sent), or
    None where it has only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


# ================================================= defect 7: the flags


def test_tf_serving_flags_start_with_one_warning_each(kiln_bin, base, mlp,
                                                      tmp_path):
    """The flags that stopped kiln with "unknown flag" start it; each is
    named once in a warning saying kiln ignores it and why."""
    ignored = ["--prefer_tflite_model", "--use_tflite_model=true",
               "--num_load_threads=4", "--enable_signature_method_name_check",
               "--allow_version_labels_for_unavailable_models",
               "--saved_model_tags=serve", "--num_load_threads=2",
               "--tensorflow_inter_op_parallelism=2",
               "--enable_grpc_healthcheck_service"]
    with S.Server(kiln_bin, ["--model_name=mlp", f"--model_base_path={base}",
                             "--tensorflow_intra_op_parallelism=1", *ignored],
                  tmp_path) as srv:
        srv.wait_available("mlp", 1)
        check_predict(srv, mlp)
        log = srv.log()
    for flag in ignored:
        name = flag.split("=")[0]
        lines = [l for l in log.splitlines()
                 if f"warning: ignoring {name}:" in l]
        assert len(lines) == 1, f"{name}: {lines}\nlog:\n{log}"
        assert len(lines[0].split(f"{name}:")[1].strip()) > 5, lines[0]
    assert "unknown flag" not in log


def test_bad_ssl_config_file_refuses_to_start(kiln_bin, base, tmp_path):
    """--ssl_config_file serves TLS (test_serve_tls.py); a file kiln cannot
    use stops the start, naming the file and the field, rather than serve
    plaintext to clients that expect TLS."""
    ssl = tmp_path / "ssl.config"
    # Paths where TF Serving's SSLConfig wants the PEM text itself.
    ssl.write_text('server_key: "/etc/ssl/server.key"\n'
                   'server_cert: "/etc/ssl/server.pem"\n')
    code, out = refused_start(kiln_bin, [
        "--rest_api_port", S.free_port(), f"--model_base_path={base}",
        f"--ssl_config_file={ssl}"])
    assert code != 0, out
    assert str(ssl) in out and "server_key is not PEM text" in out, out
    assert "serving on" not in out, out


def grpc_health(port, host="127.0.0.1", service=""):
    """grpc.health.v1.Health/Check's status name through host:port."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=30 * SLOW)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def test_port_serves_grpc_and_port_zero_turns_it_off(kiln_bin, base,
                                                     tmp_path):
    """--port (TF Serving's gRPC port, 8500 by default) serves gRPC, as
    the log says; --port=0 listens on nothing more than REST."""
    port = S.free_port()
    with S.Server(kiln_bin, [f"--model_base_path={base}", f"--port={port}"],
                  tmp_path / "a") as srv:
        srv.wait_available("default", 1)
        S.wait_for(lambda: S.port_open(port), 10 * SLOW, what="gRPC port")
        assert grpc_health(port) == "SERVING"
        log = srv.log()
    assert f"serving gRPC on 127.0.0.1:{port} (--port)" in log, log
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--port=0"],
                  tmp_path / "b") as srv:
        srv.wait_available("default", 1)
        assert not S.port_open(port)
        log = srv.log()
    assert "serving gRPC" not in log, log


def test_rest_api_port_zero_with_nothing_else_is_an_error(kiln_bin, base):
    """--rest_api_port=0 is "REST off" and --port=0 "gRPC off", as in TF
    Serving; with both off nothing would serve, which kiln says."""
    code, out = refused_start(kiln_bin, [
        "--rest_api_port=0", "--port=0", f"--model_base_path={base}"])
    assert code != 0, out
    assert "--rest_api_port=0" in out and "nothing would serve" in out, out


# ============================================ defect 8: where it listens


def test_docker_command_line_serves_on_every_interface(kiln_bin, base, mlp,
                                                       tmp_path):
    """TF Serving's docker line, unchanged but for the ports the test
    picks (8500 and 8501 may be taken): it serves REST and gRPC on
    loopback IPv4, IPv6 and the host's outward address, as TF Serving
    listens on every interface."""
    port = S.free_port()
    with S.Server(kiln_bin, [f"--port={port}", "--model_name=mlp",
                             f"--model_base_path={base}"], tmp_path,
                  local=False) as srv:
        srv.wait_available("mlp", 1)
        check_predict(srv, mlp)
        hosts = []
        if has_ipv6():
            hosts.append("[::1]")
        if outward_ipv4():
            hosts.append(outward_ipv4())
        assert hosts, "no address but 127.0.0.1 to reach the server on"
        for host in hosts:
            srv.url = f"http://{host}:{srv.port}"
            check_predict(srv, mlp)
            assert grpc_health(port, host, "mlp") == "SERVING", host


@pytest.mark.parametrize("host,url_host", [
    ("127.0.0.1", "127.0.0.1"),
    ("localhost", "localhost"),
    ("::1", "[::1]"),
    ("[::1]", "[::1]"),
    ("::", "127.0.0.1"),
])
def test_host_forms(kiln_bin, base, mlp, tmp_path, host, url_host):
    if ":" in host and not has_ipv6():
        pytest.skip("no IPv6 on this host")
    with HostServer(url_host, kiln_bin,
                    [f"--host={host}", "--model_name=mlp",
                     f"--model_base_path={base}"], tmp_path) as srv:
        srv.wait_available("mlp", 1)
        check_predict(srv, mlp)
        if host == "127.0.0.1" and has_ipv6():
            # Local-only means IPv4 loopback only: not on IPv6.
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://[::1]:{srv.port}/v2/health/live",
                             timeout=5)


def test_host_that_does_not_resolve_is_a_clear_error(kiln_bin, base):
    code, out = refused_start(kiln_bin, [
        "--rest_api_port", S.free_port(), f"--model_base_path={base}",
        "--host=no-such-host.invalid"])
    assert code != 0, out
    assert "--host=no-such-host.invalid does not resolve" in out, out


def test_version_flag_prints_version(kiln_bin):
    """TF Serving's --version prints the version and exits 0 (before, an
    unknown flag)."""
    result = subprocess.run([str(kiln_bin), "serve", "--version"],
                            capture_output=True, text=True, timeout=30 * SLOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kiln serve "), result.stdout
