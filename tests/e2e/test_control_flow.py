"""test_control_flow.py - TFLite control flow (WHILE, IF, CALL_ONCE) and
resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE) in kiln
against LiteRT.

TF 2.21's converter turns Keras 3's LSTM, GRU, SimpleRNN and Bidirectional
layers, tf.while_loop and tf.cond into WHILE and IF operators over other
subgraphs, and a tf.Module's tf.Variable (and a stateful layer's states)
into resource variables initialized by a CALL_ONCE subgraph. Each case builds its model here with random weights,
checks the converted file really holds the operators under test, and
compares kiln with LiteRT on fresh random inputs; stateful cases invoke
twice (`kiln run --invokes 2`), so the second result shows the state the
first invoke left.
"""
import numpy as np
import pytest

import kiln_e2e

TOLERANCE = 1e-5


def _tf():
    import tensorflow as tf
    return tf


def _convert_keras(model):
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return converter.convert()


def _recurrent(layer_fn, time, features):
    def build(seed):
        import keras
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((time, features), batch_size=2)
        outputs = layer_fn(keras)(inputs)
        model = keras.Model(inputs, outputs)
        # Random recurrent weights of a useful size (Keras initializes
        # biases to zero and kernels orthogonally).
        rng = np.random.default_rng(seed)
        model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype)
                           for w in model.get_weights()])
        return _convert_keras(model)
    return build


def _while_cond_function(seed):
    tf = _tf()
    rng = np.random.default_rng(seed)

    class Loop(tf.Module):
        def __init__(self):
            super().__init__()
            self.weight = tf.constant(
                rng.uniform(-0.5, 0.5, (4, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32),
                                      tf.TensorSpec([], tf.int32)])
        def __call__(self, x, steps):
            def body(i, acc):
                acc = tf.tanh(tf.matmul(acc, self.weight)) + x
                return i + 1, acc

            _, acc = tf.while_loop(lambda i, acc: i < steps, body,
                                   (tf.constant(0), x))
            total = tf.reduce_sum(acc)
            out = tf.cond(total > 0.0, lambda: acc * 2.0, lambda: acc - 1.0)
            return {"out": out}

    module = Loop()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    return converter.convert()


def _cond_on_input(seed):
    tf = _tf()
    rng = np.random.default_rng(seed)

    class Branch(tf.Module):
        def __init__(self):
            super().__init__()
            self.weight = tf.constant(
                rng.uniform(-1, 1, (3, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32),
                                      tf.TensorSpec([], tf.bool)])
        def __call__(self, x, flag):
            out = tf.cond(flag, lambda: tf.matmul(x, self.weight),
                          lambda: tf.sin(x) - x)
            return {"out": out}

    module = Branch()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    return converter.convert()


def _variable_module(seed):
    tf = _tf()
    rng = np.random.default_rng(seed)

    class Accumulator(tf.Module):
        def __init__(self):
            super().__init__()
            self.total = tf.Variable(
                rng.uniform(-1, 1, (2, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32)])
        def __call__(self, x):
            self.total.assign(self.total * 0.5 + x)
            return {"out": self.total.read_value() * 2.0}

    module = Accumulator()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    return converter.convert()


# name -> (builder(seed) -> model bytes, operators the file must hold,
#          invokes)
CASES = {
    "lstm_sequences": (_recurrent(
        lambda k: k.layers.LSTM(5, return_sequences=True), 6, 3),
        {"WHILE"}, 1),
    "lstm_last": (_recurrent(
        lambda k: k.layers.LSTM(4, return_sequences=False), 5, 3),
        {"WHILE"}, 1),
    "gru_sequences": (_recurrent(
        lambda k: k.layers.GRU(5, return_sequences=True), 4, 3),
        {"WHILE"}, 1),
    "gru_last": (_recurrent(
        lambda k: k.layers.GRU(3, return_sequences=False), 6, 2),
        {"WHILE"}, 1),
    "bidirectional_lstm": (_recurrent(
        lambda k: k.layers.Bidirectional(
            k.layers.LSTM(4, return_sequences=True)), 5, 3),
        {"WHILE"}, 1),
    "simple_rnn_stacked": (_recurrent(
        lambda k: lambda x: k.layers.SimpleRNN(3)(
            k.layers.SimpleRNN(4, return_sequences=True)(x)), 4, 2),
        {"WHILE"}, 1),
    # Keras keeps a stateful layer's states in variables: the converter
    # initializes them in a CALL_ONCE subgraph and reads and assigns them
    # around the loop, so three invokes carry the state twice.
    "stateful_lstm": (_recurrent(
        lambda k: k.layers.LSTM(3, stateful=True), 3, 2),
        {"WHILE", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE",
         "ASSIGN_VARIABLE"}, 3),
    "while_and_cond": (_while_cond_function, {"WHILE", "IF"}, 1),
    "cond_on_input": (_cond_on_input, {"IF"}, 1),
    "variable": (_variable_module,
                 {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
                  "CALL_ONCE"}, 2),
}


def _feeds(model_path, rng):
    interp = kiln_e2e._interpreter(model_path)
    runner = interp.get_signature_runner()
    feeds = {}
    for name, detail in runner.get_input_details().items():
        shape = tuple(int(d) for d in detail["shape"])
        if detail["dtype"] == np.bool_:
            feeds[name] = np.array(rng.integers(0, 2), bool).reshape(shape)
        elif detail["dtype"] == np.int32:
            feeds[name] = np.array(rng.integers(0, 6), np.int32).reshape(shape)
        else:
            feeds[name] = rng.standard_normal(shape).astype(detail["dtype"])
    return feeds


def _litert(model_path, feeds, invokes):
    interp = kiln_e2e._interpreter(model_path)
    runner = interp.get_signature_runner()
    for _ in range(invokes):
        outputs = runner(**feeds)
    return {name: np.array(value) for name, value in outputs.items()}


def _compare(path, feeds, invokes, workdir, kiln_bin):
    reference = _litert(path, feeds, invokes)
    in_dir, out_dir = workdir / "in", workdir / "out"
    in_dir.mkdir(parents=True)
    out_dir.mkdir()
    args = ["run", str(path), "--output", str(out_dir), "--invokes",
            str(invokes)]
    for name, array in feeds.items():
        np.save(in_dir / f"{name}.npy", array)
        args += ["--input", f"{name}={in_dir / (name + '.npy')}"]
    result = kiln_e2e.run_kiln_command(args, kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    outputs = {p.name: np.load(p) for p in out_dir.glob("*.npy")}
    kiln_e2e.compare_outputs(outputs, reference, tolerance=TOLERANCE)


@pytest.mark.parametrize("case", sorted(CASES))
def test_control_flow_matches_litert(case, kiln_bin, tmp_path):
    rng, seed = kiln_e2e.make_rng()
    print(f"seed {seed}")
    build, required, invokes = CASES[case]
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(build(seed % (2**31)))
    ops = kiln_e2e.op_histogram(path)
    assert required <= set(ops), f"the converter wrote {dict(ops)}"
    feeds = _feeds(path, rng)
    # A bool input chooses a branch: run both.
    flags = [n for n, a in feeds.items() if a.dtype == np.bool_]
    for value in ([False, True] if flags else [None]):
        for name in flags:
            feeds[name] = np.full_like(feeds[name], value)
        _compare(path, feeds, invokes, tmp_path / f"run_{value}", kiln_bin)
