# The two commands a newcomer needs: `make dev` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev db-start db-stop db-url test bench lint clean

# The first run downloads and installs a few hundred MB (2-4 minutes): pip shows each package as it goes.
$(STAMP): pyproject.toml requirements.txt requirements-dev.txt infra/requirements.txt console/requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	@echo "installing the pinned requirements into $(VENV) (the first time takes a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt -e .
	@touch $(STAMP)

## Start (or reuse) the local database, migrate and seed it, check it, then run the agent worker.
dev: $(STAMP)
	$(PY) -m devtools.dev

## The local PostgreSQL of `make dev` (data in .data/postgres/): start it, stop it, print its URL.
## stop and url never install anything first, so `$$(make -s db-url)` captures the URL alone.
db-start: $(STAMP)
	@$(PY) -m devtools.localdb start

db-stop:
	@$(PY) -m devtools.localdb stop

db-url:
	@$(PY) -m devtools.localdb url

## Every test: unit, database, conversation, infrastructure, delivery.
test: $(STAMP)
	$(PY) -m pytest

## Benchmarks: print latency and resource figures beside the floor measured in the same run.
bench: $(STAMP)
	$(PY) -m bench

## ruff, and squawk on the migrations (they run while the previous agent serves calls; see .squawk.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/squawk migrations/*.sql

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
