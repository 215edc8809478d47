PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-example
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: test lint types unit venv run clean promtool redis-server chromium oidc-provider bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# This distribution was named jwt-middleware before it became asgi-jwt-bearer;
# a venv made then still holds that name's editable install: drop it first.
DROP_OLD_NAME := $(BIN)/pip uninstall --quiet --yes jwt-middleware 2>/dev/null || true

$(STAMP): $(BIN)/python pyproject.toml
	$(DROP_OLD_NAME)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(DROP_OLD_NAME)
	$(BIN)/pip install --quiet -e '.[example]'
	touch $(RUN_STAMP)

$(BENCH_STAMP): $(BIN)/python pyproject.toml
	$(DROP_OLD_NAME)
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# Benchmarks (never part of make test): micro, revocation against a local redis-server,
# end-to-end through uvicorn and wrk on 127.0.0.1 only, memory, profiles; about 7
# minutes on 2 cores. Prints the results
# and writes benchmarks/RESULTS.md (knobs: BENCH_* variables, see benchmarks/run.py).
bench: $(BENCH_STAMP)
	@sh benchmarks/ensure_wrk.sh >/dev/null
	@sh scripts/ensure_redis.sh >/dev/null
	$(BIN)/python -m benchmarks.run

# The example app with its embedded development issuer on 127.0.0.1:8000
# (HOST and PORT from the environment win).
run: $(RUN_STAMP)
	$(BIN)/python -m example_app

lint: $(STAMP)
	$(BIN)/ruff check jwt_middleware example_app tests
	$(BIN)/ruff format --check jwt_middleware example_app tests
	$(BIN)/hadolint Dockerfile

types: $(STAMP)
	$(BIN)/mypy --strict jwt_middleware example_app tests/typing_usage.py

# promtool (Debian's prometheus package) checks the exposition and the alert rules.
promtool:
	@bash scripts/ensure_promtool.sh >/dev/null

# redis-server (Debian's package): the DPoP replay tests start their own on 127.0.0.1.
redis-server:
	@sh scripts/ensure_redis.sh >/dev/null

# chromium and chromedriver (Debian's packages): the browser tests drive a headless
# Chromium against servers on 127.0.0.1.
chromium:
	@sh scripts/ensure_chromium.sh >/dev/null

# oidc-provider (npm, pinned by tests/oidc_provider/package-lock.json): the real
# authorization server the introspection tests start on 127.0.0.1.
oidc-provider:
	@sh scripts/ensure_oidc_provider.sh >/dev/null

unit: $(STAMP) promtool redis-server chromium oidc-provider
	$(BIN)/python -m pytest -q

test: lint types unit

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
