"""`kiln run` matches LiteRT on STRING tensors and TFLite's static hash
tables, as TensorFlow's converter writes them for tf.lookup.StaticHashTable
in a tf.function: a CALL_ONCE initializer with HASHTABLE and
HASHTABLE_IMPORT, and HASHTABLE_FIND / HASHTABLE_SIZE in the main graph.

Each run draws a fresh vocabulary (distinct random words: TensorFlow
refuses a key repeated with another value before converting, so repeated
keys are the unit tests' business), distinct random int64 ids, two tables
(string -> int64 and int64 -> string) and two draws of queries of random
length (the inputs are dynamic), some hitting the table and some not.
Strings go through .npy as numpy bytes_ ('|S<n>'); kiln's outputs must
equal LiteRT's exactly.
"""
import os

import numpy as np

import kiln_e2e as K


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


def _word(rng):
    letters = np.array(list(b"abcdxyz"), np.uint8)
    return bytes(rng.choice(letters, int(rng.integers(1, 6))).tolist())


def _convert(tf, words, ids, default_id, default_word):
    keys = tf.constant(words)
    values = tf.constant(ids, tf.int64)

    class Tables(tf.Module):
        def __init__(self):
            self.to_id = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(keys, values), default_id)
            self.to_word = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(values, keys),
                default_word)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                      tf.TensorSpec([None], tf.int64)])
        def __call__(self, text, number):
            return {"ids": self.to_id.lookup(text),
                    "words": self.to_word.lookup(number),
                    "size": self.to_id.size()}

    module = Tables()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    return converter.convert()


def test_static_hash_tables_match_litert(kiln_bin, tmp_path):
    rng, seed = K.make_rng()
    print(f"seed {seed}")
    tf = _tf()
    words = sorted({_word(rng) for _ in range(int(rng.integers(3, 40)))})
    words = [words[j] for j in rng.permutation(len(words))]
    count = len(words)
    ids = rng.choice(np.arange(-50, 50), count, replace=False) * 7919
    path = tmp_path / "tables.tflite"
    path.write_bytes(_convert(tf, words, ids, int(rng.integers(-9, 0)),
                              _word(rng)))
    ops = K.op_histogram(path)
    assert {"HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_SIZE",
            "CALL_ONCE"} <= set(ops), f"the converter wrote {dict(ops)}"
    for draw in range(2):
        n_text, n_number = (int(x) for x in rng.integers(1, 30, 2))
        text = np.array([words[j] if j < count else _word(rng) for j in
                         rng.integers(0, count + 5, n_text)], np.bytes_)
        number = np.array([ids[j] if j < count else 1 + 7919 * j for j in
                           rng.integers(0, count + 5, n_number)], np.int64)
        feeds = {"text": text, "number": number}
        want = K.run_litert(path, feeds)
        got, _ = K.run_kiln(path, feeds, tmp_path / f"run{draw}", kiln_bin=kiln_bin)
        assert sorted(got) == ["ids.npy", "size.npy", "words.npy"], sorted(got)
        assert np.array_equal(got["ids.npy"], want["ids"]), (
            got["ids.npy"], want["ids"])
        assert np.array_equal(got["size.npy"], want["size"])
        assert got["words.npy"].dtype.kind == "S"
        assert [bytes(w) for w in got["words.npy"]] == \
            [bytes(w) for w in want["words"]], (got["words.npy"],
                                                want["words"])
