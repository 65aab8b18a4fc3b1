"""The gRPC front of `kiln serve` (issue 10): the transport under TF
Serving's and KServe's gRPC services, driven with grpcio as users do.

Raw unary calls go through channel.unary_unary(path) with bytes in and
out (no generated stubs); health checks through grpc_health.v1's own
stub. What is checked: grpc.health.v1.Health/Check for the server and
for models; UNIMPLEMENTED naming an unknown method; messages over
--max_body_bytes refused with RESOURCE_EXHAUSTED (and messages over
gRPC's usual 4 MB taken); compressed messages; garbage, an HTTP/1.1
request and a silent connection on the gRPC port leave it serving; a
message trickling in past --request_body_timeout_ms is cancelled; --port
and --grpc_port both serve; --port=0 leaves REST alone; the bearer token;
many calls cancelled mid-flight; SIGTERM with calls in flight exits 0;
the access log line of each call.
"""
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import serve_util as S
from serve_util import SLOW

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
TIMEOUT = 30 * SLOW


@pytest.fixture
def base(tmp_path):
    """A model folder with one version (a small MLP from tests/data)."""
    with open(os.path.join(DATA, "two_input_mlp.tflite"), "rb") as f:
        model = tmp_path / "src.tflite"
        model.write_bytes(f.read())
    S.add_version(tmp_path / "models" / "mlp", 1, model)
    return tmp_path / "models" / "mlp"


def channel(port, host="127.0.0.1", options=None):
    return grpc.insecure_channel(f"{host}:{port}", options=options or [])


def health(port, service="", metadata=None):
    """Check's status name ("SERVING", ...) through port."""
    with channel(port) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT,
            metadata=metadata)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def raw_call(ch, path, payload, **kw):
    """A unary call of path with payload bytes; returns the answer bytes."""
    kw.setdefault("timeout", TIMEOUT)
    return ch.unary_unary(path, request_serializer=None,
                          response_deserializer=None)(payload, **kw)


def rpc_error(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kw)
    return info.value


def server(kiln_bin, base, tmp_path, args=(), **kw):
    return S.Server(kiln_bin, ["--model_name=mlp", f"--model_base_path={base}",
                               *args], tmp_path, grpc=True, **kw)


# =========================================================== health


def test_health_check_for_the_server_and_each_model(kiln_bin, base,
                                                    tmp_path):
    """Service "" is the server: SERVING once every model is AVAILABLE; a
    model's name is that model; an unknown name is NOT_FOUND, as the
    health protocol says. A model with no version makes both the server
    and that model NOT_SERVING."""
    empty = tmp_path / "models" / "empty"
    empty.mkdir(parents=True)
    config = tmp_path / "models.config"
    config.write_text(S.model_config({"mlp": base, "empty": empty}))
    with S.Server(kiln_bin, [f"--model_config_file={config}"], tmp_path / "a",
                  grpc=True) as srv:
        srv.wait_available("mlp", 1)
        assert health(srv.grpc_port, "mlp") == "SERVING"
        assert health(srv.grpc_port, "empty") == "NOT_SERVING"
        assert health(srv.grpc_port) == "NOT_SERVING"
        # The REST readiness agrees.
        assert srv.get("/v2/health/ready").status_code != 200
        err = rpc_error(health, srv.grpc_port, "no_such_model")
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
    with server(kiln_bin, base, tmp_path / "b") as srv:
        srv.wait_available("mlp", 1)
        assert health(srv.grpc_port) == "SERVING"
        assert health(srv.grpc_port, "mlp") == "SERVING"
        # The services kiln serves are the server too.
        assert health(srv.grpc_port,
                      "tensorflow.serving.PredictionService") == "SERVING"
        assert srv.get("/v2/health/ready").status_code == 200


def test_damaged_health_request_is_invalid_argument(kiln_bin, base,
                                                    tmp_path):
    with server(kiln_bin, base, tmp_path) as srv, channel(srv.grpc_port) as ch:
        # Field 1, length 10, but 2 bytes follow.
        err = rpc_error(raw_call, ch, HEALTH_CHECK, b"\x0a\x0aab")
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
        assert "HealthCheckRequest" in err.details(), err.details()
        assert health(srv.grpc_port) == "SERVING"


# ====================================================== the methods


