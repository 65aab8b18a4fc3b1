"""cases.py - the conformance case table: what each operator is tried with.

One entry per BuiltinOperator that LiteRT's builtin resolver runs. An entry
is a function (registered with @cases("OP", ...)) returning Cases: a small
model (one operator, or a few where the operator needs company: control
flow bodies, variables, hash tables) with its input generators. The spreads
follow what each operator's LiteRT kernel accepts: tensor types (float32,
integer, bool, and int8/uint8/int16 with quantization parameters), shapes
(broadcasting, scalars, size-1 and empty dimensions, up to 6-D), and
options (strides, padding, axes, keep_dims, fused activations ...).

Output shapes may be left as a placeholder: the runner fills in the shapes
LiteRT computes before caching a model. Types LiteRT does not take for an
operator may be listed: LiteRT's refusal marks the case "rejected" (shown
in docs/OPERATORS.md, never counted as a kiln result).
"""

import copy
import dataclasses
import functools
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from flatbuffers import flexbuffers

from build import Graph, Quant, build_model, schema, TYPES

S = schema
ACT = S.ActivationFunctionType
SAME, VALID = S.Padding.SAME, S.Padding.VALID
ACT_NAMES = {ACT.NONE: "none", ACT.RELU: "relu", ACT.RELU6: "relu6",
             ACT.RELU_N1_TO_1: "relu_n1_to_1", ACT.TANH: "tanh"}

# Quantized types and a few parameter sets each: inputs and outputs get
# different scales so every kernel has to rescale.
QTYPES = ("int8", "uint8", "int16")
QPARAMS = {
    "int8": [Quant([0.05], [-3]), Quant([0.07], [10]), Quant([0.03], [0]),
             Quant([0.6], [25])],
    "uint8": [Quant([0.05], [128]), Quant([0.07], [120]),
              Quant([0.03], [100]), Quant([0.6], [3])],
    "int16": [Quant([0.0005], [0]), Quant([0.0007], [0]),
              Quant([0.0003], [0]), Quant([0.008], [0])],
}
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
              "uint16": (0, 65535), "int32": (-100, 100),
              "uint32": (0, 200), "int64": (-100, 100), "uint64": (0, 200)}


@dataclasses.dataclass
class Case:
    op: str
    types: str  # e.g. "float32", "int8", "int32->int64"
    attrs: str  # the attribute spread, human-readable
    graphs: List[Graph]  # subgraph 0 first
    feeds: List[Callable]  # one per input of subgraph 0: rng -> array
    # Converter-made cases: a function returning the .tflite bytes (run
    # once, in a process of its own), a key naming what made them, and
    # the signature's input names (the feeds' order).
    convert: Optional[Callable[[], bytes]] = None
    convert_key: str = ""
    input_names: Sequence[str] = ()
    # A variant tried on the chance LiteRT takes it (float16 copies): when
    # LiteRT refuses it, the document does not list it.
    optional: bool = False

    @property
    def case_id(self) -> str:
        return f"{self.op} [{self.types}] {self.attrs}"


def q(dtype: str, k: int = 0) -> Optional[Quant]:
    """Quantization parameter set k for a quantized type, else None."""
    return QPARAMS[dtype][k] if dtype in QTYPES else None


def opts(cls: str, **fields):
    o = getattr(S, cls + "OptionsT")()
    for key, value in fields.items():
        setattr(o, key, value)
    return o


def gen(dtype: str, shape, lo=None, hi=None, quant: Optional[Quant] = None,
        nonzero=False):
    """A generator of random inputs. lo/hi are real values; for a quantized
    input they are mapped through its scale and zero point."""
    shape = tuple(int(d) for d in shape)

    def make(rng):
        if dtype == "bool":
            return np.asarray(rng.random(shape) < 0.5)
        if dtype in ("float32", "float64", "float16"):
            a, b = (-3.0 if lo is None else lo), (3.0 if hi is None else hi)
            x = rng.uniform(a, b, shape)
            if nonzero:
                x = np.where(rng.random(shape) < 0.5, -1, 1) * \
                    rng.uniform(0.5, 3.0, shape)
            return x.astype(TYPES[dtype][1])
        if dtype == "complex64":
            return (rng.uniform(-2, 2, shape) +
                    1j * rng.uniform(-2, 2, shape)).astype(np.complex64)
        tmin, tmax = INT_RANGES[dtype]
        info = np.iinfo(TYPES[dtype][1])
        if quant is not None and (lo is not None or hi is not None):
            s, z = quant.scale[0], quant.zero_point[0]
            a = max(info.min, int(np.ceil((lo if lo is not None else -1e9)
                                          / s + z)))
            b = min(info.max, int(np.floor((hi if hi is not None else 1e9)
                                           / s + z)))
        elif quant is not None:
            a, b = info.min, info.max
        else:
            a = tmin if lo is None else int(lo)
            b = tmax if hi is None else int(hi)
        x = rng.integers(a, b, shape, endpoint=True)
        if nonzero:
            x = np.where(x == 0, 1, x)
        return x.astype(TYPES[dtype][1])
    return make


class Builder:
    """One case's model under construction: subgraph 0 plus its feeds."""

    def __init__(self):
        self.g = Graph()
        self.feeds: List[Callable] = []
        self.extra: List[Graph] = []

    def inp(self, dtype, shape, quant=None, lo=None, hi=None, feed=None,
            nonzero=False):
        self.feeds.append(feed or gen(dtype, shape, lo, hi, quant, nonzero))
        return self.g.input(dtype, shape, quant)

    def const(self, dtype, value, quant=None, shape=None):
        return self.g.const(dtype, value, quant, shape)

    def out(self, dtype, quant=None, shape=(1,)):
        return self.g.output(self.g.tensor(dtype, shape, quant=quant))

    def tensor(self, dtype, shape=(1,), quant=None):
        return self.g.tensor(dtype, shape, quant=quant)

    def op(self, code, inputs, outputs, options=None, version=1, **kw):
        self.g.op(code, inputs, outputs, options, version, **kw)

    def subgraph(self, graph: Graph) -> int:
        """Adds a subgraph after subgraph 0; returns its index."""
        self.extra.append(graph)
        return len(self.extra)

    def case(self, op, types, attrs) -> Case:
        return Case(op, types, attrs, [self.g] + self.extra, self.feeds)


def rconst(dtype, shape, seed, lo=-1.0, hi=1.0):
    """A deterministic random constant (weights) of a type."""
    rng = np.random.default_rng(seed)
    if dtype in ("float32", "float64", "float16"):
        return rng.uniform(lo, hi, shape).astype(TYPES[dtype][1])
    a, b = INT_RANGES[dtype]
    return rng.integers(max(a, -127) if dtype == "int8" else a, b,
                        shape, endpoint=True).astype(TYPES[dtype][1])


def fmt(shape) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


# ---------------------------------------------------------------- registry

REGISTRY: Dict[str, Callable[[str], List[Case]]] = {}
CONVERTED: Dict[str, List[Callable[[], Case]]] = {}  # see the end


def cases(*ops):
    """Registers a function op_name -> [Case] for the operators `ops`."""
    def register(fn):
        for op in ops:
            REGISTRY[op] = fn
        return fn
    return register


# Operators whose LiteRT kernels also take float16 tensors (found by
# trying every float32 case with float16 tensors): their float32 cases are
# repeated in float16, where the table above does not list float16 itself.
FLOAT16_OPS = {
    "ASSIGN_VARIABLE", "BATCH_TO_SPACE_ND", "BROADCAST_TO", "CALL_ONCE",
    "CONCATENATION", "DENSIFY", "DILATE", "DYNAMIC_UPDATE_SLICE",
    "EMBEDDING_LOOKUP", "EXPAND_DIMS", "FAKE_QUANT", "FILL", "GATHER",
    "GATHER_ND", "GELU", "HASHTABLE_LOOKUP", "IF", "LSH_PROJECTION",
    "MATRIX_DIAG", "MATRIX_SET_DIAG", "MIRROR_PAD", "PAD", "PADV2", "RANK",
    "READ_VARIABLE", "RESHAPE", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2",
    "SELECT", "SELECT_V2", "SHAPE", "SLICE", "SOFTMAX", "SPACE_TO_BATCH_ND",
    "SQUEEZE", "STABLEHLO_ADD", "STABLEHLO_CASE", "STABLEHLO_COMPOSITE",
    "STABLEHLO_GATHER", "STABLEHLO_MAXIMUM", "STABLEHLO_MINIMUM",
    "STABLEHLO_MULTIPLY", "STABLEHLO_PAD", "STABLEHLO_SCATTER",
    "STRIDED_SLICE", "TILE", "TRANSPOSE", "UNPACK", "VAR_HANDLE", "WHILE",
}


def as_float16(case: Case) -> Case:
    """The case with every float32 tensor (inputs, constants, outputs and
    subgraph tensors) made float16."""
    graphs = copy.deepcopy(case.graphs)
    for graph in graphs:
        for t in graph.tensors:
            if t.dtype == "float32":
                t.dtype = "float16"
                if t.data is not None:
                    t.data = np.asarray(t.data).astype(np.float16)

    def half(feed):
        def make(rng):
            x = feed(rng)
            return x.astype(np.float16) if x.dtype == np.float32 else x
        return make
    return Case(case.op, "float16", case.attrs, graphs,
                [half(f) for f in case.feeds], optional=True)


# Operators with a hybrid kernel in LiteRT (float activations, int8
# weights): their float32 cases are repeated with each constant weight
# matrix made symmetric int8.
HYBRID_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
              "BATCH_MATMUL", "RNN", "UNIDIRECTIONAL_SEQUENCE_RNN",
              "BIDIRECTIONAL_SEQUENCE_RNN", "SVDF", "LSTM",
              "UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"}


def as_hybrid(case: Case) -> Optional[Case]:
    """The case with its float32 constants of rank 2 or more (weights)
    quantized to int8, symmetric, one scale per tensor (per output channel
    for DEPTHWISE_CONV_2D); None when it has no such constant.

    LiteRT's hybrid depthwise kernel reads one scale per output channel
    whatever the filter holds: its Prepare only checks the scale count
    against the filter's quantized dimension, which is 1 for a per-tensor
    filter (dimension 0 of a [1, H, W, C] filter), so a per-tensor filter
    makes it read past the scale array (its builtin and reference kernels
    then differ by up to 1e34). Such answers test nothing, so the
    depthwise filter is quantized per channel, as the converter does."""
    graphs = copy.deepcopy(case.graphs)
    weights = [t for t in graphs[0].tensors if t.dtype == "float32" and
               t.data is not None and len(t.shape) >= 2]
    if not weights:
        return None
    per_channel = case.op == "DEPTHWISE_CONV_2D"
    for t in weights:
        w = np.asarray(t.data, np.float32)
        if per_channel and len(t.shape) == 4:
            scale = np.abs(w).max(axis=(0, 1, 2)) / 127
            scale[scale == 0] = 1.0
            t.quant = Quant([float(s) for s in scale], [0] * len(scale), 3)
        else:
            scale = float(np.abs(w).max()) / 127 or 1.0
            t.quant = Quant([scale], [0])
        t.dtype = "int8"
        t.data = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return Case(case.op, "float32/int8 weights", case.attrs, graphs,
                case.feeds, optional=True)


# More types LiteRT's kernels take for some operators (found by trying
# each float32 case with its float32 tensors retyped): the float32 cases
# are repeated in each. Quantized ones get one set of parameters
# throughout; the rest are plain numbers.
_PLAIN = ("uint16", "uint32", "float64")
# The element copies (and StableHLO arithmetic) also take these.
_WIDE = ("uint64", "complex64")
EXTRA_TYPES = {
    "CONCATENATION": ("uint32",),
    "EMBEDDING_LOOKUP": ("int16", "int64", "bool") + _PLAIN + _WIDE,
    "HASHTABLE_LOOKUP": ("int8", "int16", "int64", "bool") + _PLAIN,
    "RESHAPE": _PLAIN, "TRANSPOSE": _PLAIN, "STRIDED_SLICE": _PLAIN,
    "SELECT": _PLAIN + _WIDE, "SELECT_V2": _PLAIN, "SLICE": _PLAIN, "TILE": _PLAIN,
    "BROADCAST_TO": _PLAIN, "PACK": ("uint32",), "WHERE": ("uint32",),
    "PAD": ("bool",), "PADV2": ("bool",), "GATHER_ND": ("bool",),
    "BATCH_TO_SPACE_ND": ("bool",) + _PLAIN + _WIDE,
    "SPACE_TO_BATCH_ND": ("bool",) + _PLAIN + _WIDE,
    "SQUEEZE": ("int16",) + _PLAIN, "EXPAND_DIMS": ("int16",) + _PLAIN,
    "MATRIX_DIAG": ("int16",) + _PLAIN, "MATRIX_SET_DIAG": ("int16",) + _PLAIN,
    "SHAPE": ("uint8", "int16", "int64") + _PLAIN,
    "RANK": ("uint8", "int16", "int64") + _PLAIN,
    "FILL": ("uint8",) + _PLAIN + _WIDE,
    "RESIZE_NEAREST_NEIGHBOR": ("int32", "bool", "uint16", "uint32"),
    "MIRROR_PAD": ("bool",) + _PLAIN,
    "DYNAMIC_UPDATE_SLICE": ("uint8",) + _PLAIN,
    "PRELU": ("int16",), "GELU": ("int16",),
    "IF": ("int8", "uint8", "int16", "int64"),
    "WHILE": ("int8", "uint8", "int16", "int64"),
    "CALL_ONCE": ("int8", "uint8", "int16", "int64"),
    "VAR_HANDLE": ("uint8", "int16") + _PLAIN,
    "READ_VARIABLE": ("uint8", "int16") + _PLAIN,
    "ASSIGN_VARIABLE": ("uint8", "int16") + _PLAIN,
    "STABLEHLO_ADD": ("uint8", "bool", "uint64") + _PLAIN,
    "STABLEHLO_MULTIPLY": ("uint8", "bool", "uint64") + _PLAIN,
    "STABLEHLO_MAXIMUM": ("uint8", "bool", "uint64") + _PLAIN,
    "STABLEHLO_MINIMUM": ("uint8", "bool", "uint64") + _PLAIN,
    "STABLEHLO_SCATTER": ("int8", "uint8", "int16", "int64", "bool") +
    _PLAIN,
    "STABLEHLO_PAD": ("uint8", "int16", "bool") + _PLAIN,
    "STABLEHLO_REDUCE_WINDOW": ("int8", "uint8", "int16", "int64", "bool",
                                "float64"),
    "STABLEHLO_GATHER": ("uint8", "int16", "bool") + _PLAIN,
    "DILATE": ("uint8", "int16", "bool") + _PLAIN,
    "REDUCE_WINDOW": ("uint8", "int16", "float64"),
    "STABLEHLO_COMPOSITE": ("int8", "uint8", "int16", "int64"),
    "STABLEHLO_CASE": ("int8", "uint8", "int16", "int64", "bool") + _PLAIN,
}
# Of those, the operators whose int8/uint8/int16 kernels are quantized
# (or, for control flow, run quantized operators inside).
QUANTIZED_EXTRA = {"PRELU", "GELU", "IF", "WHILE", "CALL_ONCE",
                   "STABLEHLO_COMPOSITE"}


def as_type(case: Case, dtype: str) -> Case:
    """The case with every float32 tensor made `dtype` (constants rounded,
    or made `> 0` for bool)."""
    quant = q(dtype, 0) if case.op in QUANTIZED_EXTRA else None
    graphs = copy.deepcopy(case.graphs)
    g0 = case.graphs[0]
    for graph in graphs:
        for t in graph.tensors:
            if t.dtype != "float32":
                continue
            t.dtype, t.quant = dtype, quant
            if t.data is not None:
                d = np.asarray(t.data)
                t.data = d > 0 if dtype == "bool" else \
                    np.round(d).astype(TYPES[dtype][1])
    feeds = []
    for index, feed in zip(g0.inputs, case.feeds):
        t = g0.tensors[index]
        if t.dtype != "float32":
            feeds.append(feed)
        elif dtype == "bool" or quant:
            feeds.append(gen(dtype, t.shape, quant=quant))
        else:
            lo = 0 if dtype.startswith("u") else -9
            feeds.append(gen(dtype, t.shape, lo, 9))
    return Case(case.op, dtype, case.attrs, graphs, feeds, optional=True)


# Operator and type pairs where LiteRT runs the model without complaint but
# its answer is wrong, so it cannot judge kiln: their cases are not
# generated. Each was checked against an independent numpy computation
# on all cases of the pair; report.py lists them with these reasons.
_DIAG_WRONG = ("LiteRT's output is not the matrix numpy computes in any "
               "case of this type (diagonal values misplaced, stale memory "
               "elsewhere); kiln equals numpy")
_PRELU16_WRONG = ("LiteRT's int16 PRELU reads the int16 alpha tensor as "
                  "int8 (its answers equal x * alpha where alpha is the "
                  "alpha buffer's bytes taken as int8 values)")
_BIDI_RNN_WRONG = ("LiteRT's hybrid time-major BIDIRECTIONAL_SEQUENCE_RNN "
                   "runs the whole sequence once per time step, carrying "
                   "the state (its answers equal that to the hybrid "
                   "rounding); batch-major it is right")
_LSH16_WRONG = ("LiteRT's LSH_PROJECTION reads the float16 seeds and "
                "weights as float32 arrays, past the end of their buffers: "
                "its bits for the seeds inside the buffer equal kiln's with "
                "those bytes taken as float32s, the others come from the "
                "memory after it, and the weighted case answers differently "
                "on two identical runs")
_FAKE_QUANT16_WRONG = ("LiteRT's FAKE_QUANT reads and writes float16 "
                      "tensors as float32 arrays of their element count, "
                      "past both buffers' ends (checked on 2752 inputs of "
                      "3x7: the output's bytes are float32 fake "
                      "quantization of the input's bytes read as float32, "
                      "the last value depending on memory past the input)")
