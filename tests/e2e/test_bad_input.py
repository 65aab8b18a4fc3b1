"""`kiln` on broken models and wrong inputs: each case must exit with a
non-zero status (never a signal, never a sanitizer report) within a
timeout, with a message on stderr that states the essential fact (the
operator's name, the input's name, ...). The assertions check key words,
not exact wording."""
import re

import numpy as np
import pytest

import kiln_e2e as K

TIMEOUT = 60
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer", "MemorySanitizer")


def check_failure(result, *words):
    """A clean failure: exit status > 0, no sanitizer report, a message on
    stderr, containing one of `words` (case-insensitive) when given."""
    stderr = result.stderr
    assert result.returncode > 0, (
        f"expected a clean failure, got {K.describe_exit(result)}\n"
        f"stderr:\n{stderr}\nstdout:\n{result.stdout}")
    for mark in SANITIZER_MARKS:
        assert mark not in stderr, f"sanitizer report:\n{stderr}"
    assert stderr.strip(), "no message on stderr"
    if words:
        low = stderr.lower()
        assert any(w.lower() in low for w in words), (
            f"stderr mentions none of {words}:\n{stderr}")
    print(f"exit {result.returncode}: {stderr.strip()}")


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp", "float32")


@pytest.fixture
def features(tmp_path):
    """A valid input for the MLP."""
    path = tmp_path / "features.npy"
    np.save(path, np.random.default_rng().uniform(-1, 1, (1, 16))
            .astype(np.float32))
    return path


def run(kiln_bin, model, inputs, out_dir):
    args = ["run", model]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    args += ["--output", out_dir]
    return K.run_kiln_command(args, timeout=TIMEOUT, kiln_bin=kiln_bin)


def test_valid_mlp_runs(kiln_bin, mlp, features, tmp_path):
    """The baseline the broken cases are made from works."""
    result = run(kiln_bin, mlp, {"features": features}, tmp_path / "out")
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------- broken models

TRUNCATION_WORDS = ("truncat", "past the end", "offset", "out of bounds",
                    "outside", "beyond", "exceed", "too small", "too short",
                    "end of file", "empty")


@pytest.mark.parametrize("command", ["info", "run"])
@pytest.mark.parametrize("cut", ["0", "7", "16", "1/4", "1/2", "3/4",
                                 "-1"])
def test_truncated_model(kiln_bin, mlp, features, tmp_path, command, cut):
    data = mlp.read_bytes()
    if "/" in cut:
        num, den = map(int, cut.split("/"))
        size = len(data) * num // den
    else:
        size = int(cut) if int(cut) >= 0 else len(data) + int(cut)
    model = tmp_path / "truncated.tflite"
    model.write_bytes(data[:size])
    if command == "info":
        result = K.run_kiln_command(["info", model], timeout=TIMEOUT,
                                    kiln_bin=kiln_bin)
    else:
        result = run(kiln_bin, model, {"features": features},
                     tmp_path / "out")
    check_failure(result, *TRUNCATION_WORDS)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("identifier", [False, True])
def test_random_bytes(kiln_bin, tmp_path, seed, identifier):
    """Random bytes, and random bytes behind a valid TFL3 identifier (so
    the flatbuffer reader, not the format sniffing, must reject them)."""
    data = bytearray(np.random.default_rng(seed).bytes(4096))
    if identifier:
        data[0:4] = (16).to_bytes(4, "little")
        data[4:8] = b"TFL3"
    model = tmp_path / "random.tflite"
    model.write_bytes(bytes(data))
    for command in (["info", model],
                    ["run", model, "--output", tmp_path / "out"]):
        check_failure(K.run_kiln_command(command, timeout=TIMEOUT,
                                         kiln_bin=kiln_bin))


@pytest.mark.parametrize("name", sorted(K.BAD_MODELS))
def test_malformed_model(kiln_bin, model_cache, mlp, features, tmp_path,
                         name):
    """Hand-edited MLPs: buffers past the end, overflowing shapes, bad
    indices, unknown and custom operator codes (see kiln_e2e.BAD_MODELS)."""
    model = model_cache.custom(
        f"bad_{name}.tflite",
        lambda: K.make_bad_model(name, mlp.read_bytes()))
    result = run(kiln_bin, model, {"features": features}, tmp_path / "out")
    check_failure(result, *K.BAD_MODELS[name][1])


def test_unsupported_operator(kiln_bin, model_cache, features, tmp_path):
    """A builtin kiln lacks (K.UNSUPPORTED_OP): the message names it and
    its index."""
    model = model_cache.custom("unsupported_builtin.tflite",
                               K.build_unsupported_op_model)
    index = K.operator_index(model, K.UNSUPPORTED_OP)
    assert index >= 11
    result = run(kiln_bin, model, {"features": features}, tmp_path / "out")
    check_failure(result, K.UNSUPPORTED_OP)
    assert re.search(rf"\b{index}\b", result.stderr), (
        f"operator index {index} not in:\n{result.stderr}")


def test_missing_model(kiln_bin, tmp_path):
    result = K.run_kiln_command(["info", tmp_path / "nope.tflite"],
                                timeout=TIMEOUT, kiln_bin=kiln_bin)
    check_failure(result, "nope.tflite")


# ------------------------------------------------------- wrong inputs


