# Everything a new user needs: `make run` (server with a demo user) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint openapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# Byte-compiled once here, as `pip install .` does for the container image: where
# PYTHONDONTWRITEBYTECODE is set (this project's CI machines) an editable install never writes
# them, and every server the tests start would compile the whole package again (about 0.2 s).
COMPILE := $(BIN)/python -m compileall -q smtp_logger >/dev/null

run: $(STAMP)
	$(COMPILE)
	$(BIN)/smtp-logger serve --demo

test: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m pytest -q

# The layers (import-linter contracts in pyproject.toml) and ruff's checks.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check smtp_logger tests bench

# The OpenAPI document kept in the repository (tests hold it equal to the served one).
openapi: $(STAMP)
	$(BIN)/python -m smtp_logger.api.openapi

bench: $(STAMP)
	$(COMPILE)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var
