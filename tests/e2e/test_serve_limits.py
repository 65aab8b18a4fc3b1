"""End-to-end tests of `kiln serve` under abusive clients (issue 10, defect
9): slow clients trickling bytes, many connections from one address, an
announced oversized body, and a flood of closed connections in the log.

Each starts the real binary (serve_util.Server) with small limits and
deadlines set by flags, so the attacks take seconds. The attackers connect
from 127.0.0.2 (all of 127/8 is loopback on Linux) and the well-behaved
client from 127.0.0.1, so a per-address cap tells them apart. Assertions
are on success and failure, and deadlines an order of magnitude apart:
never on speed.
"""
import resource
import socket
import threading
import time

import pytest
import requests

import serve_util as S
from serve_util import SLOW

ATTACKER = "127.0.0.2"


@pytest.fixture(scope="module", autouse=True)
def enough_files():
    """The attacks open hundreds of sockets from this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def start(kiln_bin, tmp_path, *flags, open_files=None):
    """A server on an empty base path (no model is needed: the attacks
    are on HTTP itself), optionally started with a lower open-file soft
    limit, as systemd and Docker start services."""
    base = tmp_path / "models" / "none"
    base.mkdir(parents=True, exist_ok=True)

    if open_files is None:
        return S.Server(kiln_bin, [f"--model_base_path={base}", *flags],
                        tmp_path)

    # Server() runs Popen without a preexec hook: lower the limit in this
    # process around the start (the child inherits it), then restore.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))
    try:
        return S.Server(kiln_bin, [f"--model_base_path={base}", *flags],
                        tmp_path)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def attacker_socket(port, timeout=0.5):
    """A connection from the attacker's address, or None if refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ATTACKER, 0))
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def closed_by_server(s):
    """True once the server has closed (or reset) the socket."""
    try:
        data = s.recv(65536)
    except BlockingIOError:
        return False
    except OSError:
        return True
    if data == b"":
        return True
    # An answer (a 408) before the close: closed when it is complete.
    return closed_by_server(s)


