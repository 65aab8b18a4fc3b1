"""Load benchmark of `kiln serve` (issue 4): wrk drives the real server over
loopback on this machine, and the figures go into bench/RESULTS.md between
the <!-- serve --> markers.

1. A small recommendation MLP (100 input features -> 256 -> 128 -> 1),
   TF Serving's REST predict with one instance per request: requests/s and
   latency percentiles at a fixed number of connections.
2. MobileNetV2 1.0 with dynamic batching (max_batch_size 8), one image per
   request as a KServe v2 binary tensor, with one batch thread using every
   core and with one single-threaded batch thread per core: images/s,
   against the same model run in-process at batch 8 by `kiln bench` (the
   better of one session on every core and one session per core).

The load generator shares the two cores with the server, as the issue asks.

    python3 bench/serve_bench.py [--seconds 10] [--rounds 5]
                                 [--out bench/RESULTS.md]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402

import kiln_e2e as K  # noqa: E402
from run_bench import cpu_model  # noqa: E402


def reco_mlp(directory: Path) -> Path:
    """The recommendation MLP, built once with Keras (random weights)."""
    path = directory / "reco_mlp.float32.tflite"
    if path.exists():
        return path
    import tensorflow as tf
    tf.keras.utils.set_random_seed(3)
    x = tf.keras.Input(shape=(100,), name="features")
    h = tf.keras.layers.Dense(256, activation="relu")(x)
    h = tf.keras.layers.Dense(128, activation="relu")(h)
    y = tf.keras.layers.Dense(1, activation="sigmoid", name="score")(h)
    model = tf.keras.Model(x, y)
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.rename(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`kiln serve` on one model in a temporary model folder."""

    def __init__(self, model: Path, name: str, extra=(), batching=None):
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-serve-bench-"))
        (self.dir / name / "1").mkdir(parents=True)
        shutil.copy(model, self.dir / name / "1" / "model.tflite")
        self.port = free_port()
        args = [str(K.kiln_binary()), "serve", f"--model_name={name}",
                f"--model_base_path={self.dir / name}",
                f"--rest_api_port={self.port}", "--host=127.0.0.1"] + list(extra)
        if not any(a.startswith("--port") for a in extra):
            args.append("--port=0")  # no gRPC unless asked
        if batching:
            params = self.dir / "batching.pbtxt"
            params.write_text(batching)
            args += ["--enable_batching",
                     f"--batching_parameters_file={params}"]
        self.proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}/v2/health/ready"
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("kiln serve did not become ready")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


WRK_SCRIPT = r"""
local f = io.open(os.getenv("KILN_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("KILN_TYPE")
local header = os.getenv("KILN_HEADER_LEN")
if header ~= nil and header ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = header
end
"""


def run_wrk(url, body: bytes, content_type, header_len, seconds,
            connections, threads=2):
    work = Path(tempfile.mkdtemp(prefix="kiln-wrk-"))
    (work / "body").write_bytes(body)
    (work / "post.lua").write_text(WRK_SCRIPT)
    env = dict(os.environ, KILN_BODY=str(work / "body"),
               KILN_TYPE=content_type,
               KILN_HEADER_LEN=str(header_len) if header_len else "")
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
         "--latency", "-s", str(work / "post.lua"), url],
        env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    shutil.rmtree(work, ignore_errors=True)

    def ms(text):
        value, unit = float(text[:-2] if text.endswith("ms") or
                            text.endswith("us") else text[:-1]), text[-2:]
        if unit == "us":
            return value / 1e3
        if unit == "ms":
            return value
        return value * 1e3  # seconds

    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
              "errors": 0}
    for p in ("50", "90", "99"):
        m = re.search(rf"\s{p}%\s+([\d.]+\w+)", out)
        result["p" + p] = ms(m[1]) if m else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                     r"timeout (\d+)", out)
    result["errors"] = (int(bad[1]) if bad else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0)
    result["raw"] = out
    return result


def bench_mlp(seconds):
    cache = Path(os.environ.get("KILN_E2E_MODEL_DIR",
                                REPO / "build" / "e2e-models"))
    cache.mkdir(parents=True, exist_ok=True)
    model = reco_mlp(cache)
    server = Server(model, "reco")
    try:
        rng = np.random.default_rng(0)
        body = json.dumps({"instances": [rng.random(100).round(4).tolist()]})
        url = f"http://127.0.0.1:{server.port}/v1/models/reco:predict"
        run_wrk(url, body.encode(), "application/json", None, 2, 32)  # warm
        return run_wrk(url, body.encode(), "application/json", None, seconds,
                       32)
    finally:
        server.close()


