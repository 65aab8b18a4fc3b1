"""gRPC against REST on `kiln serve` (issue 10): the same models, the same
load generator (h2load from Debian's nghttp2-client: HTTP/1.1 for REST,
HTTP/2 for gRPC), the same number of connections with one request in
flight on each, over loopback on this machine. The table goes into
bench/RESULTS.md between the <!-- grpc --> markers.

1. The recommendation MLP of serve_bench.py (100 features -> 1 score), one
   row per request: TF Serving REST predict (JSON) against TF Serving gRPC
   PredictionService/Predict (TensorProto, tensor_content).
2. MobileNetV2 1.0 with dynamic batching (max 8), one image per request:
   KServe v2 REST with a binary tensor against KServe v2 gRPC ModelInfer
   with raw_input_contents.

Latency percentiles come from h2load's per-request log. h2load sees HTTP
statuses only (a gRPC error travels in a 200's trailers), so failures are
read from the server's own request counters, before and after each run.

    python3 bench/grpc_bench.py [--seconds 10] [--rounds 3]
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402

import kiln_e2e as K  # noqa: E402
from run_bench import cpu_model  # noqa: E402
from serve_bench import Server, free_port, reco_mlp  # noqa: E402

CONNECTIONS = 32


def grpc_frame(message: bytes) -> bytes:
    """gRPC's length-prefixed message: no compression, 4-byte length."""
    return b"\0" + len(message).to_bytes(4, "big") + message


def failed_requests(port: int) -> int:
    """Requests the server answered with an error so far (its Prometheus
    request counters, every API and protocol). CANCELLED is not counted:
    h2load ends a timed run by closing its connections with a request in
    flight on each, which the server records as the client going away."""
    text = urllib.request.urlopen(
        f"http://127.0.0.1:{port}/metrics").read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("#") or "request_count" not in line:
            continue
        m = re.search(r'status="([^"]*)"', line)
        if m and m[1] not in ("OK", "200", "CANCELLED"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def h2load(url, body: bytes, headers, seconds, http1):
    """Runs h2load for `seconds`; returns requests/s, latency percentiles
    (ms) from its per-request log, and its own failure count."""
    work = Path(tempfile.mkdtemp(prefix="kiln-h2load-"))
    (work / "body").write_bytes(body)
    log = work / "requests.log"
    cmd = ["h2load", "-D", str(seconds), "-c", str(CONNECTIONS), "-m", "1",
           "-t", "2", "-d", str(work / "body"), "--log-file", str(log)]
    if http1:
        cmd.append("--h1")
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd + [url], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, "
                     r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)[1])
    elapsed = []
    for line in log.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].startswith("2"):
            elapsed.append(int(parts[2]) / 1e3)
    elapsed.sort()

    def pct(q):
        return elapsed[min(len(elapsed) - 1, int(q * len(elapsed)))] \
            if elapsed else float("nan")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return {"rps": rps, "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
            "client_failed": int(done[4]) + int(done[5]) if done else -1,
            "done": int(done[2]) if done else 0}


class Target:
    """One protocol's request against a running server."""

    def __init__(self, label, server, url, body, headers, http1):
        self.label, self.server = label, server
        self.url, self.body, self.headers = url, body, headers
        self.http1 = http1

    def run(self, seconds):
        before = failed_requests(self.server.port)
        result = h2load(self.url, self.body, self.headers, seconds,
                        self.http1)
        result["server_failed"] = failed_requests(self.server.port) - before
        return result


def mlp_targets(server, grpc_port):
    from tensorflow_serving.apis import predict_pb2
    import tensorflow as tf
    row = np.random.default_rng(0).random((1, 100), dtype=np.float32)
    rest = json.dumps({"instances": row.round(4).tolist()}).encode()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "reco"
    request.inputs["features"].CopyFrom(tf.make_tensor_proto(row))
    grpc_body = grpc_frame(request.SerializeToString())
    return [
        Target("TF Serving REST predict (JSON)", server,
               f"http://127.0.0.1:{server.port}/v1/models/reco:predict", rest,
               {"content-type": "application/json"}, True),
        Target("TF Serving gRPC Predict (tensor_content)", server,
               f"http://127.0.0.1:{grpc_port}/tensorflow.serving."
               "PredictionService/Predict", grpc_body,
               {"content-type": "application/grpc", "te": "trailers"}, False),
    ]


