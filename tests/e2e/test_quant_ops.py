"""Quantized single-operator models: `kiln run` against LiteRT.

Each operator of quant_models.ops() is converted by TensorFlow's converter
to a fully quantized model (int8, and 16x8 where the converter does it;
uint8 models are the int8 ones with types and zero points shifted, and
the concatenation's inputs given their own scales so it requantizes),
then run on fresh random stored values over the whole input range by kiln
and by LiteRT with its reference kernels (BUILTIN_REF) and its default ones.
kiln must equal the reference kernels exactly and the default kernels
within one unit (their optimized int8 paths round differently in places).

Exceptions, each for a stated reason:
  * default_only ops are compared with the default kernels only: LiteRT's
    reference int8 SUM disagrees with its own default kernel (an input of
    real zero gives -1 there instead of the output zero point), and kiln
    follows the default kernel's arithmetic.
  * near_modes ops may differ from the reference by one unit (none at
    present: int16 LOGISTIC and TANH now build TFLite's exact table).
  * `unsupported` (op, mode) pairs have no quantized kernel in kiln yet;
    kiln must refuse them with an error naming the operator, not crash.
    So must it the uint8 models LiteRT cannot run.
  * models whose converter output also holds QUANTIZE (a requantization
    the converter inserts) need part A's QUANTIZE kernel; they are skipped
    with that reason while kiln does not run QUANTIZE.
"""
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K
import quant_models as Q

OPS = {op.name: op for op in Q.ops()}


def params():
    out = []
    for op in OPS.values():
        modes = list(op.modes) + (["uint8"] if "int8" in op.modes else [])
        for mode in modes:
            out.append(pytest.param(op.name, mode, id=f"{op.name}-{mode}"))
    return out


def to_uint8(int8_model: bytes, rescale_inputs: bool = False) -> bytes:
    """The int8 model with every int8 tensor made uint8: zero points and
    constant data shifted by 128, which leaves every real value as it was
    (TF's converter no longer emits uint8 models). With rescale_inputs the
    first operator's inputs get other scales and zero points, so an op that
    requantizes must."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(
        int8_model, 0))
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.type != schema.TensorType.INT8:
                continue
            t.type = schema.TensorType.UINT8
            t.quantization.zeroPoint = [int(z) + 128 for z in
                                        t.quantization.zeroPoint]
            data = model.buffers[t.buffer].data
            if data is not None and len(data):
                model.buffers[t.buffer].data = (
                    (np.asarray(data, np.uint8).astype(np.int32) + 128) %
                    256).astype(np.uint8)
        if rescale_inputs:
            for k, i in enumerate(sg.operators[0].inputs):
                q = sg.tensors[i].quantization
                q.scale = [q.scale[0] * (1.7 if k % 2 == 0 else 0.6)]
                q.zeroPoint = [100 + 40 * (k % 2)]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="session")
def quant_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("quant_models")


def model_path(quant_dir: Path, name: str, mode: str) -> Path:
    path = quant_dir / f"{name}_{mode}.tflite"
    if not path.exists():
        if mode == "uint8":
            path.write_bytes(to_uint8(
                model_path(quant_dir, name, "int8").read_bytes(),
                rescale_inputs=name == "concat"))
        else:
            path.write_bytes(Q.convert(OPS[name], mode))
    return path


def interpreter(path: Path, reference: bool = False):
    """LiteRT on the model; a converted tf.function has no signature, so
    tensors are addressed by their names in the input/output details."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    resolver = (OpResolverType.BUILTIN_REF if reference else
                OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return Interpreter(str(path), experimental_op_resolver_type=resolver)


def litert(path: Path, feed, reference: bool):
    interp = interpreter(path, reference)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], feed[d["name"]])
    interp.invoke()
    return {d["name"]: np.array(interp.get_tensor(d["index"]))
            for d in interp.get_output_details()}


def random_feed(path: Path, rng, nonnegative: bool = False):
    """Stored values drawn over the whole range of each input's type (from
    its zero point up where the op takes non-negative reals only)."""
    feed = {}
    for d in interpreter(path).get_input_details():
        info = np.iinfo(d["dtype"])
        low = int(d["quantization"][1]) if nonnegative else info.min
        feed[d["name"]] = rng.integers(low, int(info.max) + 1,
                                       d["shape"]).astype(d["dtype"])
    return feed


@pytest.mark.parametrize("name,mode", params())
def test_quant_op(quant_dir, kiln_bin, tmp_path, name, mode):
    op = OPS[name]
    path = model_path(quant_dir, name, mode)
    hist = K.op_histogram(path)
    missing = [o for o in op.expect if o not in hist]
    assert not missing, f"converter no longer emits {missing}: {dict(hist)}"
    rng, seed = K.make_rng()
    print(f"{name}-{mode}: {dict(hist)}; input seed {seed}")
    feed = random_feed(path, rng, op.nonnegative)
    refused = mode in op.unsupported
    if mode == "uint8":
        try:
            litert(path, feed, reference=True)
        except (RuntimeError, ValueError):
            refused = True  # LiteRT has no uint8 kernel: kiln must refuse
    if refused:
        args = ["run", path]
        for k, v in feed.items():
            np.save(tmp_path / f"{k}.npy", v)
            args += ["--input", f"{k}={tmp_path / k}.npy"]
        result = K.run_kiln_command(args + ["--output", tmp_path],
                                    kiln_bin=kiln_bin)
        assert result.returncode == 1, result.stderr
        assert f"({op.expect[0]})" in result.stderr, result.stderr
        return
    try:
        got, _ = K.run_kiln(path, feed, tmp_path, kiln_bin=kiln_bin)
    except K.KilnError as e:
        if "(QUANTIZE) is not supported" in str(e) and "QUANTIZE" in hist:
            pytest.skip("the model requantizes with QUANTIZE (part A)")
        raise
    default = litert(path, feed, reference=False)
    reference = litert(path, feed, reference=True)
    assert sorted(got) == sorted(K.output_file_name(n) for n in default)
    for out_name, want in default.items():
        have = got[K.output_file_name(out_name)]
        assert have.dtype == want.dtype and have.shape == want.shape
        diff = np.abs(have.astype(np.int64) - want.astype(np.int64))
        assert diff.max(initial=0) <= 1, \
            f"{out_name}: off by up to {diff.max()} from LiteRT's default"
        if op.default_only:
            continue
        ref = reference[out_name]
        if mode in op.near_modes:
            off = np.abs(have.astype(np.int64) - ref.astype(np.int64))
            assert off.max(initial=0) <= 1, \
                f"{out_name}: off by {off.max()} from LiteRT's reference"
            continue
        mismatched = int(np.count_nonzero(have != ref))
        assert mismatched == 0, \
            f"{out_name}: {mismatched} of {ref.size} values differ from " \
            f"LiteRT's reference kernels (max " \
            f"{np.abs(have.astype(np.int64) - ref.astype(np.int64)).max()})"
