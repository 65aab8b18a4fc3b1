"""kiln's TensorBundle reader (src/formats/savedmodel/tensor_bundle) against
TensorFlow's own. TensorFlow writes the bundles at test time, with random
values: a tf.train.Checkpoint of variables of every dtype the brief names
(float32/64, float16, int8/16/32/64, uint8, bool) in scalar, 1-D and 4-D
shapes, plus enough small variables that the index spans several data
blocks; a checkpoint split over several shards; and the variables/ of
a tf.saved_model.save'd tf.Module and Keras model. A checkpoint whose variables
TensorFlow sliced must be refused, naming a tensor. The C
side is the unit test binary test_tensor_bundle, built next to kiln:
`--dump PREFIX` prints each tensor as kiln reads it (name, TensorFlow
dtype code, shape, the index's CRC-32C, the bytes in hex). Each tensor
must equal tf.train.load_checkpoint(prefix).get_tensor(name) byte for
byte, and the index's CRC must equal a CRC-32C computed here in Python.
Damage - a flipped byte in a shard, a deleted shard, a truncated or
flipped index - must give kiln's named errors."""
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import kiln_e2e as K

SEED = int(os.environ.get("KILN_E2E_SEED", "20261208"))
TIMEOUT = 120
DT_STRING = 7

# TensorFlow's DataType codes (types.proto) of the numeric types, as numpy.
NUMPY_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8,
                5: np.int16, 6: np.int8, 9: np.int64, 10: np.bool_,
                17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), written here independently of kiln's C."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


@pytest.fixture(scope="module")
def bundle_tool():
    path = K.kiln_binary().parent / "test_tensor_bundle"
    if not path.is_file():
        pytest.fail(f"{path} not found: build the unit tests "
                    f"(cmake --build build)", pytrace=False)
    return path


def dump(tool, prefix):
    result = subprocess.run([str(tool), "--dump", str(prefix)],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow
    return tensorflow


def random_values(rng, dtype, shape):
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype,
                            endpoint=True)
    return rng.standard_normal(shape).astype(dtype)


@pytest.fixture(scope="module")
def checkpoint(tf, tmp_path_factory):
    """A tf.train.Checkpoint of many variables; returns its prefix."""
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    variables = {}
    shapes = [(), (7,), (2, 3, 4, 5)]
    for dtype in (np.float32, np.float64, np.float16, np.int8, np.int16,
                  np.int32, np.int64, np.uint8, np.bool_):
        for shape in shapes:
            name = f"{np.dtype(dtype).name}_{len(shape)}d"
            variables[name] = tf.Variable(random_values(rng, dtype, shape))
    # Special floats keep their bits.
    variables["specials"] = tf.Variable(np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38], np.float32))
    variables["empty"] = tf.Variable(np.zeros((0, 3), np.float32))
    variables["many"] = [tf.Variable(random_values(rng, np.float32, (3,)))
                         for _ in range(150)]
    # TensorFlow's index blocks hold 256 KB: 40 names of 8000 random
    # letters (prefix compression cannot shrink them) make several.
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)
    for i in range(40):
        name = rng.choice(letters, 8000).tobytes().decode()
        variables[f"long{i:02d}_{name}"] = tf.Variable(
            random_values(rng, np.int32, (2,)))
    prefix = tmp_path_factory.mktemp("ckpt") / "ckpt"
    written = tf.train.Checkpoint(**variables).write(str(prefix))
    return written


@pytest.fixture(scope="module")
def saved_model(tf, tmp_path_factory):
    """tf.saved_model.save of a small tf.Module; returns its variables
    prefix."""
    rng = np.random.default_rng(SEED + 1)

    class Dense(tf.Module):
        def __init__(self, inputs, outputs):
            super().__init__()
            self.kernel = tf.Variable(
                rng.standard_normal((inputs, outputs)).astype(np.float32))
            self.bias = tf.Variable(
                rng.standard_normal((outputs,)).astype(np.float32))

        def __call__(self, x):
            return tf.nn.relu(tf.matmul(x, self.kernel) + self.bias)

    class Net(tf.Module):
        def __init__(self):
            super().__init__()
            self.layers = [Dense(8, 16), Dense(16, 4)]
            self.steps = tf.Variable(np.int64(rng.integers(0, 1 << 40)))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32)])
        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    folder = tmp_path_factory.mktemp("saved") / "model"
    tf.saved_model.save(Net(), str(folder))
    return folder / "variables" / "variables"


