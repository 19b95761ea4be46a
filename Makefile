# The two commands of the README. Both install what they need into .venv first.
VENV ?= .venv

.PHONY: run test lint format

run:            ## install, then train the default recipe (gan-digits, offline)
	scripts/setup.sh
	$(VENV)/bin/ganforge train

test:           ## install with test tools, then lint, format check and the test suite
	scripts/setup.sh dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/python -m pytest -q

format:         ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks
