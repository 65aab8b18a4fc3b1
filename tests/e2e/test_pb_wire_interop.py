"""kiln's protobuf wire reader and writer (src/formats/protobuf/pb_wire)
against Google's protobuf, in both directions. The C side is the unit
test binary test_pb_wire, built next to kiln: `--dump FILE...` prints each
file's fields as kiln reads them (one JSON line a file), `--write` writes
the fields listed on stdin with kiln's writer.

Reading: messages built and serialized by google.protobuf (a message type
made at run time with every scalar type, packed and unpacked repeated
fields and nesting; KServe's ModelInferRequest from tritonclient; TF
Serving's PredictRequest; descriptor.proto's own FileDescriptorProto) are
dumped by kiln and compared field by field, through each field's
descriptor, with the message's values. Writing: kiln writes random
messages field by field and google.protobuf must parse them into exactly
the message meant."""
import json
import math
import os
import random
import struct
import subprocess

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor as FD

import kiln_e2e as K

SEED = int(os.environ.get("KILN_E2E_SEED", "20261207"))
TIMEOUT = 300


@pytest.fixture(scope="module")
def pb_tool():
    """The unit test binary, from the build folder kiln was built in."""
    path = K.kiln_binary().parent / "test_pb_wire"
    if not path.is_file():
        pytest.fail(f"{path} not found: build the unit tests "
                    f"(cmake --build build)", pytrace=False)
    return path


def kiln_dump(pb_tool, tmp_path, messages):
    """Each serialized message as kiln reads it: {"fields": [...]} or
    {"error": "..."}."""
    paths = []
    for i, data in enumerate(messages):
        path = tmp_path / f"m{i}.bin"
        path.write_bytes(data)
        paths.append(str(path))
    result = subprocess.run([str(pb_tool), "--dump", *paths],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(messages), result.stderr
    return [json.loads(line) for line in lines]


def kiln_write(pb_tool, spec_lines):
    result = subprocess.run([str(pb_tool), "--write"],
                            input="\n".join(spec_lines).encode() + b"\n",
                            capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


# ---------------------------------------------------- a message of all kinds

SCALARS = [
    ("v_int32", 1, FD.TYPE_INT32), ("v_int64", 2, FD.TYPE_INT64),
    ("v_uint32", 3, FD.TYPE_UINT32), ("v_uint64", 4, FD.TYPE_UINT64),
    ("v_sint32", 5, FD.TYPE_SINT32), ("v_sint64", 6, FD.TYPE_SINT64),
    ("v_bool", 7, FD.TYPE_BOOL), ("v_fixed32", 8, FD.TYPE_FIXED32),
    ("v_fixed64", 9, FD.TYPE_FIXED64), ("v_sfixed32", 10, FD.TYPE_SFIXED32),
    ("v_sfixed64", 11, FD.TYPE_SFIXED64), ("v_float", 12, FD.TYPE_FLOAT),
    ("v_double", 13, FD.TYPE_DOUBLE), ("v_string", 14, FD.TYPE_STRING),
    ("v_bytes", 15, FD.TYPE_BYTES), ("v_enum", 2047, FD.TYPE_ENUM),
    ("v_far", 536870911, FD.TYPE_INT32),  # the largest field number
]
REPEATED = [  # name, number, type, packed
    ("r_int64", 17, FD.TYPE_INT64, True),
    ("r_sint32", 18, FD.TYPE_SINT32, True),
    ("r_uint64", 19, FD.TYPE_UINT64, False),
    ("r_float", 21, FD.TYPE_FLOAT, True),
    ("r_double", 22, FD.TYPE_DOUBLE, False),
    ("r_bool", 23, FD.TYPE_BOOL, True),
    ("r_fixed64", 24, FD.TYPE_SFIXED64, True),
    ("r_bytes", 25, FD.TYPE_BYTES, False),
]


@pytest.fixture(scope="module")
def all_kinds():
    """A proto2 message type (so zeros are written too) made at run time."""
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="kiln_pb_wire_interop.proto", package="kiln_interop",
        syntax="proto2")
    enum = file.enum_type.add(name="Color")
    for name, number in (("RED", 0), ("GREEN", 1), ("NEGATIVE", -5)):
        enum.value.add(name=name, number=number)
    message = file.message_type.add(name="All")
    for name, number, kind in SCALARS:
        field = message.field.add(name=name, number=number, type=kind,
                                  label=F.LABEL_OPTIONAL)
        if kind == FD.TYPE_ENUM:
            field.type_name = ".kiln_interop.Color"
    for name, number, kind, packed in REPEATED:
        field = message.field.add(name=name, number=number, type=kind,
                                  label=F.LABEL_REPEATED)
        field.options.packed = packed
    message.field.add(name="child", number=16, type=F.TYPE_MESSAGE,
                      label=F.LABEL_OPTIONAL, type_name=".kiln_interop.All")
    message.field.add(name="children", number=20, type=F.TYPE_MESSAGE,
                      label=F.LABEL_REPEATED, type_name=".kiln_interop.All")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("kiln_interop.All"))


