"""build.py - writes small .tflite models with the flatbuffer object API.

The conformance suite needs models the converter would never emit (any
operator with any tensor type, options and quantization), so it writes them
directly: a Graph collects tensors and operators by index, and build_model()
packs one or more Graphs (subgraph 0 first, then the bodies that WHILE, IF,
CALL_ONCE ... refer to by index) into the bytes of a .tflite file with the
schema's generated object API (ModelT, SubGraphT, OperatorT, TensorT,
BufferT) and the `flatbuffers` package. LiteRT's Python package ships the
same generated schema module as TensorFlow (it loads in a fraction of the
time), so it is used when present.
"""

import dataclasses
import hashlib
from typing import List, Optional, Sequence

import flatbuffers
import numpy as np

try:  # the schema LiteRT itself was built with
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # pragma: no cover - TensorFlow's copy of the same file
    import importlib
    schema = importlib.import_module(
        "tensorflow.lite.python.schema_py_generated")

# Tensor type names -> (schema TensorType, numpy dtype or None).
TYPES = {
    "float32": (schema.TensorType.FLOAT32, np.float32),
    "float16": (schema.TensorType.FLOAT16, np.float16),
    "float64": (schema.TensorType.FLOAT64, np.float64),
    "int8": (schema.TensorType.INT8, np.int8),
    "uint8": (schema.TensorType.UINT8, np.uint8),
    "int16": (schema.TensorType.INT16, np.int16),
    "uint16": (schema.TensorType.UINT16, np.uint16),
    "int32": (schema.TensorType.INT32, np.int32),
    "uint32": (schema.TensorType.UINT32, np.uint32),
    "int64": (schema.TensorType.INT64, np.int64),
    "uint64": (schema.TensorType.UINT64, np.uint64),
    "bool": (schema.TensorType.BOOL, np.bool_),
    "complex64": (schema.TensorType.COMPLEX64, np.complex64),
    "string": (schema.TensorType.STRING, None),
    "resource": (schema.TensorType.RESOURCE, None),
}

# Operator codes above this one are stored in builtin_code only, with the
# old int8 field holding the placeholder (the schema's compatibility rule).
PLACEHOLDER_CODE = schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES


def builtin_code(name: str) -> int:
    return getattr(schema.BuiltinOperator, name)


def option_types(options) -> tuple:
    """(builtin_options_type, builtin_options2_type) for an options object:
    the class AddOptionsT is the union member AddOptions of BuiltinOptions
    (or of BuiltinOptions2, where the StableHLO ones live)."""
    if options is None:
        return 0, 0
    member = type(options).__name__[:-1]  # drop the object API's "T"
    if hasattr(schema.BuiltinOptions, member):
        return getattr(schema.BuiltinOptions, member), 0
    if hasattr(schema.BuiltinOptions2, member):
        return 0, getattr(schema.BuiltinOptions2, member)
    raise ValueError(f"{type(options).__name__} is in neither options union")


def string_buffer(strings: Sequence[bytes]) -> bytes:
    """A STRING tensor's bytes: count, offsets (count + 1), then the data."""
    header = 4 * (len(strings) + 2)
    offsets, pos = [], header
    for s in strings:
        offsets.append(pos)
        pos += len(s)
    offsets.append(pos)
    return (np.array([len(strings)] + offsets, np.int32).tobytes() +
            b"".join(strings))


@dataclasses.dataclass
class Quant:
    """Affine quantization: per-tensor (one scale) or per-axis."""
    scale: Sequence[float]
    zero_point: Sequence[int]
    axis: int = 0


@dataclasses.dataclass
class Tensor:
    name: str
    dtype: str
    shape: Sequence[int]
    data: Optional[object] = None  # numpy array, or list of bytes (STRING)
    quant: Optional[Quant] = None
    signature: Optional[Sequence[int]] = None  # shape_signature (-1 dynamic)
    variable: bool = False
    sparsity: object = None  # a schema SparsityParametersT


@dataclasses.dataclass
class Op:
    code: str  # BuiltinOperator name
    inputs: List[int]  # tensor indices, -1 for an omitted optional input
    outputs: List[int]
    options: object = None  # a schema ...OptionsT object
    version: int = 1
    intermediates: List[int] = dataclasses.field(default_factory=list)


