# Two commands set everything up on a fresh machine:
#   make demo   — the combined Gradio app on the shipped models in exported/
#   make test   — the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP_SERVE := $(VENV)/.serve-installed
STAMP_DEV   := $(VENV)/.dev-installed

.PHONY: demo test venv-serve venv-dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_SERVE): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[apps]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[train,apps,test]"
	touch $@ $(STAMP_SERVE)

venv-serve: $(STAMP_SERVE)
venv-dev: $(STAMP_DEV)

demo: $(STAMP_SERVE)
	$(PY) -m apps

test: $(STAMP_DEV)
	$(PY) -m ruff check toolkit plugins apps tests benchmarks
	$(PY) -m pytest -n 2 --dist loadfile -q

clean:
	rm -rf $(VENV) runs .pytest_cache