# Keys are (operator, types) or (operator, types, text the case's
# attributes contain).
LITERT_WRONG = {
    **{(op, t): _DIAG_WRONG for op in ("MATRIX_DIAG", "MATRIX_SET_DIAG")
       for t in ("bool", "float16", "uint16", "float64")},
    ("PRELU", "int16"): _PRELU16_WRONG,
    ("LSH_PROJECTION", "float16"): _LSH16_WRONG,
    ("FAKE_QUANT", "float16"): _FAKE_QUANT16_WRONG,
    ("BIDIRECTIONAL_SEQUENCE_RNN", "float32/int8 weights",
     "time_major=True"): _BIDI_RNN_WRONG,
}


def litert_wrong(case: Case) -> bool:
    """Whether LITERT_WRONG leaves the case out."""
    return any(key[:2] == (case.op, case.types) and
               (len(key) == 2 or key[2] in case.attrs)
               for key in LITERT_WRONG)

# Pairs where only LiteRT's reference kernels (BUILTIN_REF) are wrong: the
# runner compares with its builtin kernels alone (within 1).
_SUM_REF_WRONG = ("LiteRT's reference SUM reads int8 / int16 data as uint8 "
                  "bytes and clamps its result to [0, 255] (every answer "
                  "matches that; its builtin kernel sums correctly)")
LITERT_REFERENCE_WRONG = {("SUM", "int8"): _SUM_REF_WRONG,
                          ("SUM", "int16"): _SUM_REF_WRONG}


@functools.lru_cache(maxsize=None)
def cases_for(op: str) -> List[Case]:
    found = REGISTRY[op](op) + [make() for make in CONVERTED.get(op, [])]
    if op in FLOAT16_OPS and not any(c.types == "float16" for c in found):
        found += [as_float16(c) for c in found
                  if c.types == "float32" and not c.convert]
    have = {c.types for c in found}
    base = [c for c in found if c.types == "float32" and not c.convert]
    for dtype in EXTRA_TYPES.get(op, ()):
        if dtype not in have:
            found += [as_type(c, dtype) for c in base]
    if op in HYBRID_OPS:
        found += [h for h in (as_hybrid(c) for c in found
                              if c.types == "float32" and not c.convert)
                  if h is not None]
    found = [c for c in found if not litert_wrong(c)]
    seen = set()
    for c in found:  # ids seed the inputs: they must be unique
        assert c.case_id not in seen, f"duplicate case {c.case_id}"
        seen.add(c.case_id)
    return found


def schema_ops() -> List[str]:
    """Every BuiltinOperator name, in code order."""
    codes = {name: code for name, code in vars(S.BuiltinOperator).items()
             if not name.startswith("_")}
    return sorted(codes, key=codes.get)


def all_ops() -> List[str]:
    """The operators with cases, in code order."""
    return [name for name in schema_ops() if name in REGISTRY]


# ====================================================== unary elementwise

UNARY_SHAPES = ([2, 3, 4], [], [0, 3], [1, 7, 1, 5])
FLOATQ = ("float32", "int8", "uint8", "int16")
# op -> (types to try, real input range, options)
UNARY = {
    "ABS": (("float32", "int8", "int16", "int32"), None, None),
    "CEIL": (("float32",), None, None),
    "COS": (("float32", "float16"), None, None),
    "ELU": (("float32", "int8"), None, None),
    "EXP": (("float32", "int8", "int16"), (-3, 2), None),
    "FLOOR": (("float32", "float16"), None, None),
    "HARD_SWISH": (("float32", "int8", "uint8"), None, None),
    "LOG": (("float32", "int8", "int16"), (0.01, 5), None),
    "LOGISTIC": (FLOATQ + ("float16",), None, None),
    "NEG": (("float32", "int32", "int64", "int8", "int16", "float16"), None,
            None),
    "RELU": (FLOATQ, None, None),
    "RELU6": (FLOATQ, (-3, 8), None),
    "RELU_N1_TO_1": (("float32", "int8", "uint8"), None, None),
    "RELU_0_TO_1": (("float32", "int8", "uint8"), None, None),
    "ROUND": (("float32", "float16"), None, None),
    "RSQRT": (("float32", "int8", "int16"), (0.01, 5), None),
    "SIGN": (("float32", "float64", "int32"), None, None),
    "SIN": (("float32", "float16"), None, None),
    "SQRT": (("float32", "int8", "int16"), (0, 5), None),
    "SQUARE": (("float32",), None, None),
    "TANH": (FLOATQ + ("float16",), None, None),
    "ZEROS_LIKE": (("float32", "int32", "int64"), None, None),
    "LOGICAL_NOT": (("bool",), None, None),
}

# Output quantization LiteRT requires of some int8/uint8/int16 kernels.
FIXED_OUT_QUANT = {
    ("LOGISTIC", "int8"): Quant([1 / 256], [-128]),
    ("LOGISTIC", "uint8"): Quant([1 / 256], [0]),
    ("LOGISTIC", "int16"): Quant([1 / 32768], [0]),
    ("TANH", "int8"): Quant([1 / 128], [0]),
    ("TANH", "uint8"): Quant([1 / 128], [128]),
    ("TANH", "int16"): Quant([1 / 32768], [0]),
    ("SOFTMAX", "int8"): Quant([1 / 256], [-128]),
    ("SOFTMAX", "uint8"): Quant([1 / 256], [0]),
    ("SOFTMAX", "int16"): Quant([1 / 32768], [0]),
    ("LOG_SOFTMAX", "int8"): Quant([16 / 256], [127]),
    ("LOG_SOFTMAX", "uint8"): Quant([16 / 256], [255]),
    ("L2_NORMALIZATION", "int8"): Quant([1 / 128], [0]),
    ("L2_NORMALIZATION", "uint8"): Quant([1 / 128], [128]),
}


def out_quant(op, dtype, k=1):
    return FIXED_OUT_QUANT.get((op, dtype), q(dtype, k))


def unary_case(op, dtype, shape, rng_range, options, attrs="", out_q=None):
    b = Builder()
    lo, hi = rng_range or (None, None)
    qin = q(dtype, 0)
    x = b.inp(dtype, shape, qin, lo, hi)
    y = b.out(dtype, out_q or out_quant(op, dtype))
    b.op(op, [x], [y], options)
    return b.case(op, dtype, f"{fmt(shape)}{attrs}")


@cases(*UNARY)
def unary_cases(op):
    types, rng_range, options = UNARY[op]
    found = []
    for dtype in types:
        for shape in UNARY_SHAPES:
            found.append(unary_case(op, dtype, shape, rng_range, options))
        if dtype in QTYPES and (op, dtype) not in FIXED_OUT_QUANT:
            # the same scale in and out: the kernels' identity-scale path
            found.append(unary_case(op, dtype, [3, 5], rng_range, options,
                                    " same-scale", q(dtype, 0)))
    return found


@cases("LEAKY_RELU")
def leaky_relu_cases(op):
    found = []
    for dtype in FLOATQ:
        for alpha in (0.2, 1.5, -0.5):
            for shape in ([2, 3, 4], [0, 2]):
                found.append(unary_case(op, dtype, shape, None,
                                        opts("LeakyRelu", alpha=alpha),
                                        f" alpha={alpha}"))
    return found


@cases("GELU")
def gelu_cases(op):
    found = []
    for dtype in ("float32", "int8", "uint8"):
        for approximate in (False, True):
            for shape in ([2, 3, 4], [], [0, 2]):
                found.append(unary_case(op, dtype, shape, (-4, 4),
                                        opts("Gelu", approximate=approximate),
                                        f" approximate={approximate}"))
    return found


# ===================================================== binary elementwise

BINARY_SHAPES = (([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [4]),
                 ([2, 1, 4], [1, 3, 1]), ([3], []), ([0, 3], [3]),
                 ([1, 1], [1]))
BINARY_6D = ([1, 2, 1, 3, 1, 2], [2, 1, 3, 1, 1])
ARITH_TYPES = ("float32", "int32", "int64", "int8", "uint8", "int16")
# op -> (types, option class or None, fused activations tried,
#        input ranges (a, b) real or None, divisor nonzero, 6-D broadcast)
BINARY = {
    "ADD": (ARITH_TYPES + ("float16",), "Add", True, None, False, True),
    "SUB": (ARITH_TYPES, "Sub", True, None, False, True),
    "MUL": (ARITH_TYPES + ("complex64", "float16", "uint32"), "Mul", True,
            None, False, True),
    "DIV": (("float32", "int32", "uint8", "int8", "int16"), "Div", True, None,
            True, True),
    "MAXIMUM": (ARITH_TYPES + ("float16",), None, False, None, False, True),
    "MINIMUM": (ARITH_TYPES + ("float16",), None, False, None, False, True),
    "POW": (("float32", "int32"), None, False, "pow", False, True),
    "SQUARED_DIFFERENCE": (("float32", "int32", "int8"), None, False, None,
                           False, False),
    "FLOOR_DIV": (("float32", "int32", "int16", "int8"), None, False, None,
                  True, False),
    "FLOOR_MOD": (("float32", "int32", "int64", "int16", "int8"), None,
                  False, None, True, False),
    "ATAN2": (("float32", "float64", "float16"), None, False, None, False,
              False),
    "BITWISE_XOR": (("int8", "uint8", "int16", "uint16", "int32", "uint32"),
                    None, False, None, False, False),
    "RIGHT_SHIFT": (("int8", "uint8", "int16", "uint16", "int32", "uint32"),
                    None, False, "shift", False, False),
    "LOGICAL_AND": (("bool",), None, False, None, False, False),
    "LOGICAL_OR": (("bool",), None, False, None, False, False),
    "LESS": (ARITH_TYPES, None, False, None, False, False),
    "LESS_EQUAL": (ARITH_TYPES, None, False, None, False, False),
    "GREATER": (ARITH_TYPES, None, False, None, False, False),
    "GREATER_EQUAL": (ARITH_TYPES, None, False, None, False, False),
    "EQUAL": (ARITH_TYPES + ("bool",), None, False, None, False, False),
    "NOT_EQUAL": (ARITH_TYPES + ("bool",), None, False, None, False, False),
}
COMPARE = {"LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL",
           "NOT_EQUAL"}
for _op in COMPARE:  # LiteRT compares float16 too
    BINARY[_op] = (BINARY[_op][0] + ("float16",),) + BINARY[_op][1:]
# Bit operations take plain integers, not quantized ones.
PLAIN_INT_OPS = {"BITWISE_XOR", "RIGHT_SHIFT", "FLOOR_DIV", "FLOOR_MOD",
                 "STABLEHLO_SHIFT_LEFT", "STABLEHLO_AND"}


def _binary_feeds(op, dtype, shape, which, ranges, nonzero, quant):
    if ranges == "pow":
        if dtype == "float32":
            return gen(dtype, shape, 0.5, 2.0) if which == 0 \
                else gen(dtype, shape, -2.0, 2.0)
        return gen(dtype, shape, -3, 3) if which == 0 \
            else gen(dtype, shape, 0, 4)
    if ranges == "shift" and which == 1:
        bits = 8 * np.dtype(TYPES[dtype][1]).itemsize
        return gen(dtype, shape, 0, bits - 1)
    if which == 1 and nonzero:
        return gen(dtype, shape, quant=quant, nonzero=True,
                   lo=(1 if dtype == "uint8" and quant else None),
                   hi=None)
    if dtype in ("int32", "int64") and op in COMPARE:
        return gen(dtype, shape, -3, 3)  # ties, so == and <= matter
    return gen(dtype, shape, quant=quant)


def binary_case(op, dtype, shapes, option_cls, act, ranges, nonzero,
                const_rhs=False, same_scale=False, wide=False):
    b = Builder()
    quantized = dtype in QTYPES and op not in PLAIN_INT_OPS
    q0 = q(dtype, 3 if wide else 0) if quantized else None
    q1 = (q(dtype, 0) if same_scale else q(dtype, 2)) if quantized else None
    qo = (q(dtype, 0) if same_scale else q(dtype, 1)) if quantized else None
    x = b.inp(dtype, shapes[0], q0,
              feed=_binary_feeds(op, dtype, shapes[0], 0, ranges, nonzero,
                                 q0))
    if const_rhs:
        value = _binary_feeds(op, dtype, shapes[1], 1, ranges, nonzero,
                              q1)(np.random.default_rng(7))
        y = b.const(dtype, value, q1)
    else:
        y = b.inp(dtype, shapes[1], q1,
                  feed=_binary_feeds(op, dtype, shapes[1], 1, ranges,
                                     nonzero, q1))
    out_type = "bool" if op in COMPARE else dtype
    z = b.out(out_type, None if op in COMPARE else qo)
    options = opts(option_cls, fusedActivationFunction=act) \
        if option_cls else None
    b.op(op, [x, y], [z], options)
    attrs = f"{fmt(shapes[0])} . {fmt(shapes[1])}"
    if const_rhs:
        attrs += " rhs=const"
    if option_cls:
        attrs += f" act={ACT_NAMES[act]}"
    if same_scale:
        attrs += " same-scale"
    if wide:
        attrs += " wide-scale-ratio"
    return b.case(op, dtype, attrs)


@cases(*BINARY)
def binary_cases(op):
    types, option_cls, acts, ranges, nonzero, six_d = BINARY[op]
    found = []
    for dtype in types:
        shapes = list(BINARY_SHAPES) + ([BINARY_6D] if six_d else [])
        if op == "ATAN2":  # LiteRT's kernel does not broadcast
            shapes = [([2, 3, 4], [2, 3, 4]), ([], []), ([0, 3], [0, 3]),
                      ([1, 5, 1], [1, 5, 1])]
        for pair in shapes:
            found.append(binary_case(op, dtype, pair, option_cls, ACT.NONE,
                                     ranges, nonzero))
        found.append(binary_case(
            op, dtype, ([2, 3], [2, 3] if op == "ATAN2" else [3]), option_cls,
            ACT.NONE, ranges, nonzero, const_rhs=True))
        if dtype in QTYPES and op not in PLAIN_INT_OPS:
            found.append(binary_case(op, dtype, ([2, 3], [2, 3]), option_cls,
                                     ACT.NONE, ranges, nonzero,
                                     same_scale=True))
            found.append(binary_case(op, dtype, ([2, 3], [2, 3]), option_cls,
                                     ACT.NONE, ranges, nonzero, wide=True))
        if acts and dtype not in ("int64", "complex64"):
            for act in (ACT.RELU, ACT.RELU6, ACT.RELU_N1_TO_1):
                found.append(binary_case(op, dtype, ([2, 3], [2, 3]),
                                         option_cls, act, ranges, nonzero))
    return found


STABLEHLO_BINARY = {
    "STABLEHLO_ADD": ("float32", "int32", "int64", "int8", "int16"),
    "STABLEHLO_MULTIPLY": ("float32", "int32", "int64", "int8", "int16"),
    "STABLEHLO_MAXIMUM": ("float32", "int32", "int64", "int8", "int16"),
    "STABLEHLO_MINIMUM": ("float32", "int32", "int64", "int8", "int16"),
    "STABLEHLO_AND": ("bool", "int8", "int32", "int64", "uint8"),
    "STABLEHLO_SHIFT_LEFT": ("int8", "int16", "int32"),
}


@cases(*STABLEHLO_BINARY)
def stablehlo_binary_cases(op):
    found = []
    for dtype in STABLEHLO_BINARY[op]:
        for shape in ([2, 3, 4], [5], [], [0, 2]):
            b = Builder()
            x = b.inp(dtype, shape, lo=-20 if dtype != "bool" else None,
                      hi=20 if dtype != "bool" else None)
            if op == "STABLEHLO_SHIFT_LEFT":
                y = b.inp(dtype, shape, lo=0, hi=6)
            else:
                y = b.inp(dtype, shape, lo=-20 if dtype != "bool" else None,
                          hi=20 if dtype != "bool" else None)
            z = b.out(dtype)
            b.op(op, [x, y], [z])
            found.append(b.case(op, dtype, fmt(shape)))
    return found


@cases("PRELU")
def prelu_cases(op):
    found = []
    for dtype in ("float32", "int8", "uint8"):
        for shape, alpha_shape in (([1, 4, 4, 3], [3]), ([2, 3, 4], [1, 1, 4]),
                                   ([2, 5], [2, 5]),
                                   ([1, 2, 2, 3], [1, 1, 1])):
            for const_alpha in (True, False):
                b = Builder()
                x = b.inp(dtype, shape, q(dtype, 0))
                qa = q(dtype, 2)
                if const_alpha:
                    a = b.const(dtype, gen(dtype, alpha_shape, -1, 1, qa)(
                        np.random.default_rng(3)), qa)
                else:
                    a = b.inp(dtype, alpha_shape, qa, -1, 1)
                y = b.out(dtype, q(dtype, 1))
                b.op(op, [x, a], [y])
                found.append(b.case(
                    op, dtype, f"{fmt(shape)} alpha={fmt(alpha_shape)}"
                    f"{' const' if const_alpha else ''}"))
    return found


@cases("ADD_N")
def add_n_cases(op):
    found = []
    for dtype in ("float32", "int32"):
        for n, shape in ((2, [2, 3]), (3, [4]), (4, [1, 2, 2]), (2, [0, 2])):
            b = Builder()
            xs = [b.inp(dtype, shape) for _ in range(n)]
            y = b.out(dtype)
            b.op(op, xs, [y])
            found.append(b.case(op, dtype, f"n={n} {fmt(shape)}"))
    return found


@cases("SELECT", "SELECT_V2")
def select_cases(op):
    found = []
    if op == "SELECT":
        shapes = (([2, 3], [2, 3], [2, 3]), ([3], [3, 2], [3, 2]),
                  ([], [2, 2], [2, 2]), ([0, 2], [0, 2], [0, 2]))
    else:
        shapes = (([2, 3], [2, 3], [2, 3]), ([2, 1], [1, 3], [2, 3]),
                  ([], [2, 2], [2, 2]), ([1, 3], [2, 3], [1]),
                  ([2, 1, 3, 1], [1, 2, 1, 4], [2, 2, 3, 4]),
                  ([0, 2], [2], [1]))
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16",
                  "bool"):
        for cs, xs, ys in shapes:
            b = Builder()
            c = b.inp("bool", cs)
            x = b.inp(dtype, xs, q(dtype, 0))
            y = b.inp(dtype, ys, q(dtype, 0))
            z = b.out(dtype, q(dtype, 0))
            b.op(op, [c, x, y], [z])
            found.append(b.case(op, dtype,
                                f"{fmt(cs)} ? {fmt(xs)} : {fmt(ys)}"))
    return found


