"""The data-movement and indexing operators of issue 9, end to end: small
tf.function models, converted by TensorFlow's converter at test time (the
test also checks the converter emitted the operator meant), run by `kiln
run` and by LiteRT on the same fresh random inputs. Floats must agree to
1e-5 relative, integers exactly.

Each case builds its own model: a function, its input signature, a maker
of valid random inputs (indices within range and so on), and the builtin
operators the converted file must contain."""
import contextlib
import dataclasses
import io
from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

import kiln_e2e as K

TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], object]  # -> (function, specs), or a Keras model
    inputs: Callable[[np.random.Generator], Dict[str, np.ndarray]]
    expect_ops: Tuple[str, ...]


def _tf():
    import tensorflow as tf
    return tf


def convert(fn, specs, workdir) -> bytes:
    """fn as .tflite, through a SavedModel so that the file has a
    signature (which names inputs and outputs for both runtimes)."""
    tf = _tf()
    module = tf.Module()
    module.serve = tf.function(fn, input_signature=specs)
    saved = str(workdir / "saved_model")
    with contextlib.redirect_stdout(io.StringIO()):
        tf.saved_model.save(module, saved,
                            signatures=module.serve.get_concrete_function())
        return tf.lite.TFLiteConverter.from_saved_model(saved).convert()


def spec(shape, dtype, name):
    tf = _tf()
    return tf.TensorSpec(shape, getattr(tf, dtype), name=name)


