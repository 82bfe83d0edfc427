# Two entry points for a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TRT_STUBS := $(VENV)/trt-stubs

.PHONY: demo test test-fast typecheck bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first, so nothing below pulls the multi-GB CUDA build on a CPU machine.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[cpu,dev]"
	# TensorRT type stubs for mypy only, outside site-packages (they would shadow a real TensorRT).
	$(PY) -m pip install -q --no-deps --target $(TRT_STUBS) tensorrt-stubs==10.13.0.35.1
	touch $@

demo: $(STAMP)
	$(VENV)/bin/mosi-tool demo

test: $(STAMP)
	TRT_STUBS=$(TRT_STUBS) $(PY) -m pytest -q -rs --durations=15

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

typecheck: $(STAMP)
	TRT_STUBS=$(TRT_STUBS) $(PY) -m pytest -q tests/test_typecheck.py

clean:
	rm -rf $(VENV) mosi_demo .pytest_cache .mypy_cache