# ============================================================ reductions

REDUCE_TYPES = {
    "MEAN": ("float32", "int32", "int64", "int8", "uint8", "int16"),
    "SUM": ("float32", "int32", "int64", "int8", "uint8", "int16"),
    "REDUCE_MAX": ("float32", "int32", "int64", "int8", "uint8", "int16"),
    "REDUCE_MIN": ("float32", "int32", "int64", "int8", "uint8", "int16"),
    "REDUCE_PROD": ("float32", "int32", "int64", "int8", "int16"),
    "REDUCE_ANY": ("bool",),
    "REDUCE_ALL": ("bool",),
}
REDUCE_AXES = ([1], [0, 2], [-1], [0, 1, 2], [], [2, -1])


def reduce_case(op, dtype, shape, axes, keep, axis_type="int32"):
    b = Builder()
    # MIN/MAX/ANY/ALL keep the input's scale; the others rescale.
    keeps_scale = op in ("REDUCE_MAX", "REDUCE_MIN")
    lo, hi = (0.5, 1.5) if op == "REDUCE_PROD" else (None, None)
    if op == "REDUCE_PROD" and dtype in ("int32", "int64"):
        lo, hi = -2, 2
    x = b.inp(dtype, shape, q(dtype, 0), lo, hi)
    a = b.const(axis_type, np.array(axes, dtype=TYPES[axis_type][1]),
                shape=[len(axes)])
    y = b.out(dtype, q(dtype, 0 if keeps_scale else 1))
    b.op(op, [x, a], [y], opts("Reducer", keepDims=keep))
    extra = "" if axis_type == "int32" else f" axis={axis_type}"
    return b.case(op, dtype, f"{fmt(shape)} axes={axes} keep_dims={keep}"
                  f"{extra}")


@cases(*REDUCE_TYPES)
def reduce_cases(op):
    found = []
    for dtype in REDUCE_TYPES[op]:
        for axes in REDUCE_AXES:
            for keep in (False, True):
                found.append(reduce_case(op, dtype, [2, 3, 4], axes, keep))
        found.append(reduce_case(op, dtype, [4, 1, 5], [1], False))
        found.append(reduce_case(op, dtype, [0, 3], [1], False))
        found.append(reduce_case(op, dtype, [1, 5, 5, 3], [1, 2], True))
    return found


@cases("ARG_MAX", "ARG_MIN")
def arg_cases(op):
    found = []
    cls = "ArgMax" if op == "ARG_MAX" else "ArgMin"
    for dtype in ("float32", "int32", "int8", "uint8", "bool"):
        for shape, axis in (([2, 3, 4], 1), ([2, 3, 4], 0), ([2, 3, 4], -1),
                            ([7], 0), ([1, 5, 1], 1)):
            for out_type in ("int32", "int64"):
                b = Builder()
                lo, hi = (-3, 3) if dtype in ("int32", "int64") else (None,
                                                                       None)
                x = b.inp(dtype, shape, q(dtype, 0), lo, hi)
                a = b.const("int32", [axis])
                y = b.out(out_type)
                b.op(op, [x, a], [y], opts(cls, outputType=getattr(
                    S.TensorType, out_type.upper())))
                found.append(b.case(op, dtype, f"{fmt(shape)} axis={axis} "
                                    f"-> {out_type}"))
    return found


@cases("CUMSUM")
def cumsum_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64"):
        for shape, axis in (([2, 3, 4], 1), ([5], 0), ([2, 3, 4], -1),
                            ([0, 3], 1)):
            for exclusive in (False, True):
                for reverse in (False, True):
                    b = Builder()
                    x = b.inp(dtype, shape)
                    a = b.const("int32", axis, shape=[])
                    y = b.out(dtype)
                    b.op(op, [x, a], [y], opts("Cumsum", exclusive=exclusive,
                                               reverse=reverse))
                    found.append(b.case(
                        op, dtype, f"{fmt(shape)} axis={axis} "
                        f"exclusive={exclusive} reverse={reverse}"))
    return found


# ================================================ softmax, normalization

@cases("SOFTMAX", "LOG_SOFTMAX")
def softmax_cases(op):
    found = []
    types = FLOATQ if op == "SOFTMAX" else ("float32", "int8", "uint8")
    betas = (1.0, 0.5, 2.0) if op == "SOFTMAX" else (1.0,)
    for dtype in types:
        for shape in ([2, 5], [1, 2, 3, 7], [3], [4, 1]):
            for beta in betas:
                b = Builder()
                x = b.inp(dtype, shape, q(dtype, 0), -4, 4)
                y = b.out(dtype, out_quant(op, dtype))
                o = opts("Softmax", beta=beta) if op == "SOFTMAX" else None
                b.op(op, [x], [y], o)
                found.append(b.case(op, dtype, f"{fmt(shape)}" +
                                    (f" beta={beta}" if o else "")))
    return found


@cases("L2_NORMALIZATION")
def l2norm_cases(op):
    found = []
    for dtype in ("float32", "int8", "uint8"):
        for shape in ([2, 5], [1, 2, 3, 7], [6]):
            for act in (ACT.NONE,):  # LiteRT takes no other
                b = Builder()
                x = b.inp(dtype, shape, q(dtype, 0))
                y = b.out(dtype, out_quant(op, dtype))
                b.op(op, [x], [y], opts("L2Norm",
                                        fusedActivationFunction=act))
                found.append(b.case(op, dtype,
                                    f"{fmt(shape)} act={ACT_NAMES[act]}"))
    return found


@cases("LOCAL_RESPONSE_NORMALIZATION")
def lrn_cases(op):
    found = []
    for radius, bias, alpha, beta in ((2, 1.0, 1.0, 0.5), (1, 2.0, 0.5, 0.75),
                                      (5, 0.5, 0.1, 1.0), (0, 1.0, 1.0, 0.5)):
        for shape in ([1, 3, 3, 8], [2, 2, 1, 5]):
            b = Builder()
            x = b.inp("float32", shape)
            y = b.out("float32")
            b.op(op, [x], [y], opts("LocalResponseNormalization",
                                    radius=radius, bias=bias, alpha=alpha,
                                    beta=beta))
            found.append(b.case(op, "float32",
                                f"{fmt(shape)} radius={radius} bias={bias} "
                                f"alpha={alpha} beta={beta}"))
    return found


# ========================================================= convolutions

def conv_weights(b, dtype, shape, seed, per_channel_axis=None):
    """(filter tensor, bias tensor type, filter scales) for a conv case:
    float32 filters, or int8 (per-channel for int8/int16 activations,
    per-tensor uint8 for uint8 activations)."""
    if dtype == "float32":
        return b.const("float32", rconst("float32", shape, seed)), None
    if dtype == "uint8":
        fq = Quant([0.02], [120])
        return b.const("uint8", rconst("uint8", shape, seed), fq), fq.scale
    channels = shape[per_channel_axis]
    scales = list(np.linspace(0.01, 0.03, channels))
    fq = Quant(scales, [0] * channels, per_channel_axis)
    return b.const("int8", rconst("int8", shape, seed), fq), scales


def conv_bias(b, dtype, count, in_scale, filter_scales, seed):
    if dtype == "float32":
        return b.const("float32", rconst("float32", [count], seed))
    scales = [in_scale * s for s in (filter_scales if len(filter_scales) > 1
                                     else filter_scales * count)]
    bias_type = "int64" if dtype == "int16" else "int32"
    values = np.random.default_rng(seed).integers(-500, 500, count)
    bq = Quant(scales[:count] if len(filter_scales) > 1 else [scales[0]],
               [0] * (count if len(filter_scales) > 1 else 1))
    return b.const(bias_type, values.astype(TYPES[bias_type][1]), bq)


CONV_TYPES = ("float32", "int8", "uint8", "int16")


@cases("CONV_2D")
def conv2d_cases(op):
    found = []
    spreads = [  # input, filter (O,H,W,I), stride, padding, dilation, act
        ([1, 7, 7, 3], [4, 3, 3, 3], 1, SAME, 1, ACT.NONE),
        ([1, 7, 7, 3], [4, 3, 3, 3], 2, VALID, 1, ACT.RELU),
        ([2, 6, 5, 2], [3, 2, 3, 2], (2, 1), SAME, 1, ACT.RELU6),
        ([1, 8, 8, 2], [2, 3, 3, 2], 1, VALID, 2, ACT.NONE),
        ([1, 5, 5, 4], [6, 1, 1, 4], 1, SAME, 1, ACT.RELU_N1_TO_1),
        ([1, 1, 1, 3], [2, 1, 1, 3], 1, VALID, 1, ACT.NONE),
        ([1, 6, 6, 4], [4, 3, 3, 2], 1, SAME, 1, ACT.NONE),  # 2 groups
        ([0, 5, 5, 3], [2, 3, 3, 3], 1, SAME, 1, ACT.NONE),  # empty batch
    ]
    for dtype in CONV_TYPES:
        for k, (ishape, fshape, stride, pad, dil, act) in enumerate(spreads):
            for with_bias in (True,):  # LiteRT's CONV_2D wants a bias
                b = Builder()
                sh, sw = stride if isinstance(stride, tuple) else (stride,
                                                                    stride)
                qi = q(dtype, 0)
                x = b.inp(dtype, ishape, qi)
                w, fscales = conv_weights(b, dtype, fshape, k, 0)
                bias = conv_bias(b, dtype, fshape[0], qi.scale[0] if qi
                                 else 1, fscales or [1], k + 10) \
                    if with_bias else None
                y = b.out(dtype, q(dtype, 1))
                b.op(op, [x, w] + ([bias] if with_bias else []), [y], opts(
                    "Conv2D", padding=pad, strideH=sh, strideW=sw,
                    dilationHFactor=dil, dilationWFactor=dil,
                    fusedActivationFunction=act))
                found.append(b.case(
                    op, dtype, f"in={fmt(ishape)} filter={fmt(fshape)} "
                    f"stride={sh},{sw} {'SAME' if pad == SAME else 'VALID'}"
                    f" dilation={dil} act={ACT_NAMES[act]}"
                    f"{'' if with_bias else ' no-bias'}"))
    return found


@cases("DEPTHWISE_CONV_2D")
def depthwise_cases(op):
    found = []
    spreads = [  # input, kernel, multiplier, stride, padding, dilation, act
        ([1, 7, 7, 3], (3, 3), 1, 1, SAME, 1, ACT.NONE),
        ([1, 7, 7, 3], (3, 3), 2, 2, VALID, 1, ACT.RELU),
        ([2, 6, 5, 4], (2, 3), 1, (1, 2), SAME, 1, ACT.RELU6),
        ([1, 9, 9, 2], (3, 3), 1, 1, VALID, 2, ACT.NONE),
        ([1, 4, 4, 1], (3, 3), 3, 1, SAME, 1, ACT.NONE),
        ([1, 1, 1, 2], (1, 1), 1, 1, VALID, 1, ACT.RELU_N1_TO_1),
        ([0, 4, 4, 2], (3, 3), 1, 1, SAME, 1, ACT.NONE),
    ]
    for dtype in CONV_TYPES:
        for k, (ishape, (kh, kw), mult, stride, pad, dil, act) in \
                enumerate(spreads):
            b = Builder()
            sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
            qi = q(dtype, 0)
            x = b.inp(dtype, ishape, qi)
            out_c = ishape[3] * mult
            w, fscales = conv_weights(b, dtype, [1, kh, kw, out_c], k, 3)
            bias = conv_bias(b, dtype, out_c, qi.scale[0] if qi else 1,
                             fscales or [1], k + 10)
            y = b.out(dtype, q(dtype, 1))
            b.op(op, [x, w, bias], [y], opts(
                "DepthwiseConv2D", padding=pad, strideH=sh, strideW=sw,
                depthMultiplier=mult, dilationHFactor=dil,
                dilationWFactor=dil, fusedActivationFunction=act))
            found.append(b.case(
                op, dtype, f"in={fmt(ishape)} kernel={kh}x{kw} "
                f"multiplier={mult} stride={sh},{sw} "
                f"{'SAME' if pad == SAME else 'VALID'} dilation={dil} "
                f"act={ACT_NAMES[act]}"))
    return found


@cases("TRANSPOSE_CONV")
def transpose_conv_cases(op):
    found = []
    spreads = [  # input, filter (O,H,W,I), output shape, stride, padding
        ([1, 4, 4, 3], [2, 3, 3, 3], [1, 8, 8, 2], 2, SAME),
        ([1, 3, 3, 2], [4, 3, 3, 2], [1, 7, 7, 4], 2, VALID),
        ([2, 3, 4, 2], [3, 2, 2, 2], [2, 3, 4, 3], 1, SAME),
        ([1, 2, 2, 1], [1, 1, 1, 1], [1, 4, 4, 1], 2, SAME),
    ]
    for dtype in ("float32", "int8", "uint8", "int16"):
        for k, (ishape, fshape, oshape, stride, pad) in enumerate(spreads):
            for with_bias in ((True, False) if k < 2 else (True,)):
                b = Builder()
                qi = q(dtype, 0)
                shape_t = b.const("int32", oshape)
                w, fscales = conv_weights(b, dtype, fshape, k, 0)
                x = b.inp(dtype, ishape, qi)
                bias = conv_bias(b, dtype, fshape[0], qi.scale[0] if qi
                                 else 1, fscales or [1], k) \
                    if with_bias else -1
                y = b.out(dtype, q(dtype, 1), oshape)
                b.op(op, [shape_t, w, x, bias], [y], opts(
                    "TransposeConv", padding=pad, strideH=stride,
                    strideW=stride), version=3 if with_bias else 1)
                found.append(b.case(
                    op, dtype, f"in={fmt(ishape)} filter={fmt(fshape)} "
                    f"out={fmt(oshape)} stride={stride} "
                    f"{'SAME' if pad == SAME else 'VALID'}"
                    f"{'' if with_bias else ' no-bias'}"))
    return found


@cases("FULLY_CONNECTED")
def fully_connected_cases(op):
    found = []
    spreads = [  # input, weights (O,I), keep_num_dims, act, bias
        ([2, 5], [4, 5], False, ACT.NONE, True),
        ([2, 5], [4, 5], False, ACT.RELU, False),
        ([2, 3, 5], [4, 5], True, ACT.NONE, True),
        ([2, 3, 5], [4, 5], False, ACT.RELU6, True),
        ([1, 16], [10, 16], False, ACT.NONE, True),
        ([3, 1], [2, 1], False, ACT.RELU_N1_TO_1, True),
        ([2, 2, 6], [3, 12], False, ACT.NONE, True),  # flattens to 2x12
        ([0, 5], [4, 5], False, ACT.NONE, True),
    ]
    for dtype in CONV_TYPES:
        for k, (ishape, wshape, keep, act, with_bias) in enumerate(spreads):
            b = Builder()
            qi = q(dtype, 0)
            x = b.inp(dtype, ishape, qi)
            if dtype == "float32":
                w, fscales = b.const("float32", rconst("float32", wshape,
                                                       k)), None
            elif dtype == "uint8":
                w, fscales = conv_weights(b, dtype, wshape, k, 0)
            else:  # per-tensor int8 weights, symmetric
                fq = Quant([0.02], [0])
                w, fscales = b.const("int8", rconst("int8", wshape, k),
                                     fq), fq.scale
            bias = conv_bias(b, dtype, wshape[0], qi.scale[0] if qi else 1,
                             fscales or [1], k) if with_bias else -1
            y = b.out(dtype, q(dtype, 1))
            b.op(op, [x, w, bias], [y], opts(
                "FullyConnected", fusedActivationFunction=act,
                keepNumDims=keep))
            found.append(b.case(
                op, dtype, f"in={fmt(ishape)} weights={fmt(wshape)} "
                f"keep_num_dims={keep} act={ACT_NAMES[act]}"
                f"{'' if with_bias else ' no-bias'}"))
    # float input, int8 weights: LiteRT's hybrid kernel
    b = Builder()
    x = b.inp("float32", [2, 5])
    w = b.const("int8", rconst("int8", [3, 5], 1), Quant([0.02], [0]))
    y = b.out("float32")
    b.op(op, [x, w, -1], [y], opts("FullyConnected"))
    found.append(b.case(op, "float32/int8 weights", "hybrid in=2x5 "
                        "weights=3x5"))
    return found


@cases("BATCH_MATMUL")
def batch_matmul_cases(op):
    found = []
    spreads = [  # lhs, rhs, adj_x, adj_y, rhs constant
        ([2, 3, 4], [2, 4, 5], False, False, False),
        ([2, 4, 3], [2, 4, 5], True, False, False),
        ([2, 3, 4], [2, 5, 4], False, True, False),
        ([2, 1, 3, 4], [3, 4, 5], False, False, False),
        ([3, 4], [4, 2], False, False, True),
        ([1, 2, 3, 4], [1, 2, 4, 1], False, False, False),
    ]
    for dtype in ("float32", "int8", "int16"):
        for lhs, rhs, adj_x, adj_y, const in spreads:
            b = Builder()
            x = b.inp(dtype, lhs, q(dtype, 0))
            if const:
                y = b.const(dtype, gen(dtype, rhs, quant=q(dtype, 2))(
                    np.random.default_rng(5)), q(dtype, 2))
            else:
                y = b.inp(dtype, rhs, q(dtype, 2))
            z = b.out(dtype, q(dtype, 1))
            b.op(op, [x, y], [z], opts("BatchMatMul", adjX=adj_x,
                                       adjY=adj_y))
            found.append(b.case(op, dtype, f"{fmt(lhs)} x {fmt(rhs)} "
                                f"adj_x={adj_x} adj_y={adj_y}"
                                f"{' rhs=const' if const else ''}"))
    return found


