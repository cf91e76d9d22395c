# Targets named in the README. Everything installs into .venv from this project's own files.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
# Two pytest workers: most tests wait on a subprocess or a model load, so two keep both cores busy.
PARALLEL ?= -n 2

.PHONY: demo test test-base test-extras lint bench verify gpu-check clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Install and speak on the default voice.
demo: $(BIN)/python
	$(PIP) .
	$(BIN)/tts synth "Hello from tts-accel, fast speech on the hardware you have." -o hello.wav

# The test command: the layering contracts, the base install first (no torch, no extras), then
# with every extra the tests the base pass skipped (each test runs once, in the pass that has what
# it needs; `make test-extras` alone runs everything), then `tts verify --quick` over all three
# tiers. It needs nothing outside this folder: the texts ship in tts_accel/data/texts (.ci/run
# proves it in a clone).
SKIPPED := .test-skipped

test: test-base test-extras

test-base: $(BIN)/python
	$(PIP) -e '.[dev]'
	$(BIN)/lint-imports
	TTS_ACCEL_SKIPPED_FILE=$(SKIPPED) $(PYTEST) $(PARALLEL)

test-extras: $(BIN)/python
	$(PIP) -e '.[dev,torch,eval,kokoro,ray,serve]'
	@if [ ! -f $(SKIPPED) ]; then $(PYTEST) $(PARALLEL); \
	elif [ -s $(SKIPPED) ]; then sort -u -o $(SKIPPED) $(SKIPPED); \
	  echo "extras pass: the $$(wc -l < $(SKIPPED)) tests the base pass skipped"; \
	  $(PYTEST) $(PARALLEL) @$(SKIPPED); \
	else echo "extras pass: the base pass skipped no test"; fi
	rm -f $(SKIPPED)
	$(BIN)/tts verify --tier all --quick

lint: $(BIN)/python
	$(PIP) -e '.[dev]'
	$(BIN)/ruff check tts_accel tests benchmarks
	$(BIN)/lint-imports

bench: $(BIN)/python
	$(PIP) -e .
	$(BIN)/tts bench --repeats 5

verify: $(BIN)/python
	$(PIP) -e '.[eval]'
	$(BIN)/tts verify --tier all

# Everything that needs a CUDA GPU (graph/hybrid modes, the decoder's fixed window shapes under
# CUDA graphs, the Triton kernels, VRAM, tiers 1-3), written into docs/benchmarks.md with the
# device's name. Says so and exits 0 where there is no GPU.
gpu-check: $(BIN)/python
	$(PIP) -e '.[torch,eval]'
	$(BIN)/python benchmarks/gpu_check.py

clean:
	rm -rf $(VENV) build *.egg-info hello.wav $(SKIPPED)
