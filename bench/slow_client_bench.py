"""Slow-client attack benchmark of `kiln serve` (issue 10): thousands of
connections trickling their headers a byte a second, from a separate
process, beside a normal client making sequential predict requests; the
normal client's latency and failures with and without the attack go into
bench/RESULTS.md between the <!-- slow clients --> markers.

The server runs the recommendation MLP of serve_bench.py with its default
flags, started with an open-file soft limit of 1,024 (as systemd and Docker
start services; kiln raises it to the hard limit). The attackers connect
from 127.0.1.1 to 127.0.1.8, so the per-address cap does not refuse them
and the attack meets the header deadline (--request_header_timeout_ms,
30 s by default): each attacker cut by it reconnects at once, so the
number of slow connections stays at the target. The normal client, from
127.0.0.1, runs twice in each setting: on one kept-alive connection, and
on a new connection per request (which must get through the accept queue
the attackers crowd).

    python3 bench/slow_client_bench.py [--connections 4000] [--seconds 40]
                                       [--out bench/RESULTS.md]
"""
import argparse
import asyncio
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

import kiln_e2e as K  # noqa: E402
from run_bench import cpu_model  # noqa: E402
from serve_bench import free_port, reco_mlp  # noqa: E402

ATTACKERS = [f"127.0.1.{i}" for i in range(1, 9)]
# What the attackers trickle: a request whose headers never end in time.
TRICKLE = (b"POST /v1/models/reco:predict HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nX-Padding: " + b"a" * 8000)


def raise_open_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ------------------------------------------------------------ attacker


async def slow_connection(port, source, stats, stop):
    """One attacker: a byte a second; when the server ends the connection
    (a 408 at the header deadline, or a reset), another at once."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            stats["connect_failed"] += 1
            await asyncio.sleep(1.0)
            continue
        stats["opened"] += 1
        stats["open"] += 1
        offset = 0
        try:
            while not stop.is_set():
                writer.write(TRICKLE[offset % len(TRICKLE):][:1])
                offset += 1
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                except asyncio.TimeoutError:
                    continue
                if data.startswith(b"HTTP/1.1 408"):
                    stats["answered_408"] += 1
                if not data:
                    break
                # An answer: the end follows.
                while await reader.read(4096):
                    pass
                break
        except OSError:
            pass
        stats["open"] -= 1
        if not stop.is_set():
            stats["cut"] += 1
        writer.close()


async def attack(port, connections, ramp_per_s):
    stats = {"open": 0, "opened": 0, "cut": 0, "answered_408": 0,
             "connect_failed": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    for i in range(connections):
        if stop.is_set():
            break
        tasks.append(asyncio.create_task(slow_connection(
            port, ATTACKERS[i % len(ATTACKERS)], stats, stop)))
        if i % ramp_per_s == ramp_per_s - 1:
            await asyncio.sleep(1.0)
            print(json.dumps(stats), flush=True)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
        print(json.dumps(stats), flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(stats), flush=True)


class Attack:
    """The attacker process: `connections` slow connections, opened at
    `ramp_per_s` a second, held until stop()."""

    def __init__(self, port, connections, ramp_per_s=1000):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--attacker", str(port),
             "--connections", str(connections), "--ramp", str(ramp_per_s)],
            stdout=subprocess.PIPE, text=True)
        self.connections = connections
        self.last = {}

    def wait_open(self, timeout):
        """Until (nearly) every attacker connection is open."""
        until = time.monotonic() + timeout
        for line in self.proc.stdout:
            self.last = json.loads(line)
            if self.last["open"] >= 0.98 * self.connections:
                return
            if time.monotonic() > until:
                raise RuntimeError(f"attack stalled at {self.last}")
        raise RuntimeError("the attacker process ended")

    def stats(self):
        return dict(self.last)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        if lines:
            self.last = json.loads(lines[-1])
        return self.last


def drain_in_background(attack):
    """Keeps reading the attacker's progress lines (a full pipe would stop
    it) and remembers the last."""
    def run():
        for line in attack.proc.stdout:
            try:
                attack.last = json.loads(line)
            except ValueError:
                pass
    threading.Thread(target=run, daemon=True).start()


# ------------------------------------------------------- normal client


def normal_client(port, body, seconds, fresh_connections):
    """Sequential predict requests for `seconds`: latencies (ms) of the
    answered ones, and the failures (an error, a non-200, a timeout)."""
    latencies, failures, reasons = [], 0, {}
    conn = None
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=10)
            conn.request("POST", "/v1/models/reco:predict", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            ok = resp.status == 200 and b"predictions" in data
            if not ok:
                reasons[f"HTTP {resp.status}"] = reasons.get(
                    f"HTTP {resp.status}", 0) + 1
        except (OSError, http.client.HTTPException) as e:
            ok = False
            reasons[type(e).__name__] = reasons.get(type(e).__name__, 0) + 1
            conn.close()
            conn = None
        if ok:
            latencies.append((time.perf_counter() - t0) * 1e3)
        else:
            failures += 1
        if fresh_connections and conn is not None:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
    return latencies, failures, reasons


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


# -------------------------------------------------------------- server


class Server:
    """`kiln serve` on the MLP with default flags, started with a soft
    open-file limit of 1,024; its log kept."""

    def __init__(self, model):
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-slow-bench-"))
        (self.dir / "reco" / "1").mkdir(parents=True)
        shutil.copy(model, self.dir / "reco" / "1" / "model.tflite")
        self.port = free_port()
        self.log_path = self.dir / "server.log"
        self.command = [str(K.kiln_binary()), "serve", "--model_name=reco",
                        f"--model_base_path={self.dir / 'reco'}",
                        f"--rest_api_port={self.port}", "--port=0"]

        def low_limit():
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, stderr=log,
                                         preexec_fn=low_limit)
        url = f"http://127.0.0.1:{self.port}/v2/health/ready"
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("kiln serve did not become ready:\n" + self.log())

    def log(self):
        return self.log_path.read_text(errors="replace")

    def rss_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)
        return log


# ----------------------------------------------------------- benchmark


def run(connections, seconds):
    hard = raise_open_files()
    if hard < connections + 1000:
        raise SystemExit(f"the hard open-file limit {hard} is too low for "
                         f"{connections} connections")
    cache = Path(os.environ.get("KILN_E2E_MODEL_DIR",
                                REPO / "build" / "e2e-models"))
    cache.mkdir(parents=True, exist_ok=True)
    model = reco_mlp(cache)
    import numpy as np
    rng = np.random.default_rng(0)
    body = json.dumps({"instances": [rng.random(100).round(4).tolist()]})
    server = Server(model)
    rows = []
    try:
        normal_client(server.port, body, 2, False)  # warm
        for fresh in (False, True):
            lat, failed, reasons = normal_client(server.port, body, seconds,
                                                 fresh)
            rows.append(dict(attack=0, fresh=fresh, lat=lat, failed=failed,
                             reasons=reasons, rss=server.rss_mib()))
            print(json.dumps({k: v for k, v in rows[-1].items()
                              if k != "lat"} | {"n": len(lat)}), flush=True)
        rss_before = server.rss_mib()
        attack = Attack(server.port, connections)
        attack.wait_open(120)
        drain_in_background(attack)
        for fresh in (False, True):
            before = attack.stats()
            lat, failed, reasons = normal_client(server.port, body, seconds,
                                                 fresh)
            during = attack.stats()
            rows.append(dict(attack=connections, fresh=fresh, lat=lat,
                             failed=failed, reasons=reasons,
                             rss=server.rss_mib(), open=during["open"],
                             cut=during["cut"] - before["cut"]))
            print(json.dumps({k: v for k, v in rows[-1].items()
                              if k != "lat"} | {"n": len(lat)}), flush=True)
        final = attack.stop()
    finally:
        log = server.close()
    return rows, final, rss_before, log


def section(rows, final, rss_before, log, connections, seconds):
    lines = []
    for r in rows:
        client = ("a new connection per request" if r["fresh"]
                  else "one kept-alive connection")
        attack = (f"{r['attack']} | {r['open']} | {r['cut']}"
                  if r["attack"] else "none | - | -")
        failed = str(r["failed"])
        if r["reasons"]:
            failed += " (" + ", ".join(f"{k}: {v}" for k, v in
                                       r["reasons"].items()) + ")"
        lines.append(
            f"| {attack} | {client} | {len(r['lat'])} | "
            f"{percentile(r['lat'], 50):.2f} | {percentile(r['lat'], 99):.2f} "
            f"| {max(r['lat'], default=float('nan')):.2f} | {failed} | "
            f"{r['rss']:.0f} |")
    raised = re.search(r"open-file limit raised from (\d+) to (\d+)", log)
    limits = re.search(r"connections: at most (\d+), (\d+) per client", log)
    total_failed = sum(r["failed"] for r in rows)
    return f"""<!-- slow clients -->