@cases("CONV_3D")
def conv3d_cases(op):
    found = []
    spreads = [  # input NDHWC, filter DHWIO, strides, padding, dilation
        ([1, 4, 5, 5, 2], [2, 3, 3, 2, 3], 1, SAME, 1, ACT.NONE),
        ([1, 4, 6, 6, 2], [2, 2, 2, 2, 2], 2, VALID, 1, ACT.RELU),
        ([2, 5, 5, 5, 1], [3, 3, 3, 1, 2], 1, VALID, 2, ACT.NONE),
    ]
    for ishape, fshape, stride, pad, dil, act in spreads:
        for with_bias in (True, False):
            b = Builder()
            x = b.inp("float32", ishape)
            w = b.const("float32", rconst("float32", fshape, 3))
            bias = b.const("float32", rconst("float32", [fshape[4]], 4)) \
                if with_bias else -1
            y = b.out("float32")
            b.op(op, [x, w, bias], [y], opts(
                "Conv3D", padding=pad, strideD=stride, strideH=stride,
                strideW=stride, dilationDFactor=dil, dilationHFactor=dil,
                dilationWFactor=dil, fusedActivationFunction=act))
            found.append(b.case(
                op, "float32", f"in={fmt(ishape)} filter={fmt(fshape)} "
                f"stride={stride} {'SAME' if pad == SAME else 'VALID'} "
                f"dilation={dil} act={ACT_NAMES[act]}"
                f"{'' if with_bias else ' no-bias'}"))
    return found


@cases("CONV_3D_TRANSPOSE")
def conv3d_transpose_cases(op):
    found = []
    spreads = [  # input, filter (D,H,W,O,I), output, stride, padding
        ([1, 2, 3, 3, 2], [2, 2, 2, 3, 2], [1, 4, 6, 6, 3], 2, SAME),
        ([1, 2, 2, 2, 1], [3, 3, 3, 2, 1], [1, 5, 5, 5, 2], 2, VALID),
        ([2, 3, 3, 3, 2], [1, 1, 1, 2, 2], [2, 3, 3, 3, 2], 1, SAME),
    ]
    for ishape, fshape, oshape, stride, pad in spreads:
        for with_bias in (True, False):
            b = Builder()
            shape_t = b.const("int32", oshape)
            w = b.const("float32", rconst("float32", fshape, 2))
            x = b.inp("float32", ishape)
            inputs = [shape_t, w, x]
            if with_bias:
                inputs.append(b.const("float32",
                                      rconst("float32", [fshape[3]], 3)))
            y = b.out("float32", shape=oshape)
            b.op(op, inputs, [y], opts(
                "Conv3D", padding=pad, strideD=stride, strideH=stride,
                strideW=stride))
            found.append(b.case(
                op, "float32", f"in={fmt(ishape)} filter={fmt(fshape)} "
                f"out={fmt(oshape)} stride={stride} "
                f"{'SAME' if pad == SAME else 'VALID'}"
                f"{'' if with_bias else ' no-bias'}"))
    return found


# =============================================================== pooling

@cases("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")
def pool_cases(op):
    found = []
    spreads = [  # input, filter, stride, padding, act
        ([1, 6, 6, 3], (2, 2), 2, VALID, ACT.NONE),
        ([1, 7, 7, 2], (3, 3), 2, SAME, ACT.NONE),
        ([2, 5, 6, 3], (3, 2), (1, 2), SAME, ACT.RELU),
        ([1, 4, 4, 1], (4, 4), 1, VALID, ACT.RELU6),
        ([1, 3, 3, 2], (1, 1), 1, SAME, ACT.NONE),
        ([1, 5, 5, 2], (3, 3), 1, SAME, ACT.RELU_N1_TO_1),
        ([0, 4, 4, 2], (2, 2), 2, VALID, ACT.NONE),
    ]
    types = ("float32",) if op == "L2_POOL_2D" else FLOATQ
    for dtype in types:
        for ishape, (fh, fw), stride, pad, act in spreads:
            b = Builder()
            sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
            x = b.inp(dtype, ishape, q(dtype, 0))
            y = b.out(dtype, q(dtype, 0))
            b.op(op, [x], [y], opts(
                "Pool2D", padding=pad, strideH=sh, strideW=sw,
                filterHeight=fh, filterWidth=fw,
                fusedActivationFunction=act))
            found.append(b.case(
                op, dtype, f"in={fmt(ishape)} filter={fh}x{fw} "
                f"stride={sh},{sw} {'SAME' if pad == SAME else 'VALID'} "
                f"act={ACT_NAMES[act]}"))
    return found


@cases("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize_cases(op):
    found = []
    cls = "ResizeBilinear" if op == "RESIZE_BILINEAR" else \
        "ResizeNearestNeighbor"
    for dtype in FLOATQ:
        for ishape, size in (([1, 3, 4, 2], [6, 8]), ([2, 5, 5, 1], [3, 3]),
                             ([1, 2, 3, 3], [5, 4]), ([1, 1, 1, 2], [3, 2])):
            for align, half in ((False, False), (True, False), (False, True)):
                b = Builder()
                x = b.inp(dtype, ishape, q(dtype, 0))
                s = b.const("int32", size)
                y = b.out(dtype, q(dtype, 0))
                b.op(op, [x, s], [y], opts(cls, alignCorners=align,
                                           halfPixelCenters=half))
                found.append(b.case(
                    op, dtype, f"{fmt(ishape)} -> {size[0]}x{size[1]} "
                    f"align_corners={align} half_pixel={half}"))
    return found


# ====================================================== shape and movement

MOVE_TYPES = ("float32", "int32", "int64", "int8", "uint8", "int16", "bool")


def move_case(op, dtype, shape, consts, options=None, attrs="", version=1,
              n_out=1, extra_inputs=(), out_shape=(1,)):
    """A data-movement operator: input x (quantized types keep one scale
    in and out), constant operands `consts` [(dtype, value)], and n_out
    outputs of x's type."""
    b = Builder()
    lo, hi = (-50, 50) if dtype in ("int32", "int64") else (None, None)
    x = b.inp(dtype, shape, q(dtype, 0), lo, hi)
    ins = [x]
    for ctype, value in consts:
        ins.append(b.const(ctype, np.array(value, TYPES[ctype][1])))
    for etype, eshape in extra_inputs:
        ins.append(b.inp(etype, eshape, q(etype, 0)))
    outs = [b.out(dtype, q(dtype, 0), out_shape) for _ in range(n_out)]
    b.op(op, ins, outs, options, version)
    return b.case(op, dtype, f"{fmt(shape)}{' ' if attrs else ''}{attrs}")


@cases("RESHAPE")
def reshape_cases(op):
    found = []
    for dtype in MOVE_TYPES:
        for shape, new in (([2, 3, 4], [6, 4]), ([2, 3, 4], [-1, 2]),
                           ([2, 3, 4], [24]), ([1, 6], [1, 1, 2, 3]),
                           ([], [1]), ([0, 3], [3, 0]), ([1], [])):
            found.append(move_case(op, dtype, shape,
                                   [("int32", np.array(new, np.int32))],
                                   attrs=f"shape tensor {new}"))
        b = Builder()  # the new shape in options only
        x = b.inp(dtype, [2, 6], q(dtype, 0))
        y = b.out(dtype, q(dtype, 0))
        b.op(op, [x], [y], opts("Reshape", newShape=[3, 4]))
        found.append(b.case(op, dtype, "2x6 options new_shape=[3, 4]"))
    return found


@cases("SQUEEZE")
def squeeze_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "uint8", "int64", "bool"):
        for shape, dims in (([1, 3, 1, 4], []), ([1, 3, 1, 4], [2]),
                            ([1, 3, 1, 4], [0, -2]), ([1], []),
                            ([2, 1, 0], [1])):
            found.append(move_case(op, dtype, shape, [], opts(
                "Squeeze", squeezeDims=dims), f"dims={dims}"))
    return found


@cases("EXPAND_DIMS")
def expand_dims_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "uint8", "int64", "bool"):
        for shape, axis, atype in (([2, 3], 0, "int32"), ([2, 3], -1, "int32"),
                                   ([2, 3], 1, "int64"), ([], 0, "int32"),
                                   ([0, 2], 2, "int32")):
            found.append(move_case(op, dtype, shape, [(atype, [axis])],
                                   attrs=f"axis={axis} ({atype})"))
    return found


@cases("SHAPE", "RANK")
def shape_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "bool"):
        for shape in ([2, 3, 4], [], [0, 5], [1]):
            for out_type in (("int32", "int64") if op == "SHAPE"
                             else ("int32",)):
                b = Builder()
                x = b.inp(dtype, shape, q(dtype, 0))
                y = b.out(out_type)
                o = opts("Shape", outType=getattr(
                    S.TensorType, out_type.upper())) if op == "SHAPE" \
                    else None
                b.op(op, [x], [y], o)
                found.append(b.case(op, dtype, f"{fmt(shape)} -> "
                                    f"{out_type}"))
    return found


@cases("CONCATENATION")
def concat_cases(op):
    found = []
    for dtype in MOVE_TYPES:
        for shapes, axis in ((([2, 3], [2, 4]), 1), (([2, 3], [1, 3], [3, 3]),
                                                      0),
                             (([2, 3, 1], [2, 3, 2]), -1),
                             (([2, 0], [2, 3]), 1), (([1], [1]), 0),
                             (([1, 2, 2, 1, 1, 2], [1, 2, 2, 1, 1, 3]), 5)):
            # LiteRT's int8 kernel needs one scale throughout
            for same_scale in ((True, False) if dtype in ("uint8", "int16")
                               else (True,)):
                b = Builder()
                xs = [b.inp(dtype, s, q(dtype, 0 if same_scale else k))
                      for k, s in enumerate(shapes)]
                y = b.out(dtype, q(dtype, 0))
                b.op(op, xs, [y], opts("Concatenation", axis=axis))
                found.append(b.case(
                    op, dtype, " + ".join(fmt(s) for s in shapes) +
                    f" axis={axis}{'' if same_scale else ' rescale'}"))
    return found


@cases("PACK")
def pack_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, n, axis in (([2, 3], 2, 0), ([2, 3], 3, 1), ([2, 3], 2, -1),
                               ([], 4, 0), ([0, 2], 2, 1)):
            b = Builder()
            xs = [b.inp(dtype, shape, q(dtype, 0)) for _ in range(n)]
            y = b.out(dtype, q(dtype, 0))
            b.op(op, xs, [y], opts("Pack", valuesCount=n, axis=axis))
            found.append(b.case(op, dtype, f"{n} x {fmt(shape)} axis={axis}"))
    return found


@cases("UNPACK")
def unpack_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "uint8", "int16", "bool"):
        for shape, axis in (([2, 3], 0), ([2, 3, 4], 1), ([2, 3], -1),
                            ([3, 1], 0)):
            n = shape[axis]
            found.append(move_case(op, dtype, shape, [], opts(
                "Unpack", num=n, axis=axis), f"axis={axis}", n_out=n))
    return found


@cases("SPLIT")
def split_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, axis, n in (([2, 6], 1, 3), ([4, 3], 0, 2),
                               ([2, 3, 4], -1, 2),
                               ([3], 0, 1), ([2, 0], 0, 2)):
            b = Builder()
            a = b.const("int32", np.array(axis, np.int32), shape=[])
            x = b.inp(dtype, shape, q(dtype, 0))
            outs = [b.out(dtype, q(dtype, 0)) for _ in range(n)]
            b.op(op, [a, x], outs, opts("Split", numSplits=n))
            found.append(b.case(op, dtype, f"{fmt(shape)} axis={axis} "
                                f"num_splits={n}"))
    return found


@cases("SPLIT_V")
def split_v_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, axis, sizes in (([2, 6], 1, [1, 2, 3]),
                                   ([5, 2], 0, [2, -1]),
                                   ([2, 3, 4], -1, [4]),
                                   ([2, 4], 1, [0, 4])):
            b = Builder()
            x = b.inp(dtype, shape, q(dtype, 0))
            s = b.const("int32", sizes)
            a = b.const("int32", np.array(axis, np.int32), shape=[])
            outs = [b.out(dtype, q(dtype, 0)) for _ in sizes]
            b.op(op, [x, s, a], outs, opts("SplitV", numSplits=len(sizes)))
            found.append(b.case(op, dtype, f"{fmt(shape)} axis={axis} "
                                f"sizes={sizes}"))
    return found


@cases("PAD", "PADV2")
def pad_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, pads in (([2, 3], [[1, 2], [0, 1]]),
                            ([1, 3, 3, 2], [[0, 0], [1, 1], [2, 0], [0, 0]]),
                            ([3], [[0, 0]]), ([0, 2], [[1, 0], [1, 1]]),
                            ([1, 2, 1, 1, 2], [[0, 1]] * 5)):
            for ptype in (("int32", "int64") if shape == [2, 3]
                          else ("int32",)):
                consts = [(ptype, pads)]
                attrs = f"paddings={pads}"
                if ptype != "int32":
                    attrs += f" ({ptype})"
                if op == "PADV2":
                    b = Builder()
                    x = b.inp(dtype, shape, q(dtype, 0))
                    p = b.const(ptype, np.array(pads, TYPES[ptype][1]))
                    value = gen(dtype, [], quant=q(dtype, 0))(
                        np.random.default_rng(1))
                    v = b.const(dtype, value, q(dtype, 0), shape=[])
                    y = b.out(dtype, q(dtype, 0))
                    b.op(op, [x, p, v], [y])
                    found.append(b.case(op, dtype, f"{fmt(shape)} {attrs} "
                                        f"value={value}"))
                else:
                    found.append(move_case(op, dtype, shape, consts,
                                           attrs=attrs))
    return found


@cases("MIRROR_PAD")
def mirror_pad_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for mode, name in ((S.MirrorPadMode.REFLECT, "REFLECT"),
                           (S.MirrorPadMode.SYMMETRIC, "SYMMETRIC")):
            for shape, pads in (([3, 4], [[1, 2], [2, 1]]),
                                ([1, 4, 4, 2],
                                 [[0, 0], [1, 1], [2, 2], [0, 0]]),
                                ([3], [[0, 2]])):
                found.append(move_case(op, dtype, shape, [("int32", pads)],
                                       opts("MirrorPad", mode=mode),
                                       f"{name} paddings={pads}"))
    return found


@cases("TRANSPOSE")
def transpose_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16",
                  "bool"):
        for shape, perm in (([2, 3], [1, 0]), ([2, 3, 4], [2, 0, 1]),
                            ([1, 2, 3, 4], [0, 3, 1, 2]),
                            ([2, 1, 3, 1, 2], [4, 3, 2, 1, 0]),
                            ([1, 2, 1, 3, 1, 2], [5, 1, 0, 2, 4, 3]),
                            ([0, 3], [1, 0]), ([4], [0])):
            found.append(move_case(op, dtype, shape, [("int32", perm)],
                                   attrs=f"perm={perm}"))
    return found


@cases("SLICE")
def slice_cases(op):
    found = []
    for dtype in MOVE_TYPES:
        for shape, begin, size, itype in (
                ([3, 4], [1, 0], [2, 3], "int32"),
                ([3, 4], [0, 1], [-1, 2], "int32"),
                ([2, 3, 4], [1, 1, 1], [1, 2, 3], "int64"),
                ([5], [2], [0], "int32"),
                ([1, 2, 3, 4, 5], [0, 1, 0, 1, 2], [1, 1, 3, 2, 3], "int32")):
            # LiteRT checks the file's output shape against begin/size
            out_shape = [shape[d] - begin[d] if size[d] < 0 else size[d]
                         for d in range(len(shape))]
            found.append(move_case(op, dtype, shape, [(itype, begin),
                                                      (itype, size)],
                                   out_shape=out_shape,
                                   attrs=f"begin={begin} size={size}"
                                   + (" (int64)" if itype == "int64"
                                      else "")))
    return found


@cases("STRIDED_SLICE")
def strided_slice_cases(op):
    found = []
    # shape, begin, end, strides, masks (begin, end, ellipsis, new axis,
    # shrink), offset
    spreads = [
        ([4, 5], [1, 0], [3, 5], [1, 2], (0, 0, 0, 0, 0), False),
        ([4, 5], [3, 4], [0, 0], [-1, -2], (0, 0, 0, 0, 0), False),
        ([4, 5], [1, 1], [0, 0], [1, 1], (1, 2, 0, 0, 0), False),
        ([2, 3, 4], [1, 0, 0], [2, 3, 4], [1, 1, 1], (0, 0, 0, 0, 1), False),
        ([2, 3, 4], [0, 1], [0, 3], [1, 1], (0, 0, 1, 0, 0), False),
        ([2, 3], [0, 0, 0], [2, 1, 3], [1, 1, 1], (0, 0, 0, 2, 0), False),
        ([5, 6], [-3, -4], [-1, -1], [1, 1], (0, 0, 0, 0, 0), False),
        ([5, 6], [1, 2], [2, 2], [1, 1], (0, 0, 0, 0, 0), True),
        ([5], [10], [-10], [-1], (0, 0, 0, 0, 0), False),
        ([3, 0], [0, 0], [2, 0], [1, 1], (0, 0, 0, 0, 0), False),
    ]
    for dtype in MOVE_TYPES:
        for shape, begin, end, strides, masks, offset in spreads:
            bm, em, el, na, sh = masks
            found.append(move_case(
                op, dtype, shape, [("int32", begin), ("int32", end),
                                   ("int32", strides)],
                opts("StridedSlice", beginMask=bm, endMask=em,
                     ellipsisMask=el, newAxisMask=na, shrinkAxisMask=sh,
                     offset=offset),
                f"begin={begin} end={end} strides={strides} "
                f"masks(b,e,ellipsis,new,shrink)={masks}"
                f"{' offset' if offset else ''}"))
    return found


