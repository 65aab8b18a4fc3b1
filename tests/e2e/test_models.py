"""`kiln run` matches LiteRT on Keras models with random weights.

Every model of kiln_e2e.MODELS runs in float32 and with float16 weights;
each variant is compared with LiteRT running the same .tflite file (LiteRT
dequantizes float16 weights to float32, so kiln should match as closely).
Inputs are drawn fresh every run; each test prints the seed to replay it
with KILN_E2E_SEED.
"""
import pytest

import kiln_e2e as K


def model_params(variants=K.VARIANTS):
    params = []
    for spec in K.MODELS.values():
        marks = [pytest.mark.heavy] if spec.heavy else []
        for variant in variants:
            params.append(pytest.param(spec.name, variant, marks=marks,
                                       id=f"{spec.name}-{variant}"))
    return params


@pytest.mark.parametrize("name,variant", model_params())
def test_model_contents(model_cache, name, variant):
    """The converted model holds the operators it is meant to exercise (and
    LiteRT runs it). Needs no kiln."""
    spec = K.MODELS[name]
    path = model_cache.path(name, variant)
    hist = K.op_histogram(path)
    print(f"{name}.{variant}: " +
          ", ".join(f"{op} x{n}" for op, n in sorted(hist.items())))
    missing = [op for op in spec.expect_ops if op not in hist]
    assert not missing, f"converter no longer emits {missing}: {dict(hist)}"
    if variant == "float16":
        assert "DEQUANTIZE" in hist, "float16 weights should be dequantized"
    inputs, outputs = K.signature(path)
    rng, _ = K.make_rng()
    ref = K.run_litert(path, K.make_inputs(spec, inputs, 1, rng))
    assert set(ref) == {o.name for o in outputs}


@pytest.mark.parametrize("name,variant", model_params())
def test_matches_litert(model_cache, kiln_bin, tmp_path, name, variant):
    spec = K.MODELS[name]
    path = model_cache.path(name, variant)
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"input seed {seed} (replay with KILN_E2E_SEED={seed})")
    for batch in spec.batches:
        feed = K.make_inputs(spec, inputs, batch, rng)
        ref = K.run_litert(path, feed)
        got, _ = K.run_kiln(path, feed, tmp_path / f"batch{batch}",
                            kiln_bin=kiln_bin)
        errors = K.compare_outputs(got, ref)
        print(f"{name}.{variant} batch {batch}: max relative error " +
              ", ".join(f"{n}: {e:.3g}" for n, e in errors.items()))


@pytest.mark.parametrize("name", ["cnn", "mobilenet_v2_035"])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_threads(model_cache, kiln_bin, tmp_path, name, threads):
    """--threads N gives the same answer."""
    spec = K.MODELS[name]
    path = model_cache.path(name, "float32")
    inputs, _ = K.signature(path)
    rng, seed = K.make_rng()
    print(f"input seed {seed} (replay with KILN_E2E_SEED={seed})")
    feed = K.make_inputs(spec, inputs, 1, rng)
    got, _ = K.run_kiln(path, feed, tmp_path, threads=threads,
                        kiln_bin=kiln_bin)
    errors = K.compare_outputs(got, K.run_litert(path, feed))
    print(f"{name} --threads {threads}: {errors}")


@pytest.mark.parametrize(
    "name", ["mlp", "cnn", "unet", "text_classifier", "dynamic_batch"])
def test_info(model_cache, kiln_bin, name):
    """`kiln info` names every input and output and lists the model's
    characteristic operators (CONV_2D for the CNN, ...)."""
    path = model_cache.path(name, "float32")
    result = K.run_kiln_command(["info", path], timeout=60,
                                kiln_bin=kiln_bin)
    assert result.returncode == 0, (
        f"kiln info failed with {K.describe_exit(result)}:\n{result.stderr}")
    text = result.stdout
    inputs, outputs = K.signature(path)
    for sig in inputs + outputs:
        assert sig.name in text, f"{sig.name!r} missing from:\n{text}"
    for op in K.MODELS[name].expect_ops:
        assert op in text, f"{op} missing from the histogram:\n{text}"
