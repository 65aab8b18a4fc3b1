"""Times kiln's int8 inference against LiteRT and ONNX Runtime on the same
quantized models, and writes the table into bench/RESULTS.md between the
<!-- quant --> markers (issue 11's benchmark).

Models: Keras' MobileNetV2, ResNet50 and EfficientNetB0 (weights=None, the
e2e zoo's fixed seeds, tests/e2e/kiln_e2e.py), each converted by
TensorFlow's converter to float32, float16 and int8 (a representative
dataset of 8 random images, TFLITE_BUILTINS_INT8, float inputs and outputs
as the converter's default), and for ONNX Runtime tf2onnx's conversion of
the float32 file quantized by onnxruntime.quantization.quantize_static
(QDQ, per-channel weights, the same 8 images). When this build of kiln
has `kiln quantize`, the float32 file quantized by kiln with the same 8
images is timed too.

For each model, thread count and batch, the runtimes take turns in rounds
(kiln, LiteRT, ORT, kiln, ...) so that machine noise hits them alike; the
latency is the median over all rounds. kiln runs `kiln bench --json` (its
own timing loop, like the Python loops around LiteRT's and ORT's invoke);
LiteRT runs with its default XNNPACK delegate and num_threads; ORT with
intra_op_num_threads, sequential execution, all graph optimizations.

Models are cached in --model-dir (default build/q11models, shared with
other tools: every file is written to a temporary name and renamed).

    python3 bench/quant_bench.py [--models mobilenet_v2,resnet50,...]
        [--threads 1,2] [--batches 1,8] [--rounds N] [--seconds S]
        [--kiln-max-run-s S] [--out bench/RESULTS.md] [--model-dir DIR]
        [--prepare-only]
"""
import argparse
import datetime
import json
import os
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

# Bench name -> the e2e zoo's model (its builder and seed).
ZOO = {"mobilenet_v2": "mobilenet_v2_100", "resnet50": "resnet50",
       "efficientnet_b0": "efficientnet_b0"}
CALIBRATION_IMAGES = 8
CALIBRATION_SEED = 1234


# ------------------------------------------------------------- the models


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def calibration_images(name: str) -> np.ndarray:
    """The 8 calibration images, [8, 224, 224, 3] float32, drawn as the
    zoo draws the model's inputs: pixels in [0, 255) for models that
    rescale inside (EfficientNetB0), [-1, 1) for the others."""
    rng = np.random.default_rng(CALIBRATION_SEED)
    shape = (CALIBRATION_IMAGES, 224, 224, 3)
    if K.MODELS[ZOO[name]].inputs == "image":
        return rng.uniform(0, 255, shape).astype(np.float32)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def tf_convert(model, variant: str, images: np.ndarray) -> bytes:
    import contextlib
    import io
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

        def representative():
            for image in images:
                yield [image[None]]
        converter.representative_dataset = representative
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def make_dynamic_batch(model) -> None:
    """tf2onnx gives the inputs and outputs the .tflite's batch of 1: make
    dimension 0 symbolic so ORT runs batch 8 on the same file."""
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"


def onnx_models(name: str, float32: Path, images: np.ndarray, directory: Path):
    """tf2onnx's conversion of the float32 .tflite, and its QDQ form."""
    import onnx
    float_onnx = directory / f"{name}.float32.onnx"
    qdq = directory / f"{name}.qdq.onnx"
    if not float_onnx.exists():
        import tf2onnx
        model, _ = tf2onnx.convert.from_tflite(str(float32), opset=17)
        make_dynamic_batch(model)
        atomic_write(float_onnx, model.SerializeToString())
    if not qdq.exists():
        from onnxruntime import quantization as q
        from onnxruntime.quantization.shape_inference import quant_pre_process
        # ORT's recommended first step: shape inference and its graph
        # optimizations, so quantization sees the fused graph.
        prepped = directory / f".{name}.prep.{os.getpid()}.onnx"
        quant_pre_process(str(float_onnx), str(prepped))

        class Reader(q.CalibrationDataReader):
            def __init__(self):
                session_input = onnx.load(str(prepped)).graph.input[0].name
                self.feeds = iter([{session_input: image[None]}
                                   for image in images])

            def get_next(self):
                return next(self.feeds, None)

        tmp = qdq.with_name(f".{qdq.name}.{os.getpid()}.tmp")
        try:
            q.quantize_static(str(prepped), str(tmp), Reader(),
                              quant_format=q.QuantFormat.QDQ,
                              per_channel=True,
                              calibrate_method=q.CalibrationMethod.MinMax)
        finally:
            prepped.unlink(missing_ok=True)
        tmp.replace(qdq)
    return float_onnx, qdq


