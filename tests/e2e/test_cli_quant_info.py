"""`kiln info` shows each tensor's quantization, and `kiln profile` marks
int8 kernels: the parameters printed are checked against what LiteRT reads
from the same file (tensor by tensor, per-channel scales included), the
profile's types column against the model's tensor types."""
import json
import re
from pathlib import Path

import pytest

import kiln_e2e as K

TIMEOUT = 120
DATA = Path(__file__).resolve().parents[1] / "data"
INT8_CNN = DATA / "quantized_cnn_int8.tflite"
FLOAT_CNN = DATA / "dynamic_batch_cnn.tflite"
HYBRID_CNN = DATA / "quantized_cnn_dynamic.tflite"

# "  scale 0.00783774 zero_point 0" or
# "  per-channel(16) axis 3, scale 0.00109466..0.00155233, zero_point 0"
PER_TENSOR = re.compile(r"scale (\S+) zero_point (-?\d+)$")
PER_CHANNEL = re.compile(r"per-channel\((\d+)\) axis (\d+), scale (\S+)\.\.(\S+),"
                         r" zero_point (-?\d+)(?:\.\.(-?\d+))?$")
# --tensors: index, name, type, shape, "const" for constants, quantization
TENSOR_ROW = re.compile(r"^\s+(\d+)  (\S+)\s+([a-z0-9]+)\s+(\[[-\d,]*\])"
                        r"(  const)?(.*)$")
# profile: step, op, kernel, types, output shape, median us, share, GFLOP/s
PROFILE_ROW = re.compile(r"^\s+(\d+)\s+([A-Z0-9_]+)\s+(\S+)\s+([a-z0-9>,:-]+)\s+"
                         r"(\[[-\d,]*\])\s+([\d.]+)\s+([\d.]+)%\s+(\S+)\s*$")


def kiln(kiln_bin, *args):
    result = K.run_kiln_command(list(args), timeout=TIMEOUT,
                                kiln_bin=kiln_bin)
    return result


def check_ok(result):
    assert result.returncode == 0, (
        f"{K.describe_exit(result)}\nstderr:\n{result.stderr}")
    assert "Sanitizer" not in result.stderr, result.stderr
    return result.stdout


def litert_tensors(path: Path):
    from ai_edge_litert.interpreter import Interpreter
    return {t["name"]: t for t in
            Interpreter(model_path=str(path)).get_tensor_details()}


def constant_names(path: Path):
    model = K.load_model_object(path)
    graph = model.subgraphs[0]
    return {t.name.decode() for t in graph.tensors
            if model.buffers[t.buffer].data is not None
            and len(model.buffers[t.buffer].data) > 0}


def check_quant_text(text: str, litert_tensor) -> None:
    """The quantization kiln printed equals the file's, as LiteRT reads it."""
    q = litert_tensor["quantization_parameters"]
    scales, zero_points = q["scales"], q["zero_points"]
    text = text.strip()
    if len(scales) == 0:
        assert "scale" not in text, (litert_tensor["name"], text)
    elif len(scales) == 1:
        m = PER_TENSOR.search(text)
        assert m, (litert_tensor["name"], text)
        assert float(m[1]) == pytest.approx(scales[0], rel=1e-5)
        assert int(m[2]) == zero_points[0]
    else:
        m = PER_CHANNEL.search(text)
        assert m, (litert_tensor["name"], text)
        assert int(m[1]) == len(scales)
        assert int(m[2]) == q["quantized_dimension"]
        assert float(m[3]) == pytest.approx(scales.min(), rel=1e-5)
        assert float(m[4]) == pytest.approx(scales.max(), rel=1e-5)
        assert int(m[5]) == zero_points.min()
        assert int(m[6] if m[6] else m[5]) == zero_points.max()


def io_lines(stdout: str, section: str):
    """The tensor lines under "inputs: N" or "outputs: N"."""
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(section))
    count = int(lines[start].split(":")[1])
    return lines[start + 1:start + 1 + count]


def test_info_inputs_outputs_show_quantization(kiln_bin):
    stdout = check_ok(kiln(kiln_bin, "info", INT8_CNN))
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=str(INT8_CNN))
    for section, details in (("inputs:", interp.get_input_details()),
                             ("outputs:", interp.get_output_details())):
        lines = io_lines(stdout, section)
        assert len(lines) == len(details), stdout
        for line, detail in zip(lines, details):
            assert " int8 " in line, line
            check_quant_text(line.split("]", 1)[1], detail)


def test_info_tensors_lists_every_tensor_with_its_quantization(kiln_bin):
    stdout = check_ok(kiln(kiln_bin, "info", INT8_CNN, "--tensors"))
    expected = litert_tensors(INT8_CNN)
    constants = constant_names(INT8_CNN)
    assert constants, "the fixture has weights"
    rows = [m for m in map(TENSOR_ROW.match, stdout.splitlines()) if m]
    # Every tensor of the file shows, but for those a load-time pass
    # folded away (none today), which are counted.
    names = [m[2] for m in rows]
    assert len(set(names)) == len(names) and set(names) <= set(expected)
    folded = re.search(r"(\d+) more were folded away", stdout)
    assert len(names) + (int(folded[1]) if folded else 0) == len(expected)
    per_channel = quantized = 0
    for m in rows:
        t = expected[m[2]]
        assert m[3] == t["dtype"].__name__, (m[0], t["dtype"])
        assert m[4] == "[" + ",".join(map(str, t["shape"])) + "]", m[0]
        check_quant_text(m[6], t)
        count = len(t["quantization_parameters"]["scales"])
        quantized += count > 0
        per_channel += count > 1
        # Constants (weights, biases, the reshape's shape) are the
        # tensors whose buffer in the file holds data.
        assert bool(m[5]) == (m[2] in constants), m[0]
    assert per_channel >= 3, "the fixture has per-channel weights"
    assert f"tensors listed: {len(rows)} ({quantized} quantized)" in stdout
    summary = re.search(r"quantization: (\d+) of (\d+) tensors \((.*); "
                        r"(\d+) per-channel\)", stdout)
    assert summary, stdout
    assert (int(summary[1]), int(summary[2]), int(summary[4])) == (
        quantized, len(rows), per_channel)
    assert "int8 " in summary[3] and "int32 " in summary[3], summary[0]