INT_RANGES = {
    FD.TYPE_INT32: (-2**31, 2**31 - 1), FD.TYPE_SINT32: (-2**31, 2**31 - 1),
    FD.TYPE_SFIXED32: (-2**31, 2**31 - 1),
    FD.TYPE_INT64: (-2**63, 2**63 - 1), FD.TYPE_SINT64: (-2**63, 2**63 - 1),
    FD.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
}


def random_value(rng, field):
    kind = field.type
    if kind in INT_RANGES:
        lo, hi = INT_RANGES[kind]
        pick = rng.randrange(6)
        if pick == 0:
            return rng.choice([lo, hi, 0, -1 if lo < 0 else 1])
        if pick == 1:  # every varint length
            return max(lo, min(hi, rng.choice([-1, 1]) *
                                rng.getrandbits(rng.randrange(1, 64))))
        return rng.randint(lo, hi)
    if kind == FD.TYPE_BOOL:
        return rng.random() < 0.5
    if kind == FD.TYPE_ENUM:
        return rng.choice([0, 1, -5])
    if kind in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        special = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-310]
        if rng.random() < 0.3:
            return rng.choice(special)
        value = rng.uniform(-1e6, 1e6)
        if kind == FD.TYPE_FLOAT:  # representable, so it round-trips
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        return value
    length = rng.choice([0, 1, rng.randrange(2, 128), 127, 128,
                         rng.randrange(129, 2000), 16383, 16384,
                         rng.randrange(16385, 20000)])
    if kind == FD.TYPE_STRING:  # no NUL: kiln_pb_put_string takes C text
        return "".join(chr(rng.choice([rng.randrange(1, 128),
                                       rng.randrange(128, 0x2000)]))
                       for _ in range(length // 2))
    return rng.randbytes(length)


def random_message(rng, cls, depth):
    msg = cls()
    fields = cls.DESCRIPTOR.fields
    for field in rng.sample(list(fields), rng.randrange(len(fields) + 1)):
        if field.message_type is not None:
            if depth == 0:
                continue
            if field.is_repeated:
                for _ in range(rng.randrange(3)):
                    getattr(msg, field.name).add().CopyFrom(
                        random_message(rng, cls, depth - 1))
            else:
                getattr(msg, field.name).CopyFrom(
                    random_message(rng, cls, depth - 1))
        elif field.type in (FD.TYPE_BYTES, FD.TYPE_STRING) and \
                field.is_repeated:
            getattr(msg, field.name).extend(
                random_value(rng, field)[:50] for _ in range(rng.randrange(5)))
        elif field.is_repeated:
            count = rng.choice([0, 1, rng.randrange(2, 40), 300])
            getattr(msg, field.name).extend(
                random_value(rng, field) for _ in range(count))
        else:
            setattr(msg, field.name, random_value(rng, field))
    return msg


# ------------------------------------ comparing kiln's reading with a message

WIRE = {FD.TYPE_DOUBLE: 1, FD.TYPE_FIXED64: 1, FD.TYPE_SFIXED64: 1,
        FD.TYPE_FLOAT: 5, FD.TYPE_FIXED32: 5, FD.TYPE_SFIXED32: 5,
        FD.TYPE_STRING: 2, FD.TYPE_BYTES: 2, FD.TYPE_MESSAGE: 2}


def signed(value, bits):
    return value - (1 << bits) if value >> (bits - 1) else value


def float_matches(bits, value, wide):
    """NaNs any NaN; everything else bit for bit (so -0 is not 0)."""
    if math.isnan(value):
        return math.isnan(struct.unpack("<d" if wide else "<f",
                                        struct.pack("<Q" if wide else "<I",
                                                    bits))[0])
    return bits == struct.unpack("<Q" if wide else "<I",
                                 struct.pack("<d" if wide else "<f",
                                             value))[0]


def scalar_problem(field, entry, value):
    """Why kiln's reading of one scalar differs from `value`, or None."""
    kind = field.type
    want_wire = WIRE.get(kind, 0)
    if entry["t"] != want_wire:
        return f"wire type {entry['t']}, expected {want_wire}"
    if kind in (FD.TYPE_INT64, FD.TYPE_ENUM):
        got = entry["i"]
    elif kind == FD.TYPE_INT32:
        got = entry["i32"]  # kiln_pb_int32
    elif kind in (FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_FIXED32,
                  FD.TYPE_FIXED64):
        got = entry["u"]
    elif kind in (FD.TYPE_SINT32, FD.TYPE_SINT64):
        got = entry["z"]
    elif kind == FD.TYPE_BOOL:
        got = entry["b"]
    elif kind == FD.TYPE_SFIXED32:
        got = signed(entry["u"], 32)
    elif kind == FD.TYPE_SFIXED64:
        got = signed(entry["u"], 64)
    elif kind == FD.TYPE_FLOAT:
        ok = float_matches(entry["fbits"], value, False)
        return None if ok else f"float bits {entry['fbits']:#x} for {value}"
    elif kind == FD.TYPE_DOUBLE:
        ok = float_matches(entry["dbits"], value, True)
        return None if ok else f"double bits {entry['dbits']:#x} for {value}"
    elif kind == FD.TYPE_STRING:
        got, value = bytes.fromhex(entry["hex"]), value.encode()
    elif kind == FD.TYPE_BYTES:
        got = bytes.fromhex(entry["hex"])
    else:
        return f"no comparison for type {kind}"
    return None if got == value else f"{got!r:.80} != {value!r:.80}"


def packed_values(field, entries):
    """The elements of a packed field's LEN entries, as protobuf types them."""
    kind = field.type
    if kind in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE, FD.TYPE_FIXED32,
                FD.TYPE_FIXED64, FD.TYPE_SFIXED32, FD.TYPE_SFIXED64):
        raw = b"".join(bytes.fromhex(e["hex"]) for e in entries)
        code = {FD.TYPE_FLOAT: "f", FD.TYPE_DOUBLE: "d", FD.TYPE_FIXED32: "I",
                FD.TYPE_FIXED64: "Q", FD.TYPE_SFIXED32: "i",
                FD.TYPE_SFIXED64: "q"}[kind]
        return list(struct.unpack(f"<{len(raw) // struct.calcsize(code)}"
                                  f"{code}", raw))
    values = []
    for entry in entries:
        if entry["packed"] is None:
            return None
        values += entry["packed"]
    if kind in (FD.TYPE_SINT32, FD.TYPE_SINT64):
        return [(v >> 1) ^ -(v & 1) for v in values]
    if kind == FD.TYPE_BOOL:
        return [v != 0 for v in values]
    if kind in (FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_ENUM):
        return [signed(v, 64) for v in values]
    return values


def same_floats(a, b):
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or
        struct.pack("<d", x) == struct.pack("<d", y) for x, y in zip(a, b))


