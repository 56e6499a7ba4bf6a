# Spine monorepo tasks. Needs only python3 and make: `setup` installs uv when it is missing.
SHELL := /bin/bash
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python
DEMO_QUESTION ?= Give me an overview of this repository: its files, languages and tests.

.PHONY: setup services test fresh-clone soak lint typecheck format docs bench demo clean

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet --break-system-packages uv
	$(UV) sync --all-packages --frozen --compile-bytecode
	@# Pinned third-party test peers (MCP servers, the Claude Code CLI): package.json + lock.
	@[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
	@# Debian's Chromium for the browser tests (Playwright's own browser download does not work).
	@command -v chromium >/dev/null 2>&1 || apt-get install -y chromium chromium-driver \
		|| (apt-get update && apt-get install -y chromium chromium-driver)

services:
	@bash scripts/services.sh

test: setup services
	$(PY) -m pytest -q

# The fresh-clone path: HEAD cloned into an empty temporary folder with nothing beside it (no
# ../shared recordings), SPINE_CASSETTES unset, must pass `make test` there, the tests on
# external API recordings skipped with their reason. Run by the GitHub workflow, not by `test`.
fresh-clone:
	@set -euo pipefail; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	git clone --quiet --no-local --no-hardlinks "$(CURDIR)" "$$tmp/spine"; \
	echo "fresh clone of $$(git -C "$$tmp/spine" rev-parse --short HEAD) in $$tmp/spine"; \
	cd "$$tmp/spine"; \
	env -u SPINE_CASSETTES SPINE_CASSETTES_OPTIONAL=1 $(MAKE) --no-print-directory test \
		2>&1 | tee "$$tmp/test.log"; \
	grep -Eq '^(=+ )?[0-9]+ passed' "$$tmp/test.log" \
		|| { echo "fresh-clone: make test ran no test"; exit 1; }; \
	grep -q 'external API recordings not found' "$$tmp/test.log" \
		|| { echo "fresh-clone: the external-recording tests were not skipped"; exit 1; }; \
	echo "fresh-clone: make test passed in a clone with nothing beside it"

# Long runs of the guarantee tests: concurrent streams on one Agent, processes racing to resume
# one pause on each store, and SIGKILLs at random points per store (figures in the test names'
# parameters; override with SOAK_STREAMS / SOAK_RESUMERS / SOAK_KILLS).
SOAK_STREAMS ?= 10000
SOAK_RESUMERS ?= 200
SOAK_KILLS ?= 60
soak: setup services
	SPINE_SOAK_STREAMS=$(SOAK_STREAMS) SPINE_SOAK_RESUMERS=$(SOAK_RESUMERS) \
	SPINE_SOAK_KILLS=$(SOAK_KILLS) SPINE_TEST_TIMEOUT_S=3600 $(PY) -m pytest -q -p no:cacheprovider \
		tests/core/test_guarantees.py tests/backends/test_resume_race.py tests/backends/test_crash.py
	SPINE_SOAK_TEMPORAL_RUNS=40 SPINE_SOAK_TEMPORAL_KILLS=10 SPINE_TEST_TIMEOUT_S=3600 \
		$(PY) -m pytest -q -p no:cacheprovider tests/temporal/test_crash.py -k soak
	SPINE_SOAK_DBOS_RUNS=200 SPINE_SOAK_DBOS_KILLS=20 SPINE_SOAK_DBOS_TIMEOUT_S=900 \
		SPINE_TEST_TIMEOUT_S=1200 $(PY) -m pytest -q -p no:cacheprovider tests/dbos/test_crash_postgres.py

lint: setup typecheck
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup
	$(PY) -m mypy

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

docs: setup
	$(PY) -m mkdocs build --strict

bench: setup services
	@status=0; for b in bench/*.py; do echo "== $$b"; $(PY) $$b || status=1; done; exit $$status

demo: setup
	.venv/bin/spine run examples/quickstart/agent.yaml "$(DEMO_QUESTION)"
	.venv/bin/spine eval examples/quickstart/agent.yaml examples/quickstart/dataset.yaml \
		--report .spine/eval.html --fail-under 1.0

clean:
	rm -rf .venv site .pytest_cache .mypy_cache .ruff_cache .spine
