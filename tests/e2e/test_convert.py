"""`kiln convert` writes .tflite files that LiteRT runs like the originals.

Every Keras model of kiln_e2e.MODELS, in float32, float16-weight and the
quantized variants (dynamic range, full int8 with float or int8 I/O, 16x8),
is read by kiln and written back with kiln's writer; LiteRT then runs the
original and the written file on the same fresh random inputs: integer
outputs must be equal, float ones bit-equal up to 1e-6 relative (both files
hold the same bytes for the same kernels). The operators and the signature
must be unchanged too.

With $KILN_CONFORMANCE_DIR set, the conformance cases' models of the
operators the int8 work touches go through convert_sweep.py as well: each
either converts and matches LiteRT, or is refused with a message.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_sweep  # noqa: E402

ALL_VARIANTS = K.VARIANTS + K.QUANT_VARIANTS


def params():
    out = []
    for spec in K.MODELS.values():
        marks = [pytest.mark.heavy] if spec.heavy else []
        for variant in ALL_VARIANTS:
            out.append(pytest.param(spec.name, variant, marks=marks,
                                    id=f"{spec.name}-{variant}"))
    return out


def convert(kiln_bin, path: Path, out: Path) -> str:
    result = K.run_kiln_command(["convert", path, "-o", out],
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, K.describe_exit(result)
    return result.stdout


def check_same(got: dict, want: dict, what: str) -> None:
    assert set(got) == set(want), what
    for name in want:
        why = convert_sweep.same(np.asarray(want[name]), np.asarray(got[name]))
        assert not why, f"{what}: output {name}: {why}"


@pytest.mark.parametrize("name,variant", params())
def test_convert_matches_litert(model_cache, kiln_bin, tmp_path, name,
                                variant):
    spec = K.MODELS[name]
    try:
        path = model_cache.path(name, variant)
    except K.ConversionError as e:
        pytest.skip(f"TensorFlow cannot make this variant: {e}")
    out = tmp_path / f"{name}.{variant}.kiln.tflite"
    print(convert(kiln_bin, path, out).strip())
    assert K.op_histogram(out) == K.op_histogram(path)
    ins, outs = K.signature(path)
    ins2, outs2 = K.signature(out)
    assert [(s.name, s.shape, s.dtype) for s in ins] == \
        [(s.name, s.shape, s.dtype) for s in ins2]
    assert [(s.name, s.shape, s.dtype) for s in outs] == \
        [(s.name, s.shape, s.dtype) for s in outs2]
    assert K.output_quantization(out) == K.output_quantization(path)
    rng, seed = K.make_rng()
    print(f"input seed {seed} (replay with KILN_E2E_SEED={seed})")
    for batch in spec.batches:
        feed = K.make_inputs(spec, ins, batch, rng)
        # LiteRT's builtin kernels, and its default (XNNPACK) delegate,
        # which picks the operators it takes by their options and versions
        for resolver in (None, "BUILTIN"):
            check_same(K.run_litert(out, feed, resolver),
                       K.run_litert(path, feed, resolver),
                       f"{name}.{variant} batch {batch} {resolver or ''}")


def test_convert_usage(kiln_bin, tmp_path):
    missing = K.run_kiln_command(["convert", tmp_path / "none.tflite"],
                                 kiln_bin=kiln_bin)
    assert missing.returncode == 2 and "usage" in missing.stderr
    text = tmp_path / "model.txt"
    text.write_text("not a model at all")
    result = K.run_kiln_command(["convert", text, "-o", tmp_path / "o"],
                                kiln_bin=kiln_bin)
    assert result.returncode == 1
    assert "not a model kiln convert reads" in result.stderr
    assert not (tmp_path / "o").exists()
    result = K.run_kiln_command(["convert", tmp_path, "-o", tmp_path / "o"],
                                kiln_bin=kiln_bin)
    assert result.returncode == 1 and "directory" in result.stderr


# The operators of the int8 work (issue 11) and the float ones around them.
SWEEP_OPS = [
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "ADD",
    "SUB", "MUL", "DIV", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "SUM",
    "REDUCE_MAX", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6",
    "HARD_SWISH", "LEAKY_RELU", "GELU", "PRELU", "RESHAPE", "SQUEEZE",
    "EXPAND_DIMS", "TRANSPOSE", "CONCATENATION", "PAD", "PADV2",
    "STRIDED_SLICE", "SLICE", "GATHER", "SHAPE", "PACK", "UNPACK", "SPLIT",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE_CONV",
    "QUANTIZE", "DEQUANTIZE", "CAST", "ARG_MAX",
]


@pytest.mark.skipif(not os.environ.get("KILN_CONFORMANCE_DIR"),
                    reason="needs $KILN_CONFORMANCE_DIR (the model cache)")
def test_conformance_models_convert(kiln_bin):
    os.environ.setdefault("KILN_BIN", str(kiln_bin))
    counts, bad, refusals = convert_sweep.sweep(SWEEP_OPS)
    print(dict(counts))
    for why, n in refusals.most_common():
        print(f"refused x{n}: {why}")
    assert counts["cases"] > 0, "no conformance model is cached"
    assert not bad, "\n".join(f"{c}: {w}" for c, w in bad[:20])
