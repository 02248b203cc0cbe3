# The citizen card service. `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_WORKERS ?= 2

.PHONY: help install run test lint bench migrate clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

install: $(UV) ## Install system packages, then the locked Python dependencies into .venv
	./scripts/system-deps
	$(UV) sync --frozen --extra terminals
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error   # axe-core for the browser tests

migrate: install ## Bring the database (CARD_SERVICE_DATABASE_URL, default var/) to the newest schema
	$(BIN)/card-service migrate

run: migrate ## Install, migrate, load the demo city and catalogue if not there, serve the API (:8000), kiosk and desk (:8100)
	$(BIN)/card-service services catalogue load card_service/catalogue/data/gijon.yaml --if-empty
	$(BIN)/card-service demo seed --if-empty
	@echo "API http://127.0.0.1:8000/docs  kiosk http://127.0.0.1:8100/kiosk/  desk http://127.0.0.1:8100/desk/"
	trap 'kill 0' EXIT INT TERM; \
	$(BIN)/python -m terminals.kiosk --service-url http://127.0.0.1:8000 --port 8100 & \
	$(BIN)/card-service serve --host 127.0.0.1 --port 8000

test: lint ## Install, lint, and run the whole test suite (PostgreSQL tests use 127.0.0.1:5432)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: install ## ruff and mypy (strict for card_service/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check card_service terminals tests bench migrations
	$(BIN)/mypy

bench: install ## Run every benchmark in bench/ (results go to docs/performance.md by hand)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var
