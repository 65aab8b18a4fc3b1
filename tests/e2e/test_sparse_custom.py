"""Sparse weights and custom operators: `kiln run` matches LiteRT.

Sparse: Keras models whose Dense / Conv2D weights are mostly zero (random
pruning, or the 1x4 block pattern TFLite's sparse FULLY_CONNECTED kernel
uses), converted with Optimize.EXPERIMENTAL_SPARSITY so the converter
stores them with SparsityParameters (a DENSIFY op in front of Conv2D).
kiln expands them at load; outputs must match LiteRT's on fresh random
inputs.

Custom operators LiteRT runs without user code: MediaPipe's
Convolution2DTransposeBias, MaxPoolingWithArgmax2D and MaxUnpooling2D (LiteRT
runs them through its default XNNPACK delegate, so that is the reference
here), in one-operator models built at test time, and MediaPipe's own
pretrained models from the mediapipe wheel (pinned in scripts/setup, which
installs it without dependencies: only its .tflite files are used).
"""
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K

# Pretrained MediaPipe networks against LiteRT (see the test).
PRETRAINED_TOLERANCE = 5e-4


def _sparsity_of(path):
    """(tensors with sparsity parameters, number of SPARSE_CSR levels)."""
    model = K.load_model_object(path)
    sparse, csr = 0, 0
    for t in model.subgraphs[0].tensors:
        if t.sparsity is not None:
            sparse += 1
            csr += sum(1 for d in t.sparsity.dimMetadata if d.format == 1)
    return sparse, csr


def _prune(weights, rng, keep, block=None):
    """Zeroes all but a fraction `keep` of weights; `block` = (axis, n)
    zeroes whole runs of n along axis (Keras Dense kernels are [in, out],
    so TFLite's 1x4 blocks along the input are runs along axis 0)."""
    if block is None:
        return weights * (rng.random(weights.shape) < keep)
    axis, n = block
    shape = list(weights.shape)
    shape[axis] //= n
    mask = (rng.random(shape) < keep).repeat(n, axis=axis)
    return weights * mask


def _build(kind, seed):
    import contextlib
    import io
    import tensorflow as tf
    keras = K._keras()
    rng = np.random.default_rng(seed)
    if kind in ("dense_random", "dense_block"):
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48),
                                  keras.layers.Dense(16, activation="relu")])
    else:
        model = keras.Sequential([keras.Input((10, 10, 8)),
                                  keras.layers.Conv2D(16, 3, padding="same"),
                                  keras.layers.DepthwiseConv2D(3),
                                  keras.layers.Flatten(),
                                  keras.layers.Dense(8)])
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        block = (0, 4) if kind == "dense_block" else None
        weights[0] = _prune(weights[0], rng, 0.25, block)
        weights[-1] = rng.normal(size=weights[-1].shape).astype(np.float32)
        layer.set_weights(weights)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


SPARSE_KINDS = ["dense_random", "dense_block", "conv_random"]


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_sparse_weights_match_litert(model_cache, kiln_bin, tmp_path, kind):
    path = model_cache.custom(f"sparse_{kind}.tflite",
                              lambda: _build(kind, 1234))
    sparse, csr = _sparsity_of(path)
    assert sparse > 0 and csr > 0, (
        f"the converter stored no sparse tensor in {kind}")
    hist = K.op_histogram(path)
    print(f"{kind}: {sparse} sparse tensors, {csr} CSR levels, ops {dict(hist)}")
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"input seed {seed} (replay with KILN_E2E_SEED={seed})")
    for batch in (1, 3):
        feed = {}
        for sig in inputs:
            shape = tuple(batch if d == -1 else d for d in sig.shape)
            feed[sig.name] = rng.uniform(-1, 1, shape).astype(sig.dtype)
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"b{batch}",
                            kiln_bin=kiln_bin)
        errors = K.compare_outputs(got, ref, tolerance=1e-5)
        print(f"{kind} batch {batch}: " +
              ", ".join(f"{n}: {e:.3g}" for n, e in errors.items()))


