"""test_conformance.py - every LiteRT builtin operator, kiln against LiteRT.

One test per operator of the case table (cases.py). It fails when any
case gives a different answer from LiteRT, crashes kiln, or times out;
where kiln refuses some cases (an operator, type or attribute it does not
run) and nothing is wrong otherwise, the test is an xfail that quotes
kiln's messages, so unsupported work shows up in the summary instead of
passing silently. A last test checks that every operator LiteRT's builtin
resolver registers has cases.

    KILN_BIN=build/kiln python3 -m pytest -q tests/conformance [-k OP]
"""
import pytest

import cases
import runner
import summary

OPS = cases.all_ops()


@pytest.mark.parametrize("op", OPS)
def test_operator(op, results):
    rs = results[op]
    c = summary.counts(rs)
    lines = summary.describe(rs, summary.BAD)
    if lines:
        pytest.fail(f"{op}: {sum(c[s] for s in summary.BAD)} of {len(rs)} "
                    f"cases wrong:\n" + "\n".join(lines), pytrace=False)
    if not c[runner.PASS] and not c[runner.UNSUPPORTED]:
        pytest.fail(f"{op}: LiteRT rejects every case, so nothing is "
                    f"tested; fix cases.py:\n" +
                    "\n".join(summary.describe(rs, (runner.REJECTED,))),
                    pytrace=False)
    if c[runner.UNSUPPORTED]:
        pytest.xfail(f"{op}: kiln runs {c[runner.PASS]} of "
                     f"{c[runner.PASS] + c[runner.UNSUPPORTED]} cases; " +
                     " | ".join(summary.describe(rs, (runner.UNSUPPORTED,))))


def test_every_litert_operator_has_cases():
    missing = [op for op in runner.litert_registered_ops()
               if op not in cases.REGISTRY]
    assert not missing, f"operators LiteRT runs with no conformance " \
        f"cases: {missing}"


def test_comparison_rules():
    """The comparison itself: each rule rejects what it must."""
    import numpy as np
    f = {"dtype": np.float32, "quantization": (0.0, 0)}
    qd = {"dtype": np.int8, "quantization": (0.1, 0)}
    ref = np.array([1.0, -2.0, 4.0], np.float32)
    assert runner.compare(0, ref.copy(), ref, f, None)[0]
    assert runner.compare(0, ref + 3e-5, ref, f, None)[0]  # 7.5e-6 rel
    assert not runner.compare(0, ref + 1e-4, ref, f, None)[0]
    assert not runner.compare(0, ref[:2], ref, f, None)[0]  # shape
    assert not runner.compare(0, ref.astype(np.float64), ref, f, None)[0]
    nan = np.array([np.nan, 1.0], np.float32)
    assert runner.compare(0, nan.copy(), nan, f, None)[0]
    assert not runner.compare(0, np.array([0.0, 1.0], np.float32), nan, f,
                              None)[0]
    ints = np.array([3, 4], np.int32)
    assert not runner.compare(0, ints + np.int32([0, 1]), ints,
                              {"dtype": np.int32, "quantization": (0.0, 0)},
                              None)[0]
    q = np.array([10, -5, 7], np.int8)
    one = np.int8(1)
    assert runner.compare(0, q + np.int8([1, 0, -1]), q, qd, None)[0]
    assert not runner.compare(0, q + np.int8([2, 0, 0]), q, qd, None)[0]
    # equal to the reference kernels, even when builtin differs by 1
    assert runner.compare(0, q + one, q, qd, q + one)[0]
    assert not runner.compare(0, q, q, qd, q + one)[0]
    words = np.array([b"ab", b"c"], dtype=object)
    sd = {"dtype": np.object_, "quantization": (0.0, 0)}
    assert runner.compare(0, words.astype(np.bytes_), words, sd, None)[0]
    assert not runner.compare(0, np.array([b"ab", b"d"]), words, sd, None)[0]
    # where LiteRT's two kernels differ by more than 1, the reference rules
    assert runner.compare(0, q + np.int8(5), q, qd, q + np.int8(5))[0]