@pytest.mark.parametrize("shape,words", [
    ((1, 17), ("17",)),
    ((16,), ("features",)),
    ((1, 4, 4), ("features",)),
])
def test_wrong_input_shape(kiln_bin, mlp, tmp_path, shape, words):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(shape, np.float32))
    result = run(kiln_bin, mlp, {"features": path}, tmp_path / "out")
    check_failure(result, *words)
    assert "features" in result.stderr


@pytest.mark.parametrize("dtype", ["float64", "int32", "float16", "int8"])
def test_wrong_input_dtype(kiln_bin, mlp, tmp_path, dtype):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 16), dtype))
    result = run(kiln_bin, mlp, {"features": path}, tmp_path / "out")
    check_failure(result, dtype, "float32")


def test_float_tokens(kiln_bin, model_cache, tmp_path):
    """float32 given where the model takes int32 token ids."""
    model = model_cache.path("text_classifier", "float32")
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 24), np.float32))
    result = run(kiln_bin, model, {"tokens": path}, tmp_path / "out")
    check_failure(result, "int32", "float32")


@pytest.mark.parametrize("token", [K.TEXT_VOCAB, K.TEXT_VOCAB + 5,
                                   2**31 - 1, -(K.TEXT_VOCAB + 1)])
def test_token_out_of_range(kiln_bin, model_cache, tmp_path, token):
    """GATHER with an index outside the table fails (LiteRT: "gather index
    out of bounds") instead of reading outside the weights."""
    model = model_cache.path("text_classifier", "float32")
    tokens = np.random.default_rng().integers(0, K.TEXT_VOCAB, (1, 24))
    tokens[0, 5] = token
    path = tmp_path / "tokens.npy"
    np.save(path, tokens.astype(np.int32))
    with pytest.raises(Exception):
        K.run_litert(model, {"tokens": tokens.astype(np.int32)})
    result = run(kiln_bin, model, {"tokens": path}, tmp_path / "out")
    check_failure(result, "GATHER", "index", "range", "bounds")


def test_mismatched_batches(kiln_bin, model_cache, tmp_path):
    """Two inputs resized to batches 3 and 5 cannot be concatenated."""
    model = model_cache.path("dynamic_batch", "float32")
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.zeros((3, 16), np.float32))
    np.save(b, np.zeros((5, 8, 8, 3), np.float32))
    result = run(kiln_bin, model, {"features": a, "patch": b},
                 tmp_path / "out")
    check_failure(result)


def test_unknown_input_name(kiln_bin, mlp, features, tmp_path):
    result = run(kiln_bin, mlp, {"nosuchinput": features}, tmp_path / "out")
    check_failure(result, "nosuchinput")


def test_missing_npy(kiln_bin, mlp, tmp_path):
    result = run(kiln_bin, mlp, {"features": tmp_path / "absent.npy"},
                 tmp_path / "out")
    check_failure(result, "absent.npy")


@pytest.mark.parametrize("content", ["garbage", "truncated", "big_endian"])
def test_bad_npy(kiln_bin, mlp, tmp_path, content):
    path = tmp_path / "bad.npy"
    if content == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(300))
    elif content == "truncated":
        np.save(path, np.zeros((1, 16), np.float32))
        path.write_bytes(path.read_bytes()[:-9])
    else:
        np.save(path, np.zeros((1, 16), ">f4"))
    result = run(kiln_bin, mlp, {"features": path}, tmp_path / "out")
    check_failure(result, "bad.npy")


def _quant_edit(kind):
    """Edits of the int8 quant_core's first CONV_2D (after QUANTIZE): a zero
    or infinite weight scale, a zero point out of int8's range, a
    per-channel scale list one short of the output channels."""
    def edit(model):
        graph = model.subgraphs[0]
        conv = graph.operators[1]
        q = graph.tensors[conv.inputs[1]].quantization
        # the object API hands out read-only numpy views: replace them
        if kind == "zero_scale":
            q.scale = np.concatenate([[0.0], q.scale[1:]]).astype(np.float32)
        elif kind == "inf_scale":
            q.scale = np.concatenate([[np.inf], q.scale[1:]]).astype(
                np.float32)
        elif kind == "zero_point":
            graph.tensors[conv.inputs[0]].quantization.zeroPoint = np.array(
                [200], np.int64)
        elif kind == "short_scales":
            q.scale = q.scale[:-1]
            q.zeroPoint = q.zeroPoint[:-1]
    return edit


@pytest.mark.parametrize("kind,words", [
    ("zero_scale", ("quantization scale 0 is 0",)),
    ("inf_scale", ("quantization scale 0 is inf",)),
    ("zero_point", ("zero point 0 is 200, outside int8",)),
    ("short_scales", ("per-axis quantization needs",)),
])
def test_bad_quantization(kiln_bin, model_cache, tmp_path, kind, words):
    """Broken quantization parameters fail at load naming the tensor."""
    valid = model_cache.path("quant_core", "int8").read_bytes()
    bad = tmp_path / f"{kind}.tflite"
    bad.write_bytes(K._rewrite(valid, _quant_edit(kind)))
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((1, 12, 12, 3), np.float32))
    result = run(kiln_bin, bad, {"image": image}, tmp_path / "out")
    check_failure(result, *words)
    assert "tensor" in result.stderr, result.stderr
