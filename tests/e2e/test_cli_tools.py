"""`kiln bench` and `kiln profile`: the output is well formed and its
numbers are consistent (p50 <= p99, shares, event counts); misuse exits 2.
No timing is asserted beyond being positive: these run on shared machines
and under sanitizers."""
import json
import re

import pytest

import kiln_e2e as K

TIMEOUT = 120
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")
BENCH_KEYS = ("model", "threads", "batch", "isa", "load_ms",
              "first_invoke_ms", "latency_ms", "throughput_per_s",
              "peak_rss_bytes", "arena_bytes", "flops", "gflops_per_s",
              "runs")
LATENCY_KEYS = ("p50", "p90", "p99", "mean", "min")


def kiln(kiln_bin, *args):
    return K.run_kiln_command(list(args), timeout=TIMEOUT, kiln_bin=kiln_bin)


def check_ok(result):
    assert result.returncode == 0, (
        f"{K.describe_exit(result)}\nstderr:\n{result.stderr}")
    for mark in SANITIZER_MARKS:
        assert mark not in result.stderr, result.stderr


def check_fails(result, code):
    assert result.returncode == code, (
        f"expected exit {code}, got {K.describe_exit(result)}\n"
        f"stderr:\n{result.stderr}")
    assert result.stderr.strip(), "no message on stderr"
    for mark in SANITIZER_MARKS:
        assert mark not in result.stderr, result.stderr


def bench_json(kiln_bin, model, *args):
    result = kiln(kiln_bin, "bench", model, "--json", "--warmup", "1",
                  "--runs", "5", *args)
    check_ok(result)
    return json.loads(result.stdout)


def kernels_per_run(kiln_bin, model, profile_stdout):
    """Kernels per invoke as `kiln profile` states it, cross-checked with
    `kiln info` when that prints the count."""
    stated = int(re.search(r"(\d+) kernels", profile_stdout).group(1))
    result = kiln(kiln_bin, "info", model)
    check_ok(result)
    match = re.search(r"kernels per run: (\d+)", result.stdout)
    if match:
        assert int(match.group(1)) == stated, result.stdout
    return stated


@pytest.fixture(scope="module")
def cnn(model_cache):
    return model_cache.path("cnn", "float32")


@pytest.fixture(scope="module")
def fixed_batch_mlp(model_cache):
    """The MLP with every shape signature dropped: its batch is fixed at 1."""
    def make():
        model = K.load_model_object(model_cache.path("mlp", "float32"))
        for subgraph in model.subgraphs:
            for tensor in subgraph.tensors:
                tensor.shapeSignature = None
        return K.pack_model_object(model)
    return model_cache.custom("fixed_batch_mlp.float32.tflite", make)


# ---------------------------------------------------------------- bench


def test_bench_json(kiln_bin, cnn):
    report = bench_json(kiln_bin, cnn)
    for key in BENCH_KEYS:
        assert key in report, f"no {key!r} in {report}"
    latency = report["latency_ms"]
    for key in LATENCY_KEYS:
        assert latency[key] > 0, latency
    assert latency["min"] <= latency["p50"] <= latency["p90"] \
        <= latency["p99"], latency
    assert latency["min"] <= latency["mean"], latency
    assert report["model"] == str(cnn)
    assert report["runs"] == 5 and report["batch"] == 1
    assert report["threads"] >= 1
    assert report["isa"] in ("portable", "avx2", "avx512", "avx512vnni")
    assert report["load_ms"] > 0 and report["first_invoke_ms"] > 0
    assert report["throughput_per_s"] > 0
    assert report["arena_bytes"] > 0
    assert report["flops"] > 0 and report["gflops_per_s"] > 0
    assert report["peak_rss_bytes"] > 0


def test_bench_table(kiln_bin, cnn):
    result = kiln(kiln_bin, "bench", cnn, "--warmup", "0", "--runs", "3")
    check_ok(result)
    for word in ("latency p50", "latency p99", "throughput", "first invoke",
                 "peak RSS", "arena", "GFLOP/s"):
        assert word in result.stdout, result.stdout


def test_bench_options(kiln_bin, cnn):
    report = bench_json(kiln_bin, cnn, "--threads", "1", "--isa", "portable")
    assert report["threads"] == 1
    assert report["isa"] == "portable"


def test_bench_restores_inputs(kiln_bin, model_cache):
    """Token ids feed a GATHER; an invoke may reuse input memory for later
    tensors, so every run must get its inputs again or the ids go out of
    range on the second run."""
    model = model_cache.path("text_classifier", "float32")
    assert bench_json(kiln_bin, model)["runs"] == 5
    check_ok(kiln(kiln_bin, "profile", model, "--runs", "3"))


def test_bench_batch_on_dynamic_model(kiln_bin, model_cache):
    model = model_cache.path("dynamic_batch", "float32")
    one = bench_json(kiln_bin, model)
    four = bench_json(kiln_bin, model, "--batch", "4")
    assert one["batch"] == 1 and four["batch"] == 4
    assert four["flops"] > one["flops"]
    assert four["arena_bytes"] >= one["arena_bytes"]


