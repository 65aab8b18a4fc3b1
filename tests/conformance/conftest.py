"""Fixtures of the operator conformance suite (see test_conformance.py).

Environment:
    KILN_BIN                  the kiln executable (default build/kiln)
    KILN_CONFORMANCE_DIR      model cache (default build/conformance-models)
    KILN_CONFORMANCE_JOBS     operators run at once (default: the cores)
    KILN_CONFORMANCE_SEED     another set of random inputs (default 0)
    KILN_CONFORMANCE_TIMEOUT  seconds one kiln run may take (default 20)
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runner  # noqa: E402
import summary  # noqa: E402

_RESULTS = {}


@pytest.fixture(scope="session")
def results(request):
    """Runs the cases of every operator test selected, all at once (so
    the workers stay busy), and returns {op: [Result]}."""
    path = runner.kiln_binary()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"kiln executable not found at {path}; build it "
                    f"(cmake --build build) or set KILN_BIN", pytrace=False)
    ops = []
    for item in request.session.items:
        op = getattr(item, "callspec", None) and item.callspec.params.get(
            "op")
        if op and op not in ops:
            ops.append(op)
    _RESULTS.update(runner.run_ops(ops))
    return _RESULTS


def pytest_terminal_summary(terminalreporter):
    if _RESULTS:
        terminalreporter.write_sep("=", "kiln against LiteRT, by operator")
        terminalreporter.write_line(summary.table(_RESULTS))
