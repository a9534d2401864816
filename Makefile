VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test lint clean docs bench fuzz fuzz-layers zoo onnx-zoo conditions-zoo

$(VENV)/bin/activate:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

DEMO_DIR := .demo

demo: $(VENV)/.installed
	@mkdir -p $(DEMO_DIR)
	@echo "== symshape check: LeNet-5 with a symbolic image size =="
	$(VENV)/bin/symshape check examples/lenet.yaml --input x=B,1,H,W
	@echo; echo "== symbolic summary =="
	$(VENV)/bin/symshape summary examples/lenet.yaml --input x=B,1,H,W
	@echo; echo "== bound summary (B=2, H=W=28) =="
	$(VENV)/bin/symshape summary examples/lenet.yaml --bind B=2
	@echo; echo "== init (torch's default initialization) and a numpy forward pass =="
	$(VENV)/bin/symshape init examples/lenet.yaml --seed 0 -o $(DEMO_DIR)/lenet.safetensors
	$(PY) -c "import numpy as np; np.save('$(DEMO_DIR)/x.npy', np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))"
	$(VENV)/bin/symshape run examples/lenet.yaml --weights $(DEMO_DIR)/lenet.safetensors --input x=$(DEMO_DIR)/x.npy -o $(DEMO_DIR)/logits.npy
	$(PY) -c "import numpy as np; np.set_printoptions(precision=4, suppress=True); print(np.load('$(DEMO_DIR)/logits.npy'))"
	@echo; echo "== the lazy-initialization chapter, in Python =="
	$(PY) examples/lazy_initialization.py

test: $(VENV)/.installed-test
	$(PY) -m pytest

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info

docs: $(VENV)/.installed
	$(PY) -m symshape.catalogue > docs/layers.md
	$(PY) docs/make_examples.py > docs/examples.md
	$(PY) docs/make_errors.py > docs/errors.md
	$(PY) docs/make_coverage.py > docs/coverage.md
	$(PY) docs/make_summary.py > docs/summary-resnet50.md
	$(PY) examples/make_notebook.py

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run.py
	$(PY) benchmarks/cli_startup.py

N ?= 10000
fuzz: $(VENV)/.installed-test
	$(PY) tests/fuzz.py $(N)

PER_LAYER ?= 200
fuzz-layers: $(VENV)/.installed-test
	$(PY) -W ignore tests/fuzz_layers.py --per-layer $(PER_LAYER)

zoo: $(VENV)/.installed-test
	$(PY) docs/make_zoo.py > docs/zoo.md.tmp && mv docs/zoo.md.tmp docs/zoo.md

onnx-zoo: $(VENV)/.installed-test
	nice -n 10 $(PY) tests/onnx_zoo.py $(MODELS)

conditions-zoo: $(VENV)/.installed-test
	SYMSHAPE_CONDITIONS_FULL=1 nice -n 10 $(PY) -W ignore tests/importers/test_import_conditions.py