def uniform(rng, shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


# ------------------------------------------------------------ the cases


def dilated_conv():
    """A Keras Conv2D with dilation_rate=2 on a dynamic batch: the
    converter wraps it in SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND."""
    keras = K._keras()
    keras.utils.set_random_seed(1)
    x = inp = keras.Input((13, 11, 3), name="x")
    x = keras.layers.Conv2D(5, 3, dilation_rate=2, padding="same",
                            bias_initializer="uniform")(x)
    return keras.Model(inp, x)


def space_to_batch():
    tf = _tf()
    return ((lambda x: tf.space_to_batch_nd(x, [2, 3], [[1, 2], [2, 0]])),
            [spec((2, 7, 7, 3), "float32", "x")])


def batch_to_space_int():
    tf = _tf()
    return ((lambda x: tf.batch_to_space(x, [2, 2], [[1, 0], [0, 1]])),
            [spec((4, 3, 4, 2), "int32", "x")])


def depth_to_space():
    tf = _tf()
    return ((lambda x: tf.nn.depth_to_space(x, 2)),
            [spec((2, 3, 4, 8), "float32", "x")])


def space_to_depth():
    tf = _tf()
    return ((lambda x: tf.nn.space_to_depth(x, 3)),
            [spec((1, 6, 9, 2), "float32", "x")])


def gather_nd():
    tf = _tf()
    return ((lambda p, i: tf.gather_nd(p, i)),
            [spec((4, 5, 3), "float32", "params"),
             spec((6, 2), "int32", "indices")])


def scatter_nd():
    tf = _tf()
    return ((lambda i, u: tf.scatter_nd(i, u, [4, 5, 3])),
            [spec((6, 2), "int32", "indices"),
             spec((6, 3), "float32", "updates")])


def top_k():
    tf = _tf()
    return ((lambda x: tf.math.top_k(x, 4)),
            [spec((3, 9), "float32", "x")])


def top_k_int():
    tf = _tf()
    return ((lambda x: tf.math.top_k(x, 5)),
            [spec((2, 3, 7), "int32", "x")])


def one_hot():
    tf = _tf()
    return ((lambda i: tf.one_hot(i, 6, on_value=2.5, off_value=-1.0,
                                  axis=1)),
            [spec((3, 4), "int32", "indices")])


def reverse():
    tf = _tf()
    # LiteRT reverses contiguous axes only (kiln any set)
    return ((lambda x: tf.reverse(x, [1, 2])),
            [spec((3, 4, 5), "float32", "x")])


def unsorted_segments():
    tf = _tf()
    m = tf.math
    return ((lambda x, s: (m.unsorted_segment_sum(x, s, 5),
                           m.unsorted_segment_prod(x, s, 5),
                           m.unsorted_segment_max(x, s, 5),
                           m.unsorted_segment_min(x, s, 5))),
            [spec((7, 3), "float32", "data"), spec((7,), "int32", "ids")])


def segment_sum():
    tf = _tf()
    # LiteRT needs ids that step by 0 or 1 (kiln takes any sorted ids)
    ids = tf.constant([0, 0, 1, 2, 2, 2])
    return ((lambda x: tf.math.segment_sum(x, ids)),
            [spec((6, 4), "float32", "data")])


def matrix_diag():
    tf = _tf()
    return ((lambda d: tf.linalg.diag(d)), [spec((2, 5), "float32", "d")])


def matrix_set_diag():
    tf = _tf()
    return ((lambda x, d: tf.linalg.set_diag(x, d)),
            [spec((2, 4, 6), "float32", "x"), spec((2, 4), "float32", "d")])


def broadcast_args():
    tf = _tf()
    return ((lambda a, b: tf.broadcast_dynamic_shape(a, b)),
            [spec((4,), "int32", "a"), spec((2,), "int32", "b")])


def sparse_to_dense():
    tf = _tf()
    return ((lambda i, v: tf.raw_ops.SparseToDense(
                sparse_indices=i, output_shape=[5, 6], sparse_values=v,
                default_value=-2.0, validate_indices=False)),
            [spec((4, 2), "int32", "indices"), spec((4,), "float32", "v")])


def local_response_norm():
    tf = _tf()
    return ((lambda x: tf.nn.local_response_normalization(x, 2, 1.5, 0.3,
                                                          0.75)),
            [spec((2, 3, 4, 9), "float32", "x")])


def where_of_shape():
    """WHERE on values kiln knows at prepare (from the input's shape)."""
    tf = _tf()
    return ((lambda x: tf.where(tf.shape(x) > 2)),
            [spec((None, 3, 1, 5), "float32", "x")])


def unique_of_shape():
    """UNIQUE on values kiln knows at prepare (the input's shape)."""
    tf = _tf()
    return ((lambda x: tf.unique(tf.shape(x))),
            [spec((None, 3, 3, 5), "float32", "x")])


def dynamic_update_slice():
    """XLA's DynamicUpdateSlice, which the converter maps to the builtin."""
    tf = _tf()
    from tensorflow.compiler.tf2xla.python import xla
    return ((lambda x, u, s: xla.dynamic_update_slice(x, u, s)),
            [spec((4, 5, 3), "float32", "x"), spec((2, 3, 3), "float32", "u"),
             spec((3,), "int32", "start")])


def gather_batch_dims():
    """GATHER with batch_dims (kiln had it; checked here against LiteRT)."""
    tf = _tf()
    return ((lambda p, i: tf.gather(p, i, axis=2, batch_dims=1)),
            [spec((2, 3, 5, 4), "float32", "params"),
             spec((2, 6), "int32", "indices")])


def resize_variants():
    """RESIZE_* with half_pixel_centers and align_corners (kiln had
    them; checked here against LiteRT)."""
    tf = _tf()
    v1 = tf.compat.v1.image
    return ((lambda x: (
        v1.resize_bilinear(x, [7, 9], half_pixel_centers=True),
        v1.resize_bilinear(x, [7, 9], align_corners=True),
        v1.resize_nearest_neighbor(x, [7, 9], half_pixel_centers=True),
        v1.resize_nearest_neighbor(x, [7, 9], align_corners=True))),
            [spec((2, 4, 5, 3), "float32", "x")])


def ints(rng, shape, dtype, low=-100, high=100):
    info = np.iinfo(dtype)
    return rng.integers(max(low, info.min), min(high, info.max), shape,
                        dtype=dtype)


def typed(fn, *specs):
    """A case builder for fn over the (shape, dtype, name) specs."""
    return lambda: (fn(_tf()), [spec(*s) for s in specs])


def index_pairs(rng, rows, limits):
    return np.stack([rng.integers(0, n, rows) for n in limits],
                    axis=1).astype(np.int32)


CASES: List[Case] = [
    Case("dilated_conv", dilated_conv,
         lambda rng: {"x": uniform(rng, (2, 13, 11, 3))},
         ("SPACE_TO_BATCH_ND", "CONV_2D", "BATCH_TO_SPACE_ND")),
    Case("space_to_batch", space_to_batch,
         lambda rng: {"x": uniform(rng, (2, 7, 7, 3))},
         ("SPACE_TO_BATCH_ND",)),
    Case("batch_to_space_int", batch_to_space_int,
         lambda rng: {"x": rng.integers(-99, 99, (4, 3, 4, 2), np.int32)},
         ("BATCH_TO_SPACE_ND",)),
    Case("depth_to_space", depth_to_space,
         lambda rng: {"x": uniform(rng, (2, 3, 4, 8))}, ("DEPTH_TO_SPACE",)),
    Case("space_to_depth", space_to_depth,
         lambda rng: {"x": uniform(rng, (1, 6, 9, 2))}, ("SPACE_TO_DEPTH",)),
    Case("gather_nd", gather_nd,
         lambda rng: {"params": uniform(rng, (4, 5, 3)),
                      "indices": index_pairs(rng, 6, (4, 5))},
         ("GATHER_ND",)),
    Case("scatter_nd", scatter_nd,
         lambda rng: {"indices": index_pairs(rng, 6, (4, 5)),
                      "updates": uniform(rng, (6, 3))},
         ("SCATTER_ND",)),
    Case("top_k", top_k, lambda rng: {"x": uniform(rng, (3, 9))},
         ("TOPK_V2",)),
    # small integers: ties, which must keep the lower index first
    Case("top_k_int", top_k_int,
         lambda rng: {"x": rng.integers(-3, 3, (2, 3, 7), np.int32)},
         ("TOPK_V2",)),
    Case("one_hot", one_hot,
         lambda rng: {"indices": rng.integers(-1, 7, (3, 4), np.int32)},
         ("ONE_HOT",)),
    Case("reverse", reverse, lambda rng: {"x": uniform(rng, (3, 4, 5))},
         ("REVERSE_V2",)),
    # id -1 drops its row in both
    Case("unsorted_segments", unsorted_segments,
         lambda rng: {"data": uniform(rng, (7, 3)),
                      "ids": rng.integers(-1, 4, (7,), np.int32)},
         ("UNSORTED_SEGMENT_SUM", "UNSORTED_SEGMENT_PROD",
          "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN")),
    Case("segment_sum", segment_sum,
         lambda rng: {"data": uniform(rng, (6, 4))}, ("SEGMENT_SUM",)),
    Case("matrix_diag", matrix_diag, lambda rng: {"d": uniform(rng, (2, 5))},
         ("MATRIX_DIAG",)),
    Case("matrix_set_diag", matrix_set_diag,
         lambda rng: {"x": uniform(rng, (2, 4, 6)),
                      "d": uniform(rng, (2, 4))}, ("MATRIX_SET_DIAG",)),
    Case("broadcast_args", broadcast_args,
         # LiteRT aborts on shapes that do not broadcast: a[-1] is 1 or 7
         lambda rng: {"a": np.array([*rng.integers(1, 5, 3),
                                     rng.choice([1, 7])], np.int32),
                      "b": np.array([1, 7], np.int32)},
         ("BROADCAST_ARGS",)),
    Case("sparse_to_dense", sparse_to_dense,
         lambda rng: {"indices": np.stack(np.unravel_index(
                          rng.choice(30, 4, replace=False), (5, 6)),
                          axis=1).astype(np.int32),
                      "v": uniform(rng, (4,))}, ("SPARSE_TO_DENSE",)),
    Case("local_response_norm", local_response_norm,
         lambda rng: {"x": uniform(rng, (2, 3, 4, 9))},
         ("LOCAL_RESPONSE_NORMALIZATION",)),
    Case("where_of_shape", where_of_shape,
         lambda rng: {"x": uniform(rng, (int(rng.integers(1, 5)), 3, 1, 5))},
         ("WHERE",)),
    Case("unique_of_shape", unique_of_shape,
         lambda rng: {"x": uniform(rng, (int(rng.integers(1, 5)), 3, 3, 5))},
         ("UNIQUE",)),
    # start indices partly out of range: both clamp them
    Case("dynamic_update_slice", dynamic_update_slice,
         lambda rng: {"x": uniform(rng, (4, 5, 3)),
                      "u": uniform(rng, (2, 3, 3)),
                      "start": rng.integers(-2, 6, (3,)).astype(np.int32)},
         ("DYNAMIC_UPDATE_SLICE",)),
    Case("gather_batch_dims", gather_batch_dims,
         lambda rng: {"params": uniform(rng, (2, 3, 5, 4)),
                      "indices": rng.integers(0, 5, (2, 6), np.int32)},
         ("GATHER",)),
    # Types other than float32 the converter emits these operators with
    # (int8/int16 space/batch models it only writes quantized).
    Case("depth_to_space_int64",
         typed(lambda tf: lambda x: tf.nn.depth_to_space(x, 2),
               ((1, 2, 3, 8), "int64", "x")),
         lambda rng: {"x": ints(rng, (1, 2, 3, 8), np.int64)},
         ("DEPTH_TO_SPACE",)),
    Case("reverse_bool",
         typed(lambda tf: lambda x: tf.reverse(x, [1]),
               ((3, 4), "bool", "x")),
         lambda rng: {"x": rng.integers(0, 2, (3, 4)).astype(bool)},
         ("REVERSE_V2",)),
    Case("gather_nd_int8",
         typed(lambda tf: lambda p, i: tf.gather_nd(p, i),
               ((4, 5), "int8", "p"), ((3, 2), "int64", "i")),
         lambda rng: {"p": ints(rng, (4, 5), np.int8),
                      "i": index_pairs(rng, 3, (4, 5)).astype(np.int64)},
         ("GATHER_ND",)),
    Case("top_k_uint8",
         typed(lambda tf: lambda x: tf.math.top_k(x, 3),
               ((2, 6), "uint8", "x")),
         lambda rng: {"x": ints(rng, (2, 6), np.uint8, 0, 6)},
         ("TOPK_V2",)),
    Case("one_hot_bool",
         typed(lambda tf: lambda i: tf.one_hot(i, 4, on_value=True,
                                               off_value=False),
               ((3,), "int64", "i")),
         lambda rng: {"i": rng.integers(-1, 5, (3,))}, ("ONE_HOT",)),
    Case("matrix_diag_int32",
         typed(lambda tf: lambda d: tf.linalg.diag(d), ((2, 3), "int32", "d")),
         lambda rng: {"d": ints(rng, (2, 3), np.int32)}, ("MATRIX_DIAG",)),
    Case("scatter_nd_int64",
         typed(lambda tf: lambda i, u: tf.scatter_nd(i, u, [4, 3]),
               ((5, 1), "int32", "i"), ((5, 3), "int64", "u")),
         lambda rng: {"i": rng.integers(0, 4, (5, 1)).astype(np.int32),
                      "u": ints(rng, (5, 3), np.int64)}, ("SCATTER_ND",)),
    Case("unsorted_segment_min_int32",
         typed(lambda tf: lambda x, s: tf.math.unsorted_segment_min(x, s, 3),
               ((5, 2), "int32", "x"), ((5,), "int32", "s")),
         lambda rng: {"x": ints(rng, (5, 2), np.int32),
                      "s": rng.integers(0, 3, (5,)).astype(np.int32)},
         ("UNSORTED_SEGMENT_MIN",)),
    Case("resize_variants", resize_variants,
         lambda rng: {"x": uniform(rng, (2, 4, 5, 3))},
         ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("movement_models")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_movement_op_matches_litert(case, kiln_bin, model_dir, tmp_path):
    path = model_dir / f"{case.name}.tflite"
    if not path.exists():
        built = case.build()
        path.write_bytes(K.convert(built, "float32")
                         if not isinstance(built, tuple) else
                         convert(*built, tmp_path))
    ops = K.op_histogram(path)
    for op in case.expect_ops:
        assert ops[op] >= 1, f"converter emitted {dict(ops)}, no {op}"
    rng, seed = K.make_rng()
    print(f"seed {seed}")
    for _ in range(2):  # two draws: indices differ between them
        inputs = case.inputs(rng)
        reference = K.run_litert(path, inputs)
        got, _ = K.run_kiln(path, inputs, tmp_path, kiln_bin=kiln_bin)
        K.compare_outputs(got, reference, tolerance=TOLERANCE)


def test_where_of_runtime_values_matches_litert(kiln_bin, model_dir,
                                               tmp_path):
    """WHERE on values known only at invoke: kiln sizes its output at
    invoke (it refused this before outputs could be sized at invoke);
    tests/e2e/test_sized_at_invoke.py covers more such models."""
    tf = _tf()
    path = model_dir / "where_runtime.tflite"
    path.write_bytes(convert(lambda x: tf.where(x > 0),
                             [spec((3, 4), "float32", "x")], tmp_path))
    assert K.op_histogram(path)["WHERE"] == 1
    rng, seed = K.make_rng()
    print(f"seed {seed}")
    for _ in range(3):
        inputs = {"x": uniform(rng, (3, 4))}
        reference = K.run_litert(path, inputs)
        got, _ = K.run_kiln(path, inputs, tmp_path, kiln_bin=kiln_bin)
        K.compare_outputs(got, reference, tolerance=TOLERANCE)


# ------------------------------------------------- hand-built models
#
# Forms TensorFlow's converter does not write from a float tf.function:
# quantized int8/uint8 data movement (it writes those only inside fully
# quantized models), the hybrid EMBEDDING_LOOKUP (it emits GATHER) and
# L2_POOL_2D. Built directly with the schema's object API: one operator,
# its constants in buffers, a signature for both runtimes.


@dataclasses.dataclass
class T:
    """A tensor of a hand-built model: data makes it a constant."""
    name: str
    shape: Tuple[int, ...]
    dtype: str  # numpy name
    quant: Tuple = ()  # (scales, zero points[, axis])
    data: object = None


def one_op_model(op: str, inputs: List[T], outputs: List[T],
                 options_type: str = "", options=None) -> bytes:
    from ai_edge_litert import schema_py_generated as schema
    types = {"float32": schema.TensorType.FLOAT32,
             "int8": schema.TensorType.INT8,
             "uint8": schema.TensorType.UINT8,
             "int16": schema.TensorType.INT16,
             "int32": schema.TensorType.INT32,
             "int64": schema.TensorType.INT64}
    code = getattr(schema.BuiltinOperator, op)
    model = schema.ModelT()
    model.version = 3
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = code
    opcode.deprecatedBuiltinCode = min(code, 127)
    opcode.version = 1
    model.operatorCodes = [opcode]
    model.buffers = [schema.BufferT()]
    graph = schema.SubGraphT()
    graph.tensors = []
    for t in inputs + outputs:
        tensor = schema.TensorT()
        tensor.name = t.name
        tensor.shape = list(t.shape)
        tensor.type = types[t.dtype]
        tensor.buffer = 0
        if t.quant:
            q = schema.QuantizationParametersT()
            q.scale = list(t.quant[0])
            q.zeroPoint = list(t.quant[1])
            q.quantizedDimension = t.quant[2] if len(t.quant) > 2 else 0
            tensor.quantization = q
        if t.data is not None:
            buffer = schema.BufferT()
            buffer.data = list(np.asarray(t.data, t.dtype).tobytes())
            tensor.buffer = len(model.buffers)
            model.buffers.append(buffer)
        graph.tensors.append(tensor)
    variable = [i for i, t in enumerate(inputs) if t.data is None]
    graph.inputs = variable
    graph.outputs = [len(inputs) + i for i in range(len(outputs))]
    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    operator.inputs = list(range(len(inputs)))
    operator.outputs = graph.outputs
    if options_type:
        operator.builtinOptionsType = getattr(schema.BuiltinOptions,
                                              options_type)
        operator.builtinOptions = options
    graph.operators = [operator]
    model.subgraphs = [graph]

    def maps(indices):
        result = []
        for i in indices:
            m = schema.TensorMapT()
            m.name = graph.tensors[i].name
            m.tensorIndex = i
            result.append(m)
        return result

    signature = schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.inputs = maps(graph.inputs)
    signature.outputs = maps(graph.outputs)
    model.signatureDefs = [signature]
    return K.pack_model_object(model)


def options(name, **fields):
    from ai_edge_litert import schema_py_generated as schema
    value = getattr(schema, name + "T")()
    for key, v in fields.items():
        setattr(value, key, v)
    return value


Q = ([0.05], [-7])  # int8 quantization shared by input and output


def quantized_space_to_batch():
    return one_op_model(
        "SPACE_TO_BATCH_ND",
        [T("x", (2, 5, 4, 3), "int8", Q),
         T("block", (2,), "int32", data=[2, 3]),
         T("pads", (2, 2), "int32", data=[[1, 0], [0, 2]])],
        [T("y", (12, 3, 2, 3), "int8", Q)])


def quantized_batch_to_space():
    return one_op_model(
        "BATCH_TO_SPACE_ND",
        [T("x", (8, 2, 3, 2), "uint8", ([0.1], [128])),
         T("block", (2,), "int32", data=[2, 2]),
         T("crops", (2, 2), "int32", data=[[0, 1], [1, 1]])],
        [T("y", (2, 3, 4, 2), "uint8", ([0.1], [128]))])


def quantized_depth_to_space():
    return one_op_model(
        "DEPTH_TO_SPACE", [T("x", (1, 2, 3, 12), "int8", Q)],
        [T("y", (1, 4, 6, 3), "int8", Q)], "DepthToSpaceOptions",
        options("DepthToSpaceOptions", blockSize=2))


def hybrid_embedding_lookup():
    rng = np.random.default_rng(5)
    table = rng.integers(-127, 128, (6, 4)).astype(np.int8)
    scales = list(rng.uniform(0.01, 0.2, 6))
    return one_op_model(
        "EMBEDDING_LOOKUP",
        [T("ids", (5,), "int32"),
         T("table", (6, 4), "int8", (scales, [0] * 6, 0), data=table)],
        [T("rows", (5, 4), "float32")])


def l2_pool():
    return one_op_model(
        "L2_POOL_2D", [T("x", (2, 7, 6, 3), "float32")],
        [T("y", (2, 4, 3, 3), "float32")], "Pool2DOptions",
        options("Pool2DOptions", padding=0, strideW=2, strideH=2,
                filterWidth=3, filterHeight=2, fusedActivationFunction=3))


def int8(rng, shape):
    return rng.integers(-128, 128, shape).astype(np.int8)


HAND_BUILT = [
    ("quantized_space_to_batch", quantized_space_to_batch,
     lambda rng: {"x": int8(rng, (2, 5, 4, 3))}),
    ("quantized_batch_to_space", quantized_batch_to_space,
     lambda rng: {"x": rng.integers(0, 256, (8, 2, 3, 2)).astype(np.uint8)}),
    ("quantized_depth_to_space", quantized_depth_to_space,
     lambda rng: {"x": int8(rng, (1, 2, 3, 12))}),
    ("hybrid_embedding_lookup", hybrid_embedding_lookup,
     lambda rng: {"ids": rng.integers(0, 6, (5,)).astype(np.int32)}),
    ("l2_pool", l2_pool, lambda rng: {"x": 3 * uniform(rng, (2, 7, 6, 3))}),
]


@pytest.mark.parametrize("name,build,make_inputs", HAND_BUILT,
                         ids=[c[0] for c in HAND_BUILT])
def test_hand_built_matches_litert(name, build, make_inputs, kiln_bin,
                                   model_dir, tmp_path):
    path = model_dir / f"{name}.tflite"
    path.write_bytes(build())
    rng, seed = K.make_rng()
    print(f"seed {seed}")
    for _ in range(2):
        inputs = make_inputs(rng)
        reference = K.run_litert(path, inputs)
        got, _ = K.run_kiln(path, inputs, tmp_path, kiln_bin=kiln_bin)
        K.compare_outputs(got, reference, tolerance=TOLERANCE)
