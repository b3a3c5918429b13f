# The two commands a newcomer needs: `make dev` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CLIENT := console/static/livekit-client.umd.js
# dev and test build it when npm is there; without npm the Talk page says how to build it and its tests skip
# (in CI, CI=true, they fail).
CLIENT_IF_NPM := $(if $(shell command -v npm),$(CLIENT))

.PHONY: dev db-start db-stop db-url test eval bench lint clean console-client

# The first run downloads and installs a few hundred MB (2-4 minutes): pip shows each package as it goes.
$(STAMP): pyproject.toml requirements.txt requirements-dev.txt infra/requirements.txt console/requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	@echo "installing the pinned requirements into $(VENV) (the first time takes a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt -e .
	@touch $(STAMP)

## The LiveKit browser client the console ships (Talk page), from the npm registry at the locked version.
console-client: $(CLIENT)
$(CLIENT): console/web/package.json console/web/package-lock.json
	cd console/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(@D)
	cp console/web/node_modules/livekit-client/dist/livekit-client.umd.js $@

## Start (or reuse) the local database, migrate and seed it, check it, then run the agent worker.
dev: $(STAMP) $(CLIENT_IF_NPM)
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
test: $(STAMP) $(CLIENT_IF_NPM)
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
	rm -rf $(VENV) .pytest_cache .ruff_cache console/web/node_modules $(CLIENT)
