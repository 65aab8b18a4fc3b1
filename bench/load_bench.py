"""Load time and peak memory of kiln reading TensorFlow's own formats
against TensorFlow reading them (issue 12's benchmark), written into
bench/RESULTS.md between the <!-- load --> markers.

Models: Keras' MobileNetV2 (alpha 1.0) and ResNet50, weights=None with the
e2e zoo's fixed seeds (tests/e2e/kiln_e2e.py), saved as .keras, .h5 and a
SavedModel folder (tf.saved_model.save). Each load runs in a fresh
process, kiln and TensorFlow taking turns, --rounds times; the table gives
the median. kiln: `kiln bench FILE --runs 1 --json` (load_ms: file read,
import, load-time passes and weight packing; peak_rss_bytes: the whole
process). TensorFlow: a Python process that imports tensorflow and keras
first (not timed), then times keras.models.load_model (.keras, .h5; with
compile=False) or tf.saved_model.load (SavedModel), and reports its peak
RSS (ru_maxrss, which importing TensorFlow alone sets) and how much its
resident memory grew over the load (VmRSS after less before).

    python3 bench/load_bench.py [--models mobilenet_v2_100,resnet50]
        [--rounds 3] [--out bench/RESULTS.md] [--model-dir DIR]
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

TF_LOADER = r"""
import os, sys, time, resource, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf, keras
path, kind = sys.argv[1], sys.argv[2]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
before = rss()
t0 = time.perf_counter()
if kind == "savedmodel":
    model = tf.saved_model.load(path)
else:
    model = keras.models.load_model(path, compile=False)
ms = (time.perf_counter() - t0) * 1e3
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"load_ms": ms, "peak_rss_bytes": peak,
                  "growth_bytes": rss() - before}))
"""


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def prepare(name, directory):
    """The model's three files, made once."""
    import kiln_e2e as K
    files = {"keras": directory / f"{name}.keras", "h5": directory / f"{name}.h5",
             "savedmodel": directory / f"{name}_savedmodel"}
    if all(p.exists() for p in files.values()):
        return files
    import tensorflow as tf
    model = K.build_keras_model(K.MODELS[name])
    model.save(files["keras"])
    model.save(files["h5"])
    tf.saved_model.save(model, str(files["savedmodel"]))
    return files


def run_kiln(kiln, path):
    r = subprocess.run([kiln, "bench", str(path), "--runs", "1", "--json"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1][:120]
    return json.loads(r.stdout), None


def run_tf(path, kind):
    r = subprocess.run([sys.executable, "-c", TF_LOADER, str(path), kind],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def mib(n):
    return f"{n / 2**20:.0f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mobilenet_v2_100,resnet50")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    ap.add_argument("--model-dir", default=str(ROOT / "build" / "loadmodels"))
    args = ap.parse_args()
    kiln = os.environ.get("KILN_BIN", str(ROOT / "build" / "kiln"))
    directory = Path(args.model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models.split(","):
        files = prepare(name, directory)
        for kind, path in files.items():
            kl, tl, notes = [], [], None
            for _ in range(args.rounds):
                k, err = run_kiln(kiln, path)
                if k is None:
                    notes = err
                else:
                    kl.append(k)
                tl.append(run_tf(path, kind))
            t_ms = statistics.median(t["load_ms"] for t in tl)
            t_rss = statistics.median(t["peak_rss_bytes"] for t in tl)
            t_grow = statistics.median(t["growth_bytes"] for t in tl)
            if kl:
                k_ms = statistics.median(k["load_ms"] for k in kl)
                k_rss = statistics.median(k["peak_rss_bytes"] for k in kl)
                rows.append(f"| {name} | {kind} | {k_ms:.0f} ms | {mib(k_rss)} "
                            f"| {t_ms:.0f} ms | {mib(t_rss)} ({mib(t_grow)} "
                            f"by the load) | {t_ms / k_ms:.1f}x |")
            else:
                rows.append(f"| {name} | {kind} | refused: {notes} | - | "
                            f"{t_ms:.0f} ms | {mib(t_rss)} ({mib(t_grow)} by "
                            f"the load) | - |")
            print(rows[-1], flush=True)
    date = datetime.date.today().isoformat()
    table = "\n".join([
        f"Loading TensorFlow's formats: {date}, {cpu_name()}, "
        f"`python3 bench/load_bench.py --rounds {args.rounds}` (median of "
        "fresh processes; kiln's load is `kiln bench`'s load_ms, which "
        "includes load-time passes and weight packing; TensorFlow's excludes "
        "importing tensorflow and keras).",
        "",
        "| model | format | kiln load | kiln peak RSS | TensorFlow load | "
        "TensorFlow peak RSS | TF / kiln time |",
        "|---|---|---|---|---|---|---|",
        *rows])
    out = Path(args.out)
    text = out.read_text() if out.exists() else ""
    block = f"<!-- load -->\n{table}\n<!-- /load -->"
    if "<!-- load -->" in text:
        text = re.sub(r"<!-- load -->.*?<!-- /load -->", lambda m: block, text,
                      flags=re.S)
    else:
        text += f"\n## Loading TensorFlow's formats (issue 12)\n\n{block}\n"
    out.write_text(text)


if __name__ == "__main__":
    main()
