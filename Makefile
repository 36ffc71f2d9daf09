# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# A local CPU wheel on the project machines; pinned here so pip never resolves a CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: venv install install-dev demo test test-fast fuzz bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/featherface detect examples/astronaut.jpg --output runs/demo --json runs/demo/detections.json
	@echo "annotated picture and JSON written to runs/demo/"

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q

# the full reliability campaign (RELIABILITY.md); its fast subset (tests/fuzz, tests/reliability) is part of make test
fuzz: $(VENV)/.installed-dev
	$(PY) benchmarks/fuzz_inputs.py

clean:
	rm -rf $(VENV) runs build *.egg-info
