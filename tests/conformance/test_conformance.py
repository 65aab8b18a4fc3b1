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