def test_unknown_method_is_unimplemented_naming_it(kiln_bin, base, tmp_path):
    with server(kiln_bin, base, tmp_path) as srv, channel(srv.grpc_port) as ch:
        for path in ("/no.Such/Method", "/grpc.health.v1.Health/Watch"):
            err = rpc_error(raw_call, ch, path, b"")
            assert err.code() == grpc.StatusCode.UNIMPLEMENTED, err
            assert path in err.details(), err.details()
        assert health(srv.grpc_port) == "SERVING"


def test_port_and_grpc_port_both_serve(kiln_bin, base, tmp_path):
    second = S.free_port()
    with server(kiln_bin, base, tmp_path, [f"--grpc_port={second}"]) as srv:
        srv.wait_available("mlp", 1)
        S.wait_for(lambda: S.port_open(second), TIMEOUT, what="--grpc_port")
        assert health(srv.grpc_port, "mlp") == "SERVING"
        assert health(second, "mlp") == "SERVING"
        with channel(second) as ch:
            err = rpc_error(raw_call, ch, "/no.Such/Method", b"")
            assert err.code() == grpc.StatusCode.UNIMPLEMENTED


def test_grpc_socket_path_serves_on_a_unix_socket(kiln_bin, base, tmp_path):
    """TF Serving's --grpc_socket_path: the same services on a UNIX
    socket, beside --port."""
    folder = tempfile.mkdtemp(prefix="kiln-sock-")  # sun_path is short
    path = os.path.join(folder, "grpc.sock")
    try:
        with server(kiln_bin, base, tmp_path,
                    [f"--grpc_socket_path={path}"]) as srv:
            srv.wait_available("mlp", 1)
            S.wait_for(lambda: os.path.exists(path), TIMEOUT, what="socket")
            with grpc.insecure_channel(f"unix:{path}") as ch:
                reply = health_pb2.HealthCheckResponse.FromString(raw_call(
                    ch, HEALTH_CHECK, health_pb2.HealthCheckRequest(
                        service="mlp").SerializeToString()))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
                err = rpc_error(raw_call, ch, "/no.Such/Method", b"")
                assert err.code() == grpc.StatusCode.UNIMPLEMENTED
            assert health(srv.grpc_port) == "SERVING"
            assert f"serving gRPC on unix:{path}" in srv.log()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_port_zero_serves_rest_only(kiln_bin, base, tmp_path):
    with S.Server(kiln_bin, ["--model_name=mlp", f"--model_base_path={base}",
                             "--port=0"], tmp_path) as srv:
        srv.wait_available("mlp", 1)
        assert srv.get("/v1/models/mlp").status_code == 200
        assert "serving gRPC" not in srv.log()


# ========================================================== limits


def test_message_over_max_body_bytes_is_resource_exhausted(kiln_bin, base,
                                                           tmp_path):
    """--max_body_bytes bounds gRPC messages as it bounds REST bodies;
    past it RESOURCE_EXHAUSTED, and the server keeps serving."""
    with server(kiln_bin, base, tmp_path, ["--max_body_bytes=4096"]) as srv:
        with channel(srv.grpc_port) as ch:
            big = health_pb2.HealthCheckRequest(service="x" * 5000)
            err = rpc_error(raw_call, ch, HEALTH_CHECK,
                            big.SerializeToString())
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
            # Compressed small, inflated over the limit: the same.
            err = rpc_error(raw_call, ch, HEALTH_CHECK,
                            big.SerializeToString(),
                            compression=grpc.Compression.Gzip)
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
            # Just under the limit is read (an unknown, long name).
            ok = health_pb2.HealthCheckRequest(service="x" * 4000)
            err = rpc_error(raw_call, ch, HEALTH_CHECK, ok.SerializeToString())
            assert err.code() == grpc.StatusCode.NOT_FOUND, err
        assert health(srv.grpc_port) == "SERVING"


def test_messages_over_grpc_default_4mb_are_taken(kiln_bin, base, tmp_path):
    """gRPC's own default limit (4 MB) would refuse a batch of images; the
    limit is --max_body_bytes (64 MiB by default), compressed or not."""
    with server(kiln_bin, base, tmp_path) as srv, channel(srv.grpc_port) as ch:
        request = health_pb2.HealthCheckRequest(service="m" * (6 << 20))
        for compression in (grpc.Compression.NoCompression,
                            grpc.Compression.Gzip):
            # Read whole: an unknown (long) name, not RESOURCE_EXHAUSTED.
            err = rpc_error(raw_call, ch, HEALTH_CHECK,
                            request.SerializeToString(),
                            compression=compression)
            assert err.code() == grpc.StatusCode.NOT_FOUND, err
        reply = raw_call(ch, HEALTH_CHECK,
                         health_pb2.HealthCheckRequest(
                             service="mlp").SerializeToString(),
                         compression=grpc.Compression.Gzip)
        assert health_pb2.HealthCheckResponse.FromString(
            reply).status == health_pb2.HealthCheckResponse.SERVING


