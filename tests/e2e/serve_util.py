"""serve_util.py - helpers for the tests of `kiln serve` (test_serve.py).

A Server runs the real `kiln serve` binary on a free loopback port with
its log in a file, and offers small HTTP helpers (requests for the
functional tests, http.client for latency measurements, where the
client's own overhead must stay small and steady). Model folders are laid
out as TF Serving wants them: BASE/N/model.tflite.

Environment:
    KILN_E2E_ASAN   set (to 1) by `make test-e2e-asan`: the server is the
                    sanitizer build, so waits are longer and timing
                    assertions are skipped.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import requests

ASAN = os.environ.get("KILN_E2E_ASAN", "") not in ("", "0")
# Waits (server start, loads, responses) stretch by this under ASan.
SLOW = 5.0 if ASAN else 1.0
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(condition: Callable[[], object], timeout: float,
             interval: float = 0.02, what: str = "condition"):
    """Polls condition() until it returns something true; returns it.
    Raises AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting "
                                 f"for {what}")
        time.sleep(interval)


def add_version(base: Path, version: int, model: Path,
                extra: Optional[Dict[str, str]] = None) -> Path:
    """Puts model (and extra files: name -> text) in BASE/VERSION as a
    whole: the folder is filled under a temporary name the poller ignores
    and renamed in, so a scan never sees half of it."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".incoming-{version}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    shutil.copyfile(model, tmp / "model.tflite")
    for name, text in (extra or {}).items():
        (tmp / name).write_text(text)
    target = base / str(version)
    os.rename(tmp, target)
    return target


def model_config(models: Dict[str, Path]) -> str:
    """A TF Serving model_config_list for name -> base path."""
    entries = "".join(
        f"  config {{ name: '{name}' base_path: '{base}' "
        f"model_platform: 'tensorflow' }}\n" for name, base in models.items())
    return "model_config_list {\n" + entries + "}\n"


class Server:
    """`kiln serve ARGS` on a free loopback port; stop() or the context
    manager ends it with SIGTERM and checks that it exited cleanly. It
    listens on 127.0.0.1 only (kiln's default is every interface, as TF
    Serving's) unless ARGS name a --host or local is False. gRPC is off
    (--port=0) unless ARGS name --port or grpc is True: then grpc_port is
    a free port given as --port, and the start waits for it too."""

    def __init__(self, kiln_bin: Path, args: Sequence[str], workdir: Path,
                 start_timeout: float = 30.0, local: bool = True,
                 grpc: bool = False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.returncode: Optional[int] = None
        self.http = requests.Session()
        self.grpc_port: Optional[int] = None
        names_port = any(str(a) == "--port" or str(a).startswith("--port=")
                         for a in args)
        for attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            command = [str(kiln_bin), "serve", f"--rest_api_port={self.port}"]
            if grpc:
                self.grpc_port = free_port()
                command.append(f"--port={self.grpc_port}")
            elif not names_port:
                command.append("--port=0")
            command += [str(a) for a in args]
            if local and not any(str(a).startswith("--host") for a in args):
                command.append("--host=127.0.0.1")
            self.command = command
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(command, stdout=log,
                                             stderr=subprocess.STDOUT)
            if self._wait_live(start_timeout * SLOW):
                return
            # Another process may have taken the port in between: retry.
            if "cannot listen" not in self.log():
                break
        self.kill()
        raise AssertionError(f"kiln serve did not start: {command}\n"
                             f"log:\n{self.log()}")

    def _wait_live(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if (requests.get(self.url + "/v2/health/live",
                                 timeout=1).status_code == 200
                        and self._grpc_listening()):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.02)
        return False

    def _grpc_listening(self) -> bool:
        """gRPC starts after REST: its port takes connections too."""
        return self.grpc_port is None or port_open(self.grpc_port)

    # ------------------------------------------------------- lifecycle

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then waits; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"kiln serve did not stop within {timeout * SLOW:.0f}s "
                    f"of SIGTERM\nlog:\n{self.log()}")
        self.returncode = self.proc.returncode
        self.http.close()
        return self.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def check_clean_exit(self) -> None:
        code = self.stop()
        log = self.log()
        for mark in SANITIZER_MARKS:
            assert mark not in log, f"sanitizer report:\n{log}"
        assert code == 0, f"kiln serve exited with {code}\nlog:\n{log}"

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.kill()
            return
        self.check_clean_exit()

    # ------------------------------------------------------------ HTTP

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30 * SLOW)
        return self.http.get(self.url + path, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        """POST path with body: a dict/list (sent as JSON), bytes or
        str (sent as is)."""
        kw.setdefault("timeout", 30 * SLOW)
        if isinstance(body, (dict, list)):
            kw["data"] = json.dumps(body)
            kw.setdefault("headers", {})["Content-Type"] = "application/json"
        elif body is not None:
            kw["data"] = body
        return self.http.post(self.url + path, **kw)

    def live(self) -> bool:
        try:
            return self.get("/v2/health/live", timeout=10 * SLOW
                            ).status_code == 200
        except requests.RequestException:
            return False

    def status(self, model: str) -> Dict[int, dict]:
        """The model's versions from GET /v1/models/NAME: number -> the
        model_version_status entry ({} when the model is unknown)."""
        r = self.get(f"/v1/models/{model}")
        if r.status_code != 200:
            return {}
        return {int(v["version"]): v for v in r.json()["model_version_status"]}

    def wait_available(self, model: str, version: Optional[int] = None,
                       timeout: float = 30.0) -> Dict[int, dict]:
        def ready():
            versions = self.status(model)
            ok = [n for n, v in versions.items() if v["state"] == "AVAILABLE"
                  and (version is None or n == version)]
            return versions if ok else None
        return wait_for(ready, timeout * SLOW, interval=0.02,
                        what=f"{model} version {version or 'any'} AVAILABLE")

    def metrics(self, path: str = "/metrics") -> str:
        r = self.get(path)
        assert r.status_code == 200, r.text
        return r.text


class Connection:
    """One keep-alive HTTP/1.1 connection (http.client): cheap and steady
    enough on the client side to time the server's latency."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout * SLOW
        self.conn = http.client.HTTPConnection("127.0.0.1", port,
                                               timeout=self.timeout)

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[Dict[str, str]] = None):
        """Returns (status, headers, body bytes); reconnects once if the
        server closed an idle keep-alive connection."""
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body,
                                  headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, dict(resp.getheaders()), resp.read()
            except (ConnectionError, http.client.RemoteDisconnected,
                    http.client.CannotSendRequest):
                self.conn.close()
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    assert ordered, "no values"
    rank = max(1, int(round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def metric_samples(text: str, name: str) -> List[tuple]:
    """Prometheus samples of one metric: [(labels dict, value)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, labels = head.partition("{")
        if metric != name:
            continue
        parsed = {}
        for part in _split_labels(labels.rstrip("}")):
            key, _, val = part.partition("=")
            parsed[key] = json.loads(val)
        out.append((parsed, float(value)))
    return out


def _split_labels(text: str) -> List[str]:
    parts, current, quoted, escape = [], "", False, False
    for ch in text:
        if escape:
            current += ch
            escape = False
        elif ch == "\\":
            current += ch
            escape = True
        elif ch == '"':
            current += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current:
        parts.append(current)
    return parts
