"""runner.py - runs conformance cases in LiteRT and in kiln and compares them.

For each case (cases.py): the model is built once into the cache directory,
keyed by a hash of the bytes the case describes. Output shapes need not be
written by hand: the first LiteRT run tells them, and the cached model has
them filled in. Inputs come from a generator seeded by the case's id, so a
run is repeatable (KILN_CONFORMANCE_SEED picks another set). LiteRT runs the
model with its builtin kernels (no delegates) and, where an output is
quantized, with its reference kernels too (a quantized output must equal
the reference kernels' and be within 1 of the builtin kernels'; where
LiteRT's two differ by more than 1, the reference kernels decide); `kiln
run` runs it as a child process with the inputs as .npy files.

A case ends in one of these states:
  pass         every output matches
  fail         kiln ran but an output differs (shape, type or values)
  crash        kiln died by a signal, timed out, or its sanitizer reported
  unsupported  kiln refused the model with an error message
  rejected     LiteRT refuses the case (a type or attribute LiteRT does not
               accept): not a conformance item, listed for the record
  error        the suite itself failed on the case (LiteRT crashed ...)

Ops run in forked worker processes, a few at a time; each worker appends
one JSON line per finished case, so a LiteRT crash costs one case (it is
marked `error` and the worker is restarted after it), never the suite.
"""

import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build  # noqa: E402
import cases as case_table  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
FLOAT_TOLERANCE = 1e-5  # max|kiln - ref| / max(max|ref|, TINY)
TINY = 1e-30
KILN_TIMEOUT = float(os.environ.get("KILN_CONFORMANCE_TIMEOUT", "20"))
SEED = int(os.environ.get("KILN_CONFORMANCE_SEED", "0"))

PASS, FAIL, CRASH, UNSUPPORTED, REJECTED, ERROR = (
    "pass", "fail", "crash", "unsupported", "rejected", "error")


def kiln_binary() -> Path:
    value = os.environ.get("KILN_BIN")
    if not value:
        return REPO_ROOT / "build" / "kiln"
    path = Path(value)
    return path.resolve() if path.is_absolute() or path.exists() \
        else REPO_ROOT / path


