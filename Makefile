# claude-tui — every command sets up what it needs first (a virtualenv in .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The real Claude Code CLI, for the end-to-end tests (pinned: npm would pick an older
# release on Node 20 because of its engines field).
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE_CODE_DIR := .cache/claude-code
CLAUDE_CODE_STAMP := $(CLAUDE_CODE_DIR)/.installed-$(CLAUDE_CODE_VERSION)

.PHONY: install claude-code claude-flow run test check format docs bench clean model

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "claude-tui needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(CLAUDE_CODE_STAMP):
	@command -v npm >/dev/null 2>&1 \
		|| { echo "the tests run the real Claude Code CLI, installed with npm: install Node.js and npm"; exit 1; }
	npm install --prefix $(CLAUDE_CODE_DIR) --no-audit --no-fund --loglevel=error \
		@anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	@test -x $(CLAUDE_CODE_DIR)/node_modules/.bin/claude \
		|| { echo "npm installed no $(CLAUDE_CODE_DIR)/node_modules/.bin/claude"; exit 1; }
	@touch $@

claude-code: $(CLAUDE_CODE_STAMP) ## the real Claude Code CLI for the tests, in .cache/claude-code

CLAUDE_FLOW_VERSION := 3.43.0
CLAUDE_FLOW_STAMP := .cache/claude-flow/.installed-$(CLAUDE_FLOW_VERSION)
$(CLAUDE_FLOW_STAMP):
	npm install --prefix .cache/claude-flow --no-audit --no-fund --loglevel=error \
		claude-flow@$(CLAUDE_FLOW_VERSION)
	@touch $@

claude-flow: $(CLAUDE_FLOW_STAMP) ## Ruflo's CLI (claude-flow), for the side-by-side start-up benchmark

run: $(STAMP) ## set up and start the app (ARGS="--data-dir DIR" to pass flags)
	$(BIN)/claude-tui $(ARGS)

# Four workers on two cores: app and subprocess tests wait on threads and children much
# of the time (measured on 2026-12-03 here: 299 s with four, 312 s with three). Whole files to each (a file's module-scoped fixtures stay in one
# worker). Bytecode is cached (outside the tree) even where the environment turns it
# off, so the hundreds of CLI and worker children the tests start do not recompile.
PYTEST_ARGS ?= -n 4 --dist loadfile
test: $(STAMP) $(CLAUDE_CODE_STAMP) ## set up and run the test suite
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/.cache/pycache \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP) ## formatting, lint and types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

model: $(STAMP) ## rebuild the shipped embedding model file and check its sha256 (dev-only)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,model]'
	$(BIN)/python tools/build_model.py

docs: $(STAMP) ## README.md's settings table, from the settings model (core/config.py)
	$(BIN)/python tools/settings_table.py

bench: $(STAMP) $(CLAUDE_FLOW_STAMP) ## benchmarks; prints tables and writes bench/results/*.json
	$(BIN)/python -m bench.bench_memory $(BENCH_ARGS)
	$(BIN)/python -m bench.bench_app
	$(BIN)/python -m bench.bench_conversation
	$(BIN)/python -m bench.bench_patterns
	$(BIN)/python -m bench.bench_search
	$(BIN)/python -m bench.bench_locomo
	$(BIN)/python -m bench.bench_paraphrase
	$(BIN)/python -m bench.bench_checkpoints
	$(BIN)/python -m bench.bench_import
	$(BIN)/python -m bench.bench_backups
	$(BIN)/python -m bench.bench_sync
	$(BIN)/python -m bench.bench_startup
	$(BIN)/python -m bench.bench_hooks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