def inproc_throughput(model, threads, copies):
    """Images/s of `copies` concurrent `kiln bench --batch 8` processes of
    `threads` threads each, summed (each measures while the others run)."""
    procs = [subprocess.Popen(
        [str(K.kiln_binary()), "bench", str(model), "--batch", "8",
         "--threads", str(threads), "--warmup", "3", "--runs",
         str(60 // threads), "--json"], stdout=subprocess.PIPE, text=True)
        for _ in range(copies)]
    total = 0.0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise RuntimeError("kiln bench failed")
        total += json.loads(out)["throughput_per_s"]
    return total


class ServedMobileNet:
    """MobileNetV2 served with batching (max 8), one image per request as
    a KServe v2 binary tensor, up and warm until closed."""

    def __init__(self, model, batch_threads, session_threads, connections):
        batching = ("max_batch_size { value: 8 }\n"
                    "batch_timeout_micros { value: 2000 }\n"
                    "max_enqueued_batches { value: 100 }\n"
                    f"num_batch_threads {{ value: {batch_threads} }}\n")
        self.layout = dict(batch_threads=batch_threads,
                           session_threads=session_threads,
                           connections=connections)
        self.server = Server(model, "mobilenet",
                             extra=[f"--num_workers={batch_threads}",
                                    f"--session_threads={session_threads}"],
                             batching=batching)
        port = self.server.port
        image = np.random.default_rng(0).random((1, 224, 224, 3),
                                                dtype=np.float32)
        meta = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/v2/models/mobilenet").read())
        self.header = json.dumps({"inputs": [{
            "name": meta["inputs"][0]["name"], "shape": [1, 224, 224, 3],
            "datatype": "FP32",
            "parameters": {"binary_data_size": image.nbytes}}],
            "outputs": [{"name": meta["outputs"][0]["name"],
                         "parameters": {"binary_data": True}}]}).encode()
        self.body = self.header + image.tobytes()
        self.url = f"http://127.0.0.1:{port}/v2/models/mobilenet/infer"
        self.run(2)  # warm

    def run(self, seconds):
        return run_wrk(self.url, self.body, "application/octet-stream",
                       len(self.header), seconds, self.layout["connections"])

    def close(self):
        self.server.close()


def bench_mobilenet(seconds, rounds=5):
    """Interleaved rounds of the in-process figures and both served
    layouts, so that drift of this shared machine's speed hits them alike;
    each figure is the median of its rounds."""
    cache = K.ModelCache(Path(os.environ.get(
        "KILN_E2E_MODEL_DIR", REPO / "build" / "e2e-models")))
    model = cache.path("mobilenet_v2_100", "float32")
    cores = os.cpu_count() or 1
    # The in-process figure to match: the better of one session on every
    # core and one single-threaded session per core.
    baselines = {"one session of %d threads" % cores: (cores, 1),
                 "%d single-threaded sessions at once" % cores: (1, cores)}
    layouts = [
        # Latency first: one batch at a time, every core on it.
        ServedMobileNet(model, 1, cores, 16),
        # Throughput first, as TF Serving's batching guide advises
        # (num_batch_threads = cores, one core per batch).
        ServedMobileNet(model, cores, 1, 16 * cores),
    ]
    inproc = {name: [] for name in baselines}
    runs = [[] for _ in layouts]
    try:
        for _ in range(rounds):
            for name, (threads, copies) in baselines.items():
                inproc[name].append(inproc_throughput(model, threads, copies))
            for layout, got in zip(layouts, runs):
                got.append(layout.run(seconds))
    finally:
        for layout in layouts:
            layout.close()
    served = []
    for layout, got in zip(layouts, runs):
        got.sort(key=lambda r: r["rps"])
        median = dict(got[len(got) // 2])
        median.update(layout.layout, rounds=[r["rps"] for r in got],
                      errors=sum(r["errors"] for r in got))
        served.append(median)
    return served, {k: statistics.median(v) for k, v in inproc.items()}


def section(mlp, served, inproc, seconds, rounds):
    best = max(inproc.values())
    rows = "\n".join(
        f"| MobileNetV2 1.0 (1 image/request), KServe v2 binary tensors, "
        f"batching max 8, {r['batch_threads']} batch thread(s) x "
        f"{r['session_threads']} intra-op thread(s) | wrk, 2 threads, "
        f"{r['connections']} connections | {r['rps']:.0f} | {r['p50']:.2f} | "
        f"{r['p90']:.2f} | {r['p99']:.2f} | {r['errors']} |" for r in served)
    ratios = "\n".join(
        f"- {r['batch_threads']} batch thread(s) x {r['session_threads']} "
        f"intra-op thread(s): {r['rps']:.0f} images/s = "
        f"**{r['rps'] / best:.2f}x** (rounds: "
        f"{', '.join(f'{x:.0f}' for x in r['rounds'])})" for r in served)
    base = "; ".join(f"{k}: {v:.0f}" for k, v in inproc.items())
    return f"""<!-- serve -->
## kiln serve under load

Date: {datetime.date.today()}  
CPU: {cpu_model()} ({os.cpu_count()} cores; wrk and the server share them)  
Command: `make bench` (`python3 bench/serve_bench.py --seconds {seconds} --rounds {rounds}`)

| workload | client | requests/s | p50 ms | p90 ms | p99 ms | errors |
|---|---|---|---|---|---|---|
| recommendation MLP (100 features, 1 row/request), TF Serving REST predict, no batching | wrk, 2 threads, 32 connections | {mlp['rps']:.0f} | {mlp['p50']:.2f} | {mlp['p90']:.2f} | {mlp['p99']:.2f} | {mlp['errors']} |
{rows}

MobileNetV2, {rounds} interleaved rounds, each figure the median of its
rounds. In-process at batch 8 (`kiln bench --batch 8`), images/s:
{base}. The better is the figure to match ({best:.0f}); served with
batching (target >= 0.90x):
{ratios}

Recommendation MLP: **{mlp['rps']:.0f} requests/s** with p99 {mlp['p99']:.2f} ms
(target >= 10,000 requests/s, p99 < 10 ms).
<!-- /serve -->
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    mlp = bench_mlp(args.seconds)
    print(json.dumps({k: v for k, v in mlp.items() if k != "raw"}), flush=True)
    served, inproc = bench_mobilenet(args.seconds, args.rounds)
    for r in served:
        print(json.dumps({k: v for k, v in r.items() if k != "raw"}),
              flush=True)
    print(json.dumps(inproc), flush=True)
    text = section(mlp, served, inproc, args.seconds, args.rounds)
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    if "<!-- serve -->" in old:
        old = re.sub(r"<!-- serve -->.*<!-- /serve -->\n?", "", old,
                     flags=re.S)
    out.write_text(old.rstrip("\n") + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