def scratch_dir() -> Optional[str]:
    """Where the per-case files go: memory (/dev/shm) where there is one,
    since making and removing files on a disk costs more than a case."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def cache_dir() -> Path:
    value = os.environ.get("KILN_CONFORMANCE_DIR")
    path = Path(value) if value else REPO_ROOT / "build" / "conformance-models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclasses.dataclass
class Result:
    op: str
    types: str
    attrs: str
    status: str
    message: str = ""
    max_error: Optional[float] = None
    optional: bool = False  # the case's optional flag (cases.py)

    @property
    def case_id(self) -> str:
        return f"{self.op} [{self.types}] {self.attrs}"


# ------------------------------------------------------------ LiteRT side


class Rejected(Exception):
    """LiteRT refused the model (construction, allocation or invoke)."""


def _litert():
    from ai_edge_litert import interpreter
    return interpreter


def run_litert(model: bytes, inputs: List[np.ndarray], reference: bool):
    """Outputs (arrays) and their details from one LiteRT run."""
    lite = _litert()
    kind = (lite.OpResolverType.BUILTIN_REF if reference else
            lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    try:
        it = lite.Interpreter(model_content=model,
                              experimental_op_resolver_type=kind)
        details = it.get_input_details()
        for d, x in zip(details, inputs):
            if tuple(d["shape"]) != x.shape:
                it.resize_tensor_input(d["index"], list(x.shape))
        it.allocate_tensors()
        for d, x in zip(details, inputs):
            it.set_tensor(d["index"], x)
        it.invoke()
        outs = it.get_output_details()
        return [_get_output(it, d) for d in outs], outs
    except Exception as e:  # LiteRT raises RuntimeError/ValueError
        raise Rejected(" ".join(str(e).split())[:300]) from None


def _get_output(it, detail) -> np.ndarray:
    try:
        return np.array(it.get_tensor(detail["index"]))
    except ValueError:
        # An empty output that was resized at invoke has no data, and
        # LiteRT's Python wrapper refuses to read it.
        shape = [int(d) for d in detail["shape"]]  # read after invoke
        if 0 in shape:
            return np.zeros(shape, detail["dtype"])
        raise


def _with_output_shapes(case, shapes) -> bytes:
    graph = case.graphs[0]
    for index, shape in zip(graph.outputs, shapes):
        graph.tensors[index].shape = [int(d) for d in shape]
    return build.build_model(case.graphs)


def converted_path(case) -> Path:
    """Where a converter-made case's model is cached: keyed by the case
    and the TensorFlow the converter came with."""
    key = hashlib.sha256(f"{case.case_id}|{case.convert_key}".encode())
    return cache_dir() / f"converted-{key.hexdigest()[:20]}.tflite"


def start_converting(ops: List[str]):
    """Starts converting the converter-made cases of `ops` not cached yet
    in a child process (TensorFlow is slow to import, and must not be
    loaded where workers fork); returns (process or None, the ops that
    must wait for it)."""
    todo = sorted({op for op in ops for c in case_table.cases_for(op)
                   if c.convert and not converted_path(c).exists()})
    if not todo:
        return None, set()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, __file__, "--convert"] + todo,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    return proc, set(todo)


def _convert(ops: List[str]) -> None:
    for op in ops:
        for c in case_table.cases_for(op):
            path = converted_path(c)
            if not c.convert or path.exists():
                continue
            try:
                data = c.convert()
            except Exception as e:  # noted beside the model it lacks
                path.with_suffix(".error").write_text(
                    f"{type(e).__name__}: {e}"[:500])
                continue
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)


def cached_model(case, inputs) -> Path:
    """The case's model file, built (with LiteRT's output shapes filled
    in) on first use."""
    if case.convert:
        path = converted_path(case)
        if not path.exists():
            error = path.with_suffix(".error")
            raise RuntimeError("the converter failed: " + (
                error.read_text() if error.exists() else "no model"))
        return path
    data = build.build_model(case.graphs)
    path = cache_dir() / f"{build.model_key(data)}.tflite"
    if not path.exists():
        outputs, _ = run_litert(data, inputs, reference=False)
        data = _with_output_shapes(case, [o.shape for o in outputs])
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


# -------------------------------------------------------------- kiln side


def run_kiln(model: Path, inputs: List[np.ndarray], input_names: List[str],
             output_names: List[str], workdir: Path):
    """(status, message, outputs): status is None when kiln ran."""
    args = [str(kiln_binary()), "run", str(model), "--top", "0"]
    for k, (name, x) in enumerate(zip(input_names, inputs)):
        path = workdir / f"input{k}.npy"
        if x.dtype == object:  # STRING tensors: fixed-width bytes in .npy
            x = x.astype(np.bytes_)
        np.save(path, x, allow_pickle=False)
        args += ["--input", f"{name}={path}"]
    out_dir = workdir / "out"
    args += ["--output", str(out_dir)]
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              errors="replace", timeout=KILN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return CRASH, f"kiln timed out after {KILN_TIMEOUT:g} s", None
    stderr = proc.stderr.strip()
    if "Sanitizer" in stderr or "runtime error:" in stderr:
        return CRASH, "sanitizer: " + _first_line(stderr, "ERROR"), None
    if proc.returncode < 0:
        return CRASH, f"kiln killed by signal {-proc.returncode}", None
    if proc.returncode != 0:
        message = _first_line(stderr, "error") or f"exit {proc.returncode}"
        message = message.replace(f"kiln: error: {model}: ", "")
        message = message.replace(str(model), "MODEL")
        return UNSUPPORTED, message, None
    outputs = []
    for name in output_names:
        path = out_dir / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npy")
        if not path.exists():
            return FAIL, f"kiln wrote no {path.name}", None
        try:
            outputs.append(np.load(path, allow_pickle=False))
        except Exception as e:
            return FAIL, f"{path.name} unreadable: {e}", None
    return None, "", outputs


def _tensor_names(model: bytes):
    """The input and output tensor names of a model, in order (kiln
    names a model's inputs and outputs so when it has no signature)."""
    it = _litert().Interpreter(model_content=model)
    return ([d["name"] for d in it.get_input_details()],
            [d["name"] for d in it.get_output_details()])


def _op_names(model: bytes) -> List[str]:
    it = _litert().Interpreter(model_content=model)
    return sorted({d["op_name"] for d in it._get_ops_details()})


def _spec_index(spec_names, tensor_name: str) -> int:
    """Which spec a converter's input tensor is ("x", "serving_x:0" ...)"""
    for k, name in enumerate(spec_names):
        if re.search(rf"(^|_){re.escape(name)}(:\d+)?$", tensor_name):
            return k
    raise RuntimeError(f"input {tensor_name} matches none of {spec_names}")


def _first_line(text: str, keyword: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if keyword in line:
            return line[:300]
    return lines[0][:300] if lines else ""


# -------------------------------------------------------------- comparing


def _is_quantized(detail) -> bool:
    scale, _ = detail.get("quantization", (0.0, 0))
    return scale != 0.0 and np.issubdtype(detail["dtype"], np.integer)


def compare(k: int, got: np.ndarray, want: np.ndarray, detail,
            want_ref: Optional[np.ndarray]):
    """(ok, message, error) for output k."""
    if want.dtype == object or want.dtype.kind == "S":  # STRING tensors
        if got.dtype.kind not in "SO":
            return False, f"out{k}: kiln type {got.dtype}, LiteRT string", \
                None
        same = got.shape == want.shape and [bytes(v) for v in got.ravel()] \
            == [bytes(v) for v in want.ravel()]
        return same, "" if same else f"out{k}: strings differ", None
    if got.dtype != want.dtype:
        return False, f"out{k}: kiln type {got.dtype}, LiteRT {want.dtype}", \
            None
    if got.shape != want.shape:
        return False, f"out{k}: kiln shape {list(got.shape)}, LiteRT " \
            f"{list(want.shape)}", None
    if want.size == 0:
        return True, "", 0.0
    if want.dtype.kind in "fc":
        g, w = got.astype(np.complex128), want.astype(np.complex128)
        bad_nan = np.isnan(g) != np.isnan(w)
        if bad_nan.any():
            return False, f"out{k}: NaN where LiteRT has a number (or the " \
                f"reverse) at {int(np.argmax(bad_nan.ravel()))}", None
        finite = np.isfinite(w) & ~np.isnan(w)
        if (g[~finite & ~np.isnan(w)] != w[~finite & ~np.isnan(w)]).any():
            return False, f"out{k}: infinities differ", None
        diff = np.abs(g[finite] - w[finite])
        scale = max(float(np.abs(w[finite]).max(initial=0.0)), TINY)
        error = float(diff.max(initial=0.0)) / scale
        if error > FLOAT_TOLERANCE:
            at = int(np.argmax(np.where(finite, np.abs(g - w), 0)))
            return False, f"out{k}: relative error {error:.3g} > " \
                f"{FLOAT_TOLERANCE:g} (at flat index {at}: kiln " \
                f"{got.ravel()[at].item()!r}, LiteRT " \
                f"{want.ravel()[at].item()!r})", error
        return True, "", error
    if _is_quantized(detail):
        diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
        error = float(diff.max())
        # Where LiteRT's own two kernels differ by more than 1, no answer
        # can meet both rules: the reference kernels decide alone.
        split = 0 if want_ref is None else int(np.abs(
            want.astype(np.int64) - want_ref.astype(np.int64)).max())
        note = f" (LiteRT's builtin and reference kernels differ by up " \
            f"to {split} here)" if split > 1 else ""
        if error > 1 and split <= 1:
            return False, f"out{k}: quantized values differ by up to " \
                f"{error:g} from LiteRT's builtin kernels", error
        if want_ref is not None and not np.array_equal(got, want_ref):
            d = np.abs(got.astype(np.int64) - want_ref.astype(np.int64))
            return False, f"out{k}: {int((d != 0).sum())} of {d.size} " \
                f"quantized values differ (up to {int(d.max())}) from " \
                f"LiteRT's reference kernels{note}", float(d.max())
        return True, "", error
    if not np.array_equal(got, want):
        diff = np.flatnonzero(got.ravel() != want.ravel())
        at = int(diff[0])
        return False, f"out{k}: {diff.size} of {want.size} values differ " \
            f"(first at flat index {at}: kiln {got.ravel()[at].item()!r}, " \
            f"LiteRT {want.ravel()[at].item()!r})", None
    return True, "", 0.0


# --------------------------------------------------------------- one case


def case_rng(case) -> np.random.Generator:
    digest = hashlib.sha256(f"{SEED}|{case.case_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def run_case(case, workdir: Path) -> Result:
    def result(status, message="", error=None):
        return Result(case.op, case.types, case.attrs, status, message,
                      error, case.optional)
    rng = case_rng(case)
    inputs = [feed(rng) for feed in case.feeds]
    try:
        model = cached_model(case, inputs)
        data = model.read_bytes()
        if case.convert:  # inputs in the model's order, by name
            emitted = _op_names(data)
            if case.op not in emitted:
                return result(ERROR, f"the converter emitted no {case.op} "
                              f"(only {', '.join(emitted)})")
            names, outputs = _tensor_names(data)
            inputs = [inputs[_spec_index(case.input_names, n)]
                      for n in names]
        want, details = run_litert(data, inputs, False)
        want_ref = None
        ref_wrong = (case.op, case.types) in case_table.LITERT_REFERENCE_WRONG
        if any(_is_quantized(d) for d in details) and not ref_wrong:
            try:
                want_ref, _ = run_litert(data, inputs, True)
            except Rejected:  # the reference resolver lacks a few ops
                want_ref = None
    except Rejected as e:
        return result(REJECTED, f"LiteRT: {e}")
    if not case.convert:
        names = [case.graphs[0].tensors[i].name
                 for i in case.graphs[0].inputs]
        outputs = [f"out{k}" for k in range(len(want))]
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    status, message, got = run_kiln(model, inputs, names, outputs, workdir)
    if status:
        return result(status, message)
    worst = 0.0
    for k, (g, w, d) in enumerate(zip(got, want, details)):
        ok, message, error = compare(k, g, w, d,
                                     want_ref[k] if want_ref else None)
        if not ok:
            return result(FAIL, message, error)
        worst = max(worst, error or 0.0)
    return result(PASS, "", worst)


# ---------------------------------------------------------- many at once


def _worker(op: str, start: int, log_path: str) -> None:
    """Runs op's cases from index `start`, one JSON line each."""
    cases = case_table.cases_for(op)
    workdir = Path(tempfile.mkdtemp(prefix=f"kiln-conf-{op}-",
                                       dir=scratch_dir()))
    try:
        with open(log_path, "a") as log:
            for index in range(start, len(cases)):
                case = cases[index]
                log.write(json.dumps({"index": index, "started": True}) + "\n")
                log.flush()
                try:
                    r = run_case(case, workdir / "case")
                except Exception as e:  # a bug in the suite: one case
                    r = Result(case.op, case.types, case.attrs, ERROR,
                               f"suite error: {type(e).__name__}: {e}")
                log.write(json.dumps({"index": index,
                                      **dataclasses.asdict(r)}) + "\n")
                log.flush()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _read_log(path: Path):
    done, started = {}, None
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("started"):
                started = entry["index"]
            else:
                index = entry.pop("index")
                done[index] = Result(**entry)
    return done, started


def run_ops(ops: List[str], jobs: Optional[int] = None,
            progress=None) -> Dict[str, List[Result]]:
    """Runs every case of `ops`, `jobs` ops at a time; {op: results}."""
    jobs = jobs or int(os.environ.get("KILN_CONFORMANCE_JOBS", "0")) or \
        os.cpu_count() or 2
    converter, waiting = start_converting(ops)
    context = multiprocessing.get_context("fork")
    logs = Path(tempfile.mkdtemp(prefix="kiln-conf-logs-", dir=scratch_dir()))
    # the ops whose models the converter is making go last
    pending = [op for op in ops if op not in waiting] + \
        [op for op in ops if op in waiting]
    running = {}  # op -> process
    results: Dict[str, List[Result]] = {}
    try:
        while pending or running:
            if converter and converter.poll() is not None:
                converter, waiting = None, set()
            while pending and len(running) < jobs and \
                    pending[0] not in waiting:
                op = pending.pop(0)
                running[op] = _start(context, op, 0, logs)
            time.sleep(0.01)
            for op, proc in list(running.items()):
                if proc.is_alive():
                    continue
                proc.join()
                log = logs / f"{op}.jsonl"
                done, started = _read_log(log)
                total = len(case_table.cases_for(op))
                if proc.exitcode != 0 and started is not None and \
                        started not in done:
                    case = case_table.cases_for(op)[started]
                    with open(log, "a") as f:
                        r = Result(case.op, case.types, case.attrs, ERROR,
                                   f"the runner died (exit {proc.exitcode}) "
                                   f"on this case: LiteRT crashed?")
                        f.write(json.dumps({"index": started,
                                            **dataclasses.asdict(r)}) + "\n")
                    done[started] = r
                if len(done) < total and proc.exitcode != 0 and \
                        started is not None:
                    running[op] = _start(context, op, started + 1, logs)
                    continue
                del running[op]
                results[op] = [done[i] if i in done else
                               Result(op, c.types, c.attrs, ERROR,
                                      "the runner never finished this case")
                               for i, c in
                               enumerate(case_table.cases_for(op))]
                if progress:
                    progress(op, results[op])
    finally:
        for proc in running.values():
            proc.kill()
        if converter:
            converter.kill()
            converter.wait()
        shutil.rmtree(logs, ignore_errors=True)
    return {op: results[op] for op in ops}


def _start(context, op, start, logs):
    proc = context.Process(target=_worker,
                           args=(op, start, str(logs / f"{op}.jsonl")))
    proc.start()
    return proc


# ------------------------------------------------- what LiteRT registers


def litert_registered_ops() -> List[str]:
    """The BuiltinOperators LiteRT's builtin resolver has a kernel for:
    each is tried in a one-operator model at versions 1 to 3; only a
    "Didn't find op" answer at every version means it is absent (an op
    that fails on its empty options is present)."""
    lite = _litert()
    found = []
    codes = {name: code for name, code in
             vars(build.schema.BuiltinOperator).items()
             if not name.startswith("_")}
    for name in sorted(codes, key=codes.get):
        if name in (
                "CUSTOM", "DELEGATE", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
            continue
        for version in (1, 2, 3):
            g = build.Graph()
            a = g.input("float32", [1])
            g.output(g.tensor("float32", [1]))
            g.op(name, [a], [g.outputs[0]], version=version)
            try:
                lite.Interpreter(
                    model_content=build.build_model([g]),
                    experimental_op_resolver_type=lite.OpResolverType
                    .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            except Exception as e:
                if "Didn't find op" in str(e):
                    continue
            found.append(name)
            break
    return found


if __name__ == "__main__":
    if sys.argv[1:2] == ["--convert"]:
        _convert(sys.argv[2:])