# ------------------------------------------------------ custom operators


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def _litert_default(path, feed, reference=False):
    """LiteRT with its default delegate (XNNPACK), which is what runs
    MediaPipe's custom operators, or its reference kernels; inputs and
    outputs by tensor name (MediaPipe's files have no signatures)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kind = (OpResolverType.BUILTIN_REF if reference
            else OpResolverType.AUTO)
    interp = Interpreter(model_path=str(path), num_threads=1,
                         experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], feed[d["name"]])
    interp.invoke()
    return {d["name"]: np.array(interp.get_tensor(d["index"]))
            for d in interp.get_output_details()}


def _custom_model(ops, inputs, consts, outputs):
    """A model of custom operators. ops: [(code, options bytes, input
    names, output names)]; inputs/outputs: [(name, shape, numpy dtype)];
    consts: {name: array}."""
    S = _schema()
    types = {np.dtype(np.float32): S.TensorType.FLOAT32,
             np.dtype(np.int32): S.TensorType.INT32}
    model = S.ModelT()
    model.version = 3
    model.buffers = [S.BufferT()]
    sg = S.SubGraphT()
    sg.tensors, ids = [], {}

    def add(name, shape, dtype, data=None):
        t = S.TensorT()
        t.name, t.shape, t.type = name, list(shape), types[np.dtype(dtype)]
        if data is not None:
            b = S.BufferT()
            b.data = np.frombuffer(data.tobytes(), np.uint8).tolist()
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        ids[name] = len(sg.tensors)
        sg.tensors.append(t)

    for name, shape, dtype in inputs:
        add(name, shape, dtype)
    for name, array in consts.items():
        add(name, array.shape, array.dtype, array)
    intermediate = {o for _, _, _, outs in ops for o in outs}
    declared = {name: (shape, dtype) for name, shape, dtype in outputs}
    for name in sorted(intermediate):
        add(name, *declared[name])
    codes = sorted({code for code, _, _, _ in ops})
    model.operatorCodes = []
    for code in codes:
        oc = S.OperatorCodeT()
        oc.builtinCode = oc.deprecatedBuiltinCode = 32
        oc.customCode, oc.version = code, 1
        model.operatorCodes.append(oc)
    sg.operators = []
    for code, options, ins, outs in ops:
        op = S.OperatorT()
        op.opcodeIndex = codes.index(code)
        op.inputs = [ids[n] for n in ins]
        op.outputs = [ids[n] for n in outs]
        op.customOptions = list(options)
        sg.operators.append(op)
    sg.inputs = [ids[n] for n, _, _ in inputs]
    sg.outputs = [ids[n] for n, _, _ in outputs]
    model.subgraphs = [sg]
    return K.pack_model_object(model)


def _compare(path, feed, tmp_path, kiln_bin, tolerance=1e-5):
    ref = _litert_default(path, feed)
    got, _ = K.run_kiln(path, feed, tmp_path, kiln_bin=kiln_bin)
    errors = {}
    for name, want in ref.items():
        have = got[K.output_file_name(name)]
        assert have.shape == want.shape and have.dtype == want.dtype, name
        if name.startswith("index"):
            assert np.array_equal(have.view(np.uint8), want.view(np.uint8)), (
                f"{name}: indices differ")
            continue
        errors[name] = K.max_rel_error(have, want)
        assert errors[name] <= tolerance, f"{name}: {errors[name]:.3g}"
    return errors


@pytest.mark.parametrize("padding", [1, 2], ids=["same", "valid"])
def test_transpose_conv_bias_matches_litert(kiln_bin, tmp_path, padding):
    rng, seed = K.make_rng()
    print(f"seed {seed} (replay with KILN_E2E_SEED={seed})")
    for trial in range(3):
        n, h, w = 1, int(rng.integers(2, 9)), int(rng.integers(2, 9))
        cin, cout = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        # XNNPACK runs strides up to the kernel size only.
        sh, sw = int(rng.integers(1, kh + 1)), int(rng.integers(1, kw + 1))
        oh = h * sh if padding == 1 else (h - 1) * sh + kh
        ow = w * sw if padding == 1 else (w - 1) * sw + kw
        consts = {"w": rng.normal(size=(cout, kh, kw, cin)).astype(np.float32),
                  "b": rng.normal(size=(cout,)).astype(np.float32)}
        data = _custom_model(
            [("Convolution2DTransposeBias", struct.pack("<3i", padding, sw, sh),
              ["x", "w", "b"], ["y"])],
            [("x", (n, h, w, cin), np.float32)], consts,
            [("y", (n, oh, ow, cout), np.float32)])
        path = tmp_path / f"tcb{trial}.tflite"
        path.write_bytes(data)
        feed = {"x": rng.normal(size=(n, h, w, cin)).astype(np.float32)}
        errors = _compare(path, feed, tmp_path / f"run{trial}", kiln_bin)
        print(f"{h}x{w}x{cin} k{kh}x{kw} s{sh}x{sw} -> {cout}: {errors}")


@pytest.mark.parametrize("padding", [1, 2], ids=["same", "valid"])
def test_argmax_pool_and_unpool_match_litert(kiln_bin, tmp_path, padding):
    """MaxPoolingWithArgmax2D (values and float32-declared indices, as in
    MediaPipe's models) feeding MaxUnpooling2D."""
    rng, seed = K.make_rng()
    print(f"seed {seed} (replay with KILN_E2E_SEED={seed})")
    for trial in range(3):
        h, w, c = (int(rng.integers(2, 10)), int(rng.integers(2, 10)),
                   int(rng.integers(1, 5)))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if padding == 2:
            h, w = max(h, kh), max(w, kw)
        oh = -(-h // kh) if padding == 1 else h // kh
        ow = -(-w // kw) if padding == 1 else w // kw
        options = struct.pack("<10i", padding, kw, kh, kw, kh, 0, 0, 0, 0, 0)
        # LiteRT (XNNPACK) unpools only with VALID options.
        unpool = struct.pack("<10i", 2, kw, kh, kw, kh, 0, 0, 0, 0, 0)
        data = _custom_model(
            [("MaxPoolingWithArgmax2D", options, ["x"], ["values", "index"]),
             ("MaxUnpooling2D", unpool, ["values", "index"], ["unpooled"])],
            [("x", (1, h, w, c), np.float32)], {},
            [("values", (1, oh, ow, c), np.float32),
             ("index", (1, oh, ow, c), np.float32),
             ("unpooled", (1, oh * kh, ow * kw, c), np.float32)])
        path = tmp_path / f"pool{trial}.tflite"
        path.write_bytes(data)
        feed = {"x": rng.normal(size=(1, h, w, c)).astype(np.float32)}
        _compare(path, feed, tmp_path / f"run{trial}", kiln_bin,
                 tolerance=0.0)
        print(f"{h}x{w}x{c} window {kh}x{kw}: exact")


# ------------------------------------------------- pretrained mediapipe


def _mediapipe_models():
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "modules"


def _with_builtin_transpose_conv(data):
    """The model with each Convolution2DTransposeBias replaced by TFLite's
    TRANSPOSE_CONV (output_shape, filter, input, bias), which LiteRT's
    reference kernels run: the same computation, by other code."""
    S = _schema()
    model = S.ModelT.InitFromObj(S.Model.GetRootAsModel(data, 0))
    sg = model.subgraphs[0]
    codes = model.operatorCodes
    custom = [i for i, c in enumerate(codes)
              if c.customCode == b"Convolution2DTransposeBias"]
    tconv = S.OperatorCodeT()
    tconv.builtinCode = tconv.deprecatedBuiltinCode = 67
    tconv.version = 3
    codes.append(tconv)
    for op in sg.operators:
        if op.opcodeIndex not in custom:
            continue
        padding, stride_w, stride_h = struct.unpack(
            "<3i", bytes(op.customOptions[:12]))
        out_shape = [int(d) for d in sg.tensors[op.outputs[0]].shape]
        b = S.BufferT()
        b.data = np.frombuffer(np.array(out_shape, np.int32).tobytes(),
                               np.uint8).tolist()
        model.buffers.append(b)
        t = S.TensorT()
        t.name, t.shape, t.type = b"output_shape", [4], S.TensorType.INT32
        t.buffer = len(model.buffers) - 1
        sg.tensors.append(t)
        options = S.TransposeConvOptionsT()
        options.padding = 0 if padding == 1 else 1  # TFLite: SAME 0, VALID 1
        options.strideW, options.strideH = stride_w, stride_h
        x, w, bias = op.inputs
        op.inputs = [len(sg.tensors) - 1, w, x, bias]
        op.opcodeIndex = len(codes) - 1
        op.customOptions = None
        op.builtinOptionsType = S.BuiltinOptions.TransposeConvOptions
        op.builtinOptions = options
    return K.pack_model_object(model)


@pytest.mark.parametrize("name", [
    "selfie_segmentation/selfie_segmentation.tflite",
    "selfie_segmentation/selfie_segmentation_landscape.tflite",
    "face_detection/face_detection_full_range_sparse.tflite",
    "pose_detection/pose_detection.tflite",
])
def test_pretrained_mediapipe_model(kiln_bin, tmp_path, name):
    """kiln on MediaPipe's file against LiteRT's reference kernels (the
    custom transposed convolutions swapped for TRANSPOSE_CONV, which they
    compute), and against LiteRT's default XNNPACK run of the file itself,
    whose own approximations make it the looser comparison."""
    root = _mediapipe_models()
    if root is None:
        pytest.skip("mediapipe is not installed (scripts/setup installs it)")
    path = root / name
    data = path.read_bytes()
    hist = K.op_histogram(path)
    sparse, _ = _sparsity_of(path)
    print(f"{name}: {sparse} sparse tensors, ops {dict(hist)}")
    from ai_edge_litert.interpreter import Interpreter
    try:
        interp = Interpreter(model_path=str(path), num_threads=1)
        interp.allocate_tensors()
    except (RuntimeError, ValueError) as error:
        pytest.skip(f"LiteRT cannot run {name}: {error}")
    reference = tmp_path / "reference.tflite"
    reference.write_bytes(_with_builtin_transpose_conv(data))
    rng, seed = K.make_rng()
    print(f"input seed {seed} (replay with KILN_E2E_SEED={seed})")
    feed = {d["name"]: rng.uniform(0, 1, d["shape"]).astype(d["dtype"])
            for d in interp.get_input_details()}
    try:
        got, _ = K.run_kiln(path, feed, tmp_path / "kiln", kiln_bin=kiln_bin)
    except K.KilnError as error:
        missing = [op for op in hist if f"({op}) is not supported" in str(error)]
        if missing:
            pytest.skip(f"kiln lacks {missing} (not part of this work)")
        raise
    ref = _litert_default(reference, feed, reference=True)
    # A whole pretrained network (float16 weights, 11 HARD_SWISH, sigmoid
    # masks): kiln's Winograd and GEMM kernels sum in another order than
    # LiteRT's reference loops, and over 80 layers that reached 1.09e-4 of
    # the largest output on one random input (5.8e-6 on most), so this
    # file is held to 5e-4 rather than the Keras zoo's 1e-4.
    errors = K.compare_outputs(got, ref, tolerance=PRETRAINED_TOLERANCE)
    print(f"against LiteRT's reference kernels: {errors}")
    xnnpack = _litert_default(path, feed)
    loose = {n: K.max_rel_error(got[K.output_file_name(n)], v)
             for n, v in xnnpack.items()}
    print(f"against LiteRT with XNNPACK: {loose}")
    assert all(e <= 1e-3 for e in loose.values()), loose


# ------------------------------------------- TFLite_Detection_PostProcess


def _detection_model(n, classes, background, opts, anchors):
    from flatbuffers import flexbuffers
    options = flexbuffers.Dumps(opts)
    width = classes + background
    m = opts["max_detections"] * opts["max_classes_per_detection"]
    return _custom_model(
        [("TFLite_Detection_PostProcess", options,
          ["box_encodings", "class_predictions", "anchors"],
          ["boxes", "classes", "scores", "count"])],
        [("box_encodings", (1, n, 4), np.float32),
         ("class_predictions", (1, n, width), np.float32)],
        {"anchors": anchors},
        [("boxes", (1, m, 4), np.float32), ("classes", (1, m), np.float32),
         ("scores", (1, m), np.float32), ("count", (1,), np.float32)])


@pytest.mark.parametrize("regular", [False, True], ids=["fast", "regular"])
def test_detection_postprocess_matches_litert(kiln_bin, tmp_path, regular):
    """SSD box decoding and NMS against LiteRT's own kernel, on random
    anchors, encodings and scores. Only the first `count` detections are
    compared: LiteRT leaves the other slots as they were."""
    rng, seed = K.make_rng()
    print(f"seed {seed} (replay with KILN_E2E_SEED={seed})")
    for trial in range(4):
        n = int(rng.integers(1, 300))
        classes = int(rng.integers(1, 8))
        background = int(rng.integers(0, 2))
        per_anchor = int(rng.integers(1, 4))
        opts = {"max_detections": int(rng.integers(1, 20)),
                "max_classes_per_detection": per_anchor,
                "detections_per_class": int(rng.integers(1, 10)),
                "use_regular_nms": regular,
                "nms_score_threshold": float(rng.uniform(0.0, 0.6)),
                "nms_iou_threshold": float(rng.uniform(0.2, 0.8)),
                "num_classes": classes,
                "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0,
                "w_scale": 5.0}
        anchors = np.concatenate(
            [rng.uniform(0, 1, (n, 2)), rng.uniform(0.05, 0.5, (n, 2))],
            axis=1).astype(np.float32)
        path = tmp_path / f"det{trial}.tflite"
        path.write_bytes(_detection_model(n, classes, background, opts,
                                          anchors))
        feed = {"box_encodings":
                rng.normal(0, 0.5, (1, n, 4)).astype(np.float32),
                "class_predictions":
                rng.uniform(0, 1, (1, n, classes + background)).astype(
                    np.float32)}
        ref = _litert_default(path, feed, reference=True)
        got, _ = K.run_kiln(path, feed, tmp_path / f"run{trial}",
                            kiln_bin=kiln_bin)
        count = int(ref["count"][0])
        assert got["count.npy"][0] == ref["count"][0], (
            f"kiln found {got['count.npy'][0]}, LiteRT {count}")
        if regular:
            used = list(range(count))
        else:
            # Each anchor reports min(max_classes_per_detection, classes)
            # classes in its max_classes_per_detection slots.
            used = [s for s in range(count * per_anchor)
                    if s % per_anchor < min(per_anchor, classes)]
        for name in ("boxes", "classes", "scores"):
            have = got[f"{name}.npy"][0][used]
            want = ref[name][0][used]
            assert np.array_equal(have, want), (
                f"{name} differ (trial {trial}, {opts}):\n{have}\n{want}")
        print(f"n={n} classes={classes}+{background} {count} detections: "
              "exact")


def _densify_only(data):
    """The model cut down to its DENSIFY operators (and the DEQUANTIZEs of
    their float16 results), whose outputs become the graph's: the sparse
    constants of a real file, expanded, with no other operator needed."""
    S = _schema()
    model = S.ModelT.InitFromObj(S.Model.GetRootAsModel(data, 0))
    sg = model.subgraphs[0]
    code = {i: max(c.builtinCode, c.deprecatedBuiltinCode)
            for i, c in enumerate(model.operatorCodes)}
    densify = [op for op in sg.operators if code[op.opcodeIndex] == 124]
    made = {op.outputs[0] for op in densify}
    dequant = [op for op in sg.operators if code[op.opcodeIndex] == 6
               and op.inputs[0] in made]
    sg.operators = densify + dequant
    ends = {op.inputs[0] for op in dequant}
    sg.outputs = ([t for t in made if t not in ends] +
                  [op.outputs[0] for op in dequant])
    sg.inputs = []
    model.signatureDefs = None
    return K.pack_model_object(model)


@pytest.mark.parametrize("name", [
    "face_detection/face_detection_full_range_sparse.tflite",
    "pose_detection/pose_detection.tflite",
])
def test_pretrained_sparse_constants(kiln_bin, tmp_path, name):
    """MediaPipe's sparse float16 weights, expanded by kiln at load, equal
    LiteRT's DENSIFY of them, bit for bit."""
    root = _mediapipe_models()
    if root is None:
        pytest.skip("mediapipe is not installed (scripts/setup installs it)")
    path = tmp_path / "densify.tflite"
    path.write_bytes(_densify_only((root / name).read_bytes()))
    sparse, csr = _sparsity_of(path)
    hist = K.op_histogram(path)
    print(f"{name}: {sparse} sparse tensors, {csr} CSR levels, {dict(hist)}")
    assert sparse > 0 and hist.get("DENSIFY", 0) == sparse
    ref = _litert_default(path, {}, reference=True)
    got, _ = K.run_kiln(path, {}, tmp_path / "kiln", kiln_bin=kiln_bin)
    assert len(got) == len(ref)
    for out_name, want in ref.items():
        have = got[K.output_file_name(out_name)]
        assert have.dtype == want.dtype and have.shape == want.shape, out_name
        assert np.array_equal(have.view(np.uint8), want.view(np.uint8)), (
            f"{out_name} differs")
    print(f"{len(ref)} expanded tensors equal LiteRT's")


def _converted_ssd(directory, n, classes, regular, seed):
    """A small SSD head (dense layers to box encodings and class scores)
    whose post-processing is a tf.function implementing
    TFLite_Detection_PostProcess, as TF's object detection export writes it:
    the converter fuses it into the custom operator and writes its
    FlexBuffers options itself."""
    import contextlib
    import io
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    anchors = np.concatenate(
        [rng.uniform(0, 1, (n, 2)), rng.uniform(0.05, 0.5, (n, 2))],
        axis=1).astype(np.float32)
    max_det = 10
    attrs = [("max_detections", "i", max_det),
             ("max_classes_per_detection", "i", 2),
             ("detections_per_class", "i", 5),
             ("use_regular_nms", "b", "true" if regular else "false"),
             ("nms_score_threshold", "f", 0.3),
             ("nms_iou_threshold", "f", 0.5),
             ("num_classes", "i", classes),
             ("y_scale", "f", 10.0), ("x_scale", "f", 10.0),
             ("h_scale", "f", 5.0), ("w_scale", "f", 5.0)]
    implements = " ".join(
        ['name: "TFLite_Detection_PostProcess"'] +
        ['attr { key: "%s" value { %s: %s } }' % a for a in attrs])

    @tf.function(experimental_implements=implements)
    def postprocess(box_encodings, class_predictions, anchor_boxes):
        m = max_det * 2
        return (tf.zeros([1, m, 4]), tf.zeros([1, m]), tf.zeros([1, m]),
                tf.zeros([1]))

    w_box = tf.constant(rng.normal(0, 0.2, (16, n * 4)).astype(np.float32))
    w_cls = tf.constant(
        rng.normal(0, 0.5, (16, n * (classes + 1))).astype(np.float32))

    class Head(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
        def __call__(self, x):
            enc = tf.reshape(tf.matmul(x, w_box), [1, n, 4])
            cls = tf.sigmoid(tf.reshape(tf.matmul(x, w_cls),
                                        [1, n, classes + 1]))
            return postprocess(enc, cls, tf.constant(anchors))

    head = Head()
    saved = str(directory / "saved")
    tf.saved_model.save(head, saved,
                        signatures=head.__call__.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    converter.allow_custom_ops = True
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


@pytest.mark.parametrize("regular", [False, True], ids=["fast", "regular"])
def test_converted_ssd_postprocess_matches_litert(kiln_bin, tmp_path,
                                                  regular):
    rng, seed = K.make_rng()
    print(f"seed {seed} (replay with KILN_E2E_SEED={seed})")
    path = tmp_path / "ssd.tflite"
    path.write_bytes(_converted_ssd(tmp_path, 200, 5, regular, 7))
    hist = K.op_histogram(path)
    print(dict(hist))
    assert "CUSTOM:TFLite_Detection_PostProcess" in hist, hist
    inputs, _ = K.signature(path)
    for trial in range(3):
        feed = {sig.name: rng.normal(size=sig.shape).astype(np.float32)
                for sig in inputs}
        ref = {K.output_file_name(name): value
               for name, value in K.run_litert(path, feed).items()}
        got, _ = K.run_kiln(path, feed, tmp_path / f"run{trial}",
                            kiln_bin=kiln_bin)
        assert sorted(got) == sorted(ref)
        # Outputs by shape: boxes [1,M,4], count [1]; classes and scores
        # [1,M] in the converter's order, told apart by their values.
        def by_shape(outputs, rank):
            return [v for _, v in sorted(outputs.items())
                    if np.ndim(v) == rank]
        count_ref = by_shape(ref, 1)[0]
        count_got = by_shape(got, 1)[0]
        assert np.array_equal(count_got, count_ref), (count_got, count_ref)
        n_slots = int(count_ref[0]) * (1 if regular else 2)
        # The head's FULLY_CONNECTED and LOGISTIC round a little
        # differently from LiteRT's, so boxes and scores agree to 1e-5 and
        # the detections (count, order, classes) exactly.
        for rank in (2, 3):
            for have, want in zip(by_shape(got, rank), by_shape(ref, rank)):
                have, want = have[0][:n_slots], want[0][:n_slots]
                if np.all(want == np.round(want)) and rank == 2:
                    assert np.array_equal(have, want), (have, want)
                else:
                    assert K.max_rel_error(have, want) <= 1e-5, (have, want)
        print(f"trial {trial}: {int(count_ref[0])} detections")
