"""kiln_e2e.py - helpers for the end-to-end tests of the `kiln` command.

Everything about the test models lives here: the Keras builders (random
weights from fixed seeds, nothing downloaded), their conversion to .tflite
in float32 and float16-weight variants and the quantized ones (dynamic
range, full int8 with float or int8 I/O, 16x8), random inputs, running
LiteRT (the reference) and running `kiln run` as a subprocess, and the
comparison.

It is a plain module; the tests import it and conftest.py wires it into
fixtures. It can also be run by hand to survey the models:

    python tests/e2e/kiln_e2e.py [--dir DIR] [MODEL ...]

builds, converts and runs every model in LiteRT and prints its operators.
"""

import collections
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]

# Max relative error (max|kiln - ref| / max|ref|) allowed against LiteRT.
TOLERANCE = 1e-4
# Seconds one `kiln` command may take before the test fails.
KILN_TIMEOUT = float(os.environ.get("KILN_E2E_TIMEOUT", "300"))

VARIANTS = ("float32", "float16")
# Quantized conversions of the same Keras models: "dynamic" (int8 weights,
# float activations: hybrid kernels), "int8" (full integer, float I/O),
# "int8io" (int8 inputs and outputs) and "16x8" (int16 activations, int8
# weights), the last three calibrated on a few random inputs.
QUANT_VARIANTS = ("dynamic", "int8", "int8io", "16x8")
# Integer ops of part B of the int8 work (branch quantb): a quantized model
# that reaches one before it lands is an expected failure naming it.
PART_B_OPS = frozenset((
    "ADD", "SUB", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "SUM",
    "REDUCE_MAX", "SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH", "RELU",
    "RELU6", "CONCATENATION", "PAD", "PADV2", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
    "STRIDED_SLICE", "GATHER", "TRANSPOSE", "SLICE", "SPLIT", "PACK",
    "LEAKY_RELU", "MAXIMUM", "MINIMUM", "ARG_MAX", "DIV",
))


# ------------------------------------------------------------ the binary


def kiln_binary() -> Path:
    """The `kiln` executable: $KILN_BIN, else build/kiln in the repo."""
    value = os.environ.get("KILN_BIN")
    if not value:
        return REPO_ROOT / "build" / "kiln"
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path.resolve()
    return REPO_ROOT / path


def run_kiln_command(args: Sequence[str], timeout: float = KILN_TIMEOUT,
                     kiln_bin: Optional[Path] = None
                     ) -> subprocess.CompletedProcess:
    """Runs `kiln ARGS...`, capturing text output. A timeout raises
    subprocess.TimeoutExpired (the child is killed)."""
    command = [str(kiln_bin or kiln_binary())] + [str(a) for a in args]
    return subprocess.run(command, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          errors="replace", timeout=timeout)


class KilnError(AssertionError):
    """`kiln` exited non-zero (or by a signal) where success was expected."""


class ConversionError(RuntimeError):
    """TensorFlow's converter cannot make this variant of the model (16x8
    of HARD_SWISH, calibrating integer token inputs ...)."""


def describe_exit(result: subprocess.CompletedProcess) -> str:
    code = result.returncode
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit status {code}"


# ------------------------------------------------------------ the models


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A test model: how to build it and what to feed it."""
    name: str
    build: Callable[[], "object"]  # returns a keras.Model
    inputs: str = "unit"  # "unit": float [-1, 1); "image": [0, 255);
    #                       "tokens": ints in [0, vocab)
    heavy: bool = False  # deselect with -m "not heavy"
    batches: Tuple[int, ...] = (1,)
    vocab: int = 0
    seed: int = 0
    # Builtin ops the converted model must contain, so a converter change
    # that silently drops what a model is meant to exercise is noticed.
    expect_ops: Tuple[str, ...] = ()


def _keras():
    import keras  # noqa: F401  (imported late: TensorFlow is slow to load)
    return keras


def _randomize_batchnorm(model, seed: int) -> None:
    """Gives every BatchNormalization layer non-trivial statistics, so the
    converter's folding of them into convolutions is actually tested."""
    keras = _keras()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        for variable, low, high, normal in (
                (layer.gamma, 0.5, 1.5, False),
                (layer.beta, 0.0, 0.1, True),
                (layer.moving_mean, 0.0, 0.1, True),
                (layer.moving_variance, 0.5, 1.5, False)):
            if variable is None:  # scale=False or center=False
                continue
            shape = tuple(variable.shape)
            value = (rng.normal(low, high, shape) if normal
                     else rng.uniform(low, high, shape))
            variable.assign(value.astype(np.float32))


