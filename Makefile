# make run: the whole system on this machine (web, worker, beat, the Tradera sandbox) on
# embedded defaults.
# make test: the test suite (real PostgreSQL and Redis when they answer).
# make lint: ruff, and mypy over the application code (configured in pyproject.toml).
# make faults: the fault suite (bench/faults; a PostgreSQL and a Redis of its own).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

export PORT ?= 8000

.PHONY: run test faults lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: venv
	mkdir -p var
	PATH="$(abspath $(BIN)):$$PATH" DEBUG=$${DEBUG:-1} RHEO_ALLOW_LOCAL_URLS=$${RHEO_ALLOW_LOCAL_URLS:-1} HOST=$${HOST:-127.0.0.1} \
	  sh -c '$(BIN)/python manage.py migrate --noinput && \
	         $(BIN)/python manage.py ensure_demo_partner && \
	         exec $(BIN)/honcho --procfile Procfile start'

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

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