## kiln serve beside a slow-client attack

Date: {datetime.date.today()}  
CPU: {cpu_model()} ({os.cpu_count()} cores; the attacker, the normal client and the server share them)  
Command: `make bench` (`python3 bench/slow_client_bench.py --connections {connections} --seconds {seconds}`)

The recommendation MLP served with default flags (`kiln serve --model_name=reco --model_base_path=... --rest_api_port=... --port=0`), started with an open-file soft limit of 1,024 ({'raised by kiln to ' + raised[2] if raised else 'not raised'}; connections capped at {limits[1] if limits else '?'} in all, {limits[2] if limits else '?'} per client address). The attack: {connections} connections from a separate process (asyncio, 8 source addresses), each sending one header byte a second and reconnecting when cut; in all it opened {final.get('opened', 0)} connections, {final.get('answered_408', 0)} of them answered 408 at the 30 s header deadline. The normal client: sequential TF Serving REST predict requests (one row) for {seconds} s per row, from its own address. Latency in ms, over the answered requests; RSS of the server at the end of each row (before the attack: {rss_before:.0f} MiB).

| slow connections | open at the end | cut and reopened meanwhile | normal client | requests | p50 ms | p99 ms | max ms | failures | server RSS MiB |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

Normal client failures in all: **{total_failed}** (requirement: 0).
<!-- /slow clients -->
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=4000)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--attacker", type=int, metavar="PORT",
                        help=argparse.SUPPRESS)
    parser.add_argument("--ramp", type=int, default=1000,
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        raise_open_files()
        asyncio.run(attack(args.attacker, args.connections, args.ramp))
        return
    rows, final, rss_before, log = run(args.connections, args.seconds)
    text = section(rows, final, rss_before, log, args.connections,
                   args.seconds)
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    if "<!-- slow clients -->" in old:
        old = re.sub(r"<!-- slow clients -->.*<!-- /slow clients -->\n?", "",
                     old, flags=re.S)
    out.write_text(old.rstrip("\n") + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