def mobilenet_targets(server, grpc_port):
    from tritonclient.grpc import service_pb2
    port = server.port
    image = np.random.default_rng(0).random((1, 224, 224, 3),
                                            dtype=np.float32)
    meta = json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/v2/models/mobilenet").read())
    name_in, name_out = meta["inputs"][0]["name"], meta["outputs"][0]["name"]
    header = json.dumps({"inputs": [{
        "name": name_in, "shape": [1, 224, 224, 3], "datatype": "FP32",
        "parameters": {"binary_data_size": image.nbytes}}],
        "outputs": [{"name": name_out,
                     "parameters": {"binary_data": True}}]}).encode()
    request = service_pb2.ModelInferRequest(model_name="mobilenet")
    tensor = request.inputs.add()
    tensor.name, tensor.datatype = name_in, "FP32"
    tensor.shape.extend([1, 224, 224, 3])
    request.outputs.add().name = name_out
    request.raw_input_contents.append(image.tobytes())
    return [
        Target("KServe v2 REST infer (binary tensor)", server,
               f"http://127.0.0.1:{port}/v2/models/mobilenet/infer",
               header + image.tobytes(),
               {"content-type": "application/octet-stream",
                "inference-header-content-length": str(len(header))}, True),
        Target("KServe v2 gRPC ModelInfer (raw_input_contents)", server,
               f"http://127.0.0.1:{grpc_port}/inference.GRPCInferenceService/"
               "ModelInfer", grpc_frame(request.SerializeToString()),
               {"content-type": "application/grpc", "te": "trailers"}, False),
    ]


def measure(targets, seconds, rounds):
    """Interleaved rounds (REST, gRPC, REST, ...) so that drift of this
    shared machine hits both alike; each figure is the median round."""
    for t in targets:
        t.run(2)  # warm
    runs = {t.label: [] for t in targets}
    for _ in range(rounds):
        for t in targets:
            runs[t.label].append(t.run(seconds))
    out = []
    for t in targets:
        got = sorted(runs[t.label], key=lambda r: r["rps"])
        median = dict(got[len(got) // 2])
        median["label"] = t.label
        median["rounds"] = [r["rps"] for r in got]
        median["failed"] = sum(r["server_failed"] + r["client_failed"]
                               for r in got)
        out.append(median)
    return out


def section(mlp, mobile, seconds, rounds):
    def rows(results, workload):
        return "\n".join(
            f"| {workload} | {r['label']} | {r['rps']:.0f} | {r['p50']:.2f} | "
            f"{r['p90']:.2f} | {r['p99']:.2f} | {r['failed']} |"
            for r in results)

    def ratio(results):
        rest, grpc = results
        return f"{grpc['rps'] / rest['rps']:.2f}x"
    return f"""<!-- grpc -->
## gRPC against REST

Date: {datetime.date.today()}  
CPU: {cpu_model()} ({os.cpu_count()} cores; h2load and the server share them)  
Command: `make bench` (`python3 bench/grpc_bench.py --seconds {seconds} --rounds {rounds}`)  
Client: h2load, 2 threads, {CONNECTIONS} connections, one request in flight
on each (HTTP/1.1 for REST, HTTP/2 for gRPC); failures are the client's
plus the server's error counters over the runs (not counting the requests
in flight that h2load abandons when a timed run ends, which the server
records as CANCELLED).

| workload | protocol | requests/s | p50 ms | p90 ms | p99 ms | failed |
|---|---|---|---|---|---|---|
{rows(mlp, "recommendation MLP, 1 row/request, no batching")}
{rows(mobile, "MobileNetV2 1.0, 1 image/request, batching max 8")}

gRPC / REST requests/s: MLP **{ratio(mlp)}**, MobileNetV2 **{ratio(mobile)}**
(median of {rounds} interleaved rounds of {seconds} s).
<!-- /grpc -->
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    cache = Path(os.environ.get("KILN_E2E_MODEL_DIR",
                                REPO / "build" / "e2e-models"))
    cache.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1

    grpc_port = free_port()
    server = Server(reco_mlp(cache), "reco", extra=[f"--port={grpc_port}"])
    try:
        mlp = measure(mlp_targets(server, grpc_port), args.seconds,
                      args.rounds)
    finally:
        server.close()
    batching = ("max_batch_size { value: 8 }\n"
                "batch_timeout_micros { value: 2000 }\n"
                "max_enqueued_batches { value: 100 }\n"
                f"num_batch_threads {{ value: {cores} }}\n")
    model = K.ModelCache(cache).path("mobilenet_v2_100", "float32")
    grpc_port = free_port()
    server = Server(model, "mobilenet", batching=batching,
                    extra=[f"--port={grpc_port}", f"--num_workers={cores}",
                           "--session_threads=1"])
    try:
        mobile = measure(mobilenet_targets(server, grpc_port), args.seconds,
                         args.rounds)
    finally:
        server.close()
    for r in mlp + mobile:
        print(json.dumps(r), flush=True)
    text = section(mlp, mobile, args.seconds, args.rounds)
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    old = re.sub(r"<!-- grpc -->.*<!-- /grpc -->\n?", "", old, flags=re.S)
    out.write_text(old.rstrip("\n") + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