def problems(msg, fields, path="msg"):
    """Every difference between kiln's reading (`fields`) and `msg`."""
    found = []
    by_number = {}
    for entry in fields:
        by_number.setdefault(entry["n"], []).append(entry)
    for field in msg.DESCRIPTOR.fields:
        entries = by_number.pop(field.number, [])
        where = f"{path}.{field.name}"
        if field.message_type is not None:
            subs = [e["msg"] for e in entries]
            if any(e["t"] != 2 or s is None for e, s in zip(entries, subs)):
                found.append(f"{where}: not read as a message")
                continue
            if field.message_type.GetOptions().map_entry:
                found += map_problems(msg, field, subs, where)
                continue
            if field.is_repeated:
                values = list(getattr(msg, field.name))
            else:
                values = ([getattr(msg, field.name)]
                          if msg.HasField(field.name) else [])
            if len(values) != len(subs):
                found.append(f"{where}: {len(subs)} messages, expected "
                             f"{len(values)}")
                continue
            for i, (value, sub) in enumerate(zip(values, subs)):
                found += problems(value, sub, f"{where}[{i}]")
        elif field.is_repeated:
            values = list(getattr(msg, field.name))
            if field.is_packed:
                got = packed_values(field, entries)
                if got is None or any(e["t"] != 2 for e in entries):
                    found.append(f"{where}: packed payload not read")
                elif field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
                    if not same_floats(got, values):
                        found.append(f"{where}: {got[:5]} != {values[:5]}")
                elif got != values:
                    found.append(f"{where}: {got[:5]} != {values[:5]}")
            elif len(entries) != len(values):
                found.append(f"{where}: {len(entries)} elements, expected "
                             f"{len(values)}")
            else:
                for i, (entry, value) in enumerate(zip(entries, values)):
                    why = scalar_problem(field, entry, value)
                    if why:
                        found.append(f"{where}[{i}]: {why}")
        else:
            # Written once when set; a map entry's key and value may be
            # written even when they are the default.
            present = msg.HasField(field.name) if field.has_presence else (
                getattr(msg, field.name) != field.default_value)
            if len(entries) > 1 or (present and not entries):
                found.append(f"{where}: {len(entries)} fields, expected "
                             f"{int(present)}")
            elif entries:
                why = scalar_problem(field, entries[0],
                                     getattr(msg, field.name))
                if why:
                    found.append(f"{where}: {why}")
    for number in by_number:
        found.append(f"{path}: unexpected field {number}")
    return found