class Graph:
    """One subgraph under construction."""

    def __init__(self, name: str = "main"):
        self.name = name
        self.tensors: List[Tensor] = []
        self.ops: List[Op] = []
        self.inputs: List[int] = []
        self.outputs: List[int] = []

    def tensor(self, dtype: str, shape, name: Optional[str] = None,
               data=None, quant: Optional[Quant] = None, signature=None,
               variable: bool = False) -> int:
        index = len(self.tensors)
        self.tensors.append(Tensor(name or f"t{index}", dtype,
                                   [int(d) for d in shape], data, quant,
                                   signature, variable))
        return index

    def input(self, dtype: str, shape, quant: Optional[Quant] = None,
              signature=None) -> int:
        index = self.tensor(dtype, shape, f"in{len(self.inputs)}",
                            quant=quant, signature=signature)
        self.inputs.append(index)
        return index

    def const(self, dtype: str, value, quant: Optional[Quant] = None,
              shape=None) -> int:
        if dtype == "string":
            strings = [v if isinstance(v, bytes) else str(v).encode()
                       for v in value]
            return self.tensor(dtype, shape if shape is not None
                               else [len(strings)], data=strings, quant=quant)
        array = np.asarray(value, dtype=TYPES[dtype][1])
        return self.tensor(dtype, array.shape if shape is None else shape,
                           data=array, quant=quant)

    def output(self, index: int) -> int:
        """Marks tensor `index` as a graph output, named out<k>."""
        self.tensors[index].name = f"out{len(self.outputs)}"
        self.outputs.append(index)
        return index

    def op(self, code: str, inputs, outputs, options=None, version: int = 1,
           intermediates=()) -> None:
        self.ops.append(Op(code, list(inputs), list(outputs), options,
                           version, list(intermediates)))


def _pack_tensor(t: Tensor, buffers: list) -> "schema.TensorT":
    out = schema.TensorT()
    out.name = t.name
    out.type = TYPES[t.dtype][0]
    out.shape = np.array(t.shape, np.int32)
    if t.signature is not None:
        out.shapeSignature = np.array(t.signature, np.int32)
    out.isVariable = t.variable
    out.sparsity = t.sparsity
    out.buffer = 0
    if t.data is not None:
        buffer = schema.BufferT()
        raw = (string_buffer(t.data) if t.dtype == "string"
               else np.ascontiguousarray(t.data).tobytes())
        buffer.data = np.frombuffer(raw, np.uint8) if raw else None
        out.buffer = len(buffers)
        buffers.append(buffer)
    if t.quant is not None:
        q = schema.QuantizationParametersT()
        q.scale = np.array(t.quant.scale, np.float32)
        q.zeroPoint = np.array(t.quant.zero_point, np.int64)
        q.quantizedDimension = t.quant.axis
        out.quantization = q
    return out


def build_model(graphs: Sequence[Graph]) -> bytes:
    """The .tflite bytes of a model whose subgraphs are `graphs`."""
    model = schema.ModelT()
    model.version = 3
    model.description = "kiln conformance case"
    model.buffers = [schema.BufferT()]  # buffer 0: the empty sentinel
    model.operatorCodes, model.subgraphs = [], []
    codes = {}
    for graph in graphs:
        sub = schema.SubGraphT()
        sub.name = graph.name
        sub.tensors = [_pack_tensor(t, model.buffers) for t in graph.tensors]
        sub.inputs = np.array(graph.inputs, np.int32)
        sub.outputs = np.array(graph.outputs, np.int32)
        sub.operators = []
        for op in graph.ops:
            key = (op.code, op.version)
            if key not in codes:
                code = schema.OperatorCodeT()
                code.builtinCode = builtin_code(op.code)
                code.deprecatedBuiltinCode = min(code.builtinCode,
                                                 PLACEHOLDER_CODE)
                code.version = op.version
                codes[key] = len(model.operatorCodes)
                model.operatorCodes.append(code)
            o = schema.OperatorT()
            o.opcodeIndex = codes[key]
            o.inputs = np.array(op.inputs, np.int32)
            o.outputs = np.array(op.outputs, np.int32)
            if op.intermediates:
                o.intermediates = np.array(op.intermediates, np.int32)
            kind1, kind2 = option_types(op.options)
            if kind1:
                o.builtinOptionsType, o.builtinOptions = kind1, op.options
            if kind2:
                o.builtinOptions2Type, o.builtinOptions2 = kind2, op.options
            sub.operators.append(o)
        model.subgraphs.append(sub)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def model_key(data: bytes) -> str:
    """The cache key of a model: a hash of its bytes."""
    return hashlib.sha256(data).hexdigest()[:20]
