"""kiln's quantizer against TensorFlow's on the same models and the same
calibration data (issue 11): writes a table into bench/RESULTS.md between
the <!-- quant-accuracy --> markers.

The models and the 8 calibration images are quant_bench.py's (Keras'
MobileNetV2, ResNet50 and EfficientNetB0 with the e2e zoo's seeds, float32
.tflite from TensorFlow's converter; TF's int8 file calibrated on the 8
images, cached in --model-dir). `kiln quantize --mode int8` quantizes the
float32 file on the same images. On 8 fresh random inputs (another seed):
- the relative error of each int8 model against the float32 model, both run
  by LiteRT, on the logits (the last SOFTMAX's input, dequantized: with
  random weights the probabilities themselves are degenerate):
  ||q - f|| / ||f||, and how often the arg max agrees;
- kiln's int8 file run by LiteRT and by kiln: the largest difference in
  units of the output's quantization step (the int8 tensor the final
  DEQUANTIZE reads), which must be at most 1.

    python3 bench/quant_accuracy.py [--models ...] [--model-dir DIR]
        [--out bench/RESULTS.md]
"""
import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import numpy as np  # noqa: E402

import kiln_e2e as K  # noqa: E402
import quant_bench as QB  # noqa: E402

EVAL_IMAGES = 8
EVAL_SEED = 4321
MARK = "quant-accuracy"


def eval_images(name: str) -> np.ndarray:
    """Fresh inputs drawn like the calibration images (another seed)."""
    rng = np.random.default_rng(EVAL_SEED)
    shape = (EVAL_IMAGES, 224, 224, 3)
    if K.MODELS[QB.ZOO[name]].inputs == "image":
        return rng.uniform(0, 255, shape).astype(np.float32)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def litert_outputs(path: Path, images: np.ndarray, logits: bool = False
                   ) -> np.ndarray:
    """The model's output for each image, or with `logits` the input of its
    last SOFTMAX, dequantized: random weights make the probabilities
    degenerate (one class near 1, or all equal after int8 rounding), so
    the scores before the softmax are what shows quantization error."""
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(path), num_threads=2,
                     experimental_preserve_all_tensors=logits)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    index = it.get_output_details()[0]["index"]
    scale, zero = 0.0, 0
    if logits:
        softmax = [op for op in it._get_ops_details()  # noqa: SLF001
                   if op["op_name"] == "SOFTMAX"][-1]
        index = int(softmax["inputs"][0])
        detail = {t["index"]: t for t in it.get_tensor_details()}[index]
        scale, zero = detail["quantization"]
    results = []
    for image in images:
        it.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        it.invoke()
        value = it.get_tensor(index).astype(np.float64)
        results.append((value - zero) * scale if scale else value)
    return np.stack(results)


def output_step(path: Path) -> float:
    """The scale of the int8 tensor the model's output is dequantized
    from (the output's own scale when the output is an integer)."""
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    out = it.get_output_details()[0]
    if out["quantization"][0]:
        return out["quantization"][0]
    details = {t["index"]: t for t in it.get_tensor_details()}
    for op in it._get_ops_details():  # noqa: SLF001 (LiteRT's own listing)
        if op["op_name"] == "DEQUANTIZE" and out["index"] in op["outputs"]:
            return details[op["inputs"][0]]["quantization"][0]
    raise RuntimeError(f"{path}: no DEQUANTIZE feeds the output")


def kiln_outputs(path: Path, images: np.ndarray, work: Path) -> np.ndarray:
    inputs, _ = K.signature(path)
    results = []
    for i, image in enumerate(images):
        got, _ = K.run_kiln(path, {inputs[0].name: image[None]},
                            work / f"kiln{i}")
        results.append(next(iter(got.values())).astype(np.float64))
    return np.stack(results)


def rel_error(q: np.ndarray, f: np.ndarray) -> float:
    return float(np.linalg.norm(q - f) / np.linalg.norm(f))


def top1(q: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(q.reshape(len(q), -1).argmax(1) ==
                         f.reshape(len(f), -1).argmax(1)))


def measure(name: str, directory: Path, work: Path) -> dict:
    paths = QB.prepare(name, directory)
    kiln_q = QB.kiln_quantize(name, paths["float32"],
                              QB.calibration_images(name), directory)
    try:
        images = eval_images(name)
        f = litert_outputs(paths["float32"], images, logits=True)
        tf_q = litert_outputs(paths["int8"], images, logits=True)
        kq_f = litert_outputs(kiln_q, images, logits=True)
        kq_litert = litert_outputs(kiln_q, images)
        kq_kiln = kiln_outputs(kiln_q, images, work / name)
        step = output_step(kiln_q)
        return {
            "model": name,
            "tf_err": rel_error(tf_q, f), "kiln_err": rel_error(kq_f, f),
            "tf_top1": top1(tf_q, f), "kiln_top1": top1(kq_f, f),
            "units": float(np.max(np.abs(kq_kiln - kq_litert)) / step),
            "tf_size": paths["int8"].stat().st_size,
            "kiln_size": kiln_q.stat().st_size,
        }
    finally:
        kiln_q.unlink(missing_ok=True)


def table(rows) -> str:
    lines = [
        "| model | logits rel. error, TF int8 | kiln int8 | kiln/TF "
        "| arg max = float's, TF / kiln | kiln's file: kiln vs LiteRT "
        "(output steps) | size TF / kiln MiB |",
        "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['tf_err']:.4f} | {r['kiln_err']:.4f} | "
            f"{r['kiln_err'] / r['tf_err']:.2f}x | "
            f"{r['tf_top1']:.2f} / {r['kiln_top1']:.2f} | {r['units']:.0f} | "
            f"{r['tf_size'] / 2**20:.2f} / {r['kiln_size'] / 2**20:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(QB.ZOO))
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--model-dir", default=os.environ.get(
        "KILN_Q11_MODEL_DIR", str(REPO / "build" / "q11models")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(name, Path(args.model_dir), Path(tmp))
                for name in args.models.split(",")]
    text = "\n".join([
        "## kiln quantize against TensorFlow's converter",
        "",
        f"Date: {datetime.date.today()}  ",
        f"CPU: {QB.cpu_description()}  ",
        "Command: `make bench` (`python3 bench/quant_accuracy.py`)",
        "",
        "Both quantizers get the same float32 file and the same 8 random "
        "calibration images (quant_bench.py's); errors are measured on 8 "
        "other random images against the float32 model, all run by LiteRT, "
        "on the logits (the last SOFTMAX's input; random weights make the "
        "probabilities degenerate). "
        "The last columns run kiln's file in kiln and in LiteRT: at most 1 "
        "output step apart is the target.",
        "",
        table(rows),
    ])
    QB.write_section(Path(args.out), text, MARK)
    print(text)


if __name__ == "__main__":
    main()
