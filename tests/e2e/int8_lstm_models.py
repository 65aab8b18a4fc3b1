"""int8_lstm_models.py - integer (8x8_16) LSTM models made by TensorFlow's
own post-training quantizer.

TF 2.21's converter turns Keras 3 LSTM layers into WHILE loops, never the
fused LSTM operators (recurrent_models.py), so the float one-operator
models of recurrent_models.py are handed to TensorFlow's calibrator
(tensorflow.lite.python.optimize.calibrator, the quantizer behind
`converter.representative_dataset`) with a representative dataset: it
records the gates' ranges in the five intermediate tensors TFLite's
integer LSTM needs (added here, as the converter adds them to the LSTMs it
fuses) and writes int8 weights and activations, int16 cell state and int32
biases, with float or int8 inputs and outputs.
"""

from typing import Dict, Tuple

import numpy as np

import recurrent_models as rm

INTERMEDIATES = 5


def _with_intermediates(model: bytes) -> bytes:
    """The model with five float intermediate tensors on its operator."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    g = m.subgraphs[0]
    ids = []
    for k in range(INTERMEDIATES):
        t = schema.TensorT()
        t.name = f"intermediate_{k}"
        t.shape = []
        t.type = schema.TensorType.FLOAT32
        t.buffer = 0
        g.tensors.append(t)
        ids.append(len(g.tensors) - 1)
    g.operators[0].intermediates = ids
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def quantized_lstm(rng: np.random.Generator, *, io: str = "float",
                   calibration: int = 16, **shape
                   ) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """A float LSTM (recurrent_models.lstm_model's keywords) quantized to
    TFLite's integer LSTM; io is "float" (QUANTIZE / DEQUANTIZE around it)
    or "int8". Returns the model and one random input per graph input."""
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator
    model, feeds = rm.lstm_model(rng, **shape)
    model = _with_intermediates(model)

    def dataset():
        for _ in range(calibration):
            yield [rng.standard_normal(v.shape).astype(np.float32)
                   for v in feeds.values()]

    io_type = tf.float32 if io == "float" else tf.int8
    quantized = calibrator.Calibrator(model).calibrate_and_quantize(
        dataset, io_type, io_type, False, tf.int8)
    return bytes(quantized), feeds


def random_inputs(model: bytes, rng: np.random.Generator
                  ) -> Dict[str, np.ndarray]:
    """Fresh random inputs of the model's input types, by name."""
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_content=model)
    feeds = {}
    for d in interp.get_input_details():
        shape = tuple(int(s) for s in d["shape"])
        if d["dtype"] == np.float32:
            feeds[d["name"]] = rng.standard_normal(shape).astype(np.float32)
        else:
            info = np.iinfo(d["dtype"])
            feeds[d["name"]] = rng.integers(info.min, info.max + 1, shape
                                            ).astype(d["dtype"])
    return feeds


def run_litert(model: bytes, feeds: Dict[str, np.ndarray], invokes: int,
               reference: bool) -> Dict[str, np.ndarray]:
    """The outputs of the last of `invokes` invokes (state carried), with
    LiteRT's reference kernels (BUILTIN_REF) or its default ones."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kind = (OpResolverType.BUILTIN_REF if reference
            else OpResolverType.AUTO)
    interp = Interpreter(model_content=model,
                         experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], feeds[d["name"]])
    for _ in range(invokes):
        interp.invoke()
    return {d["name"]: np.array(interp.get_tensor(d["index"]))
            for d in interp.get_output_details()}


def lstm_output_scale(model: bytes) -> float:
    """The scale of the LSTM operator's (int8) output."""
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    g = m.subgraphs[0]
    lstm_codes = (schema.BuiltinOperator.LSTM,
                  schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM)
    for op in g.operators:
        if m.operatorCodes[op.opcodeIndex].builtinCode in lstm_codes:
            return float(g.tensors[op.outputs[0]].quantization.scale[0])
    raise ValueError("the model has no LSTM")


def lstm_input_types(model: bytes) -> Tuple[int, int]:
    """The schema types of the LSTM's input and cell state."""
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    g = m.subgraphs[0]
    for op in g.operators:
        if len(op.inputs) >= 20:
            return (g.tensors[op.inputs[0]].type,
                    g.tensors[op.inputs[19]].type)
    raise ValueError("the model has no LSTM")