def map_problems(msg, field, subs, where):
    """A map's entries come in any order: each of kiln's must match one."""
    entry_cls = message_factory.GetMessageClass(field.message_type)
    wanted = []
    for key, value in getattr(msg, field.name).items():
        entry = entry_cls(key=key)
        if field.message_type.fields_by_name["value"].message_type:
            entry.value.CopyFrom(value)
        else:
            entry.value = value
        wanted.append(entry)
    if len(wanted) != len(subs):
        return [f"{where}: {len(subs)} map entries, expected {len(wanted)}"]
    found = []
    for sub in subs:
        match = next((w for w in wanted if not problems(w, sub)), None)
        if match is None:
            found.append(f"{where}: no map entry matches {sub!r:.200}")
        else:
            wanted.remove(match)
    return found


def check_read(pb_tool, tmp_path, msgs):
    dumps = kiln_dump(pb_tool, tmp_path,
                      [m.SerializeToString() for m in msgs])
    for i, (msg, dump) in enumerate(zip(msgs, dumps)):
        assert "error" not in dump, f"message {i}: {dump['error']}"
        found = problems(msg, dump["fields"])
        assert not found, f"message {i}:\n" + "\n".join(found[:20])


def test_reads_protobuf_messages(pb_tool, all_kinds, tmp_path):
    rng = random.Random(SEED)
    msgs = [random_message(rng, all_kinds, rng.randrange(4))
            for _ in range(150)]
    msgs.append(all_kinds())  # empty
    check_read(pb_tool, tmp_path, msgs)


def test_reads_file_descriptor_proto(pb_tool, tmp_path):
    """descriptor.proto describing itself: a real message with enums, many
    nesting levels and strings."""
    msg = descriptor_pb2.FileDescriptorProto.FromString(
        descriptor_pb2.DESCRIPTOR.serialized_pb)
    check_read(pb_tool, tmp_path, [msg])


def test_reads_kserve_model_infer_request(pb_tool, tmp_path):
    """KServe v2's gRPC request as tritonclient builds it: maps of
    parameters, tensors with typed contents, raw input bytes."""
    from tritonclient.grpc import service_pb2
    rng = random.Random(SEED + 1)
    values = [rng.uniform(-3, 3) for _ in range(200)]
    request = service_pb2.ModelInferRequest(model_name="m", model_version="3",
                                            id="req-1")
    request.parameters["priority"].int64_param = -7
    request.parameters["tag"].string_param = "é" * 200
    request.parameters["flag"].bool_param = True
    request.inputs.add(name="x", datatype="FP32", shape=[2, 100])
    request.inputs.add(name="ids", datatype="INT64", shape=[3])
    request.raw_input_contents.extend([
        struct.pack("<200f", *values), struct.pack("<3q", -1, 2**40, 0)])
    typed = request.inputs.add(name="typed", datatype="INT32", shape=[4])
    typed.contents.int_contents.extend([-1, 0, 2**31 - 1, -2**31])
    typed.contents.fp64_contents.extend([-0.0, math.inf, 1e-300])
    typed.contents.bytes_contents.extend([b"", b"\x00" * 300])
    request.outputs.add(name="y").parameters["classification"].int64_param = 3
    check_read(pb_tool, tmp_path, [request])


