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

run: $(STAMP)
	$(BIN)/smtp-logger serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The layers (import-linter contracts in pyproject.toml) and ruff's checks.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check smtp_logger tests bench

# The OpenAPI document kept in the repository (tests hold it equal to the served one).
openapi: $(STAMP)
	$(BIN)/python -m smtp_logger.api.openapi

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var
