# Two entry points for a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
TRT_STUBS := $(VENV)/trt-stubs

.PHONY: demo test test-fast typecheck bench clean gpu-wheels gpu-bundle gpu-check-dry

# `make demo` installs what the demo needs (the package, the CPU build of torch, ONNX Runtime); `make test` adds
# the test tools and the Ray backend to the same venv.
$(DEMO_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first, so nothing below pulls the multi-GB CUDA build on a CPU machine.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[cpu]"
	touch $@

$(STAMP): $(DEMO_STAMP)
	$(PY) -m pip install -q -e ".[cpu,dev,ray]"
	# TensorRT type stubs for mypy only, outside site-packages (they would shadow a real TensorRT).
	$(PY) -m pip install -q --no-deps --target $(TRT_STUBS) tensorrt-stubs==10.13.0.35.1
	touch $@

demo: $(DEMO_STAMP)
	$(VENV)/bin/mosi-tool demo

test: $(STAMP)
	TRT_STUBS=$(TRT_STUBS) $(PY) -m pytest -q -rs --durations=15

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

typecheck: $(STAMP)
	TRT_STUBS=$(TRT_STUBS) $(PY) -m pytest -q tests/test_typecheck.py

# For `python bench/gpu_check.py` on a GPU machine without a package registry (docs/GPU.md): the wheels its
# image lacks (av, the version installed here) for Python 3.12 on x86-64 Linux, into .whl/ (git-ignored).
AV_VERSION = $(shell $(PY) -c "import importlib.metadata as m; print(m.version('av'))")
WHEEL_FLAGS = --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
	--platform manylinux2014_x86_64 --platform manylinux1_x86_64

gpu-wheels: $(STAMP)
	rm -f .whl/av-*.whl
	$(PY) -m pip download -q $(WHEEL_FLAGS) -d .whl av==$(AV_VERSION)
	@ls -l .whl

# Three short shared videos, 128 source images and the default model (if any) into .gpu/ (git-ignored).
gpu-bundle: $(STAMP)
	$(PY) bench/gpu_bundle.py

gpu-check-dry: $(STAMP)
	$(PY) bench/gpu_check.py --dry-run --strict

clean:
	rm -rf $(VENV) mosi_demo .pytest_cache .mypy_cache
