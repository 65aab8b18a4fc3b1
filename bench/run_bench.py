"""Runs kiln, LiteRT and ONNX Runtime side by side on the e2e model zoo and
writes the table to bench/RESULTS.md.

Every runtime runs the SAME model: the float32 .tflite that TensorFlow's
converter makes from the Keras model (tests/e2e/kiln_e2e.py builds them,
random weights), and for ONNX Runtime that same file converted by tf2onnx's
TFLite front end. For each model, thread count and batch, the runtimes take
turns in rounds (kiln, LiteRT, ORT, kiln, ...) so that machine noise hits
them alike; the reported latency is the median over all rounds. Cold start
(load to first result) and peak RSS come from one fresh process per runtime.

    python3 bench/run_bench.py [--models a,b] [--threads 1,2] [--rounds N]
                               [--runs N] [--out bench/RESULTS.md]
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import numpy as np  # noqa: E402

import kiln_e2e as K  # noqa: E402

# Models of the zoo worth timing, and the batches each runs at.
DEFAULT_MODELS = ["mobilenet_v2_100", "resnet50", "mobilenet_v3_small",
                  "efficientnet_b0", "mobilenet_v2_035", "cnn"]
BATCH8 = {"mobilenet_v2_100", "resnet50"}


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def to_onnx(tflite: Path) -> Path:
    target = tflite.with_suffix(".onnx")
    if not target.exists():
        import onnx
        import tf2onnx
        model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=17)
        onnx.save(model, str(target))
    return target


# ---------------------------------------------------------------- runners
# Each runner is built once per (model, threads, batch) and timed by calling
# run(n) -> list of n latencies in ms.


class LiteRT:
    name = "LiteRT"

    def __init__(self, path, feed, threads):
        from ai_edge_litert.interpreter import Interpreter
        # The default resolver: builtin kernels plus the XNNPACK delegate.
        self.interp = Interpreter(model_path=str(path), num_threads=threads)
        self.runner = self.interp.get_signature_runner()
        self.feed = feed
        self.runner(**feed)

    def run(self, n):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            self.runner(**self.feed)
            times.append((time.perf_counter() - start) * 1e3)
        return times


class OnnxRuntime:
    name = "ORT"

    def __init__(self, path, feed, threads):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in self.session.get_inputs()]
        # tf2onnx names inputs serving_default_<name>:0; match by order.
        self.feed = dict(zip(names, feed.values()))
        self.session.run(None, self.feed)

    def run(self, n):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            self.session.run(None, self.feed)
            times.append((time.perf_counter() - start) * 1e3)
        return times


class Kiln:
    """`kiln bench --json`: the timing loop runs inside kiln, like the
    Python loops above run inside their runtimes' bindings."""
    name = "kiln"

    def __init__(self, path, feed, threads, batch):
        self.args = [str(K.kiln_binary()), "bench", str(path), "--threads",
                     str(threads), "--batch", str(batch), "--warmup", "2",
                     "--json"]

    def run(self, n):
        out = subprocess.run(self.args + ["--runs", str(n)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        result = json.loads(out)
        self.last = result
        # Per-run latencies are not exported; the median stands for them.
        return [result["latency_ms"]["p50"]] * n


# Load to first result in a fresh process that imports only the runtime
# under test, so peak RSS is that runtime's own. Inputs come in an .npz.
COLD_START_CHILD = r"""
import json, resource, sys, time
import numpy as np
kind, path, threads, feed_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
feed = dict(np.load(feed_file))
start = time.perf_counter()
if kind == "LiteRT":
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner()
    runner(**feed)
else:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    session.run(None, dict(zip(names, feed.values())))
cold = (time.perf_counter() - start) * 1e3
# VmHWM is this address space's peak; ru_maxrss would include the parent's.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
rss = int(hwm[0].split()[1]) * 1024 if hwm else (
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(json.dumps({"cold_ms": cold, "rss": rss}))
"""


def cold_start(kind, path, threads, batch, feed_file) -> dict:
    if kind == "kiln":
        out = subprocess.run(
            [str(K.kiln_binary()), "bench", str(path), "--threads",
             str(threads), "--batch", str(batch), "--warmup", "0", "--runs",
             "1", "--json"], check=True, stdout=subprocess.PIPE,
            text=True).stdout
        r = json.loads(out)
        return {"cold_ms": r["load_ms"] + r["first_invoke_ms"],
                "rss": r["peak_rss_bytes"]}
    out = subprocess.run(
        [sys.executable, "-c", COLD_START_CHILD, kind, str(path),
         str(threads), str(feed_file)], check=True, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def inputs_for(tflite: Path, batch: int):
    inputs, _ = K.signature(tflite)
    rng = np.random.default_rng(0)
    name = tflite.name.split(".")[0]
    return K.make_inputs(K.MODELS[name], inputs, batch, rng)


def bench_case(path, name, threads, batch, rounds, runs):
    feed = inputs_for(path, batch)
    onnx_path = to_onnx(path)
    runners = [Kiln(path, feed, threads, batch),
               LiteRT(path, feed, threads),
               OnnxRuntime(onnx_path, feed, threads)]
    times = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            times[r.name] += r.run(runs)
    row = {"model": name, "threads": threads, "batch": batch}
    for r in runners:
        row[r.name] = statistics.median(times[r.name])
    feed_file = path.with_suffix(f".feed{batch}.npz")
    np.savez(feed_file, **feed)
    for kind, p in (("kiln", path), ("LiteRT", path), ("ORT", onnx_path)):
        c = cold_start(kind, p, threads, batch, feed_file)
        row[kind + "_cold"] = c["cold_ms"]
        row[kind + "_rss"] = c["rss"]
    return row


def table(rows):
    head = ("| model | threads | batch | kiln ms | LiteRT ms | ORT ms | "
            "kiln/LiteRT | kiln/ORT | cold start ms (kiln / LiteRT / ORT) | "
            "peak RSS MiB (kiln / LiteRT / ORT) |\n|" + "---|" * 10)
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['batch']} | "
            f"{r['kiln']:.2f} | {r['LiteRT']:.2f} | {r['ORT']:.2f} | "
            f"{r['kiln'] / r['LiteRT']:.2f}x | {r['kiln'] / r['ORT']:.2f}x | "
            f"{r['kiln_cold']:.0f} / {r['LiteRT_cold']:.0f} / "
            f"{r['ORT_cold']:.0f} | "
            f"{r['kiln_rss'] / 2**20:.0f} / {r['LiteRT_rss'] / 2**20:.0f} / "
            f"{r['ORT_rss'] / 2**20:.0f} |")
    return "\n".join(lines)


def peak_share(resnet: Path) -> str:
    """The largest convolutions of ResNet50 on one thread (kiln profile)
    against this machine's FMA peak (kiln bench --peak)."""
    peak = json.loads(subprocess.run(
        [str(K.kiln_binary()), "bench", "--peak", "--threads", "1",
         "--json"], check=True, stdout=subprocess.PIPE, text=True).stdout)
    peak = peak["gflops_per_s"]
    out = subprocess.run(
        [str(K.kiln_binary()), "profile", str(resnet), "--threads", "1",
         "--runs", "20"], check=True, stdout=subprocess.PIPE,
        text=True).stdout
    convs = []
    for line in out.splitlines():
        f = line.split()
        # step, op, kernel, types, output shape, median us, share, GFLOP/s
        if len(f) == 8 and f[1] == "CONV_2D":
            us, gflops = float(f[5]), float(f[7])
            convs.append((gflops * us * 1e3, f[2], f[4], gflops))
    if not convs:
        return ""
    biggest = max(c[0] for c in convs)
    large = [c for c in convs if c[0] >= 0.8 * biggest]
    by_kernel = {}
    for flops, kernel, shape, gflops in large:
        by_kernel.setdefault(kernel, []).append(gflops / peak)
    lines = [f"- Share of the FMA peak: `kiln bench --peak --threads 1` "
             f"measures {peak:.1f} GFLOP/s; `kiln profile resnet50 "
             f"--threads 1` on the {len(large)} convolutions of at least "
             f"80% of the largest one's FLOPs ({biggest / 1e6:.0f} MFLOP):"]
    for kernel, shares in sorted(by_kernel.items()):
        note = (" (FLOPs of the direct convolution over time: Winograd "
                "does fewer multiplications)" if "winograd" in kernel else "")
        lines.append(f"  - {kernel}: {len(shares)} layers, "
                     f"{100 * min(shares):.0f}-{100 * max(shares):.0f}% of "
                     f"peak{note}")
    return "\n".join(lines)


def targets(rows, resnet) -> str:
    """Issue 3's figures, read off this run's rows."""
    def row(model, threads, batch=1):
        for r in rows:
            if (r["model"], r["threads"], r["batch"]) == (model, threads,
                                                         batch):
                return r
        return None

    lines = ["## Against issue 3's targets (this run)", ""]
    for model in ("mobilenet_v2_100", "resnet50"):
        for threads in (1, 2):
            r = row(model, threads)
            if not r:
                continue
            a, b = r["kiln"] / r["LiteRT"], r["kiln"] / r["ORT"]
            verdict = "met" if a <= 1 and b <= 1 else "not met"
            lines.append(f"- {model}, batch 1, {threads} thread(s): "
                         f"{a:.2f}x LiteRT, {b:.2f}x ORT (target <= 1.00x: "
                         f"{verdict})")
    one, two = row("resnet50", 1), row("resnet50", 2)
    if one and two:
        gain = one["kiln"] / two["kiln"]
        lines.append(f"- resnet50: two threads give {gain:.2f}x one thread "
                     f"(target >= 1.7x: "
                     f"{'met' if gain >= 1.7 else 'not met'})")
    if resnet:
        lines.append(peak_share(resnet))
    lines.append("- Every dispatch level matches LiteRT within 1e-4 on the "
                 "whole zoo: `make check` runs the zoo at the best level and "
                 "again with KILN_ISA=avx2 and KILN_ISA=portable.")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--model-dir",
                        default=os.environ.get("KILN_E2E_MODEL_DIR",
                                               str(REPO / "build" /
                                                   "e2e-models")))
    args = parser.parse_args()
    cache = K.ModelCache(Path(args.model_dir))
    rows = []
    for name in args.models.split(","):
        path = cache.path(name, "float32")
        batches = [1, 8] if name in BATCH8 else [1]
        for threads in (int(t) for t in args.threads.split(",")):
            for batch in batches:
                row = bench_case(path, name, threads, batch, args.rounds,
                                 args.runs)
                print(json.dumps(row), flush=True)
                rows.append(row)
    command = "make bench  (python3 bench/run_bench.py " + " ".join(
        sys.argv[1:]) + ")"
    text = (
        "# kiln vs LiteRT vs ONNX Runtime\n\n"
        f"Date: {datetime.date.today()}  \nCPU: {cpu_model()} "
        f"({os.cpu_count()} cores)  \nCommand: `{command}`  \n"
        "Models: the e2e zoo (Keras, random weights), float32 .tflite from "
        "TensorFlow's converter; ORT runs the same file through tf2onnx "
        "(opset 17, all graph optimizations); LiteRT uses its default "
        "XNNPACK delegate. Latency: median over interleaved rounds. Ratios "
        "below 1.00x mean kiln is faster.\n\n" + table(rows) + "\n\n" +
        targets(rows, cache.path("resnet50", "float32")
                if "resnet50" in args.models.split(",") else None))
    # Keep the sections the other benchmarks write between their markers
    # (serve_bench.py's <!-- serve -->, quant_bench.py's <!-- quant -->...).
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    kept = [m[0].rstrip("\n") + "\n" for m in re.finditer(
        r"<!-- ([a-z -]+) -->.*?<!-- /\1 -->", old, flags=re.S)]
    out.write_text(text + "".join("\n" + k for k in kept))
    print(text)


if __name__ == "__main__":
    main()
