# make run: the whole system on this machine (web, worker, beat, the Tradera sandbox) on
# embedded defaults; the first start writes .env (rheo/run.py). PORT (8000) moves it all.
# make demo: how to log in to the dashboard and the Quick Start's test key, again.
# make test: the test suite (real PostgreSQL and Redis when they answer).
# make lint: ruff, and mypy over the application code (configured in pyproject.toml).
# make faults: the fault suite (bench/faults; a PostgreSQL and a Redis of its own).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp follows both pyproject.toml files: the project's and the SDK's (clients/python).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run demo test faults lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The partners' SDK and its `rheo` command (tests/sdk and clients/python/tests use it).
	$(BIN)/python -m pip install --quiet -e ./clients/python
	rm -f $(VENV)/.installed-* && touch $@

# rheo/run.py says in one line what stops a start (a port in use); make then adds its own
# "Error 1" line below it.
run: venv
	@$(BIN)/python -m rheo.run

demo: venv
	@$(BIN)/python -m rheo.run --demo

# The suite runs on up to four cores (pytest-xdist; a test file stays on one worker).
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

test: venv
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

faults: venv
	$(BIN)/python -m bench.faults $(FAULTS_ARGS)

# mypy's django plugin imports the settings, which refuse to load without a SECRET_KEY
# unless DEBUG is on.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy

clean:
	rm -rf $(VENV) var