def test_grpc_channel_arguments_override_kiln_s(kiln_bin, base, tmp_path):
    """TF Serving's --grpc_channel_arguments set gRPC server arguments over
    kiln's own: here a receive limit below --max_body_bytes."""
    with server(kiln_bin, base, tmp_path / "a", [
            "--grpc_channel_arguments=grpc.max_receive_message_length=2000,"
            "grpc.primary_user_agent=kiln-test", "--grpc_max_threads=1"]) \
            as srv, channel(srv.grpc_port) as ch:
        request = health_pb2.HealthCheckRequest(service="y" * 3000)
        err = rpc_error(raw_call, ch, HEALTH_CHECK, request.SerializeToString())
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
        assert health(srv.grpc_port) == "SERVING"
    for bad in ("grpc.max_receive_message_length", "=5"):
        result = subprocess.run(
            [str(kiln_bin), "serve", "--rest_api_port=0",
             f"--port={S.free_port()}", "--host=127.0.0.1",
             f"--model_base_path={base}", f"--grpc_channel_arguments={bad}"],
            capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode != 0
        assert "--grpc_channel_arguments" in result.stderr, result.stderr
        assert "key=value" in result.stderr, result.stderr


def closed_by_server(sock, limit=1 << 20):
    """Reads what the server sends; whether it then closed the connection
    (False: the socket's timeout passed first, or limit bytes came)."""
    got = 0
    while got < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        if not chunk:
            return True
        got += len(chunk)
    return False


def test_garbage_and_http1_on_the_grpc_port_do_not_disturb_it(
        kiln_bin, base, tmp_path):
    with server(kiln_bin, base, tmp_path,
                ["--request_header_timeout_ms=1000"]) as srv:
        port = srv.grpc_port
        blobs = [os.urandom(4096), b"\x00" * 100,
                 b"GET /v1/models/mlp HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/grpc\r\nContent-Length: 5\r\n"
                 b"\r\n\x00\x00\x00\x00\x00",
                 # The HTTP/2 preface, then a frame far over any size.
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\x04\x00"
                 b"\x00\x00\x00\x00" + os.urandom(512)]
        for blob in blobs:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=TIMEOUT) as sock:
                sock.sendall(blob)
                assert closed_by_server(sock), blob[:40]
            assert health(port) == "SERVING"
        # A connection that never speaks, or stops after HTTP/2's preface,
        # is closed at the handshake timeout (--request_header_timeout_ms),
        # not held.
        for blob in (b"", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=TIMEOUT) as sock:
                sock.sendall(blob)
                assert closed_by_server(sock), blob
        assert health(port) == "SERVING"
        assert srv.alive()


# --- a minimal HTTP/2 client, to send half a message and stop

def h2_frame(kind, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([kind, flags])
            + struct.pack(">I", stream) + payload)


def hpack_literal(name, value):
    """A header as a literal without indexing, no Huffman (RFC 7541)."""
    def string(text):
        data = text.encode()
        assert len(data) < 127
        return bytes([len(data)]) + data
    return b"\x00" + string(name) + string(value)


def test_message_trickling_past_body_timeout_is_cancelled(kiln_bin, base,
                                                          tmp_path):
    """A call whose message does not arrive within
    --request_body_timeout_ms is ended by the server (it would hold a
    stream and memory for as long as the client likes)."""
    with server(kiln_bin, base, tmp_path,
                ["--request_body_timeout_ms=1000"]) as srv:
        headers = b"".join(hpack_literal(k, v) for k, v in [
            (":method", "POST"), (":scheme", "http"), (":path", HEALTH_CHECK),
            (":authority", "localhost"), ("content-type", "application/grpc"),
            ("te", "trailers")])
        # A 100-byte message announced; 3 bytes of it sent.
        data = b"\x00" + struct.pack(">I", 100) + b"\x0a\x62a"
        with socket.create_connection(("127.0.0.1", srv.grpc_port),
                                      timeout=TIMEOUT) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                         + h2_frame(4, 0, 0)           # SETTINGS
                         + h2_frame(1, 4, 1, headers)  # HEADERS, END_HEADERS
                         + h2_frame(0, 0, 1, data))    # DATA, not the end
            ended, buf = False, b""
            while not ended:
                chunk = sock.recv(65536)
                assert chunk, "connection closed without ending the stream"
                buf += chunk
                while len(buf) >= 9:
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) < 9 + length:
                        break
                    kind, flags = buf[3], buf[4]
                    stream = int.from_bytes(buf[5:9], "big") & 0x7fffffff
                    buf = buf[9 + length:]
                    if kind == 4 and not flags & 1:
                        sock.sendall(h2_frame(4, 1, 0))  # SETTINGS ACK
                    # Trailers (HEADERS with END_STREAM) or RST_STREAM.
                    if stream == 1 and ((kind == 1 and flags & 1)
                                        or kind == 3):
                        ended = True
        assert health(srv.grpc_port) == "SERVING"


