"""test_recurrent.py - TFLite's recurrent builtins (LSTM, RNN, SVDF and
their sequence and bidirectional forms) in kiln against LiteRT.

Each case is a one-operator model written by recurrent_models.py with
random weights (TF 2.21's converter turns Keras 3 recurrent layers into
WHILE loops, not these operators). kiln runs it with `kiln run --invokes
N` and LiteRT invokes it N times on the same inputs: the states are
variable tensors carried from one invoke to the next, so N = 2 and 3 check
that kiln keeps them as LiteRT does.
"""
import numpy as np
import pytest

import kiln_e2e
import recurrent_models as rm

TOLERANCE = 1e-5
# Hybrid cases (int8 weights, float activations) quantize the state row
# to int8 at every step. LiteRT's LSTM gates use Eigen's approximate float
# logistic and tanh, kiln's the correctly rounded ones: an ulp apart, which
# now and then moves a state value across an int8 rounding boundary, and
# that one step (the row's range / 255) shows in every later step of the
# row (seen: 1.3e-4 and 4.3e-3 relative, in about one run of the hybrid
# cases in 40). A wrong zero point, scale or row sum is off by far more.
HYBRID_TOLERANCE = 1e-2

# name -> builder(rng) -> (model bytes, inputs by name)
CASES = {
    # UNIDIRECTIONAL_SEQUENCE_LSTM
    "ulstm": lambda r: rm.lstm_model(r, sequence=True, batch=2, time=5,
                                     n_input=3, n_cell=6),
    "ulstm_batch1_time_major": lambda r: rm.lstm_model(
        r, sequence=True, batch=1, time=6, n_input=4, n_cell=5,
        time_major=True),
    "ulstm_peephole_projection_clips": lambda r: rm.lstm_model(
        r, sequence=True, batch=3, time=4, n_input=5, n_cell=7,
        peephole=True, projection=True, projection_bias=True,
        cell_clip=0.6, proj_clip=0.3),
    "ulstm_layer_norm": lambda r: rm.lstm_model(
        r, sequence=True, batch=2, time=4, n_input=3, n_cell=6,
        layer_norm=True, peephole=True, time_major=True),
    "ulstm_cifg_layer_norm_relu": lambda r: rm.lstm_model(
        r, sequence=True, batch=2, time=4, n_input=3, n_cell=5, cifg=True,
        peephole=True, layer_norm=True, projection=True, activation=1),
    # LSTM (one step)
    "lstm": lambda r: rm.lstm_model(r, sequence=False, batch=3, time=1,
                                    n_input=4, n_cell=6),
    "lstm_all_options": lambda r: rm.lstm_model(
        r, sequence=False, batch=1, time=1, n_input=4, n_cell=6,
        peephole=True, projection=True, layer_norm=True, cell_clip=0.5),
    # BIDIRECTIONAL_SEQUENCE_LSTM. Batch-major merged outputs only at batch
    # 1: LiteRT's batch-major loop steps its output state by the merged
    # row width and runs past the state for later batch entries.
    "bilstm_merged_batch1": lambda r: rm.bidirectional_lstm_model(
        r, batch=1, time=5, n_input=3, n_cell=4, merge_outputs=True,
        time_major=False),
    "bilstm_merged_time_major": lambda r: rm.bidirectional_lstm_model(
        r, batch=3, time=4, n_input=3, n_cell=4, merge_outputs=True,
        time_major=True, peephole=True),
    "bilstm_aux_weights": lambda r: rm.bidirectional_lstm_model(
        r, batch=2, time=4, n_input=3, n_cell=5, merge_outputs=False,
        time_major=True, aux="weights", projection=True),
    "bilstm_aux_backward_cifg": lambda r: rm.bidirectional_lstm_model(
        r, batch=2, time=4, n_input=3, n_cell=4, merge_outputs=False,
        time_major=False, aux="backward", cifg=True),
    # RNN, UNIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_RNN
    "rnn": lambda r: rm.rnn_model(r, sequence=False, batch=2, time=1,
                                  n_input=5, units=4),
    "urnn": lambda r: rm.rnn_model(r, sequence=True, batch=3, time=6,
                                   n_input=4, units=5),
    "urnn_time_major_relu": lambda r: rm.rnn_model(
        r, sequence=True, batch=1, time=5, n_input=3, units=4,
        time_major=True, activation=1),
    "birnn_merged_aux_weights": lambda r: rm.bidirectional_rnn_model(
        r, batch=2, time=4, n_input=3, units=4, merge_outputs=True,
        aux="weights"),
    "birnn_aux_backward": lambda r: rm.bidirectional_rnn_model(
        r, batch=2, time=4, n_input=3, units=5, merge_outputs=False,
        aux="backward"),
    "birnn_aux_backward_time_major": lambda r: rm.bidirectional_rnn_model(
        r, batch=2, time=3, n_input=3, units=4, merge_outputs=False,
        aux="backward", time_major=True),
    # hybrid: int8 weights, float activations quantized per row
    "ulstm_hybrid": lambda r: rm.lstm_model(
        r, sequence=True, batch=2, time=4, n_input=5, n_cell=6, hybrid=True),
    "ulstm_hybrid_asymmetric_all_options": lambda r: rm.lstm_model(
        r, sequence=True, batch=3, time=3, n_input=4, n_cell=6, peephole=True,
        projection=True, projection_bias=True, layer_norm=True,
        time_major=True, cell_clip=0.8, proj_clip=0.6, hybrid=True,
        asymmetric=True),
    "ulstm_hybrid_cifg_projection": lambda r: rm.lstm_model(
        r, sequence=True, batch=1, time=5, n_input=3, n_cell=5, cifg=True,
        peephole=True, projection=True, hybrid=True),
    "lstm_hybrid_asymmetric": lambda r: rm.lstm_model(
        r, sequence=False, batch=2, time=1, n_input=4, n_cell=5,
        projection=True, hybrid=True, asymmetric=True),
    "rnn_hybrid": lambda r: rm.rnn_model(r, sequence=False, batch=3, time=1,
                                         n_input=6, units=5, hybrid=True),
    "urnn_hybrid_asymmetric": lambda r: rm.rnn_model(
        r, sequence=True, batch=2, time=5, n_input=4, units=6, hybrid=True,
        asymmetric=True),
    "urnn_hybrid_time_major": lambda r: rm.rnn_model(
        r, sequence=True, batch=3, time=4, n_input=7, units=3, hybrid=True,
        time_major=True, activation=1),
    "svdf_hybrid": lambda r: rm.svdf_model(
        r, batch=2, n_input=6, units=3, rank=2, memory=4, hybrid=True),
    "svdf_hybrid_asymmetric": lambda r: rm.svdf_model(
        r, batch=3, n_input=5, units=4, rank=1, memory=3, bias=False,
        hybrid=True, asymmetric=True),
    # Hybrid BIDIRECTIONAL_SEQUENCE_LSTM only time-major: LiteRT's hybrid
    # path treats every input as time-major.
    "bilstm_hybrid_time_major": lambda r: rm.bidirectional_lstm_model(
        r, batch=2, time=4, n_input=3, n_cell=5, merge_outputs=False,
        time_major=True, peephole=True, projection=True, hybrid=True),
    "bilstm_hybrid_asymmetric_aux_weights": lambda r: rm.bidirectional_lstm_model(
        r, batch=3, time=3, n_input=4, n_cell=4, merge_outputs=True,
        time_major=True, aux="weights", hybrid=True, asymmetric=True),
    # Hybrid BIDIRECTIONAL_SEQUENCE_RNN only batch-major and without aux
    # weights: LiteRT's hybrid loop steps the aux input by the input's
    # width and, time-major, runs the whole sequence once per step.
    "birnn_hybrid_merged": lambda r: rm.bidirectional_rnn_model(
        r, batch=2, time=4, n_input=3, units=4, merge_outputs=True,
        hybrid=True),
    "birnn_hybrid_asymmetric_aux_backward": lambda r: rm.bidirectional_rnn_model(
        r, batch=3, time=3, n_input=5, units=4, merge_outputs=False,
        aux="backward", hybrid=True, asymmetric=True),
    # SVDF
    "svdf_rank1": lambda r: rm.svdf_model(r, batch=1, n_input=5, units=4,
                                          rank=1, memory=4),
    "svdf_rank2_no_bias": lambda r: rm.svdf_model(
        r, batch=3, n_input=4, units=3, rank=2, memory=3, bias=False,
        activation=0),
}