def build_mlp():
    keras = _keras()
    x = inp = keras.Input((16,), name="features")
    x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dense(32, activation="tanh")(x)
    x = keras.layers.Dense(10)(x)
    out = keras.layers.Softmax()(x)
    return keras.Model(inp, out, name="mlp")


def build_cnn():
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((32, 32, 3), name="image")
    x = L.Conv2D(8, 3)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(16, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    x = L.Dense(32, activation="relu")(x)
    x = L.Dense(10)(x)
    out = L.Softmax()(x)
    return keras.Model(inp, out, name="cnn")


def _image_input():
    """A named input for keras.applications models, so the signature name
    is "image" rather than a counter-dependent "keras_tensor_NNN"."""
    keras = _keras()
    return keras.Input((224, 224, 3), name="image")


def build_mobilenet_v2_035():
    keras = _keras()
    return keras.applications.MobileNetV2(
        input_tensor=_image_input(), alpha=0.35, weights=None)


def build_mobilenet_v2_100():
    keras = _keras()
    return keras.applications.MobileNetV2(
        input_tensor=_image_input(), alpha=1.0, weights=None)


def build_mobilenet_v3_small():
    keras = _keras()
    # include_preprocessing (the default) adds a Rescaling layer: inputs are
    # pixels in [0, 255].
    return keras.applications.MobileNetV3Small(
        input_tensor=_image_input(), weights=None)


def build_resnet50():
    keras = _keras()
    return keras.applications.ResNet50(input_tensor=_image_input(),
                                       weights=None)


def build_efficientnet_b0():
    keras = _keras()
    # Includes Rescaling and Normalization layers: inputs are [0, 255].
    return keras.applications.EfficientNetB0(
        input_tensor=_image_input(), weights=None)


def build_unet():
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((64, 64, 3), name="image")
    c1 = L.Conv2D(8, 3, padding="same", activation="relu")(x)  # 64
    p1 = L.MaxPooling2D()(c1)  # 32
    c2 = L.Conv2D(16, 3, padding="same", activation="relu")(p1)
    p2 = L.MaxPooling2D()(c2)  # 16
    b = L.Conv2D(32, 3, padding="same", activation="relu")(p2)
    u2 = L.Conv2DTranspose(16, 2, strides=2, padding="same")(b)  # 32
    u2 = L.Concatenate()([u2, c2])
    u2 = L.Conv2D(16, 3, padding="same", activation="relu")(u2)
    u1 = L.UpSampling2D(2, interpolation="bilinear")(u2)  # 64
    u1 = L.Concatenate()([u1, c1])
    u1 = L.Conv2D(8, 3, padding="same", activation="relu")(u1)
    logits = L.Conv2D(4, 1)(u1)
    logits = L.Resizing(48, 48, interpolation="bilinear")(logits)
    out = L.Softmax(axis=-1)(logits)
    return keras.Model(inp, out, name="unet")


TEXT_VOCAB = 1000


def build_text_classifier():
    keras = _keras()
    L = keras.layers
    tokens = keras.Input((24,), dtype="int32", name="tokens")
    e = L.Embedding(TEXT_VOCAB, 16)(tokens)
    avg = L.GlobalAveragePooling1D()(e)
    mx = L.GlobalMaxPooling1D()(e)
    x = L.Concatenate()([avg, mx])
    x = L.Dense(32, activation="relu")(x)
    x = L.Dense(4)(x)
    out = L.Softmax()(x)
    return keras.Model(tokens, out, name="text_classifier")


def build_quant_core():
    """Only the matrix-product ops the quantized kernels of part A run
    (CONV_2D with stride and fused activation, DEPTHWISE_CONV_2D with a
    depth multiplier, 1x1 CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED with
    keep_num_dims and plain), so every quantized variant runs end to end
    whatever part B (pools, softmax ...) has landed. A fixed batch keeps
    the converter from adding shape arithmetic."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((12, 12, 3), batch_size=1, name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same",
                          activation="relu6")(x)
    x = L.Conv2D(6, 1)(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.Conv2D(5, 3, padding="valid")(x)
    x = L.Dense(7)(x)
    x = L.Flatten()(x)
    out = L.Dense(10)(x)
    return keras.Model(inp, out, name="quant_core")


DYNAMIC_PROBS = "class-probs/v1:0"  # written as class-probs_v1_0.npy
DYNAMIC_SCORES = "raw scores"  # written as raw_scores.npy


def build_dynamic_batch():
    """Two inputs, two outputs, batch None everywhere: Flatten and Reshape
    of a batch-None tensor make the converter compute the batch at run
    time (SHAPE, STRIDED_SLICE, PACK, RESHAPE). The outputs are named by a
    dict with characters `kiln run` must replace in file names."""
    keras = _keras()
    L = keras.layers
    features = keras.Input((16,), name="features")
    patch = keras.Input((8, 8, 3), name="patch")
    a = L.Dense(32, activation="relu")(features)
    a = L.Reshape((4, 8))(a)
    a = L.Conv1D(8, 3, padding="same", activation="relu")(a)
    a = L.Flatten()(a)
    b = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(patch)
    b = L.Flatten()(b)
    x = L.Concatenate()([a, b])
    x = L.Dense(16, activation="relu")(x)
    scores = L.Dense(5)(x)
    probs = L.Softmax()(scores)
    return keras.Model([features, patch],
                       {DYNAMIC_PROBS: probs, DYNAMIC_SCORES: scores},
                       name="dynamic_batch")


MODELS: Dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("mlp", build_mlp, seed=1,
              expect_ops=("FULLY_CONNECTED", "SOFTMAX")),
    ModelSpec("cnn", build_cnn, seed=2,
              expect_ops=("CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED",
                          "SOFTMAX")),
    ModelSpec("mobilenet_v2_035", build_mobilenet_v2_035, seed=3,
              expect_ops=("CONV_2D", "DEPTHWISE_CONV_2D")),
    ModelSpec("mobilenet_v2_100", build_mobilenet_v2_100, seed=4, heavy=True,
              expect_ops=("CONV_2D", "DEPTHWISE_CONV_2D")),
    ModelSpec("mobilenet_v3_small", build_mobilenet_v3_small, seed=5,
              inputs="image", expect_ops=("CONV_2D", "HARD_SWISH")),
    ModelSpec("resnet50", build_resnet50, seed=6, heavy=True,
              expect_ops=("CONV_2D", "ADD", "MAX_POOL_2D")),
    ModelSpec("efficientnet_b0", build_efficientnet_b0, seed=7, heavy=True,
              inputs="image", expect_ops=("CONV_2D", "DEPTHWISE_CONV_2D",
                                          "LOGISTIC", "MUL")),
    ModelSpec("unet", build_unet, seed=8,
              expect_ops=("CONV_2D", "TRANSPOSE_CONV", "CONCATENATION",
                          "RESIZE_BILINEAR")),
    ModelSpec("text_classifier", build_text_classifier, seed=9,
              inputs="tokens", vocab=TEXT_VOCAB,
              expect_ops=("GATHER", "MEAN", "REDUCE_MAX")),
    ModelSpec("dynamic_batch", build_dynamic_batch, seed=10, batches=(1, 7),
              expect_ops=("SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE")),
    ModelSpec("quant_core", build_quant_core, seed=11,
              expect_ops=("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV",
                          "FULLY_CONNECTED")),
]}


def build_keras_model(spec: ModelSpec):
    keras = _keras()
    keras.utils.set_random_seed(spec.seed)
    model = spec.build()
    _randomize_batchnorm(model, spec.seed)
    return model


def _calibration(model, spec: Optional["ModelSpec"]):
    """A representative dataset: a few random inputs of the model's own
    kind (fixed seed, so a converted file is reproducible)."""
    kind = spec.inputs if spec else "unit"
    vocab = spec.vocab if spec else 0

    def generate():
        rng = np.random.default_rng(1234)
        for _ in range(4):
            sample = []
            for tensor in model.inputs:
                shape = tuple(1 if d is None else d for d in tensor.shape)
                if kind == "tokens":
                    sample.append(rng.integers(0, vocab, shape).astype(
                        np.int32))
                elif kind == "image":
                    sample.append(rng.uniform(0, 255, shape).astype(
                        np.float32))
                else:
                    sample.append(rng.uniform(-1, 1, shape).astype(
                        np.float32))
            yield sample
    return generate


def convert(model, variant: str,
            spec: Optional["ModelSpec"] = None) -> bytes:
    """A Keras model as .tflite bytes: "float32", "float16" (weights
    stored as float16, DEQUANTIZE'd to float32 in the graph), or one of
    QUANT_VARIANTS (calibrated on inputs drawn as `spec` says)."""
    import contextlib
    import io
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant in QUANT_VARIANTS:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant != "dynamic":
            converter.representative_dataset = _calibration(model, spec)
        if variant == "int8io":
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        elif variant == "16x8":
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.
                EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    elif variant != "float32":
        raise ValueError(f"unknown variant {variant!r}")
    # Keras prints a page about the SavedModel it exports on the way.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


class ModelCache:
    """Converted models in a directory, each built at most once.

    If the directory already holds NAME.VARIANT.tflite (a persistent
    $KILN_E2E_MODEL_DIR), that file is used as is; delete it to rebuild.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, name: str, variant: str = "float32") -> Path:
        """The converted file; raises ConversionError (remembered in
        NAME.VARIANT.error) when the converter cannot make a quantized
        variant."""
        target = self.directory / f"{name}.{variant}.tflite"
        failed = self.directory / f"{name}.{variant}.error"
        if target.exists():
            return target
        if failed.exists():
            raise ConversionError(failed.read_text())
        spec = MODELS[name]
        model = build_keras_model(spec)
        # Convert every variant of the family asked for (float or
        # quantized) while the Keras model is at hand.
        family = QUANT_VARIANTS if variant in QUANT_VARIANTS else VARIANTS
        for v in family:
            out = self.directory / f"{name}.{v}.tflite"
            if out.exists() or out.with_suffix(".error").exists():
                continue
            try:
                data = convert(model, v, spec)
            except Exception as e:  # the converter's own errors vary
                if v not in QUANT_VARIANTS:
                    raise
                lines = [ln for ln in str(e).splitlines() if ln.strip()]
                out.with_suffix(".error").write_text(
                    f"{type(e).__name__}: {lines[0] if lines else e}")
                continue
            tmp = out.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(out)
        if failed.exists():
            raise ConversionError(failed.read_text())
        return target

    def custom(self, filename: str, make: Callable[[], bytes]) -> Path:
        """A file made once by `make` (for hand-edited models)."""
        target = self.directory / filename
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(make())
            tmp.replace(target)
        return target


# --------------------------------------------------------- LiteRT side


def _interpreter(model_path: Path, num_threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    # The builtin kernels without the XNNPACK delegate: the reference.
    kind = os.environ.get("KILN_E2E_LITERT_RESOLVER",
                          "BUILTIN_WITHOUT_DEFAULT_DELEGATES")
    return Interpreter(model_path=str(model_path), num_threads=num_threads,
                       experimental_op_resolver_type=OpResolverType[kind])


@dataclasses.dataclass
class TensorSig:
    name: str
    shape: Tuple[int, ...]  # -1 for dynamic dimensions
    dtype: np.dtype


def signature(model_path: Path) -> Tuple[List[TensorSig], List[TensorSig]]:
    """Inputs and outputs of the model's (only) signature, in the order
    LiteRT lists them."""
    interp = _interpreter(model_path)
    runner = interp.get_signature_runner()

    def sigs(details):
        out = []
        for name, d in details.items():
            shape = tuple(int(x) for x in d.get("shape_signature", d["shape"]))
            out.append(TensorSig(name, shape, np.dtype(d["dtype"])))
        return out

    return (sigs(runner.get_input_details()),
            sigs(runner.get_output_details()))


def make_rng() -> Tuple[np.random.Generator, int]:
    """A fresh generator; $KILN_E2E_SEED replays a run. Returns the seed."""
    value = os.environ.get("KILN_E2E_SEED")
    seed = int(value) if value else np.random.SeedSequence().entropy
    return np.random.default_rng(seed), seed


def make_inputs(spec: ModelSpec, inputs: Sequence[TensorSig], batch: int,
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
    arrays = {}
    for sig in inputs:
        shape = tuple(batch if (i == 0 and d == -1) else d
                      for i, d in enumerate(sig.shape))
        if any(d < 0 for d in shape):
            raise ValueError(f"{spec.name}: input {sig.name} has dynamic "
                             f"dimensions beyond the batch: {sig.shape}")
        if spec.inputs == "tokens":
            arrays[sig.name] = rng.integers(0, spec.vocab, shape).astype(
                sig.dtype)
        elif np.issubdtype(sig.dtype, np.integer):
            # a quantized input (int8io): any value of its type
            info = np.iinfo(sig.dtype)
            arrays[sig.name] = rng.integers(info.min, info.max, shape,
                                            endpoint=True).astype(sig.dtype)
        elif spec.inputs == "image":
            arrays[sig.name] = rng.uniform(0, 255, shape).astype(sig.dtype)
        else:
            arrays[sig.name] = rng.uniform(-1, 1, shape).astype(sig.dtype)
    return arrays


def run_litert(model_path: Path, inputs: Dict[str, np.ndarray],
               resolver: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Runs the signature runner; it resizes inputs of a new shape itself.
    `resolver` overrides the op resolver (e.g. "BUILTIN_REF")."""
    if resolver:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        interp = Interpreter(
            model_path=str(model_path), num_threads=1,
            experimental_op_resolver_type=OpResolverType[resolver])
    else:
        interp = _interpreter(model_path)
    runner = interp.get_signature_runner()
    outputs = runner(**inputs)
    return {name: np.array(value) for name, value in outputs.items()}


class LiteRTFailure(RuntimeError):
    """LiteRT failed or died (some of its reference integer kernels abort
    the process on models its optimized kernels run)."""


_ISOLATED_RUNNER = """
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
model, resolver, feed_path, out_path = sys.argv[1:5]
interp = Interpreter(model_path=model, num_threads=1,
                     experimental_op_resolver_type=OpResolverType[resolver])
feed = dict(np.load(feed_path))
outputs = interp.get_signature_runner()(**feed)
np.savez(out_path, **{k: np.array(v) for k, v in outputs.items()})
"""


def run_litert_isolated(model_path: Path, inputs: Dict[str, np.ndarray],
                        resolver: str, workdir: Path,
                        timeout: float = KILN_TIMEOUT
                        ) -> Dict[str, np.ndarray]:
    """run_litert in a child process, so that a LiteRT kernel that aborts
    fails one test (LiteRTFailure) instead of the whole session."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    feed_path = workdir / f"litert_feed_{resolver}.npz"
    out_path = workdir / f"litert_out_{resolver}.npz"
    np.savez(feed_path, **inputs)
    result = subprocess.run(
        [sys.executable, "-c", _ISOLATED_RUNNER, str(model_path), resolver,
         str(feed_path), str(out_path)],
        capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not out_path.exists():
        lines = [ln for ln in result.stderr.splitlines()
                 if ln.strip() and "WARNING" not in ln]
        raise LiteRTFailure(
            f"LiteRT ({resolver}) failed with {describe_exit(result)}: "
            f"{lines[-1] if lines else ''}")
    with np.load(out_path) as data:
        return {name: data[name] for name in data.files}


# ------------------------------------------------------------ kiln side


def output_file_name(name: str) -> str:
    """The file `kiln run` writes for an output: the name with every
    character outside [A-Za-z0-9_.-] replaced by '_', plus .npy."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npy"


def run_kiln(model_path: Path, inputs: Dict[str, np.ndarray], workdir: Path,
             threads: Optional[int] = None, kiln_bin: Optional[Path] = None,
             timeout: float = KILN_TIMEOUT
             ) -> Tuple[Dict[str, np.ndarray], subprocess.CompletedProcess]:
    """`kiln run` on inputs saved as .npy; returns the arrays it wrote,
    keyed by file stem, and the process. Raises KilnError on failure."""
    workdir = Path(workdir)
    in_dir = workdir / "in"
    out_dir = workdir / "out"
    for d in (in_dir, out_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    args = ["run", str(model_path)]
    for i, (name, array) in enumerate(inputs.items()):
        path = in_dir / f"input{i}.npy"
        np.save(path, array)
        args += ["--input", f"{name}={path}"]
    args += ["--output", str(out_dir)]
    if threads is not None:
        args += ["--threads", str(threads)]
    result = run_kiln_command(args, timeout=timeout, kiln_bin=kiln_bin)
    if result.returncode != 0:
        raise KilnError(
            f"kiln {' '.join(args)} failed with {describe_exit(result)}\n"
            f"stderr:\n{result.stderr}\nstdout:\n{result.stdout}")
    outputs = {p.name: np.load(p) for p in sorted(out_dir.glob("*.npy"))}
    return outputs, result


def max_rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max|actual - expected| / max(max|expected|, tiny)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if expected.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    return float(np.max(np.abs(actual - expected))) / scale


def compare_outputs(kiln_outputs: Dict[str, np.ndarray],
                    reference: Dict[str, np.ndarray],
                    tolerance: float = TOLERANCE) -> Dict[str, float]:
    """Asserts every reference output is present with the same shape and
    dtype and within `tolerance`; returns the error per output."""
    expected_files = {output_file_name(n): n for n in reference}
    missing = sorted(set(expected_files) - set(kiln_outputs))
    extra = sorted(set(kiln_outputs) - set(expected_files))
    assert not missing and not extra, (
        f"kiln wrote {sorted(kiln_outputs)}; expected {sorted(expected_files)}")
    errors = {}
    for file_name, name in expected_files.items():
        got, want = kiln_outputs[file_name], reference[name]
        assert got.shape == want.shape, (
            f"output {name}: kiln shape {got.shape}, LiteRT {want.shape}")
        assert got.dtype == want.dtype, (
            f"output {name}: kiln dtype {got.dtype}, LiteRT {want.dtype}")
        if not np.issubdtype(want.dtype, np.floating):
            assert np.array_equal(got, want), f"output {name} differs"
            errors[name] = 0.0
            continue
        assert np.all(np.isfinite(got)) == np.all(np.isfinite(want)), (
            f"output {name}: non-finite values differ")
        errors[name] = max_rel_error(got, want)
    bad = {n: e for n, e in errors.items() if not e <= tolerance}
    assert not bad, (
        "max relative error above " + f"{tolerance:g}: " +
        ", ".join(f"{n}: {e:.3g}" for n, e in bad.items()))
    return errors


# ------------------------------------------------------- model contents


def _builtin_names() -> Dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema
    return {v: k for k, v in vars(schema.BuiltinOperator).items()
            if not k.startswith("_") and isinstance(v, int)}


def op_histogram(model_path: Path) -> "collections.Counter[str]":
    """Builtin operator names of every subgraph, with counts."""
    from ai_edge_litert import schema_py_generated as schema
    names = _builtin_names()
    buf = Path(model_path).read_bytes()
    model = schema.Model.GetRootAsModel(buf, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = "CUSTOM:" + (oc.CustomCode() or b"").decode()
        codes.append(name)
    hist = collections.Counter()
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for o in range(sg.OperatorsLength()):
            hist[codes[sg.Operators(o).OpcodeIndex()]] += 1
    return hist


def output_quantization(model_path: Path) -> Dict[str, Tuple[float, int]]:
    """For each signature output: the (scale, zero point) of the integer
    tensor it holds, or of the one its final DEQUANTIZE reads, for outputs
    computed in integers; absent for float results."""
    model = load_model_object(model_path)
    graph = model.subgraphs[0]
    producer = {}
    for op in graph.operators:
        for t in op.outputs:
            producer[t] = op
    dequantize = {i for i, c in enumerate(model.operatorCodes)
                  if max(c.builtinCode, c.deprecatedBuiltinCode) == 6}
    result = {}
    for entry in model.signatureDefs[0].outputs:
        name = entry.name.decode() if isinstance(entry.name, bytes) \
            else entry.name
        index = entry.tensorIndex
        op = producer.get(index)
        if op is not None and op.opcodeIndex in dequantize:
            index = op.inputs[0]
        q = graph.tensors[index].quantization
        if q is not None and q.scale is not None and len(q.scale) == 1:
            result[name] = (float(q.scale[0]), int(q.zeroPoint[0]))
    return result


def load_model_object(model_path: Path):
    """The model as a mutable flatbuffers object tree (schema ModelT)."""
    from ai_edge_litert import schema_py_generated as schema
    buf = Path(model_path).read_bytes()
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))


def pack_model_object(model) -> bytes:
    import flatbuffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ----------------------------------------------------- malformed models
#
# Each maker takes the bytes of a valid model (the float32 MLP) and returns
# broken bytes; test_bad_input.py runs kiln on them. Rewrites go through
# the flatbuffers object API of the TFLite schema.


# A builtin of the schema that kiln does not run (nor does LiteRT 2.3: it
# registers no kernel for it), so the test of the message stays meaningful
# whichever operators kiln gains.
UNSUPPORTED_OP = "CONCAT_EMBEDDINGS"


def build_unsupported_op_model() -> bytes:
    """Eleven Dense layers, then a reverse_sequence, converted to TFLite;
    then the REVERSE_SEQUENCE operator's code is rewritten to
    UNSUPPORTED_OP (and its options dropped), so that operator is number 11
    or later, an index that a message cannot contain by accident."""
    keras = _keras()
    import flatbuffers
    import tensorflow as tf
    from ai_edge_litert import schema_py_generated as schema
    keras.utils.set_random_seed(11)
    x = inp = keras.Input((16,), name="features")
    for _ in range(11):
        x = keras.layers.Dense(8, activation="relu")(x)
    x = keras.layers.Lambda(lambda t: tf.reverse_sequence(
        t, tf.fill(tf.shape(t)[:1], 5), seq_axis=1, batch_axis=0))(x)
    data = convert(keras.Model(inp, x, name="unsupported_op"), "float32")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    code = getattr(schema.BuiltinOperator, UNSUPPORTED_OP)
    rewritten = []
    for i, oc in enumerate(model.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == \
                schema.BuiltinOperator.REVERSE_SEQUENCE:
            oc.builtinCode = oc.deprecatedBuiltinCode = code
            rewritten.append(i)
    assert rewritten, "the converter emitted no REVERSE_SEQUENCE"
    for op in model.subgraphs[0].operators:
        if op.opcodeIndex in rewritten:
            op.builtinOptionsType = schema.BuiltinOptions.NONE
            op.builtinOptions = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def operator_index(model_path: Path, op_name: str) -> int:
    """Index in subgraph 0 of the first operator called op_name."""
    from ai_edge_litert import schema_py_generated as schema
    names = _builtin_names()
    model = schema.Model.GetRootAsModel(Path(model_path).read_bytes(), 0)
    sg = model.Subgraphs(0)
    for i in range(sg.OperatorsLength()):
        oc = model.OperatorCodes(sg.Operators(i).OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if names.get(code) == op_name:
            return i
    raise LookupError(f"{model_path} has no {op_name}")


def _largest_buffer(model) -> int:
    sizes = [0 if b.data is None else len(b.data) for b in model.buffers]
    return int(np.argmax(sizes))


def _buffer_of_size(model, nbytes: int) -> int:
    for i, b in enumerate(model.buffers):
        if b.data is not None and len(b.data) == nbytes:
            return i
    raise LookupError(f"no buffer of {nbytes} bytes")


def _tensor_of_buffer(model, buffer_index: int):
    for t in model.subgraphs[0].tensors:
        if t.buffer == buffer_index:
            return t
    raise LookupError(f"no tensor uses buffer {buffer_index}")


def _rewrite(data: bytes, edit: Callable[[object], None]) -> bytes:
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    edit(model)
    return pack_model_object(model)


def _buffer_past_end(model) -> None:
    # The weights move "outside" the flatbuffer to an offset past the end.
    b = model.buffers[_largest_buffer(model)]
    b.size, b.data = len(b.data), None
    b.offset = 1 << 20


def _buffer_offset_overflow(model) -> None:
    # offset + size wraps around 2^64 to a small number.
    b = model.buffers[_largest_buffer(model)]
    b.size, b.data = len(b.data), None
    b.offset = (1 << 64) - 16


def _tensor_buffer_index(model) -> None:
    _tensor_of_buffer(model, _largest_buffer(model)).buffer = 1000000


def _weights_shape_bytes_wrap(model) -> None:
    # 17408 * 858001 * 308761441 = 2^62 + 1024 elements (fits int64); times
    # 4 bytes it wraps to 4096 = the real size of the 16x64 float kernel.
    t = _tensor_of_buffer(model, _buffer_of_size(model, 4096))
    t.shape = [17408, 858001, 308761441]
    t.shapeSignature = None


def _weights_shape_count_wrap(model) -> None:
    # 66560 * 4033 * 246241 * 279073 = 2^64 + 1024 elements: the count
    # itself wraps to 1024, the real element count of the 16x64 kernel.
    t = _tensor_of_buffer(model, _buffer_of_size(model, 4096))
    t.shape = [66560, 4033, 246241, 279073]
    t.shapeSignature = None


def _negative_weight_dim(model) -> None:
    t = _tensor_of_buffer(model, _largest_buffer(model))
    t.shape = [-64, 16]


def _input_shape_overflow(model) -> None:
    sg = model.subgraphs[0]
    t = sg.tensors[sg.inputs[0]]
    big = (1 << 31) - 1
    t.shape = [1, big, big, big, big]
    t.shapeSignature = [-1, big, big, big, big]


def _unknown_builtin_code(model) -> None:
    # 127 in the deprecated byte means "see builtin_code".
    oc = model.operatorCodes[0]
    oc.deprecatedBuiltinCode, oc.builtinCode = 127, 9999


def _custom_op(model) -> None:
    from ai_edge_litert import schema_py_generated as schema
    oc = model.operatorCodes[0]
    oc.deprecatedBuiltinCode = oc.builtinCode = schema.BuiltinOperator.CUSTOM
    oc.customCode = "KilnTestCustomOp"


def _operator_input_index(model) -> None:
    op = model.subgraphs[0].operators[0]
    op.inputs = [1000000] + [int(i) for i in op.inputs[1:]]


def _opcode_index(model) -> None:
    model.subgraphs[0].operators[0].opcodeIndex = 1000


# name -> (edit of the MLP, words of which stderr must contain one)
BAD_MODELS: Dict[str, Tuple[Callable[[object], None], Tuple[str, ...]]] = {
    "buffer_past_end": (_buffer_past_end,
                        ("offset", "past the end", "outside", "bounds",
                         "beyond", "truncat", "exceed")),
    "buffer_offset_overflow": (_buffer_offset_overflow,
                               ("offset", "overflow", "past the end",
                                "outside", "bounds", "beyond", "exceed")),
    "tensor_buffer_index": (_tensor_buffer_index, ("buffer",)),
    "weights_shape_bytes_wrap": (_weights_shape_bytes_wrap,
                                 ("overflow", "too large", "shape", "size",
                                  "dimension", "rank")),
    "weights_shape_count_wrap": (_weights_shape_count_wrap,
                                 ("overflow", "too large", "shape", "size",
                                  "dimension", "rank")),
    "negative_weight_dim": (_negative_weight_dim,
                            ("negative", "shape", "dimension", "-64")),
    "input_shape_overflow": (_input_shape_overflow,
                             ("overflow", "too large", "shape", "size",
                              "dimension", "rank")),
    "unknown_builtin_code": (_unknown_builtin_code, ("9999",)),
    "custom_op": (_custom_op, ("KilnTestCustomOp",)),
    "operator_input_index": (_operator_input_index, ("tensor", "1000000")),
    "opcode_index": (_opcode_index, ("opcode", "operator code", "1000")),
}


def make_bad_model(name: str, valid: bytes) -> bytes:
    return _rewrite(valid, BAD_MODELS[name][0])


# ---------------------------------------------------------------- survey


def survey(directory: Path, names: Sequence[str]) -> None:
    cache = ModelCache(directory)
    rng, seed = make_rng()
    print(f"input seed {seed}")
    for name in names:
        spec = MODELS[name]
        for variant in VARIANTS:
            start = time.time()
            path = cache.path(name, variant)
            built = time.time() - start
            ins, outs = signature(path)
            hist = op_histogram(path)
            for batch in spec.batches:
                inputs = make_inputs(spec, ins, batch, rng)
                start = time.time()
                ref = run_litert(path, inputs)
                ran = time.time() - start
                stats = ", ".join(
                    f"{k}{tuple(v.shape)} max|.|={np.max(np.abs(v)):.3g}"
                    for k, v in ref.items())
                print(f"{name}.{variant} batch {batch}: build {built:.1f}s "
                      f"litert {ran:.2f}s; {stats}")
            print(f"  inputs: " + ", ".join(
                f"{s.name}{s.shape}:{s.dtype}" for s in ins))
            print(f"  outputs: " + ", ".join(
                f"{s.name}{s.shape}:{s.dtype}" for s in outs))
            print(f"  size {path.stat().st_size} bytes; ops: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(hist.items())))
            missing = [op for op in spec.expect_ops if op not in hist]
            if missing:
                print(f"  MISSING expected ops: {missing}")


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=None,
                        help="model directory (default: a temp dir)")
    parser.add_argument("models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    directory = Path(args.dir or tempfile.mkdtemp(prefix="kiln-e2e-"))
    survey(directory, args.models)