@pytest.fixture(scope="module")
def keras_saved_model(tf, tmp_path_factory):
    """tf.saved_model.save of a small Keras model (Dense, BatchNormalization,
    Dense) with every weight random; returns its variables prefix."""
    import keras
    rng = np.random.default_rng(SEED + 4)
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
        keras.layers.BatchNormalization(), keras.layers.Dense(3)])
    model.set_weights([rng.standard_normal(w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    folder = tmp_path_factory.mktemp("keras") / "model"
    tf.saved_model.save(model, str(folder))
    return folder / "variables" / "variables"


def sharded_checkpoint(tf, folder, policy):
    rng = np.random.default_rng(SEED + 3)
    variables = {f"v{i}": tf.Variable(random_values(rng, np.float32, (300,)))
                 for i in range(6)}
    variables["counts"] = tf.Variable(random_values(rng, np.int64, (50,)))
    options = tf.train.CheckpointOptions(
        experimental_sharding_callback=policy)
    return tf.train.Checkpoint(**variables).write(str(folder / "ckpt"),
                                                  options=options)


@pytest.fixture(scope="module")
def sharded(tf, tmp_path_factory):
    """A checkpoint TensorFlow writes over several shards, one variable
    each (a sharding callback of the test's); returns its prefix."""

    class OneShardPerVariable(tf.train.experimental.ShardingCallback):
        @property
        def description(self):
            return "one shard per variable"

        def __call__(self, shardable_tensors):
            return [{t.checkpoint_key: {t.slice_spec: t.tensor}}
                    for t in shardable_tensors]

    return sharded_checkpoint(tf, tmp_path_factory.mktemp("sharded"),
                              OneShardPerVariable())


def check_equal_to_tensorflow(tf, tool, prefix):
    """kiln's dump of prefix equals TensorFlow's reader, tensor by tensor;
    returns the dump."""
    got = dump(tool, prefix)
    assert "entries" in got, got
    reader = tf.train.load_checkpoint(str(prefix))
    expected = reader.get_variable_to_dtype_map()
    names = [e["name"] for e in got["entries"]]
    assert names == sorted(expected, key=lambda n: n.encode())
    numeric = 0
    for entry in got["entries"]:
        name = entry["name"]
        want = reader.get_tensor(name)
        if entry["tf_dtype"] == DT_STRING:
            assert entry["code"] == "UNSUPPORTED", entry
            assert "DT_STRING" in entry["error"]
            continue
        assert "hex" in entry, entry
        dtype = NUMPY_DTYPES[entry["tf_dtype"]]
        assert expected[name].as_numpy_dtype == dtype, name
        data = bytes.fromhex(entry["hex"])
        assert crc32c(data) == entry["crc32c"], name
        values = np.frombuffer(data, dtype).reshape(entry["shape"])
        want = np.asarray(want)
        assert values.dtype == want.dtype and values.shape == want.shape, name
        assert values.tobytes() == want.tobytes(), name
        numeric += 1
    return got, numeric


def data_blocks(index: bytes) -> int:
    """How many data blocks a LevelDB table has: the entries of its index
    block (read here from the footer, independently of kiln)."""
    def varint(at):
        value = shift = 0
        while True:
            byte = index[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, at
    at = len(index) - 48
    for _ in range(2):  # the metaindex handle
        _, at = varint(at)
    offset, at = varint(at)
    size, at = varint(at)
    block = index[offset:offset + size]
    restarts = struct.unpack("<I", block[-4:])[0]
    count, at = 0, 0
    end = len(block) - 4 - 4 * restarts
    while at < end:  # walk the entries (restarts may be sparser)
        _, at = varint(offset + at)
        at -= offset
        unshared, at = varint(offset + at)
        at -= offset
        value_len, at = varint(offset + at)
        at -= offset
        at += unshared + value_len
        count += 1
    return count


def test_checkpoint_equals_tensorflow(tf, bundle_tool, checkpoint):
    index = Path(checkpoint + ".index").read_bytes()
    assert data_blocks(index) >= 2
    got, numeric = check_equal_to_tensorflow(tf, bundle_tool, checkpoint)
    assert numeric == 9 * 3 + 2 + 150 + 40
    kinds = {e["tf_dtype"] for e in got["entries"]}
    assert {1, 2, 3, 4, 5, 6, 9, 10, 19} <= kinds
    ranks = {len(e["shape"]) for e in got["entries"]}
    assert {0, 1, 4} <= ranks


def test_saved_model_variables_equal_tensorflow(tf, bundle_tool, saved_model):
    _, numeric = check_equal_to_tensorflow(tf, bundle_tool, saved_model)
    assert numeric == 5


def test_keras_saved_model_variables_equal_tensorflow(tf, bundle_tool,
                                                     keras_saved_model):
    _, numeric = check_equal_to_tensorflow(tf, bundle_tool, keras_saved_model)
    assert numeric == 8  # 2 kernels, 2 biases, 4 BatchNormalization


def test_sharded_checkpoint_equals_tensorflow(tf, bundle_tool, sharded):
    shards = sorted(Path(sharded).parent.glob("ckpt.data-*"))
    assert len(shards) >= 3, shards
    _, numeric = check_equal_to_tensorflow(tf, bundle_tool, sharded)
    assert numeric == 7


def test_sliced_variables_are_refused_by_name(tf, bundle_tool, tmp_path):
    """TensorFlow's MaxShardSizePolicy cuts variables into slices to fill
    its shards: kiln refuses such a bundle and names a sliced tensor."""
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=2000)
    prefix = sharded_checkpoint(tf, tmp_path, policy)
    got = dump(bundle_tool, prefix)
    assert got["code"] == "UNSUPPORTED", got
    assert "partitioned (sliced) variable" in got["error"], got
    assert "/.ATTRIBUTES/VARIABLE_VALUE'" in got["error"], got


def test_missing_one_of_several_shards(bundle_tool, sharded, tmp_path):
    prefix = copy_bundle(Path(sharded), tmp_path / "s")
    shards = sorted(prefix.parent.glob(prefix.name + ".data-*"))
    shards[-1].unlink()
    got = dump(bundle_tool, prefix)
    assert got["code"] == "IO", got
    assert shards[-1].name in got["error"], got


def copy_bundle(prefix, to):
    to.mkdir()
    for path in prefix.parent.iterdir():
        if path.name.startswith(prefix.name + "."):
            shutil.copy(path, to / path.name)
    return to / prefix.name


def only_shard(prefix):
    shards = sorted(prefix.parent.glob(prefix.name + ".data-*"))
    assert len(shards) == 1, shards
    return shards[0]


def test_damaged_shard_fails_its_checksum(tf, bundle_tool, checkpoint,
                                          tmp_path):
    prefix = copy_bundle(Path(checkpoint), tmp_path / "c")
    good = dump(bundle_tool, prefix)
    # Flip a byte inside the float64 4-D tensor's bytes: find them by
    # content, so that exactly that tensor must fail.
    victim = next(e for e in good["entries"] if e["name"].startswith(
        "float64_4d"))
    shard = only_shard(prefix)
    data = bytearray(shard.read_bytes())
    at = bytes(data).find(bytes.fromhex(victim["hex"]))
    assert at >= 0
    data[at + 17] ^= 0x01
    shard.write_bytes(bytes(data))
    bad = dump(bundle_tool, prefix)
    failed = [e for e in bad["entries"] if "error" in e and
              e["tf_dtype"] != DT_STRING]
    assert [e["name"] for e in failed] == [victim["name"]], failed
    assert "checksum mismatch" in failed[0]["error"]
    assert shard.name in failed[0]["error"]


def test_missing_shard_is_named(bundle_tool, checkpoint, tmp_path):
    prefix = copy_bundle(Path(checkpoint), tmp_path / "c")
    shard = only_shard(prefix)
    shard.unlink()
    got = dump(bundle_tool, prefix)
    assert got["code"] == "IO", got
    assert shard.name in got["error"] and "cannot open shard" in got["error"]


def test_truncated_shard_is_named(bundle_tool, checkpoint, tmp_path):
    prefix = copy_bundle(Path(checkpoint), tmp_path / "c")
    shard = only_shard(prefix)
    shard.write_bytes(shard.read_bytes()[:-1])
    got = dump(bundle_tool, prefix)
    assert got["code"] == "INVALID_MODEL", got
    assert shard.name in got["error"] and "truncated" in got["error"]


def test_damaged_index_is_refused(bundle_tool, checkpoint, tmp_path):
    prefix = copy_bundle(Path(checkpoint), tmp_path / "c")
    index = prefix.with_name(prefix.name + ".index")
    original = index.read_bytes()
    rng = np.random.default_rng(SEED + 2)
    # Truncated anywhere: the footer's magic is gone or elsewhere.
    for cut in [0, 10, 47, len(original) // 2, len(original) - 1]:
        index.write_bytes(original[:cut])
        got = dump(bundle_tool, prefix)
        assert got["code"] == "INVALID_MODEL", (cut, got)
        assert index.name in got["error"]
        assert "truncated" in got["error"] or "magic" in got["error"], got
    # A flipped bit in a block: its checksum catches it.
    for _ in range(20):
        at = int(rng.integers(0, len(original) - 48))
        damaged = bytearray(original)
        damaged[at] ^= 1 << int(rng.integers(0, 8))
        index.write_bytes(bytes(damaged))
        got = dump(bundle_tool, prefix)
        assert got.get("code") == "INVALID_MODEL", (at, got)
        assert "checksum mismatch" in got["error"], (at, got)
