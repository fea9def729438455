# lightchat: `make demo` serves the example app, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
CHROMIUM := /usr/bin/chromium
OIDC := tests/oidc/node_modules/.package-lock.json
AZURITE := tests/azurite/node_modules/.package-lock.json
AXE := tests/axe/node_modules/.package-lock.json
# Compiled modules and pytest's rewritten tests are kept in the virtualenv (not beside the
# sources), even where PYTHONDONTWRITEBYTECODE is set: compiling them all again costs every
# test process seconds.
PYTEST := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(abspath $(VENV))/pycache $(VENV)/bin/pytest
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install constraints chromium oidc azurite axe demo test unit processes e2e a11y lint format bench clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install lightchat with its dev tools

constraints: install ## Write constraints.txt again from the virtualenv (after changing a dependency)
	{ sed -n '1,2p' constraints.txt; $(PY) -m pip list --format=freeze --exclude-editable | grep -v '^lightchat=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

chromium: ## Install Debian's Chromium for the browser tests, if missing
	@test -x $(CHROMIUM) || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The sign-in tests run a real OpenID Connect provider on Node.js (tests/oidc).
$(OIDC): tests/oidc/package.json tests/oidc/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the OAuth sign-in tests will be skipped"; fi

oidc: $(OIDC) ## Install the OpenID Connect provider of the sign-in tests (npm ci)

# The Azure Blob storage tests run Azurite, Microsoft's local Azure Storage server (npm).
$(AZURITE): tests/azurite/package.json tests/azurite/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Azure Blob storage tests will be skipped"; fi

azurite: $(AZURITE) ## Install Azurite for the Azure Blob storage tests (npm ci)

# The accessibility tests run axe-core (tests/axe) in the browser pages.
$(AXE): tests/axe/package.json tests/axe/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the accessibility tests will fail"; fi

axe: $(AXE) ## Install axe-core for the accessibility tests (npm ci)

demo: install ## Serve the example app on http://127.0.0.1:8000
	$(VENV)/bin/lightchat serve examples/01_quickstart.py --host 127.0.0.1 --port $(PORT)

test: install chromium oidc azurite axe lint ## Lint, type-check and run every test, browser tests included; branch coverage
	$(PYTEST) --cov --cov-report=term

unit: install oidc azurite ## Run the unit and HTTP tests only, on two processes (some seconds)
	$(PYTEST) -n 2 -m "not e2e and not processes"

processes: install ## Run the tests that start real server processes (several workers...)
	$(PYTEST) -m "processes and not e2e"

e2e: install chromium oidc axe ## Run the browser tests only
	$(PYTEST) -m e2e

a11y: install chromium axe ## Run the accessibility checks only (axe-core in Chromium, both themes)
	$(PYTEST) tests/e2e/test_accessibility.py

lint: install ## ruff, mypy (strict) and the import layering contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install chromium ## Run the benchmarks and print their figures
	$(PY) benchmarks/run.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage *.egg-info tests/oidc/node_modules tests/axe/node_modules