@pytest.mark.parametrize("invokes", [1, 2, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_recurrent_matches_litert(case, invokes, kiln_bin, tmp_path):
    rng, seed = kiln_e2e.make_rng()
    print(f"seed {seed}")
    model, feeds = CASES[case](rng)
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    reference = rm.run_litert(model, feeds, invokes)
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    out_dir.mkdir()
    args = ["run", str(path), "--output", str(out_dir), "--invokes",
            str(invokes)]
    for name, array in feeds.items():
        np.save(in_dir / f"{name}.npy", array)
        args += ["--input", f"{name}={in_dir / (name + '.npy')}"]
    result = kiln_e2e.run_kiln_command(args, kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    outputs = {p.name: np.load(p) for p in out_dir.glob("*.npy")}
    kiln_e2e.compare_outputs(
        outputs, reference,
        tolerance=HYBRID_TOLERANCE if "hybrid" in case else TOLERANCE)


def test_state_must_be_a_variable(kiln_bin, tmp_path):
    """An LSTM whose state input is a constant (which kiln maps read-only
    from the file) is refused at load with the input named."""
    from ai_edge_litert import schema_py_generated as schema
    model, _ = rm.lstm_model(np.random.default_rng(0), sequence=True,
                             batch=1, time=2, n_input=2, n_cell=3)
    obj = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    state = obj.subgraphs[0].tensors[obj.subgraphs[0].operators[0].inputs[19]]
    state.isVariable = False
    buffer = schema.BufferT()
    buffer.data = np.zeros(3 * 4, np.uint8)
    obj.buffers.append(buffer)
    state.buffer = len(obj.buffers) - 1
    path = tmp_path / "constant_state.tflite"
    path.write_bytes(kiln_e2e.pack_model_object(obj))
    result = kiln_e2e.run_kiln_command(["run", str(path)], kiln_bin=kiln_bin)
    assert result.returncode != 0
    assert "input 19" in result.stderr and "variable" in result.stderr, (
        result.stderr)