@cases("GATHER")
def gather_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16",
                  "bool"):
        for shape, ishape, axis, batch, itype in (
                ([5, 3], [4], 0, 0, "int32"), ([5, 3], [2, 2], 1, 0, "int64"),
                ([2, 4, 3], [3], -1, 0, "int32"),
                ([2, 4, 3], [2, 3], 1, 1, "int32"),
                ([5], [], 0, 0, "int32"), ([5, 2], [0], 0, 0, "int32"),
                ([4, 2], [2, 1, 2], 0, 0, "int16")):
            b = Builder()
            x = b.inp(dtype, shape, q(dtype, 0))
            n = shape[axis]
            i = b.inp(itype, ishape, lo=0, hi=n - 1)
            y = b.out(dtype, q(dtype, 0))
            b.op(op, [x, i], [y], opts("Gather", axis=axis, batchDims=batch))
            found.append(b.case(op, dtype, f"{fmt(shape)} indices="
                                f"{fmt(ishape)} ({itype}) axis={axis} "
                                f"batch_dims={batch}"))
    return found


@cases("GATHER_ND")
def gather_nd_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, ishape, itype in (([4, 3], [2, 2], "int32"),
                                     ([4, 3], [3, 1], "int64"),
                                     ([2, 3, 4], [2, 2, 2], "int32"),
                                     ([2, 3, 4], [1, 3], "int16"),
                                     ([3, 2], [0, 1], "int32")):
            b = Builder()
            x = b.inp(dtype, shape, q(dtype, 0))
            k = ishape[-1]

            def feed(rng, ishape=ishape, shape=shape, itype=itype, k=k):
                cols = [rng.integers(0, shape[j], ishape[:-1])
                        for j in range(k)]
                return np.stack(cols, -1).astype(TYPES[itype][1]).reshape(
                    ishape)
            i = b.inp(itype, ishape, feed=feed)
            y = b.out(dtype, q(dtype, 0))
            b.op(op, [x, i], [y])
            found.append(b.case(op, dtype, f"{fmt(shape)} indices="
                                f"{fmt(ishape)} ({itype})"))
    return found


@cases("TILE")
def tile_cases(op):
    found = []
    for dtype in MOVE_TYPES:
        for shape, mult, mtype in (([2, 3], [2, 1], "int32"),
                                   ([2, 3], [1, 3], "int64"),
                                   ([1, 2, 1], [3, 2, 2], "int32"),
                                   ([3], [0], "int32")):
            found.append(move_case(op, dtype, shape, [(mtype, mult)],
                                   attrs=f"multiples={mult} ({mtype})"))
    return found


@cases("BROADCAST_TO")
def broadcast_to_cases(op):
    found = []
    for dtype in MOVE_TYPES:
        for shape, target, stype in (([3], [2, 3], "int32"),
                                     ([2, 1], [2, 4], "int64"),
                                     ([1, 3, 1], [2, 2, 3, 4], "int32"),
                                     ([], [2, 2], "int32"),
                                     ([1, 1, 1, 1, 1, 2], [2, 1, 2, 1, 2, 2],
                                      "int32")):
            found.append(move_case(op, dtype, shape, [(stype, target)],
                                   attrs=f"shape={target} ({stype})",
                                   version=2))
    return found


@cases("BROADCAST_ARGS")
def broadcast_args_cases(op):
    found = []
    for itype in ("int32", "int64"):
        for s0, s1 in (([2, 1, 3], [4, 1]), ([5], [1]), ([], [2, 2]),
                       ([0, 1], [1, 3])):
            b = Builder()
            x = b.inp(itype, [len(s0)], feed=lambda rng, s=s0, t=itype:
                      np.array(s, TYPES[t][1]))
            y = b.inp(itype, [len(s1)], feed=lambda rng, s=s1, t=itype:
                      np.array(s, TYPES[t][1]))
            z = b.out(itype)
            b.op(op, [x, y], [z])
            found.append(b.case(op, itype, f"{s0} . {s1}"))
    return found


@cases("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def depth_space_cases(op):
    found = []
    cls = "DepthToSpace" if op == "DEPTH_TO_SPACE" else "SpaceToDepth"
    shapes = ([1, 2, 3, 8], [2, 1, 1, 12]) if op == "DEPTH_TO_SPACE" else \
        ([1, 4, 6, 2], [2, 2, 2, 3])
    for dtype in ("float32", "int32", "int64", "int8", "uint8"):
        for shape in shapes:
            for block in (2,) if shape[-1] % 4 == 0 or op != "DEPTH_TO_SPACE" \
                    else (2,):
                found.append(move_case(op, dtype, shape, [],
                                       opts(cls, blockSize=block),
                                       f"block={block}"))
        if op == "DEPTH_TO_SPACE":
            found.append(move_case(op, dtype, [1, 1, 2, 9], [],
                                   opts(cls, blockSize=3), "block=3"))
    return found


@cases("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")
def space_batch_cases(op):
    found = []
    spreads = ((([1, 4, 4, 1], [2, 2], [[0, 0], [0, 0]]),
                ([2, 2, 4, 3], [2, 2], [[1, 1], [2, 2]]),
                ([1, 5, 2], [3], [[1, 0]]))
               if op == "SPACE_TO_BATCH_ND" else
               (([4, 2, 2, 1], [2, 2], [[0, 0], [0, 0]]),
                ([8, 1, 3, 2], [2, 2], [[0, 1], [1, 1]]),
                ([3, 2, 2], [3], [[1, 0]])))
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, block, pads in spreads:
            found.append(move_case(op, dtype, shape, [("int32", block),
                                                      ("int32", pads)],
                                   attrs=f"block={block} pads/crops={pads}"))
    return found


@cases("REVERSE_V2")
def reverse_cases(op):
    found = []
    for dtype in MOVE_TYPES:
        for shape, axes in (([2, 3], [1]), ([2, 3, 4], [0]), ([2, 3, 4], [-1]),
                            ([5], [0]), ([2, 3, 4], [0, 1])):
            found.append(move_case(op, dtype, shape, [("int32", axes)],
                                   attrs=f"axis={axes}"))
    return found


@cases("REVERSE_SEQUENCE")
def reverse_sequence_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "uint8", "int16"):
        for shape, seq_dim, batch_dim in (([3, 5], 1, 0), ([4, 2, 3], 0, 1),
                                          ([2, 4, 3], 1, 0)):
            b = Builder()
            x = b.inp(dtype, shape, q(dtype, 0))
            lens = b.inp("int32", [shape[batch_dim]], lo=0, hi=shape[seq_dim])
            y = b.out(dtype, q(dtype, 0))
            b.op(op, [x, lens], [y], opts("ReverseSequence", seqDim=seq_dim,
                                          batchDim=batch_dim))
            found.append(b.case(op, dtype, f"{fmt(shape)} seq_dim={seq_dim} "
                                f"batch_dim={batch_dim}"))
    return found


@cases("FILL")
def fill_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "bool", "int8", "int16"):
        for dims, dtype_dims in (([2, 3], "int32"), ([4], "int64"),
                                 ([], "int32"),
                                 ([2, 0], "int32")):
            b = Builder()
            d = b.const(dtype_dims, np.array(dims, TYPES[dtype_dims][1]),
                        shape=[len(dims)])
            v = b.inp(dtype, [], q(dtype, 0))
            y = b.out(dtype, q(dtype, 0))
            b.op(op, [d, v], [y])
            found.append(b.case(op, dtype, f"dims={dims} ({dtype_dims})"))
    return found


@cases("ONE_HOT")
def one_hot_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "bool"):
        for ishape, depth, axis, itype in (([4], 5, -1, "int32"),
                                           ([2, 3], 4, 0, "int64"),
                                           ([2, 3], 3, 1, "int32"),
                                           ([], 3, -1, "int32")):
            b = Builder()
            i = b.inp(itype, ishape, lo=-1, hi=depth)
            d = b.const("int32", np.array(depth, np.int32), shape=[])
            on = b.const(dtype, np.array(1 if dtype == "bool" else 7,
                                         TYPES[dtype][1]), shape=[])
            off = b.const(dtype, np.array(0 if dtype == "bool" else -2
                                          if dtype != "uint8" else 2,
                                          TYPES[dtype][1]), shape=[])
            y = b.out(dtype)
            b.op(op, [i, d, on, off], [y], opts("OneHot", axis=axis))
            found.append(b.case(op, dtype, f"indices={fmt(ishape)} ({itype}) "
                                f"depth={depth} axis={axis}"))
    return found


@cases("RANGE")
def range_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64"):
        for start, limit, delta in ((0, 10, 1), (3, -4, -2), (1, 2, 5),
                                    (0.5, 3.7, 0.4), (2, 2, 1)):
            if dtype != "float32" and isinstance(start, float):
                continue
            b = Builder()
            ins = [b.inp(dtype, [], feed=lambda rng, v=v, t=dtype: np.array(
                v, TYPES[t][1])) for v in (start, limit, delta)]
            y = b.out(dtype)
            b.op(op, ins, [y])
            found.append(b.case(op, dtype, f"start={start} limit={limit} "
                                f"delta={delta}"))
    return found


@cases("WHERE")
def where_cases(op):
    found = []
    for dtype in ("bool", "float32", "int32", "int64", "int8", "uint8"):
        for shape in ([5], [2, 3], [2, 2, 3], [0, 3]):
            b = Builder()
            x = b.inp(dtype, shape, lo=-1 if dtype != "bool" else None,
                      hi=1 if dtype != "bool" else None)
            y = b.out("int64")
            b.op(op, [x], [y])
            found.append(b.case(op, dtype, fmt(shape)))
    return found


@cases("UNIQUE")
def unique_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for n in (8, 1):
            for idx in ("int32", "int64"):
                b = Builder()
                x = b.inp(dtype, [n], lo=-3, hi=3, feed=None if dtype in (
                    "float32",) else gen(dtype, [n], lo=0, hi=4))
                if dtype == "float32":
                    b.feeds[-1] = lambda rng, n=n: rng.integers(
                        -3, 3, n).astype(np.float32)
                y = b.out(dtype)
                i = b.out(idx)
                b.op(op, [x], [y, i], opts("Unique", idxOutType=getattr(
                    S.TensorType, idx.upper())))
                found.append(b.case(op, dtype, f"{n} idx={idx}"))
    return found


@cases("TOPK_V2")
def topk_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "int16"):
        for shape, k in (([2, 6], 3), ([7], 7), ([2, 3, 5], 1), ([4, 3], 0)):
            b = Builder()
            if dtype == "float32":  # distinct values: no ties to order
                x = b.inp(dtype, shape, feed=lambda rng, shape=shape: (
                    rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37
                ).astype(np.float32))
            else:
                x = b.inp(dtype, shape, q(dtype, 0))
            kt = b.const("int32", np.array(k, np.int32), shape=[])
            v = b.out(dtype, q(dtype, 0))
            i = b.out("int32")
            b.op(op, [x, kt], [v, i])
            found.append(b.case(op, dtype, f"{fmt(shape)} k={k}"))
    return found


@cases("MATRIX_DIAG", "MATRIX_SET_DIAG")
def matrix_diag_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "bool"):
        for shape in ([3], [2, 4], [1, 2, 3]) if op == "MATRIX_DIAG" else \
                ([3, 3], [2, 3, 4], [2, 4, 3]):
            b = Builder()
            x = b.inp(dtype, shape, q(dtype, 0))
            ins = [x]
            if op == "MATRIX_SET_DIAG":
                ins.append(b.inp(dtype, shape[:-2] + [min(shape[-2:])],
                                 q(dtype, 0)))
            y = b.out(dtype, q(dtype, 0))
            b.op(op, ins, [y])
            found.append(b.case(op, dtype, fmt(shape)))
    return found


@cases("SCATTER_ND")
def scatter_nd_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8", "bool"):
        for ishape, ushape, shape in (([3, 1], [3], [6]),
                                      ([2, 2], [2, 4], [3, 3, 4]),
                                      ([4, 1], [4, 3], [5, 3])):
            b = Builder()

            def feed(rng, ishape=ishape, shape=shape):
                k = ishape[-1]
                n = int(np.prod(shape[:k]))
                flat = rng.choice(n, ishape[0], replace=False)
                return np.stack(np.unravel_index(flat, shape[:k]),
                                -1).astype(np.int32)
            i = b.inp("int32", ishape, feed=feed)
            u = b.inp(dtype, ushape)
            s = b.const("int32", shape)
            y = b.out(dtype)
            b.op(op, [i, u, s], [y])
            found.append(b.case(op, dtype, f"indices={fmt(ishape)} updates="
                                f"{fmt(ushape)} shape={shape}"))
    return found


@cases("SPARSE_TO_DENSE")
def sparse_to_dense_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "uint8"):
        for itype in ("int32", "int64"):
            for shape, n in (([5], 3), ([3, 4], 4)):
                b = Builder()
                rank = len(shape)

                def feed(rng, shape=shape, n=n, itype=itype, rank=rank):
                    flat = np.sort(rng.choice(int(np.prod(shape)), n,
                                              replace=False))
                    idx = np.stack(np.unravel_index(flat, shape), -1)
                    return (idx[:, 0] if rank == 1 else idx).astype(
                        TYPES[itype][1])
                i = b.inp(itype, [n] if rank == 1 else [n, rank], feed=feed)
                s = b.const(itype, np.array(shape, TYPES[itype][1]))
                v = b.inp(dtype, [n])
                d = b.const(dtype, np.array(1 if dtype == "bool" else 3,
                                            TYPES[dtype][1]), shape=[])
                y = b.out(dtype)
                b.op(op, [i, s, v, d], [y], opts("SparseToDense"))
                found.append(b.case(op, dtype, f"shape={shape} n={n} "
                                    f"indices={itype}"))
    return found


@cases("SEGMENT_SUM", "UNSORTED_SEGMENT_SUM", "UNSORTED_SEGMENT_PROD",
       "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN")
def segment_cases(op):
    found = []
    for dtype in ("float32", "int32"):
        for shape, segments in (([6], 3), ([5, 3], 2), ([4, 2, 2], 4)):
            b = Builder()
            x = b.inp(dtype, shape, lo=-5 if dtype == "int32" else None,
                      hi=5 if dtype == "int32" else None)
            n = shape[0]
            if op == "SEGMENT_SUM":
                # sorted, starting at 0, no gaps (LiteRT checks)
                ids = b.inp("int32", [n], feed=lambda rng, n=n, s=segments:
                            np.sort(np.concatenate([np.arange(s), rng.integers(
                                0, s, n - s)])).astype(np.int32))
                ins = [x, ids]
            else:
                ids = b.inp("int32", [n], lo=0, hi=segments - 1)
                num = b.const("int32", np.array(segments, np.int32),
                              shape=[])
                ins = [x, ids, num]
            y = b.out(dtype)
            b.op(op, ins, [y])
            found.append(b.case(op, dtype, f"{fmt(shape)} segments="
                                f"{segments}"))
    return found


@cases("EMBEDDING_LOOKUP")
def embedding_lookup_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "uint8"):
        for ishape, vshape in (([3], [5, 2]), ([4], [6, 2, 3]), ([1], [1, 4])):
            b = Builder()
            i = b.inp("int32", ishape, lo=0, hi=vshape[0] - 1)
            quant = Quant([0.1], [0]) if dtype in ("int8", "uint8") else None
            v = b.inp(dtype, vshape, quant)
            y = b.out(dtype, quant)
            b.op(op, [i, v], [y])
            found.append(b.case(op, dtype, f"ids={fmt(ishape)} "
                                f"table={fmt(vshape)}"))
    # float output from an int8 table: the hybrid path
    b = Builder()
    i = b.inp("int32", [3], lo=0, hi=3)
    v = b.const("int8", rconst("int8", [4, 3], 1), Quant([0.05], [0]))
    y = b.out("float32")
    b.op(op, [i, v], [y])
    found.append(b.case(op, "int8 table -> float32", "ids=3 table=4x3"))
    return found


@cases("DYNAMIC_UPDATE_SLICE")
def dynamic_update_slice_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "int8", "bool", "int16"):
        for shape, ushape, start, itype in (([4, 5], [2, 3], [1, 1], "int32"),
                                            ([4, 5], [2, 3], [3, 4], "int32"),
                                            ([3, 3, 2], [1, 3, 2], [2, 0, 0],
                                             "int64"),
                                            ([5], [0], [2], "int32")):
            b = Builder()
            x = b.inp(dtype, shape, q(dtype, 0))
            u = b.inp(dtype, ushape, q(dtype, 0))
            s = b.inp(itype, [len(start)], feed=lambda rng, s=start, t=itype:
                      np.array(s, TYPES[t][1]))
            y = b.out(dtype, q(dtype, 0))
            b.op(op, [x, u, s], [y])
            found.append(b.case(op, dtype, f"{fmt(shape)} update="
                                f"{fmt(ushape)} start={start} ({itype})"))
    return found


@cases("BUCKETIZE")
def bucketize_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "float64"):
        for bounds in ([0.0, 1.0, 2.0], [-5.0], []):
            b = Builder()
            x = b.inp(dtype, [2, 5], lo=-6, hi=6)
            y = b.out("int32")
            b.op(op, [x], [y], opts("Bucketize", boundaries=bounds))
            found.append(b.case(op, dtype, f"2x5 boundaries={bounds}"))
    return found


@cases("DILATE")
def dilate_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "int64"):
        for shape, dil in (([3, 4], [2, 3]), ([2, 2, 2], [1, 2, 1]),
                           ([5], [1])):
            b = Builder()
            x = b.inp(dtype, shape)
            d = b.const("int32", dil)
            pv = b.const(dtype, np.array(0, TYPES[dtype][1]), shape=[])
            y = b.out(dtype)
            b.op(op, [x, d, pv], [y], opts("Dilate"))
            found.append(b.case(op, dtype, f"{fmt(shape)} dilations={dil}"))
    return found