def kiln_has_quantize() -> bool:
    try:
        r = subprocess.run([str(K.kiln_binary()), "quantize", "--help"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "quantize" in r.stdout


def kiln_quantize(name: str, float32: Path, images: np.ndarray,
                  directory: Path) -> Path:
    """The float32 file quantized by `kiln quantize` on the same images.
    Not cached: it is what changes from build to build."""
    inputs, _ = K.signature(float32)
    cal = directory / f".{name}.cal.{os.getpid()}.npz"
    np.savez(cal, **{inputs[0].name: images})
    out = directory / f".{name}.kiln_int8.{os.getpid()}.tflite"
    try:
        subprocess.run([str(K.kiln_binary()), "quantize", str(float32), "-o",
                        str(out), "--mode", "int8", "--calibration",
                        str(cal)], check=True, stdout=subprocess.DEVNULL)
        target = directory / f"{name}.kiln_int8.{os.getpid()}.tflite"
        out.replace(target)
        return target
    finally:
        cal.unlink(missing_ok=True)


def prepare(name: str, directory: Path) -> dict:
    """Every file of one model, converting only what the cache lacks."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {v: directory / f"{name}.{v}.tflite"
             for v in ("float32", "float16", "int8")}
    images = calibration_images(name)
    missing = [v for v, p in paths.items() if not p.exists()]
    if missing:
        print(f"quant_bench: converting {name} ({', '.join(missing)})",
              flush=True)
        model = K.build_keras_model(K.MODELS[ZOO[name]])
        for v in missing:
            atomic_write(paths[v], tf_convert(model, v, images))
    paths["float32_onnx"], paths["qdq"] = onnx_models(
        name, paths["float32"], images, directory)
    return paths


# ---------------------------------------------------------------- runners
# Each runner is built once per (model, threads, batch) and timed by calling
# run(n) -> list of n latencies in ms.


def image_batch(batch: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32)


class LiteRT:
    name = "LiteRT"

    def __init__(self, path, threads, batch):
        from ai_edge_litert.interpreter import Interpreter
        # The default resolver: builtin kernels plus the XNNPACK delegate.
        self.interp = Interpreter(model_path=str(path), num_threads=threads)
        index = self.interp.get_input_details()[0]["index"]
        self.interp.resize_tensor_input(index, [batch, 224, 224, 3])
        self.interp.allocate_tensors()
        self.interp.set_tensor(index, image_batch(batch))
        self.interp.invoke()

    def run(self, n):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            self.interp.invoke()
            times.append((time.perf_counter() - start) * 1e3)
        return times


class OnnxRuntime:
    name = "ORT"

    def __init__(self, path, threads, batch):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"])
        self.feed = {self.session.get_inputs()[0].name: image_batch(batch)}
        self.session.run(None, self.feed)

    def run(self, n):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            self.session.run(None, self.feed)
            times.append((time.perf_counter() - start) * 1e3)
        return times


class Kiln:
    """`kiln bench --json`: the timing loop runs inside kiln."""

    def __init__(self, path, threads, batch, name="kiln", env=None):
        self.name = name
        self.env = dict(os.environ, **(env or {}))
        self.args = [str(K.kiln_binary()), "bench", str(path), "--threads",
                     str(threads), "--batch", str(batch), "--json"]
        self.warmup = 1
        self.first = self._bench(1)  # also checks that kiln runs the model
        # Slow (reference) kernels: one warmup run per call is enough, none
        # when a run takes seconds.
        self.warmup = 0 if self.first > 5000 else (
            1 if self.first > 500 else 2)

    def _bench(self, n):
        out = subprocess.run(self.args + ["--warmup", str(self.warmup),
                                          "--runs", str(n)], check=True,
                             stdout=subprocess.PIPE, text=True,
                             env=self.env).stdout
        return json.loads(out)["latency_ms"]["p50"]

    def run(self, n):
        # Per-run latencies are not exported; the median stands for them.
        return [self._bench(n)] * n


def kernels_used(path: Path) -> str:
    """Which kernel kiln picks for each int8 operator of `path` (one
    profiled run): "CONV_2D ref x35" or the variants' names."""
    out = subprocess.run([str(K.kiln_binary()), "profile", str(path),
                          "--threads", "1", "--warmup", "0", "--runs", "1"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    kernels = {}
    for line in out.partition("by operator:")[0].splitlines():
        f = line.split()
        # step, op, kernel, types, output shape, median us, share, GFLOP/s
        # (a kiln without the types column prints seven)
        if len(f) in (7, 8) and f[0].isdigit():
            key = (f[1], f[2], f[3] if len(f) == 8 else "?")
            kernels[key] = kernels.get(key, 0) + 1
    return "; ".join(f"{op} {kernel} ({types}) x{n}" for (op, kernel, types),
                     n in sorted(kernels.items()))


def bench_case(runners, rounds, seconds):
    """Interleaved rounds; each runner does as many runs per round as fit
    in its share of `seconds` (at least 1), judged by one timed run."""
    runs = {}
    for r in runners:
        once = getattr(r, "first", None) or statistics.median(r.run(1))
        runs[r.name] = max(1, min(20, int(seconds / rounds * 1e3 /
                                          max(once, 1e-3))))
    times = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            times[r.name] += r.run(runs[r.name])
    return {name: statistics.median(t) for name, t in times.items()}


# ----------------------------------------------------------------- report


def kiln_commit() -> str:
    """The commit the kiln under test was built from (this checkout's)."""
    r = subprocess.run(["git", "-C", str(REPO), "log", "-1",
                        "--format=%h (%s)"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    text = r.stdout.strip()
    return text[:100] if text else "unknown"


def cpu_description() -> str:
    model, flags = "unknown CPU", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    named = ["avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
             "amx_tile", "amx_int8"]
    have = [f for f in named if f in flags]
    lack = [f for f in named if f not in flags]
    return (f"{model} ({os.cpu_count()} cores); has {' '.join(have) or '-'}"
            f"; lacks {' '.join(lack) or '-'}")


def fmt(value):
    return "n/a" if value is None else f"{value:.2f}"


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}x"


def table(rows, kiln_quant: bool) -> str:
    head = ["model", "threads", "batch", "kiln int8 ms",
            "kiln int8 fp32-rounding ms", "LiteRT int8 ms", "ORT QDQ ms"]
    if kiln_quant:
        head.append("kiln on kiln-quantized ms")
    head += ["kiln / faster peer", "kiln fp32-rounding / faster peer",
             "kiln float32 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], str(r["threads"]), str(r["batch"]),
                 fmt(r["kiln"]), fmt(r.get("kiln-fp32")), fmt(r["LiteRT"]),
                 fmt(r["ORT"])]
        if kiln_quant:
            cells.append(fmt(r.get("kiln-q")))
        cells += [ratio(r["kiln"], r["peer"]),
                  ratio(r.get("kiln-fp32"), r["peer"]), fmt(r.get("kiln-f32"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sizes_table(sizes) -> str:
    head = ("| model | float32 | float16 | int8 (TF) | int8 (kiln) | "
            "ORT QDQ .onnx | int8 / float32 |\n|" + "---|" * 7)
    lines = [head]
    mib = lambda b: "n/a" if b is None else f"{b / 2**20:.2f} MiB"  # noqa
    for name, s in sizes.items():
        lines.append(
            f"| {name} | {mib(s['float32'])} | {mib(s['float16'])} | "
            f"{mib(s['int8'])} | {mib(s.get('kiln_int8'))} | "
            f"{mib(s['qdq'])} | {s['float32'] / s['int8']:.2f}x smaller |")
    return "\n".join(lines)


def targets(rows) -> str:
    lines = ["Targets (issue 11), read off this run:"]
    for r in rows:
        if r["kiln"] is None or r["peer"] is None:
            continue
        share = r["kiln"] / r["peer"]
        lines.append(
            f"- {r['model']}, {r['threads']} thread(s), batch {r['batch']}:"
            f" kiln int8 {share:.2f}x the faster peer ({r['peer_name']}) "
            f"(target <= 0.80x: {'met' if share <= 0.8 else 'not met'})")
    for r in rows:
        if r.get("kiln-fp32") and r["peer"]:
            share = r["kiln-fp32"] / r["peer"]
            lines.append(
                f"- {r['model']}, {r['threads']} thread(s), batch "
                f"{r['batch']}: kiln int8 with KILN_INT8_ROUNDING=fp32 "
                f"{share:.2f}x the faster peer (target <= 0.80x: "
                f"{'met' if share <= 0.8 else 'not met'})")
    for r in rows:
        if r.get("kiln-q") and r["peer"]:
            lines.append(
                f"- {r['model']}, {r['threads']} thread(s), batch "
                f"{r['batch']}: kiln on its own int8 model "
                f"{r['kiln-q'] / r['peer']:.2f}x the faster peer")
    for r in rows:
        if r["model"] == "resnet50" and r.get("kiln-f32") and r["kiln"]:
            gain = r["kiln-f32"] / r["kiln"]
            lines.append(
                f"- resnet50, {r['threads']} thread(s), batch {r['batch']}: "
                f"kiln float32 / kiln int8 latency {gain:.2f}x (target >= "
                f"4x: {'met' if gain >= 4 else 'not met'})")
    return "\n".join(lines)


def write_section(out: Path, text: str, mark: str = "quant") -> None:
    """Replaces the <!-- MARK --> ... <!-- /MARK --> section of `out`, or
    appends one."""
    section = f"<!-- {mark} -->\n{text}\n<!-- /{mark} -->\n"
    old = out.read_text() if out.exists() else ""
    if f"<!-- {mark} -->" in old:
        new = re.sub(rf"<!-- {mark} -->.*<!-- /{mark} -->\n?",
                     lambda _: section, old, flags=re.S)
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + section
    out.write_text(new)


# ------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(ZOO))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="timing budget of one runtime in one case")
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--model-dir", default=os.environ.get(
        "KILN_Q11_MODEL_DIR", str(REPO / "build" / "q11models")))
    parser.add_argument("--kiln-max-run-s", type=float, default=20.0,
                        help="skip a kiln batch-8 case whose run would take "
                        "longer (judged from batch 1)")
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    directory = Path(args.model_dir)
    models = args.models.split(",")
    for name in models:
        if name not in ZOO:
            parser.error(f"unknown model {name!r} (known: {', '.join(ZOO)})")
    paths = {name: prepare(name, directory) for name in models}
    if args.prepare_only:
        return
    quantize = kiln_has_quantize()
    kiln_q = {}
    failures = []
    for name in models if quantize else []:
        try:
            kiln_q[name] = kiln_quantize(name, paths[name]["float32"],
                                         calibration_images(name), directory)
        except subprocess.CalledProcessError as e:
            failures.append(f"kiln quantize on {name}: exit {e.returncode}")
    sizes = {}
    for name in models:
        sizes[name] = {v: paths[name][v].stat().st_size
                       for v in ("float32", "float16", "int8", "qdq")}
        if name in kiln_q:
            sizes[name]["kiln_int8"] = kiln_q[name].stat().st_size
    load = os.getloadavg()[0]
    started = time.time()
    rows, skipped, batch1 = [], [], {}
    for name in models:
        for threads in (int(t) for t in args.threads.split(",")):
            for batch in (int(b) for b in args.batches.split(",")):
                p = paths[name]
                makers = [(Kiln, p["int8"], "kiln"),
                          (Kiln, p["int8"], "kiln-fp32"),
                          (LiteRT, p["int8"], "LiteRT"),
                          (OnnxRuntime, p["qdq"], "ORT")]
                if name in kiln_q:
                    makers.append((Kiln, kiln_q[name], "kiln-q"))
                if name == "resnet50":
                    makers.append((Kiln, p["float32"], "kiln-f32"))
                row = {"model": name, "threads": threads, "batch": batch}
                runners = []
                for make, path, label in makers:
                    # kiln's reference int8 kernels take many seconds a
                    # run on the big models: batch 8 is left out when the
                    # batch-1 row predicts a run longer than the limit.
                    one = batch1.get((name, threads, label))
                    if make is Kiln and one and one * batch > \
                            args.kiln_max_run_s * 1e3:
                        row[label] = None
                        skipped.append(
                            f"{label} on {name}, {threads} thread(s), batch "
                            f"{batch}: about {one * batch / 1e3:.0f} s a run "
                            f"(batch 1 took {one / 1e3:.1f} s), over the "
                            f"{args.kiln_max_run_s:.0f} s limit")
                        continue
                    try:
                        fp32 = {"KILN_INT8_ROUNDING": "fp32"} \
                            if label == "kiln-fp32" else None
                        runners.append(make(path, threads, batch) if
                                       make is not Kiln else
                                       Kiln(path, threads, batch, label,
                                            fp32))
                    except Exception as e:  # a runtime that cannot run it
                        row[label] = None
                        failures.append(f"{label} on {name} batch {batch}: "
                                        f"{str(e).splitlines()[0][:200]}")
                row.update(bench_case(runners, args.rounds, args.seconds))
                if batch == 1:
                    for label in ("kiln", "kiln-fp32", "kiln-q", "kiln-f32"):
                        if row.get(label):
                            batch1[(name, threads, label)] = row[label]
                peers = [(row[k], k) for k in ("LiteRT", "ORT")
                         if row.get(k) is not None]
                row["peer"], row["peer_name"] = min(peers) if peers else (
                    None, "none")
                print(json.dumps(row), flush=True)
                rows.append(row)
    for path in kiln_q.values():
        path.unlink(missing_ok=True)
    command = "make bench  (" + " ".join(
        ["python3 bench/quant_bench.py"] + sys.argv[1:]) + ")"
    loaded = (f" The machine was shared: a load average of {load:.1f} on "
              f"{os.cpu_count()} cores slows every runtime alike; compare "
              "the ratios." if load > os.cpu_count() else "")
    text = (
        "## int8: kiln vs LiteRT vs ONNX Runtime (issue 11)\n\n"
        f"Date: {datetime.date.today()}  \nCPU: {cpu_description()}  \n"
        f"kiln: commit {kiln_commit()}  \n"
        f"Command: `{command}`  \nLoad average at the start: {load:.2f}; "
        f"the timed part took {(time.time() - started) / 60:.1f} min."
        f"{loaded}  \n"
        "Models: Keras MobileNetV2, ResNet50, EfficientNetB0 (weights=None, "
        "fixed seeds). int8: TensorFlow's converter, 8 random calibration "
        "images, TFLITE_BUILTINS_INT8, float inputs and outputs; kiln and "
        "LiteRT (default XNNPACK delegate) run that same file. ORT: tf2onnx "
        "of the float32 .tflite, quant_pre_process, then quantize_static "
        "(QDQ, per-channel, MinMax, int8 activations and weights, the same "
        "8 images), intra_op_num_threads, sequential, all graph "
        "optimizations. "
        + ("kiln-quantized: `kiln quantize --mode int8` on the same 8 "
           "images, run by kiln. " if quantize else
           "`kiln quantize` is not in this build: no kiln-quantized model. ")
        + "kiln int8 fp32-rounding: the same file with "
        "KILN_INT8_ROUNDING=fp32 (the int8 GEMMs requantize in float, "
        "rounding half to even, as LiteRT's XNNPACK does; each output "
        "within one step of TFLite's integer rounding, kiln's default). "
        + "Latency: median over interleaved rounds. kiln / faster peer "
        "below 1.00x means kiln is faster.\n\n" + table(rows, quantize) +
        "\n\nFile sizes:\n\n" + sizes_table(sizes) + "\n\n" + targets(rows)
        + "\n" + "".join(f"- could not run: {f}\n" for f in failures)
        + "".join(f"- not timed: {f}\n" for f in skipped))
    first = models[0]
    text += (f"- kiln's kernels on {first}'s int8 model (`kiln profile`): "
             f"{kernels_used(paths[first]['int8'])}\n")
    write_section(Path(args.out), text)
    print(text)


if __name__ == "__main__":
    main()
