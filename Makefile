# The two commands a newcomer needs: `make dev` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test eval bench lint clean

$(STAMP): requirements.txt requirements-dev.txt infra/requirements.txt console/requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	@# Pulumi's dynamic-provider host starts in infra/ and must import infra.sip_provider (docs/telephony.md).
	@echo "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/hospital-receptionist.pth"
	@touch $(STAMP)

## Start (or reuse) the local database, migrate and seed it, check it, then run the agent worker.
dev: $(STAMP)
	$(PY) -m agent.local

## Every test: unit, database, conversation, infrastructure, delivery.
test: $(STAMP)
	$(PY) -m pytest

## Opt-in, never in CI: the real model (OPENAI_API_KEY) in the safety scenarios, judged; see docs/eval.md.
eval: $(STAMP)
	$(PY) -m eval $(SCENARIOS)

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