# ======================================================== security


def test_bearer_token(kiln_bin, base, tmp_path):
    """Every method but the health probes wants 'authorization: Bearer
    TOKEN': missing or wrong is UNAUTHENTICATED (before the method is even
    looked up); right passes on to the method."""
    token = tmp_path / "token"
    token.write_text("s3cret-Token_1\n")
    with server(kiln_bin, base, tmp_path / "s",
                [f"--bearer_token_file={token}"]) as srv:
        with channel(srv.grpc_port) as ch:
            for metadata in (None, [("authorization", "Bearer wrong")],
                             [("authorization", "s3cret-Token_1")],
                             [("authorization", "Bearer s3cret-Token_")]):
                err = rpc_error(raw_call, ch, "/no.Such/Method", b"",
                                metadata=metadata)
                assert err.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
                assert "s3cret" not in err.details()
            err = rpc_error(raw_call, ch, "/no.Such/Method", b"",
                            metadata=[("authorization",
                                       "Bearer s3cret-Token_1")])
            assert err.code() == grpc.StatusCode.UNIMPLEMENTED, err
        # Refusals are counted as REST's are: under no model.
        text = srv.get("/metrics", headers={
            "Authorization": "Bearer s3cret-Token_1"}).text
        refused = [v for labels, v in
                   S.metric_samples(text, "kiln_requests_total")
                   if labels["api"] == "auth"
                   and labels["status"] == "UNAUTHENTICATED"]
        assert refused == [4.0], text
        # Health probes carry no secret.
        assert health(srv.grpc_port) == "SERVING"
        assert health(srv.grpc_port, "mlp",
                      metadata=[("authorization", "Bearer wrong")]) \
            == "SERVING"


# ================================================ cancels and stops


def test_many_calls_cancelled_mid_flight_leave_it_healthy(kiln_bin, base,
                                                          tmp_path):
    """Hundreds of calls, concurrently, cancelled by their clients at
    every stage (while the message is sent, while it is answered, after)
    or run into tiny deadlines: the server stays healthy and exits
    cleanly (under ASan: no leak, no use after free)."""
    with server(kiln_bin, base, tmp_path, ["--grpc_max_threads=3"]) as srv:
        request = health_pb2.HealthCheckRequest(
            service="c" * (1 << 20)).SerializeToString()
        with channel(srv.grpc_port) as ch:
            call = ch.unary_unary(HEALTH_CHECK, request_serializer=None,
                                  response_deserializer=None)
            for round_ in range(4):
                futures = [call.future(request, timeout=TIMEOUT)
                           for _ in range(64)]
                for i, f in enumerate(futures):
                    if i % 2 == 0:
                        f.cancel()
                    if i % 8 == 0:
                        time.sleep(0.001 * (i % 3))
                short = [call.future(request, timeout=0.001 * (1 + i % 5))
                         for i in range(32)]
                for f in futures + short:
                    try:
                        f.result()
                    except grpc.FutureCancelledError:
                        pass
                    except grpc.RpcError as e:
                        assert e.code() in (
                            grpc.StatusCode.NOT_FOUND,
                            grpc.StatusCode.CANCELLED,
                            grpc.StatusCode.DEADLINE_EXCEEDED), e
        assert health(srv.grpc_port) == "SERVING"
        assert srv.alive()