def test_reads_tf_serving_predict_request(pb_tool, tmp_path):
    """TF Serving's gRPC PredictRequest: a map of TensorProtos with packed
    values and shapes."""
    from tensorflow_serving.apis import predict_pb2
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "serving_default"
    request.model_spec.version.value = 2
    x = request.inputs["x"]
    x.dtype = 1  # DT_FLOAT
    for size in (2, 50):
        x.tensor_shape.dim.add(size=size)
    x.float_val.extend(float(i) / 7 for i in range(100))
    ids = request.inputs["ids"]
    ids.dtype = 9  # DT_INT64
    ids.tensor_shape.dim.add(size=-1)
    ids.int64_val.extend([-1, 0, 2**62])
    raw = request.inputs["raw"]
    raw.dtype = 3  # DT_INT32
    raw.tensor_content = struct.pack("<5i", 1, -2, 3, -4, 5)
    request.output_filter.extend(["y", "z"])
    check_read(pb_tool, tmp_path, [request])


# --------------------------------------- kiln writes, google.protobuf parses


def spec_lines(msg):
    """The lines for test_pb_wire --write that write `msg` field by field,
    fields in a shuffled order (parsing may not depend on it)."""
    lines = []
    rng = random.Random(msg.ByteSize())
    listed = msg.ListFields()
    rng.shuffle(listed)
    for field, value in listed:
        n = field.number
        values = list(value) if field.is_repeated else [value]
        if field.message_type is not None:
            for sub in values:
                lines += [f"{{ {n}", *spec_lines(sub), "}"]
        elif field.is_repeated and field.is_packed:
            if field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE,
                              FD.TYPE_SFIXED64):
                code = {FD.TYPE_FLOAT: "f", FD.TYPE_DOUBLE: "d",
                        FD.TYPE_SFIXED64: "q"}[field.type]
                raw = struct.pack(f"<{len(values)}{code}", *values)
                lines += [f"{{ {n}", f"r 0 {raw.hex() or '-'}", "}"]
            else:
                if field.type == FD.TYPE_SINT32:
                    words = [(v << 1) ^ (v >> 63) for v in values]
                else:
                    words = [v & (2**64 - 1) for v in values]
                lines.append(f"p {n} " + " ".join(map(str, words)))
        else:
            lines += [scalar_line(field, n, v) for v in values]
    return lines


def scalar_line(field, n, v):
    kind = field.type
    if kind in (FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_ENUM):
        return f"i {n} {v}"
    if kind in (FD.TYPE_UINT32, FD.TYPE_UINT64):
        return f"u {n} {v}"
    if kind in (FD.TYPE_SINT32, FD.TYPE_SINT64):
        return f"z {n} {v}"
    if kind == FD.TYPE_BOOL:
        return f"b {n} {int(v)}"
    if kind in (FD.TYPE_FIXED32, FD.TYPE_SFIXED32):  # any 4 bytes, as I32
        return f"f {n} {v & 0xffffffff}"
    if kind in (FD.TYPE_FIXED64, FD.TYPE_SFIXED64):
        return f"d {n} {v & (2**64 - 1)}"
    if kind == FD.TYPE_FLOAT:
        return f"f {n} {struct.unpack('<I', struct.pack('<f', v))[0]}"
    if kind == FD.TYPE_DOUBLE:
        return f"d {n} {struct.unpack('<Q', struct.pack('<d', v))[0]}"
    if kind == FD.TYPE_STRING:
        return f"s {n} {v.encode().hex() or '-'}"
    return f"x {n} {v.hex() or '-'}"


def test_protobuf_parses_what_kiln_writes(pb_tool, all_kinds):
    rng = random.Random(SEED + 2)
    for i in range(120):
        msg = random_message(rng, all_kinds, rng.randrange(4))
        data = kiln_write(pb_tool, spec_lines(msg))
        parsed = all_kinds.FromString(data)
        # Serializations, not messages: NaN != NaN. Both are protobuf's
        # own, so the field order kiln wrote in does not matter.
        assert parsed.SerializeToString(deterministic=True) == \
            msg.SerializeToString(deterministic=True), f"message {i}"
        assert len(data) == msg.ByteSize(), f"message {i}"