def test_info_float_model_has_no_quantization(kiln_bin):
    stdout = check_ok(kiln(kiln_bin, "info", FLOAT_CNN, "--tensors"))
    assert re.search(r"quantization: none \(\d+ tensors\)", stdout), stdout
    rows = [m for m in map(TENSOR_ROW.match, stdout.splitlines()) if m]
    assert rows and all(m[3] == "float32" or m[3] == "int32" for m in rows)
    assert not any("scale" in m[6] for m in rows), stdout


def profile_rows(kiln_bin, model, *extra):
    stdout = check_ok(kiln(kiln_bin, "profile", model, "--runs", "2",
                           *extra))
    head = stdout.partition("by operator:")[0]
    rows = [m for m in map(PROFILE_ROW.match, head.splitlines()) if m]
    stated = int(re.search(r"(\d+) kernels", stdout)[1])
    assert len(rows) == stated, stdout
    return rows


def test_profile_marks_int8_kernels(kiln_bin, tmp_path):
    trace = tmp_path / "trace.json"
    rows = profile_rows(kiln_bin, INT8_CNN, "--trace", trace)
    ops = {m[2] for m in rows}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= ops, ops
    for m in rows:
        assert m[4] == "int8", m[0]
        # "ref" for the reference kernels, else the variant's own name.
        assert m[3] and m[3] != "?", m[0]
    events = json.loads(trace.read_text())["traceEvents"]
    assert [e["args"]["types"] for e in events] == ["int8"] * len(events)


def test_profile_types_of_float_model(kiln_bin):
    for m in profile_rows(kiln_bin, FLOAT_CNN):
        assert m[4] == "float32", m[0]


def test_profile_marks_hybrid_kernels(kiln_bin):
    """Dynamic-range quantization: float activations, int8 weights. The
    operators whose weights the file stores in int8 say so."""
    model = K.load_model_object(HYBRID_CNN)
    graph = model.subgraphs[0]
    names = K._builtin_names()
    int8_weights = set()
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        weights = [graph.tensors[i] for i in op.inputs
                   if i >= 0 and len(graph.tensors[i].shape) >= 2
                   and model.buffers[graph.tensors[i].buffer].data is not None]
        if weights and weights[0].type == 9:  # TensorType INT8
            int8_weights.add(names[max(code.builtinCode,
                                       code.deprecatedBuiltinCode)])
    assert int8_weights, "the fixture has int8 weights"
    for m in profile_rows(kiln_bin, HYBRID_CNN):
        expected = "float32,w:int8" if m[2] in int8_weights else "float32"
        assert m[4] == expected, m[0]


def test_profile_shows_quantize_and_dequantize_types(kiln_bin, model_cache):
    """A TF-quantized model with float inputs and outputs: QUANTIZE turns
    float32 into int8 at the start, DEQUANTIZE back at the end."""
    path = model_cache.path("quant_core", "int8")
    histogram = K.op_histogram(path)
    rows = profile_rows(kiln_bin, path)
    types = {m[2]: m[4] for m in rows}
    if histogram["QUANTIZE"]:
        assert types["QUANTIZE"] == "float32->int8", types
    if histogram["DEQUANTIZE"]:
        assert types["DEQUANTIZE"] == "int8->float32", types
    assert histogram["QUANTIZE"] or histogram["DEQUANTIZE"], histogram
    inner = [m for m in rows if m[2] not in ("QUANTIZE", "DEQUANTIZE")]
    assert inner and all(m[4].startswith("int8") for m in inner), types


@pytest.mark.parametrize("args", [["info", "--tensors"],
                                  ["info", str(INT8_CNN), "--tensor"]])
def test_info_misuse(kiln_bin, args):
    result = kiln(kiln_bin, *args)
    assert result.returncode == 2, K.describe_exit(result)
    assert result.stderr.strip()


def test_info_tensors_leaves_out_folded_tensors(kiln_bin, model_cache):
    """The float16 model's DEQUANTIZE operators are computed once at load:
    their float16 inputs are no longer used and are not listed, and the
    count of them left out is stated."""
    path = model_cache.path("cnn", "float16")
    dequantizes = K.op_histogram(path)["DEQUANTIZE"]
    assert dequantizes > 0, K.op_histogram(path)
    stdout = check_ok(kiln(kiln_bin, "info", path, "--tensors"))
    rows = [m for m in map(TENSOR_ROW.match, stdout.splitlines()) if m]
    indices = [int(m[1]) for m in rows]
    assert rows and indices == sorted(set(indices)), stdout
    assert not any(m[3] == "float16" for m in rows), stdout
    total = len(K.load_model_object(path).subgraphs[0].tensors)
    assert len(rows) == total - dequantizes, stdout
    assert (f"tensors listed: {len(rows)} (0 quantized); {dequantizes} more "
            "were folded away") in stdout, stdout