def test_predict_calls_cancelled_while_their_jobs_queue(kiln_bin, base,
                                                       tmp_path):
    """Calls whose job waits in a batch queue, cancelled by the client or
    past a tiny deadline: the worker answers into a call the client has
    left, and the call is freed once both sides are done (under ASan: no
    use after free, no leak). Needs TF Serving's Predict (grpc_tfs.c);
    skipped where its method table is empty."""
    predict_pb2 = pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    from tensorflow.core.framework import tensor_pb2, types_pb2

    def tensor(dtype, array):
        t = tensor_pb2.TensorProto(dtype=dtype)
        for size in array.shape:
            t.tensor_shape.dim.add(size=size)
        t.tensor_content = array.tobytes()
        return t

    def request(rows):
        r = predict_pb2.PredictRequest()
        r.model_spec.name = "mlp"
        rng = np.random.default_rng(rows)
        r.inputs["ids"].CopyFrom(tensor(
            types_pb2.DT_INT32, rng.integers(0, 5, (rows, 2), np.int32)))
        r.inputs["features"].CopyFrom(tensor(
            types_pb2.DT_FLOAT, rng.random((rows, 3), np.float32)))
        return r.SerializeToString()

    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 8 }\n"
                        "batch_timeout_micros { value: 50000 }\n"
                        "max_enqueued_batches { value: 1000 }\n")
    with server(kiln_bin, base, tmp_path / "s", [
            "--enable_batching", f"--batching_parameters_file={batching}",
            "--num_workers=1"]) as srv, channel(srv.grpc_port) as ch:
        srv.wait_available("mlp", 1)
        predict = "/tensorflow.serving.PredictionService/Predict"
        try:
            raw_call(ch, predict, request(2))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                pytest.skip("no Predict on this build")
            raise
        call = ch.unary_unary(predict, request_serializer=None,
                              response_deserializer=None)
        for _ in range(3):
            futures = [call.future(request(1 + i % 3),
                                   timeout=0.005 if i % 4 == 0 else TIMEOUT)
                       for i in range(120)]
            for i, f in enumerate(futures):
                if i % 4 == 1:
                    f.cancel()
            for f in futures:
                try:
                    f.result()
                except grpc.FutureCancelledError:
                    pass
                except grpc.RpcError as e:
                    assert e.code() in (grpc.StatusCode.CANCELLED,
                                        grpc.StatusCode.DEADLINE_EXCEEDED), e
        raw_call(ch, predict, request(3))
        assert health(srv.grpc_port) == "SERVING"


def test_sigterm_with_calls_in_flight_exits_zero(kiln_bin, base, tmp_path):
    srv = server(kiln_bin, base, tmp_path)
    request = health_pb2.HealthCheckRequest(
        service="mlp").SerializeToString()
    stop = threading.Event()
    outcomes = []

    def client():
        with channel(srv.grpc_port) as ch:
            while not stop.is_set():
                try:
                    # Longer than the server's bounded stop: every call
                    # must end by the server's doing (answered, refused,
                    # or cancelled at the latest when it gives up on calls
                    # still open), not by this client's deadline.
                    raw_call(ch, HEALTH_CHECK, request, timeout=TIMEOUT)
                    outcomes.append("OK")
                except grpc.RpcError as e:
                    outcomes.append(e.code().name)
                    if e.code() == grpc.StatusCode.UNAVAILABLE:
                        return

    try:
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        S.wait_for(lambda: outcomes.count("OK") > 50, TIMEOUT,
                   what="calls answered")
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(TIMEOUT)
    finally:
        stop.set()
        srv.kill()
    for t in threads:
        t.join()
    srv.check_clean_exit()
    assert code == 0, srv.log()
    assert set(outcomes) <= {"OK", "UNAVAILABLE", "CANCELLED"}, set(outcomes)


# ============================================================ logs


def test_each_call_has_an_access_log_line(kiln_bin, base, tmp_path):
    log = tmp_path / "access.log"
    with server(kiln_bin, base, tmp_path / "s", [f"--access_log={log}"]) \
            as srv:
        assert health(srv.grpc_port, "mlp") == "SERVING"
        with channel(srv.grpc_port) as ch:
            rpc_error(raw_call, ch, "/no.Such/Method", b"abc")
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    grpc_lines = {l["path"]: l for l in lines if "grpc_status" in l}
    assert grpc_lines[HEALTH_CHECK]["grpc_status"] == 0, grpc_lines
    assert grpc_lines[HEALTH_CHECK]["response_bytes"] == 2, grpc_lines
    assert grpc_lines["/no.Such/Method"]["grpc_status"] == 12, grpc_lines
    assert all(l["status"] == 200 and l["method"] == "POST"
               for l in grpc_lines.values())


# ============================================================= TLS