@cases("BITCAST")
def bitcast_cases(op):
    found = []
    for src, dst, shape in (("float32", "int32", [2, 3]),
                            ("int32", "float32", [4]),
                            ("float32", "uint8", [2, 3]),
                            ("uint8", "int32", [2, 4]),
                            ("int16", "int8", [3]),
                            ("int64", "int32", [2])):
        b = Builder()
        x = b.inp(src, shape, lo=0 if src == "int32" else None,
                  hi=1000 if src == "int32" else None)
        y = b.out(dst)
        b.op(op, [x], [y])
        found.append(b.case(op, f"{src}->{dst}", fmt(shape)))
    return found


CAST_TYPES = ("float32", "float64", "int32", "int64", "int16", "int8",
              "uint8", "uint16", "uint32", "bool", "float16", "complex64")


@cases("CAST")
def cast_cases(op):
    found = []
    for src in CAST_TYPES:
        for dst in CAST_TYPES:
            if src == dst:
                continue
            b = Builder()
            if src in ("float32", "float64", "float16"):
                x = b.inp(src, [2, 5], lo=-20, hi=120)
            elif src in ("uint8", "uint16", "uint32"):
                x = b.inp(src, [2, 5], lo=0, hi=120)
            else:
                x = b.inp(src, [2, 5], lo=-20 if src != "bool" else None,
                          hi=120 if src != "bool" else None)
            y = b.out(dst)
            b.op(op, [x], [y])
            found.append(b.case(op, f"{src}->{dst}", "2x5"))
    b = Builder()
    x = b.inp("float32", [0, 2])
    y = b.out("int32")
    b.op(op, [x], [y])
    found.append(b.case(op, "float32->int32", "0x2"))
    return found


@cases("QUANTIZE")
def quantize_cases(op):
    found = []
    for src, dst in (("float32", "int8"), ("float32", "uint8"),
                     ("float32", "int16"), ("int8", "int8"),
                     ("uint8", "int8"), ("int8", "uint8"),
                     ("int16", "int16"), ("int16", "int8")):
        for shape in ([2, 3, 4], [0, 2]):
            b = Builder()
            x = b.inp(src, shape, q(src, 0) if src != "float32" else None)
            y = b.out(dst, q(dst, 1))
            b.op(op, [x], [y])
            found.append(b.case(op, f"{src}->{dst}", fmt(shape)))
    return found


@cases("DEQUANTIZE")
def dequantize_cases(op):
    found = []
    for src in ("int8", "uint8", "int16", "float16"):
        for shape in ([2, 3, 4], [0, 2], []):
            b = Builder()
            if src == "float16":
                x = b.const("float16", rconst("float16", shape, 1),
                            shape=shape)
            else:
                x = b.inp(src, shape, q(src, 0))
            y = b.out("float32")
            b.op(op, [x], [y])
            found.append(b.case(op, f"{src}->float32", fmt(shape) + (
                " const" if src == "float16" else "")))
    b = Builder()
    x = b.const("int8", rconst("int8", [3, 2], 2),
                Quant([0.1, 0.2, 0.3], [1, 0, -1], 0))
    y = b.out("float32")
    b.op(op, [x], [y])
    found.append(b.case(op, "int8->float32", "3x2 per-channel axis=0 const"))
    return found


@cases("FAKE_QUANT")
def fake_quant_cases(op):
    found = []
    for lo, hi, bits, narrow in ((-1.0, 1.0, 8, False),
                                 (-3.0, 2.0, 4, False),
                                 (-0.5, 10.0, 16, False),
                                 (0.0, 6.0, 8, False)):
        b = Builder()
        x = b.inp("float32", [3, 7], lo=-4, hi=11)
        y = b.out("float32")
        b.op(op, [x], [y], opts("FakeQuant", min=lo, max=hi, numBits=bits,
                                narrowRange=narrow))
        found.append(b.case(op, "float32", f"3x7 min={lo} max={hi} "
                            f"bits={bits} narrow={narrow}"))
    return found


# ==================================================== lookups and hashing

@cases("HASHTABLE_LOOKUP")
def hashtable_lookup_cases(op):
    found = []
    for dtype, vshape in (("float32", [5, 2]), ("int32", [5]),
                          ("uint8", [5, 3])):
        for n in (4, 1):
            b = Builder()
            i = b.inp("int32", [n], lo=0, hi=12)  # keys are 0, 3, 6 ...
            k = b.const("int32", np.arange(0, 15, 3, dtype=np.int32))
            v = b.const(dtype, rconst(dtype, vshape, 2))
            y = b.out(dtype)
            hits = b.out("uint8")
            b.op(op, [i, k, v], [y, hits])
            found.append(b.case(op, dtype, f"lookups={n} "
                                f"values={fmt(vshape)}"))
    return found


@cases("LSH_PROJECTION")
def lsh_projection_cases(op):
    found = []
    for kind, name in ((S.LSHProjectionType.SPARSE, "SPARSE"),
                       (S.LSHProjectionType.DENSE, "DENSE")):
        for dtype, ishape, weighted in (("float32", [3, 2], True),
                                        ("int32", [3, 2], False),
                                        ("float32", [4], False)):
            if kind == S.LSHProjectionType.SPARSE and weighted:
                continue  # LiteRT takes weights in DENSE mode only
            b = Builder()
            h = b.const("float32", rconst("float32", [4, 2], 5))
            x = b.inp(dtype, ishape)
            ins = [h, x]
            if weighted:
                ins.append(b.inp("float32", [ishape[0]]))
            y = b.out("int32")
            b.op(op, ins, [y], opts("LSHProjection", type=kind))
            found.append(b.case(op, dtype, f"{name} in={fmt(ishape)} "
                                f"hash=4x2{' weighted' if weighted else ''}"))
    return found


def _strings(rng, words, shape):
    vocab = [b"the", b"quick", b"brown", b"fox", b"jumps"]
    return np.array([b" ".join(vocab[j] for j in rng.integers(
        0, len(vocab), words))], dtype=object).reshape(shape)


@cases("SKIP_GRAM")
def skip_gram_cases(op):
    found = []
    for ngram, skip, include_all in ((2, 1, False), (3, 0, True),
                                     (2, 2, True)):
        b = Builder()
        x = b.inp("string", [1], feed=lambda rng: _strings(rng, 5, [1]))
        y = b.out("string")
        b.op(op, [x], [y], opts("SkipGram", ngramSize=ngram,
                                maxSkipSize=skip,
                                includeAllNgrams=include_all))
        found.append(b.case(op, "string", f"ngram={ngram} skip={skip} "
                            f"include_all={include_all}"))
    return found


@cases("EMBEDDING_LOOKUP_SPARSE")
def embedding_lookup_sparse_cases(op):
    found = []
    for combiner, name in ((S.CombinerType.SUM, "SUM"),
                           (S.CombinerType.MEAN, "MEAN"),
                           (S.CombinerType.SQRTN, "SQRTN")):
        b = Builder()
        # 3 rows with 2, 1 and 2 ids: indices (row, position)
        ids = b.inp("int32", [5], lo=0, hi=5)
        idx = b.const("int32", [[0, 0], [0, 1], [1, 0], [2, 0], [2, 1]])
        shape = b.const("int32", [3, 2])
        w = b.inp("float32", [5], lo=0.1, hi=2)
        table = b.const("float32", rconst("float32", [6, 4], 3))
        y = b.out("float32")
        b.op(op, [ids, idx, shape, w, table], [y],
             opts("EmbeddingLookupSparse", combiner=combiner))
        found.append(b.case(op, "float32", f"{name} ids=5 table=6x4"))
    return found


# ================================================================ random

@cases("RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM")
def random_cases(op):
    found = []
    for shape in ([2, 3], [7], [1, 1, 4]):
        for seed, seed2 in ((1, 2), (7, 0)):
            b = Builder()
            s = b.const("int32", shape)
            y = b.out("float32")
            b.op(op, [s], [y], opts("Random", seed=seed, seed2=seed2))
            # the model has no input: give it a dummy one kiln can ignore
            found.append(b.case(op, "float32", f"shape={shape} "
                                f"seeds={seed},{seed2}"))
    return found


@cases("MULTINOMIAL")
def multinomial_cases(op):
    found = []
    for out_type in ("int64", "int32"):
        for batch, classes, samples in ((2, 4, 5), (1, 3, 1)):
            b = Builder()
            x = b.inp("float32", [batch, classes], lo=-2, hi=2)
            n = b.const("int32", np.array(samples, np.int32), shape=[])
            y = b.out(out_type)
            b.op(op, [x, n], [y], opts("Random", seed=3, seed2=4))
            found.append(b.case(op, f"float32->{out_type}",
                                f"logits={batch}x{classes} "
                                f"samples={samples}"))
    return found


@cases("STABLEHLO_RNG_BIT_GENERATOR")
def rng_bit_generator_cases(op):
    found = []
    for algo, name, state in ((S.RngAlgorithm.PHILOX, "PHILOX", 3),
                              (S.RngAlgorithm.THREEFRY, "THREEFRY", 2),
                              (S.RngAlgorithm.DEFAULT, "DEFAULT", 3)):
        for out_type in ("uint64", "int32", "uint32"):
            b = Builder()
            s = b.inp("uint64", [state], feed=lambda rng, n=state:
                      rng.integers(0, 2**62, n).astype(np.uint64))
            so = b.out("uint64", shape=[state])
            y = b.out(out_type, shape=[2, 3])
            b.op(op, [s], [so, y], opts("StablehloRngBitGenerator",
                                        algorithm=algo))
            found.append(b.case(op, f"uint64->{out_type}", f"{name} 2x3"))
    return found


# ===================================================== complex and FFT

@cases("RFFT2D")
def rfft2d_cases(op):
    found = []
    for shape, fft in (([4, 8], [4, 8]), ([2, 4, 4], [4, 4]),
                       ([3, 5], [4, 8]), ([1, 8, 2], [4, 2])):
        b = Builder()
        x = b.inp("float32", shape)
        f = b.const("int32", fft)
        y = b.out("complex64")
        b.op(op, [x, f], [y])
        found.append(b.case(op, "float32->complex64",
                            f"{fmt(shape)} fft_length={fft}"))
    return found


@cases("REAL", "IMAG", "COMPLEX_ABS")
def complex_cases(op):
    found = []
    for shape in ([2, 3], [5], [0, 2]):
        b = Builder()
        x = b.inp("complex64", shape)
        y = b.out("float32")
        b.op(op, [x], [y])
        found.append(b.case(op, "complex64->float32", fmt(shape)))
    return found


# ========================================================== detection

@cases("NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5")
def nms_cases(op):
    found = []
    for n, max_out, iou, score_thr in ((6, 3, 0.5, 0.0), (8, 8, 0.3, 0.4),
                                       (5, 2, 0.7, -1.0)):
        b = Builder()

        def boxes(rng, n=n):
            yx = rng.uniform(0, 1, (n, 2))
            hw = rng.uniform(0.2, 0.6, (n, 2))
            return np.concatenate([yx, yx + hw], 1).astype(np.float32)
        bx = b.inp("float32", [n, 4], feed=boxes)
        sc = b.inp("float32", [n], feed=lambda rng, n=n: rng.permutation(
            n).astype(np.float32) / n)
        m = b.const("int32", np.array(max_out, np.int32), shape=[])
        it = b.const("float32", np.array(iou, np.float32), shape=[])
        st = b.const("float32", np.array(score_thr, np.float32), shape=[])
        ins = [bx, sc, m, it, st]
        if op == "NON_MAX_SUPPRESSION_V5":
            ins.append(b.const("float32", np.array(0.0, np.float32),
                               shape=[]))
            outs = [b.out("int32"), b.out("float32"), b.out("int32")]
        else:
            outs = [b.out("int32"), b.out("int32")]
        b.op(op, ins, outs)
        found.append(b.case(op, "float32", f"boxes={n} max={max_out} "
                            f"iou={iou} score_threshold={score_thr}"))
    if op == "NON_MAX_SUPPRESSION_V5":  # soft NMS
        b = Builder()
        bx = b.inp("float32", [6, 4], feed=lambda rng: np.concatenate(
            [np.zeros((6, 2)), rng.uniform(0.3, 1, (6, 2))], 1).astype(
                np.float32))
        sc = b.inp("float32", [6], feed=lambda rng: rng.permutation(
            6).astype(np.float32) / 6 + 0.1)
        ins = [bx, sc, b.const("int32", np.array(4, np.int32), shape=[]),
               b.const("float32", np.array(0.5, np.float32), shape=[]),
               b.const("float32", np.array(0.0, np.float32), shape=[]),
               b.const("float32", np.array(0.5, np.float32), shape=[])]
        b.op(op, ins, [b.out("int32"), b.out("float32"), b.out("int32")])
        found.append(b.case(op, "float32", "boxes=6 max=4 soft_nms_sigma=0.5"))
    return found


@cases("DENSIFY")
def densify_cases(op):
    found = []
    for dtype in ("float32", "int8", "float16"):
        # a 4x6 matrix, CSR: row segments and column indices
        dense = np.zeros((4, 6), TYPES[dtype][1])
        cols = [[0, 3], [], [1, 2, 5], [4]]
        values = []
        for r, cs in enumerate(cols):
            for c in cs:
                dense[r, c] = 1 + r + c
                values.append(dense[r, c])
        sp = S.SparsityParametersT()
        sp.traversalOrder = [0, 1]
        d0, d1 = S.DimensionMetadataT(), S.DimensionMetadataT()
        d0.format, d0.denseSize = S.DimensionType.DENSE, 4
        d1.format = S.DimensionType.SPARSE_CSR
        segs, idx = S.Int32VectorT(), S.Int32VectorT()
        segs.values = list(np.cumsum([0] + [len(c) for c in cols]))
        idx.values = [c for cs in cols for c in cs]
        d1.arraySegmentsType = d1.arrayIndicesType = \
            S.SparseIndexVector.Int32Vector
        d1.arraySegments, d1.arrayIndices = segs, idx
        sp.dimMetadata = [d0, d1]
        b = Builder()
        x = b.g.tensor(dtype, [4, 6], data=np.array(values,
                                                    TYPES[dtype][1]),
                       quant=Quant([0.1], [0]) if dtype == "int8" else None)
        b.g.tensors[x].sparsity = sp
        y = b.out(dtype, Quant([0.1], [0]) if dtype == "int8" else None)
        b.op(op, [x], [y])
        found.append(b.case(op, dtype, "4x6 CSR constant"))
    return found


# ======================================================= recurrent ops

def _w(b, shape, seed, scale=0.5):
    return b.const("float32", rconst("float32", shape, seed, -scale, scale))


def _state(b, shape):
    """A variable state tensor (zeros), as the converter writes them."""
    return b.g.tensor("float32", shape, variable=True)


@cases("RNN", "UNIDIRECTIONAL_SEQUENCE_RNN")
def rnn_cases(op):
    found = []
    for batch, n_in, units, act, steps, time_major in (
            (2, 3, 4, ACT.TANH, 3, True), (1, 5, 3, ACT.RELU, 4, False),
            (3, 2, 2, ACT.NONE, 1, True)):
        b = Builder()
        if op == "RNN":
            x = b.inp("float32", [batch, n_in])
        else:
            x = b.inp("float32", [steps, batch, n_in] if time_major
                      else [batch, steps, n_in])
        ins = [x, _w(b, [units, n_in], 1), _w(b, [units, units], 2),
               _w(b, [units], 3), _state(b, [batch, units])]
        y = b.out("float32")
        if op == "RNN":
            b.op(op, ins, [y], opts("RNN", fusedActivationFunction=act))
            attrs = f"batch={batch} in={n_in} units={units} " \
                f"act={ACT_NAMES[act]}"
        else:
            b.op(op, ins, [y], opts("SequenceRNN", timeMajor=time_major,
                                    fusedActivationFunction=act))
            attrs = f"steps={steps} batch={batch} in={n_in} units={units} " \
                f"act={ACT_NAMES[act]} time_major={time_major}"
        found.append(b.case(op, "float32", attrs))
    return found


@cases("BIDIRECTIONAL_SEQUENCE_RNN")
def bidi_rnn_cases(op):
    found = []
    for batch, n_in, units, steps, merge, time_major in (
            (2, 3, 4, 3, False, True), (1, 2, 3, 4, True, False)):
        b = Builder()
        x = b.inp("float32", [steps, batch, n_in] if time_major
                  else [batch, steps, n_in])
        ins = [x]
        for seed in (0, 10):
            ins += [_w(b, [units, n_in], seed + 1),
                    _w(b, [units, units], seed + 2),
                    _w(b, [units], seed + 3), _state(b, [batch, units])]
        ins += [-1, -1, -1]  # no auxiliary input
        outs = [b.out("float32")] + ([] if merge else [b.out("float32")])
        b.op(op, ins, outs, opts("BidirectionalSequenceRNN",
                                 timeMajor=time_major, mergeOutputs=merge,
                                 fusedActivationFunction=ACT.TANH))
        found.append(b.case(op, "float32", f"steps={steps} batch={batch} "
                            f"in={n_in} units={units} merge={merge} "
                            f"time_major={time_major}"))
    return found


@cases("SVDF")
def svdf_cases(op):
    found = []
    for batch, n_in, filters, memory, rank, act in (
            (2, 3, 4, 5, 1, ACT.NONE), (1, 4, 6, 3, 2, ACT.RELU),
            (3, 2, 2, 4, 2, ACT.NONE)):
        b = Builder()
        x = b.inp("float32", [batch, n_in])
        units = filters // rank
        ins = [x, _w(b, [filters, n_in], 1), _w(b, [filters, memory], 2),
               _w(b, [units], 3), _state(b, [batch, memory * filters])]
        y = b.out("float32")
        b.op(op, ins, [y], opts("SVDF", rank=rank,
                                fusedActivationFunction=act))
        found.append(b.case(op, "float32", f"batch={batch} in={n_in} "
                            f"filters={filters} memory={memory} rank={rank} "
                            f"act={ACT_NAMES[act]}"))
    return found


