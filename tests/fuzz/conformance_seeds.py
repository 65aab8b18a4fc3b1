"""Adds one small model per operator and kind of input (float, 8/16-bit,
other), taken from the
operator conformance suite's model cache, to the seed corpora of the
TFLite reader (fuzz_tflite) and of the whole load-to-invoke path
(fuzz_model), so the fuzzers start from files that reach every operator's
options parser and shape function (quantization parameters, subgraphs,
sparsity, custom options included). The seeds are committed; run again
after `make test-conformance` has filled the cache:

    python3 tests/fuzz/conformance_seeds.py [build/conformance-models]
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_BYTES = 8192  # small seeds mutate faster


def schema():
    try:
        from ai_edge_litert import schema_py_generated as s
    except ImportError:  # TensorFlow's copy of the same generated file
        from tensorflow.lite.python import schema_py_generated as s
    return s


def key_of(data, s):
    """(operator name, the kind of its first input: float, int8 (the
    8- and 16-bit types quantized models use) or other) of the model's
    first operator."""
    model = s.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    if graph.OperatorsLength() == 0:
        return None
    op = graph.Operators(0)
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    names = {v: k for k, v in vars(s.BuiltinOperator).items()
             if not k.startswith("_")}
    name = names.get(builtin, str(builtin))
    if builtin == s.BuiltinOperator.CUSTOM and code.CustomCode():
        name = "CUSTOM_" + code.CustomCode().decode(errors="replace")
    kind = "none"
    if op.InputsLength() and op.Inputs(0) >= 0:
        t = s.TensorType
        kind = {t.FLOAT32: "float", t.FLOAT16: "float", t.FLOAT64: "float",
                t.INT8: "int8", t.UINT8: "int8", t.INT16: "int8"}.get(
                    graph.Tensors(op.Inputs(0)).Type(), "other")
    return name, kind


def main(argv):
    cache = argv[1] if len(argv) > 1 else os.path.join(
        HERE, "..", "..", "build", "conformance-models")
    s = schema()
    best = {}
    for entry in sorted(os.listdir(cache)):
        path = os.path.join(cache, entry)
        size = os.path.getsize(path)
        if not entry.endswith(".tflite") or size > MAX_BYTES:
            continue
        with open(path, "rb") as f:
            data = f.read()
        try:
            key = key_of(data, s)
        except Exception:  # not a model the schema reads: skip
            continue
        if key and (key not in best or size < best[key][0]):
            best[key] = (size, path)
    for target in ("tflite", "model"):
        folder = os.path.join(HERE, "corpus", target)
        os.makedirs(folder, exist_ok=True)
        for (name, kind), (_, path) in sorted(best.items()):
            shutil.copyfile(path, os.path.join(
                folder, f"op_{name.lower()}_{kind}.tflite"))
    print(f"{len(best)} seeds per target from {cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
