# Makefile - the two front doors: `make demo` and `make check`.
# Everything real happens in CMake/ctest and pytest; this file sequences it.

MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
PYTHON ?= python3
# Warnings are errors in make check and CI (check sets WERROR=ON); a user's
# `make demo` or plain CMake build with another compiler does not fail on one.
WERROR ?= OFF
FUZZ_SECONDS ?= 600
# Keras models converted once per build folder, shared by both e2e runs.
export KILN_E2E_MODEL_DIR ?= $(CURDIR)/$(BUILD)/e2e-models

.PHONY: all setup build build-asan check test-unit test-asan test-e2e \
        test-conformance test-e2e-isa test-e2e-asan test-e2e-heavy build-release build-fuzz fuzz-smoke fuzz bench demo format clean

all: build

setup:
	@scripts/setup

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKILN_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DKILN_SANITIZE=ON \
	  -DKILN_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j$(JOBS)

# The quantized forms of the heavy models (12 conversions, minutes) are
# left to test-e2e-heavy, so make check stays within its time budget.
test-e2e: build
	KILN_BIN=$(BUILD)/kiln $(PYTHON) -m pytest -q tests/e2e -m "not quant_heavy"

test-e2e-heavy: build
	KILN_BIN=$(BUILD)/kiln $(PYTHON) -m pytest -q tests/e2e -m quant_heavy

# Every LiteRT builtin operator, kiln against LiteRT, one small model per
# case (tests/conformance; models cached in $(BUILD)/conformance-models).
test-conformance: build
	KILN_BIN=$(BUILD)/kiln $(PYTHON) -m pytest -q tests/conformance

# The zoo against LiteRT with the kernels of each lower instruction set
# forced, so every dispatch level is checked on this machine (the files
# whose models reach optimized float kernels; quantized, recurrent and
# the other issue-9 operators run reference kernels at every level).
test-e2e-isa: build
	for isa in avx2 portable; do \
	  KILN_ISA=$$isa KILN_BIN=$(BUILD)/kiln $(PYTHON) -m pytest -q \
	    tests/e2e/test_models.py tests/e2e/test_dynamic_shapes.py \
	    tests/e2e/test_control_flow.py -k "matches_litert" || exit 1; \
	done

# The whole end-to-end suite again, with the command built under ASan+UBSan
# (KILN_E2E_ASAN: the server tests wait longer and skip latency checks).
test-e2e-asan: build-asan
	KILN_BIN=$(BUILD_ASAN)/kiln KILN_E2E_ASAN=1 ASAN_OPTIONS=detect_leaks=1 \
	  $(PYTHON) -m pytest -q tests/e2e -m "not quant_heavy"

FUZZERS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
# The server's parsers and request decoders: small and fast, so the smoke
# run gives them 10 seconds each (the others 20).
SERVE_FUZZERS := fuzz_pbtxt fuzz_tensor_json fuzz_serve_request fuzz_pb_wire \
                 fuzz_grpc_tfs fuzz_grpc_kserve fuzz_warmup

build-fuzz:
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKILN_FUZZ=ON -DKILN_SANITIZE=ON -DKILN_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS) --target $(FUZZERS) >/dev/null

# A short run of every fuzz target over its seed corpus: part of make check.
fuzz-smoke: build-fuzz
	@scripts/fuzz $(BUILD_FUZZ) 20 $(filter-out $(SERVE_FUZZERS),$(FUZZERS))
	@scripts/fuzz $(BUILD_FUZZ) 10 $(SERVE_FUZZERS)

# Long fuzzing, FUZZ_SECONDS per target.
fuzz: build-fuzz
	@scripts/fuzz $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZERS)

# kiln side by side with LiteRT and ONNX Runtime; writes bench/RESULTS.md.
bench: setup build
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/run_bench.py
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/serve_bench.py
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/grpc_bench.py
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/slow_client_bench.py
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/quant_bench.py
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/quant_accuracy.py
	KILN_BIN=$(BUILD)/kiln $(PYTHON) bench/load_bench.py

# Release builds as a user makes them, with gcc and with clang, warnings as
# errors: optimizers warn about things the RelWithDebInfo build does not.
build-release:
	@for cc in gcc clang; do \
	  CC=$$cc cmake -S . -B build-release-$$cc -DCMAKE_BUILD_TYPE=Release \
	    -DKILN_WERROR=ON >/dev/null || exit 1; \
	  cmake --build build-release-$$cc -j$(JOBS) >/dev/null || exit 1; \
	  echo "Release build with $$cc: ok"; \
	done

check: setup
	@$(MAKE) --no-print-directory WERROR=ON build-release test-unit test-asan \
	  fuzz-smoke test-e2e test-conformance test-e2e-isa test-e2e-asan

demo: setup build
	@scripts/demo $(BUILD)/kiln

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