def _lstm_weights(b, n_in, n_cell, n_out, seed, cifg=False, peephole=False,
                  projection=False, layer_norm=False):
    """The 17 weight/bias operands of one LSTM direction (inputs 1-17 of
    the LSTM operator), -1 for the omitted ones."""
    def opt(present, shape, k):
        return _w(b, shape, seed + k) if present else -1
    ins = [opt(not cifg, [n_cell, n_in], 1)]
    ins += [_w(b, [n_cell, n_in], seed + k) for k in (2, 3, 4)]
    ins += [opt(not cifg, [n_cell, n_out], 5)]
    ins += [_w(b, [n_cell, n_out], seed + k) for k in (6, 7, 8)]
    ins += [opt(peephole and not cifg, [n_cell], 9),
            opt(peephole, [n_cell], 10), opt(peephole, [n_cell], 11)]
    ins += [opt(not cifg, [n_cell], 12)]
    ins += [_w(b, [n_cell], seed + k) for k in (13, 14, 15)]
    ins += [opt(projection, [n_out, n_cell], 16),
            opt(projection, [n_out], 17)]
    return ins


def _layer_norm(b, n_cell, seed, cifg, layer_norm):
    if not layer_norm:
        return [-1, -1, -1, -1]
    return [-1 if cifg else _w(b, [n_cell], seed + 20)] + \
        [_w(b, [n_cell], seed + k) for k in (21, 22, 23)]


LSTM_SPREADS = [  # batch, in, cell, proj?, cifg, peephole, layer_norm, clip
    (2, 3, 4, False, False, False, False, 0.0),
    (1, 2, 3, True, False, True, False, 0.0),
    (2, 3, 3, False, True, False, False, 0.0),
    (1, 4, 5, False, False, False, True, 0.0),
    (3, 2, 2, False, False, False, False, 0.5),
]


def _lstm_attrs(spread):
    batch, n_in, n_cell, proj, cifg, peep, ln, clip = spread
    return (f"batch={batch} in={n_in} cell={n_cell}" +
            (" projection" if proj else "") + (" cifg" if cifg else "") +
            (" peephole" if peep else "") + (" layer_norm" if ln else "") +
            (f" cell_clip={clip}" if clip else ""))


def _lstm_builder(op, spread, time_major, intermediates=()):
    """One LSTM / UNIDIRECTIONAL_SEQUENCE_LSTM case's builder (float32)
    and its attribute text; `intermediates` as the operator's."""
    batch, n_in, n_cell, proj, cifg, peep, ln, clip = spread
    n_out = 2 if proj else n_cell
    b = Builder()
    steps = 3
    if op == "LSTM":
        x = b.inp("float32", [batch, n_in])
    else:
        x = b.inp("float32", [steps, batch, n_in] if time_major
                  else [batch, steps, n_in])
    ins = [x] + _lstm_weights(b, n_in, n_cell, n_out, 0, cifg, peep,
                              proj, ln)
    ins += [_state(b, [batch, n_out]), _state(b, [batch, n_cell])]
    ins += _layer_norm(b, n_cell, 0, cifg, ln)
    y = b.out("float32")
    if op == "LSTM":
        o = opts("LSTM", fusedActivationFunction=ACT.TANH,
                 cellClip=clip, kernelType=S.LSTMKernelType.FULL)
        attrs = _lstm_attrs(spread)
    else:
        o = opts("UnidirectionalSequenceLSTM",
                 fusedActivationFunction=ACT.TANH, cellClip=clip,
                 timeMajor=time_major)
        attrs = f"steps={steps} {_lstm_attrs(spread)} " \
            f"time_major={time_major}"
    b.op(op, ins, [y], o, intermediates=intermediates)
    return b, attrs


@cases("LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM")
def lstm_cases(op):
    found = []
    for spread in LSTM_SPREADS:
        for time_major in ((True, False) if op != "LSTM" else (True,)):
            b, attrs = _lstm_builder(op, spread, time_major)
            found.append(b.case(op, "float32", attrs))
    return found


@cases("BIDIRECTIONAL_SEQUENCE_LSTM")
def bidi_lstm_cases(op):
    found = []
    for spread, merge in ((LSTM_SPREADS[0], False), (LSTM_SPREADS[1], True),
                          (LSTM_SPREADS[2], False)):
        batch, n_in, n_cell, proj, cifg, peep, ln, clip = spread
        n_out = 2 if proj else n_cell
        steps = 3
        b = Builder()
        x = b.inp("float32", [steps, batch, n_in])
        ins = [x]
        ins += _lstm_weights(b, n_in, n_cell, n_out, 0, cifg, peep, proj)
        ins += _lstm_weights(b, n_in, n_cell, n_out, 50, cifg, peep, proj)
        ins += [_state(b, [batch, n_out]), _state(b, [batch, n_cell]),
                _state(b, [batch, n_out]), _state(b, [batch, n_cell])]
        ins += [-1] * 9  # no auxiliary input or its weights
        outs = [b.out("float32")] + ([] if merge else [b.out("float32")])
        b.op(op, ins, outs, opts("BidirectionalSequenceLSTM",
                                 fusedActivationFunction=ACT.TANH,
                                 mergeOutputs=merge, timeMajor=True))
        found.append(b.case(op, "float32", f"steps={steps} "
                            f"{_lstm_attrs(spread)} merge={merge}"))
    return found


# ================================================== control flow, state

def _body(name, inputs, build_ops):
    """A subgraph: inputs [(dtype, shape)], build_ops(graph, input indices)
    returns the output indices."""
    g = Graph(name)
    ins = [g.tensor(dtype, shape, f"{name}_in{k}")
           for k, (dtype, shape) in enumerate(inputs)]
    g.inputs = ins
    g.outputs = list(build_ops(g, ins))
    return g


@cases("WHILE")
def while_cases(op):
    found = []
    for dtype, shape in (("float32", [2, 3]), ("int32", [4]),
                         ("float32", [])):
        for limit in (3, 0):
            b = Builder()
            i0 = b.inp("int32", [], feed=lambda rng: np.array(
                rng.integers(0, 2), np.int32))
            x = b.inp(dtype, shape, lo=-2 if dtype == "int32" else None,
                      hi=2 if dtype == "int32" else None)

            def cond(g, ins, limit=limit):
                n = g.const("int32", np.array(limit, np.int32), shape=[])
                out = g.tensor("bool", [])
                g.op("LESS", [ins[0], n], [out])
                return [out]

            def body(g, ins, dtype=dtype, shape=shape):
                one = g.const("int32", np.array(1, np.int32), shape=[])
                i = g.tensor("int32", [])
                g.op("ADD", [ins[0], one], [i], opts("Add"))
                y = g.tensor(dtype, shape)
                g.op("ADD", [ins[1], ins[1]], [y], opts("Add"))
                z = g.tensor(dtype, shape)
                g.op("SUB", [y, ins[0 if dtype == "int32" else 1]], [z],
                     opts("Sub")) if dtype == "int32" else g.op(
                    "MUL", [y, ins[1]], [z], opts("Mul"))
                return [i, z]
            c = b.subgraph(_body("cond", [("int32", []), (dtype, shape)],
                                 cond))
            d = b.subgraph(_body("body", [("int32", []), (dtype, shape)],
                                 body))
            io = b.out("int32", shape=[])
            xo = b.out(dtype, shape=shape)
            b.op(op, [i0, x], [io, xo], opts("While", condSubgraphIndex=c,
                                             bodySubgraphIndex=d))
            then = "-i" if dtype == "int32" else "*x"
            found.append(b.case(op, dtype, f"{fmt(shape)} i<{limit} body: "
                                f"i+1, x+x then {then}"))
    return found


@cases("IF")
def if_cases(op):
    found = []
    for dtype, shape in (("float32", [2, 3]), ("int32", [4]),
                         ("float32", [])):
        b = Builder()
        cnd = b.inp("bool", [])
        x = b.inp(dtype, shape, lo=-5 if dtype == "int32" else None,
                  hi=5 if dtype == "int32" else None)
        y = b.inp(dtype, shape, lo=-5 if dtype == "int32" else None,
                  hi=5 if dtype == "int32" else None)

        def branch(code, options, dtype=dtype, shape=shape):
            def make(g, ins):
                out = g.tensor(dtype, shape)
                g.op(code, ins, [out], options)
                return [out]
            return make
        t = b.subgraph(_body("then", [(dtype, shape)] * 2,
                             branch("ADD", opts("Add"))))
        e = b.subgraph(_body("else", [(dtype, shape)] * 2,
                             branch("MUL", opts("Mul"))))
        z = b.out(dtype, shape=shape)
        b.op(op, [cnd, x, y], [z], opts("If", thenSubgraphIndex=t,
                                        elseSubgraphIndex=e))
        found.append(b.case(op, dtype, f"{fmt(shape)} then x+y else x*y"))
    return found


@cases("STABLEHLO_CASE")
def case_cases(op):
    found = []
    for dtype, shape in (("float32", [2, 3]), ("int32", [4])):
        b = Builder()
        idx = b.inp("int32", [], feed=lambda rng: np.array(
            rng.integers(-1, 4), np.int32))
        x = b.inp(dtype, shape, lo=-5 if dtype == "int32" else None,
                  hi=5 if dtype == "int32" else None)
        branches = []
        for code in ("STABLEHLO_ADD", "STABLEHLO_MULTIPLY",
                     "STABLEHLO_MAXIMUM"):
            def make(g, ins, code=code, dtype=dtype, shape=shape):
                out = g.tensor(dtype, shape)
                g.op(code, [ins[0], ins[0]], [out])
                return [out]
            branches.append(b.subgraph(_body(code.lower(), [(dtype, shape)],
                                             make)))
        y = b.out(dtype, shape=shape)
        b.op(op, [idx, x], [y], opts("StablehloCase",
                                     branchSubgraphIndices=branches))
        found.append(b.case(op, dtype, f"{fmt(shape)} 3 branches, index "
                            f"in [-1, 3]"))
    return found


def _variable_model(dtype, shape, assigns):
    """VAR_HANDLE, ASSIGN_VARIABLE of each input in turn, READ_VARIABLE."""
    b = Builder()
    xs = [b.inp(dtype, shape) for _ in range(assigns)]
    h = b.tensor("resource", [])
    b.op("VAR_HANDLE", [], [h], opts("VarHandle", container="",
                                     sharedName="v"))
    for x in xs:
        b.op("ASSIGN_VARIABLE", [h, x], [])
    y = b.out(dtype, shape=shape)
    b.op("READ_VARIABLE", [h], [y])
    return b


@cases("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")
def variable_cases(op):
    found = []
    for dtype in ("float32", "int32", "int64", "bool", "int8"):
        for shape, assigns in (([2, 3], 1), ([4], 2), ([], 1)):
            found.append(_variable_model(dtype, shape, assigns).case(
                op, dtype, f"{fmt(shape)} assigned {assigns}x then read"))
    return found


@cases("CALL_ONCE")
def call_once_cases(op):
    found = []
    for dtype, shape in (("float32", [2, 3]), ("int32", [3])):
        b = Builder()
        x = b.inp(dtype, shape)

        def init(g, ins, dtype=dtype, shape=shape):
            h = g.tensor("resource", [])
            g.op("VAR_HANDLE", [], [h], opts("VarHandle", container="",
                                             sharedName="w"))
            v = g.const(dtype, rconst(dtype, shape, 4))
            g.op("ASSIGN_VARIABLE", [h, v], [])
            return []
        i = b.subgraph(_body("init", [], init))
        b.op(op, [], [], opts("CallOnce", initSubgraphIndex=i))
        h = b.tensor("resource", [])
        b.op("VAR_HANDLE", [], [h], opts("VarHandle", container="",
                                         sharedName="w"))
        v = b.tensor(dtype, shape)
        b.op("READ_VARIABLE", [h], [v])
        y = b.out(dtype, shape=shape)
        b.op("ADD", [x, v], [y], opts("Add"))
        found.append(b.case(op, dtype, f"{fmt(shape)} init assigns a "
                            f"constant; main reads it + x"))
    return found


def _hashtable_model(kind, n):
    """HASHTABLE, HASHTABLE_IMPORT of constant keys and values, then
    HASHTABLE_FIND of the inputs (kind "find") or HASHTABLE_SIZE."""
    b = Builder()
    keys = [3, 7, 11, 20]
    words = [b"three", b"seven", b"eleven", b"twenty"]
    string_keys = kind == "find-string"
    if kind != "size":
        if string_keys:
            x = b.inp("string", [n], feed=lambda rng: np.array(
                [words[j] if j < 4 else b"none"
                 for j in rng.integers(0, 5, n)], dtype=object))
        else:
            x = b.inp("int64", [n], feed=lambda rng: np.array(
                [keys[j] if j < 4 else 5 for j in rng.integers(0, 5, n)],
                np.int64))
    h = b.tensor("resource", [])
    key_type, value_type = ("string", "int64") if string_keys else \
        ("int64", "string")
    b.op("HASHTABLE", [], [h], opts(
        "Hashtable", tableId=1, keyDtype=getattr(S.TensorType,
                                                 key_type.upper()),
        valueDtype=getattr(S.TensorType, value_type.upper())))
    k = b.const("string", words) if string_keys else b.const("int64", keys)
    v = b.const("int64", keys) if string_keys else b.const("string", words)
    b.op("HASHTABLE_IMPORT", [h, k, v], [])
    if kind == "size":
        y = b.out("int64", shape=[1])
        b.op("HASHTABLE_SIZE", [h], [y])
        # a model needs an input: a pass-through one
        x = b.inp("float32", [2])
        z = b.out("float32", shape=[2])
        b.op("RELU", [x], [z])
    else:
        d = b.const(value_type, [b"?"] if value_type == "string"
                    else [-1], shape=[])
        y = b.out(value_type, shape=[n])
        b.op("HASHTABLE_FIND", [h, x, d], [y])
    return b


@cases("HASHTABLE", "HASHTABLE_IMPORT", "HASHTABLE_FIND", "HASHTABLE_SIZE")
def hashtable_cases(op):
    found = []
    kinds = {"HASHTABLE_FIND": ("find", "find-string"),
             "HASHTABLE_SIZE": ("size",)}.get(op, ("find", "find-string",
                                                   "size"))
    for kind in kinds:
        for n in ((5, 1) if kind != "size" else (0,)):
            types = {"find": "int64->string", "find-string": "string->int64",
                     "size": "int64->string"}[kind]
            found.append(_hashtable_model(kind, n).case(
                op, types, f"{kind} of {n} keys" if n else "size"))
    return found


# ============================================================ StableHLO

@cases("STABLEHLO_PAD")
def stablehlo_pad_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "int64"):
        for shape, low, high, interior in (([2, 3], [1, 0], [0, 2], [0, 0]),
                                           ([2, 3], [0, 1], [1, 1], [1, 2]),
                                           ([4], [-1], [2], [0]),
                                           ([2, 2, 2], [1, 0, 0], [0, -1, 1],
                                            [0, 1, 0])):
            b = Builder()
            x = b.inp(dtype, shape)
            v = b.const(dtype, np.array(5, TYPES[dtype][1]), shape=[])
            y = b.out(dtype)
            b.op(op, [x, v], [y], opts("StablehloPad", edgePaddingLow=low,
                                       edgePaddingHigh=high,
                                       interiorPadding=interior))
            found.append(b.case(op, dtype, f"{fmt(shape)} low={low} "
                                f"high={high} interior={interior}"))
    return found


@cases("REDUCE_WINDOW")
def reduce_window_cases(op):
    found = []
    F = S.ReduceWindowFunction
    for fn, name, init in ((F.ADD, "ADD", 0), (F.MUL, "MUL", 1),
                           (F.MINIMUM, "MINIMUM", 100),
                           (F.MAXIMUM, "MAXIMUM", -100)):
        for dtype in ("float32", "int32", "int64", "int8"):
            for shape, window, strides, dil in (
                    ([4, 5], [2, 2], [1, 1], [1, 1]),
                    ([1, 6, 6, 2], [1, 3, 3, 1], [1, 2, 2, 1], [1, 1, 1, 1]),
                    ([7], [3], [2], [2])):
                b = Builder()
                lo, hi = ((0.5, 1.5) if name == "MUL" else (-3, 3))
                if dtype != "float32":
                    lo, hi = (1, 2) if name == "MUL" else (-9, 9)
                x = b.inp(dtype, shape, lo=lo, hi=hi)
                iv = b.const(dtype, np.array(init, TYPES[dtype][1]),
                             shape=[])
                ins = [x, iv] + [b.const("int64", v) for v in (window,
                                                               strides, dil)]
                y = b.out(dtype)
                b.op(op, ins, [y], opts("ReduceWindow", reduceFunction=fn))
                found.append(b.case(op, dtype, f"{name} {fmt(shape)} "
                                    f"window={window} strides={strides} "
                                    f"dilations={dil}"))
    for fn, name in ((F.ALL, "ALL"), (F.ANY, "ANY")):
        b = Builder()
        x = b.inp("bool", [4, 4])
        iv = b.const("bool", np.array(name == "ALL"), shape=[])
        ins = [x, iv] + [b.const("int64", v) for v in ([2, 2], [2, 1],
                                                       [1, 1])]
        y = b.out("bool")
        b.op(op, ins, [y], opts("ReduceWindow", reduceFunction=fn))
        found.append(b.case(op, "bool", f"{name} 4x4 window=[2, 2] "
                            f"strides=[2, 1]"))
    return found


