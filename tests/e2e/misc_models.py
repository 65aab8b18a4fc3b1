"""misc_models.py - one-operator .tflite files written directly with the
flatbuffers object API of the TFLite schema, for builtins TF's converter
does not emit (the StableHLO operators LiteRT runs, HASHTABLE_LOOKUP, ...).

one_op() takes the operator's inputs in order, each a graph input (data
None) or a constant (its array), and its outputs, and writes a model with
one subgraph and a serving_default signature naming the graph inputs and
outputs.
"""
from typing import Optional, Sequence, Tuple

import numpy as np


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


_TYPES = {
    "float32": "FLOAT32", "float16": "FLOAT16", "float64": "FLOAT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "uint8": "UINT8", "bool": "BOOL", "complex64": "COMPLEX64",
}

Input = Tuple[str, Sequence[int], str, Optional[np.ndarray]]
Output = Tuple[str, Sequence[int], str]


def builtin_code(name: str) -> int:
    return getattr(_schema().BuiltinOperator, name)


def one_op(op: str, inputs: Sequence[Input], outputs: Sequence[Output],
           options_type: int = 0, options=None, options2_type: int = 0,
           options2=None) -> bytes:
    """options go in the BuiltinOptions union, options2 in BuiltinOptions2
    (operators from 2023 on)."""
    import flatbuffers
    schema = _schema()
    code = builtin_code(op)
    model = schema.ModelT()
    model.version = 3
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = code
    opcode.deprecatedBuiltinCode = min(code, 127)
    opcode.version = 1
    model.operatorCodes = [opcode]
    buffers = [schema.BufferT()]
    tensors, graph_inputs = [], []

    def tensor(name, shape, dtype):
        t = schema.TensorT()
        t.name = name
        t.shape = [int(d) for d in shape]
        t.type = getattr(schema.TensorType, _TYPES[dtype])
        t.buffer = 0
        tensors.append(t)
        return t

    for name, shape, dtype, data in inputs:
        t = tensor(name, shape, dtype)
        if data is None:
            graph_inputs.append(len(tensors) - 1)
        else:
            b = schema.BufferT()
            b.data = np.frombuffer(
                np.ascontiguousarray(data, dtype).tobytes(), np.uint8)
            buffers.append(b)
            t.buffer = len(buffers) - 1
    out_ids = []
    for name, shape, dtype in outputs:
        tensor(name, shape, dtype)
        out_ids.append(len(tensors) - 1)
    node = schema.OperatorT()
    node.opcodeIndex = 0
    node.inputs = list(range(len(inputs)))
    node.outputs = out_ids
    node.builtinOptionsType = options_type
    node.builtinOptions = options
    node.builtinOptions2Type = options2_type
    node.builtinOptions2 = options2
    graph = schema.SubGraphT()
    graph.tensors = tensors
    graph.inputs = graph_inputs
    graph.outputs = out_ids
    graph.operators = [node]
    graph.name = "main"
    model.subgraphs = [graph]
    model.buffers = buffers

    def tensor_map(index):
        m = schema.TensorMapT()
        m.name = tensors[index].name
        m.tensorIndex = index
        return m

    sig = schema.SignatureDefT()
    sig.signatureKey = "serving_default"
    sig.subgraphIndex = 0
    sig.inputs = [tensor_map(i) for i in graph_inputs]
    sig.outputs = [tensor_map(i) for i in out_ids]
    model.signatureDefs = [sig]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())
