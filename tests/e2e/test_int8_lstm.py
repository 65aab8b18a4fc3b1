"""test_int8_lstm.py - TFLite's integer LSTM (int8 activations and weights,
int16 cell state) against LiteRT: equal to its reference kernels
(BUILTIN_REF) and within one output step of its default kernels.

The models are float LSTM / UNIDIRECTIONAL_SEQUENCE_LSTM operators
quantized by TensorFlow's post-training quantizer with a representative
dataset (int8_lstm_models.py; TF 2.21's converter does not fuse Keras 3
LSTM layers into these operators, and its quantizer refuses the 16x8 mode
for them). Inputs are fresh random data; invoking several times checks
the carried state."""

import numpy as np
import pytest

import int8_lstm_models as q
import kiln_e2e

CASES = {
    "seq_b1_t3_in4_c5": dict(sequence=True, batch=1, time=3, n_input=4,
                             n_cell=5),
    "seq_b3_t5_in8_c16": dict(sequence=True, batch=3, time=5, n_input=8,
                              n_cell=16),
    "seq_time_major": dict(sequence=True, batch=2, time=4, n_input=6,
                           n_cell=7, time_major=True),
    "seq_cifg_clip": dict(sequence=True, batch=2, time=4, n_input=5,
                          n_cell=6, cifg=True, cell_clip=1.0),
    "seq_peephole": dict(sequence=True, batch=2, time=4, n_input=4,
                         n_cell=6, peephole=True),
    "seq_peephole_cifg_clip": dict(sequence=True, batch=3, time=3,
                                   n_input=5, n_cell=4, peephole=True,
                                   cifg=True, cell_clip=0.7),
    "step_peephole": dict(sequence=False, batch=2, time=1, n_input=3,
                          n_cell=5, peephole=True),
    "seq_layer_norm": dict(sequence=True, batch=2, time=4, n_input=4,
                           n_cell=8, layer_norm=True),
    "seq_layer_norm_peephole_clip": dict(sequence=True, batch=2, time=3,
                                         n_input=3, n_cell=5,
                                         layer_norm=True, peephole=True,
                                         cell_clip=0.8),
    "step_layer_norm": dict(sequence=False, batch=3, time=1, n_input=5,
                            n_cell=6, layer_norm=True),
    "seq_b2_t6_in12_c32": dict(sequence=True, batch=2, time=6, n_input=12,
                               n_cell=32),
    "step_b2_in3_c4": dict(sequence=False, batch=2, time=1, n_input=3,
                           n_cell=4),
    "step_b1_in10_c20": dict(sequence=False, batch=1, time=1, n_input=10,
                             n_cell=20),
}


def _run_kiln(kiln_bin, path, feeds, invokes, tmp_path):
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
    return {p.stem: np.load(p) for p in out_dir.glob("*.npy")}


@pytest.mark.parametrize("invokes", [1, 3])
@pytest.mark.parametrize("io", ["float", "int8"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_integer_lstm_matches_litert(case, io, invokes, kiln_bin, tmp_path):
    rng, seed = kiln_e2e.make_rng()
    print(f"seed {seed}")
    model, _ = q.quantized_lstm(rng, io=io, **CASES[case])
    schema_int8, schema_int16 = 9, 7
    assert q.lstm_input_types(model) == (schema_int8, schema_int16)
    feeds = q.random_inputs(model, rng)
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    ours = _run_kiln(kiln_bin, path, feeds, invokes, tmp_path)
    assert len(ours) == 1
    (got,) = ours.values()
    reference = q.run_litert(model, feeds, invokes, reference=True)
    default = q.run_litert(model, feeds, invokes, reference=False)
    (want_ref,) = reference.values()
    (want_default,) = default.values()
    assert got.dtype == want_ref.dtype and got.shape == want_ref.shape
    # Exactly LiteRT's reference kernels.
    np.testing.assert_array_equal(got, want_ref)
    # Within one output step of its default kernels.
    step = 1.0 if io == "int8" else q.lstm_output_scale(model)
    diff = np.abs(got.astype(np.float64) - want_default.astype(np.float64))
    assert diff.max() <= step * 1.0001, (diff.max(), step)
    # Not a degenerate case: the outputs vary.
    assert np.unique(want_ref).size > 1


def test_refuses_cifg_with_layer_norm(kiln_bin, tmp_path):
    """LiteRT's integer kernel gives a constant output for CIFG with layer
    norm; kiln refuses the combination rather than differ from it."""
    rng, _ = kiln_e2e.make_rng()
    model, _ = q.quantized_lstm(rng, io="int8", sequence=True, batch=1,
                                time=3, n_input=3, n_cell=4, cifg=True,
                                layer_norm=True)
    feeds = q.random_inputs(model, rng)
    path = tmp_path / "cifg_layer_norm.tflite"
    path.write_bytes(model)
    name = next(iter(feeds))
    np.save(tmp_path / "x.npy", feeds[name])
    result = kiln_e2e.run_kiln_command(
        ["run", str(path), "--input", f"{name}={tmp_path / 'x.npy'}",
         "--output", str(tmp_path / "out")], kiln_bin=kiln_bin)
    assert result.returncode != 0
    assert "CIFG and layer norm" in result.stderr


@pytest.mark.parametrize("intermediates,message", [
    (None, "needs 5 intermediate tensors"),
    ([9999], "intermediate 0 is tensor 9999, which does not exist"),
])
def test_refuses_bad_intermediates(intermediates, message, kiln_bin,
                                   tmp_path):
    """An integer LSTM whose intermediates are missing or name no tensor
    is refused with a message saying so, not run with a made-up scale."""
    rng, _ = kiln_e2e.make_rng()
    model, _ = q.quantized_lstm(rng, io="int8", **CASES["seq_b1_t3_in4_c5"])
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    for op in m.subgraphs[0].operators:
        if len(op.inputs) >= 20:
            op.intermediates = intermediates
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "no_intermediates.tflite"
    path.write_bytes(bytes(b.Output()))
    feeds = q.random_inputs(model, rng)
    np.save(tmp_path / "x.npy", next(iter(feeds.values())))
    name = next(iter(feeds))
    result = kiln_e2e.run_kiln_command(
        ["run", str(path), "--input", f"{name}={tmp_path / 'x.npy'}",
         "--output", str(tmp_path / "out")], kiln_bin=kiln_bin)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