def test_bench_batch_on_fixed_model(kiln_bin, fixed_batch_mlp):
    info = kiln(kiln_bin, "info", fixed_batch_mlp)
    check_ok(info)
    assert "[1,16]" in info.stdout, info.stdout  # the rewrite took
    assert bench_json(kiln_bin, fixed_batch_mlp, "--batch", "1")["batch"] == 1
    result = kiln(kiln_bin, "bench", fixed_batch_mlp, "--batch", "4")
    check_fails(result, 1)
    assert "fixed" in result.stderr and "features" in result.stderr


def test_bench_missing_model(kiln_bin, tmp_path):
    result = kiln(kiln_bin, "bench", tmp_path / "nope.tflite")
    check_fails(result, 1)
    assert "nope.tflite" in result.stderr


def test_bench_peak(kiln_bin):
    result = kiln(kiln_bin, "bench", "--peak", "--threads", "1", "--json")
    if result.returncode == 1 and "neither" in result.stderr:
        pytest.skip("this CPU has no AVX2+FMA or AVX-512")
    check_ok(result)
    report = json.loads(result.stdout)
    assert report["isa"] in ("avx2", "avx512", "avx512vnni")
    assert report["threads"] == 1
    assert report["gflops_per_s"] > 0
    assert report["gflops_per_s_per_thread"] == pytest.approx(
        report["gflops_per_s"])


# -------------------------------------------------------------- profile

# step, op, kernel, types, output shape, median us, share, GFLOP/s
ROW = re.compile(r"^\s+(\d+)\s+([A-Z0-9_]+)\s+(\S+)\s+[a-z0-9>,:-]+\s+"
                 r"(\[[-\d,]*\])\s+([\d.]+)\s+([\d.]+)%\s+(\S+)\s*$")


def test_profile_table_and_trace(kiln_bin, cnn, tmp_path):
    trace = tmp_path / "trace.json"
    result = kiln(kiln_bin, "profile", cnn, "--runs", "3", "--trace", trace)
    check_ok(result)
    kernels = kernels_per_run(kiln_bin, cnn, result.stdout)
    head, _, rest = result.stdout.partition("by operator:")
    assert rest, result.stdout
    rows = [ROW.match(line) for line in head.splitlines()]
    rows = [row for row in rows if row]
    assert len(rows) == kernels, result.stdout
    assert sorted(int(row.group(1)) for row in rows) == list(range(kernels))
    times = [float(row.group(5)) for row in rows]
    assert times == sorted(times, reverse=True), "not slowest first"
    assert sum(float(row.group(6)) for row in rows) == pytest.approx(
        100.0, abs=0.5 + 0.05 * kernels)
    assert "CONV_2D" in rest and "total:" in rest

    events = json.loads(trace.read_text())["traceEvents"]
    assert len(events) == kernels
    for event in events:
        assert event["ph"] == "X", event
        assert event["dur"] >= 0 and event["ts"] >= 0, event
        assert event["name"] in {row.group(2) for row in rows}, event
        for key in ("kernel", "shape", "flops"):
            assert key in event["args"], event
    starts = [event["ts"] for event in events]
    assert starts == sorted(starts), "events out of step order"


def test_profile_batch(kiln_bin, model_cache):
    model = model_cache.path("dynamic_batch", "float32")
    result = kiln(kiln_bin, "profile", model, "--batch", "3", "--runs", "2")
    check_ok(result)
    assert "batch 3" in result.stdout, result.stdout


def test_profile_unwritable_trace(kiln_bin, cnn, tmp_path):
    result = kiln(kiln_bin, "profile", cnn, "--runs", "1", "--trace",
                  tmp_path / "no" / "such" / "dir.json")
    check_fails(result, 1)


# ---------------------------------------------------------- misuse, help


@pytest.mark.parametrize("command", ["bench", "profile"])
def test_help(kiln_bin, command):
    result = kiln(kiln_bin, command, "--help")
    check_ok(result)
    assert result.stdout.startswith(f"usage: kiln {command}")


BAD_ARGS = [
    ["bench"],
    ["bench", "MODEL", "--runs", "0"],
    ["bench", "MODEL", "--runs", "many"],
    ["bench", "MODEL", "--batch", "0"],
    ["bench", "MODEL", "--threads"],
    ["bench", "MODEL", "--isa", "sse2"],
    ["bench", "MODEL", "--bogus"],
    ["bench", "MODEL", "MODEL"],
    ["bench", "--peak", "MODEL"],
    ["bench", "--peak", "--runs", "3"],
    ["bench", "--peak", "--isa", "portable"],
    ["profile"],
    ["profile", "MODEL", "--trace"],
    ["profile", "MODEL", "--runs", "-2"],
    ["profile", "MODEL", "--json"],
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=" ".join)
def test_bad_arguments(kiln_bin, cnn, args):
    args = [str(cnn) if a == "MODEL" else a for a in args]
    result = kiln(kiln_bin, *args)
    check_fails(result, 2)
    assert f"kiln {args[0]}" in result.stderr, result.stderr
