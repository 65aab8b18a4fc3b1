"""Fixtures for the end-to-end tests of the `kiln` command.

Run from the repository root:

    cmake -S . -B build && cmake --build build -j
    pytest tests/e2e                       # KILN_BIN defaults to build/kiln
    KILN_BIN=build-asan/kiln pytest tests/e2e -m "not heavy"

Environment:
    KILN_BIN             the kiln executable (default: build/kiln in the repo)
    KILN_E2E_MODEL_DIR   keep converted models here across sessions (files
                         found there are reused; delete them to rebuild)
    KILN_E2E_SEED        replay the random inputs of a run (each test prints
                         the seed it used)
    KILN_E2E_TIMEOUT     seconds one kiln command may take (default 300)
    KILN_E2E_ASAN        set when KILN_BIN is the sanitizer build: the
                         server tests wait longer and skip latency checks
    KILN_E2E_LITERT_RESOLVER  LiteRT op resolver (default
                         BUILTIN_WITHOUT_DEFAULT_DELEGATES; BUILTIN_REF for
                         the reference kernels)

Each Keras model is built and converted once per session (both variants),
in a session-scoped directory.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kiln_e2e  # noqa: E402


@pytest.fixture(scope="session")
def kiln_bin() -> Path:
    path = kiln_e2e.kiln_binary()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"kiln executable not found at {path}; build it "
                    f"(cmake --build build) or set KILN_BIN", pytrace=False)
    return path


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> kiln_e2e.ModelCache:
    directory = os.environ.get("KILN_E2E_MODEL_DIR")
    if directory:
        return kiln_e2e.ModelCache(Path(directory))
    return kiln_e2e.ModelCache(tmp_path_factory.mktemp("models"))
