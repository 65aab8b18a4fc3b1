"""recurrent_models.py - single-operator .tflite files for TFLite's
recurrent builtins (LSTM, RNN and SVDF families), written directly with
the flatbuffers object API of the TFLite schema.

TensorFlow 2.21's converter does not emit these operators from Keras 3
models (its LSTM, SimpleRNN, GRU and Bidirectional layers become WHILE
loops), so the end-to-end tests build the fused operators as older
converters and hand-written files carry them: random float32 weights,
optional operands omitted as -1, and the states as variable tensors
without buffers, which LiteRT zero-fills and keeps across invokes.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


class OpModel:
    """Builds one operator's model: call input(), const(), variable() and
    omit() in the operator's input order, then finish()."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.tensors = []
        self.buffers = [_schema().BufferT()]  # buffer 0: the empty one
        self.op_inputs: List[int] = []
        self.graph_inputs: List[int] = []
        self.feeds: Dict[str, np.ndarray] = {}

    def _tensor(self, name: str, shape: Sequence[int],
                data: Optional[np.ndarray] = None,
                variable: bool = False,
                scale: Optional[float] = None) -> int:
        schema = _schema()
        t = schema.TensorT()
        t.name = name
        t.shape = [int(d) for d in shape]
        t.type = schema.TensorType.FLOAT32
        t.isVariable = variable
        t.buffer = 0
        if scale is not None:
            t.type = schema.TensorType.INT8
            q = schema.QuantizationParametersT()
            q.scale = [float(scale)]
            q.zeroPoint = [0]
            t.quantization = q
        if data is not None:
            b = schema.BufferT()
            dtype = np.int8 if scale is not None else np.float32
            b.data = np.frombuffer(
                np.ascontiguousarray(data, dtype).tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def input(self, name: str, shape: Sequence[int]) -> None:
        index = self._tensor(name, shape)
        self.graph_inputs.append(index)
        self.op_inputs.append(index)
        self.feeds[name] = self.rng.uniform(-1, 1, shape).astype(np.float32)

    def const(self, name: str, shape: Sequence[int], scale: float = 0.5
              ) -> None:
        data = self.rng.uniform(-scale, scale, shape).astype(np.float32)
        self.op_inputs.append(self._tensor(name, shape, data))

    def weights(self, name: str, shape: Sequence[int], hybrid: bool,
                scale: float = 0.5) -> None:
        """A float32 matrix, or (hybrid) int8 with one symmetric scale, as
        the converter's dynamic-range quantization writes weights."""
        if not hybrid:
            self.const(name, shape, scale)
            return
        q = self.rng.integers(-127, 128, shape).astype(np.int8)
        step = scale / 127.0
        self.op_inputs.append(self._tensor(name, shape, q, scale=step))

    def variable(self, name: str, shape: Sequence[int]) -> None:
        self.op_inputs.append(self._tensor(name, shape, variable=True))

    def omit(self, count: int = 1) -> None:
        self.op_inputs.extend([-1] * count)

    def finish(self, code: int, options_type: int, options,
               outputs: Sequence[Tuple[str, Sequence[int]]]) -> bytes:
        import flatbuffers
        schema = _schema()
        out_ids = [self._tensor(name, shape) for name, shape in outputs]
        op = schema.OperatorT()
        op.opcodeIndex = 0
        op.inputs = list(self.op_inputs)
        op.outputs = out_ids
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        sg = schema.SubGraphT()
        sg.tensors = self.tensors
        sg.inputs = list(self.graph_inputs)
        sg.outputs = out_ids
        sg.operators = [op]
        oc = schema.OperatorCodeT()
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
        oc.version = 1
        model = schema.ModelT()
        model.version = 3
        model.operatorCodes = [oc]
        model.subgraphs = [sg]
        model.buffers = self.buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


# ------------------------------------------------------------------ LSTM


def _lstm_direction(m: OpModel, prefix: str, n_input: int, n_cell: int,
                    n_output: int, cifg: bool, peephole: bool,
                    projection: bool, projection_bias: bool,
                    hybrid: bool = False) -> None:
    """Inputs 1..17 of the LSTM (or one direction of the bidirectional
    one): gate weights, recurrent weights, peepholes, biases, projection."""
    for gate in ("input", "forget", "cell", "output"):
        if gate == "input" and cifg:
            m.omit()
        else:
            m.weights(f"{prefix}{gate}_w", (n_cell, n_input), hybrid)
    for gate in ("input", "forget", "cell", "output"):
        if gate == "input" and cifg:
            m.omit()
        else:
            m.weights(f"{prefix}{gate}_r", (n_cell, n_output), hybrid)
    for gate in ("input", "forget", "output"):
        if peephole and not (gate == "input" and cifg):
            m.weights(f"{prefix}{gate}_peephole", (n_cell,), hybrid)
        else:
            m.omit()
    for gate in ("input", "forget", "cell", "output"):
        if gate == "input" and cifg:
            m.omit()
        else:
            m.const(f"{prefix}{gate}_bias", (n_cell,))
    if projection:
        m.weights(f"{prefix}projection_w", (n_output, n_cell), hybrid)
    else:
        m.omit()
    if projection and projection_bias:
        m.const(f"{prefix}projection_b", (n_output,))
    else:
        m.omit()


def lstm_model(rng, *, sequence: bool, batch: int, time: int, n_input: int,
               n_cell: int, cifg=False, peephole=False, projection=False,
               projection_bias=False, layer_norm=False, time_major=False,
               cell_clip=0.0, proj_clip=0.0, activation=4, hybrid=False,
               asymmetric=False) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """UNIDIRECTIONAL_SEQUENCE_LSTM (sequence) or LSTM (one step);
    hybrid and asymmetric as for rnn_model."""
    schema = _schema()
    n_output = n_cell if not projection else max(1, n_cell - 1)
    m = OpModel(rng)
    if sequence:
        shape = (time, batch, n_input) if time_major else (batch, time,
                                                            n_input)
    else:
        shape = (batch, n_input)
    m.input("x", shape)
    _lstm_direction(m, "", n_input, n_cell, n_output, cifg, peephole,
                    projection, projection_bias, hybrid)
    m.variable("output_state", (batch, n_output))
    m.variable("cell_state", (batch, n_cell))
    for gate in ("input", "forget", "cell", "output"):
        if layer_norm and not (gate == "input" and cifg):
            m.const(f"{gate}_norm", (n_cell,), scale=1.0)
        else:
            m.omit()
    out_shape = shape[:-1] + (n_output,)
    if sequence:
        options = schema.UnidirectionalSequenceLSTMOptionsT()
        options.timeMajor = time_major
        options_type = schema.BuiltinOptions.UnidirectionalSequenceLSTMOptions
        code = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    else:
        options = schema.LSTMOptionsT()
        options_type = schema.BuiltinOptions.LSTMOptions
        code = schema.BuiltinOperator.LSTM
    options.fusedActivationFunction = activation
    options.cellClip = cell_clip
    options.projClip = proj_clip
    options.asymmetricQuantizeInputs = asymmetric
    data = m.finish(code, options_type, options, [("y", out_shape)])
    return data, m.feeds


def bidirectional_lstm_model(rng, *, batch: int, time: int, n_input: int,
                             n_cell: int, merge_outputs: bool,
                             time_major: bool, aux: Optional[str] = None,
                             cifg=False, peephole=False, projection=False,
                             hybrid=False, asymmetric=False
                             ) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """BIDIRECTIONAL_SEQUENCE_LSTM; aux: None, "weights" (an aux input fed
    through aux weights) or "backward" (the backward direction's input);
    hybrid and asymmetric as for rnn_model."""
    schema = _schema()
    n_output = n_cell if not projection else max(1, n_cell - 1)
    n_aux = n_input + 1 if aux == "weights" else n_input
    m = OpModel(rng)
    seq = (time, batch) if time_major else (batch, time)
    m.input("x", seq + (n_input,))
    _lstm_direction(m, "fw_", n_input, n_cell, n_output, cifg, peephole,
                    projection, projection, hybrid)
    _lstm_direction(m, "bw_", n_input, n_cell, n_output, cifg, peephole,
                    projection, False, hybrid)
    m.variable("fw_output_state", (batch, n_output))
    m.variable("fw_cell_state", (batch, n_cell))
    m.variable("bw_output_state", (batch, n_output))
    m.variable("bw_cell_state", (batch, n_cell))
    if aux:
        m.input("aux", seq + (n_aux,))
    else:
        m.omit()
    for prefix in ("fw_", "bw_"):
        for gate in ("input", "forget", "cell", "output"):
            if aux == "weights" and not (gate == "input" and cifg):
                m.weights(f"{prefix}aux_{gate}_w", (n_cell, n_aux), hybrid)
            else:
                m.omit()
    options = schema.BidirectionalSequenceLSTMOptionsT()
    options.fusedActivationFunction = 4
    options.mergeOutputs = merge_outputs
    options.timeMajor = time_major
    options.asymmetricQuantizeInputs = asymmetric
    if merge_outputs:
        outputs = [("y", seq + (2 * n_output,))]
    else:
        outputs = [("y_fw", seq + (n_output,)), ("y_bw", seq + (n_output,))]
    data = m.finish(schema.BuiltinOperator.BIDIRECTIONAL_SEQUENCE_LSTM,
                    schema.BuiltinOptions.BidirectionalSequenceLSTMOptions,
                    options, outputs)
    return data, m.feeds


# ------------------------------------------------------------------- RNN


def rnn_model(rng, *, sequence: bool, batch: int, time: int, n_input: int,
              units: int, time_major=False, activation=4, hybrid=False,
              asymmetric=False) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """UNIDIRECTIONAL_SEQUENCE_RNN (sequence) or RNN (one step); hybrid:
    int8 weights, inputs quantized per row (asymmetric: with zero points).
    """
    schema = _schema()
    m = OpModel(rng)
    if sequence:
        shape = (time, batch, n_input) if time_major else (batch, time,
                                                            n_input)
    else:
        shape = (batch, n_input)
    m.input("x", shape)
    m.weights("weights", (units, n_input), hybrid)
    m.weights("recurrent", (units, units), hybrid)
    m.const("bias", (units,))
    m.variable("hidden_state", (batch, units))
    if sequence:
        options = schema.SequenceRNNOptionsT()
        options.timeMajor = time_major
        options_type = schema.BuiltinOptions.SequenceRNNOptions
        code = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN
    else:
        options = schema.RNNOptionsT()
        options_type = schema.BuiltinOptions.RNNOptions
        code = schema.BuiltinOperator.RNN
    options.fusedActivationFunction = activation
    options.asymmetricQuantizeInputs = asymmetric
    data = m.finish(code, options_type, options,
                    [("y", shape[:-1] + (units,))])
    return data, m.feeds


def bidirectional_rnn_model(rng, *, batch: int, time: int, n_input: int,
                            units: int, merge_outputs: bool,
                            time_major=False, aux: Optional[str] = None,
                            hybrid=False, asymmetric=False
                            ) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """BIDIRECTIONAL_SEQUENCE_RNN; aux as for bidirectional_lstm_model,
    hybrid and asymmetric as for rnn_model."""
    schema = _schema()
    n_aux = n_input + 2 if aux == "weights" else n_input
    m = OpModel(rng)
    seq = (time, batch) if time_major else (batch, time)
    m.input("x", seq + (n_input,))
    for prefix in ("fw_", "bw_"):
        m.weights(prefix + "weights", (units, n_input), hybrid)
        m.weights(prefix + "recurrent", (units, units), hybrid)
        m.const(prefix + "bias", (units,))
        m.variable(prefix + "hidden_state", (batch, units))
    if aux:
        m.input("aux", seq + (n_aux,))
    else:
        m.omit()
    if aux == "weights":
        m.weights("fw_aux_weights", (units, n_aux), hybrid)
        m.weights("bw_aux_weights", (units, n_aux), hybrid)
    else:
        m.omit(2)
    options = schema.BidirectionalSequenceRNNOptionsT()
    options.timeMajor = time_major
    options.fusedActivationFunction = 4
    options.mergeOutputs = merge_outputs
    options.asymmetricQuantizeInputs = asymmetric
    if merge_outputs:
        outputs = [("y", seq + (2 * units,))]
    else:
        outputs = [("y_fw", seq + (units,)), ("y_bw", seq + (units,))]
    data = m.finish(schema.BuiltinOperator.BIDIRECTIONAL_SEQUENCE_RNN,
                    schema.BuiltinOptions.BidirectionalSequenceRNNOptions,
                    options, outputs)
    return data, m.feeds


# ------------------------------------------------------------------ SVDF


def svdf_model(rng, *, batch: int, n_input: int, units: int, rank: int,
               memory: int, bias=True, activation=1, hybrid=False,
               asymmetric=False) -> Tuple[bytes, Dict[str, np.ndarray]]:
    schema = _schema()
    filters = units * rank
    m = OpModel(rng)
    m.input("x", (batch, n_input))
    m.weights("weights_feature", (filters, n_input), hybrid)
    m.weights("weights_time", (filters, memory), hybrid)
    if bias:
        m.const("bias", (units,))
    else:
        m.omit()
    m.variable("state", (batch, filters * memory))
    options = schema.SVDFOptionsT()
    options.rank = rank
    options.fusedActivationFunction = activation
    options.asymmetricQuantizeInputs = asymmetric
    data = m.finish(schema.BuiltinOperator.SVDF,
                    schema.BuiltinOptions.SVDFOptions, options,
                    [("y", (batch, units))])
    return data, m.feeds


# --------------------------------------------------------------- LiteRT


def run_litert(model: bytes, feeds: Dict[str, np.ndarray], invokes: int
               ) -> Dict[str, np.ndarray]:
    """Invokes `invokes` times on the same inputs (the variables carry the
    state over) and returns the last outputs by tensor name."""
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], feeds[detail["name"]])
    for _ in range(invokes):
        interp.invoke()
    return {d["name"]: np.array(interp.get_tensor(d["index"]))
            for d in interp.get_output_details()}