class Trickler:
    """Sockets sending a request one byte at a time, forever, each byte
    soon enough that an idle timeout never fires."""

    REQUEST = (b"POST /v1/models/none:predict HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"X-Padding: " + b"a" * 4000 + b"\r\n")

    def __init__(self, port, count, interval=0.2):
        self.socks = [s for s in (attacker_socket(port) for _ in range(count))
                      if s is not None]
        self.offset = [0] * len(self.socks)
        self.closed = [False] * len(self.socks)
        self.interval = interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_event.wait(self.interval):
            for i, s in enumerate(self.socks):
                if self.closed[i]:
                    continue
                try:
                    if closed_by_server(s):
                        self.closed[i] = True
                        continue
                    k = self.offset[i] % len(self.REQUEST)
                    s.send(self.REQUEST[k:k + 1])
                    self.offset[i] += 1
                except OSError:
                    self.closed[i] = True

    def open_count(self):
        return self.closed.count(False)

    def stop(self):
        self.stop_event.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def normal_client(url, seconds):
    """GET /v2/health/live on fresh connections for `seconds`; returns
    (successes, failures) with a generous per-request timeout."""
    ok = failed = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            r = requests.get(url + "/v2/health/live", timeout=3 * SLOW)
            if r.status_code == 200:
                ok += 1
            else:
                failed += 1
        except requests.RequestException:
            failed += 1
        time.sleep(0.05)
    return ok, failed


def test_trickled_headers_are_cut_at_the_deadline(kiln_bin, tmp_path):
    """A header trickled a byte every 0.2 s never looks idle; it must
    still be cut once the whole header has taken longer than
    --request_header_timeout_ms (1 s here; allowed: 10 s)."""
    with start(kiln_bin, tmp_path, "--request_header_timeout_ms=1000",
               "--client_timeout_seconds=60") as srv:
        slow = Trickler(srv.port, 50)
        try:
            assert len(slow.socks) == 50
            S.wait_for(lambda: slow.open_count() == 0, 10 * SLOW,
                       interval=0.1,
                       what="the server to close 50 trickling connections")
        finally:
            slow.stop()
        assert srv.live()


def test_trickled_body_gets_408(kiln_bin, tmp_path):
    """A body trickled past --request_body_timeout_ms is answered 408 (or
    at least cut) long before it would end."""
    with start(kiln_bin, tmp_path, "--request_body_timeout_ms=1000",
               "--client_timeout_seconds=60") as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
        s.sendall(b"POST /v1/models/none:predict HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        answer = b""
        until = time.monotonic() + 10 * SLOW
        try:
            while time.monotonic() < until:
                s.send(b" ")
                s.settimeout(0.2)
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        except OSError:
            pass  # reset: cut without an answer
        finally:
            s.close()
        assert time.monotonic() < until, \
            "a body trickled for 10 s was never cut (deadline 1 s)"
        if answer:
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_kept_alive_connection_is_not_cut_while_idle(kiln_bin, tmp_path):
    """The header deadline does not close a kept-alive connection that
    only waits between requests (MHD's idle timeout governs that)."""
    with start(kiln_bin, tmp_path, "--request_header_timeout_ms=500",
               "--client_timeout_seconds=60") as srv:
        conn = S.Connection(srv.port)
        try:
            status, _, _ = conn.request("GET", "/v2/health/live")
            assert status == 200
            sock = conn.conn.sock
            time.sleep(2.0)
            status, _, _ = conn.request("GET", "/v2/health/live")
            assert status == 200
            assert conn.conn.sock is sock, "the idle connection was cut"
        finally:
            conn.close()


def test_slow_clients_beside_a_normal_client(kiln_bin, tmp_path):
    """Started with the usual soft limit of a few hundred open files, 400
    trickling connections used to take every descriptor and lock the
    normal client out; the server now raises the soft limit to the hard
    one (logged), caps connections per address, and cuts the tricklers
    at the header deadline."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"hard open-file limit {hard} too low to raise")
    with start(kiln_bin, tmp_path, "--request_header_timeout_ms=3000",
               "--client_timeout_seconds=60", open_files=256) as srv:
        slow = Trickler(srv.port, 400)
        try:
            ok, failed = normal_client(srv.url, 5)
        finally:
            slow.stop()
        assert failed == 0 and ok > 0, \
            f"normal client: {ok} answered, {failed} failed beside 400 " \
            f"slow clients"
        assert "open-file limit raised from 256" in srv.log(), srv.log()


def test_connections_per_client_address_are_capped(kiln_bin, tmp_path):
    """One address holds at most --max_connections_per_client; another
    address still gets answers."""
    with start(kiln_bin, tmp_path, "--max_connections_per_client=20",
               "--request_header_timeout_ms=60000",
               "--client_timeout_seconds=60") as srv:
        socks = [attacker_socket(srv.port) for _ in range(60)]
        try:
            held = [s for s in socks if s is not None]
            for s in held:
                s.send(b"GET /v2/health/live HTTP/1.1\r\n")
            time.sleep(1.0)
            still_open = [s for s in held if not closed_by_server(s)]
            assert len(still_open) <= 20, \
                f"{len(still_open)} connections from one address held open " \
                f"(cap 20)"
            assert srv.get("/v2/health/live").status_code == 200
        finally:
            for s in socks:
                if s is not None:
                    s.close()


def test_announced_oversized_body_is_refused_before_it_is_sent(kiln_bin,
                                                               tmp_path):
    """A Content-Length above --max_body_bytes gets 413 at once: the
    client sends no body at all and still gets its answer."""
    with start(kiln_bin, tmp_path, "--max_body_bytes=1024") as srv:
        s = socket.create_connection(("127.0.0.1", srv.port),
                                     timeout=10 * SLOW)
        try:
            s.sendall(b"POST /v1/models/none:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: 100000000\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except socket.timeout:
            answer = b"(no answer within 10 s)"
        finally:
            s.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert srv.live()


def test_closed_connections_do_not_flood_the_log(kiln_bin, tmp_path):
    """Hundreds of clients that reset their connection mid-request write
    a few log lines, not one each."""
    with start(kiln_bin, tmp_path) as srv:
        before = len(srv.log().splitlines())
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"POST /v1/models/none:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 100\r\n\r\n{")
            # SO_LINGER 0: close() resets the connection.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        time.sleep(1.0)
        assert srv.live()
        lines = srv.log().splitlines()[before:]
        assert len(lines) < 30, \
            f"{len(lines)} log lines for 300 closed connections:\n" + \
            "\n".join(lines[:10])
