"""convert_sweep.py - `kiln convert` over every conformance case's model.

Each case of tests/conformance/cases.py whose model is already in the
conformance cache ($KILN_CONFORMANCE_DIR) is converted with `kiln convert`;
the result must be either a clear refusal (kiln cannot read the model, or
the writer names the node or value it cannot write) or a file LiteRT runs
to the same outputs as the original on the case's own inputs (integers and
booleans equal, floats bit-equal up to 1e-6 relative). Prints the counts
and every mismatch; exits 1 when there is one.

    KILN_CONFORMANCE_DIR=build/conformance-models \\
        KILN_BIN=build/kiln python3 tests/e2e/convert_sweep.py [OP ...]

LiteRT runs in a child process that is restarted when a model kills it
(a few of LiteRT's kernels abort on inputs they dislike); the model it
died on counts as "LiteRT died".
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "conformance"))

import numpy as np  # noqa: E402

# Relative tolerance for float outputs; the two files hold the same bytes
# and run the same kernels, so anything but equality is suspicious.
FLOAT_TOLERANCE = 1e-6


def same(a: np.ndarray, b: np.ndarray) -> str:
    """'' when equal, else what differs."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(
            a.dtype, np.complexfloating):
        return "" if np.array_equal(a, b) else "integer values differ"
    if np.array_equal(a, b, equal_nan=True):
        return ""
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return "NaNs differ"
    finite = np.isfinite(a)
    if not np.array_equal(a[~finite], b[~finite]):
        return "infinities differ"
    scale = max(float(np.max(np.abs(a[finite]), initial=0.0)), 1e-30)
    err = float(np.max(np.abs(a[finite] - b[finite]), initial=0.0)) / scale
    return "" if err <= FLOAT_TOLERANCE else f"relative error {err:.3g}"


def litert_outputs(path: str, inputs):
    from ai_edge_litert import interpreter as lite
    it = lite.Interpreter(
        model_path=path, experimental_op_resolver_type=lite.OpResolverType.
        BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = it.get_input_details()
    for d, x in zip(details, inputs):
        if tuple(d["shape"]) != x.shape:
            it.resize_tensor_input(d["index"], list(x.shape))
    it.allocate_tensors()
    for d, x in zip(details, inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    outs = []
    for d in it.get_output_details():
        try:
            outs.append(np.array(it.get_tensor(d["index"])))
        except ValueError:
            outs.append(np.zeros([int(s) for s in d["shape"]], d["dtype"]))
    return outs


def compare_pair(original: str, converted: str, inputs) -> str:
    """'' when LiteRT gives the same outputs for both files."""
    try:
        want = litert_outputs(original, inputs)
    except Exception as e:  # LiteRT refuses the original: nothing to match
        return "skip: LiteRT refuses the original: " + str(e)[:120]
    try:
        got = litert_outputs(converted, inputs)
    except Exception as e:
        return "LiteRT refuses the written file: " + " ".join(
            str(e).split())[:300]
    if len(got) != len(want):
        return f"{len(got)} outputs instead of {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        why = same(w, g)
        if why:
            return f"output {k}: {why}"
    return ""


def worker() -> None:
    """Child: reads JSON jobs on stdin, answers one JSON line each."""
    for line in sys.stdin:
        job = json.loads(line)
        data = np.load(job["inputs"], allow_pickle=False)
        inputs = [data[f"arr_{k}"] for k in range(len(data.files))]
        print(json.dumps({"why": compare_pair(job["original"],
                                              job["converted"], inputs)}),
              flush=True)


class Comparer:
    """Runs compare_pair in a child that is restarted when it dies."""

    def __init__(self):
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def compare(self, original, converted, inputs, scratch: Path) -> str:
        if not self.proc or self.proc.poll() is not None:
            self.start()
        feed = scratch / "inputs.npz"
        np.savez(feed, *inputs)
        self.proc.stdin.write(json.dumps({
            "original": str(original), "converted": str(converted),
            "inputs": str(feed)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc = None
            return "skip: LiteRT died"
        return json.loads(line)["why"]

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def kiln_bin() -> str:
    return os.environ.get("KILN_BIN", str(HERE.parents[1] / "build/kiln"))


def sweep(ops=None, limit=None, log=print):
    """Counts of each outcome, and the mismatches (case, why)."""
    import cases as case_table
    import runner
    counts = collections.Counter()
    bad = []
    refusals = collections.Counter()
    comparer = Comparer()
    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        out = scratch / "converted.tflite"
        for op in ops or case_table.all_ops():
            for case in case_table.cases_for(op):
                if limit and counts["cases"] >= limit:
                    break
                rng = runner.case_rng(case)
                inputs = [feed(rng) for feed in case.feeds]
                if case.convert:
                    path = runner.converted_path(case)
                else:
                    data = runner.build.build_model(case.graphs)
                    path = runner.cache_dir() / (
                        runner.build.model_key(data) + ".tflite")
                if not path.exists() or path in seen:
                    continue
                seen.add(path)
                counts["cases"] += 1
                if case.convert:
                    names, _ = runner._tensor_names(path.read_bytes())
                    inputs = [inputs[runner._spec_index(case.input_names, n)]
                              for n in names]
                r = subprocess.run([kiln_bin(), "convert", str(path), "-o",
                                    str(out)], capture_output=True, text=True,
                                   timeout=120)
                label = f"{case.op} {case.types} {case.attrs}"
                if r.returncode != 0:
                    message = r.stderr.strip()
                    if r.returncode != 1 or "kiln:" not in message:
                        counts["crash"] += 1
                        bad.append((label, f"exit {r.returncode}: {message}"))
                    elif "writing TFLite" in message:
                        counts["writer refused"] += 1
                        refusals[message.split("writing TFLite: ")[-1]
                                 [:100]] += 1
                    else:
                        counts["kiln cannot read"] += 1
                    continue
                why = comparer.compare(path, out, inputs, scratch)
                if why.startswith("skip"):
                    counts["LiteRT refuses the original"] += 1
                elif why:
                    counts["MISMATCH"] += 1
                    bad.append((label, why))
                    log(f"MISMATCH {label} ({path.name}): {why}")
                else:
                    counts["converted, LiteRT equal"] += 1
    comparer.close()
    return counts, bad, refusals


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker()
        return 0
    counts, bad, refusals = sweep(sys.argv[1:] or None)
    print("\nwriter refusals:")
    for why, n in refusals.most_common():
        print(f"  {n:5d}  {why}")
    for k, v in sorted(counts.items()):
        print(f"{k}: {v}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
