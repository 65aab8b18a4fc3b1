"""`kiln` and the files around a model: where outputs go and what they are
called, names from a file printed safely, and paths that are not regular
files (issue 9's defects, each of which once exited 0 or hung)."""
import copy
import os
import re

import numpy as np
import pytest

import kiln_e2e as K
from test_bad_input import check_failure

TIMEOUT = 60


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp", "float32")


def rewrite(model_path, out_path, edit):
    out_path.write_bytes(K._rewrite(model_path.read_bytes(), edit))
    return out_path


def kiln(kiln_bin, *args):
    return K.run_kiln_command([str(a) for a in args], timeout=TIMEOUT,
                              kiln_bin=kiln_bin)


def written_files(stdout):
    """The file each output line of `kiln run --output` names, in order."""
    return re.findall(r" -> (\S+\.npy)$", stdout, re.M)


def test_missing_output_parent_fails(kiln_bin, mlp, tmp_path):
    result = kiln(kiln_bin, "run", mlp, "--output",
                  tmp_path / "no" / "such" / "out")
    check_failure(result, "cannot create the output directory")
    assert not (tmp_path / "no").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    check_failure(kiln(kiln_bin, "run", mlp, "--output", blocker),
                  "a file is in the way")


def _two_outputs_same_tensor(model):
    graph = model.subgraphs[0]
    graph.outputs = [graph.outputs[0], graph.outputs[0]]
    model.signatureDefs = []


def _outputs_named(names):
    """The model's last operator run once per name, each copy writing its
    own output tensor under that name (no signature, so tensor names are
    the output names)."""
    def edit(model):
        graph = model.subgraphs[0]
        last = graph.operators[-1]
        template = graph.tensors[last.outputs[0]]
        graph.outputs = []
        for i, name in enumerate(names):
            tensor = copy.deepcopy(template)
            tensor.name = name.encode()
            graph.tensors.append(tensor)
            op = copy.deepcopy(last)
            op.outputs = [len(graph.tensors) - 1]
            graph.operators.append(op)
            graph.outputs.append(len(graph.tensors) - 1)
        model.signatureDefs = []
    return edit


def test_colliding_output_names_get_distinct_files(kiln_bin, mlp, tmp_path):
    model = rewrite(mlp, tmp_path / "collide.tflite",
                    _outputs_named(["output/0", "output_0", ""]))
    out = tmp_path / "out"
    result = kiln(kiln_bin, "run", model, "--output", out)
    assert result.returncode == 0, result.stderr
    files = written_files(result.stdout)
    assert files == ["output_0.npy", "output_0_1.npy", "output_2.npy"]
    assert sorted(os.listdir(out)) == sorted(files)
    arrays = [np.load(out / f) for f in files]
    for a in arrays[1:]:  # the same computation under three names
        np.testing.assert_array_equal(a, arrays[0])
    assert '  "" float32' in result.stdout  # the empty name, visibly empty


def test_tensor_listed_twice_writes_two_files(kiln_bin, mlp, tmp_path):
    model = rewrite(mlp, tmp_path / "twice.tflite", _two_outputs_same_tensor)
    out = tmp_path / "out"
    result = kiln(kiln_bin, "run", model, "--output", out)
    assert result.returncode == 0, result.stderr
    first, second = written_files(result.stdout)
    assert first != second and second == first[:-4] + "_1.npy"
    np.testing.assert_array_equal(np.load(out / first), np.load(out / second))


def test_model_without_outputs_is_refused(kiln_bin, mlp, tmp_path):
    def no_outputs(model):
        model.subgraphs[0].outputs = []
        model.signatureDefs = []
    model = rewrite(mlp, tmp_path / "none.tflite", no_outputs)
    for command in ("run", "info"):
        check_failure(kiln(kiln_bin, command, model), "lists no outputs")


def test_names_from_the_file_are_escaped(kiln_bin, mlp, tmp_path):
    hostile = b"evil\x1b[31m\x07name\xff\xfe"

    def rename(model):
        graph = model.subgraphs[0]
        graph.tensors[graph.inputs[0]].name = hostile
        graph.tensors[graph.outputs[0]].name = "sortie-é".encode()
        model.signatureDefs = []
    model = rewrite(mlp, tmp_path / "names.tflite", rename)
    for command in (["info"], ["run"]):
        result = kiln(kiln_bin, *command, model)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "\ufffd" not in result.stdout  # stdout stays valid UTF-8
        assert "sortie-é" in result.stdout  # valid UTF-8 passes as it is
        if command == ["info"]:
            assert "evil\\x1b[31m\\x07name\\xff\\xfe" in result.stdout
    # Error messages quote names too.
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 3), np.float32))
    result = kiln(kiln_bin, "run", model, "--input", x)
    check_failure(result)
    assert "\x1b" not in result.stderr


def test_paths_that_are_not_regular_files(kiln_bin, mlp, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # Opening a FIFO for reading used to wait for a writer forever.
    for command in ("info", "run", "bench"):
        check_failure(kiln(kiln_bin, command, fifo),
                      "not a regular file (a FIFO)")
    check_failure(kiln(kiln_bin, "info", tmp_path),
                  "not a regular file (a directory)")
    # /dev/zero never ends: it was read until memory ran out.
    check_failure(kiln(kiln_bin, "run", mlp, "--input", "/dev/zero"),
                  "not a regular file (a character device)")
    check_failure(kiln(kiln_bin, "run", mlp, "--input", fifo),
                  "not a regular file (a FIFO)")
