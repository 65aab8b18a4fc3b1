"""Models whose input height and width are dynamic (Keras Input((None, None,
3)), MobileNetV3's default): the .tflite holds placeholder sizes of 1 that
no 2x2 VALID pool fits, so kiln must check every operator on the real
sizes the caller gives, through `kiln run` (--input or --shape), `kiln
bench`, `kiln info` and `kiln serve`, and match LiteRT at each size."""
import json

import numpy as np
import pytest

import kiln_e2e as K
from serve_util import Server, add_version

SIZES = [(224, 224), (97, 131), (4, 4)]


def build_dynamic_hw_bytes() -> bytes:
    keras = K._keras()
    keras.utils.set_random_seed(21)
    L = keras.layers
    image = keras.Input((None, None, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(image)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = L.Conv2D(16, 1)(x)
    x = L.MaxPooling2D(2)(x)  # VALID: needs at least 2x2 after the stride
    x = L.GlobalAveragePooling2D()(x)
    scores = L.Dense(5, name="scores")(x)
    model = keras.Model(image, scores)
    return K.convert(model, "float32")


@pytest.fixture(scope="module")
def dynamic_hw_model(model_cache):
    return model_cache.custom("dynamic_hw.float32.tflite",
                              build_dynamic_hw_bytes)


def litert_at(model_path, x):
    interp = K._interpreter(model_path)
    detail = interp.get_input_details()[0]
    assert list(detail["shape_signature"]) == [-1, -1, -1, 3]
    interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_matches_litert_at_real_sizes(dynamic_hw_model, kiln_bin,
                                          tmp_path, size):
    rng, seed = K.make_rng()
    x = rng.uniform(-1, 1, (1, *size, 3)).astype(np.float32)
    outputs, _ = K.run_kiln(dynamic_hw_model, {"image": x}, tmp_path,
                            kiln_bin=kiln_bin)
    (got,) = outputs.values()
    want = litert_at(dynamic_hw_model, x)
    error = K.max_rel_error(got, want)
    print(f"seed {seed} size {size}: max rel error {error:.2e}")
    assert got.shape == want.shape
    assert error <= K.TOLERANCE


def test_too_small_a_size_is_refused_on_the_real_size(dynamic_hw_model,
                                                      kiln_bin, tmp_path):
    """2x2 becomes 1x1 after the strided convolution, and no 2x2 VALID pool
    fits. LiteRT makes the pooled map 0x0 and answers NaN (the mean of
    nothing); kiln refuses, naming the operator and the size, which is
    what a caller can act on (docs/ARCHITECTURE.md, "Phases")."""
    x = np.zeros((1, 2, 2, 3), np.float32)
    with pytest.raises(K.KilnError, match="MAX_POOL_2D.*height 1 is smaller"):
        K.run_kiln(dynamic_hw_model, {"image": x}, tmp_path,
                   kiln_bin=kiln_bin)
    assert np.isnan(litert_at(dynamic_hw_model, x)).all()


def test_run_with_shape_option(dynamic_hw_model, kiln_bin, tmp_path):
    result = K.run_kiln_command(["run", str(dynamic_hw_model), "--shape",
                                 "image=3,64,48,3", "--output",
                                 str(tmp_path)], kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    (written,) = tmp_path.glob("*.npy")
    assert np.load(written).shape == (3, 5)
    # The name may be left out when the model has one input.
    result = K.run_kiln_command(["run", str(dynamic_hw_model), "--shape",
                                 "1,32,32,3"], kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    assert "[1,5]" in result.stdout


def test_missing_sizes_name_the_option(dynamic_hw_model, kiln_bin):
    result = K.run_kiln_command(["run", str(dynamic_hw_model)],
                                kiln_bin=kiln_bin)
    assert result.returncode == 1
    assert "--shape" in result.stderr
    assert "MAX_POOL_2D" in result.stderr  # kiln's reason, on the placeholder
    for bad in ["image=1,x,3", "image=", "nosuch=1,8,8,3", "1,8,8"]:
        result = K.run_kiln_command(["run", str(dynamic_hw_model), "--shape",
                                     bad], kiln_bin=kiln_bin)
        assert result.returncode in (1, 2), (bad, result.stderr)
        assert "kiln" in result.stderr and result.stderr.strip()


def test_fixed_dimension_cannot_change(dynamic_hw_model, kiln_bin):
    result = K.run_kiln_command(["run", str(dynamic_hw_model), "--shape",
                                 "image=1,32,32,4"], kiln_bin=kiln_bin)
    assert result.returncode == 1
    assert "dimension 3 is fixed" in result.stderr


def test_bench_profile_and_info_take_shapes(dynamic_hw_model, kiln_bin):
    result = K.run_kiln_command(["bench", str(dynamic_hw_model), "--shape",
                                 "image=1,96,96,3", "--runs", "3",
                                 "--warmup", "1", "--json"],
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["flops"] > 0
    result = K.run_kiln_command(["bench", str(dynamic_hw_model)],
                                kiln_bin=kiln_bin)
    assert result.returncode == 1 and "--shape" in result.stderr
    result = K.run_kiln_command(["profile", str(dynamic_hw_model), "--shape",
                                 "image=2,40,40,3", "--runs", "2"],
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    assert "MAX_POOL_2D" in result.stdout
    result = K.run_kiln_command(["info", str(dynamic_hw_model)],
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    assert "[-1,-1,-1,3]" in result.stdout
    assert "need real sizes" in result.stdout
    result = K.run_kiln_command(["info", str(dynamic_hw_model), "--shape",
                                 "image=1,224,224,3"], kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr
    assert "FLOPs per run" in result.stdout


def test_memory_limit_option(dynamic_hw_model, kiln_bin):
    result = K.run_kiln_command(["run", str(dynamic_hw_model), "--shape",
                                 "image=1,2000,2000,3", "--max-memory", "8M"],
                                kiln_bin=kiln_bin)
    assert result.returncode == 1
    assert "memory limit of 8388608 bytes" in result.stderr
    assert "--max-memory" in result.stderr
    result = K.run_kiln_command(["run", str(dynamic_hw_model), "--shape",
                                 "image=1,200,200,3", "--max-memory", "8M"],
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, result.stderr


def test_server_serves_every_size(dynamic_hw_model, kiln_bin, tmp_path):
    base = tmp_path / "models" / "dyn"
    add_version(base, 1, dynamic_hw_model)
    with Server(kiln_bin, [f"--model_base_path={base}", "--model_name=dyn"],
                tmp_path / "server") as server:
        server.wait_available("dyn")
        rng, seed = K.make_rng()
        for size in [(40, 36), (64, 64)]:
            x = rng.uniform(-1, 1, (1, *size, 3)).astype(np.float32)
            answer = server.http.post(
                f"{server.url}/v1/models/dyn:predict",
                json={"instances": x.tolist()}, timeout=30)
            assert answer.status_code == 200, answer.text
            got = np.array(answer.json()["predictions"], np.float32)
            error = K.max_rel_error(got, litert_at(dynamic_hw_model, x))
            print(f"seed {seed} served {size}: max rel error {error:.2e}")
            assert error <= K.TOLERANCE


def build_mobilenet_v3_any_size_bytes() -> bytes:
    """MobileNetV3Small as Keras makes it by default for images of any
    size: input_shape=(None, None, 3)."""
    keras = K._keras()
    keras.utils.set_random_seed(22)
    model = keras.applications.MobileNetV3Small(
        input_shape=(None, None, 3), weights=None)
    K._randomize_batchnorm(model, 22)
    return K.convert(model, "float32")


@pytest.mark.parametrize("size", [(224, 224), (160, 192)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_mobilenet_v3_of_any_size_matches_litert(model_cache, kiln_bin,
                                                 tmp_path, size):
    path = model_cache.custom("mobilenet_v3_any_size.float32.tflite",
                              build_mobilenet_v3_any_size_bytes)
    rng, seed = K.make_rng()
    x = rng.uniform(0, 255, (1, *size, 3)).astype(np.float32)
    name = K.signature(path)[0][0].name
    outputs, _ = K.run_kiln(path, {name: x}, tmp_path, kiln_bin=kiln_bin)
    (got,) = outputs.values()
    want = litert_at(path, x)
    error = K.max_rel_error(got, want)
    print(f"seed {seed} size {size}: max rel error {error:.2e}")
    assert error <= K.TOLERANCE