@cases("STABLEHLO_REDUCE_WINDOW")
def stablehlo_reduce_window_cases(op):
    found = []
    for code, init in (("STABLEHLO_ADD", 0), ("STABLEHLO_MAXIMUM", -100),
                       ("STABLEHLO_MINIMUM", 100),
                       ("STABLEHLO_MULTIPLY", 1)):
        for dtype in ("float32", "int32"):
            for shape, window, strides, pad in (
                    ([4, 5], [2, 2], [1, 1], [0, 0, 0, 0]),
                    ([1, 6, 6, 1], [1, 3, 3, 1], [1, 2, 2, 1],
                     [0, 0, 1, 1, 1, 1, 0, 0])):
                b = Builder()
                lo, hi = ((0.5, 1.5) if code == "STABLEHLO_MULTIPLY"
                          else (-3, 3))
                if dtype == "int32":
                    lo, hi = (1, 2) if code == "STABLEHLO_MULTIPLY" \
                        else (-9, 9)
                x = b.inp(dtype, shape, lo=lo, hi=hi)
                iv = b.const(dtype, np.array(init, TYPES[dtype][1]),
                             shape=[])

                def body(g, ins, code=code, dtype=dtype):
                    out = g.tensor(dtype, [])
                    g.op(code, ins, [out])
                    return [out]
                k = b.subgraph(_body("reducer", [(dtype, []), (dtype, [])],
                                     body))
                y = b.out(dtype)
                rank = len(shape)
                b.op(op, [x, iv], [y], opts(
                    "StablehloReduceWindow", windowDimensions=window,
                    windowStrides=strides, baseDilations=[1] * rank,
                    windowDilations=[1] * rank, padding=pad,
                    bodySubgraphIndex=k))
                found.append(b.case(op, dtype, f"{code[10:]} {fmt(shape)} "
                                    f"window={window} strides={strides} "
                                    f"padding={pad}"))
    # base and window dilations, and padding that crops (the cases above
    # have neither)
    for code, init in (("STABLEHLO_ADD", 0), ("STABLEHLO_MAXIMUM", -100)):
        for dtype in ("float32", "int32"):
            b = Builder()
            x = b.inp(dtype, [5, 6], lo=-9 if dtype == "int32" else None,
                      hi=9 if dtype == "int32" else None)
            iv = b.const(dtype, np.array(init, TYPES[dtype][1]), shape=[])

            def body(g, ins, code=code, dtype=dtype):
                out = g.tensor(dtype, [])
                g.op(code, ins, [out])
                return [out]
            k = b.subgraph(_body("reducer", [(dtype, []), (dtype, [])], body))
            y = b.out(dtype)
            b.op(op, [x, iv], [y], opts(
                "StablehloReduceWindow", windowDimensions=[2, 3],
                windowStrides=[2, 1], baseDilations=[2, 1],
                windowDilations=[1, 2], padding=[1, -1, 0, 2],
                bodySubgraphIndex=k))
            found.append(b.case(op, dtype, f"{code[10:]} 5x6 window=[2, 3] "
                                "strides=[2, 1] base_dilations=[2, 1] "
                                "window_dilations=[1, 2] "
                                "padding=[1, -1, 0, 2]"))
    return found


@cases("STABLEHLO_GATHER")
def stablehlo_gather_cases(op):
    found = []
    for dtype in ("float32", "int32", "int8", "int64"):
        for itype in ("int32", "int64"):
            # rows of a 5x4 matrix: like tf.gather on axis 0
            b = Builder()
            x = b.inp(dtype, [5, 4])
            i = b.inp(itype, [3, 1], lo=0, hi=4)
            y = b.out(dtype, shape=[3, 4])  # LiteRT checks it
            b.op(op, [x, i], [y], opts(
                "StablehloGather", offsetDims=[1], collapsedSliceDims=[0],
                startIndexMap=[0], indexVectorDim=1, sliceSizes=[1, 4]))
            found.append(b.case(op, dtype, f"5x4 rows indices=3x1 ({itype})"))
        b = Builder()  # 2x2 windows at (row, col) starts
        x = b.inp(dtype, [4, 5])
        i = b.inp("int32", [2, 2], lo=0, hi=3)
        y = b.out(dtype, shape=[2, 2, 2])
        b.op(op, [x, i], [y], opts(
            "StablehloGather", offsetDims=[1, 2], collapsedSliceDims=[],
            startIndexMap=[0, 1], indexVectorDim=1, sliceSizes=[2, 2]))
        found.append(b.case(op, dtype, "4x5 2x2 windows at 2 starts"))
    return found


@cases("STABLEHLO_SCATTER")
def stablehlo_scatter_cases(op):
    found = []
    for code in ("STABLEHLO_ADD", "STABLEHLO_MAXIMUM", None):
        for dtype in ("float32", "int32"):
            b = Builder()
            x = b.inp(dtype, [5, 3])
            i = b.inp("int32", [2, 1], feed=lambda rng: rng.choice(
                5, (2, 1), replace=False).astype(np.int32))
            u = b.inp(dtype, [2, 3])

            def body(g, ins, code=code, dtype=dtype):
                if code is None:  # replace: return the update
                    return [ins[1]]
                out = g.tensor(dtype, [])
                g.op(code, ins, [out])
                return [out]
            k = b.subgraph(_body("update", [(dtype, []), (dtype, [])], body))
            y = b.out(dtype)
            b.op(op, [x, i, u], [y], opts(
                "StablehloScatter", updateWindowDims=[1],
                insertedWindowDims=[0], scatterDimsToOperandDims=[0],
                indexVectorDim=1, uniqueIndices=True,
                updateComputationSubgraphIndex=k))
            found.append(b.case(op, dtype, f"5x3 rows, 2 updates, "
                                f"{code[10:] if code else 'replace'}"))
    # 2x2 windows at (row, col) starts, some reaching past the edge (those
    # elements are skipped), the index vectors along dimension 0
    for dtype in ("float32", "int32"):
        b = Builder()
        x = b.inp(dtype, [4, 5])
        i = b.inp("int32", [2, 3], lo=0, hi=4)
        u = b.inp(dtype, [3, 2, 2])

        def body(g, ins, dtype=dtype):
            out = g.tensor(dtype, [])
            g.op("STABLEHLO_ADD", ins, [out])
            return [out]
        k = b.subgraph(_body("update", [(dtype, []), (dtype, [])], body))
        y = b.out(dtype)
        b.op(op, [x, i, u], [y], opts(
            "StablehloScatter", updateWindowDims=[1, 2],
            insertedWindowDims=[], scatterDimsToOperandDims=[0, 1],
            indexVectorDim=0, updateComputationSubgraphIndex=k))
        found.append(b.case(op, dtype, "4x5 2x2 windows at 3 starts, "
                            "index_vector_dim=0, ADD"))
    return found


@cases("STABLEHLO_COMPOSITE")
def stablehlo_composite_cases(op):
    found = []
    for dtype, shape in (("float32", [2, 3]), ("int32", [4])):
        b = Builder()
        x = b.inp(dtype, shape)
        y = b.inp(dtype, shape)

        def decomposition(g, ins, dtype=dtype, shape=shape):
            s = g.tensor(dtype, shape)
            g.op("ADD", ins, [s], opts("Add"))
            out = g.tensor(dtype, shape)
            g.op("MUL", [s, ins[0]], [out], opts("Mul"))
            return [out]
        d = b.subgraph(_body("decomposition", [(dtype, shape)] * 2,
                             decomposition))
        z = b.out(dtype, shape=shape)
        b.op(op, [x, y], [z], opts("StableHLOComposite",
                                   name="test.add_mul",
                                   decompositionSubgraphIndex=d, version=1,
                                   compositeAttributes=list(
                                       flexbuffers.Dumps({"k": 1}))))
        found.append(b.case(op, dtype, f"{fmt(shape)} (x+y)*x"))
    return found


# ================================================ what the converter emits
#
# A few operators also come from TensorFlow's converter (a tf.function,
# float32 and full-integer int8), to catch what it really writes: fused
# activations, per-channel quantization, the parameters it chooses. Each is
# converted once, in a process of its own, and cached.

def _converter_key() -> str:
    from importlib import metadata
    for name in ("tensorflow", "tensorflow-cpu", "tensorflow_cpu"):
        try:
            return f"tensorflow {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return "tensorflow"


def _convert(build_fn, specs, quantize):
    """The .tflite bytes of build_fn(tf) (a tf.function with an input
    signature); int8 throughout when `quantize`."""
    def make():
        import os
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        fn = build_fn(tf)
        conv = tf.lite.TFLiteConverter.from_concrete_functions(
            [fn.get_concrete_function()], fn)
        if quantize:
            rng = np.random.default_rng(0)

            def representative():
                for _ in range(16):
                    yield [rng.uniform(lo, hi, shape).astype(np.float32)
                           for _, shape, lo, hi in specs]
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = representative
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        return conv.convert()
    return make


def converted(op, attrs, specs, quantize_too=True):
    """Registers a converter-made case for `op`: decorate a function
    tf -> tf.function; specs [(name, shape, lo, hi)] float32 inputs."""
    def register(build_fn):
        for quantize in ((False, True) if quantize_too else (False,)):
            def make(quantize=quantize):
                feeds = [gen("int8", shape) if quantize else
                         gen("int32", shape, 0, 4) if name == "i" else
                         gen("float32", shape, lo, hi)
                         for name, shape, lo, hi in specs]
                return Case(op, "int8 (converter)" if quantize
                            else "float32 (converter)", attrs, [], feeds,
                            convert=_convert(build_fn, specs, quantize),
                            convert_key=_converter_key(),
                            input_names=[n for n, _, _, _ in specs])
            CONVERTED.setdefault(op, []).append(make)
        return build_fn
    return register


def _rand(shape, seed, scale=0.5):
    return np.random.default_rng(seed).uniform(
        -scale, scale, shape).astype(np.float32)


@converted("CONV_2D", "tf.nn.conv2d 1x8x8x3 * 3x3x3x4 SAME + bias, relu",
           [("x", [1, 8, 8, 3], -1, 1)])
def _conv(tf):
    w, b = _rand([3, 3, 3, 4], 1), _rand([4], 2)
    return tf.function(lambda x: tf.nn.relu(tf.nn.conv2d(
        x, w, 1, "SAME") + b), input_signature=[
        tf.TensorSpec([1, 8, 8, 3], tf.float32, name="x")])


@converted("DEPTHWISE_CONV_2D", "tf.nn.depthwise_conv2d 1x7x7x4 3x3 "
           "stride 2 VALID + bias, relu6", [("x", [1, 7, 7, 4], -1, 1)])
def _depthwise(tf):
    w, b = _rand([3, 3, 4, 1], 3), _rand([4], 4)
    return tf.function(lambda x: tf.nn.relu6(tf.nn.depthwise_conv2d(
        x, w, [1, 2, 2, 1], "VALID") + b), input_signature=[
        tf.TensorSpec([1, 7, 7, 4], tf.float32, name="x")])


@converted("FULLY_CONNECTED", "tf.matmul 3x10 * 10x6 + bias",
           [("x", [3, 10], -1, 1)])
def _dense(tf):
    w, b = _rand([10, 6], 5), _rand([6], 6)
    return tf.function(lambda x: tf.matmul(x, w) + b, input_signature=[
        tf.TensorSpec([3, 10], tf.float32, name="x")])


@converted("TRANSPOSE_CONV", "tf.nn.conv2d_transpose 1x4x4x2 -> 1x8x8x3 "
           "stride 2 SAME", [("x", [1, 4, 4, 2], -1, 1)], quantize_too=False)
def _deconv(tf):
    w = _rand([3, 3, 3, 2], 7)
    return tf.function(lambda x: tf.nn.conv2d_transpose(
        x, w, [1, 8, 8, 3], 2, "SAME"), input_signature=[
        tf.TensorSpec([1, 4, 4, 2], tf.float32, name="x")])


@converted("MAX_POOL_2D", "tf.nn.max_pool2d 1x6x6x3 2x2 stride 2",
           [("x", [1, 6, 6, 3], -2, 2)])
def _maxpool(tf):
    return tf.function(lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"),
                       input_signature=[tf.TensorSpec([1, 6, 6, 3],
                                                      tf.float32, name="x")])


@converted("AVERAGE_POOL_2D", "tf.nn.avg_pool2d 1x7x7x2 3x3 stride 2 SAME",
           [("x", [1, 7, 7, 2], -2, 2)], quantize_too=False)
def _avgpool(tf):
    return tf.function(lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"),
                       input_signature=[tf.TensorSpec([1, 7, 7, 2],
                                                      tf.float32, name="x")])


@converted("SOFTMAX", "tf.nn.softmax 4x10", [("x", [4, 10], -4, 4)])
def _softmax(tf):
    return tf.function(lambda x: tf.nn.softmax(x), input_signature=[
        tf.TensorSpec([4, 10], tf.float32, name="x")])


@converted("MEAN", "tf.reduce_mean 1x5x5x8 axes [1, 2]",
           [("x", [1, 5, 5, 8], -2, 2)])
def _mean(tf):
    return tf.function(lambda x: tf.reduce_mean(x, [1, 2]),
                       input_signature=[tf.TensorSpec([1, 5, 5, 8],
                                                      tf.float32, name="x")])


@converted("ADD", "x + y 2x3x4 + 4", [("x", [2, 3, 4], -2, 2),
                                      ("y", [4], -2, 2)])
def _add(tf):
    return tf.function(lambda x, y: x + y, input_signature=[
        tf.TensorSpec([2, 3, 4], tf.float32, name="x"),
        tf.TensorSpec([4], tf.float32, name="y")])


@converted("MUL", "x * y 2x3 * 2x3", [("x", [2, 3], -2, 2),
                                      ("y", [2, 3], -2, 2)],
           quantize_too=False)
def _mul(tf):
    return tf.function(lambda x, y: x * y, input_signature=[
        tf.TensorSpec([2, 3], tf.float32, name="x"),
        tf.TensorSpec([2, 3], tf.float32, name="y")])


@converted("CONCATENATION", "tf.concat 2x3, 2x5 axis 1",
           [("x", [2, 3], -1, 1), ("y", [2, 5], -3, 3)], quantize_too=False)
def _concat(tf):
    return tf.function(lambda x, y: tf.concat([x, y], 1), input_signature=[
        tf.TensorSpec([2, 3], tf.float32, name="x"),
        tf.TensorSpec([2, 5], tf.float32, name="y")])


@converted("RESIZE_BILINEAR", "tf.image.resize 1x4x4x2 -> 7x6",
           [("x", [1, 4, 4, 2], -1, 1)], quantize_too=False)
def _resize(tf):
    return tf.function(lambda x: tf.image.resize(x, [7, 6]),
                       input_signature=[tf.TensorSpec([1, 4, 4, 2],
                                                      tf.float32, name="x")])


@converted("STRIDED_SLICE", "x[:, 1:3, ::2] of 2x4x6",
           [("x", [2, 4, 6], -1, 1)], quantize_too=False)
def _slice(tf):
    return tf.function(lambda x: x[:, 1:3, ::2], input_signature=[
        tf.TensorSpec([2, 4, 6], tf.float32, name="x")])


@converted("GATHER", "tf.gather 5x3 constant rows by int32 input",
           [("i", [4], 0, 0)], quantize_too=False)
def _gather(tf):
    table = _rand([5, 3], 8)
    return tf.function(lambda i: tf.gather(table, i), input_signature=[
        tf.TensorSpec([4], tf.int32, name="i")])


@converted("BATCH_MATMUL", "tf.matmul 2x3x4 * 2x4x5",
           [("x", [2, 3, 4], -1, 1), ("y", [2, 4, 5], -1, 1)],
           quantize_too=False)
def _bmm(tf):
    return tf.function(lambda x, y: tf.matmul(x, y), input_signature=[
        tf.TensorSpec([2, 3, 4], tf.float32, name="x"),
        tf.TensorSpec([2, 4, 5], tf.float32, name="y")])


@converted("WHILE", "tf.while_loop: 4 times x = x * 0.5 + 1",
           [("x", [2, 3], -2, 2)], quantize_too=False)
def _while(tf):
    def f(x):
        _, y = tf.while_loop(lambda i, v: i < 4,
                             lambda i, v: (i + 1, v * 0.5 + 1.0),
                             (tf.constant(0), x))
        return y
    return tf.function(f, input_signature=[
        tf.TensorSpec([2, 3], tf.float32, name="x")])


@converted("IF", "tf.cond(sum(x) > 0, x * 2, x - 1)",
           [("x", [2, 3], -2, 2)], quantize_too=False)
def _if(tf):
    return tf.function(lambda x: tf.cond(
        tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0),
        input_signature=[tf.TensorSpec([2, 3], tf.float32, name="x")])


# TFLite's integer LSTM: the float LSTMs above quantized by TensorFlow's
# post-training quantizer (the calibrator behind representative_dataset),
# int8 inputs and outputs, int16 cell state. TF 2.21's converter makes
# WHILE loops of Keras LSTM layers, so the float operator is the
# quantizer's input; it records the gates' ranges in the five
# intermediate tensors the integer kernel reads. Its 16x8 mode refuses
# these operators. (CIFG with layer norm is left out: LiteRT's integer
# kernel gives a constant output for it, and kiln refuses it.)
INTEGER_LSTM_SPREADS = [LSTM_SPREADS[0], LSTM_SPREADS[2], LSTM_SPREADS[4],
                        (2, 5, 8, False, False, False, False, 0.0),
                        (2, 3, 4, False, False, True, False, 0.0),
                        (1, 3, 3, False, True, True, False, 0.5),
                        LSTM_SPREADS[3],
                        (2, 3, 6, False, False, True, True, 0.6)]


def _quantize_lstm(op, spread, time_major):
    def make():
        import os
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        from tensorflow.lite.python.optimize import calibrator
        b, _ = _lstm_builder(op, spread, time_major)
        inter = [b.tensor("float32", []) for _ in range(5)]
        b.g.ops[-1].intermediates = inter
        data = build_model([b.g])
        rng = np.random.default_rng(0)

        def dataset():
            for _ in range(16):
                yield [feed(rng) for feed in b.feeds]
        return bytes(calibrator.Calibrator(data).calibrate_and_quantize(
            dataset, tf.int8, tf.int8, False, tf.int8))
    return make


def _integer_lstm(op, spread, time_major):
    def make():
        b, attrs = _lstm_builder(op, spread, time_major)
        shape = b.g.tensors[b.g.inputs[0]].shape
        return Case(op, "int8 (quantizer)", attrs, [],
                    [gen("int8", shape)],
                    convert=_quantize_lstm(op, spread, time_major),
                    convert_key=_converter_key(), input_names=["in0"])
    return make


for _op in ("LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM"):
    for _spread in INTEGER_LSTM_SPREADS:
        for _major in ((True,) if _op == "LSTM" else (True, False)):
            CONVERTED.setdefault(_op, []).append(
                _integer_lstm(_op, _spread, _major))
