# claude-tui — every command sets up what it needs first (a virtualenv in .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test check format bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "claude-tui needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP) ## set up and start the app (ARGS="--data-dir DIR" to pass flags)
	$(BIN)/claude-tui $(ARGS)

test: $(STAMP) ## set up and run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP) ## formatting, lint and types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## benchmarks; prints tables and writes bench/results/*.json
	$(BIN)/python -m bench.bench_memory $(BENCH_ARGS)
	$(BIN)/python -m bench.bench_app
	$(BIN)/python -m bench.bench_patterns
	$(BIN)/python -m bench.bench_checkpoints
	$(BIN)/python -m bench.bench_import
	$(BIN)/python -m bench.bench_backups
	$(BIN)/python -m bench.bench_sync

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