def openssl(*args):
    subprocess.run(["openssl", *map(str, args)], check=True,
                   capture_output=True)


def make_certificates(folder):
    """A CA, and a server (localhost, 127.0.0.1) and a client certificate
    it signed: {name: (key path, certificate path)}."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", folder / "ca.key", "-out",
            folder / "ca.crt", "-subj", "/CN=kiln test CA", "-days", "1")
    out = {"ca": (folder / "ca.key", folder / "ca.crt")}
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1"),
                      ("client", "DNS:client")):
        ext = folder / f"{name}.ext"
        ext.write_text(f"subjectAltName={san}\n")
        openssl("req", *ec, "-keyout", folder / f"{name}.key", "-out",
                folder / f"{name}.csr", "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", folder / f"{name}.csr", "-CA",
                folder / "ca.crt", "-CAkey", folder / "ca.key",
                "-CAcreateserial", "-out", folder / f"{name}.crt", "-days",
                "1", "-extfile", ext)
        out[name] = (folder / f"{name}.key", folder / f"{name}.crt")
    return out


def pbtxt_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\n", "\\n") + '"'


def tls_server(kiln_bin, base, tmp_path, certs, client_verify):
    """kiln serve with gRPC only, over TLS from an SSLConfig file; returns
    (process, port, log path)."""
    key, cert = certs["server"]
    config = tmp_path / "ssl.config"
    text = (f"server_key: {pbtxt_string(key.read_text())}\n"
            f"server_cert: {pbtxt_string(cert.read_text())}\n"
            f"custom_ca: {pbtxt_string(certs['ca'][1].read_text())}\n"
            f"client_verify: {'true' if client_verify else 'false'}\n")
    config.write_text(text)
    port = S.free_port()
    log = tmp_path / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(kiln_bin), "serve", "--rest_api_port=0", f"--port={port}",
             "--host=127.0.0.1", "--model_name=mlp",
             f"--model_base_path={base}", f"--ssl_config_file={config}"],
            stdout=out, stderr=subprocess.STDOUT)
    return proc, port, log


def tls_health(port, certs, with_client_cert):
    kw = {"root_certificates": certs["ca"][1].read_bytes()}
    if with_client_cert:
        kw["private_key"] = certs["client"][0].read_bytes()
        kw["certificate_chain"] = certs["client"][1].read_bytes()
    creds = grpc.ssl_channel_credentials(**kw)
    with grpc.secure_channel(f"localhost:{port}", creds) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="mlp"), timeout=5 * SLOW)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


@pytest.mark.parametrize("client_verify", [False, True])
def test_tls_from_ssl_config_file(kiln_bin, base, tmp_path, client_verify):
    """--ssl_config_file serves gRPC over TLS (the REST front's SSLConfig);
    a plaintext client is refused; with client_verify, a client without a
    certificate the custom_ca signed is refused too."""
    certs = make_certificates(tmp_path)
    proc, port, log = tls_server(kiln_bin, base, tmp_path, certs,
                                 client_verify)
    try:
        def serving():
            try:
                return tls_health(port, certs, True) == "SERVING"
            except grpc.RpcError:
                assert proc.poll() is None, log.read_text()
                return False
        S.wait_for(serving, TIMEOUT, interval=0.2, what="TLS health")
        with channel(port) as ch:  # plaintext
            err = rpc_error(raw_call, ch, HEALTH_CHECK, b"", timeout=5 * SLOW)
            assert err.code() == grpc.StatusCode.UNAVAILABLE, err
        if client_verify:
            err = rpc_error(tls_health, port, certs, False)
            assert err.code() == grpc.StatusCode.UNAVAILABLE, err
        else:
            assert tls_health(port, certs, False) == "SERVING"
        assert "serving gRPC over TLS" in log.read_text()
        # Failed handshakes are logged by gRPC's core once each; any
        # client can cause them, so they are rate-limited (one line a
        # second at most) in kiln's log format.
        before = log.read_text().count("Handshake failed")
        started = time.monotonic()
        for _ in range(40):
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=TIMEOUT) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert closed_by_server(sock)
        assert tls_health(port, certs, True) == "SERVING"
        elapsed = time.monotonic() - started
        lines = log.read_text().count("Handshake failed") - before
        assert lines <= elapsed + 2, (lines, elapsed)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    for mark in S.SANITIZER_MARKS:
        assert mark not in text, text
    for line in text.splitlines():
        if "Handshake failed" in line:
            assert "kiln serve: grpc: " in line, line
