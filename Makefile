# The two commands: `make run` starts the console, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint install screenshots

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/roleferry-console run

test: $(STAMP)
	scripts/test-services
	$(PY) -m ruff check clients console pages tests $(wildcard bench)
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(PY) -m ruff check clients console pages tests $(wildcard bench)

# One PNG of each console page in docs/screenshots/, from a console with seeded history.
screenshots: $(STAMP)
	scripts/test-services
	$(PY) scripts/screenshots.py
